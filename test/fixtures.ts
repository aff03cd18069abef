/**
 * Test and benchmark data shared by every suite: reproducible randomness,
 * latency samples, the exact quantile that histograms are checked against,
 * and trace events with the usual defaults.
 */

import { gaussian } from '../infra/local/simulator/latency.js';
import type { TraceEvent } from '../shared/events/model.js';

export { gaussian };

/** A deterministic PRNG (mulberry32): the same seed gives the same numbers in [0, 1), run after run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic linear congruential generator (the browser seed's, kept so its data stays the same). */
export function lcgRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A lognormal latency sample: `medianMs` scaled by e^(sigma * N(0, 1)). */
export function lognormal(random: () => number, medianMs: number, sigma: number): number {
  return medianMs * Math.exp(sigma * gaussian(random));
}

/**
 * The exact q-quantile of values sorted ascending, by lower nearest rank (the rule
 * LogHistogram.quantile follows): the smallest value with at least q of the values at
 * or below it. NaN when there are none.
 */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9)));
  return sorted[rank - 1] as number;
}

/** The exact q-quantile (lower nearest rank) of values in any order. NaN when there are none. */
export function quantile(values: Iterable<number>, q: number): number {
  return quantileOfSorted(
    [...values].sort((a, b) => a - b),
    q,
  );
}

/** What a trace event needs beyond the defaults of {@link traceEvents}. */
export type EventSpec = Partial<TraceEvent> & Pick<TraceEvent, 'ts' | 'endpoint'>;

/**
 * A maker of trace events: a successful probe of gpt-4o-mini from us-west-1 against the
 * simulator, with ids `${prefix}0`, `${prefix}1`, … and `defaults` and then each call's
 * fields laid over it.
 */
export function traceEvents(
  prefix: string,
  defaults: Partial<TraceEvent> = {},
): (spec: EventSpec) => TraceEvent {
  let seq = 0;
  return (spec) => ({
    id: `${prefix}${seq++}`,
    source: 'probe',
    model: 'gpt-4o-mini',
    region: 'us-west-1',
    upstream: 'simulated',
    ok: true,
    status: 200,
    latencyMs: 100,
    ...defaults,
    ...spec,
  });
}
