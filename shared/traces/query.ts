/**
 * Reading raw trace events for `GET /traces`: newest first, filtered, paged
 * with an opaque cursor, and bounded per request.
 *
 * Raw events live in hours (`EV#<yyyy-mm-ddThh>`), each split over
 * EVENT_SHARDS partitions by event id (`EV#<yyyy-mm-ddThh>#<ss>`, sort key
 * `<13-digit ts>#<id>`, see shared/store/keys.ts). A read walks the hours from
 * the hour of `to` down to the hour of `from`. Within an hour it queries the
 * shards (newest first, sort key between `padTs(from)` and `padTs(to)~`, in
 * parallel) and merges them by sort key, with the filters and the TTL
 * (`expiresAt > now`: DynamoDB deletes lazily and dynalite never does) as a
 * FilterExpression (the Query itself: shared/store/event-reads.ts). There is
 * never a Scan.
 *
 * The merge hands out an event only once every shard has been read down to
 * it: each shard is read down to some sort key, and the highest of those (the
 * frontier) is where the hour is complete. Sort keys are unique across shards
 * (the shard comes from the id, which the sort key holds), so "everything
 * above sort key X in this hour" is one exact position whatever the shards:
 * a cursor is the hour and one sort key, as when an hour was one partition,
 * and every shard resumes below it (ExclusiveStartKey).
 *
 * Work per request is bounded: the range lies within retention and at most
 * 5 minutes ahead of now (a cursor's range is checked the same way), the hours
 * are walked lazily (never listed), and a read stops at `maxScan` items read
 * (DynamoDB applies `Limit` before filtering, so the Query Limits are what
 * bound reads) or `maxQueries` Query calls (an empty hour costs one per
 * shard). When a bound stops a read, the page comes back short — possibly
 * empty — with a cursor: a very selective filter over 30 days pages instead
 * of timing out. Callers page until `nextCursor` is null.
 *
 * The position a page stops at is the sort key of the last item handed out
 * (or, when a bound stopped the read, the frontier), used as
 * ExclusiveStartKey; the sort key holds the id, so events sharing a timestamp
 * are never duplicated or skipped.
 */

import { ERROR_TYPES, type TraceEvent } from '../events/model.js';
import { badRequest, validate } from '../http/problem.js';
import {
  FILTER_PARAMS,
  list,
  oneOfList,
  parseFilters,
  parseRangeParams,
  pick,
  RANGE_PARAMS,
  rangeProblem,
  rejectUnknown,
  resolveRange,
  wholeNumber,
  windowRange,
} from '../http/query.js';
import { type EventFilters, queryEventPartition } from '../store/event-reads.js';
import {
  DAY_MS,
  EVENT_SHARDS,
  eventHourKey,
  eventHourOfKey,
  eventKey,
  eventShardPartitions,
  eventSortKeyTs,
  floorTo,
  HOUR_MS,
  MINUTE_MS,
} from '../store/keys.js';
import * as z from '../zod.js';
import { CursorError, decodeCursor, encodeCursor, queryHash, type TraceCursor } from './cursor.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
/** Default range when `from` is not given: the 24 hours up to `to`. */
const DEFAULT_RANGE_MS = DAY_MS;
/**
 * How far a cursor's `from` may have slipped past the retention start since it
 * was issued: the pages of a query over the whole retention stay usable for a
 * day. The read still never walks further than the cursor's own range.
 */
const CURSOR_RETENTION_GRACE_MS = DAY_MS;
/** Items read (ScannedCount) per request at most. */
const MAX_SCAN_PER_REQUEST = 5000;
/**
 * Query calls per request at most. An hour costs one per shard even when it is
 * empty: this is every shard of 25 hours, so the default 24-hour range is read
 * in one page however sparse it is.
 */
export const MAX_QUERIES_PER_REQUEST = 25 * EVENT_SHARDS;
/** Largest Limit of one Query call (DynamoDB also stops each page at 1 MB). */
const MAX_QUERY_LIMIT = 1000;
/** First Query Limit when filters make most items miss. */
const FILTERED_QUERY_LIMIT = 200;

