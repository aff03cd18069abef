import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshStore } from '../../test/helpers.js';
import { dynamoClient } from '../aws.js';
import type { ErrorType, TraceEvent } from '../events/model.js';
import { HttpProblem } from '../http/problem.js';
import { filterExpression } from '../store/event-reads.js';
import { eventItem, recordEvents } from '../store/events.js';
import { EVENT_SHARDS, floorTo, HOUR_MS, MINUTE_MS } from '../store/keys.js';
import {
  hourCount,
  hourKeyAt,
  type Position,
  parseTracesRequest,
  positionInRange,
  readTraces,
  type TraceFilters,
  type TracePage,
  type TraceQuery,
  traceCursor,
} from './query.js';

// Fixed at file start: every timestamp below is relative to it, and reads use it as "now".
const NOW = Date.now();
/** Start of the hour five hours ago: the events fill three hours from there, the hours after are empty. */
const BASE = floorTo(NOW, HOUR_MS) - 5 * HOUR_MS;
const ENDPOINTS = ['chat', 'embeddings', 'models', 'responses'];
const MODELS = ['gpt-4o-mini', 'text-embedding-3-small'];
const REGIONS = ['us-west-1', 'eu-west-1', 'ap-south-1'];
const FAILURES: [ErrorType, number | undefined][] = [
  ['timeout', undefined],
  ['server_error', 503],
  ['rate_limited', 429],
  ['auth', 401],
  ['client_error', 400],
  ['network', undefined],
  ['server_error', 500],
  ['invalid_response', 200],
  ['unknown', undefined],
];

/** 250 events over three hours; every three share a timestamp; ids do not sort like their times. */
function makeEvents(): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (let i = 0; i < 250; i++) {
    const failure = i % 7 === 3 ? FAILURES[Math.floor(i / 7) % FAILURES.length] : undefined;
    const model = i % 3 === 2 ? undefined : MODELS[i % 2];
    events.push({
      id: `ev-${((i * 7919) % 1009).toString(36)}-${i}`,
      ts: BASE + 40 * MINUTE_MS + Math.floor(i / 3) * 97_000,
      source: i % 5 === 0 ? 'ingest' : 'probe',
      endpoint: ENDPOINTS[i % 4] as string,
      ...(model ? { model } : {}),
      region: REGIONS[Math.floor(i / 2) % 3] as string,
      upstream: 'simulated',
      ok: !failure,
      ...(failure
        ? {
            errorType: failure[0],
            ...(failure[1] === undefined ? {} : { status: failure[1] }),
            errorMessage: `failure ${i}`,
          }
        : { status: 200 }),
      latencyMs: 100 + i,
      timing: { dnsMs: 1, connectMs: 2, tlsMs: 3, ttfbMs: 50 + (i % 10), transferMs: 4, reused: i % 2 === 0 },
      usage: { input: 10, output: i % 5 },
    });
  }
  // Right on an hour boundary, and the last millisecond before it.
  for (const [id, ts] of [
    ['edge-on-hour', BASE + 2 * HOUR_MS],
    ['edge-before-hour', BASE + 2 * HOUR_MS - 1],
  ] as const) {
    events.push({ id, ts, source: 'probe', endpoint: 'chat', region: 'us-west-1', ok: true, latencyMs: 5 });
  }
  return events;
}

const EVENTS = makeEvents();
const FIRST = Math.min(...EVENTS.map((e) => e.ts));
const LAST = Math.max(...EVENTS.map((e) => e.ts));
/** The range of the whole data set plus the empty hours up to now. */
const ALL: TraceQuery = { from: FIRST, to: NOW, filters: {} };

/** Newest first; events of the same millisecond by id, descending (the sort key's order). */
const newestFirst = (a: TraceEvent, b: TraceEvent) => b.ts - a.ts || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

function expected(from: number, to: number, keep: (e: TraceEvent) => boolean = () => true): string[] {
  return EVENTS.filter((e) => e.ts >= from && e.ts <= to && keep(e))
    .sort(newestFirst)
    .map((e) => e.id);
}

