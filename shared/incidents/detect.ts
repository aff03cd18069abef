/**
 * Detected incidents: runs of consecutive measured buckets (minutes, or hours
 * for long ranges) in which an endpoint's success rate was below the
 * threshold or its p95 latency above it. Pure functions over per-bucket
 * samples, so the rules are tested without a store.
 *
 * - A bucket is *measured* when it holds at least one execution; buckets without
 *   executions neither break nor extend a run (in round-robin mode an endpoint
 *   is measured only every few minutes)…
 * - …but more than `maxGapMs` without any measured bucket ends the run.
 * - A measured bucket within both thresholds ends the run.
 * - A run becomes an incident when it has at least `minBuckets` breaching buckets.
 */

import { PACKED_AGGREGATE } from '../stats/aggregate.js';
import { bucketValue, parseBucketAttribute } from '../stats/histogram.js';
import { ROLLUP_COUNTERS } from '../store/item-layout.js';
import type { RollupItem } from '../store/rollups.js';

/** One endpoint's executions in one bucket, summed across models, regions and sources. */
export interface BucketSample {
  /** Bucket start, epoch ms. */
  start: number;
  total: number;
  ok: number;
  /** Sparse log-bucket latency histogram (shared/stats/histogram.ts): bucket index → count. */
  latency: Map<number, number>;
}

export interface IncidentThresholds {
  /** A bucket breaches when its success rate is below this, in percent. */
  successRatePercent: number;
  /** A bucket breaches when its p95 latency is above this, in ms. */
  p95Ms: number;
}

export interface DetectOptions {
  thresholds: IncidentThresholds;
  /** Bucket length: a minute, or an hour for long ranges. */
  bucketMs: number;
  /** Breaching measured buckets a run needs to become an incident. */
  minBuckets: number;
  /** More than this between two measured buckets ends a run. */
  maxGapMs: number;
  /** A run whose last bucket is the endpoint's last measured one and overlaps (now − ongoingMs, now] is ongoing. */
  ongoingMs: number;
  now: number;
}

export type DetectedReason = 'success_rate' | 'latency' | 'both';

export interface DetectedIncident {
  id: string;
  kind: 'detected';
  endpoint: string;
  /** Start of the first breaching bucket. */
  start: number;
  /** End of the last breaching bucket; null while ongoing. */
  end: number | null;
  severity: 'low' | 'medium' | 'high';
  title: string;
  reason: DetectedReason;
  /** ok / executions over the run's buckets (0–1). */
  successRate: number;
  /** p95 latency over the run's buckets, ms (within 1%). */
  p95Ms: number | null;
  executions: number;
}

export const DEFAULT_MAX_GAP_MS = 30 * 60_000;
export const DEFAULT_ONGOING_MS = 2 * 60_000;

/** The q-quantile of a sparse histogram, with the same rank rule as LogHistogram.quantile. */
export function sparseQuantile(latency: ReadonlyMap<number, number>, q: number): number | undefined {
  let total = 0;
  for (const count of latency.values()) total += count;
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total - 1e-9));
  let cumulative = 0;
  for (const index of [...latency.keys()].sort((a, b) => a - b)) {
    cumulative += latency.get(index) ?? 0;
    if (cumulative >= rank) return bucketValue(index);
  }
  return undefined;
}

function addLatency(target: Map<number, number>, source: ReadonlyMap<number, number>): void {
  for (const [index, count] of source) target.set(index, (target.get(index) ?? 0) + count);
}

const num = (item: Record<string, unknown>, name: string) => {
  const value = item[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
};

/**
 * Groups rollup items (one resolution) into samples per endpoint and bucket,
 * summing models, regions and sources; each endpoint's samples sorted by time.
 */
export function samplesFromRollups(items: readonly RollupItem[]): Map<string, BucketSample[]> {
  const byEndpoint = new Map<string, Map<number, BucketSample>>();
  for (const item of items) {
    let buckets = byEndpoint.get(item.endpoint);
    if (!buckets) {
      buckets = new Map();
      byEndpoint.set(item.endpoint, buckets);
    }
    let sample = buckets.get(item.bucketStart);
    if (!sample) {
      sample = { start: item.bucketStart, total: 0, ok: 0, latency: new Map() };
      buckets.set(item.bucketStart, sample);
    }
    const packed = item[PACKED_AGGREGATE];
    if (packed) {
      // A compact period's figures, already summed.
      sample.total += packed.total;
      sample.ok += packed.ok;
      for (const { index, count } of packed.latency.buckets())
        sample.latency.set(index, (sample.latency.get(index) ?? 0) + count);
      continue;
    }
    sample.total += num(item, ROLLUP_COUNTERS.count);
    sample.ok += num(item, ROLLUP_COUNTERS.ok);
    for (const [name, value] of Object.entries(item)) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) continue;
      const index = parseBucketAttribute(name);
      if (index !== undefined) sample.latency.set(index, (sample.latency.get(index) ?? 0) + value);
    }
  }
  const out = new Map<string, BucketSample[]>();
  for (const [endpoint, buckets] of byEndpoint) {
    out.set(
      endpoint,
      [...buckets.values()].sort((a, b) => a.start - b.start),
    );
  }
  return out;
}

