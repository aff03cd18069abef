/** Compare: group by model, region, source or endpoint; a baseline and a canary side by side, and their difference. */
import { useMemo } from 'preact/hooks';
import { apiUrl, useApi } from '../api';
import { type ChartSeries, TimeChart } from '../charts/TimeChart';
import { Async, EmptyState, Panel, ScrollRegion, SelectField } from '../components';
import { hasData, pointTimes, seriesTotals } from '../data';
import { ms, msAxis, num, pct, usd } from '../format';
import { baseQuery, useShared, useStore } from '../state';
import { displayText } from '../text';
import type { StatusAnswer, Summary, TimeseriesAnswer } from '../types';

const GROUPS = [
  { id: 'model', label: 'Model' },
  { id: 'region', label: 'Region' },
  { id: 'source', label: 'Source' },
  { id: 'endpoint', label: 'Endpoint' },
] as const;
type GroupId = (typeof GROUPS)[number]['id'];

function groupQuery(params: Record<string, string>, group: GroupId) {
  const base = baseQuery(params);
  return {
    ...base,
    ...(group === 'source' ? { source: 'all' } : {}),
    ...(group === 'endpoint' ? { endpoint: undefined } : {}),
  };
}

/** The /status query for one group's key; null when the key cannot be filtered on. */
function memberQuery(params: Record<string, string>, group: GroupId, key: string | undefined) {
  if (!key || key === '(none)') return null;
  return { ...groupQuery(params, group), [group]: key };
}

interface Delta {
  text: string;
  tone: 'ok' | 'down' | 'none';
}

function delta(base: number | null, canary: number | null, kind: 'rate' | 'ms'): Delta {
  if (base === null || canary === null) return { text: '—', tone: 'none' };
  const diff = canary - base;
  if (kind === 'rate') {
    const pp = diff * 100;
    const tone = Math.abs(pp) < 0.005 ? 'none' : pp < 0 ? 'down' : 'ok';
    return { text: `${pp >= 0 ? '+' : '−'}${Math.abs(pp).toFixed(2)} pp`, tone };
  }
  const rel = base > 0 ? (diff / base) * 100 : 0;
  const tone = Math.abs(rel) < 2 ? 'none' : diff > 0 ? 'down' : 'ok';
  return {
    text: `${diff >= 0 ? '+' : '−'}${ms(Math.abs(diff))} (${rel >= 0 ? '+' : '−'}${Math.abs(rel).toFixed(1)}%)`,
    tone,
  };
}

function CompareTable(props: {
  baseline: string;
  canary: string;
  base: Summary | undefined;
  can: Summary | undefined;
  fallback: {
    base: ReturnType<typeof seriesTotals> | undefined;
    can: ReturnType<typeof seriesTotals> | undefined;
  };
}) {
  const { base, can, fallback } = props;
  const rows: { label: string; b: string; c: string; d: Delta }[] = [
    {
      label: 'Success rate',
      b: pct(base?.successRate ?? fallback.base?.successRate),
      c: pct(can?.successRate ?? fallback.can?.successRate),
      d: delta(
        base?.successRate ?? fallback.base?.successRate ?? null,
        can?.successRate ?? fallback.can?.successRate ?? null,
        'rate',
      ),
    },
    ...(['p50', 'p95', 'p99'] as const).map((k) => ({
      label: `Latency ${k}`,
      b: ms(base?.latencyMs[k]),
      c: ms(can?.latencyMs[k]),
      d: delta(base?.latencyMs[k] ?? null, can?.latencyMs[k] ?? null, 'ms'),
    })),
    {
      label: 'Mean latency',
      b: ms(base?.latencyMs.mean),
      c: ms(can?.latencyMs.mean),
      d: delta(base?.latencyMs.mean ?? null, can?.latencyMs.mean ?? null, 'ms'),
    },
    {
      label: 'Calls',
      b: num(base?.total ?? fallback.base?.total),
      c: num(can?.total ?? fallback.can?.total),
      d: { text: '', tone: 'none' },
    },
    {
      label: 'Failures',
      b: num(base?.failed ?? (fallback.base ? fallback.base.total - fallback.base.ok : undefined)),
      c: num(can?.failed ?? (fallback.can ? fallback.can.total - fallback.can.ok : undefined)),
      d: { text: '', tone: 'none' },
    },
  ];
  return (
    <ScrollRegion label="Baseline and canary compared">
      <table class="table compare-table" data-testid="compare-table">
        <thead>
          <tr>
            <th scope="col">Metric</th>
            <th scope="col">
              <span class="badge badge-base">baseline</span>{' '}
              <span class="mono">{displayText(props.baseline)}</span>
            </th>
            <th scope="col">
              <span class="badge badge-canary">canary</span>{' '}
              <span class="mono">{displayText(props.canary)}</span>
            </th>
            <th scope="col">Canary − baseline</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.label}>
              <th scope="row">{r.label}</th>
              <td class="num">{r.b}</td>
              <td class="num">{r.c}</td>
              <td class={`num tone-text-${r.d.tone}`} data-testid={`delta-${r.label}`}>
                {r.d.text}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollRegion>
  );
}

