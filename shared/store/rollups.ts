/**
 * Reading rollups for a time range, without Scan and with a cost that does not
 * grow with traffic: minute rollups, or hour rollups with minute rollups only
 * for the partial hours at the edges, whichever reads fewer items.
 *
 * Every request's reads are bounded (ROLLUP_LIMITS). Before a single Query is
 * sent, the plan is priced: the partitions it queries and the rollup buckets
 * (minutes or hours, per source) it covers; a plan over a ceiling is refused
 * with a 400 naming the limit. While reading, the Query calls (pages
 * included) and the items read are counted against their ceilings too, as a
 * safety net for what the plan cannot know (how many label sets a bucket holds).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../aws.js';
import type { Source } from '../events/model.js';
import { type HttpProblem, limitExceeded } from '../http/problem.js';
import { TABLE } from '../schema.js';
import { type Aggregate, PACKED_AGGREGATE } from '../stats/aggregate.js';
import {
  type BatchGetCounts,
  type Cell,
  type CompactPeriod,
  cellsOf,
  compactHorizon,
  type RequestFetches,
  readCompactCells,
} from './compaction.js';
import {
  type CompactView,
  DAY_MS,
  endpointMinutePartition,
  floorTo,
  HOUR_MS,
  MINUTE_MS,
  type Resolution,
  ROLLUP_SHARD_LIST,
  ROLLUP_SHARDS,
  rollupPartition,
  rollupSortRange,
} from './keys.js';
import { itemBytes } from './table.js';

/** /timeseries gives ranges up to this long minute buckets (read from minute rollups alone). */
export const MINUTE_ONLY_MAX_MS = 6 * HOUR_MS;

/**
 * Rollup buckets (minutes or hours, counted per source) one request may plan
 * to read: 30 days of hours for both sources is about 1,600; 48 h of minutes
 * for both (incident detection) 5,760. Each holds one item per label set.
 */
export const MAX_ROLLUP_BUCKETS_PER_REQUEST = 20_000;
/**
 * Query calls one request may plan (one per partition and shard) and send (pages included): 200
 * unsharded partitions, as many as a 24 h view of every source needs several times over.
 */
export const MAX_ROLLUP_QUERIES_PER_REQUEST = 200 * ROLLUP_SHARDS;
/** Rollup items one request may read (about 50 MB of DynamoDB reads at most). */
export const MAX_ROLLUP_ITEMS_PER_REQUEST = 50_000;
/** Items asked of one Query call (DynamoDB also stops a page at 1 MB). */
const ROLLUP_ITEMS_PER_QUERY = 1000;
/** Query calls in flight at once per request. */
export const ROLLUP_QUERY_CONCURRENCY = 8;

export interface RollupLimits {
  buckets: number;
  queries: number;
  items: number;
  itemsPerQuery: number;
}

const DEFAULT_LIMITS: RollupLimits = {
  buckets: MAX_ROLLUP_BUCKETS_PER_REQUEST,
  queries: MAX_ROLLUP_QUERIES_PER_REQUEST,
  items: MAX_ROLLUP_ITEMS_PER_REQUEST,
  itemsPerQuery: ROLLUP_ITEMS_PER_QUERY,
};
let activeLimits: RollupLimits = DEFAULT_LIMITS;

/**
 * Lowers (or raises) the ceilings of readers created from now on, like
 * useClock: tests reach a ceiling through the HTTP surface without writing
 * 50,000 items. Returns a function that restores the previous ceilings.
 */
export function useRollupLimits(limits: Partial<RollupLimits>): () => void {
  const previous = activeLimits;
  activeLimits = { ...previous, ...limits };
  return () => {
    activeLimits = previous;
  };
}

const NARROW = 'narrow from/to (or window)';

/** A half-open range [from, to) read at one resolution; both ends aligned to it. */
export interface Segment {
  resolution: Resolution;
  from: number;
  to: number;
}

export interface RollupItem extends Record<string, unknown> {
  resolution: Resolution;
  bucketStart: number;
  source: Source;
  endpoint: string;
  model: string;
  region: string;
  /** Set on the items of a compact period: its figures, summed over the period (and, in view `E`, over models and regions). */
  [PACKED_AGGREGATE]?: Aggregate;
}

