/**
 * `/latency_histogram`: the latency distribution of a range as bins (log-scaled
 * by default, or linear), with p50/p95/p99 marked, merged from rollup histograms.
 */

import type { Config } from '../config.js';
import { wholeNumber } from '../http/query.js';
import { addRollupItem, emptyAggregate } from '../stats/aggregate.js';
import { bucketValue } from '../stats/histogram.js';
import { readCost, rollupsFor } from '../store/rollups.js';
import * as z from '../zod.js';
import type { Filters, TimeRange } from './params.js';

export const histogramParams = z.object({
  bins: z.optional(wholeNumber('a whole number from 1 to 200', { min: 1, max: 200, maxDigits: 3 })),
  scale: z.optional(z.enum(['log', 'linear'], { error: 'must be log or linear' })),
});

export interface Bin {
  lower: number;
  upper: number;
  count: number;
}

/** Equal-width bins from the smallest to the largest bucket, each bucket counted at its representative value. */
function linearBins(buckets: { index: number; count: number }[], maxBins: number): Bin[] {
  if (buckets.length === 0) return [];
  const values = buckets.map((b) => ({ value: bucketValue(b.index), count: b.count }));
  const min = values[0]?.value ?? 0;
  const max = values.at(-1)?.value ?? 0;
  const width = max > min ? (max - min) / maxBins : 1;
  const n = max > min ? maxBins : 1;
  const bins: Bin[] = Array.from({ length: n }, (_, i) => ({
    lower: min + i * width,
    upper: min + (i + 1) * width,
    count: 0,
  }));
  for (const { value, count } of values) {
    const bin = bins[Math.min(n - 1, Math.floor((value - min) / width))];
    if (bin) bin.count += count;
  }
  return bins;
}

export async function computeLatencyHistogram(input: {
  config: Config;
  range: TimeRange;
  filters: Filters;
  bins?: number;
  scale?: 'log' | 'linear';
  now: number;
}) {
  const reader = rollupsFor(input);
  const items = await reader.read({
    sources: input.filters.sources,
    from: input.range.from,
    to: input.range.to,
    filter: input.filters.filter,
  });
  const aggregate = emptyAggregate();
  for (const item of items) addRollupItem(aggregate, item);
  const maxBins = input.bins ?? 30;
  const scale = input.scale ?? 'log';
  const histogram = aggregate.latency;
  const bins = scale === 'log' ? histogram.toLogBins(maxBins) : linearBins(histogram.buckets(), maxBins);
  const [p50, p95, p99] = histogram.quantiles([0.5, 0.95, 0.99]);
  const mark = (value: number | undefined) =>
    value === undefined
      ? null
      : { value: Math.round(value * 1000) / 1000, bin: bins.findIndex((b) => value <= b.upper) };
  return {
    from: input.range.from,
    to: input.range.to,
    filters: input.filters.echo,
    scale,
    count: histogram.count,
    bins: bins.map((b) => ({
      lower: Math.round(b.lower * 1000) / 1000,
      upper: Math.round(b.upper * 1000) / 1000,
      count: b.count,
    })),
    percentiles: { p50: mark(p50), p95: mark(p95), p99: mark(p99) },
    relativeAccuracy: 0.01,
    meta: readCost(reader),
  };
}

/** The answer of `GET /latency_histogram` (the dashboard reads it through this type). */
export type HistogramAnswer = Awaited<ReturnType<typeof computeLatencyHistogram>>;
