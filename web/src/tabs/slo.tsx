/** SLO: the objective, then per endpoint the SLI, the error budget left, burn rates and the burn-rate sparkline. */
import { apiUrl, useApi } from '../api';
import { Async, EmptyState, Panel, ScrollRegion } from '../components';
import { burnSeries, pointTimes, useEndpointSeries } from '../data';
import { pct } from '../format';
import { baseQuery, useShared, useStore } from '../state';
import { displayText } from '../text';
import type { StatusAnswer } from '../types';
import { BudgetBar, BurnFigure, BurnSparkline, SloWidget } from '../widgets';

export function SloTab() {
  const { params } = useStore();
  const { tick } = useShared();
  const query = { ...baseQuery(params), endpoint: undefined };
  const status = useApi<StatusAnswer>(apiUrl('/status', query), tick);
  const { overall, grouped } = useEndpointSeries(params, undefined);

  return (
    <div class="stack">
      <Panel
        title="Service level objective"
        subtitle="Availability over the selected range, against the configured objective"
        testId="slo-overall"
      >
        <Async state={status} what="the SLO" isEmpty={(s) => s.overall.total === 0} box="box-slo">
          {(s) => (
            <>
              <SloWidget
                slo={s.overall.slo}
                objectivePercent={s.slo.objectivePercent}
                burn={
                  overall.data
                    ? {
                        x: pointTimes(overall.data),
                        values: burnSeries(
                          overall.data.series[0],
                          s.slo.objectivePercent,
                          s.slo.excludedErrors,
                        ),
                      }
                    : undefined
                }
                xRange={overall.data ? [overall.data.from, overall.data.to] : undefined}
                reserveSpark
              />
              <details class="definitions">
                <summary>How these are computed</summary>
                <dl>
                  {Object.entries(s.definitions)
                    .filter(([k]) => ['sli', 'errorBudgetRemaining', 'burnRate', 'maintenance'].includes(k))
                    .map(([k, v]) => (
                      <div key={k}>
                        <dt>{k}</dt>
                        <dd>{v}</dd>
                      </div>
                    ))}
                  <div>
                    <dt>excluded error types</dt>
                    <dd>{s.slo.excludedErrors.length ? s.slo.excludedErrors.join(', ') : 'none'}</dd>
                  </div>
                  <div>
                    <dt>maintenance windows</dt>
                    <dd>
                      {s.slo.excludeMaintenance
                        ? `left out (${s.overall.slo.maintenanceExcluded} executions in this range)`
                        : 'counted'}
                    </dd>
                  </div>
                </dl>
              </details>
            </>
          )}
        </Async>
      </Panel>

      <Panel title="Per endpoint" testId="slo-endpoints">
        <Async state={status} what="the SLO per endpoint" lines={6}>
          {(s) =>
            s.endpoints.length === 0 ? (
              <EmptyState />
            ) : (
              <ScrollRegion label="SLO per endpoint">
                <table class="table slo-table">
                  <thead>
                    <tr>
                      <th scope="col">Endpoint</th>
                      <th scope="col">SLI</th>
                      <th scope="col">Error budget</th>
                      <th scope="col">Burn 1 h</th>
                      <th scope="col">Burn 6 h</th>
                      <th scope="col" class="col-spark">
                        Burn over range
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.endpoints.map((e) => {
                      const series = grouped.data?.series.find((g) => g.key === e.endpoint);
                      const met = e.slo.sli !== null && e.slo.sli >= s.slo.objectivePercent / 100;
                      return (
                        <tr key={e.endpoint} data-testid="slo-row">
                          <th scope="row">{displayText(e.endpoint)}</th>
                          <td class={`num tone-text-${e.slo.sli === null ? 'none' : met ? 'ok' : 'down'}`}>
                            {pct(e.slo.sli, 3)}
                          </td>
                          <td>
                            <BudgetBar remaining={e.slo.errorBudgetRemaining} compact />
                          </td>
                          <td class="num">
                            <BurnFigure label="" value={e.slo.burnRate['1h']} />
                          </td>
                          <td class="num">
                            <BurnFigure label="" value={e.slo.burnRate['6h']} />
                          </td>
                          <td class="col-spark">
                            {series && grouped.data ? (
                              <BurnSparkline
                                x={pointTimes(grouped.data)}
                                values={burnSeries(series, s.slo.objectivePercent, s.slo.excludedErrors)}
                                xRange={[grouped.data.from, grouped.data.to]}
                                height={36}
                                label={`Burn rate of ${displayText(e.endpoint)} over time`}
                              />
                            ) : (
                              // The sparkline's height, so the row does not grow when the series arrives.
                              <span class="muted spark-slot">—</span>
                            )}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </ScrollRegion>
            )
          }
        </Async>
      </Panel>
    </div>
  );
}
