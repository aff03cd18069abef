/**
 * Key formats of the items in the one table (shared/schema.ts), by access pattern:
 *
 * | item          | pk                          | sk                                              |
 * | ------------- | --------------------------- | ----------------------------------------------- |
 * | raw event     | `EV#<yyyy-mm-ddThh>#<ss>`   | `<ts, 13 digits>#<id>`                          |
 * | minute rollup | `RM#<source>#<yyyy-mm-dd>#<s>` | `<yyyy-mm-ddThh:mm>#<endpoint>#<model>#<region>` |
 * | hour rollup   | `RH#<source>#<yyyy-mm>#<s>`  | `<yyyy-mm-ddThh>#<endpoint>#<model>#<region>`    |
 * | endpoint minute | `RE#<source>#<yyyy-mm-dd>#<s>` | `<yyyy-mm-ddThh:mm>#<endpoint>`              |
 * | idempotency   | `IDEM#<sha256>`             | `IDEM`                                           |
 * | compact period| `CP#<source>#<view>#<yyyy-mm-dd>` | `<level>#<yyyy-mm-ddThh:mm>`              |
 * | late versions | `CV#<source>#<yyyy-mm-dd>#<s>` | `CV`                                          |
 * | compacted marks | `CV#<source>#<yyyy-mm-dd>` | `CV`                                             |
 * | compactor     | `CM#<source>`               | `CM`                                             |
 * | log line      | `LG#<yyyy-mm-ddThh>#<ss>`   | `<line id>` (starts with its ts, 13 digits)     |
 * | log pending   | `LP#<ss>`                   | `<hour start, 13 digits>#<pack id>`              |
 * | log segment   | `LM#<index key>`            | `<yyyy-mm-ddThh>#<segment id>`                  |
 * | log index     | `LI`                        | `LI`                                             |
 * | log template  | `LT#<index key>#<h>`        | `<template hash>`                                |
 * | log simulator | `LS`                        | `LS`                                             |
 * | monitor       | `SM`                        | `<monitor id>`                                   |
 * | monitor run   | `SR#<monitor id>`           | `<ts, 13 digits>#<run id>`                       |
 * | run budget    | `SL#<yyyy-mm-ddThh:mm>`     | `SL`                                             |
 *
 * Raw events are partitioned by UTC hour and sorted by time, and each hour is
 * split over EVENT_SHARDS partitions (`<ss>`, two digits, derived from the
 * event id): DynamoDB serves about 1,000 write units per second per partition
 * key and cannot split a key written in increasing sort order, so one key per
 * hour would cap ingestion near 500 events/s (each event is written twice:
 * claimed, then committed). The shard comes from the id alone, so a retried
 * event lands on the same key and its conditional claim still finds it.
 * `/traces` walks hours newest first and merges an hour's shards by sort key
 * (shared/traces/query.ts); `EV#<yyyy-mm-ddThh>` alone names the hour in its
 * cursors. Rollups are partitioned by
 * source and day (minutes) or month (hours) and sorted by time first, so one
 * Query returns every endpoint, model and region of a time range; the label
 * parts are URI-encoded so a `#` in a user's label cannot break the key.
 * Each rollup partition is split over ROLLUP_SHARDS keys (`<s>`, one digit):
 * a writer adds its whole request's deltas to the shard of its token, so the
 * per-request aggregation is kept and concurrent writers spread over the
 * shards; readers query every shard and sum the items of a label set.
 * Endpoint minutes are the minute rollups summed over models and regions,
 * written beside them: a read of minutes not compacted yet (the last two or
 * three) that needs only endpoints reads at most ENDPOINT_MINUTE_SPREAD
 * items per endpoint and minute rather than one per label set and shard.
 * Their partition shard comes from the endpoint (and the writer's shard
 * modulo ENDPOINT_MINUTE_SPREAD), not from the writer's shard alone: with
 * every rollup shard written in a minute, an endpoint's minute is 2 items,
 * not 8. Readers sum whatever items they find, so items written under the
 * writer-shard layout (before this change) still read right.
 *
 * A compact period item holds the figures of one closed period (a minute, a
 * ten-minute block, an hour or a day) of one source, for every endpoint (view `E`)
 * or every label set (view `L`), packed as binary (shared/store/compaction.ts).
 * Readers fetch them by key (BatchGetItem), so their partition is only there
 * to spread them. The late-versions items of a day count, per minute of that
 * day, the writes that reached the minute after it had ended (`v<hhmm>`,
 * sharded like the rollups, by writer; a minute's version is the sum over the
 * shards): a compact item is valid only while the versions of its minutes are
 * those it was built with. The unsharded item of the day holds what the
 * compactor has built (`c<hhmm>`); only the compactor writes it.
 */
