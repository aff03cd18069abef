/**
 * Reading raw trace events for `GET /traces`: newest first, filtered, paged
 * with an opaque cursor, and bounded per request.
 *
 * Raw events live in hour partitions (`EV#<yyyy-mm-ddThh>`, sort key
 * `<13-digit ts>#<id>`, see shared/store/keys.ts). A read walks the hours from
 * the hour of `to` down to the hour of `from`, one Query each (newest first,
 * sort key between `padTs(from)` and `padTs(to)~`), with the filters and the
 * TTL (`expiresAt > now`: DynamoDB deletes lazily and dynalite never does) as a
 * FilterExpression (the Query itself: shared/store/event-reads.ts). There is
 * never a Scan.
 *
 * Work per request is bounded: the range lies within retention and at most
 * 5 minutes ahead of now (a cursor's range is checked the same way), the hour
 * partitions are walked lazily (never listed), and a read stops at
 * `maxScan` items read (DynamoDB applies `Limit` before filtering, so the
 * Query Limit is what bounds reads) or `maxQueries` Query calls (empty hours
 * cost a call each). When a bound stops a read, the page comes back short —
 * possibly empty — with a cursor: a very selective filter over 30 days pages
 * instead of timing out. Callers page until `nextCursor` is null.
 *
 * The position a page stops at is the sort key of the last item handed out
 * (or, when a bound stopped the read, the last item read), used as
 * ExclusiveStartKey; the sort key holds the id, so events sharing a timestamp
 * are never duplicated or skipped.
 */
import * as z from 'zod';
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
  eventKey,
  eventPartition,
  eventPartitionHour,
  eventSortKeyTs,
  floorTo,
  HOUR_MS,
  MINUTE_MS,
} from '../store/keys.js';
import { CursorError, decodeCursor, encodeCursor, queryHash, type TraceCursor } from './cursor.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Default range when `from` is not given: the 24 hours up to `to`. */
export const DEFAULT_RANGE_MS = DAY_MS;
/**
 * How far a cursor's `from` may have slipped past the retention start since it
 * was issued: the pages of a query over the whole retention stay usable for a
 * day. The read still never walks further than the cursor's own range.
 */
export const CURSOR_RETENTION_GRACE_MS = DAY_MS;
/** Items read (ScannedCount) per request at most. */
export const MAX_SCAN_PER_REQUEST = 5000;
/** Query calls per request at most (an empty hour still costs one). */
export const MAX_QUERIES_PER_REQUEST = 200;
/** Largest Limit of one Query call (DynamoDB also stops each page at 1 MB). */
const MAX_QUERY_LIMIT = 1000;
/** First Query Limit when filters make most items miss. */
const FILTERED_QUERY_LIMIT = 200;

export const FORMATS = ['json', 'csv', 'ndjson'] as const;
export type TraceFormat = (typeof FORMATS)[number];

/** The filters of /traces: every stored event attribute the store can filter on (shared/store/event-reads.ts). */
export type TraceFilters = EventFilters;

/** What to read: an inclusive range of event times (epoch ms) and filters. */
export interface TraceQuery {
  from: number;
  to: number;
  filters: TraceFilters;
}

/** Where a read resumes: after sort key `sk` of partition `pk`, or at the top of `pk` when `sk` is null. */
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
const OWN_PARAMETERS = ['ok', 'errorType', 'status', 'limit', 'cursor', 'format'] as const;
const PARAMETERS = [...RANGE_PARAMS, ...FILTER_PARAMS, ...OWN_PARAMETERS] as const;

/** HTTP statuses: three decimal digits from 100 to 599. */
const statusList = list(
  (v) => (/^[1-5][0-9]{2}$/.test(v) ? Number(v) : undefined),
  'an HTTP status from 100 to 599',
);

