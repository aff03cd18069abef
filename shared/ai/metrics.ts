/**
 * `/ai/metrics` and `/ai/summary`: the compact figures a model or a person
 * needs about a range, made from the answers of `/status`, `/timeseries` and
 * `/incidents` (the same rollups, no second computation): per endpoint the
 * volume, success rate, p50/p95, error mix, tokens and cost, the change
 * against the previous range of equal length, the worst buckets, and the
 * incidents. Every figure carries the read-API query that reproduces it, so
 * an answer built on it can cite something a person can open.
 */
import type { Config } from '../config.js';
import { computeIncidents, type IncidentItem } from '../incidents/incidents.js';
import type { Filters, TimeRange } from '../status/params.js';
import { computeStatus, type StatusAnswer } from '../status/status.js';
import { computeTimeseries } from '../status/timeseries.js';
import { readCost, rollupsFor } from '../store/rollups.js';

export interface MetricsInput {
  config: Config;
  range: TimeRange;
  filters: Filters;
  now: number;
}

/** A read-API query (path and parameters) that reproduces a figure. */
export interface MetricQuery {
  path: '/status' | '/timeseries' | '/incidents';
  params: Record<string, string>;
}

export interface EndpointFigures {
  endpoint: string;
  total: number;
  failed: number;
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  /** Failures by error type (types with none left out). */
  errors: Record<string, number>;
  tokens: { input: number; output: number };
  costUsd: number;
  /** The same endpoint over the previous range of equal length; null when it had no executions. */
  previous: { total: number; successRate: number | null; p95Ms: number | null } | null;
  query: MetricQuery;
}

export interface WorstBucket {
  /** Bucket start, epoch ms. */
  t: number;
  bucketMs: number;
  total: number;
  failed: number;
  successRate: number | null;
  p95Ms: number | null;
  errors: Record<string, number>;
  /** Why it is listed: most failures, or highest p95. */
  reason: 'failures' | 'latency';
  query: MetricQuery;
}

export interface IncidentFigure {
  id: string;
  kind: IncidentItem['kind'];
  title: string;
  endpoints: string[];
  start: number;
  end: number | null;
  ongoing: boolean;
}

const WORST_BY_FAILURES = 3;
const WORST_BY_LATENCY = 2;
const INCIDENTS_LISTED = 5;

/** The query parameters naming a range and the request's filters. */
function rangeParams(from: number, to: number, filters: Filters): Record<string, string> {
  const params: Record<string, string> = { from: String(from), to: String(to) };
  const source = filters.echo.source;
  params.source = Array.isArray(source) ? source.join(',') : source;
  for (const name of ['endpoint', 'model', 'region'] as const) {
    const values = filters.echo[name];
    if (values && values.length > 0) params[name] = values.join(',');
  }
  return params;
}

/** A metric query as a URL path with its query string (stable: parameters sorted). */
export function metricQueryPath(query: MetricQuery): string {
  const search = new URLSearchParams(Object.entries(query.params).sort(([a], [b]) => a.localeCompare(b)));
  return `${query.path}?${search.toString()}`;
}

function incidentFigure(item: IncidentItem, now: number): IncidentFigure {
  if (item.kind === 'declared') {
    return {
      id: item.id,
      kind: item.kind,
      title: item.title,
      endpoints: item.endpoints ? [...item.endpoints] : [],
      start: item.start,
      end: item.end,
      ongoing: item.end === null || item.end > now,
    };
  }
  if (item.kind === 'maintenance') {
    return {
      id: item.id,
      kind: item.kind,
      title: `Maintenance: ${item.title}`,
      endpoints: item.endpoints ? [...item.endpoints] : [],
      start: item.start,
      end: item.end,
      ongoing: item.start <= now && item.end > now,
    };
  }
  return {
    id: item.id,
    kind: item.kind,
    title: item.title,
    endpoints: [item.endpoint],
    start: item.start,
    end: item.end,
    ongoing: item.end === null,
  };
}

/** The figures of the range and of the previous one: all that the chat's opening sentences need. */
export type AiOverview = ReturnType<typeof overviewOf>;
export type AiMetrics = AiOverview & ReturnType<typeof detailOf>;