import { createHash } from 'node:crypto';
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

/**
 * Partitions per hour of raw events. 16 keeps each key under DynamoDB's
 * 1,000 write units per second up to about 8,000 events/s (2 units each,
 * README "Write capacity"); a read of an hour costs one Query per shard.
 * Changing it moves every event to another key: readers would miss the hours
 * written with the old count, and a retry across the change would store twice.
 */
export const EVENT_SHARDS = 16;

/** `EV#<yyyy-mm-ddThh>`: names the hour holding `ts` (in `/traces` cursors); its events live in its shards. */
export const eventHourKey = (ts: number) => `EV#${hourOf(ts)}`;

/** The shard of an event id: the first byte of its SHA-256, so ids spread evenly whatever they look like. */
export function eventShard(id: string): number {
  return (createHash('sha256').update(id).digest()[0] as number) % EVENT_SHARDS;
}

/** The partition key of shard `shard` of the hour named by `hourKey` (eventHourKey). */
export const eventShardPartition = (hourKey: string, shard: number) =>
  `${hourKey}#${String(shard).padStart(2, '0')}`;

/** Every partition of the hour named by `hourKey`, shard 0 first. */
export const eventShardPartitions = (hourKey: string) =>
  Array.from({ length: EVENT_SHARDS }, (_, shard) => eventShardPartition(hourKey, shard));

export function eventKey(ts: number, id: string): { pk: string; sk: string } {
  return { pk: eventShardPartition(eventHourKey(ts), eventShard(id)), sk: `${padTs(ts)}#${id}` };
}

/** The start of the hour an hour key (eventHourKey) names, or undefined if it is not one. */
export function eventHourOfKey(hourKey: string): number | undefined {
  const match = /^EV#(\d{4}-\d{2}-\d{2}T\d{2})$/.exec(hourKey);
  if (!match) return undefined;
  const hour = Date.parse(`${match[1]}:00:00.000Z`);
  return Number.isFinite(hour) && eventHourKey(hour) === hourKey ? hour : undefined;
}

/** The event time of a raw-event sort key, or undefined if it is not one. */
export function eventSortKeyTs(sk: string): number | undefined {
  const match = /^(\d{13})#.+$/s.exec(sk);
  return match && sk.length <= 1024 ? Number(match[1]) : undefined;
}

/** The sort key bounds (BETWEEN) of the raw events with `from <= ts <= to`. */
export function eventSortRange(from: number, to: number): { low: string; high: string } {
  return { low: padTs(from), high: `${padTs(to)}~` };
}

/** The one item of an idempotency id (shared/store/idempotency.ts). */
export function idempotencyKey(id: string): { pk: string; sk: string } {
  return { pk: `IDEM#${id}`, sk: 'IDEM' };
}

/** The counter of one caller (a hashed key or address) for one minute of one limited action (shared/store/rate-limit.ts). */
export function rateLimitKey(
  action: string,
  caller: string,
  minuteStart: number,
): { pk: string; sk: string } {
  return { pk: `RL#${action}#${caller}`, sk: minuteOf(minuteStart) };
}

export type Resolution = 'minute' | 'hour';

export interface RollupLabels {
  source: Source;
  endpoint: string;
  model?: string | undefined;
  region?: string | undefined;
}

/**
 * Partitions each rollup partition (and each day's late versions) is split
 * into. A writer puts all its rollup updates on the shard of its random token
 * (rollupShard), so one request's deltas stay aggregated per label set and
 * minute, and an adopter finds a dead writer's shard from the token left on
 * its pending events. 8 keeps a rollup key under 1,000 write units a second
 * up to about 50,000 traces/s in requests of 500 (README "Write capacity");
 * a live read costs one Query per shard, and a busy label set up to one item
 * per shard. Like EVENT_SHARDS, changing it is a migration, not a setting.
 */
