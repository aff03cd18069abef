import { describe, expect, it } from 'vitest';
import { HOUR_MS, MINUTE_MS } from './keys.js';
import { planSegments } from './rollups.js';

const HOUR = Date.UTC(2026, 10, 27, 12);
const at = (h: number, m: number) => HOUR + h * HOUR_MS + m * MINUTE_MS;

describe('planSegments', () => {
  it('reads a short range inside one hour from minute rollups', () => {
    expect(planSegments(at(0, 10), at(0, 40), at(0, 40))).toEqual([
      { resolution: 'minute', from: at(0, 10), to: at(0, 40) },
    ]);
  });

  it('reads the last day as a minute edge plus whole hours, the hour in progress included', () => {
    const now = at(24, 34) + 56_000;
    const from = at(0, 35);
    expect(planSegments(from, now, now)).toEqual([
      { resolution: 'minute', from: at(0, 35), to: at(1, 0) },
      { resolution: 'hour', from: at(1, 0), to: at(25, 0) },
    ]);
  });

  it('picks whichever plan reads fewer items', () => {
    const now = at(5, 34);
    // The last 60 minutes: 26 minutes + the hour in progress (27 items) beat 60 minutes.
    expect(planSegments(at(4, 35), now, now)).toEqual([
      { resolution: 'minute', from: at(4, 35), to: at(5, 0) },
      { resolution: 'hour', from: at(5, 0), to: at(6, 0) },
    ]);
    // Just after the hour, 3 minutes alone are cheaper than 57 minutes + an hour.
    expect(planSegments(at(5, 2), at(5, 4), at(5, 4))).toHaveLength(1);
  });

  it('keeps a past range exact at both ends', () => {
    const now = at(30, 0);
    expect(planSegments(at(0, 50), at(10, 10), now)).toEqual([
      { resolution: 'minute', from: at(0, 50), to: at(1, 0) },
      { resolution: 'hour', from: at(1, 0), to: at(10, 0) },
      { resolution: 'minute', from: at(10, 0), to: at(10, 10) },
    ]);
  });

  it('honours a forced resolution and an empty range', () => {
    expect(planSegments(at(0, 10), at(3, 10), at(3, 10), 'hour')).toEqual([
      { resolution: 'hour', from: at(0, 0), to: at(4, 0) },
    ]);
    expect(planSegments(at(0, 10), at(3, 10), at(3, 10), 'minute')).toEqual([
      { resolution: 'minute', from: at(0, 10), to: at(3, 10) },
    ]);
    expect(planSegments(at(1, 0), at(1, 0), at(2, 0))).toEqual([]);
  });
});
