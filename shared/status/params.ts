/**
 * Query parameters shared by the rollup routes (`/status`, `/timeseries`,
 * `/latency_histogram`, `/incidents`): the time range (a window in minutes
 * ending now, or absolute `from`/`to`), the source and the label filters.
 * Every bad value becomes a 400 naming the parameter; numbers and lists follow
 * shared/http/query.ts, like every read route.
 */
import * as z from 'zod';
import { clock } from '../clock.js';
import { type Config, getConfig } from '../config.js';
import { SOURCES, type Source } from '../events/model.js';
import { badRequest, validate } from '../http/problem.js';
import {
  epochMs,
  labelList,
  pick,
  rangeProblem,
  rejectUnknown,
  retentionStart,
  wholeNumber,
} from '../http/query.js';
import { MINUTE_MS } from '../store/keys.js';
import type { LabelFilter } from '../store/rollups.js';

export const rangeParams = z.object({
  window: wholeNumber('a whole number of minutes', { min: 1, maxDigits: 10 }).optional(),
  from: epochMs.optional(),
  to: epochMs.optional(),
});

export const filterParams = z.object({
  source: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum([...SOURCES, 'all'], { error: `must be one of ${[...SOURCES, 'all'].join(', ')}` }))
    .optional(),
  endpoint: labelList.optional(),
  model: labelList.optional(),
  region: labelList.optional(),
});

export interface TimeRange {
  from: number;
  to: number;
  /** Set when the range was given as a window. */
  windowMinutes?: number;
}

/**
 * The range of a request: `window` minutes ending now (the current minute
 * included; at most RETENTION_DAYS × 1440), or `from`/`to`. A range reaching
 * at most MAX_CLOCK_SKEW_MS (5 min) past now or past the retention start is
 * clamped to them; further is refused, as is from > to. `to` alone means the default
 * window before it, cut at the retention start.
 */
export function resolveRange(
  query: Record<string, string>,
  config: Config,
  now: number,
  defaultWindowMinutes: number,
): TimeRange {
  const params = validate(rangeParams, pick(query, ['window', 'from', 'to']));
  const retentionMinutes = config.retentionDays * 1440;
  const bounds = { now, retentionDays: config.retentionDays };
  const oldest = retentionStart(bounds);
  if (params.window !== undefined && (params.from !== undefined || params.to !== undefined)) {
    throw badRequest('window', 'give either window or from/to, not both');
  }
  if (params.from === undefined && params.to === undefined) {
    const windowMinutes = params.window ?? defaultWindowMinutes;
    if (windowMinutes > retentionMinutes) {
      throw badRequest(
        'window',
        `must be at most ${retentionMinutes} minutes (RETENTION_DAYS=${config.retentionDays})`,
      );
    }
    const to = now;
    const from = Math.floor(now / MINUTE_MS) * MINUTE_MS - (windowMinutes - 1) * MINUTE_MS;
    return { from, to, windowMinutes };
  }
  const givenTo = params.to ?? now;
  const given = {
    to: givenTo,
    from: params.from ?? Math.min(givenTo, Math.max(givenTo - defaultWindowMinutes * MINUTE_MS, oldest)),
  };
  const problem = rangeProblem(given, bounds);
  if (problem) throw badRequest(problem.field, problem.message);
  // Inside the tolerance: clamped, so the answer says which range it covers.
  const to = Math.min(given.to, now);
  return { from: Math.min(Math.max(given.from, oldest), to), to };
}

export interface Filters {
  sources: Source[];
  filter: LabelFilter;
  /** As given, for echoing back. */
  echo: { source: Source | 'all'; endpoint?: string[]; model?: string[]; region?: string[] };
}

/** Source and label filters; `defaultSource` applies when `source` is absent. */
export function resolveFilters(query: Record<string, string>, defaultSource: Source | 'all'): Filters {
  const params = validate(filterParams, pick(query, ['source', 'endpoint', 'model', 'region']));
  const source = params.source ?? defaultSource;
  return {
    sources: source === 'all' ? [...SOURCES] : [source],
    filter: { endpoint: params.endpoint, model: params.model, region: params.region },
    echo: {
      source,
      ...(params.endpoint ? { endpoint: params.endpoint } : {}),
      ...(params.model ? { model: params.model } : {}),
      ...(params.region ? { region: params.region } : {}),
    },
  };
}

/** The parameters every ranged read takes. */
export const RANGE_AND_FILTER_PARAMS = [
  'window',
  'from',
  'to',
  'source',
  'endpoint',
  'model',
  'region',
] as const;

/**
 * What a ranged read starts with: the configuration, the time, the range and
 * the filters, with unknown parameters refused (`extra` names the route's own).
 */
export function readRangeQuery(
  query: Record<string, string>,
  options: { defaultWindowMinutes: number; defaultSource: Source | 'all'; extra?: readonly string[] },
): { config: Config; now: number; range: TimeRange; filters: Filters } {
  const config = getConfig();
  const now = clock.now();
  rejectUnknown(query, [...RANGE_AND_FILTER_PARAMS, ...(options.extra ?? [])]);
  return {
    config,
    now,
    range: resolveRange(query, config, now, options.defaultWindowMinutes),
    filters: resolveFilters(query, options.defaultSource),
  };
}