export const ROLLUP_SHARDS = 8;

/** The rollup shard of a writer token: the first byte of its SHA-256. */
export function rollupShard(token: string): number {
  return (createHash('sha256').update(token).digest()[0] as number) % ROLLUP_SHARDS;
}

/** Every rollup shard, 0 first. */
export const ROLLUP_SHARD_LIST: readonly number[] = Array.from({ length: ROLLUP_SHARDS }, (_, s) => s);

export function rollupKey(
  resolution: Resolution,
  ts: number,
  labels: RollupLabels,
  shard: number,
): { pk: string; sk: string } {
  const suffix = `${encodeLabel(labels.endpoint)}#${encodeLabel(labels.model)}#${encodeLabel(labels.region)}`;
  return {
    pk: rollupPartition(resolution, labels.source, ts, shard),
    sk: `${rollupBucket(resolution, ts)}#${suffix}`,
  };
}

/** Shard `shard` of the rollup partition holding `ts`: its day for minutes, its month for hours. */
export function rollupPartition(resolution: Resolution, source: Source, ts: number, shard: number): string {
  const period = resolution === 'minute' ? `RM#${source}#${dayOf(ts)}` : `RH#${source}#${monthOf(ts)}`;
  return `${period}#${shard}`;
}

/**
 * The endpoint-minute rollup (every model and region of an endpoint) of the
 * minute holding `ts`, as a writer on rollup shard `writerShard` updates it:
 * on the key endpointMinuteShard picks (from the endpoint and the writer's shard).
 */
export function endpointMinuteKey(
  ts: number,
  labels: Pick<RollupLabels, 'source' | 'endpoint'>,
  writerShard: number,
): { pk: string; sk: string } {
  return {
    pk: endpointMinutePartition(labels.source, ts, endpointMinuteShard(labels.endpoint, writerShard)),
    sk: `${rollupBucket('minute', ts)}#${encodeLabel(labels.endpoint)}`,
  };
}

/**
 * Items per endpoint and minute: the writers of the 8 rollup shards share
 * this many endpoint-minute items (writer shard modulo it), so a minute's
 * live endpoint figures are at most this many items per endpoint, not one
 * per rollup shard. 2 halves the writes a busy endpoint puts on one key
 * (README "Write capacity").
 */
export const ENDPOINT_MINUTE_SPREAD = 2;

/**
 * The partition shard of an endpoint's minute items for writers on
 * `writerShard`: the endpoint's hash spreads endpoints over the
 * ROLLUP_SHARDS keys, and its ENDPOINT_MINUTE_SPREAD items lie
 * ROLLUP_SHARDS / ENDPOINT_MINUTE_SPREAD keys apart. A function of the
 * endpoint and the writer's token alone, so an adopter finds a dead writer's
 * item again (shared/store/events.ts).
 */
export function endpointMinuteShard(endpoint: string, writerShard: number): number {
  const hash = createHash('sha256').update(endpoint).digest()[0] as number;
  const half = (writerShard % ENDPOINT_MINUTE_SPREAD) * (ROLLUP_SHARDS / ENDPOINT_MINUTE_SPREAD);
  return (hash + half) % ROLLUP_SHARDS;
}

/** Shard `shard` of the endpoint-minute partition of the day holding `ts`. */
export const endpointMinutePartition = (source: Source, ts: number, shard: number) =>
  `RE#${source}#${dayOf(ts)}#${shard}`;

/** The sort key prefix of the rollup bucket (minute or hour) holding `ts`. */
export const rollupBucket = (resolution: Resolution, ts: number) =>
  resolution === 'minute' ? minuteOf(ts) : hourOf(ts);

/**
 * The sort key bounds (BETWEEN) of every label set of the buckets holding
 * `low` to `high`: `$` sorts right after `#`, so `<bucket>$` is above every key of that bucket.
 */
export function rollupSortRange(
  resolution: Resolution,
  low: number,
  high: number,
): { low: string; high: string } {
  return { low: rollupBucket(resolution, low), high: `${rollupBucket(resolution, high)}$` };
}