interface Run {
  buckets: BucketSample[];
  successBreach: boolean;
  latencyBreach: boolean;
}

/** Incidents of every endpoint, newest first (ties by endpoint). */
export function detectIncidents(
  samples: ReadonlyMap<string, readonly BucketSample[]>,
  options: DetectOptions,
): DetectedIncident[] {
  const incidents: DetectedIncident[] = [];
  for (const [endpoint, series] of samples) incidents.push(...detectEndpoint(endpoint, series, options));
  return incidents.sort((a, b) => b.start - a.start || a.endpoint.localeCompare(b.endpoint));
}

/** Incidents of one endpoint, oldest first. `series` need not be sorted and may hold empty buckets. */
export function detectEndpoint(
  endpoint: string,
  series: readonly BucketSample[],
  options: DetectOptions,
): DetectedIncident[] {
  const measured = series.filter((s) => s.total > 0).sort((a, b) => a.start - b.start);
  const lastMeasured = measured.at(-1);
  const incidents: DetectedIncident[] = [];
  let run: Run | undefined;
  let previous: BucketSample | undefined;

  const close = () => {
    if (run && run.buckets.length >= options.minBuckets) {
      incidents.push(toIncident(endpoint, run, run.buckets.at(-1) === lastMeasured, options));
    }
    run = undefined;
  };

  for (const sample of measured) {
    if (previous && sample.start - (previous.start + options.bucketMs) > options.maxGapMs) close();
    previous = sample;
    const successBreach = (sample.ok / sample.total) * 100 < options.thresholds.successRatePercent;
    const p95 = sparseQuantile(sample.latency, 0.95);
    const latencyBreach = p95 !== undefined && p95 > options.thresholds.p95Ms;
    if (!successBreach && !latencyBreach) {
      close();
      continue;
    }
    run ??= { buckets: [], successBreach: false, latencyBreach: false };
    run.buckets.push(sample);
    run.successBreach ||= successBreach;
    run.latencyBreach ||= latencyBreach;
  }
  close();
  return incidents;
}

function toIncident(
  endpoint: string,
  run: Run,
  reachesLast: boolean,
  options: DetectOptions,
): DetectedIncident {
  const first = run.buckets[0] as BucketSample;
  const last = run.buckets.at(-1) as BucketSample;
  let total = 0;
  let ok = 0;
  const latency = new Map<number, number>();
  for (const bucket of run.buckets) {
    total += bucket.total;
    ok += bucket.ok;
    addLatency(latency, bucket.latency);
  }
  const successRate = ok / total;
  const p95 = sparseQuantile(latency, 0.95);
  const lastEnd = last.start + options.bucketMs;
  const ongoing = reachesLast && lastEnd > options.now - options.ongoingMs;
  const reason: DetectedReason =
    run.successBreach && run.latencyBreach ? 'both' : run.successBreach ? 'success_rate' : 'latency';
  const severity = successRate < 0.5 ? 'high' : run.successBreach ? 'medium' : 'low';
  const { successRatePercent, p95Ms } = options.thresholds;
  const parts: string[] = [];
  if (run.successBreach) {
    parts.push(
      `success rate ${formatPercent(successRate * 100, successRatePercent)}% (below ${successRatePercent}%)`,
    );
  }
  if (run.latencyBreach && p95 !== undefined) {
    parts.push(`p95 ${formatMs(p95, p95Ms)} (above ${formatMs(p95Ms)})`);
  }
  return {
    id: `detected:${endpoint}:${first.start}`,
    kind: 'detected',
    endpoint,
    start: first.start,
    end: ongoing ? null : lastEnd,
    severity,
    title: `${endpoint}: ${parts.join(', ')}`,
    reason,
    successRate: Math.round(successRate * 1e6) / 1e6,
    p95Ms: p95 === undefined ? null : Math.round(p95 * 1000) / 1000,
    executions: total,
  };
}

/** Whole percent, unless rounding would reach the threshold it is below (89.6 → "89.6", not "90"). */
function formatPercent(percent: number, below: number): string {
  const whole = Math.round(percent);
  if (whole < below) return String(whole);
  return String(Math.floor(percent * 10) / 10);
}

/**
 * `850 ms`, `12.3 s`, `10 s`; with `above`, enough digits that a value above
 * it never reads as equal to it (10 049 ms above 10 s → `10.049 s`).
 */
export function formatMs(ms: number, above?: number): string {
  if (ms < 1000) {
    const whole = Math.round(ms);
    return `${above !== undefined && whole <= above ? Math.round(ms * 1000) / 1000 : whole} ms`;
  }
  for (const digits of [1, 2, 3]) {
    const seconds = Math.round(ms / 10 ** (3 - digits)) / 10 ** digits;
    if (above === undefined || seconds * 1000 > above || digits === 3) return `${seconds} s`;
  }
  return `${ms / 1000} s`;
}