/** The baseline and canary labels are long: their legend takes 2 rows on a wide screen, 3 on a phone. */
const COMPARE_LEGEND_ROWS = [2, 3] as const;

export function CompareTab() {
  const { params, set } = useStore();
  const { tick } = useShared();
  const group = (GROUPS.some((g) => g.id === params.groupBy) ? params.groupBy : 'model') as GroupId;
  const series = useApi<TimeseriesAnswer>(
    apiUrl('/timeseries', { ...groupQuery(params, group), groupBy: group }),
    tick,
  );
  const keys = series.data?.series.map((s) => s.key) ?? [];
  // Default pair: the two busiest groups that can be filtered on ("(none)" cannot).
  const byVolume = useMemo(
    () =>
      (series.data?.series ?? [])
        .map((s) => ({ key: s.key, total: s.points.reduce((n, p) => n + p.total, 0) }))
        .sort((a, b) => Number(a.key === '(none)') - Number(b.key === '(none)') || b.total - a.total)
        .map((s) => s.key),
    [series.data],
  );
  const baseline = params.baseline && keys.includes(params.baseline) ? params.baseline : byVolume[0];
  const canary =
    params.canary && keys.includes(params.canary)
      ? params.canary
      : (byVolume.find((k) => k !== baseline) ?? byVolume[0]);

  const bq = memberQuery(params, group, baseline);
  const cq = memberQuery(params, group, canary);
  const baseStatus = useApi<StatusAnswer>(bq ? apiUrl('/status', bq) : null, tick);
  const canStatus = useApi<StatusAnswer>(cq ? apiUrl('/status', cq) : null, tick);

  const charts = useMemo(() => {
    const data = series.data;
    if (!data) return undefined;
    const b = data.series.find((s) => s.key === baseline);
    const c = data.series.find((s) => s.key === canary);
    const x = pointTimes(data);
    const p95: ChartSeries[] = [];
    const rate: ChartSeries[] = [];
    if (b) {
      p95.push({ label: `baseline ${b.key}`, color: '--c-base', values: b.points.map((p) => p.p95) });
      rate.push({
        label: `baseline ${b.key}`,
        color: '--c-base',
        values: b.points.map((p) => p.successRate),
      });
    }
    if (c && c.key !== b?.key) {
      p95.push({ label: `canary ${c.key}`, color: '--c-canary', values: c.points.map((p) => p.p95) });
      rate.push({
        label: `canary ${c.key}`,
        color: '--c-canary',
        values: c.points.map((p) => p.successRate),
      });
    }
    return { x, p95, rate, xRange: [data.from, data.to] as [number, number] };
  }, [series.data, baseline, canary]);

  const totals = useMemo(
    () => series.data?.series.map((s) => ({ key: s.key, ...seriesTotals(s) })) ?? [],
    [series.data],
  );
  const selectId = (name: string) => `compare-${name}`;

  return (
    <div class="stack">
      <Panel
        title="Compare"
        subtitle="Pick a baseline and a canary to see how they differ over the selected range"
        testId="compare-panel"
        actions={
          <div class="controls">
            <label class="field" for={selectId('group')}>
              <span>Group by</span>
              <select
                id={selectId('group')}
                value={group}
                onChange={(e) =>
                  set({
                    groupBy: (e.currentTarget as HTMLSelectElement).value,
                    baseline: undefined,
                    canary: undefined,
                  })
                }
              >
                {GROUPS.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.label}
                  </option>
                ))}
              </select>
            </label>
            <SelectField
              id={selectId('baseline')}
              label="Baseline"
              value={baseline ?? ''}
              options={keys}
              disabled={keys.length === 0}
              testId="baseline-select"
              onChange={(value) => set({ baseline: value })}
            />
            <SelectField
              id={selectId('canary')}
              label="Canary"
              value={canary ?? ''}
              options={keys}
              disabled={keys.length === 0}
              testId="canary-select"
              onChange={(value) => set({ canary: value })}
            />
          </div>
        }
      >
        <Async state={series} what="the groups" isEmpty={(d) => !hasData(d)} box="box-compare">
          {() =>
            baseline && canary ? (
              <CompareTable
                baseline={baseline}
                canary={canary}
                base={baseStatus.data?.overall}
                can={canStatus.data?.overall}
                fallback={{
                  base: totals.find((t) => t.key === baseline),
                  can: totals.find((t) => t.key === canary),
                }}
              />
            ) : (
              <EmptyState />
            )
          }
        </Async>
        {baseline === '(none)' || canary === '(none)' ? (
          <p class="muted small">
            "(none)" gathers calls without a {group}; its percentiles over the range cannot be computed, so
            only counts are compared.
          </p>
        ) : null}
        {baseline === canary && keys.length > 0 ? (
          <p class="muted small">
            Only one {group} has data in this range: pick a longer range or another grouping.
          </p>
        ) : null}
      </Panel>

      <div class="grid-2">
        <Panel title="p95 latency" subtitle="baseline vs canary">
          <Async
            state={series}
            what="latency"
            isEmpty={(d) => !hasData(d)}
            chart={220}
            legendRows={COMPARE_LEGEND_ROWS}
          >
            {() =>
              charts ? (
                <TimeChart
                  legendRows={COMPARE_LEGEND_ROWS}
                  x={charts.x}
                  series={charts.p95}
                  xRange={charts.xRange}
                  format={ms}
                  axisFormat={msAxis}
                  yMin={0}
                  sync="compare"
                  label="p95 latency of baseline and canary over time"
                  testId="compare-latency-chart"
                />
              ) : null
            }
          </Async>
        </Panel>
        <Panel title="Success rate" subtitle="baseline vs canary">
          <Async
            state={series}
            what="success rate"
            isEmpty={(d) => !hasData(d)}
            chart={220}
            legendRows={COMPARE_LEGEND_ROWS}
          >
            {() =>
              charts ? (
                <TimeChart
                  legendRows={COMPARE_LEGEND_ROWS}
                  x={charts.x}
                  series={charts.rate}
                  xRange={charts.xRange}
                  format={(v) => pct(v, 1)}
                  softMin={0.9}
                  yMax={1}
                  sync="compare"
                  label="Success rate of baseline and canary over time"
                />
              ) : null
            }
          </Async>
        </Panel>
      </div>

      <Panel
        title={`All ${GROUPS.find((g) => g.id === group)?.label.toLowerCase()}s`}
        subtitle="Totals over the range"
      >
        <Async state={series} what="the groups" isEmpty={(d) => !hasData(d)} lines={4}>
          {() => (
            <ScrollRegion label="All groups">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">{group}</th>
                    <th scope="col">Calls</th>
                    <th scope="col">Success rate</th>
                    <th scope="col">Tokens</th>
                    <th scope="col">Cost</th>
                    <th scope="col">
                      <span class="visually-hidden">Use as</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {totals.map((t) => (
                    <tr key={t.key}>
                      <th scope="row" class="mono">
                        {displayText(t.key)}
                      </th>
                      <td class="num">{num(t.total)}</td>
                      <td class="num">{pct(t.successRate)}</td>
                      <td class="num">{num(t.tokens)}</td>
                      <td class="num">{usd(t.cost)}</td>
                      <td class="row-actions">
                        <button
                          type="button"
                          class="btn btn-small"
                          aria-pressed={t.key === baseline}
                          onClick={() => set({ baseline: t.key })}
                        >
                          Baseline
                        </button>
                        <button
                          type="button"
                          class="btn btn-small"
                          aria-pressed={t.key === canary}
                          onClick={() => set({ canary: t.key })}
                        >
                          Canary
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ScrollRegion>
          )}
        </Async>
      </Panel>
    </div>
  );
}