export interface LabelFilter {
  endpoint?: readonly string[] | undefined;
  model?: readonly string[] | undefined;
  region?: readonly string[] | undefined;
}

const ceilTo = (ts: number, step: number) => Math.ceil(ts / step) * step;

/**
 * The segments that cover [from, to) (minute-aligned) most cheaply: minute
 * rollups alone, or hour rollups with minute rollups for the partial hours at
 * the edges, whichever reads fewer items (one per label set and minute or
 * hour). The hour rollup of the hour in progress already holds exactly its
 * minutes so far, so when the range runs to now it is read whole: the last six
 * hours at hh:35 cost 25 minutes + 6 hours per label set rather than 360 minutes.
 */
export function planSegments(from: number, to: number, now: number, forceResolution?: Resolution): Segment[] {
  const start = floorTo(from, MINUTE_MS);
  const end = ceilTo(to, MINUTE_MS);
  if (end <= start) return [];
  if (forceResolution === 'hour')
    return [{ resolution: 'hour', from: floorTo(start, HOUR_MS), to: ceilTo(end, HOUR_MS) }];
  const minuteOnly: Segment[] = [{ resolution: 'minute', from: start, to: end }];
  if (forceResolution === 'minute') return minuteOnly;
  const firstHour = ceilTo(start, HOUR_MS);
  const lastHour = end >= floorTo(now, MINUTE_MS) ? ceilTo(end, HOUR_MS) : floorTo(end, HOUR_MS);
  if (firstHour >= lastHour) return minuteOnly;
  const segments: Segment[] = [];
  if (start < firstHour) segments.push({ resolution: 'minute', from: start, to: firstHour });
  if (firstHour < lastHour) segments.push({ resolution: 'hour', from: firstHour, to: lastHour });
  if (lastHour < end) segments.push({ resolution: 'minute', from: lastHour, to: end });
  const items = (plan: Segment[]) =>
    plan.reduce((n, s) => n + (s.to - s.from) / (s.resolution === 'hour' ? HOUR_MS : MINUTE_MS), 0);
  return items(segments) < items(minuteOnly) ? segments : minuteOnly;
}

interface PartitionRange {
  pk: string;
  low: string;
  high: string;
  /** Rollup buckets (minutes or hours) of the range, counted on shard 0 only: the shards of a bucket are one bucket. */
  buckets: number;
}

const monthIndex = (ts: number) => new Date(ts).getUTCFullYear() * 12 + new Date(ts).getUTCMonth();

/** The partitions a segment touches (days for minutes, months for hours, each ROLLUP_SHARDS keys), counted without listing them. */
export function partitionCount(segment: Segment): number {
  if (segment.to <= segment.from) return 0;
  const last = segment.to - 1;
  const periods =
    segment.resolution === 'minute'
      ? (floorTo(last, DAY_MS) - floorTo(segment.from, DAY_MS)) / DAY_MS + 1
      : monthIndex(last) - monthIndex(segment.from) + 1;
  return periods * ROLLUP_SHARDS;
}

/** Rollup buckets (minutes or hours) a segment covers. */
export function bucketCount(segment: Segment): number {
  return Math.max(0, (segment.to - segment.from) / (segment.resolution === 'hour' ? HOUR_MS : MINUTE_MS));
}

/** One Query per partition a segment touches: days for minutes, months for hours, every shard of each. */
function partitionRanges(source: Source, segment: Segment, items: 'label' | 'endpoint'): PartitionRange[] {
  return unshardedRanges(segment).flatMap(({ period, low, high, buckets }) =>
    ROLLUP_SHARD_LIST.map((shard) => ({
      pk:
        items === 'endpoint'
          ? endpointMinutePartition(source, period, shard)
          : rollupPartition(segment.resolution, source, period, shard),
      low,
      high,
      buckets: shard === 0 ? buckets : 0,
    })),
  );
}

