/**
 * Query parameters shared by the read API: the time range (a window in
 * minutes ending now, or absolute `from`/`to`), the source and the label
 * filters. Every bad value becomes a 400 naming the parameter.
 */
import * as z from 'zod';
import { clock } from '../clock.js';
import { type Config, getConfig } from '../config.js';
import { SOURCES, type Source } from '../events/model.js';
import { badRequest, validate } from '../http/problem.js';
import { MINUTE_MS } from '../store/keys.js';
import type { LabelFilter } from '../store/rollups.js';

const epochMs = z.coerce
  .number({ error: 'must be epoch milliseconds' })
  .int('must be whole epoch milliseconds')
  .min(0, 'must be epoch milliseconds');

const labelList = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(2000)
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().max(200, 'a value is longer than 200 characters')).min(1, 'must not be empty'));

export const rangeParams = z.object({
  window: z.coerce
    .number({ error: 'must be a number of minutes' })
    .int('must be whole minutes')
    .min(1)
    .optional(),
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
 * included), or `from`/`to`. Refuses from > to and anything past retention.
 */
export function resolveRange(
  query: Record<string, string>,
  config: Config,
  now: number,
  defaultWindowMinutes: number,
): TimeRange {
  const params = validate(rangeParams, pick(query, ['window', 'from', 'to']));
  const retentionMinutes = config.retentionDays * 1440;
  const oldest = now - config.retentionDays * 86_400_000;
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
  const to = params.to ?? now;
  const from = params.from ?? to - defaultWindowMinutes * MINUTE_MS;
  if (from > to) throw badRequest('from', 'must not be after to');
  if (from < oldest)
    throw badRequest('from', `is past retention (data is kept ${config.retentionDays} days)`);
  return { from, to };
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

/** Refuses query parameters a route does not know, so a typo is not silently ignored. */
export function rejectUnknown(query: Record<string, string>, known: readonly string[]): void {
  for (const name of Object.keys(query)) {
    if (!known.includes(name)) throw badRequest(name, `unknown parameter (known: ${known.join(', ')})`);
  }
}

function pick(query: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => query[n] !== undefined).map((n) => [n, query[n] as string]));
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
