/**
 * Key formats of the items in the one table (shared/schema.ts), by access pattern:
 *
 * | item          | pk                          | sk                                              |
 * | ------------- | --------------------------- | ----------------------------------------------- |
 * | raw event     | `EV#<yyyy-mm-ddThh>`        | `<ts, 13 digits>#<id>`                          |
 * | minute rollup | `RM#<source>#<yyyy-mm-dd>`  | `<yyyy-mm-ddThh:mm>#<endpoint>#<model>#<region>` |
 * | hour rollup   | `RH#<source>#<yyyy-mm>`     | `<yyyy-mm-ddThh>#<endpoint>#<model>#<region>`    |
 *
 * Raw events are partitioned by UTC hour and sorted by time, so `/traces` walks
 * hours newest first with one bounded Query each. Rollups are partitioned by
 * source and day (minutes) or month (hours) and sorted by time first, so one
 * Query returns every endpoint, model and region of a time range; the label
 * parts are URI-encoded so a `#` in a user's label cannot break the key.
 */
import type { Source } from '../events/model.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** `2026-11-27T23:41:05.123Z` → parts, all UTC. */
const iso = (ts: number) => new Date(ts).toISOString();
export const hourOf = (ts: number) => iso(ts).slice(0, 13); // 2026-11-27T23
export const minuteOf = (ts: number) => iso(ts).slice(0, 16); // 2026-11-27T23:41
export const dayOf = (ts: number) => iso(ts).slice(0, 10); // 2026-11-27
export const monthOf = (ts: number) => iso(ts).slice(0, 7); // 2026-11

export const floorTo = (ts: number, stepMs: number) => Math.floor(ts / stepMs) * stepMs;

/** Sort keys compare as strings: pad timestamps to 13 digits (good until the year 2286). */
export const padTs = (ts: number) => String(Math.max(0, Math.floor(ts))).padStart(13, '0');

export const encodeLabel = (value: string | undefined) => (value ? encodeURIComponent(value) : '-');

export function eventKey(ts: number, id: string): { pk: string; sk: string } {
  return { pk: `EV#${hourOf(ts)}`, sk: `${padTs(ts)}#${id}` };
}

export type Resolution = 'minute' | 'hour';

export interface RollupLabels {
  source: Source;
  endpoint: string;
  model?: string | undefined;
  region?: string | undefined;
}

export function rollupKey(
  resolution: Resolution,
  ts: number,
  labels: RollupLabels,
): { pk: string; sk: string } {
  const suffix = `${encodeLabel(labels.endpoint)}#${encodeLabel(labels.model)}#${encodeLabel(labels.region)}`;
  return resolution === 'minute'
    ? { pk: `RM#${labels.source}#${dayOf(ts)}`, sk: `${minuteOf(ts)}#${suffix}` }
    : { pk: `RH#${labels.source}#${monthOf(ts)}`, sk: `${hourOf(ts)}#${suffix}` };
}
