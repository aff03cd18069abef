/**
 * Compaction of closed periods: once a minute, a ten-minute block or an hour
 * is over, the rollups of a source for it are packed into one item per view
 * (every endpoint, `E`; every label set, `L`), so a day of `/status` reads a
 * few dozen small items instead of thousands of rollups of ~130 attributes.
 *
 * When is a period closed? A writer's rollup updates all land within
 * WRITE_LEASE_MS of its start (shared/store/events.ts). A minute is compacted
 * only COMPACT_DELAY_MS (that lease) after it ended, so every write that began
 * while it was open has landed. A writer that starts after a minute ended (a
 * late trace, a retry, an adopter, an undo) may reach a compacted minute: it
 * adds 1 to that minute's late version (`v<hhmm>` in the day's late-versions
 * item) after its rollup update. A compact item records the sum of the late
 * versions of its minutes when it was built; it is used only while that sum
 * is unchanged, so a read never uses a compaction that misses a write: it
 * falls back to the live rollups of that period, exactly as before
 * compaction existed, until the compactor builds it again.
 *
 * Compaction is idempotent (the same rollups give the same bytes; an item is
 * only replaced by one built from as many late writes or more) and runs on
 * the probe tick: each run compacts the minutes closed since the last one
 * (and the blocks and hours they complete), then rebuilds the periods of the
 * last two days whose late versions moved.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import { clock } from '../clock.js';
import { SOURCES, type Source } from '../events/model.js';
import { logger } from '../logger.js';
import { TABLE } from '../schema.js';
import { addRollupItem, emptyAggregate, mergeAggregate } from '../stats/aggregate.js';
import { type PackedGroup, packGroups, unpackSized } from '../stats/packed.js';
import { WRITE_LEASE_MS } from './item-layout.js';
import {
  COMPACT_LEVELS,
  type CompactLevel,
  type CompactView,
  compactedMarksKey,
  compactKey,
  compactorKey,
  DAY_MS,
  floorTo,
  HOUR_MS,
  lateVersionAttribute,
  lateVersionsKey,
  MINUTE_MS,
  ROLLUP_SHARD_LIST,
  rollupPartition,
  rollupSortRange,
} from './keys.js';
import { itemBytes } from './table.js';

/** A minute is compacted this long after it ended: every write that started while it was open has landed. */
export const COMPACT_DELAY_MS = WRITE_LEASE_MS;
/**
 * Minutes one run compacts at most: catching up after a pause (or the 2 days before a first run) takes
 * several runs, reads falling back to live rollups meanwhile, and one run stays a few hundred writes, so
 * the probe tick it follows keeps its time.
 */
export const MAX_MINUTES_PER_RUN = 60;
/** How far back a first run starts, and how far back late writes are looked for. */
export const LOOKBACK_MS = 2 * DAY_MS;
/** An `L` item larger than this is not written (DynamoDB's item limit is 400 KB): its reads stay live. */
const MAX_PACKED_BYTES = 350_000;
/**
 * Compact items kept decoded per warm container: closed periods never change,
 * so they are fetched once. Minute detection over two days of three sources
 * reads 3 × 2,880 minute items, most of them empty: the count bounds the
 * empty ones, the plain packed bytes (a decoded period weighs a small
 * multiple of them; stored items may be deflated) the full ones. Least recently used go first.
 */
const CACHE_ENTRIES = 12_000;
const CACHE_PACKED_BYTES = 8 * 1024 * 1024;

const BATCH_GET_MAX = 100;
const PARALLEL_PUTS = 16;
/** Adjacent periods of one level read with one Query rather than by key, from this many on (fewer ride along in the one BatchGetItem call). */
const MIN_RUN_FOR_QUERY = 12;
const VIEWS: readonly CompactView[] = ['E', 'L'];
const MAX_ATTEMPTS = 8;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The last minute start (exclusive) whose minutes may be compacted at `now`. */
export const compactHorizon = (now: number) => floorTo(now - COMPACT_DELAY_MS, MINUTE_MS);