function overviewOf(
  input: MetricsInput,
  current: StatusAnswer,
  previous: StatusAnswer,
  previousRange: TimeRange,
) {
  const { range, filters, now } = input;
  const length = Math.max(1, range.to - range.from);
  const previousByEndpoint = new Map(previous.endpoints.map((e) => [e.endpoint, e]));
  const endpoints: EndpointFigures[] = current.endpoints.map((e) => {
    const before = previousByEndpoint.get(e.endpoint);
    return {
      endpoint: e.endpoint,
      total: e.total,
      failed: e.failed,
      successRate: e.successRate,
      p50Ms: e.latencyMs.p50,
      p95Ms: e.latencyMs.p95,
      errors: e.errors as Record<string, number>,
      tokens: { input: e.tokens.input, output: e.tokens.output },
      costUsd: e.costUsd,
      previous:
        before && before.total > 0
          ? { total: before.total, successRate: before.successRate, p95Ms: before.latencyMs.p95 }
          : null,
      query: {
        path: '/status',
        params: { ...rangeParams(range.from, range.to, filters), endpoint: e.endpoint },
      },
    };
  });
  return {
    generatedAt: now,
    window: { from: range.from, to: range.to, minutes: Math.round(length / 60_000) },
    previousWindow: { from: previousRange.from, to: previousRange.to },
    filters: filters.echo,
    upstream: current.upstream,
    simulatedShare: current.simulatedShare,
    slo: current.slo,
    overall: {
      total: current.overall.total,
      failed: current.overall.failed,
      successRate: current.overall.successRate,
      p50Ms: current.overall.latencyMs.p50,
      p95Ms: current.overall.latencyMs.p95,
      errors: current.overall.errors as Record<string, number>,
      tokens: { input: current.overall.tokens.input, output: current.overall.tokens.output },
      costUsd: current.overall.costUsd,
      burnRate: current.overall.slo.burnRate,
      previous:
        previous.overall.total > 0
          ? {
              total: previous.overall.total,
              successRate: previous.overall.successRate,
              p95Ms: previous.overall.latencyMs.p95,
            }
          : null,
      query: { path: '/status', params: rangeParams(range.from, range.to, filters) } satisfies MetricQuery,
    },
    endpoints,
  };
}

function detailOf(
  input: MetricsInput,
  previous: StatusAnswer,
  series: Awaited<ReturnType<typeof computeTimeseries>>,
  incidents: Awaited<ReturnType<typeof computeIncidents>>,
) {
  const { filters, now } = input;
  const points = series.series.flatMap((s) => s.points).filter((p) => p.total > 0);
  const bucketQuery = (t: number): MetricQuery => ({
    path: '/timeseries',
    params: {
      ...rangeParams(t, t + series.bucketMs - 1, filters),
      bucket: `${series.bucketMs / 60_000}m`,
    },
  });
  const toWorst = (p: (typeof points)[number], reason: WorstBucket['reason']): WorstBucket => ({
    t: p.t,
    bucketMs: series.bucketMs,
    total: p.total,
    failed: p.total - p.ok,
    successRate: p.successRate,
    p95Ms: p.p95,
    errors: p.errors as Record<string, number>,
    reason,
    query: bucketQuery(p.t),
  });
  const byFailures = points
    .filter((p) => p.ok < p.total)
    .sort((a, b) => b.total - b.ok - (a.total - a.ok) || a.t - b.t)
    .slice(0, WORST_BY_FAILURES)
    .map((p) => toWorst(p, 'failures'));
  const listed = new Set(byFailures.map((w) => w.t));
  const byLatency = points
    .filter((p) => p.p95 !== null && !listed.has(p.t))
    .sort((a, b) => (b.p95 ?? 0) - (a.p95 ?? 0) || a.t - b.t)
    .slice(0, WORST_BY_LATENCY)
    .map((p) => toWorst(p, 'latency'));

  const incidentFigures = incidents.items.slice(0, INCIDENTS_LISTED).map((i) => incidentFigure(i, now));
  // The range's status, buckets and incidents read through one reader (rollupsFor(input)): count it once.
  const shared = readCost(rollupsFor(input));
  return {
    worst: [...byFailures, ...byLatency],
    incidents: {
      items: incidentFigures,
      open: incidentFigures.filter((i) => i.ongoing).length,
      total: incidents.items.length,
      query: {
        path: '/incidents',
        params: rangeParams(input.range.from, input.range.to, filters),
      } satisfies MetricQuery,
    },
    meta: {
      itemsRead: shared.itemsRead + previous.meta.itemsRead,
      queries: shared.queries + previous.meta.queries,
      /** Items read for the range (its status, buckets and incidents share one reader) and for the previous range. */
      itemsByPart: { range: shared.itemsRead, previous: previous.meta.itemsRead },
    },
  };
}

/**
 * Starts every read of the figures at once and hands out the overview (the
 * two ranges' status) as soon as it is known, before the buckets and
 * incidents: a streamed answer opens with it. `metrics` settles with
 * everything (and rejects whenever `overview` does).
 */
export function startAiMetrics(input: MetricsInput): {
  overview: Promise<AiOverview>;
  metrics: Promise<AiMetrics>;
} {
  const length = Math.max(1, input.range.to - input.range.from);
  const previousRange: TimeRange = { from: input.range.from - length, to: input.range.from - 1 };
  // The status reads are asked for first, so they go first through the reader's turns.
  const statuses = Promise.all([computeStatus(input), computeStatus({ ...input, range: previousRange })]);
  const series = computeTimeseries(input);
  const incidents = computeIncidents(input);
  const overview = statuses.then(([current, previous]) =>
    overviewOf(input, current, previous, previousRange),
  );
  const metrics = Promise.all([overview, statuses, series, incidents]).then(([head, [, previous], s, i]) => ({
    ...head,
    ...detailOf(input, previous, s, i),
  }));
  return { overview, metrics };
}

export function computeAiMetrics(input: MetricsInput): Promise<AiMetrics> {
  const { overview, metrics } = startAiMetrics(input);
  // Whoever awaits the metrics sees the failure; the overview's copy of it is not left unhandled.
  overview.catch(() => undefined);
  return metrics;
}

export type { StatusAnswer };
