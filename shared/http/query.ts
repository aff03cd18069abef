/**
 * Query-string hygiene shared by every read route (`/status`, `/timeseries`,
 * `/latency_histogram`, `/incidents`, `/traces`), so each parameter means the
 * same thing everywhere and no parameter can make a request's work unbounded:
 *
 * - Unknown names are refused, and the names every plain object inherits
 *   (`__proto__`, `constructor`, `toString`, …) are refused as such: the
 *   middleware builds the query as a null-prototype object, so they arrive as
 *   ordinary own keys and never reach or change a prototype.
 * - Numbers are decimal digits only: no sign, spaces, exponent (`1e3`) or
 *   `0x`/`0o`/`0b` prefix, which `Number()` would otherwise accept.
 * - Lists (`endpoint`, `model`, `region`, …) are comma-separated, at most
 *   MAX_LIST_VALUES values of at most MAX_VALUE_LENGTH characters each; values
 *   are trimmed, duplicates dropped, empty values refused.
 * - A repeated parameter (`?endpoint=a&endpoint=b`) arrives joined with commas,
 *   as API Gateway does (the local gateway does the same): a list takes every
 *   value, a single-valued parameter refuses it.
 * - Time ranges stay within retention and at most MAX_CLOCK_SKEW_MS ahead of
 *   the server clock (rangeProblem).
 * - The range (`window`, `from`, `to`) and the filters (`source`, `endpoint`,
 *   `model`, `region`) are parsed by one parser for every route
 *   (parseRangeParams, resolveRange, parseFilters): same limits, same messages.
 */

import { SOURCES, type Source } from '../events/model.js';
import { DAY_MS, MINUTE_MS } from '../store/keys.js';
import * as z from '../zod.js';
import { badRequest, validate } from './problem.js';

/** Values in one comma-separated list at most (DynamoDB's IN takes up to 100). */
export const MAX_LIST_VALUES = 50;
/** Characters in one list value at most. */
export const MAX_VALUE_LENGTH = 200;
/** How far ahead of the server clock a range may end (client clocks drift; the dashboard asks up to the end of the current minute). */
export const MAX_CLOCK_SKEW_MS = 5 * MINUTE_MS;

/** Names every plain object inherits: never a parameter, whatever the route. */
const PROTOTYPE_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** A parameter name or value as echoed in an error: quoted, and cut short. */
export const quote = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

/** Refuses every parameter the route does not take, so a typo is never silently ignored. */
export function rejectUnknown(query: Readonly<Record<string, string>>, known: readonly string[]): void {
  const expected = known.length > 0 ? `expected one of ${known.join(', ')}` : 'this request takes none';
  for (const name of Object.keys(query)) {
    const field = name.length > 64 ? `${name.slice(0, 64)}…` : name;
    if (PROTOTYPE_NAMES.has(name))
      throw badRequest(field, `unknown parameter (a reserved name); ${expected}`);
    if (!known.includes(name)) throw badRequest(field, `unknown parameter; ${expected}`);
  }
}

/** The values of the parameters `names`, as a plain object holding only those that were given. */
export function pick(
  query: Readonly<Record<string, string>>,
  names: readonly string[],
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = Object.hasOwn(query, name) ? query[name] : undefined;
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/**
 * A whole number written in decimal digits (no leading zeros, at most
 * `maxDigits`), then checked against [min, max]. `expected` completes
 * "expected …" in the error.
 */
export function wholeNumber(
  expected: string,
  options: { min?: number; max?: number; maxDigits?: number } = {},
) {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, maxDigits = 15 } = options;
  const message = `expected ${expected}, in decimal digits`;
  return z.pipe(
    z.pipe(
      z.string().check(
        z.refine(
          (v) => !v.includes(','),
          `${message} (given more than once? a repeated parameter arrives comma-joined)`,
        ),
        z.regex(new RegExp(`^(0|[1-9][0-9]{0,${maxDigits - 1}})$`), message),
      ),
      z.transform(Number),
    ),
    z.number().check(z.gte(min, message), z.lte(max, message)),
  );
}

