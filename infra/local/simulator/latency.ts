/**
 * How long the simulator takes to answer: a lognormal base latency per endpoint family
 * (or none, or a fixed time) and the gaps between streamed events.
 */
import type { Kind } from './endpoints.js';

/** Median base latency per endpoint family for 'realistic' mode, in ms. */
const MEDIAN_MS: Record<Kind, number> = {
  models: 40,
  chat: 300,
  responses: 350,
  embeddings: 80,
  moderations: 120,
  images: 1800,
  list: 60,
  other: 20,
};

/** A standard normal sample (Box-Muller) from two uniform draws of `random`. */
export const gaussian = (random: () => number): number =>
  Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/** 'realistic' = per-endpoint lognormal-ish base latency, 'none' = 0 ms, or a fixed number of ms. */
export type LatencyMode = 'realistic' | 'none' | number;

/** The base latency of a call to an endpoint family, and the gap before each streamed event after the first. */
export function latencies(mode: LatencyMode, random: () => number) {
  const baseLatency = (kind: Kind): number => {
    if (mode === 'none') return 0;
    if (typeof mode === 'number') return mode;
    // Lognormal around the median, clamped to avoid absurd tails.
    const gauss = gaussian(random);
    const median = MEDIAN_MS[kind];
    return Math.round(Math.min(median * 5, Math.max(median / 4, median * Math.exp(0.35 * gauss))));
  };
  const streamGap = () => (mode === 'none' || mode === 0 ? 0 : 10 + Math.round(random() * 20));
  return { baseLatency, streamGap };
}
