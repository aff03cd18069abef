/**
 * `/timeseries`: the range cut into buckets (at most 500), each with volumes,
 * success rate, latency percentiles, error types, tokens and cost, for one
 * series or one per model, region, endpoint or source.
 */

import type { Config } from '../config.js';
import { badRequest } from '../http/problem.js';
import { type Aggregate, addRollupItem, emptyAggregate, summarize } from '../stats/aggregate.js';
import { DAY_MS, floorTo, HOUR_MS, MINUTE_MS, type Resolution } from '../store/keys.js';
import { MINUTE_ONLY_MAX_MS, type RollupItem, readCost, rollupsFor } from '../store/rollups.js';
import * as z from '../zod.js';
import type { Filters, TimeRange } from './params.js';

const MAX_BUCKETS = 500;
const ceilTo = (ts: number, step: number) => Math.ceil(ts / step) * step;
/** Bucket sizes chosen automatically, in minutes. */
const NICE_BUCKETS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];
const GROUP_BY = ['model', 'region', 'endpoint', 'source'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export const timeseriesParams = z.object({
  bucket: z.optional(
    z.pipe(
      z
        .string()
        .check(
          z.regex(
            /^[1-9][0-9]{0,9}(s|m|h|d)?$/,
            'must be seconds or a duration such as 5m, 1h, 1d (decimal digits)',
          ),
        ),
      z.transform((v: string) => {
        const amount = Number.parseInt(v, 10);
        const unit = v.replace(/^\d+/, '') || 's';
        return amount * { s: 1000, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS }[unit as 's' | 'm' | 'h' | 'd'];
      }),
    ),
  ),
  groupBy: z.optional(z.enum(GROUP_BY, { error: `must be one of ${GROUP_BY.join(', ')}` })),
  /** With groupBy: the ungrouped series too, from the same reads (a dashboard view in one request). */
  overall: z.optional(
    z.pipe(
      z.enum(['true', 'false'], { error: 'must be true or false' }),
      z.transform((v: 'true' | 'false') => v === 'true'),
    ),
  ),
});

/**
 * The bucket size: the one asked for, or the smallest round size giving at
 * most 500 buckets. Ranges over six hours use hour buckets, read from hour
 * rollups, so a long range costs a few hundred items rather than thousands.
 * An asked-for bucket may not be longer than the range (or a day, for short
 * ranges): the first bucket starts on a bucket boundary, so a longer one would
 * read far before `from`.
 */
function chooseBucket(
  range: TimeRange,
  requested: number | undefined,
): { bucketMs: number; resolution: Resolution } {
  const span = Math.max(MINUTE_MS, range.to - range.from);
  if (requested !== undefined) {
    if (requested < MINUTE_MS || requested % MINUTE_MS !== 0)
      throw badRequest('bucket', 'must be a whole number of minutes');
    const longest = Math.max(ceilTo(span, MINUTE_MS), DAY_MS);
    if (requested > longest) {
      throw badRequest('bucket', `must not be longer than the range or a day (at most ${longest} ms here)`);
    }
    if (Math.ceil(span / requested) > MAX_BUCKETS) {
      throw badRequest(
        'bucket',
        `gives ${Math.ceil(span / requested)} buckets; at most ${MAX_BUCKETS} (use a larger bucket)`,
      );
    }
    const hourly = requested % HOUR_MS === 0;
    return { bucketMs: requested, resolution: hourly ? 'hour' : 'minute' };
  }
  const minMinutes = Math.max(Math.ceil(span / MAX_BUCKETS / MINUTE_MS), span > MINUTE_ONLY_MAX_MS ? 60 : 1);
  const minutes = NICE_BUCKETS_MIN.find((m) => m >= minMinutes) ?? Math.ceil(minMinutes / 1440) * 1440;
  return { bucketMs: minutes * MINUTE_MS, resolution: minutes % 60 === 0 ? 'hour' : 'minute' };
}

function point(t: number, aggregate: Aggregate) {
  const s = summarize(aggregate);
  return {
    t,
    total: s.total,
    ok: s.ok,
    successRate: s.successRate,
    p50: s.latencyMs.p50,
    p95: s.latencyMs.p95,
    p99: s.latencyMs.p99,
    errors: s.errors,
    tokens: s.tokens,
    costUsd: s.costUsd,
  };
}

export async function computeTimeseries(input: {
  config: Config;
  range: TimeRange;
  filters: Filters;
  bucketMs?: number;
  groupBy?: GroupBy;
  /** With groupBy: also the series of every group together. */
  overall?: boolean;
  now: number;
}) {
  const { range, filters } = input;
  const { bucketMs, resolution } = chooseBucket(range, input.bucketMs);
  const start = floorTo(range.from, bucketMs);
  const end = Math.max(start + bucketMs, range.to);
  const count = Math.ceil((end - start) / bucketMs);
  const reader = rollupsFor(input);
  const items = await reader.read({
    sources: filters.sources,
    from: start,
    to: end,
    filter: filters.filter,
    resolution,
    bucketMs,
    byLabelSet: input.groupBy === 'model' || input.groupBy === 'region',
  });

  // Only buckets with data get an aggregate; the rest are drawn as gaps.
  const series = new Map<string, Map<number, Aggregate>>();
  const overall = new Map<number, Aggregate>();
  const add = (buckets: Map<number, Aggregate>, index: number, item: RollupItem) => {
    let aggregate = buckets.get(index);
    if (!aggregate) {
      aggregate = emptyAggregate();
      buckets.set(index, aggregate);
    }
    addRollupItem(aggregate, item);
  };
  const withOverall = input.groupBy !== undefined && input.overall === true;
  for (const item of items) {
    const index = Math.floor((item.bucketStart - start) / bucketMs);
    if (index < 0 || index >= count) continue;
    const key = input.groupBy ? String(item[input.groupBy] || '(none)') : 'all';
    let buckets = series.get(key);
    if (!buckets) {
      buckets = new Map();
      series.set(key, buckets);
    }
    add(buckets, index, item);
    if (withOverall) add(overall, index, item);
  }
  if (series.size === 0 && !input.groupBy) series.set('all', new Map());

  const empty = emptyAggregate();
  const points = (buckets: Map<number, Aggregate>) =>
    Array.from({ length: count }, (_, i) => point(start + i * bucketMs, buckets.get(i) ?? empty));
  return {
    from: start,
    to: end,
    bucketMs,
    resolution,
    groupBy: input.groupBy ?? null,
    filters: filters.echo,
    series: [...series.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, buckets]) => ({ key, points: points(buckets) })),
    /** Every group together (asked for with `overall=true` and groupBy), else null. */
    overall: withOverall ? { key: 'all', points: points(overall) } : null,
    meta: readCost(reader),
  };
}

/** The answer of `GET /timeseries` (the dashboard reads it through this type). */
export type TimeseriesAnswer = Awaited<ReturnType<typeof computeTimeseries>>;