/** Epoch milliseconds: up to 13 digits (year 2286). */
export const epochMs = wholeNumber('epoch milliseconds (a whole number)', { maxDigits: 13 });

/**
 * A comma-separated list whose values `parse` accepts (undefined refuses);
 * values trimmed, duplicates dropped, the list and value limits applied.
 */
export function list<T>(parse: (value: string) => T | undefined, expected: string) {
  const parseList = z.transform((raw: string, ctx) => {
    const parts = raw.split(',').map((part) => part.trim());
    if (parts.length > MAX_LIST_VALUES) {
      return z.refuse(ctx, `at most ${MAX_LIST_VALUES} comma-separated values`);
    }
    const values: T[] = [];
    for (const part of parts) {
      const value = parse(part);
      if (value === undefined) {
        return z.refuse(ctx, `${quote(part)} is not ${expected}`);
      }
      if (!values.includes(value)) values.push(value);
    }
    return values;
  });
  return z.pipe(z.string(), parseList);
}

/** Endpoint, model and region lists: non-empty labels of at most MAX_VALUE_LENGTH characters. */
export const labelList = list(
  (v) => (v.length > 0 && v.length <= MAX_VALUE_LENGTH ? v : undefined),
  `a non-empty value of at most ${MAX_VALUE_LENGTH} characters`,
);

/** A list of values out of `allowed`. */
export const oneOfList = <T extends string>(allowed: readonly T[]) =>
  list(
    (v) => ((allowed as readonly string[]).includes(v) ? (v as T) : undefined),
    `one of ${allowed.join(', ')}`,
  );

export interface RangeBounds {
  /** Epoch ms. */
  now: number;
  retentionDays: number;
  /** How far `from` may reach past the retention start (a cursor's range ages while it is paged). Default 0. */
  retentionGraceMs?: number;
}

export interface RangeProblem {
  field: 'from' | 'to';
  message: string;
}

/** The oldest time a range may start at: now minus retention. */
const retentionStart = (bounds: RangeBounds) => bounds.now - bounds.retentionDays * DAY_MS;

/**
 * What is wrong with a range, or undefined: `to` more than MAX_CLOCK_SKEW_MS
 * ahead of now or before the retention start, `from` more than
 * MAX_CLOCK_SKEW_MS (plus the grace) before the retention start or ahead of
 * now, `from` after `to`. A range inside the tolerances may still reach a
 * little past now or retention: callers clamp it (or, where the range names a
 * paged query, keep it as given).
 */
export function rangeProblem(
  range: { from: number; to: number },
  bounds: RangeBounds,
): RangeProblem | undefined {
  const oldest = retentionStart(bounds);
  const latest = bounds.now + MAX_CLOCK_SKEW_MS;
  const earliest = oldest - MAX_CLOCK_SKEW_MS - (bounds.retentionGraceMs ?? 0);
  const kept = `data is kept ${bounds.retentionDays} days (RETENTION_DAYS)`;
  const ahead = `at most ${MAX_CLOCK_SKEW_MS / MINUTE_MS} minutes ahead of the server clock (now ${bounds.now})`;
  if (range.to > latest) return { field: 'to', message: `in the future: ${ahead}` };
  if (range.to < earliest)
    return { field: 'to', message: `past retention: ${kept}, so to must be at least ${oldest}` };
  if (range.from < earliest) {
    return { field: 'from', message: `past retention: ${kept}, so from must be at least ${oldest}` };
  }
  if (range.from > latest) return { field: 'from', message: `in the future: ${ahead}` };
  if (range.from > range.to) return { field: 'from', message: `must not be after to (${range.to})` };
  return undefined;
}

// ------------------------------------------------- the range and the filters

/** The range parameters every read route takes. */
export const RANGE_PARAMS = ['window', 'from', 'to'] as const;
/** The filter parameters every read route takes. */
export const FILTER_PARAMS = ['source', 'endpoint', 'model', 'region'] as const;

const SOURCE_VALUES: readonly string[] = [...SOURCES, 'all'];

const rangeParams = z.object({
  window: z.optional(wholeNumber('a whole number of minutes', { min: 1, maxDigits: 10 })),
  from: z.optional(epochMs),
  to: z.optional(epochMs),
});