const ids = (events: readonly TraceEvent[]) => events.map((e) => e.id);

let tableName = '';

/** Pages through a query to the end; fails on a runaway loop. */
async function readAll(
  query: TraceQuery,
  limit: number,
  extra: { maxScan?: number; maxQueries?: number } = {},
): Promise<TracePage[]> {
  const pages: TracePage[] = [];
  let start: Position | undefined;
  do {
    const page = await readTraces(query, { tableName, now: NOW, limit, start, ...extra });
    pages.push(page);
    start = page.next ?? undefined;
    if (pages.length > 500) throw new Error('paging does not end');
  } while (start);
  return pages;
}

describe('readTraces', () => {
  beforeAll(async () => {
    ({ tableName } = await useFreshStore());
    const result = await recordEvents(EVENTS, { tableName, retentionDays: 30, rollupRetentionDays: 400 });
    expect(result.stored).toBe(EVENTS.length);
    // An event whose TTL has passed but that the store still holds (DynamoDB deletes lazily, dynalite never).
    const expired: TraceEvent = {
      id: 'expired-1',
      ts: BASE + 90 * MINUTE_MS,
      source: 'probe',
      endpoint: 'chat',
      ok: false,
      errorType: 'auth',
      status: 401,
      latencyMs: 1,
    };
    await dynamoClient().send(
      new PutCommand({
        TableName: tableName,
        Item: { ...eventItem(expired, 30), expiresAt: Math.floor(NOW / 1000) - 60 },
      }),
    );
  });

  it('returns every event of the range newest first, as it was recorded, without keys or TTL', async () => {
    const page = await readTraces(ALL, { tableName, now: NOW, limit: 1000 });
    expect(ids(page.items)).toEqual(expected(ALL.from, ALL.to));
    expect(page.next).toBeNull();
    expect(page.items).toEqual([...EVENTS].sort(newestFirst));
    for (const item of page.items) {
      expect(item).not.toHaveProperty('pk');
      expect(item).not.toHaveProperty('sk');
      expect(item).not.toHaveProperty('expiresAt');
    }
  });

  it('leaves out items whose TTL has passed', async () => {
    const page = await readTraces(
      { from: BASE, to: NOW, filters: { errorType: ['auth'] } },
      {
        tableName,
        now: NOW,
        limit: 1000,
      },
    );
    expect(ids(page.items)).not.toContain('expired-1');
    expect(ids(page.items)).toEqual(expected(BASE, NOW, (e) => e.errorType === 'auth'));
    // With a clock before its expiry, the same item is there: the filter is what hides it.
    const earlier = await readTraces(
      { from: BASE, to: NOW, filters: { errorType: ['auth'] } },
      {
        tableName,
        now: NOW - 10 * MINUTE_MS,
        limit: 1000,
      },
    );
    expect(ids(earlier.items)).toContain('expired-1');
  });

  const cases: [string, TraceFilters, (e: TraceEvent) => boolean][] = [
    ['endpoint', { endpoint: ['chat'] }, (e) => e.endpoint === 'chat'],
    [
      'endpoint list',
      { endpoint: ['chat', 'models'] },
      (e) => e.endpoint === 'chat' || e.endpoint === 'models',
    ],
    ['model', { model: ['gpt-4o-mini'] }, (e) => e.model === 'gpt-4o-mini'],
    ['region', { region: ['eu-west-1'] }, (e) => e.region === 'eu-west-1'],
    ['source ingest', { source: ['ingest'] }, (e) => e.source === 'ingest'],
    ['source probe', { source: ['probe'] }, (e) => e.source === 'probe'],
    ['ok=false', { ok: false }, (e) => !e.ok],
    ['ok=true', { ok: true }, (e) => e.ok],
    ['errorType', { errorType: ['server_error'] }, (e) => e.errorType === 'server_error'],
    [
      'errorType list',
      { errorType: ['auth', 'rate_limited'] },
      (e) => e.errorType === 'auth' || e.errorType === 'rate_limited',
    ],
    ['status', { status: [503] }, (e) => e.status === 503],
    ['status list', { status: [429, 401] }, (e) => e.status === 429 || e.status === 401],
    ['endpoint + ok', { endpoint: ['chat'], ok: false }, (e) => e.endpoint === 'chat' && !e.ok],
    [
      'source + region + model',
      { source: ['probe'], region: ['us-west-1'], model: ['gpt-4o-mini'] },
      (e) => e.source === 'probe' && e.region === 'us-west-1' && e.model === 'gpt-4o-mini',
    ],
    [
      'errorType + status',
      { errorType: ['server_error'], status: [500] },
      (e) => e.errorType === 'server_error' && e.status === 500,
    ],
    [
      'endpoint list + region + source',
      { endpoint: ['embeddings', 'responses'], region: ['ap-south-1', 'eu-west-1'], source: ['probe'] },
      (e) =>
        ['embeddings', 'responses'].includes(e.endpoint) &&
        ['ap-south-1', 'eu-west-1'].includes(e.region ?? '') &&
        e.source === 'probe',
    ],
    ['no match', { endpoint: ['nope'] }, () => false],
  ];

  it.each(cases)('filters by %s', async (_name, filters, keep) => {
    const want = expected(ALL.from, ALL.to, keep);
    if (_name !== 'no match') expect(want.length).toBeGreaterThan(0);
    const page = await readTraces({ ...ALL, filters }, { tableName, now: NOW, limit: 1000 });
    expect(ids(page.items)).toEqual(want);
    expect(page.next).toBeNull();
  });

  it('treats from and to as inclusive, also for events sharing a millisecond', async () => {
    const sorted = [...EVENTS].sort(newestFirst);
    // A timestamp three events share, well inside the data.
    const shared = sorted[60]?.ts as number;
    expect(EVENTS.filter((e) => e.ts === shared)).toHaveLength(3);
    const upper = sorted[20]?.ts as number;
    const page = await readTraces(
      { from: shared, to: upper, filters: {} },
      { tableName, now: NOW, limit: 1000 },
    );
    expect(ids(page.items)).toEqual(expected(shared, upper));
    expect(page.items.filter((e) => e.ts === shared)).toHaveLength(3);
    expect(page.items.filter((e) => e.ts === upper).length).toBeGreaterThan(0);
    const inner = await readTraces(
      { from: shared + 1, to: upper - 1, filters: {} },
      {
        tableName,
        now: NOW,
        limit: 1000,
      },
    );
    expect(ids(inner.items)).toEqual(expected(shared + 1, upper - 1));
    expect(inner.items.some((e) => e.ts === shared || e.ts === upper)).toBe(false);
  });

  it('crosses hour boundaries exactly', async () => {
    const boundary = BASE + 2 * HOUR_MS;
    const after = await readTraces(
      { from: boundary, to: LAST, filters: {} },
      { tableName, now: NOW, limit: 1000 },
    );
    expect(ids(after.items)).toEqual(expected(boundary, LAST));
    expect(ids(after.items)).toContain('edge-on-hour');
    expect(ids(after.items)).not.toContain('edge-before-hour');
    const before = await readTraces(
      { from: FIRST, to: boundary - 1, filters: {} },
      {
        tableName,
        now: NOW,
        limit: 1000,
      },
    );
    expect(ids(before.items)).toEqual(expected(FIRST, boundary - 1));
    expect(ids(before.items)).toContain('edge-before-hour');
    expect(ids(before.items)).not.toContain('edge-on-hour');
    // A range of two milliseconds spanning the boundary: two partitions, both events.
    const both = await readTraces(
      { from: boundary - 1, to: boundary, filters: {} },
      {
        tableName,
        now: NOW,
        limit: 1000,
      },
    );
    expect(ids(both.items)).toEqual(['edge-on-hour', 'edge-before-hour']);
  });

  it.each([7, 50, 100])('pages with limit %i without duplicates or gaps', async (limit) => {
    const pages = await readAll(ALL, limit);
    const all = pages.flatMap((p) => ids(p.items));
    expect(all).toEqual(expected(ALL.from, ALL.to));
    expect(new Set(all).size).toBe(all.length);
    for (const page of pages.slice(0, -1)) expect(page.items).toHaveLength(limit);
    expect(pages.at(-1)?.next).toBeNull();
  });

  it('pages a filtered query the same way', async () => {
    const cases: [TraceFilters, (e: TraceEvent) => boolean][] = [
      [{ endpoint: ['chat'] }, (e) => e.endpoint === 'chat'],
      [{ ok: false, region: ['us-west-1', 'eu-west-1'] }, (e) => !e.ok && e.region !== 'ap-south-1'],
    ];
    for (const [filters, keep] of cases) {
      for (const limit of [7, 50]) {
        const pages = await readAll({ ...ALL, filters }, limit);
        expect(pages.flatMap((p) => ids(p.items))).toEqual(expected(ALL.from, ALL.to, keep));
      }
    }
  });

  it('bounds the items read per page, and paging still reaches the exact result', async () => {
    const query: TraceQuery = { ...ALL, filters: { errorType: ['auth'] } };
    const want = expected(ALL.from, ALL.to, (e) => e.errorType === 'auth');
    expect(want.length).toBeGreaterThan(1);
    const first = await readTraces(query, { tableName, now: NOW, limit: 100, maxScan: 20 });
    expect(first.scanned).toBeLessThanOrEqual(20);
    expect(first.items.length).toBeLessThan(want.length);
    expect(first.next).not.toBeNull();
    const pages = await readAll(query, 100, { maxScan: 20 });
    expect(pages.length).toBeGreaterThan(EVENTS.length / 20 - 1);
    for (const page of pages) expect(page.scanned).toBeLessThanOrEqual(20);
    expect(pages.flatMap((p) => ids(p.items))).toEqual(want);
    expect(pages.some((p) => p.items.length === 0 && p.next !== null)).toBe(true);
  });

  it('bounds the Query calls per page (empty hours cost one per shard) and resumes at an hour', async () => {
    const wide: TraceQuery = { from: BASE - 10 * HOUR_MS, to: NOW, filters: {} };
    const pages = await readAll(wide, 50, { maxQueries: 2 * EVENT_SHARDS });
    for (const page of pages) expect(page.queries).toBeLessThanOrEqual(2 * EVENT_SHARDS);
    expect(pages.flatMap((p) => ids(p.items))).toEqual(expected(wide.from, wide.to));
    expect(pages.some((p) => p.next?.sk === null)).toBe(true);
  });

  it('answers an empty range with no items and no cursor', async () => {
    const page = await readTraces(
      { from: LAST + 1, to: NOW, filters: {} },
      { tableName, now: NOW, limit: 10 },
    );
    expect(page).toMatchObject({ items: [], next: null });
  });
});