const paramsSchema = z.object({
  ok: z.enum(['true', 'false'], { message: 'expected true or false' }).optional(),
  errorType: oneOfList(ERROR_TYPES).optional(),
  status: statusList.optional(),
  limit: wholeNumber(`a whole number from 1 to ${MAX_LIMIT}`, {
    min: 1,
    max: MAX_LIMIT,
    maxDigits: 7,
  }).optional(),
  cursor: z.string().min(1, 'empty cursor').optional(),
  format: z.enum(FORMATS, { message: `expected one of ${FORMATS.join(', ')}` }).optional(),
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
export function normalizeQuery(query: TraceQuery): unknown[] {
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
  ];
}

export function traceQueryHash(query: TraceQuery): string {
  return queryHash(normalizeQuery(query));
}

/** The opaque cursor that resumes `query` at `position`. */
export function traceCursor(query: TraceQuery, position: Position, secret: string): string {
  return encodeCursor(
    { pk: position.pk, sk: position.sk, q: traceQueryHash(query), from: query.from, to: query.to },
    secret,
  );
}

// ---------------------------------------------------------------- partitions and positions

/**
 * The hour partitions of a range, newest first, counted and indexed rather
 * than listed: whatever the range, a read only ever builds the keys it queries.
 */
export function hourPartitionCount(from: number, to: number): number {
  return to < from ? 0 : (floorTo(to, HOUR_MS) - floorTo(from, HOUR_MS)) / HOUR_MS + 1;
}

/** The `index`-th hour partition of a range ending at `to`, newest first (0 is the hour of `to`). */
export function hourPartitionAt(to: number, index: number): string {
  return eventPartition(floorTo(to, HOUR_MS) - index * HOUR_MS);
}

/** A resume position must be an `EV#` hour of the range and a sort key of that hour inside the range. */
export function positionInRange(position: Position, query: TraceQuery): boolean {
  const hour = eventPartitionHour(position.pk);
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
  return eventKey(event.ts, event.id);
}

// ---------------------------------------------------------------- reading

export interface ReadOptions {
  tableName: string;
  /** Epoch ms: items whose TTL has passed are left out. */
  now: number;
  /** Items to return at most. */
  limit: number;
  start?: Position | undefined;
  /** Items to read (ScannedCount) at most; default MAX_SCAN_PER_REQUEST. */
  maxScan?: number;
  /** Query calls at most; default MAX_QUERIES_PER_REQUEST. */
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

/**
 * Reads one page of `query`, newest first, starting at `options.start` (or
 * the newest end of the range). Returns fewer than `limit` items, with a
 * `next` position, when the scan or query bound stopped it first.
 */
export async function readTraces(query: TraceQuery, options: ReadOptions): Promise<TracePage> {
  const maxScan = options.maxScan ?? MAX_SCAN_PER_REQUEST;
  const maxQueries = options.maxQueries ?? MAX_QUERIES_PER_REQUEST;
  const limit = options.limit;
  const count = hourPartitionCount(query.from, query.to);
  let index = 0;
  let startSk: string | null = null;
  if (options.start) {
    const hour = eventPartitionHour(options.start.pk);
    index = hour === undefined ? -1 : (floorTo(query.to, HOUR_MS) - hour) / HOUR_MS;
    if (!(index >= 0 && index < count)) {
      throw new RangeError(`start partition ${options.start.pk} is outside the query range`);
    }
    startSk = options.start.sk;
  }
  const items: TraceEvent[] = [];
  let scanned = 0;
  let queries = 0;
  // Unfiltered reads match (almost) every item: ask for what the page needs, plus one to see the end.
  // Filtered reads grow their Limit per call, so a rare match does not take many round trips.
  let hint = hasFilters(query.filters) ? FILTERED_QUERY_LIMIT : 0;
  const page = (next: Position | null): TracePage => ({ items, next, scanned, queries });

  for (; index < count; index++) {
    const pk = hourPartitionAt(query.to, index);
    let after = startSk;
    startSk = null;
    for (;;) {
      if (scanned >= maxScan || queries >= maxQueries) return page({ pk, sk: after });
      const needed = limit - items.length;
      const queryLimit = Math.min(maxScan - scanned, MAX_QUERY_LIMIT, Math.max(needed + 1, hint));
      hint = Math.min(MAX_QUERY_LIMIT, Math.max(hint, needed + 1) * 2);
      const result = await queryEventPartition({
        tableName: options.tableName,
        partition: pk,
        from: query.from,
        to: query.to,
        filters: query.filters,
        now: options.now,
        limit: queryLimit,
        after,
      });
      queries++;
      scanned += result.scanned;
      const found = result.items;
      for (let i = 0; i < found.length; i++) {
        const { sk, event } = found[i] as (typeof found)[number];
        items.push(event);
        if (items.length < limit) continue;
        const partitionDone = i === found.length - 1 && result.last === undefined;
        if (!partitionDone) return page({ pk, sk });
        return page(index + 1 < count ? { pk: hourPartitionAt(query.to, index + 1), sk: null } : null);
      }
      const last = result.last;
      if (last === undefined) break;
      after = last;
    }
  }
  return page(null);
}