/** A period of one compact level. */
export interface Cell {
  level: CompactLevel;
  from: number;
  to: number;
}

/**
 * [from, to) (minute-aligned) cut into the fewest aligned periods, largest
 * first, using only the levels whose length divides `grainMs` (a bucket of
 * the caller must hold each period whole).
 */
export function cellsOf(from: number, to: number, grainMs?: number): Cell[] {
  const levels = COMPACT_LEVELS.filter((l) => grainMs === undefined || grainMs % l.ms === 0);
  const cells: Cell[] = [];
  let t = from;
  while (t < to) {
    const level = levels.find((l) => t % l.ms === 0 && t + l.ms <= to);
    if (!level) throw new RangeError(`not minute-aligned: ${t}`);
    cells.push({ level, from: t, to: t + level.ms });
    t += level.ms;
  }
  return cells;
}

/** The sum of the late versions of the minutes in [from, to), from the late-versions items read. */
export function versionSum(versions: ReadonlyMap<number, number>, from: number, to: number): number {
  let sum = 0;
  for (const [minute, version] of versions) if (minute >= from && minute < to) sum += version;
  return sum;
}

/**
 * Minute start → late version, from late-versions items (as read, any number
 * of days and shards): a minute's version is the sum of its shards' counts,
 * so a late write on any shard changes it.
 */
export function parseVersions(items: readonly Record<string, unknown>[]): Map<number, number> {
  const versions = new Map<number, number>();
  for (const item of items) {
    const match = /^CV#[^#]+#(\d{4}-\d{2}-\d{2})#\d+$/.exec(String(item[TABLE.partitionKey]));
    if (!match) continue;
    const day = Date.parse(`${match[1]}T00:00:00.000Z`);
    for (const [name, value] of Object.entries(item)) {
      const m = /^v(\d{2})(\d{2})$/.exec(name);
      if (!m || typeof value !== 'number') continue;
      const minute = day + Number(m[1]) * HOUR_MS + Number(m[2]) * MINUTE_MS;
      versions.set(minute, (versions.get(minute) ?? 0) + value);
    }
  }
  return versions;
}

/** The late-versions keys (every shard) of the days [from, to) touches. */
export function versionKeys(source: Source, from: number, to: number): { pk: string; sk: string }[] {
  const keys: { pk: string; sk: string }[] = [];
  for (let day = floorTo(from, DAY_MS); day < to; day += DAY_MS)
    for (const shard of ROLLUP_SHARD_LIST) keys.push(lateVersionsKey(source, day, shard));
  return keys;
}

/** The compactor's marks of the days [from, to) touches. */
function markKeys(source: Source, from: number, to: number): { pk: string; sk: string }[] {
  const keys: { pk: string; sk: string }[] = [];
  for (let day = floorTo(from, DAY_MS); day < to; day += DAY_MS) keys.push(compactedMarksKey(source, day));
  return keys;
}

// ---------------------------------------------------------------- reading compact items

/** A compact item as read: the late-version sum it was built with and its groups. */
export interface CompactPeriod {
  versions: number;
  groups: PackedGroup[];
  /** Bytes of the groups packed plain (before deflate): the cache weighs a decoded period by them. */
  bytes: number;
}

/** Decoded compact periods by key id, bounded by count and packed bytes; the least recently used go first. */
export class PeriodCache {
  private readonly periods = new Map<string, CompactPeriod>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.periods.size;
  }

  has(id: string): boolean {
    return this.periods.has(id);
  }

  /** A kept period, marked as just used. */
  get(id: string): CompactPeriod | undefined {
    const period = this.periods.get(id);
    if (period) {
      this.periods.delete(id);
      this.periods.set(id, period);
    }
    return period;
  }

  /** Without marking it used (a check, not a use). */
  peek(id: string): CompactPeriod | undefined {
    return this.periods.get(id);
  }

  keep(id: string, period: CompactPeriod): void {
    this.forget(id);
    this.periods.set(id, period);
    this.bytes += period.bytes;
    while (this.periods.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.periods.keys().next().value as string;
      if (oldest === id) break;
      this.forget(oldest);
    }
  }

  forget(id: string): void {
    const period = this.periods.get(id);
    if (!period) return;
    this.periods.delete(id);
    this.bytes -= period.bytes;
  }

  clear(): void {
    this.periods.clear();
    this.bytes = 0;
  }
}