/**
 * The periods closed rollups are compacted into, largest first: a UTC day, an
 * hour, a ten-minute block, a minute. Each is aligned to its own length since the epoch.
 */
export const COMPACT_LEVELS = [
  { code: 'd', ms: DAY_MS },
  { code: 'h', ms: HOUR_MS },
  { code: 'b', ms: 10 * MINUTE_MS },
  { code: 'm', ms: MINUTE_MS },
] as const;
export type CompactLevel = (typeof COMPACT_LEVELS)[number];

/** `E`: one group per endpoint (label filters on endpoint only); `L`: one group per label set. */
export type CompactView = 'E' | 'L';

/** The compact item of one period. */
export function compactKey(
  source: Source,
  view: CompactView,
  level: CompactLevel,
  periodStart: number,
): { pk: string; sk: string } {
  return { pk: `CP#${source}#${view}#${dayOf(periodStart)}`, sk: `${level.code}#${minuteOf(periodStart)}` };
}

/** The late-write versions of the minutes of one UTC day written by the writers of one rollup shard. */
export function lateVersionsKey(source: Source, ts: number, shard: number): { pk: string; sk: string } {
  return { pk: `CV#${source}#${dayOf(ts)}#${shard}`, sk: 'CV' };
}

/** What the compactor has built for the minutes of one UTC day (`c<hhmm>`: the version each was built with). */
export function compactedMarksKey(source: Source, ts: number): { pk: string; sk: string } {
  return { pk: `CV#${source}#${dayOf(ts)}`, sk: 'CV' };
}

/** The attribute of a minute in its day's late-versions item: `v<hhmm>`. */
export const lateVersionAttribute = (minuteStart: number) =>
  `v${iso(minuteStart).slice(11, 16).replace(':', '')}`;

/** The compactor's progress for one source: every minute before `upTo` has been compacted once. */
export function compactorKey(source: Source): { pk: string; sk: string } {
  return { pk: `CM#${source}`, sk: 'CM' };
}

/**
 * Log lines (shared/logs/): a line lives under the hour of its time, split
 * over LOG_SHARDS partitions by the hash of its id (as events are). A copy
 * of each stored batch waits for the indexer as "packs" (the batch's lines of
 * one hour, up to about 300 KB each) under `LP#<ss>`, sorted by hour: the
 * indexer and the search's unindexed tail read them by key, never by Scan,
 * and the indexer deletes one pack per few hundred lines rather than one item
 * per line. A segment's manifest item lives under its index
 * (`<model>@<dims>`), sorted by hour, so a search reads the segments of its
 * range with one Query.
 */
export const LOG_SHARDS = 16;

export function logShard(id: string): number {
  return (createHash('sha256').update(id).digest()[0] as number) % LOG_SHARDS;
}
const shardText = (shard: number) => String(shard).padStart(2, '0');

export function logLineKey(ts: number, id: string): { pk: string; sk: string } {
  return { pk: `LG#${hourOf(ts)}#${shardText(logShard(id))}`, sk: id };
}

/**
 * Partitions of pending packs: few, since a pack is one write per batch (not
 * per line), and every search of the unindexed tail reads each of them.
 */
export const LOG_PENDING_SHARDS = 4;

export const logPendingPartition = (shard: number) => `LP#${shardText(shard)}`;

/** A pending pack: its partition from the pack id, sorted by the hour its lines belong to. */
export function logPendingKey(hourStart: number, packId: string): { pk: string; sk: string } {
  return {
    pk: logPendingPartition(logShard(packId) % LOG_PENDING_SHARDS),
    sk: `${padTs(hourStart)}#${packId}`,
  };
}

/** The pending sort-key bounds (BETWEEN) of the packs of the hours holding `from` to `to`. */
export const logPendingRange = (from: number, to: number) => ({
  low: padTs(floorTo(from, HOUR_MS)),
  high: `${padTs(floorTo(to, HOUR_MS))}~`,
});

export const logSegmentPartition = (indexKey: string) => `LM#${indexKey}`;

