/**
 * Query parameters shared by the rollup routes (`/status`, `/timeseries`,
 * `/latency_histogram`, `/incidents`): the time range (a window in minutes
 * ending now, or absolute `from`/`to`), the source and the label filters.
 * Every bad value becomes a 400 naming the parameter; the range and filters
 * are parsed by shared/http/query.ts, the same parser as `/traces`.
 */
import { clock } from '../clock.js';
import { type Config, getConfig } from '../config.js';
import { SOURCES, type Source } from '../events/model.js';
import {
  FILTER_PARAMS,
  parseFilters,
  parseRangeParams,
  RANGE_PARAMS,
  rejectUnknown,
  resolveRange as resolveRangeParams,
  type TimeRange,
} from '../http/query.js';
import type { LabelFilter } from '../store/rollups.js';

export type { TimeRange } from '../http/query.js';

/**
 * The range of a request: `window` minutes ending now (the current minute
 * included; at most RETENTION_DAYS × 1440), or `from`/`to`. A range reaching
 * at most MAX_CLOCK_SKEW_MS (5 min) past now or past the retention start is
 * clamped to them; further is refused, as is from > to. `to` alone means the default
 * window before it, cut at the retention start. (shared/http/query.ts parses
 * it, as for every read route.)
 */
export function resolveRange(
  query: Record<string, string>,
  config: Config,
  now: number,
  defaultWindowMinutes: number,
): TimeRange {
  return resolveRangeParams(
    parseRangeParams(query),
    { now, retentionDays: config.retentionDays },
    { defaultMinutes: defaultWindowMinutes, defaultIsWindow: true, clamp: true },
  );
}

export interface Filters {
  sources: Source[];
  filter: LabelFilter;
  /** As given, for echoing back (`all` when every source is asked for). */
  echo: { source: Source | 'all' | Source[]; endpoint?: string[]; model?: string[]; region?: string[] };
}

/** Source and label filters; `defaultSource` applies when `source` is absent. */
export function resolveFilters(query: Record<string, string>, defaultSource: Source | 'all'): Filters {
  const params = parseFilters(query);
  const sources = params.sources ?? (defaultSource === 'all' ? [...SOURCES] : [defaultSource]);
  const source =
    sources.length === SOURCES.length ? 'all' : sources.length === 1 ? (sources[0] as Source) : sources;
  return {
    sources,
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
const RANGE_AND_FILTER_PARAMS = [...RANGE_PARAMS, ...FILTER_PARAMS] as const;

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