const cache = new PeriodCache(CACHE_ENTRIES, CACHE_PACKED_BYTES);

/** Forgets the decoded compact items of this container (tests, and the bench's cold reads). */
export function clearCompactCache(): void {
  cache.clear();
}

const keyId = (key: { pk: string; sk: string }) => `${key.pk}|${key.sk}`;

/** The decoded compact period of an item, or undefined if it is not a readable one. */
function decode(item: Record<string, unknown> | undefined): CompactPeriod | undefined {
  const packed = item?.g;
  const versions = item?.cv;
  if (!(packed instanceof Uint8Array) || typeof versions !== 'number') return undefined;
  try {
    const { groups, plainBytes } = unpackSized(packed);
    return { versions, groups, bytes: plainBytes };
  } catch (error) {
    logger.warn('unreadable compact item', { error: error as Error, pk: item?.[TABLE.partitionKey] });
    return undefined;
  }
}

export interface BatchGetCounts {
  /** Items returned. */
  items: number;
  /** Bytes of the items' packed groups. */
  bytes: number;
  /** BatchGetItem calls sent. */
  calls: number;
  /** Query calls sent (runs of adjacent periods). */
  queries: number;
  /** Read request units DynamoDB reported. */
  units: number;
}

/** BatchGetItem of any number of keys (100 per call, unprocessed keys retried); the found items by key id. */
export async function batchGet(
  tableName: string,
  keys: readonly { pk: string; sk: string }[],
  counts?: BatchGetCounts,
  consistent = false,
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const unique = [...new Map(keys.map((k) => [keyId(k), k])).values()];
  await Promise.all(
    Array.from({ length: Math.ceil(unique.length / BATCH_GET_MAX) }, async (_, chunk) => {
      let request: Record<string, unknown>[] | undefined = unique
        .slice(chunk * BATCH_GET_MAX, (chunk + 1) * BATCH_GET_MAX)
        .map((k) => ({ [TABLE.partitionKey]: k.pk, [TABLE.sortKey]: k.sk }));
      for (let attempt = 0; request?.length; attempt++) {
        if (attempt >= MAX_ATTEMPTS) throw new Error('BatchGetItem kept returning unprocessed keys');
        if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt));
        if (counts) counts.calls++;
        const answer: {
          Responses?: Record<string, Record<string, unknown>[]>;
          UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }>;
          ConsumedCapacity?: { CapacityUnits?: number }[];
        } = await dynamoClient().send(
          new BatchGetCommand({
            RequestItems: { [tableName]: { Keys: request, ConsistentRead: consistent } },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        if (counts) {
          for (const used of answer.ConsumedCapacity ?? []) counts.units += used.CapacityUnits ?? 0;
        }
        for (const item of answer.Responses?.[tableName] ?? []) {
          if (counts) {
            counts.items++;
            counts.bytes += itemBytes(item);
          }
          found.set(`${item[TABLE.partitionKey]}|${item[TABLE.sortKey]}`, item);
        }
        request = answer.UnprocessedKeys?.[tableName]?.Keys;
      }
    }),
  );
  return found;
}

/**
 * Items one request has fetched or is fetching, by key id (undefined: not
 * found), shared by its reads: `/status` reads its window and the 1 h and 6 h
 * burn windows at once, and without this each would fetch the late versions
 * and the compact items they share again.
 */
