/**
 * The dashboard's number formatting without ICU on the first render
 * (web/src/format.ts): `grouped` writes what en-US toLocaleString writes, and
 * the dates are what en-US Intl.DateTimeFormat writes, without building it.
 */
import { describe, expect, it } from 'vitest';
import { axisTime, dateTime, grouped, num } from '../../web/src/format.js';

describe('grouped', () => {
  it('separates thousands as en-US does, signs and rounding included', () => {
    const values = [
      0, 7, 999, 999.5, 1000, 1234, 9999, 12_345, 123_456, 1_234_567, 987_654_321, -1, -999, -1000,
      -1_234_567,
    ];
    for (const value of values) expect(grouped(value)).toBe(Math.round(value).toLocaleString('en-US'));
  });

  it('is what num shows below ten thousand', () => {
    expect(num(1234)).toBe('1,234');
    expect(num(12_345)).toBe('12.3k');
  });
});

describe('dates written by hand', () => {
  const intl = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat('en-US', options);
  const full = intl({
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const time = intl({ hour: '2-digit', minute: '2-digit' });
  const day = intl({ month: 'short', day: 'numeric' });

  it('are what en-US Intl.DateTimeFormat writes, every hour of the day and every month', () => {
    // Every hour (midnight and noon are the 12-hour clock's edges) of a day in each month, at odd minutes and seconds.
    const times: number[] = [];
    for (let month = 0; month < 12; month++)
      for (let hour = 0; hour < 24; hour++)
        times.push(new Date(2026, month, 1 + month * 2, hour, hour * 2 + 1, 59 - hour).getTime());
    for (const ts of times) {
      expect(dateTime(ts)).toBe(full.format(ts));
      expect(axisTime(ts, 3_600_000)).toBe(time.format(ts));
      expect(axisTime(ts, 7 * 86_400_000)).toBe(day.format(ts));
    }
  });

  it('write a dash for a time that is not one', () => {
    expect(dateTime(Number.NaN)).toBe('—');
    expect(axisTime(Number.POSITIVE_INFINITY, 3_600_000)).toBe('—');
  });
});
