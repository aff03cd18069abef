/**
 * Time as data: every timestamp is epoch milliseconds UTC and comes from a
 * clock that tests can replace, so results are exact rather than timing-dependent.
 */
export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  set(epochMs: number): void {
    this.current = epochMs;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

let active: Clock = systemClock;

/** The clock domain code reads when none is passed in. */
export const clock: Clock = { now: () => active.now() };

/** Replaces the process clock (tests); returns a function that restores the previous one. */
export function useClock(replacement: Clock): () => void {
  const previous = active;
  active = replacement;
  return () => {
    active = previous;
  };
}
