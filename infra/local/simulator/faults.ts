/**
 * Injected faults: which there are, none by default, and the roll that picks one by rate.
 */

export interface SimulatorFaults {
  /** Probability 0..1 of a 500/502/503 answer (OpenAI-style JSON error body). */
  serverErrorRate: number;
  /** Probability 0..1 of a 429 with `retry-after` (seconds) and `retry-after-ms` headers and a rate_limit_exceeded error body. */
  rateLimitRate: number;
  /** Probability 0..1 of a reply delayed by `slowMs` (meant to exceed the client's timeout). */
  slowRate: number;
  slowMs: number;
  /** Probability 0..1 of destroying the socket without any response. */
  dropRate: number;
  /** Probability 0..1 of a 200 whose body is not valid JSON. */
  malformedRate: number;
}

export const NO_FAULTS: SimulatorFaults = Object.freeze({
  serverErrorRate: 0,
  rateLimitRate: 0,
  slowRate: 0,
  slowMs: 30_000,
  dropRate: 0,
  malformedRate: 0,
});

export type Fault = '500' | '502' | '503' | '429' | 'slow' | 'drop' | 'malformed' | '401';
export const FAULTS = new Set<string>(['500', '502', '503', '429', 'slow', 'drop', 'malformed', '401']);

/** A fault by the configured rates (each rolled in turn), or none. */
export function pickFault(faults: SimulatorFaults, random: () => number): Fault | undefined {
  const roll = (rate: number) => rate > 0 && random() < rate;
  if (roll(faults.dropRate)) return 'drop';
  if (roll(faults.serverErrorRate))
    return (['500', '502', '503'] as const)[Math.floor(random() * 3)] ?? '500';
  if (roll(faults.rateLimitRate)) return '429';
  if (roll(faults.malformedRate)) return 'malformed';
  if (roll(faults.slowRate)) return 'slow';
  return undefined;
}