/** The days (minutes) or months (hours) a segment touches: a time in each, and the sort key range within it. */
function unshardedRanges(segment: Segment): { period: number; low: string; high: string; buckets: number }[] {
  const ranges: { period: number; low: string; high: string; buckets: number }[] = [];
  const last = segment.to - 1;
  if (segment.resolution === 'minute') {
    for (let day = floorTo(segment.from, DAY_MS); day <= last; day += DAY_MS) {
      const low = Math.max(segment.from, day);
      const high = Math.min(last, day + DAY_MS - 1);
      ranges.push({
        period: day,
        ...rollupSortRange('minute', low, high),
        buckets: Math.floor(high / MINUTE_MS) - Math.floor(low / MINUTE_MS) + 1,
      });
    }
  } else {
    let month = Date.UTC(new Date(segment.from).getUTCFullYear(), new Date(segment.from).getUTCMonth(), 1);
    while (month <= last) {
      const date = new Date(month);
      const next = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
      const low = Math.max(segment.from, month);
      const high = Math.min(last, next - 1);
      ranges.push({
        period: month,
        ...rollupSortRange('hour', low, high),
        buckets: Math.floor(high / HOUR_MS) - Math.floor(low / HOUR_MS) + 1,
      });
      month = next;
    }
  }
  return ranges;
}

function matches(item: RollupItem, filter: LabelFilter): boolean {
  return (
    (!filter.endpoint || filter.endpoint.includes(item.endpoint)) &&
    (!filter.model || filter.model.includes(item.model)) &&
    (!filter.region || filter.region.includes(item.region))
  );
}

/**
 * The buckets a read of [from, to) covers, [start, end): whole buckets of
 * `step`. A range reaching now includes what happened at now, also when now
 * falls on a bucket boundary (the minute it opens has started); a closed
 * range ends at its `to`, as the live reads do. A read of [start, end - 1]
 * covers exactly [start, end), whatever now is.
 */
export function readSpan(
  from: number,
  to: number,
  now: number,
  step = MINUTE_MS,
): { start: number; end: number } {
  return { start: floorTo(from, step), end: to >= now ? ceilTo(to + 1, step) : ceilTo(to, step) };
}

/** What identifies one request's rollup reads: the same object, the same reads. */
export interface RollupRequest {
  readonly config: { readonly tableName: string };
  /** Epoch ms: items whose TTL has passed are left out, and the hour in progress is read whole. */
  readonly now: number;
  /** Read live rollups only, as before compaction existed (the bench's "before" figures, tests' reference). */
  readonly liveOnly?: boolean;
}

export interface RollupReadOptions {
  sources: readonly Source[];
  from: number;
  to: number;
  filter?: LabelFilter;
  /** Minute or hour items only (live rollups); also the bucket length compact periods must fit in. */
  resolution?: Resolution;
  /** The caller's bucket length (ms): each compact period read lies within one bucket. */
  bucketMs?: number;
  /** The caller tells models or regions apart: compact periods keep every label set (view `L`). */
  byLabelSet?: boolean;
  /** false: live rollups only, item by item (incident detection reads per-minute samples). */
  compacted?: boolean;
}

/** The rollups of one request, and what reading them has cost so far. */
export interface Rollups {
  /**
   * Items of the given sources in [from, to), filtered by labels, expired ones
   * dropped. Throws a 400 HttpProblem when the read would pass, or passes, a ceiling.
   */
  read(options: RollupReadOptions): Promise<RollupItem[]>;
  /** Items DynamoDB was asked for. */
  readonly itemsRead: number;
  /** Query calls sent (pages included). */
  readonly queries: number;
  /** BatchGetItem calls sent (compact items and late versions, by key). */
  readonly batchGets: number;
  /** Bytes of the items read, as DynamoDB sizes them (attribute names and values). */
  readonly bytesRead: number;
  /** Read request units DynamoDB reported (eventually consistent reads). */
  readonly readUnits: number;
  /** Items read from compact periods (included in itemsRead). */
  readonly compactItemsRead: number;
}

/** What reading the rollups cost, as every read answer reports it in `meta`. */
export type ReadCost = Pick<
  Rollups,
  'itemsRead' | 'queries' | 'batchGets' | 'bytesRead' | 'readUnits' | 'compactItemsRead'
>;

export function readCost(rollups: Rollups): ReadCost {
  const { itemsRead, queries, batchGets, bytesRead, readUnits, compactItemsRead } = rollups;
  return { itemsRead, queries, batchGets, bytesRead, readUnits, compactItemsRead };
}