const FORMATS = ['json', 'csv', 'ndjson'] as const;
export type TraceFormat = (typeof FORMATS)[number];

/** The filters of /traces: every stored event attribute the store can filter on (shared/store/event-reads.ts). */
export type TraceFilters = EventFilters;

/** What to read: an inclusive range of event times (epoch ms) and filters. */
export interface TraceQuery {
  from: number;
  to: number;
  filters: TraceFilters;
}

/**
 * Where a read resumes: below sort key `sk` in every shard of the hour `pk`
 * (`EV#<yyyy-mm-ddThh>`, keys.ts eventHourKey), or at the top of that hour when `sk` is null.
 */
export interface Position {
  pk: string;
  sk: string | null;
}

export interface TracesRequest {
  query: TraceQuery;
  limit: number;
  format: TraceFormat;
  /** The resume position of the request's cursor. */
  start: Position | undefined;
}

/** The answer of `GET /traces` in JSON (the dashboard reads it through this type). */
export interface TracesAnswer {
  items: TraceEvent[];
  /** Resumes the query after the last item; null when the range is read to its end. */
  nextCursor: string | null;
  /** Items read for this page (ScannedCount). */
  scanned: number;
}

// ---------------------------------------------------------------- parameters

/** The parameters of /traces alone; the range and filters are every read route's (shared/http/query.ts). */
const OWN_PARAMETERS = ['ok', 'errorType', 'status', 'traceId', 'limit', 'cursor', 'format'] as const;
const PARAMETERS = [...RANGE_PARAMS, ...FILTER_PARAMS, ...OWN_PARAMETERS] as const;

/** HTTP statuses: three decimal digits from 100 to 599. */
const statusList = list(
  (v) => (/^[1-5][0-9]{2}$/.test(v) ? Number(v) : undefined),
  'an HTTP status from 100 to 599',
);

const paramsSchema = z.object({
  ok: z.optional(z.enum(['true', 'false'], { message: 'expected true or false' })),
  errorType: z.optional(oneOfList(ERROR_TYPES)),
  status: z.optional(statusList),
  traceId: z.optional(
    z.string().check(z.regex(/^[0-9a-f]{32}$/, 'expected a trace id: 32 lower-case hexadecimal characters')),
  ),
  limit: z.optional(
    wholeNumber(`a whole number from 1 to ${MAX_LIMIT}`, {
      min: 1,
      max: MAX_LIMIT,
      maxDigits: 7,
    }),
  ),
  cursor: z.optional(z.string().check(z.minLength(1, 'empty cursor'))),
  format: z.optional(z.enum(FORMATS, { message: `expected one of ${FORMATS.join(', ')}` })),
});

export interface ParseContext {
  /** Epoch ms. */
  now: number;
  retentionDays: number;
  /** Cursor signing key (shared/traces/cursor.ts). */
  secret: string;
}

/**
 * Validates the query string of `GET /traces` and resolves defaults and the
 * cursor. Every bad value throws a 400 HttpProblem naming the parameter. The
 * range (`window` or `from`/`to`) and the filters `source`, `endpoint`,
 * `model`, `region` are parsed as on every read route (shared/http/query.ts);
 * without any, the range is the DEFAULT_RANGE_MS up to now.
 *
 * A range must lie within retention and end at most 5 minutes after now
 * (shared/http/query.ts rangeProblem); it is kept as given inside that
 * tolerance, since it names the query its cursors belong to.
 *
 * With a cursor, `from` and `to` (or `window`) may be omitted (the cursor
 * carries its query's resolved range, so "the last 24 hours" keeps meaning the
 * same 24 hours while paging); when given they must equal the cursor's (a
 * window: the cursor's range must be a window of that many minutes). The filters
 * must be repeated, and a cursor used with other filters is refused. The
 * cursor's range is checked like a request's, except that its `from` may have
 * slipped up to CURSOR_RETENTION_GRACE_MS past the retention start while the
 * query was paged.
 */
