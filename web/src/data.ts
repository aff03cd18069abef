/** Derived figures the tabs share: SLO maths per bucket, palettes, incidents of a range. */
import { useMemo } from 'preact/hooks';
import { type ApiState, apiUrl, useApi } from './api';
import { baseQuery, type Params, rangeMinutes, useShared } from './state';
import type { ErrorType, Incident, IncidentsAnswer, Point, Series, TimeseriesAnswer } from './types';

const PALETTE = ['--s1', '--s2', '--s3', '--s4', '--s5', '--s6', '--s7', '--s8', '--s9', '--s10'];
export const paletteColor = (i: number) => PALETTE[i % PALETTE.length] as string;

export function hasData(answer: TimeseriesAnswer): boolean {
  return answer.series.some((s) => s.points.some((p) => p.total > 0));
}

export function pointTimes(answer: TimeseriesAnswer): number[] {
  return answer.series[0]?.points.map((p) => p.t) ?? [];
}

/** Burn rate of one bucket: (1 − SLI) / (1 − objective); null without valid executions. */
function burnOf(point: Point, objectivePercent: number, excluded: readonly ErrorType[]): number | null {
  const excludedCount = excluded.reduce((sum, type) => sum + (point.errors[type] ?? 0), 0);
  const valid = point.total - excludedCount;
  if (valid <= 0) return null;
  return (1 - point.ok / valid) / (1 - objectivePercent / 100);
}

export function burnSeries(
  series: Series | undefined,
  objectivePercent: number,
  excluded: readonly ErrorType[],
) {
  return series?.points.map((p) => burnOf(p, objectivePercent, excluded)) ?? [];
}

/** Totals of a series over the range (percentiles cannot be merged; they come from /status). */
export function seriesTotals(series: Series) {
  let total = 0;
  let ok = 0;
  let tokens = 0;
  let cost = 0;
  for (const p of series.points) {
    total += p.total;
    ok += p.ok;
    tokens += p.tokens.input + p.tokens.output;
    cost += p.costUsd;
  }
  return { total, ok, successRate: total > 0 ? ok / total : null, tokens, cost };
}

/** The requested range as absolute times, on minute boundaries so that requests cache well. */
function absoluteRange(params: Params, now = Date.now()): [number, number] {
  const end = Math.floor(now / 60_000) * 60_000 + 60_000;
  return [end - rangeMinutes(params) * 60_000, end];
}

/** Incidents overlapping the range (the server leaves out those of other endpoints when one is selected). */
export function useIncidents(params: Params, enabled = true) {
  const { tick } = useShared();
  const [from, to] = absoluteRange(params);
  const state = useApi<IncidentsAnswer>(
    enabled ? apiUrl('/incidents', { from, to, source: params.source, endpoint: params.endpoint }) : null,
    tick,
  );
  const data = state.data;
  const items: Incident[] = useMemo(() => data?.items ?? [], [data]);
  return { ...state, items };
}

/**
 * A range's series in one request: one per endpoint, and the overall one
 * (the focused endpoint's when `focus` names one) from the same answer, so a
 * tab drawing both asks once, and tabs asking the same range share the answer.
 */
export function useEndpointSeries(
  params: Params,
  focus: string | undefined,
): { grouped: ApiState<TimeseriesAnswer>; overall: ApiState<TimeseriesAnswer> } {
  const { tick } = useShared();
  const grouped = useApi<TimeseriesAnswer>(
    apiUrl('/timeseries', { ...baseQuery(params), endpoint: undefined, groupBy: 'endpoint', overall: true }),
    tick,
  );
  const data = grouped.data;
  const overallData = useMemo((): TimeseriesAnswer | undefined => {
    if (!data) return undefined;
    const times = data.overall?.points ?? data.series[0]?.points ?? [];
    const series: Series = focus
      ? (data.series.find((s) => s.key === focus) ?? {
          key: focus,
          points: times.map((p) => ({
            t: p.t,
            total: 0,
            ok: 0,
            successRate: null,
            p50: null,
            p95: null,
            p99: null,
            errors: {},
            tokens: { input: 0, output: 0, cached: 0, reasoning: 0 },
            costUsd: 0,
          })),
        })
      : (data.overall ?? { key: 'all', points: times });
    return { ...data, groupBy: null, series: [series], overall: null };
  }, [data, focus]);
  return { grouped, overall: { ...grouped, data: overallData } };
}