const readers = new WeakMap<RollupRequest, RollupReader>();

/**
 * The rollups of `request`. Every call with the same request object shares one
 * reader: its remembered queries, its counts and its ceilings (taken from
 * useRollupLimits when the request is first seen); a new request object starts afresh.
 */
export function rollupsFor(request: RollupRequest): Rollups {
  let reader = readers.get(request);
  if (!reader) {
    reader = new RollupReader(request.config.tableName, request.now, request.liveOnly === true);
    readers.set(request, reader);
  }
  return reader;
}

/**
 * Reads rollups for one request. Queries are remembered, so the several ranges
 * of one answer (window, last hour, last six hours) read what they share once,
 * and `itemsRead` counts what DynamoDB was asked for. The ceilings are checked
 * against everything this reader has planned and read, so they hold per request.
 */
class RollupReader implements Rollups {
  itemsRead = 0;
  queries = 0;
  batchGets = 0;
  bytesRead = 0;
  readUnits = 0;
  compactItemsRead = 0;
  /** Late-versions and compact items this request has fetched or is fetching, shared by its reads. */
  private readonly fetches: RequestFetches = new Map();
  /** Partitions and buckets planned so far (ranges cut out of earlier answers cost nothing). */
  private planned = { queries: 0, buckets: 0 };
  private readonly limits: RollupLimits = activeLimits;
  /** What this request has asked for, per partition. */
  private readonly cache = new Map<string, { low: string; high: string; items: Promise<RollupItem[]> }[]>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Set once a ceiling refused this request: later reads of it refuse too, without sending anything. */
  private refused: HttpProblem | undefined;

  constructor(
    private readonly tableName: string,
    private readonly now: number,
    private readonly liveOnly: boolean,
  ) {}

  /**
   * Closed periods from their compact items where they are valid, the rest
   * (periods still open, compactions missing or outdated) from the live
   * rollups; each part of the range is read exactly once.
   */
  async read(options: RollupReadOptions): Promise<RollupItem[]> {
    if (this.refused) throw this.refused;
    if (options.compacted === false || this.liveOnly) return this.readLive(options);
    // Priced as if read live, before anything is sent: the same ceilings, whatever is compacted.
    this.priceWhole(
      planSegments(options.from, options.to, this.now, options.resolution),
      options.sources.length,
    );
    // Hour items cover whole hours: so do the compact periods standing in for them.
    const step = options.resolution === 'hour' ? HOUR_MS : MINUTE_MS;
    const { start, end } = readSpan(options.from, options.to, this.now, step);
    const grain =
      options.bucketMs ??
      (options.resolution === undefined ? undefined : options.resolution === 'hour' ? HOUR_MS : MINUTE_MS);
    // Live leftovers nest in the caller's buckets: minute items always do, hour items when buckets are whole hours.
    const liveResolution: Resolution | undefined =
      grain === undefined || grain % HOUR_MS === 0 ? undefined : 'minute';
    const view: CompactView =
      options.byLabelSet || options.filter?.model || options.filter?.region ? 'L' : 'E';
    const closedEnd = Math.min(end, compactHorizon(this.now));
    const cells = start < closedEnd ? cellsOf(start, closedEnd, grain) : [];
    const tail = Math.max(start, closedEnd);
    // The minutes not compacted yet: by endpoint, one item per endpoint (and shard) instead of one per label set.
    const byEndpoint = view === 'E' && tail < end;
    const parts = await Promise.all(
      options.sources.map(async (source) => {
        // The minutes after the compaction horizon are never compacted, whatever the compact items say: their
        // live read starts now, beside the compact items' and late versions', so a cold read is one round of calls.
        const tailItems =
          tail < end
            ? this.readLive(
                {
                  ...options,
                  sources: [source],
                  from: tail,
                  to: end,
                  resolution: byEndpoint ? options.resolution : liveResolution,
                },
                byEndpoint ? 'endpoint' : 'label',
              )
            : Promise.resolve([]);
        // Awaited below; if the compact read fails first, this one's failure must not go unhandled.
        tailItems.catch(() => {});
        const counts: BatchGetCounts = { items: 0, bytes: 0, calls: 0, queries: 0, units: 0 };
        const valid = await readCompactCells({
          tableName: this.tableName,
          source,
          view,
          cells,
          counts,
          fetches: this.fetches,
        });
        this.itemsRead += counts.items;
        this.compactItemsRead += counts.items;
        this.batchGets += counts.calls;
        this.queries += counts.queries;
        this.bytesRead += counts.bytes;
        this.readUnits += counts.units;
        const items = cells.flatMap((cell) => {
          const period = valid.get(cell.from);
          return period ? compactItems(source, cell, period) : [];
        });
        // What is not compacted: contiguous runs, each read live once.
        const gaps: [number, number][] = [];
        const addGap = (from: number, to: number) => {
          const last = gaps.at(-1);
          if (last && last[1] === from) last[1] = to;
          else gaps.push([from, to]);
        };
        for (const cell of cells) if (!valid.has(cell.from)) addGap(cell.from, cell.to);
        // Periods whose compaction is missing or outdated: known only now, so a second round, all at once.
        const fallback = await Promise.all(
          gaps.map(([from, to]) =>
            this.readLive({ ...options, sources: [source], from, to, resolution: liveResolution }),
          ),
        );
        for (const part of fallback) items.push(...part);
        items.push(...(await tailItems));
        return items;
      }),
    );
    const filter = options.filter ?? {};
    return parts.flat().filter((item) => item[PACKED_AGGREGATE] === undefined || matches(item, filter));
  }

