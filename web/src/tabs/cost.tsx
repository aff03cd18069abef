/** Cost: stacked tokens over time by endpoint or model, and the approximate cumulative cost, from the server's price table. */
import { useMemo } from 'preact/hooks';
import { apiUrl, useApi } from '../api';
import { type ChartSeries, TimeChart } from '../charts/TimeChart';
import { Async, Panel, ScrollRegion } from '../components';
import { hasData, paletteColor, pointTimes } from '../data';
import { num, usd } from '../format';
import { baseQuery, useShared, useStore } from '../state';
import { displayText } from '../text';
import type { TimeseriesAnswer } from '../types';

const BY = [
  { id: 'endpoint', label: 'Endpoint' },
  { id: 'model', label: 'Model' },
] as const;

export function CostTab() {
  const { params, set } = useStore();
  const { tick, config } = useShared();
  const by = params.costBy === 'model' ? 'model' : 'endpoint';
  const data = useApi<TimeseriesAnswer>(apiUrl('/timeseries', { ...baseQuery(params), groupBy: by }), tick);

  const view = useMemo(() => {
    const d = data.data;
    if (!d) return undefined;
    const x = pointTimes(d);
    const withTokens = d.series.filter((s) => s.points.some((p) => p.tokens.input + p.tokens.output > 0));
    const tokens: ChartSeries[] = withTokens.map((s, i) => ({
      label: s.key,
      color: paletteColor(i),
      values: s.points.map((p) => (p.total > 0 ? p.tokens.input + p.tokens.output : null)),
    }));
    let running = 0;
    const cumulative = x.map((_, i) => {
      for (const s of d.series) running += s.points[i]?.costUsd ?? 0;
      return running;
    });
    const cost: ChartSeries[] = [
      { label: 'cumulative cost', color: '--c-cost', values: cumulative, fill: true },
    ];
    let input = 0;
    let output = 0;
    let cached = 0;
    for (const s of d.series)
      for (const p of s.points) {
        input += p.tokens.input;
        output += p.tokens.output;
        cached += p.tokens.cached;
      }
    return {
      x,
      tokens,
      cost,
      total: running,
      input,
      output,
      cached,
      xRange: [d.from, d.to] as [number, number],
    };
  }, [data.data]);

  const prices = config?.prices;

  return (
    <div class="stack">
      <Panel
        title="Tokens"
        subtitle={`input + output tokens, stacked by ${by}`}
        testId="tokens-panel"
        actions={
          <fieldset class="segmented" aria-label="Stack by">
            <legend class="visually-hidden">Stack by</legend>
            {BY.map((b) => (
              <button
                key={b.id}
                type="button"
                class="seg"
                aria-pressed={by === b.id}
                onClick={() => set({ costBy: b.id === 'endpoint' ? undefined : b.id })}
              >
                {b.label}
              </button>
            ))}
          </fieldset>
        }
      >
        <Async state={data} what="token usage" isEmpty={(d) => !hasData(d)} box="box-tokens">
          {() =>
            view ? (
              <>
                <div class="stats">
                  <div class="stat">
                    <span class="stat-label">Input tokens</span>
                    <span class="stat-value">{num(view.input)}</span>
                    <span class="stat-note">{num(view.cached)} cached</span>
                  </div>
                  <div class="stat">
                    <span class="stat-label">Output tokens</span>
                    <span class="stat-value">{num(view.output)}</span>
                  </div>
                  <div class="stat">
                    <span class="stat-label">Approximate cost</span>
                    <span class="stat-value" data-testid="cost-total">
                      {usd(view.total)}
                    </span>
                    <span class="stat-note">over the range</span>
                  </div>
                </div>
                {view.tokens.length > 0 ? (
                  <TimeChart
                    x={view.x}
                    series={view.tokens}
                    xRange={view.xRange}
                    format={num}
                    stacked
                    sync="cost"
                    label={`Tokens over time stacked by ${by}`}
                    testId="tokens-chart"
                  />
                ) : (
                  <p class="muted">No call in this range reported token usage.</p>
                )}
              </>
            ) : null
          }
        </Async>
      </Panel>

      <Panel
        title="Cumulative cost"
        subtitle={
          prices
            ? `approximate, from the price table as of ${prices.asOf}; calls of models without a price are not counted`
            : 'approximate'
        }
        testId="cost-panel"
      >
        <Async state={data} what="the cost" isEmpty={(d) => !hasData(d)} chart={220}>
          {() =>
            view ? (
              <TimeChart
                x={view.x}
                series={view.cost}
                xRange={view.xRange}
                format={usd}
                yMin={0}
                sync="cost"
                label="Cumulative cost over time"
                testId="cost-chart"
              />
            ) : null
          }
        </Async>
      </Panel>

      <Panel
        title="Price table"
        subtitle={prices ? `USD per million tokens · as of ${prices.asOf}` : 'USD per million tokens'}
        testId="price-table"
      >
        {prices ? (
          <>
            <ScrollRegion label="Prices">
              <table class="table table-compact">
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Input</th>
                    <th scope="col">Cached input</th>
                    <th scope="col">Output</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(prices.models).map(([model, p]) => (
                    <tr key={model}>
                      <th scope="row" class="mono">
                        {displayText(model)}
                      </th>
                      <td class="num">${p.input}</td>
                      <td class="num">${p.cachedInput}</td>
                      <td class="num">${p.output}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ScrollRegion>
            <p class="muted small">
              Source: {prices.source}. The server prices each call with this same table; dated model snapshots
              use their base model's price.
            </p>
          </>
        ) : (
          <p class="muted">Loading the price table…</p>
        )}
      </Panel>
    </div>
  );
}
