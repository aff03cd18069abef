/**
 * The dashboard's number formatting without ICU on the first render
 * (web/src/format.ts): `grouped` writes what en-US toLocaleString writes, and
 * the date formatters, made on first use, format like Intl does.
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

describe('date formatters made on first use', () => {
  it('format as Intl.DateTimeFormat does, again on a second call', () => {
    const ts = Date.UTC(2026, 10, 30, 18, 4, 21);
    const expected = new Intl.DateTimeFormat(undefined, {
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).format(ts);
    expect(dateTime(ts)).toBe(expected);
    expect(dateTime(ts + 1000)).not.toBe(expected);
    expect(axisTime(ts, 3_600_000)).toBe(
      new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' }).format(ts),
    );
    expect(axisTime(ts, 7 * 86_400_000)).toBe(
      new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' }).format(ts),
    );
  });
});
