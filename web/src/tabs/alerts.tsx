/**
 * Alerts: what is firing, every rule with its states, the transitions and
 * deliveries logged, and the maintenance windows. The firing banner and the
 * request both share live in ./firing (the Status tab loads it without this view).
 */
import { Async, Panel, ScrollRegion } from '../components';
import { dateTime } from '../format';
import { displayText } from '../text';
import type { AlertsAnswer } from '../types';
import { FiringAlerts, useAlerts } from './firing';

type Rule = AlertsAnswer['rules'][number];

function conditionText(rule: Rule): string {
  const c = rule.condition;
  if (c.kind === 'consecutive_failures')
    return `${c.failures} of the last ${c.outOf} runs failed; resolves after ${c.recoverAfter} successes`;
  if (c.kind === 'burn_rate')
    return `burn rate ≥ ${c.fast.factor}× over ${c.fast.longMinutes} and ${c.fast.shortMinutes} min, or ≥ ${c.slow.factor}× over ${c.slow.longMinutes} and ${c.slow.shortMinutes} min`;
  return `p95 over ${c.windowMinutes} min above ${c.thresholdMs} ms${rule.forMinutes ? ` for ${rule.forMinutes} min` : ''}`;
}

function StateCell(props: { rule: Rule }) {
  if (!props.rule.enabled) return <span class="muted">disabled</span>;
  if (props.rule.states.length === 0)
    return (
      <span class="pill pill-ok">
        <span class="dot" />
        ok
      </span>
    );
  return (
    <span>
      {props.rule.states.map((s) => (
        <span key={s.endpoint} class={`pill ${s.status === 'firing' ? 'pill-down' : 'pill-degraded'}`}>
          <span class="dot" />
          {s.status} · {displayText(s.endpoint)}
        </span>
      ))}
    </span>
  );
}

export function AlertsTab() {
  const alerts = useAlerts();
  return (
    <div class="stack" data-testid="alerts-tab">
      <Async state={alerts} what="the alerts" lines={6}>
        {(data) => (
          <div class="stack">
            <FiringAlerts alerts={data} />
            {data.firing.length === 0 ? (
              <p class="muted" data-testid="no-firing">
                No alert is firing.
              </p>
            ) : null}
            <Panel title="Rules" subtitle={displayText(data.definitions.states)} testId="alert-rules">
              <ScrollRegion label="Alert rules">
                <table class="table">
                  <thead>
                    <tr>
                      <th scope="col">Rule</th>
                      <th scope="col">Target</th>
                      <th scope="col">Condition</th>
                      <th scope="col">State</th>
                      <th scope="col">Channels</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.rules.map((rule) => (
                      <tr key={rule.id}>
                        <td>{displayText(rule.name)}</td>
                        <td>
                          {rule.source} ·{' '}
                          {rule.endpoint === '*' ? 'every endpoint' : displayText(rule.endpoint)}
                        </td>
                        <td class="small">{displayText(conditionText(rule))}</td>
                        <td>
                          <StateCell rule={rule} />
                        </td>
                        <td class="small">{rule.channels.length ? rule.channels.join(', ') : '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </ScrollRegion>
            </Panel>
            <Panel title="History" subtitle="Every change of state, newest first" testId="alert-history">
              {data.transitions.length === 0 ? (
                <p class="muted small">No transitions yet.</p>
              ) : (
                <ScrollRegion label="Alert history">
                  <table class="table">
                    <thead>
                      <tr>
                        <th scope="col">When</th>
                        <th scope="col">Rule</th>
                        <th scope="col">Endpoint</th>
                        <th scope="col">Change</th>
                        <th scope="col">Why</th>
                      </tr>
                    </thead>
                    <tbody>
                      {data.transitions.map((t) => (
                        <tr key={t.id}>
                          <td>{dateTime(t.ts)}</td>
                          <td>{displayText(t.ruleName)}</td>
                          <td>{displayText(t.endpoint)}</td>
                          <td>
                            {t.from} → {t.to}
                            {t.silencedBy ? (
                              <span class="muted small">
                                {' '}
                                (silenced by maintenance {displayText(t.silencedBy)})
                              </span>
                            ) : null}
                          </td>
                          <td class="small">{displayText(t.summary)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </ScrollRegion>
              )}
            </Panel>
            <Panel
              title="Deliveries"
              subtitle="Notifications sent, with every attempt"
              testId="alert-deliveries"
            >
              {data.deliveries.length === 0 ? (
                <p class="muted small">No notifications sent yet.</p>
              ) : (
                <ScrollRegion label="Notification deliveries">
                  <table class="table">
                    <thead>
                      <tr>
                        <th scope="col">When</th>
                        <th scope="col">Channel</th>
                        <th scope="col">Event</th>
                        <th scope="col">Result</th>
                      </tr>
                    </thead>
                    <tbody>
                      {data.deliveries.map((d) => (
                        <tr key={d.id}>
                          <td>{dateTime(d.ts)}</td>
                          <td>
                            {displayText(d.channelId)} ({d.channelType})
                          </td>
                          <td>
                            {d.event} · {displayText(d.ruleId)} · {displayText(d.endpoint)}
                          </td>
                          <td class={d.ok ? 'tone-text-ok' : 'tone-text-down'}>
                            {d.ok ? 'delivered' : d.refused ? `refused (${d.refused})` : 'failed'} after{' '}
                            {d.attempts.length} attempt{d.attempts.length > 1 ? 's' : ''}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </ScrollRegion>
              )}
            </Panel>
            <Panel
              title="Maintenance"
              subtitle={displayText(data.definitions.maintenance)}
              testId="alert-maintenance"
            >
              {data.maintenance.occurrences.length === 0 ? (
                <p class="muted small">No maintenance window today or tomorrow.</p>
              ) : (
                <ul class="incidents">
                  {data.maintenance.occurrences.map((o) => (
                    <li key={`${o.windowId}-${o.start}`} class="incident">
                      <span class="badge">maintenance</span>
                      <span class="incident-title">{displayText(o.title)}</span>
                      <span class="muted small">
                        {displayText(o.endpoints?.join(', ') ?? 'all endpoints')}
                      </span>
                      <span class="muted small incident-when">
                        {dateTime(o.start)} – {dateTime(o.end)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </Panel>
          </div>
        )}
      </Async>
    </div>
  );
}
