/**
 * Alerts: what is firing, every rule with its states, the transitions and
 * deliveries logged, and the maintenance windows. The firing banner and the
 * request both share live in ./firing (the Status tab loads it without this view).
 */
import type { ComponentChildren } from 'preact';
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

/** A table of the alerts answer (rules, history, deliveries): named columns, a row per item, scrolling sideways when wider than the screen. */
function AlertTable<T>(props: {
  label: string;
  columns: readonly string[];
  items: readonly T[];
  rowKey: (item: T) => string;
  cells: (item: T) => ComponentChildren;
}) {
  return (
    <ScrollRegion label={props.label}>
      <table class="table">
        <thead>
          <tr>
            {props.columns.map((name) => (
              <th key={name} scope="col">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.items.map((item) => (
            <tr key={props.rowKey(item)}>{props.cells(item)}</tr>
          ))}
        </tbody>
      </table>
    </ScrollRegion>
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
              <AlertTable
                label="Alert rules"
                columns={['Rule', 'Target', 'Condition', 'State', 'Channels']}
                items={data.rules}
                rowKey={(rule) => rule.id}
                cells={(rule) => (
                  <>
                    <td>{displayText(rule.name)}</td>
                    <td>
                      {rule.source} · {rule.endpoint === '*' ? 'every endpoint' : displayText(rule.endpoint)}
                    </td>
                    <td class="small">{displayText(conditionText(rule))}</td>
                    <td>
                      <StateCell rule={rule} />
                    </td>
                    <td class="small">{rule.channels.length ? rule.channels.join(', ') : '—'}</td>
                  </>
                )}
              />
            </Panel>
            <Panel title="History" subtitle="Every change of state, newest first" testId="alert-history">
              {data.transitions.length === 0 ? (
                <p class="muted small">No transitions yet.</p>
              ) : (
                <AlertTable
                  label="Alert history"
                  columns={['When', 'Rule', 'Endpoint', 'Change', 'Why']}
                  items={data.transitions}
                  rowKey={(t) => t.id}
                  cells={(t) => (
                    <>
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
                    </>
                  )}
                />
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
                <AlertTable
                  label="Notification deliveries"
                  columns={['When', 'Channel', 'Event', 'Result']}
                  items={data.deliveries}
                  rowKey={(d) => d.id}
                  cells={(d) => (
                    <>
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
                    </>
                  )}
                />
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