describe('query parts', () => {
  it('walks hours newest first, both ends included, without listing them', () => {
    const hours = (from: number, to: number) =>
      Array.from({ length: hourCount(from, to) }, (_, i) => hourKeyAt(to, i));
    expect(hours(Date.UTC(2026, 0, 1, 22, 59), Date.UTC(2026, 0, 2, 1, 0))).toEqual([
      'EV#2026-01-02T01',
      'EV#2026-01-02T00',
      'EV#2026-01-01T23',
      'EV#2026-01-01T22',
    ]);
    expect(hours(Date.UTC(2026, 0, 1, 5), Date.UTC(2026, 0, 1, 5, 59, 59, 999))).toEqual([
      'EV#2026-01-01T05',
    ]);
    // Any range is counted in constant time; an inverted one has no hours.
    expect(hourCount(0, 8_640_000_000_000_000)).toBe(2_400_000_001);
    expect(hourCount(2 * HOUR_MS, HOUR_MS)).toBe(0);
  });

  it('builds one FilterExpression from the filters, the TTL and the pending mark', () => {
    const filter = filterExpression({ endpoint: ['a', 'b'], ok: false, status: [500] }, 1000);
    expect(filter.expression).toBe(
      '#exp > :now AND attribute_not_exists(#pending) AND #endpoint IN (:endpoint0, :endpoint1) AND #ok = :ok0 AND #status = :status0',
    );
    expect(filter.values).toEqual({
      ':now': 1000,
      ':endpoint0': 'a',
      ':endpoint1': 'b',
      ':ok0': false,
      ':status0': 500,
    });
  });

  it('accepts only resume positions inside the query range', () => {
    const query: TraceQuery = {
      from: Date.UTC(2026, 0, 1, 10, 30),
      to: Date.UTC(2026, 0, 1, 12, 15),
      filters: {},
    };
    const ok = (pk: string, sk: string | null) => positionInRange({ pk, sk }, query);
    expect(ok('EV#2026-01-01T10', null)).toBe(true);
    expect(ok('EV#2026-01-01T12', `${Date.UTC(2026, 0, 1, 12, 15)}#x`)).toBe(true);
    expect(ok('EV#2026-01-01T09', null)).toBe(false);
    expect(ok('EV#2026-01-01T13', null)).toBe(false);
    expect(ok('EV#2026-01-01T1', null)).toBe(false);
    expect(ok('EV#2026-13-01T10', null)).toBe(false);
    expect(ok('RM#probe#2026-01-01', null)).toBe(false);
    // Sort key outside the range, in another hour than its partition, or malformed.
    expect(ok('EV#2026-01-01T12', `${Date.UTC(2026, 0, 1, 12, 16)}#x`)).toBe(false);
    expect(ok('EV#2026-01-01T11', `${Date.UTC(2026, 0, 1, 12, 0)}#x`)).toBe(false);
    expect(ok('EV#2026-01-01T11', `${Date.UTC(2026, 0, 1, 11, 0)}`)).toBe(false);
    expect(ok('EV#2026-01-01T11', 'abc#x')).toBe(false);
  });
});

