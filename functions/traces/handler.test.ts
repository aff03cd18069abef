import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoClient } from '../../shared/aws.js';
import { getConfig } from '../../shared/config.js';
import type { TraceEvent } from '../../shared/events/model.js';
import { eventItem, recordEvents } from '../../shared/store/events.js';
import { floorTo, HOUR_MS, MINUTE_MS } from '../../shared/store/keys.js';
import { cursorKey } from '../../shared/traces/cursor.js';
import { exportHeaders, exportTraces } from '../../shared/traces/export.js';
import { traceCursor } from '../../shared/traces/query.js';
import { invokeHttp, ManualClock, useClock, useFreshStore } from '../../test/helpers.js';
import { handler } from './handler.js';

// Fixed at file start; the handler's clock is pinned to it.
const NOW = Date.now();
const BASE = floorTo(NOW, HOUR_MS) - 6 * HOUR_MS;
const ENDPOINTS = ['chat', 'embeddings', 'models'];
const FORMULA_ENDPOINT = '=HYPERLINK("x")';
const AWKWARD_MESSAGE = '+1, "quoted"\nsecond line';

const traceIdOf = (i: number) => `${Math.floor(i / 20)}`.padStart(32, 'a');

/** 130 events over three hours; pairs share a timestamp; a few carry CSV-hostile text. */
function makeEvents(): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (let i = 0; i < 130; i++) {
    const failing = i % 7 === 1;
    events.push({
      id: `h${(i * 31) % 130}-${i}`,
      ts: BASE + 20 * MINUTE_MS + Math.floor(i / 2) * 150_000,
      source: i % 4 === 0 ? 'ingest' : 'probe',
      endpoint: i === 17 ? FORMULA_ENDPOINT : (ENDPOINTS[i % 3] as string),
      model: i % 2 === 0 ? 'gpt-4o-mini' : 'text-embedding-3-small',
      region: i % 5 === 0 ? 'eu-west-1' : 'us-west-1',
      upstream: 'simulated',
      ok: !failing,
      ...(failing
        ? {
            errorType: i % 4 === 1 ? 'server_error' : 'rate_limited',
            status: i % 4 === 1 ? 503 : 429,
            errorMessage: i === 22 ? AWKWARD_MESSAGE : 'failed',
          }
        : { status: 200 }),
      latencyMs: 50 + i,
      usage: { input: 3, output: 4 },
      costUsd: 0.0001,
      // Pairs of calls share a trace (a call and its retry): 3 and 13, 23 and 33, …
      ...(i % 10 === 3 ? { traceId: traceIdOf(i) } : {}),
    });
  }
  return events;
}

const EVENTS = makeEvents();
const newestFirst = (a: TraceEvent, b: TraceEvent) => b.ts - a.ts || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
const SORTED = [...EVENTS].sort(newestFirst);
const idsOf = (events: readonly TraceEvent[]) => events.map((e) => e.id);

interface Page {
  items: TraceEvent[];
  nextCursor: string | null;
  scanned: number;
}

const get = (query: Record<string, string | number>) => invokeHttp(handler, { path: '/traces', query });

/** Follows nextCursor to the end; `first` is the query of the first page, `repeat` what each next page repeats. */
async function pageAll(
  first: Record<string, string | number>,
  repeat: Record<string, string | number>,
): Promise<Page[]> {
  const pages: Page[] = [];
  let res = await get(first);
  for (;;) {
    expect(res.statusCode, res.text).toBe(200);
    const page = res.json<Page>();
    pages.push(page);
    if (page.nextCursor === null) return pages;
    if (pages.length > 100) throw new Error('paging does not end');
    res = await get({ ...repeat, cursor: page.nextCursor });
  }
}