export function parseTracesRequest(
  params: Readonly<Record<string, string>>,
  ctx: ParseContext,
): TracesRequest {
  rejectUnknown(params, PARAMETERS);
  const range = parseRangeParams(params);
  const { sources, ...labels } = parseFilters(params);
  const p = validate(paramsSchema, pick(params, OWN_PARAMETERS));
  const filters: TraceFilters = {
    ...labels,
    ...(sources ? { source: sources } : {}),
    ...(p.ok === undefined ? {} : { ok: p.ok === 'true' }),
    ...(p.errorType ? { errorType: p.errorType } : {}),
    ...(p.status ? { status: p.status } : {}),
    ...(p.traceId ? { traceId: p.traceId } : {}),
  };

  let cursor: TraceCursor | undefined;
  if (p.cursor !== undefined) {
    try {
      cursor = decodeCursor(p.cursor, ctx.secret);
    } catch (error) {
      if (error instanceof CursorError) throw badRequest('cursor', `not a valid cursor (${error.message})`);
      throw error;
    }
  }

  const bounds = { now: ctx.now, retentionDays: ctx.retentionDays };
  let from: number;
  let to: number;
  if (cursor) {
    for (const [name, given, own] of [
      ['from', range.from, cursor.from],
      ['to', range.to, cursor.to],
    ] as const) {
      if (given !== undefined && given !== own) {
        throw badRequest('cursor', `belongs to a different range (its ${name} is ${own}, not ${given})`);
      }
    }
    if (range.window !== undefined && windowRange(cursor.to, range.window).from !== cursor.from) {
      const minutes = Math.floor(cursor.to / MINUTE_MS) - cursor.from / MINUTE_MS + 1;
      throw badRequest(
        'cursor',
        `belongs to a different range (not a window of ${range.window} minutes${
          Number.isInteger(minutes) ? `, but of ${minutes}` : ''
        })`,
      );
    }
    ({ from, to } = cursor);
    const problem = rangeProblem(cursor, { ...bounds, retentionGraceMs: CURSOR_RETENTION_GRACE_MS });
    if (problem) throw badRequest('cursor', `its range is refused: ${problem.field} ${problem.message}`);
  } else {
    ({ from, to } = resolveRange(range, bounds, {
      defaultMinutes: DEFAULT_RANGE_MS / MINUTE_MS,
      defaultIsWindow: false,
      clamp: false,
    }));
  }

  const query: TraceQuery = { from, to, filters };
  let start: Position | undefined;
  if (cursor) {
    if (cursor.q !== traceQueryHash(query)) {
      throw badRequest('cursor', 'belongs to a different query (range or filters changed)');
    }
    start = { pk: cursor.pk, sk: cursor.sk };
    if (!positionInRange(start, query)) throw badRequest('cursor', 'position outside the query range');
  }
  return { query, limit: p.limit ?? DEFAULT_LIMIT, format: p.format ?? 'json', start };
}

