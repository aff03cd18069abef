import { describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS } from '../store/keys.js';
import { HttpProblem } from './problem.js';
import {
  epochMs,
  labelList,
  MAX_CLOCK_SKEW_MS,
  MAX_LIST_VALUES,
  MAX_VALUE_LENGTH,
  rangeProblem,
  rejectUnknown,
  wholeNumber,
} from './query.js';

const NOW = Date.UTC(2026, 5, 1, 12);
const bounds = { now: NOW, retentionDays: 30 };

describe('query-string hygiene', () => {
  it('accepts plain decimal digits only', () => {
    const minutes = wholeNumber('minutes', { min: 1, max: 1440 });
    expect(minutes.parse('60')).toBe(60);
    expect(epochMs.parse(String(NOW))).toBe(NOW);
    for (const bad of [
      '0x10',
      '0X10',
      '0o17',
      '0b11',
      '1e3',
      '1E3',
      ' 60',
      '60 ',
      '\t60',
      '+60',
      '-1',
      '6.0',
      '060',
      '',
      '6_0',
      '١٢',
    ]) {
      expect(minutes.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(minutes.safeParse('1441').success).toBe(false);
    expect(epochMs.safeParse('99999999999999').success).toBe(false);
    expect(minutes.safeParse('60,120').error?.issues[0]?.message).toContain('given more than once?');
  });

  it('applies one set of list limits: count, length, no empty values; trims and drops duplicates', () => {
    expect(labelList.parse(' chat , models,chat')).toEqual(['chat', 'models']);
    expect(labelList.safeParse(Array.from({ length: MAX_LIST_VALUES }, (_, i) => i).join(',')).success).toBe(
      true,
    );
    expect(
      labelList.safeParse(Array.from({ length: MAX_LIST_VALUES + 1 }, (_, i) => i).join(',')).success,
    ).toBe(false);
    expect(labelList.safeParse('x'.repeat(MAX_VALUE_LENGTH)).success).toBe(true);
    expect(labelList.safeParse('x'.repeat(MAX_VALUE_LENGTH + 1)).success).toBe(false);
    for (const bad of ['', 'a,,b', 'a,', ' ']) expect(labelList.safeParse(bad).success, bad).toBe(false);
  });

  it('refuses unknown names, Object.prototype names as reserved, and cuts long names short', () => {
    const query = (name: string) =>
      Object.assign(Object.create(null), { [name]: '1' }) as Record<string, string>;
    expect(() => rejectUnknown(query('window'), ['window'])).not.toThrow();
    for (const name of [
      '__proto__',
      'constructor',
      'toString',
      'valueOf',
      'hasOwnProperty',
      '__lookupGetter__',
    ]) {
      const error = (() => {
        try {
          rejectUnknown(query(name), ['window']);
        } catch (e) {
          return e as HttpProblem;
        }
      })();
      expect(error, name).toBeInstanceOf(HttpProblem);
      expect(error?.field).toBe(name);
      expect(error?.message).toBe(`${name}: unknown parameter (a reserved name); expected one of window`);
    }
    expect(() => rejectUnknown(query('x'.repeat(5000)), [])).toThrow(
      /^x{64}…: unknown parameter; this request takes none$/,
    );
  });
});

describe('rangeProblem', () => {
  const oldest = NOW - 30 * DAY_MS;

  it('accepts a range inside retention and now, and the tolerance around them', () => {
    expect(rangeProblem({ from: oldest, to: NOW }, bounds)).toBeUndefined();
    expect(
      rangeProblem({ from: oldest - MAX_CLOCK_SKEW_MS, to: NOW + MAX_CLOCK_SKEW_MS }, bounds),
    ).toBeUndefined();
    expect(MAX_CLOCK_SKEW_MS).toBe(5 * MINUTE_MS);
  });

  it.each([
    [{ from: NOW - 1000, to: NOW + MAX_CLOCK_SKEW_MS + 1 }, 'to', /^in the future: at most 5 minutes ahead/],
    [{ from: 0, to: 8_640_000_000_000_000 }, 'to', /^in the future/],
    [
      { from: oldest - MAX_CLOCK_SKEW_MS - 1, to: NOW },
      'from',
      /^past retention: .* so from must be at least/,
    ],
    [{ from: 0, to: oldest - DAY_MS }, 'to', /^past retention/],
    [{ from: NOW + MAX_CLOCK_SKEW_MS + 1, to: NOW + MAX_CLOCK_SKEW_MS }, 'from', /^in the future/],
    [{ from: NOW, to: NOW - 1 }, 'from', /^must not be after to/],
  ])('refuses %j naming %s', (range, field, message) => {
    const problem = rangeProblem(range, bounds);
    expect(problem?.field).toBe(field);
    expect(problem?.message).toMatch(message);
  });

  it('lets a cursor reach as far past retention as its grace allows, and no further', () => {
    const grace = { ...bounds, retentionGraceMs: DAY_MS };
    expect(rangeProblem({ from: oldest - DAY_MS, to: NOW - DAY_MS }, grace)).toBeUndefined();
    expect(rangeProblem({ from: oldest - 2 * DAY_MS, to: NOW }, grace)?.field).toBe('from');
  });
});