/** RFC 4180 parser, to read the export back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

describe('GET /traces', () => {
  let restoreClock: () => void;
  let tableName = '';
  beforeAll(async () => {
    restoreClock = useClock(new ManualClock(NOW));
    ({ tableName } = await useFreshStore());
    await recordEvents(EVENTS, { tableName, retentionDays: 30, rollupRetentionDays: 400 });
    const expired: TraceEvent = {
      id: 'gone',
      ts: BASE + HOUR_MS,
      source: 'probe',
      endpoint: 'chat',
      ok: true,
      latencyMs: 1,
    };
    await dynamoClient().send(
      new PutCommand({
        TableName: tableName,
        Item: { ...eventItem(expired, 30), expiresAt: Math.floor(NOW / 1000) - 1 },
      }),
    );
  });
  afterAll(() => restoreClock());

  it('answers the last 24 hours newest first, as JSON', async () => {
    const res = await get({ limit: 1000 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('no-store');
    const page = res.json<Page>();
    expect(Object.keys(page).sort()).toEqual(['items', 'nextCursor', 'scanned']);
    expect(page.items).toEqual(SORTED);
    expect(idsOf(page.items)).not.toContain('gone');
    expect(page.nextCursor).toBeNull();
    expect(page.scanned).toBe(EVENTS.length + 1);
    expect(page.items[0]).not.toHaveProperty('pk');
    expect(page.items[0]).not.toHaveProperty('expiresAt');
  });

  it('returns 100 items by default, with a cursor that needs neither from nor to', async () => {
    const first = (await get({})).json<Page>();
    expect(idsOf(first.items)).toEqual(idsOf(SORTED.slice(0, 100)));
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await get({ cursor: first.nextCursor as string })).json<Page>();
    expect(idsOf(second.items)).toEqual(idsOf(SORTED.slice(100)));
    expect(second.nextCursor).toBeNull();
  });

  it.each([7, 50, 100])('pages with limit %i, the cursor alone carrying the range', async (limit) => {
    const pages = await pageAll({ limit }, { limit });
    const all = pages.flatMap((p) => idsOf(p.items));
    expect(all).toEqual(idsOf(SORTED));
    expect(new Set(all).size).toBe(all.length);
    expect(pages.at(-1)?.nextCursor).toBeNull();
  });

  it('pages a filtered range given explicitly', async () => {
    const from = BASE + HOUR_MS;
    const to = BASE + 2 * HOUR_MS + 30 * MINUTE_MS;
    const query = { from, to, endpoint: 'chat,models', ok: 'false', limit: 3 };
    const pages = await pageAll(query, query);
    const want = SORTED.filter(
      (e) => e.ts >= from && e.ts <= to && (e.endpoint === 'chat' || e.endpoint === 'models') && !e.ok,
    );
    expect(want.length).toBeGreaterThan(3);
    expect(pages.flatMap((p) => idsOf(p.items))).toEqual(idsOf(want));
  });

  it.each([
    [{ status: '429' }, (e: TraceEvent) => e.status === 429],
    [{ errorType: 'server_error,rate_limited' }, (e: TraceEvent) => !e.ok],
    [
      { source: 'ingest', region: 'eu-west-1' },
      (e: TraceEvent) => e.source === 'ingest' && e.region === 'eu-west-1',
    ],
    [{ model: 'gpt-4o-mini', ok: 'true' }, (e: TraceEvent) => e.model === 'gpt-4o-mini' && e.ok],
    [{ endpoint: FORMULA_ENDPOINT }, (e: TraceEvent) => e.endpoint === FORMULA_ENDPOINT],
  ])('filters by %j', async (filters, keep) => {
    const res = await get({ ...filters, limit: 1000 });
    expect(res.statusCode).toBe(200);
    const want = SORTED.filter(keep);
    expect(want.length).toBeGreaterThan(0);
    expect(idsOf(res.json<Page>().items)).toEqual(idsOf(want));
  });

  it('finds the calls of one trace by its id, and only them', async () => {
    const traceId = traceIdOf(23);
    const res = await get({ traceId, from: BASE, to: NOW, limit: 1000 });
    expect(res.statusCode, res.text).toBe(200);
    const page = res.json<Page>();
    expect(idsOf(page.items)).toEqual(idsOf(SORTED.filter((e) => e.traceId === traceId)));
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBeNull();
    // A trace id no call carries: nothing, and no Scan (the range's Queries read its items once).
    const none = (await get({ traceId: 'f'.repeat(32), from: BASE, to: NOW })).json<Page>();
    expect(none.items).toEqual([]);
    expect(none.scanned).toBe(EVENTS.length + 1);
  });

  it('answers an empty range with no items and no cursor', async () => {
    const res = await get({ from: NOW - 60_000, to: NOW });
    expect(res.statusCode).toBe(200);
    expect(res.json<Page>()).toEqual({ items: [], nextCursor: null, scanned: 0 });
  });

  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 1001 }, 'limit'],
    [{ limit: 'abc' }, 'limit'],
    [{ from: NOW, to: NOW - 1 }, 'from'],
    [{ from: NOW - 31 * 24 * HOUR_MS }, 'from'],
    [{ source: 'xyz' }, 'source'],
    [{ window: 0 }, 'window'],
    [{ window: 60, from: NOW - HOUR_MS }, 'window'],
    [{ ok: 'maybe' }, 'ok'],
    [{ errorType: 'bogus' }, 'errorType'],
    [{ status: 99 }, 'status'],
    [{ traceId: 'A'.repeat(32) }, 'traceId'],
    [{ traceId: 'a'.repeat(31) }, 'traceId'],
    [{ format: 'xml' }, 'format'],
    [{ endpoint: 'x'.repeat(201) }, 'endpoint'],
    [{ cursor: 'not-a-cursor' }, 'cursor'],
    [{ bogus: 1 }, 'bogus'],
  ])('answers %j with 400 naming %s', async (query, field) => {
    const res = await get(query);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const problem = res.json<{ status: number; field: string; detail: string }>();
    expect(problem).toMatchObject({ status: 400, field });
    expect(problem.detail).toMatch(new RegExp(`^${field}: `));
  });

  it('says "past retention" for a from older than RETENTION_DAYS', async () => {
    const res = await get({ from: NOW - 31 * 24 * HOUR_MS });
    expect(res.json<{ detail: string }>().detail).toContain('past retention');
  });

  it('refuses a tampered or truncated cursor, and a cursor replayed with other filters or range', async () => {
    const { nextCursor } = (await get({ endpoint: 'chat', limit: 5 })).json<Page>();
    const cursor = nextCursor as string;
    const middle = Math.floor(cursor.length / 2);
    const flipped = `${cursor.slice(0, middle)}${cursor[middle] === 'A' ? 'B' : 'A'}${cursor.slice(middle + 1)}`;
    const lastFlipped = `${cursor.slice(0, -1)}${cursor.endsWith('A') ? 'B' : 'A'}`;
    const replays: Record<string, string | number>[] = [
      { endpoint: 'chat', cursor: flipped },
      { endpoint: 'chat', cursor: lastFlipped },
      { endpoint: 'chat', cursor: cursor.slice(0, -3) },
      { endpoint: 'models', cursor },
      { cursor },
      { endpoint: 'chat', ok: 'true', cursor },
      { endpoint: 'chat', from: BASE, cursor },
    ];
    for (const query of replays) {
      const res = await get(query);
      expect(res.statusCode, JSON.stringify(query)).toBe(400);
      expect(res.json()).toMatchObject({ field: 'cursor' });
    }
    // The genuine cursor with the same filters works, with any page size.
    expect((await get({ endpoint: 'chat', cursor, limit: 2 })).statusCode).toBe(200);
  });

  it('exports CSV: header, every row, quoting and formula neutralization, as a download', async () => {
    const from = BASE;
    const to = NOW;
    const res = await get({ format: 'csv', from, to, limit: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="traces-${from}-${to}.csv"`);
    expect(res.headers['x-export-capped']).toBe('false');
    expect(res.headers['x-export-rows']).toBe(String(EVENTS.length));
    expect(res.headers['x-export-next-cursor']).toBeUndefined();
    const rows = parseCsv(res.text);
    const header = rows[0] as string[];
    expect(header.slice(0, 13)).toEqual([
      'id',
      'ts',
      'time',
      'source',
      'endpoint',
      'model',
      'region',
      'upstream',
      'ok',
      'status',
      'errorType',
      'errorMessage',
      'latencyMs',
    ]);
    expect(header).toHaveLength(32);
    expect(rows).toHaveLength(EVENTS.length + 1);
    expect(rows.slice(1).map((r) => r[0])).toEqual(idsOf(SORTED));
    for (const row of rows) expect(row).toHaveLength(32);
    const col = (name: string) => header.indexOf(name);
    const formula = rows.find((r) => r[0] === EVENTS[17]?.id) as string[];
    expect(formula[col('endpoint')]).toBe(`'${FORMULA_ENDPOINT}`);
    const awkward = rows.find((r) => r[0] === EVENTS[22]?.id) as string[];
    expect(awkward[col('errorMessage')]).toBe(`'${AWKWARD_MESSAGE}`);
    expect(res.text).toContain(`"'+1, ""quoted""\nsecond line"`);
    expect(awkward[col('time')]).toBe(new Date(EVENTS[22]?.ts as number).toISOString());
    expect(awkward[col('costUsd')]).toBe('0.0001');
  });

  it('exports NDJSON whose lines parse back to the events', async () => {
    const res = await get({ format: 'ndjson', endpoint: 'chat' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="traces-\d+-\d+\.ndjson"$/);
    const lines = res.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(SORTED.filter((e) => e.endpoint === 'chat'));
  });

  it('continues a capped export from its next cursor, exactly where it stopped', async () => {
    const query = { from: BASE, to: NOW, filters: {} };
    const capped = await exportTraces(query, { tableName, now: NOW, format: 'csv', maxRows: 40 });
    expect(capped).toMatchObject({ rows: 40, cappedBy: 'rows' });
    const nextCursor = traceCursor(
      query,
      capped.next as NonNullable<typeof capped.next>,
      cursorKey(getConfig()),
    );
    expect(
      exportHeaders({ format: 'csv', from: BASE, to: NOW, rows: 40, cappedBy: capped.cappedBy, nextCursor }),
    ).toMatchObject({
      'x-export-capped': 'true',
      'x-export-rows': '40',
      'x-export-next-cursor': nextCursor,
    });
    // The rest, through the API, from that cursor (and the cursor works for JSON pages too).
    const rest = await get({ format: 'csv', cursor: nextCursor });
    expect(rest.statusCode).toBe(200);
    expect(rest.headers['x-export-rows']).toBe(String(EVENTS.length - 40));
    const ids = [...parseCsv(capped.body).slice(1), ...parseCsv(rest.text).slice(1)].map((r) => r[0]);
    expect(ids).toEqual(idsOf(SORTED));
    const page = (await get({ cursor: nextCursor, limit: 5 })).json<Page>();
    expect(idsOf(page.items)).toEqual(idsOf(SORTED.slice(40, 45)));
  });
});