export function logSegmentKey(indexKey: string, hourStart: number, segmentId: string) {
  return { pk: logSegmentPartition(indexKey), sk: `${hourOf(hourStart)}#${segmentId}` };
}

/** The manifest sort-key bounds of the hours holding `from` to `to`. */
export const logSegmentRange = (from: number, to: number) => ({ low: hourOf(from), high: `${hourOf(to)}$` });

export const logIndexStateKey = () => ({ pk: 'LI', sk: 'LI' });

/** Template vectors spread over 16 partitions by their hash's first character. */
export function logTemplateKey(indexKey: string, hash: string): { pk: string; sk: string } {
  return { pk: `LT#${indexKey}#${(hash.charCodeAt(0) % 16).toString(16)}`, sk: hash };
}

export const logSimulatorKey = () => ({ pk: 'LS', sk: 'LS' });

/** Every synthetic monitor: one partition, bounded by MAX_MONITORS (shared/synthetics/monitors.ts). */
export const MONITORS_PARTITION = 'SM';

export function monitorKey(id: string): { pk: string; sk: string } {
  return { pk: MONITORS_PARTITION, sk: id };
}

/** A monitor's runs, newest last in sort order (read backwards). */
export const monitorRunsPartition = (monitorId: string) => `SR#${monitorId}`;

export function monitorRunKey(monitorId: string, ts: number, runId: string): { pk: string; sk: string } {
  return { pk: monitorRunsPartition(monitorId), sk: `${padTs(ts)}#${runId}` };
}

/** The counter of synthetic runs started in the minute holding `ts` (SYNTHETIC_RUNS_PER_MINUTE). */
export function runBudgetKey(ts: number): { pk: string; sk: string } {
  return { pk: `SL#${minuteOf(ts)}`, sk: 'SL' };
}

/*
 * Alerts (shared/store/alerts.ts). Rules, their states, the channels and the
 * maintenance windows are few (hundreds at most): each kind is one partition,
 * read whole by one Query. Transitions and deliveries are logs partitioned by
 * UTC month and sorted by time, read newest first with a limit.
 *
 * | item              | pk               | sk                        |
 * | ----------------- | ---------------- | ------------------------- |
 * | alert rule        | `AR`             | `R#<id>`                  |
 * | default rules set | `AR`             | `SEEDED`                  |
 * | alert state       | `AS`             | `S#<rule id>#<endpoint>`  |
 * | transition        | `AH#<yyyy-mm>`   | `<ts, 13 digits>#<id>`    |
 * | channel           | `AC`             | `C#<id>`                  |
 * | delivery          | `AD#<yyyy-mm>`   | `<ts, 13 digits>#<id>`    |
 * | maintenance window| `MW`             | `W#<id>`                  |
 */
export const ALERT_PARTITIONS = { rules: 'AR', states: 'AS', channels: 'AC', maintenance: 'MW' } as const;
export const alertRuleKey = (id: string) => ({ pk: ALERT_PARTITIONS.rules, sk: `R#${id}` });
export const alertRulesSeededKey = () => ({ pk: ALERT_PARTITIONS.rules, sk: 'SEEDED' });
export const alertStateKey = (ruleId: string, endpoint: string) => ({
  pk: ALERT_PARTITIONS.states,
  sk: `S#${ruleId}#${encodeLabel(endpoint)}`,
});
export const alertChannelKey = (id: string) => ({ pk: ALERT_PARTITIONS.channels, sk: `C#${id}` });
/** The lease held while the channel secrets (one document, outside the table) are read, changed and written back. */
export const alertChannelSecretsLockKey = () => ({ pk: ALERT_PARTITIONS.channels, sk: 'LOCK#secrets' });
export const maintenanceKey = (id: string) => ({ pk: ALERT_PARTITIONS.maintenance, sk: `W#${id}` });
/** A log item (`AH` transitions, `AD` deliveries): the month of `ts`, then time and id. */
export const alertLogKey = (kind: 'AH' | 'AD', ts: number, id: string) => ({
  pk: `${kind}#${monthOf(ts)}`,
  sk: `${padTs(ts)}#${id}`,
});
export const alertLogPartition = (kind: 'AH' | 'AD', ts: number) => `${kind}#${monthOf(ts)}`;