  /**
   * Live rollups of [from, to) (today's reads, and the fallback of periods not
   * compacted): per label set, or the endpoint minutes (`endpoint`: models and regions summed).
   */
  private async readLive(
    options: RollupReadOptions,
    items: 'label' | 'endpoint' = 'label',
  ): Promise<RollupItem[]> {
    const segments = planSegments(
      options.from,
      options.to,
      this.now,
      items === 'endpoint' ? 'minute' : options.resolution,
    );
    this.priceWhole(segments, options.sources.length);
    const ranges = options.sources.flatMap((source) =>
      segments.flatMap((segment) => partitionRanges(source, segment, items)),
    );
    const fresh = ranges.filter((range) => !this.covering(range));
    const plannedQueries = this.planned.queries + fresh.length;
    const plannedBuckets = this.planned.buckets + fresh.reduce((n, range) => n + range.buckets, 0);
    if (plannedBuckets > this.limits.buckets) this.refusePlan('buckets', plannedBuckets);
    if (plannedQueries > this.limits.queries) this.refusePlan('queries', plannedQueries);
    this.planned = { queries: plannedQueries, buckets: plannedBuckets };

    const parts = await Promise.all(ranges.map((range) => this.query(range)));
    // partitionRanges lists the shards of a partition next to each other: merged back into sort key order.
    const merged: RollupItem[] = [];
    for (let i = 0; i < parts.length; i += ROLLUP_SHARDS) {
      merged.push(
        ...parts
          .slice(i, i + ROLLUP_SHARDS)
          .flat()
          .sort(bySortKey),
      );
    }
    const nowSec = this.now / 1000;
    return merged.filter((item) => {
      const expires = item[TABLE.ttlAttribute];
      return (typeof expires !== 'number' || expires > nowSec) && matches(item, options.filter ?? {});
    });
  }

  /** Refuses a plan over a ceiling before a single item is listed or sent: a huge range costs nothing to refuse. */
  private priceWhole(segments: readonly Segment[], sources: number): void {
    let partitions = 0;
    let buckets = 0;
    for (const segment of segments) {
      partitions += partitionCount(segment) * sources;
      buckets += bucketCount(segment) * sources;
    }
    if (buckets > this.limits.buckets) this.refusePlan('buckets', buckets);
    if (partitions > this.limits.queries) this.refusePlan('queries', partitions);
  }

  private refusePlan(what: 'queries' | 'buckets', planned: number): never {
    const max = this.limits[what];
    if (what === 'queries') {
      throw this.refuse(
        limitExceeded(
          'range',
          `would read ${planned} rollup partitions; at most ${max} per request; ${NARROW}`,
          {
            name: 'rollupQueriesPerRequest',
            max,
            requested: planned,
          },
        ),
      );
    }
    throw this.refuse(
      limitExceeded(
        'range',
        `would read ${planned} rollup buckets (minutes or hours, per source); at most ${max} per request; ${NARROW}, pick one source, or use hour buckets`,
        { name: 'rollupBucketsPerRequest', max, requested: planned },
      ),
    );
  }