describe('parseTracesRequest', () => {
  const secret = 'parse-test-secret-0123456789';
  const ctx = { now: NOW, retentionDays: 30, secret };
  const fieldOf = (params: Record<string, string>) => {
    try {
      parseTracesRequest(params, ctx);
    } catch (error) {
      if (error instanceof HttpProblem) return `${error.status} ${error.field}`;
      throw error;
    }
    return 'ok';
  };

  it('applies the defaults: the last 24 hours, 100 items, JSON', () => {
    expect(parseTracesRequest({}, ctx)).toEqual({
      query: { from: NOW - 24 * HOUR_MS, to: NOW, filters: {} },
      limit: 100,
      format: 'json',
      start: undefined,
    });
  });

  it('parses lists, trims values and drops duplicates', () => {
    const { query } = parseTracesRequest(
      { endpoint: 'chat, models,chat', status: '500,429', ok: 'false', errorType: 'auth', source: 'ingest' },
      ctx,
    );
    expect(query.filters).toEqual({
      endpoint: ['chat', 'models'],
      status: [500, 429],
      ok: false,
      errorType: ['auth'],
      source: ['ingest'],
    });
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '1001' }, 'limit'],
    [{ limit: 'abc' }, 'limit'],
    [{ limit: '1.5' }, 'limit'],
    [{ from: String(NOW), to: String(NOW - 1) }, 'from'],
    [{ from: String(NOW - 31 * 24 * HOUR_MS) }, 'from'],
    [{ to: String(NOW - 31 * 24 * HOUR_MS) }, 'to'],
    [{ to: String(NOW + 2 * 24 * HOUR_MS) }, 'to'],
    [{ from: 'yesterday' }, 'from'],
    [{ source: 'xyz' }, 'source'],
    [{ window: '0' }, 'window'],
    [{ window: 'abc' }, 'window'],
    [{ window: String(30 * 1440 + 1) }, 'window'],
    [{ window: '60', from: String(NOW - HOUR_MS) }, 'window'],
    [{ window: '60', to: String(NOW) }, 'window'],
    [{ ok: 'maybe' }, 'ok'],
    [{ errorType: 'bogus' }, 'errorType'],
    [{ errorType: 'auth,bogus' }, 'errorType'],
    [{ status: '99' }, 'status'],
    [{ status: '600' }, 'status'],
    [{ status: '500,abc' }, 'status'],
    [{ endpoint: '' }, 'endpoint'],
    [{ endpoint: 'a,,b' }, 'endpoint'],
    [{ model: 'x'.repeat(201) }, 'model'],
    [{ region: Array.from({ length: 51 }, (_, i) => `r${i}`).join(',') }, 'region'],
    [{ format: 'xml' }, 'format'],
    [{ cursor: 'garbage' }, 'cursor'],
    [{ endpoints: 'chat' }, 'endpoints'],
  ])('refuses %j naming %s', (params, field) => {
    expect(fieldOf(params)).toBe(`400 ${field}`);
  });

  it('accepts the edges: from exactly at retention, limit 1 and 1000, status 100 and 599', () => {
    expect(fieldOf({ from: String(NOW - 30 * 24 * HOUR_MS), limit: '1' })).toBe('ok');
    expect(fieldOf({ limit: '1000', status: '100,599' })).toBe('ok');
    expect(fieldOf({ from: String(NOW), to: String(NOW) })).toBe('ok');
  });

  it('takes window as the last N minutes ending now (the current minute included), and source=all', () => {
    const minute = Math.floor(NOW / MINUTE_MS) * MINUTE_MS;
    expect(parseTracesRequest({ window: '60', source: 'ALL' }, ctx).query).toEqual({
      from: minute - 59 * MINUTE_MS,
      to: NOW,
      filters: { source: ['probe', 'ingest', 'synthetic'] },
    });
    expect(fieldOf({ window: String(30 * 1440) })).toBe('ok');
  });

  it('keeps the default range within retention when only an old to is given', () => {
    const to = NOW - 30 * 24 * HOUR_MS + HOUR_MS;
    expect(parseTracesRequest({ to: String(to) }, ctx).query).toMatchObject({
      from: NOW - 30 * 24 * HOUR_MS,
      to,
    });
  });

  it('resumes from a cursor, taking its range when from and to are omitted', () => {
    const query: TraceQuery = { from: NOW - 5 * HOUR_MS, to: NOW - HOUR_MS, filters: { endpoint: ['chat'] } };
    const position: Position = {
      pk: `EV#${new Date(NOW - 2 * HOUR_MS).toISOString().slice(0, 13)}`,
      sk: null,
    };
    const cursor = traceCursor(query, position, secret);
    const parsed = parseTracesRequest({ cursor, endpoint: 'chat', format: 'csv' }, ctx);
    expect(parsed.query).toEqual(query);
    expect(parsed.start).toEqual(position);
    expect(parsed.format).toBe('csv');
    // The same range spelled out, and the filters in another order, are the same query.
    const again = parseTracesRequest(
      { cursor, endpoint: 'chat', from: String(query.from), to: String(query.to), limit: '5' },
      ctx,
    );
    expect(again.start).toEqual(position);
    // Other filters, another range, or another key: refused.
    expect(fieldOf({ cursor })).toBe('400 cursor');
    expect(fieldOf({ cursor, endpoint: 'models' })).toBe('400 cursor');
    expect(fieldOf({ cursor, endpoint: 'chat', to: String(query.to - 1) })).toBe('400 cursor');
    expect(() => parseTracesRequest({ cursor, endpoint: 'chat' }, { ...ctx, secret: 'other' })).toThrow(
      HttpProblem,
    );
  });

  it('refuses a correctly signed cursor whose position is outside its range', () => {
    const query: TraceQuery = { from: NOW - 5 * HOUR_MS, to: NOW - HOUR_MS, filters: {} };
    const outside = traceCursor(
      query,
      { pk: `EV#${new Date(NOW).toISOString().slice(0, 13)}`, sk: null },
      secret,
    );
    expect(fieldOf({ cursor: outside })).toBe('400 cursor');
  });
});