export type RequestFetches = Map<string, Promise<Record<string, unknown> | undefined>>;

/** Registers the fetch of each of `keys`, answered by `all` (a pending read of them); a failure reaches whoever awaits. */
function share(
  fetches: RequestFetches,
  keys: readonly { pk: string; sk: string }[],
  all: Promise<Map<string, Record<string, unknown>>>,
): void {
  for (const key of keys) {
    const one = all.then((found) => found.get(keyId(key)));
    // Awaited by the read that needs it; a key no later read asks for must not count as an unhandled rejection.
    one.catch(() => {});
    fetches.set(keyId(key), one);
  }
}

/** A Query of adjacent compact periods [low, high] of one partition: the items found, by key id. */
async function queryRun(
  tableName: string,
  run: { pk: string; low: string; high: string },
  counts: BatchGetCounts,
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  let startKey: Record<string, unknown> | undefined;
  do {
    counts.queries++;
    const page = await dynamoClient().send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
        ExpressionAttributeValues: { ':pk': run.pk, ':low': run.low, ':high': run.high },
        ExclusiveStartKey: startKey,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    counts.units += page.ConsumedCapacity?.CapacityUnits ?? 0;
    for (const item of page.Items ?? []) {
      counts.items++;
      counts.bytes += itemBytes(item);
      found.set(`${item[TABLE.partitionKey]}|${item[TABLE.sortKey]}`, item);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return found;
}

/**
 * The compact periods of `cells` that are valid now (built with the current
 * late versions), by cell start; cells left out must be read live. Decoded
 * items are kept for later requests of this container and reused while their
 * late versions stay the same.
 */
export async function readCompactCells(input: {
  tableName: string;
  source: Source;
  view: CompactView;
  cells: readonly Cell[];
  counts: BatchGetCounts;
  /** What this request's other reads fetched or are fetching: each key is fetched once per request. */
  fetches: RequestFetches;
}): Promise<Map<number, CompactPeriod>> {
  const { tableName, source, view, cells, fetches } = input;
  const valid = new Map<number, CompactPeriod>();
  if (cells.length === 0) return valid;
  const first = cells[0] as Cell;
  const last = cells.at(-1) as Cell;
  const vKeys = versionKeys(source, first.from, last.to);
  const keys = cells.map((cell) => compactKey(source, view, cell.level, cell.from));
  const newVersionKeys = vKeys.filter((key) => !fetches.has(keyId(key)));
  // Adjacent periods of one level sort next to each other: a run of them is one Query, billed by
  // the bytes it returns rather than 4 KB per item as BatchGetItem does; short runs go by key.
  // Everything is registered in `fetches` before the first await, so a read started next shares it.
  const runs: {
    pk: string;
    low: string;
    high: string;
    to: number;
    level: string;
    keys: { pk: string; sk: string }[];
  }[] = [];
  cells.forEach((cell, i) => {
    const key = keys[i] as { pk: string; sk: string };
    if (cache.has(keyId(key)) || fetches.has(keyId(key))) return;
    const run = runs.findLast((r) => r.pk === key.pk && r.level === cell.level.code);
    if (run && run.to === cell.from) {
      run.high = key.sk;
      run.to = cell.to;
      run.keys.push(key);
    } else
      runs.push({ pk: key.pk, low: key.sk, high: key.sk, to: cell.to, level: cell.level.code, keys: [key] });
  });
  const single = runs.filter((r) => r.keys.length < MIN_RUN_FOR_QUERY).flatMap((r) => r.keys);
  const byKey = [...newVersionKeys, ...single];
  if (byKey.length > 0) share(fetches, byKey, batchGet(tableName, byKey, input.counts));
  for (const run of runs)
    if (run.keys.length >= MIN_RUN_FOR_QUERY)
      share(fetches, run.keys, queryRun(tableName, run, input.counts));
  const found = new Map<string, Record<string, unknown>>();
  await Promise.all(
    [...vKeys, ...keys].map(async (key) => {
      const item = await fetches.get(keyId(key));
      if (item) found.set(keyId(key), item);
    }),
  );
  const versions = parseVersions(vKeys.map((k) => found.get(keyId(k))).filter((item) => item !== undefined));
  // A kept item whose period took a late write since: fetched again (the compactor may have rebuilt it).
  const outdated = keys.filter((key, i) => {
    const kept = cache.peek(keyId(key));
    const cell = cells[i] as Cell;
    return kept !== undefined && kept.versions !== versionSum(versions, cell.from, cell.to);
  });
  if (outdated.length > 0) {
    for (const key of outdated) cache.forget(keyId(key));
    for (const [id, item] of await batchGet(tableName, outdated, input.counts)) found.set(id, item);
  }
  cells.forEach((cell, i) => {
    const id = keyId(keys[i] as { pk: string; sk: string });
    let period = cache.get(id);
    if (!period) {
      period = decode(found.get(id));
      if (!period) return;
      cache.keep(id, period);
    }
    if (period.versions === versionSum(versions, cell.from, cell.to)) valid.set(cell.from, period);
  });
  return valid;
}

// ---------------------------------------------------------------- the compactor

export interface CompactOptions {
  tableName: string;
  retentionDays: number;
  rollupRetentionDays: number;
  now: number;
  sources?: readonly Source[];
  /** How far back a first run starts and late writes are looked for (default LOOKBACK_MS). */
  lookbackMs?: number;
  /** Minutes compacted per run at most (default MAX_MINUTES_PER_RUN). */
  maxMinutes?: number;
}

export interface CompactResult {
  /** Compact items written (both views). */
  written: number;
  /** Live rollup items read. */
  liveItemsRead: number;
  /** Minutes newly compacted, per source. */
  minutes: Record<string, number>;
  /** Minutes rebuilt after late writes. */
  rebuilt: number;
}

/** Label set → figures, for one period. */
type Groups = Map<string, PackedGroup>;

const labelId = (g: { endpoint: string; model: string; region: string }) =>
  `${g.endpoint}\u0000${g.model}\u0000${g.region}`;

function addGroups(target: Groups, other: Groups): void {
  for (const [id, group] of other) {
    let mine = target.get(id);
    if (!mine) {
      mine = {
        endpoint: group.endpoint,
        model: group.model,
        region: group.region,
        aggregate: emptyAggregate(),
      };
      target.set(id, mine);
    }
    mergeAggregate(mine.aggregate, group.aggregate);
  }
}

/** The `E` view of label-set groups: one group per endpoint. */
function byEndpoint(groups: Groups): PackedGroup[] {
  const out = new Map<string, PackedGroup>();
  for (const group of groups.values()) {
    let mine = out.get(group.endpoint);
    if (!mine) {
      mine = { endpoint: group.endpoint, model: '', region: '', aggregate: emptyAggregate() };
      out.set(group.endpoint, mine);
    }
    mergeAggregate(mine.aggregate, group.aggregate);
  }
  return sorted(out.values());
}

/** Groups in label order, so the same figures always pack to the same bytes. */
const sorted = (groups: Iterable<PackedGroup>) =>
  [...groups].sort((a, b) => (labelId(a) < labelId(b) ? -1 : labelId(a) > labelId(b) ? 1 : 0));

interface Built {
  groups: Groups;
  versions: number;
}

/** One run of the compactor for one source. */
class SourceCompaction {
  private readonly built = new Map<string, Built>();
  private versions = new Map<number, number>();
  written = 0;
  liveItemsRead = 0;

  constructor(
    private readonly options: CompactOptions,
    private readonly source: Source,
  ) {}

  private get table() {
    return this.options.tableName;
  }

  async run(): Promise<{ minutes: number; rebuilt: number }> {
    const { now } = this.options;
    const horizon = compactHorizon(now);
    const { Item: progress } = await dynamoClient().send(
      new GetCommand({ TableName: this.table, Key: dynamo(compactorKey(this.source)), ConsistentRead: true }),
    );
    const earliest = floorTo(horizon - (this.options.lookbackMs ?? LOOKBACK_MS), HOUR_MS);
    const upTo = typeof progress?.upTo === 'number' ? Math.max(progress.upTo, earliest) : earliest;
    // The first minute this table's compactor compacted (set by its first run; a compactor from before
    // `since` was kept counts as having compacted everything). A period that starts before it holds
    // minutes no run compacted: building it would read each of them live, a Query per shard and minute
    // (a day closed by a first run's second hour: about 11,000 Queries per source), so it is left to
    // the reads, which take such periods live anyway.
    const since =
      progress === undefined ? upTo : typeof progress.since === 'number' ? progress.since : -Infinity;
    const end = Math.min(horizon, upTo + (this.options.maxMinutes ?? MAX_MINUTES_PER_RUN) * MINUTE_MS);
    // Versions first: a write landing after this read is either in the live rollups read
    // next, or raises a version and makes what is built here stale. Never the other way round.
    const stateItems = await batchGet(
      this.table,
      [
        ...versionKeys(this.source, earliest - HOUR_MS, horizon),
        ...markKeys(this.source, earliest - HOUR_MS, horizon),
      ],
      undefined,
      true,
    );
    this.versions = parseVersions([...stateItems.values()]);
    const done = new Map<number, number>();
    for (const item of stateItems.values()) {
      for (const [name, value] of Object.entries(item)) {
        const m = /^c(\d{2})(\d{2})$/.exec(name);
        const day = /^CV#[^#]+#(\d{4}-\d{2}-\d{2})$/.exec(String(item[TABLE.partitionKey]))?.[1];
        if (m && day && typeof value === 'number')
          done.set(Date.parse(`${day}T${m[1]}:${m[2]}:00.000Z`), value);
      }
    }
    // Minutes whose late version moved since they were last compacted.
    const dirty = [...this.versions.entries()]
      .filter(([minute, version]) => minute >= earliest && minute < upTo && version > (done.get(minute) ?? 0))
      .map(([minute]) => minute);

    const fresh: number[] = [];
    for (let m = upTo; m < end; m += MINUTE_MS) fresh.push(m);
    await this.loadLive([...fresh, ...dirty]);
    // Every period that holds one of these minutes and is closed, smallest first (parents reuse children).
    // A period is built once every minute in it is compacted (by this run or an earlier one): a day
    // whose later minutes a later run will reach waits for that run, rather than reading them live
    // one by one now (each a Query per shard) and again then.
    const closedUpTo = Math.min(horizon, end);
    const targets = new Map<string, Cell>();
    for (const minute of [...fresh, ...dirty]) {
      for (const level of [...COMPACT_LEVELS].reverse()) {
        const from = floorTo(minute, level.ms);
        if (from >= since && from + level.ms <= closedUpTo)
          targets.set(`${level.code}${from}`, { level, from, to: from + level.ms });
      }
    }
    const writes: (() => Promise<void>)[] = [];
    for (const cell of targets.values()) {
      const built = await this.build(cell);
      for (const view of VIEWS) writes.push(() => this.write(cell, view, built));
    }
    // The puts are independent: several at a time.
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(PARALLEL_PUTS, writes.length) }, async () => {
        while (next < writes.length) await (writes[next++] as () => Promise<void>)();
      }),
    );

    const marks = dirty.filter((m) => (this.versions.get(m) ?? 0) > 0);
    for (const minute of fresh) if ((this.versions.get(minute) ?? 0) > 0) marks.push(minute);
    await this.markDone(marks);
    if (end > upTo) {
      await dynamoClient()
        .send(
          new UpdateCommand({
            TableName: this.table,
            Key: dynamo(compactorKey(this.source)),
            UpdateExpression: `SET upTo = :end${progress === undefined ? ', since = if_not_exists(since, :since)' : ''}`,
            ConditionExpression: 'attribute_not_exists(upTo) OR upTo < :end',
            ExpressionAttributeValues: {
              ':end': end,
              ...(progress === undefined ? { ':since': since } : {}),
            },
          }),
        )
        .catch((error: unknown) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        });
    }
    return { minutes: fresh.length, rebuilt: dirty.length };
  }

  /** Reads the live minute rollups of these minutes (contiguous runs as one range each) into built minute periods. */
  private async loadLive(minutes: readonly number[]): Promise<void> {
    const ordered = [...new Set(minutes)].sort((a, b) => a - b);
    const ranges: [number, number][] = [];
    for (const minute of ordered) {
      const last = ranges.at(-1);
      if (last && last[1] === minute) last[1] = minute + MINUTE_MS;
      else ranges.push([minute, minute + MINUTE_MS]);
    }
    for (const minute of ordered) {
      this.built.set(`m${minute}`, { groups: new Map(), versions: this.versions.get(minute) ?? 0 });
    }
    for (const [from, to] of ranges) {
      for (const item of await readLiveMinutes(this.table, this.source, from, to, this.options.now)) {
        this.liveItemsRead++;
        const minute = item.bucketStart as number;
        const period = this.built.get(`m${minute}`);
        if (!period) continue;
        const label = {
          endpoint: String(item.endpoint ?? ''),
          model: String(item.model ?? ''),
          region: String(item.region ?? ''),
        };
        const id = labelId(label);
        let group = period.groups.get(id);
        if (!group) {
          group = { ...label, aggregate: emptyAggregate() };
          period.groups.set(id, group);
        }
        addRollupItem(group.aggregate, item);
      }
    }
  }

  /**
   * The figures of a period: built in this run, or from its children: built
   * here, or stored and still valid, or else built from the live rollups.
   */
  private async build(cell: Cell): Promise<Built> {
    const id = `${cell.level.code}${cell.from}`;
    const known = this.built.get(id);
    if (known) return known;
    if (cell.level.code === 'm') {
      await this.loadLive([cell.from]);
      return this.built.get(id) as Built;
    }
    const childLevel = COMPACT_LEVELS[COMPACT_LEVELS.indexOf(cell.level) + 1] as CompactLevel;
    const children = cellsOf(cell.from, cell.to, childLevel.ms);
    const absent = children.filter((c) => !this.built.has(`${c.level.code}${c.from}`));
    if (absent.length > 0) {
      const keys = absent.map((c) => compactKey(this.source, 'L', c.level, c.from));
      const stored = await batchGet(this.table, keys, undefined, true);
      absent.forEach((child, i) => {
        const period = decode(stored.get(keyId(keys[i] as { pk: string; sk: string })));
        if (period && period.versions === versionSum(this.versions, child.from, child.to)) {
          this.built.set(`${child.level.code}${child.from}`, {
            groups: new Map(period.groups.map((g) => [labelId(g), g])),
            versions: period.versions,
          });
        }
      });
    }
    const result: Built = { groups: new Map(), versions: 0 };
    for (const child of children) {
      const figures = await this.build(child);
      addGroups(result.groups, figures.groups);
      result.versions += figures.versions;
    }
    this.built.set(id, result);
    return result;
  }

  /** Puts one view of a period, unless a version built from more late writes is already there. */
  private async write(cell: Cell, view: CompactView, built: Built): Promise<void> {
    const keepDays = cell.level.ms >= HOUR_MS ? this.options.rollupRetentionDays : this.options.retentionDays;
    const packed = packGroups(view === 'E' ? byEndpoint(built.groups) : sorted(built.groups.values()));
    if (packed.byteLength > MAX_PACKED_BYTES) {
      logger.warn('compact item too large; its period stays read live', { view, bytes: packed.byteLength });
      return;
    }
    try {
      await dynamoClient().send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...dynamo(compactKey(this.source, view, cell.level, cell.from)),
            g: packed,
            cv: built.versions,
            [TABLE.ttlAttribute]: Math.ceil((cell.to + keepDays * DAY_MS) / 1000),
          },
          ConditionExpression: 'attribute_not_exists(cv) OR cv <= :cv',
          ExpressionAttributeValues: { ':cv': built.versions },
        }),
      );
      this.written++;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Records, per minute, the late version its compaction was built with (`c<hhmm>`, in the day's marks item). */
  private async markDone(minutes: readonly number[]): Promise<void> {
    const byDay = new Map<number, number[]>();
    for (const minute of minutes) {
      const day = floorTo(minute, DAY_MS);
      byDay.set(day, [...(byDay.get(day) ?? []), minute]);
    }
    for (const [day, list] of byDay) {
      const names: Record<string, string> = {};
      const values: Record<string, number> = {};
      const sets = list.map((minute, i) => {
        names[`#c${i}`] = `c${lateVersionAttribute(minute).slice(1)}`;
        values[`:c${i}`] = this.versions.get(minute) ?? 0;
        return `#c${i} = :c${i}`;
      });
      await dynamoClient().send(
        new UpdateCommand({
          TableName: this.table,
          Key: dynamo(compactedMarksKey(this.source, day)),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    }
  }
}

const dynamo = (key: { pk: string; sk: string }) => ({
  [TABLE.partitionKey]: key.pk,
  [TABLE.sortKey]: key.sk,
});

/** The live minute rollups of [from, to), every label set and shard, expired ones left out. */
async function readLiveMinutes(
  tableName: string,
  source: Source,
  from: number,
  to: number,
  now: number,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let day = floorTo(from, DAY_MS); day < to; day += DAY_MS) {
    const range = rollupSortRange('minute', Math.max(from, day), Math.min(to, day + DAY_MS) - 1);
    await Promise.all(ROLLUP_SHARD_LIST.map((shard) => readShard(shard, day, range)));
  }
  return items;

  async function readShard(shard: number, day: number, range: { low: string; high: string }) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamoClient().send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
          ExpressionAttributeValues: {
            ':pk': rollupPartition('minute', source, day, shard),
            ':low': range.low,
            ':high': range.high,
          },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) {
        const expires = item[TABLE.ttlAttribute];
        if (typeof expires !== 'number' || expires > now / 1000) items.push(item);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}

/**
 * Compacts, for each source, the minutes closed since the last run and the
 * blocks and hours they complete, and rebuilds the periods of the last two
 * days that late writes changed. Safe to run twice, or twice at once.
 */
export async function compactClosedPeriods(options: CompactOptions): Promise<CompactResult> {
  const result: CompactResult = { written: 0, liveItemsRead: 0, minutes: {}, rebuilt: 0 };
  for (const source of options.sources ?? SOURCES) {
    const run = new SourceCompaction(options, source);
    const { minutes, rebuilt } = await run.run();
    result.minutes[source] = minutes;
    result.rebuilt += rebuilt;
    result.written += run.written;
    result.liveItemsRead += run.liveItemsRead;
  }
  return result;
}

/**
 * The compaction step of the probe tick: never fails the tick (its probes are
 * stored already; reads fall back to live rollups until a later run catches
 * up), but says what happened.
 */
export async function compactAfterTick(config: {
  tableName: string;
  retentionDays: number;
  rollupRetentionDays: number;
}): Promise<CompactResult | { error: string }> {
  try {
    return await compactClosedPeriods({
      tableName: config.tableName,
      retentionDays: config.retentionDays,
      rollupRetentionDays: config.rollupRetentionDays,
      now: clock.now(),
    });
  } catch (error) {
    logger.error('compaction failed; reads use live rollups until a later run', { error: error as Error });
    return { error: (error as Error).message };
  }
}