const filterParams = z.object({
  /** A list of sources (case-insensitive); `all` stands for every source. */
  source: z.optional(
    list(
      (v) => {
        const value = v.toLowerCase();
        return SOURCE_VALUES.includes(value) ? (value as Source | 'all') : undefined;
      },
      `one of ${SOURCE_VALUES.join(', ')}`,
    ),
  ),
  endpoint: z.optional(labelList),
  model: z.optional(labelList),
  region: z.optional(labelList),
});

/** The range as given: a window in minutes ending now, or `from`/`to` (epoch ms), or nothing. */
export interface RangeParams {
  window?: number;
  from?: number;
  to?: number;
}

/** Parses `window`, `from` and `to`; a window and from/to together are refused. */
export function parseRangeParams(query: Readonly<Record<string, string>>): RangeParams {
  const params = validate(rangeParams, pick(query, RANGE_PARAMS));
  if (params.window !== undefined && (params.from !== undefined || params.to !== undefined)) {
    throw badRequest('window', 'give either window or from/to, not both');
  }
  return params;
}

export interface TimeRange {
  from: number;
  to: number;
  /** Set when the range was given (or defaulted) as a window. */
  windowMinutes?: number;
}

/** The range of a window of `minutes` ending at `now`, the current minute included. */
export function windowRange(now: number, minutes: number): { from: number; to: number } {
  return { from: Math.floor(now / MINUTE_MS) * MINUTE_MS - (minutes - 1) * MINUTE_MS, to: now };
}

/**
 * The range of a request: `window` minutes ending now (the current minute
 * included; at most RETENTION_DAYS × 1440), or `from`/`to`. `to` alone means
 * `defaultMinutes` before it, cut at the retention start; nothing at all means
 * a window of `defaultMinutes` when `defaultIsWindow`, else `defaultMinutes`
 * up to now. A range reaching at most MAX_CLOCK_SKEW_MS past now or past the
 * retention start is clamped to them when `clamp` (else kept as given, where
 * the range names a paged query); further is refused, as is from > to.
 */
export function resolveRange(
  params: RangeParams,
  bounds: RangeBounds,
  options: { defaultMinutes: number; defaultIsWindow: boolean; clamp: boolean },
): TimeRange {
  const { now, retentionDays } = bounds;
  const given = params.from !== undefined || params.to !== undefined;
  if (params.window !== undefined || (!given && options.defaultIsWindow)) {
    const windowMinutes = params.window ?? options.defaultMinutes;
    const retentionMinutes = retentionDays * 1440;
    if (windowMinutes > retentionMinutes) {
      throw badRequest(
        'window',
        `must be at most ${retentionMinutes} minutes (RETENTION_DAYS=${retentionDays})`,
      );
    }
    return { ...windowRange(now, windowMinutes), windowMinutes };
  }
  const oldest = retentionStart(bounds);
  const to = params.to ?? now;
  const range = {
    to,
    from: params.from ?? Math.min(to, Math.max(to - options.defaultMinutes * MINUTE_MS, oldest)),
  };
  const problem = rangeProblem(range, bounds);
  if (problem) throw badRequest(problem.field, problem.message);
  if (!options.clamp) return range;
  // Inside the tolerance: clamped, so the answer says which range it covers.
  const clampedTo = Math.min(range.to, now);
  return { from: Math.min(Math.max(range.from, oldest), clampedTo), to: clampedTo };
}

/** The filters as given; `sources` has `all` resolved to every source. */
export interface FilterParams {
  sources?: Source[];
  endpoint?: string[];
  model?: string[];
  region?: string[];
}

/** Parses `source`, `endpoint`, `model` and `region`. */
export function parseFilters(query: Readonly<Record<string, string>>): FilterParams {
  const params = validate(filterParams, pick(query, FILTER_PARAMS));
  const sources = params.source?.includes('all') ? [...SOURCES] : (params.source as Source[] | undefined);
  return {
    ...(sources ? { sources } : {}),
    ...(params.endpoint ? { endpoint: params.endpoint } : {}),
    ...(params.model ? { model: params.model } : {}),
    ...(params.region ? { region: params.region } : {}),
  };
}