/** The query in a canonical form (lists sorted), independent of format, page size and parameter order. */
function normalizeQuery(query: TraceQuery): unknown[] {
  const f = query.filters;
  const sorted = <T extends string | number>(values: T[] | undefined) =>
    values ? [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : null;
  return [
    query.from,
    query.to,
    sorted(f.endpoint),
    sorted(f.model),
    sorted(f.region),
    sorted(f.source),
    f.ok ?? null,
    sorted(f.errorType),
    sorted(f.status),
    // Absent, not null, when unused: the cursors of queries without a trace id stay valid.
    ...(f.traceId === undefined ? [] : [f.traceId]),
  ];
}

function traceQueryHash(query: TraceQuery): string {
  return queryHash(normalizeQuery(query));
}

/** The opaque cursor that resumes `query` at `position`. */
export function traceCursor(query: TraceQuery, position: Position, secret: string): string {
  return encodeCursor(
    { pk: position.pk, sk: position.sk, q: traceQueryHash(query), from: query.from, to: query.to },
    secret,
  );
}

// ---------------------------------------------------------------- hours and positions

/**
 * The hours of a range, newest first, counted and indexed rather than
 * listed: whatever the range, a read only ever builds the keys it queries.
 */
export function hourCount(from: number, to: number): number {
  return to < from ? 0 : (floorTo(to, HOUR_MS) - floorTo(from, HOUR_MS)) / HOUR_MS + 1;
}

/** The key of the `index`-th hour of a range ending at `to`, newest first (0 is the hour of `to`). */
export function hourKeyAt(to: number, index: number): string {
  return eventHourKey(floorTo(to, HOUR_MS) - index * HOUR_MS);
}

/** A resume position must be an `EV#` hour of the range and a sort key of that hour inside the range. */
export function positionInRange(position: Position, query: TraceQuery): boolean {
  const hour = eventHourOfKey(position.pk);
  if (hour === undefined || hour < floorTo(query.from, HOUR_MS) || hour > floorTo(query.to, HOUR_MS)) {
    return false;
  }
  if (position.sk === null) return true;
  const ts = eventSortKeyTs(position.sk);
  if (ts === undefined) return false;
  return ts >= query.from && ts <= query.to && floorTo(ts, HOUR_MS) === hour;
}

/** The position just after an event (resuming there returns the events older than it). */
export function positionAfter(event: Pick<TraceEvent, 'ts' | 'id'>): Position {
  return { pk: eventHourKey(event.ts), sk: eventKey(event.ts, event.id).sk };
}

// ---------------------------------------------------------------- reading

export interface ReadOptions {
  tableName: string;
  /** Epoch ms: items whose TTL has passed are left out. */
  now: number;
  /** Items to return at most. */
  limit: number;
  start?: Position | undefined;
  /** Items to read (ScannedCount) at most; default MAX_SCAN_PER_REQUEST, at least EVENT_SHARDS. */
  maxScan?: number;
  /** Query calls at most; default MAX_QUERIES_PER_REQUEST, at least EVENT_SHARDS. */
  maxQueries?: number;
}

export interface TracePage {
  items: TraceEvent[];
  /** Where the next page starts; null when the range is exhausted. */
  next: Position | null;
  /** Items DynamoDB read (before filtering). */
  scanned: number;
  queries: number;
}

function hasFilters(filters: TraceFilters): boolean {
  return Object.values(filters).some((value) => value !== undefined);
}

/** One shard of the hour being merged. */
interface ShardRead {
  pk: string;
  /**
   * Nothing unread in this shard sorts at or above this sort key: the last
   * item read, or the page's resume position. Null: not read yet, from the top.
   */
  after: string | null;
  /** Read to the end of the range. */
  done: boolean;
  /** Matching events read but not handed out yet, newest first. */
  waiting: { sk: string; event: TraceEvent }[];
  /** The Limit this shard's next Query asks for at least (grows while filters make items miss). */
  hint: number;
}

/**
 * The sort key down to which every shard of the hour is read: events at or
 * above it can be handed out. Null while a shard is unread from the top;
 * undefined once every shard is read to its end.
 */
function frontier(shards: readonly ShardRead[]): string | null | undefined {
  let highest: string | null | undefined;
  for (const shard of shards) {
    if (shard.done) continue;
    if (shard.after === null) return null;
    if (highest === undefined || shard.after > (highest as string)) highest = shard.after;
  }
  return highest;
}

/** The shard holding the newest waiting event, if any. */
function newestWaiting(shards: readonly ShardRead[]): ShardRead | undefined {
  let newest: ShardRead | undefined;
  for (const shard of shards) {
    const head = shard.waiting[0];
    if (head && (!newest || head.sk > (newest.waiting[0] as { sk: string }).sk)) newest = shard;
  }
  return newest;
}

/**
 * Reads one page of `query`, newest first, starting at `options.start` (or
 * the newest end of the range). Returns fewer than `limit` items, with a
 * `next` position, when the scan or query bound stopped it first.
 */
export async function readTraces(query: TraceQuery, options: ReadOptions): Promise<TracePage> {
  const maxScan = options.maxScan ?? MAX_SCAN_PER_REQUEST;
  const maxQueries = options.maxQueries ?? MAX_QUERIES_PER_REQUEST;
  // A page must be able to read every shard of an hour once, or it could not move past where it began.
  if (maxScan < EVENT_SHARDS || maxQueries < EVENT_SHARDS) {
    throw new RangeError(`a page needs at least ${EVENT_SHARDS} items and Query calls, one per shard`);
  }
  const limit = options.limit;
  const count = hourCount(query.from, query.to);
  let index = 0;
  let startSk: string | null = null;
  if (options.start) {
    const hour = eventHourOfKey(options.start.pk);
    index = hour === undefined ? -1 : (floorTo(query.to, HOUR_MS) - hour) / HOUR_MS;
    if (!(index >= 0 && index < count)) {
      throw new RangeError(`start hour ${options.start.pk} is outside the query range`);
    }
    startSk = options.start.sk;
  }
  const items: TraceEvent[] = [];
  let scanned = 0;
  let queries = 0;
  // Unfiltered reads match (almost) every item: each shard is asked for its share of what the page
  // needs, with some slack, since ids spread over shards only evenly on average. Filtered reads grow
  // their Limit per call, so a rare match does not take many round trips.
  const firstHint = hasFilters(query.filters) ? FILTERED_QUERY_LIMIT : 0;
  const page = (next: Position | null): TracePage => ({ items, next, scanned, queries });

  for (; index < count; index++) {
    const hourKey = hourKeyAt(query.to, index);
    const shards: ShardRead[] = eventShardPartitions(hourKey).map((pk) => ({
      pk,
      after: startSk,
      done: false,
      waiting: [],
      hint: firstHint,
    }));
    startSk = null;
    const hourDone = () => shards.every((s) => s.done && s.waiting.length === 0);
    for (;;) {
      // Hand out, newest first, what every shard has been read past.
      const edge = frontier(shards);
      for (let shard = newestWaiting(shards); shard; shard = newestWaiting(shards)) {
        const head = shard.waiting[0] as { sk: string; event: TraceEvent };
        if (edge === null || (edge !== undefined && head.sk < edge)) break;
        shard.waiting.shift();
        items.push(head.event);
        if (items.length < limit) continue;
        if (!hourDone()) return page({ pk: hourKey, sk: head.sk });
        return page(index + 1 < count ? { pk: hourKeyAt(query.to, index + 1), sk: null } : null);
      }
      if (edge === undefined) break; // every shard read to its end, everything handed out

      // Read on in every shard that has nothing waiting: that includes those holding the frontier up.
      const toRead = shards.filter((s) => !s.done && s.waiting.length === 0);
      if (queries + toRead.length > maxQueries || scanned + toRead.length > maxScan) {
        return page({ pk: hourKey, sk: edge });
      }
      const open = shards.filter((s) => !s.done).length;
      const share = Math.ceil((1.5 * (limit - items.length + 1)) / open) + 1;
      const budget = Math.floor((maxScan - scanned) / toRead.length);
      await Promise.all(
        toRead.map(async (shard) => {
          const queryLimit = Math.min(budget, MAX_QUERY_LIMIT, Math.max(share, shard.hint));
          shard.hint = Math.min(MAX_QUERY_LIMIT, Math.max(shard.hint, share) * 2);
          const result = await queryEventPartition({
            tableName: options.tableName,
            partition: shard.pk,
            from: query.from,
            to: query.to,
            filters: query.filters,
            now: options.now,
            limit: queryLimit,
            after: shard.after,
          });
          queries++;
          scanned += result.scanned;
          shard.waiting.push(...result.items);
          if (result.last === undefined) shard.done = true;
          else shard.after = result.last;
        }),
      );
    }
  }
  return page(null);
}