  private refuse(problem: HttpProblem): HttpProblem {
    this.refused ??= problem;
    return problem;
  }

  private covering(range: PartitionRange) {
    return this.cache.get(range.pk)?.find((entry) => entry.low <= range.low && entry.high >= range.high);
  }

  /**
   * A range inside one this request has already asked for is cut out of that
   * answer instead of read again: the 1 h and 6 h figures of /status come out
   * of the window's hour rollups.
   */
  private query(range: PartitionRange): Promise<RollupItem[]> {
    const covering = this.covering(range);
    if (covering) {
      if (covering.low === range.low && covering.high === range.high) return covering.items;
      return covering.items.then((items) =>
        items.filter((item) => {
          const sk = item[TABLE.sortKey] as string;
          return sk >= range.low && sk <= range.high;
        }),
      );
    }
    const items = this.queryAll(range);
    const known = this.cache.get(range.pk) ?? [];
    known.push({ low: range.low, high: range.high, items });
    this.cache.set(range.pk, known);
    return items;
  }

  private async queryAll(range: PartitionRange): Promise<RollupItem[]> {
    const items: RollupItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.inTurn(() => {
        // The runtime ceilings: checked before every call, with at most ROLLUP_QUERY_CONCURRENCY pages in flight.
        if (this.queries >= this.limits.queries) {
          throw this.refuse(
            limitExceeded(
              'range',
              `needs more than ${this.limits.queries} rollup Query calls; at most ${this.limits.queries} per request; ${NARROW}`,
              { name: 'rollupQueriesPerRequest', max: this.limits.queries, requested: this.queries + 1 },
            ),
          );
        }
        this.checkItems();
        this.queries++;
        return dynamoClient().send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
            ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
            ExpressionAttributeValues: { ':pk': range.pk, ':low': range.low, ':high': range.high },
            ExclusiveStartKey: startKey,
            Limit: this.limits.itemsPerQuery,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
      });
      this.itemsRead += page.ScannedCount ?? page.Count ?? 0;
      this.readUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
      for (const item of page.Items ?? []) this.bytesRead += itemBytes(item);
      items.push(...((page.Items ?? []) as RollupItem[]));
      startKey = page.LastEvaluatedKey;
      if (this.itemsRead > this.limits.items) this.checkItems();
    } while (startKey);
    return items;
  }

  /**
   * Refuses to read on once the items read reach the ceiling, and to answer
   * once they pass it (pages already in flight may return up to
   * ROLLUP_QUERY_CONCURRENCY × ROLLUP_ITEMS_PER_QUERY items more).
   */
  private checkItems(): void {
    if (this.itemsRead < this.limits.items) return;
    throw this.refuse(
      limitExceeded(
        'range',
        `reads more than ${this.limits.items} rollup items; at most ${this.limits.items} per request; ${NARROW}`,
        { name: 'rollupItemsPerRequest', max: this.limits.items, requested: this.itemsRead },
      ),
    );
  }

  /** Runs `call` when fewer than ROLLUP_QUERY_CONCURRENCY calls of this reader are in flight. */
  private async inTurn<T>(call: () => Promise<T>): Promise<T> {
    while (this.active >= ROLLUP_QUERY_CONCURRENCY) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    try {
      return await call();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function bySortKey(a: RollupItem, b: RollupItem): number {
  const x = a[TABLE.sortKey] as string;
  const y = b[TABLE.sortKey] as string;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The groups of a compact period as rollup items carrying their figures. */
function compactItems(source: Source, cell: Cell, period: CompactPeriod): RollupItem[] {
  return period.groups.map((group) => ({
    resolution: cell.level.ms >= HOUR_MS ? 'hour' : 'minute',
    bucketStart: cell.from,
    source,
    endpoint: group.endpoint,
    model: group.model,
    region: group.region,
    [PACKED_AGGREGATE]: group.aggregate,
  }));
}
