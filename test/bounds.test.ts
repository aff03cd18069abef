/**
 * Every request's work is bounded whatever its parameters (house rule 7),
 * through the HTTP surface of every read route: ranges refused or clamped
 * against retention and now (cursors included), plans over a ceiling refused
 * before any DynamoDB Query, a cursor key that cannot be guessed, and query
 * parameters that cannot reach a prototype or smuggle in a number.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as incidentsHandler } from '../functions/incidents/handler.js';
import { handler as histogramHandler } from '../functions/latency_histogram/handler.js';
import { handler as statusHandler } from '../functions/status/handler.js';
import { handler as timeseriesHandler } from '../functions/timeseries/handler.js';
import { handler as tracesHandler } from '../functions/traces/handler.js';
import { dynamoClient } from '../shared/aws.js';
import { getConfig } from '../shared/config.js';
import type { TraceEvent } from '../shared/events/model.js';
import { SOURCES } from '../shared/events/model.js';
import { recordEvents } from '../shared/store/events.js';
import { DAY_MS, HOUR_MS, hourOf, MINUTE_MS, ROLLUP_SHARDS } from '../shared/store/keys.js';
import { MAX_QUERIES_PER_REQUEST, type TraceQuery, traceCursor } from '../shared/traces/query.js';
import { traceEvents } from './fixtures.js';
import { invokeHttp, ManualClock, setEnv, useClock, useFreshStore } from './helpers.js';

// A fixed "now" 30 minutes into an hour.
const NOW = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS + 30 * MINUTE_MS;
const YEAR_MS = 365 * DAY_MS;

const ROLLUP_ROUTES = [
  ['/status', statusHandler],
  ['/timeseries', timeseriesHandler],
  ['/latency_histogram', histogramHandler],
  ['/incidents', incidentsHandler],
] as const;
const READ_ROUTES = [...ROLLUP_ROUTES, ['/traces', tracesHandler]] as const;

// biome-ignore lint/suspicious/noExplicitAny: loosely typed JSON answers keep the assertions readable
type Body = Record<string, any>;

/**
 * Invokes a handler and counts the DynamoDB Query calls it sends, with a
 * middleware on the SDK client the handlers share.
 */
async function call(
  handler: (typeof READ_ROUTES)[number][1],
  path: string,
  query: Record<string, string | number> = {},
): Promise<{ status: number; body: Body; queries: number }> {
  const stack = dynamoClient().middlewareStack;
  let queries = 0;
  stack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'QueryCommand') queries++;
      return next(args);
    },
    { step: 'initialize', name: 'countQueriesForTest' },
  );
  try {
    const res = await invokeHttp(handler, { path, query });
    return { status: res.statusCode, body: res.json<Body>(), queries };
  } finally {
    stack.remove('countQueriesForTest');
  }
}

const event = traceEvents('b');
const ev = (endpoint: string, ts: number): TraceEvent => event({ ts, endpoint });

let restoreClock: () => void;
let tableName = '';
beforeAll(async () => {
  ({ tableName } = await useFreshStore());
  restoreClock = useClock(new ManualClock(NOW));
  await recordEvents(
    [1, 2, 3, 4, 5].flatMap((m) => [
      ev('chat', NOW - m * MINUTE_MS),
      ev('models', NOW - m * MINUTE_MS - 1000),
    ]),
    { tableName, retentionDays: 30, rollupRetentionDays: 400 },
  );
});
afterAll(() => restoreClock());

describe('ranges on the rollup routes (/status, /timeseries, /latency_histogram, /incidents)', () => {
  it.each(ROLLUP_ROUTES)(
    '%s: `to` years ahead is a 400 naming to, before any query',
    async (path, handler) => {
      const { status, body, queries } = await call(handler, path, {
        from: NOW - HOUR_MS,
        to: NOW + 5 * YEAR_MS,
      });
      expect(status).toBe(400);
      expect(body).toMatchObject({ field: 'to' });
      expect(body.detail).toMatch(/^to: in the future: at most 5 minutes ahead of the server clock/);
      expect(queries).toBe(0);
    },
  );

  it.each(ROLLUP_ROUTES)(
    '%s: `to` a couple of minutes ahead is clamped to now, in a few queries',
    async (path, handler) => {
      const { status, body, queries } = await call(handler, path, {
        from: NOW - HOUR_MS,
        to: NOW + 2 * MINUTE_MS,
      });
      expect(status).toBe(200);
      const to = path === '/status' ? body.window.to : body.to;
      expect(to).toBe(path === '/timeseries' ? Math.max(NOW, body.from + body.bucketMs) : NOW);
      expect(body.meta.queries).toBe(queries);
      expect(queries).toBeGreaterThan(0);
      // At most 6 rollup partitions, each read on every shard.
      expect(queries).toBeLessThanOrEqual(6 * ROLLUP_SHARDS);
    },
  );

  it.each(ROLLUP_ROUTES)(
    '%s: `from` past retention is a 400 naming from and the limit',
    async (path, handler) => {
      const { status, body, queries } = await call(handler, path, { from: NOW - 31 * DAY_MS, to: NOW });
      expect(status).toBe(400);
      expect(body.field).toBe('from');
      expect(body.detail).toContain(
        `data is kept 30 days (RETENTION_DAYS), so from must be at least ${NOW - 30 * DAY_MS}`,
      );
      expect(queries).toBe(0);
    },
  );

  it('refuses a plan over the bucket ceiling before any query, naming the limit', async () => {
    // 20 days of minute rollups (a 59-minute bucket is not hourly) for every source: 28,800 buckets each.
    const { status, body, queries } = await call(timeseriesHandler, '/timeseries', {
      window: 20 * 1440,
      bucket: '59m',
      source: 'all',
    });
    expect(status).toBe(400);
    expect(body.field).toBe('range');
    expect(body.detail).toMatch(
      /^range: would read \d+ rollup buckets .*; at most 20000 per request; narrow from\/to/,
    );
    expect(body.limit).toMatchObject({ name: 'rollupBucketsPerRequest', max: 20_000 });
    // The read starts on a bucket boundary, up to one bucket before from, for every source.
    const buckets = 20 * 1440 * SOURCES.length;
    expect(body.limit.requested).toBeGreaterThanOrEqual(buckets);
    expect(body.limit.requested).toBeLessThan(buckets + SOURCES.length * 59);
    expect(queries).toBe(0);
  });

  it('refuses a ten-year window with a long retention on every rollup route, before any query', async () => {
    const restore = setEnv({ RETENTION_DAYS: '3650' });
    try {
      for (const [path, handler] of ROLLUP_ROUTES) {
        const { status, body, queries } = await call(handler, path, { window: 3650 * 1440, source: 'all' });
        expect(status, path).toBe(400);
        expect(body.limit?.name, path).toBe('rollupBucketsPerRequest');
        expect(queries, path).toBe(0);
      }
    } finally {
      restore();
    }
  });
});

describe('/traces cursors', () => {
  const key = () => getConfig().cursorSecret as string;
  const top = (to: number) => ({ pk: `EV#${hourOf(to)}`, sk: null });
  const range = (from: number, to: number): TraceQuery => ({ from, to, filters: {} });

  it('refuses a cursor signed with the key the server used to derive from the table name', async () => {
    const derived = createHash('sha256')
      .update(`openai-status/traces-cursor/${tableName}`)
      .digest('base64url');
    const forged = traceCursor(range(NOW - 60 * DAY_MS, NOW), top(NOW), derived);
    const { status, body, queries } = await call(tracesHandler, '/traces', { cursor: forged });
    expect(status).toBe(400);
    expect(body).toMatchObject({ field: 'cursor' });
    expect(body.detail).toContain('bad signature');
    expect(queries).toBe(0);
  });

  it('answers 500 naming CURSOR_SECRET when no key is configured, and never falls back to a derived one', async () => {
    const derived = createHash('sha256')
      .update(`openai-status/traces-cursor/${tableName}`)
      .digest('base64url');
    const restore = setEnv({ CURSOR_SECRET: undefined });
    try {
      const forged = traceCursor(range(NOW - HOUR_MS, NOW), top(NOW), derived);
      for (const query of [{}, { cursor: forged }] as Record<string, string>[]) {
        const { status, body, queries } = await call(tracesHandler, '/traces', query);
        expect(status).toBe(500);
        expect(body.detail).toContain('CURSOR_SECRET is not set');
        expect(queries).toBe(0);
      }
    } finally {
      restore();
    }
  });

  it('refuses a genuinely signed cursor whose range is past retention or in the future, before any query', async () => {
    const cases = [
      range(NOW - 60 * DAY_MS, NOW - 59 * DAY_MS),
      range(NOW - HOUR_MS, NOW + 30 * DAY_MS),
      range(NOW - 40 * DAY_MS, NOW),
    ];
    for (const query of cases) {
      const cursor = traceCursor(query, top(query.to), key());
      const { status, body, queries } = await call(tracesHandler, '/traces', { cursor });
      expect(status, JSON.stringify(query)).toBe(400);
      expect(body.field).toBe('cursor');
      expect(body.detail).toMatch(
        /^cursor: its range is refused: (from past retention|to past retention|to in the future)/,
      );
      expect(queries).toBe(0);
    }
  });

  it('refuses a signed cursor spanning all of time at once, without walking it', async () => {
    const query = range(0, 8_640_000_000_000_000);
    const { status, body, queries } = await call(tracesHandler, '/traces', {
      cursor: traceCursor(query, top(NOW), key()),
    });
    expect(status).toBe(400);
    expect(body.field).toBe('cursor');
    expect(queries).toBe(0);
  });

  it('keeps paging a query whose from slipped past retention since, and refuses another range', async () => {
    // Issued a few hours ago over the whole retention: its from is now a few hours past it.
    const query = range(NOW - 30 * DAY_MS - 3 * HOUR_MS, NOW - 3 * HOUR_MS);
    const cursor = traceCursor(query, top(query.to), key());
    const ok = await call(tracesHandler, '/traces', { cursor, from: query.from, limit: 10 });
    expect(ok.status).toBe(200);
    expect(ok.queries).toBeLessThanOrEqual(MAX_QUERIES_PER_REQUEST);
    const other = await call(tracesHandler, '/traces', { cursor, to: query.to - 1 });
    expect(other.status).toBe(400);
    expect(other.body.detail).toContain('belongs to a different range');
  });

  it('refuses a fresh query past retention or with to more than 5 minutes ahead', async () => {
    for (const [query, field] of [
      [{ from: NOW - 31 * DAY_MS }, 'from'],
      [{ to: NOW + 6 * MINUTE_MS }, 'to'],
      [{ from: NOW - HOUR_MS, to: NOW + 5 * YEAR_MS }, 'to'],
    ] as const) {
      const { status, body, queries } = await call(tracesHandler, '/traces', query);
      expect(status, JSON.stringify(query)).toBe(400);
      expect(body.field).toBe(field);
      expect(queries).toBe(0);
    }
    // A little ahead (client clocks): taken as given, since it names the query its cursors belong to.
    const ahead = await call(tracesHandler, '/traces', { from: NOW - HOUR_MS, to: NOW + 4 * MINUTE_MS });
    expect(ahead.status).toBe(200);
  });
});

describe('query parameters on every read route', () => {
  it.each(READ_ROUTES)(
    '%s: refuses Object.prototype names as unknown parameters, polluting nothing',
    async (path, handler) => {
      for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__defineGetter__']) {
        const res = await invokeHttp(handler, { path: `${path}?${name}=1` });
        expect(res.statusCode, name).toBe(400);
        const body = res.json<Body>();
        expect(body.field, name).toBe(name);
        expect(body.detail, name).toContain('unknown parameter (a reserved name)');
      }
      const nested = await invokeHttp(handler, {
        path: `${path}?__proto__[polluted]=1&constructor[prototype][polluted]=1`,
      });
      expect(nested.statusCode).toBe(400);
      expect(({} as Body).polluted).toBeUndefined();
    },
  );

  it.each([
    [
      '/status',
      'window',
      statusHandler,
      ['0x10', '1e3', '0o17', '0b11', ' 60', '60 ', '+60', '-1', '60.0', '060', ''],
    ],
    ['/status', 'from', statusHandler, [`0x${(NOW - HOUR_MS).toString(16)}`, `${(NOW - HOUR_MS) / 1000}e3`]],
    ['/timeseries', 'bucket', timeseriesHandler, ['0x3c', '1e1m', ' 5m', '5m ', '+5m']],
    ['/latency_histogram', 'bins', histogramHandler, ['0x10', '1e1', ' 8', '0b1000']],
    ['/incidents', 'to', incidentsHandler, [`${NOW / 1000}e3`, `0x${NOW.toString(16)}`]],
    ['/traces', 'limit', tracesHandler, ['0x10', '1e2', ' 10', '10 ']],
    ['/traces', 'from', tracesHandler, [`${(NOW - HOUR_MS) / 1000}e3`, ` ${NOW - HOUR_MS}`]],
  ] as const)(
    '%s: %s refuses numbers that are not plain decimal digits',
    async (path, name, handler, values) => {
      for (const value of values) {
        const res = await invokeHttp(handler, { path, query: { [name]: value } });
        expect(res.statusCode, `${name}=${JSON.stringify(value)}`).toBe(400);
        expect(res.json<Body>().field).toBe(name);
      }
    },
  );

  it.each(READ_ROUTES)('%s: the same list limits for endpoint, model and region', async (path, handler) => {
    const tooMany = Array.from({ length: 51 }, (_, i) => `e${i}`).join(',');
    for (const name of ['endpoint', 'model', 'region']) {
      for (const [value, message] of [
        [tooMany, 'at most 50 comma-separated values'],
        ['x'.repeat(201), 'a non-empty value of at most 200 characters'],
        ['chat,,models', 'a non-empty value'],
      ]) {
        const res = await invokeHttp(handler, { path, query: { [name]: value as string } });
        expect(res.statusCode, `${path} ${name}`).toBe(400);
        expect(res.json<Body>()).toMatchObject({
          field: name,
          detail: expect.stringContaining(message as string),
        });
      }
      const fifty = Array.from({ length: 50 }, (_, i) => `e${i}`).join(',');
      expect(
        (await invokeHttp(handler, { path, query: { [name]: fifty } })).statusCode,
        `${path} ${name}`,
      ).toBe(200);
    }
  });

  it('the same bad range or filter gets the same answer, word for word, on every read route', async () => {
    const bad: Record<string, string | number>[] = [
      { window: 'abc' },
      { window: 0 },
      { window: 30 * 1440 + 1 },
      { window: 60, from: NOW - HOUR_MS },
      { window: '60,120' },
      { from: 'yesterday' },
      { from: NOW - 31 * DAY_MS },
      { to: NOW + 2 * DAY_MS },
      { from: NOW, to: NOW - 1 },
      { source: 'xyz' },
      { source: 'probe,' },
      { endpoint: '' },
      { model: 'x'.repeat(201) },
    ];
    for (const query of bad) {
      const answers = [];
      for (const [path, handler] of READ_ROUTES) {
        const { status, body, queries } = await call(handler, path, query);
        answers.push({ status, field: body.field, detail: body.detail, queries });
      }
      const [status] = answers;
      expect(status?.status, JSON.stringify(query)).toBe(400);
      expect(status?.queries).toBe(0);
      for (const [i, answer] of answers.entries()) {
        expect(answer, `${READ_ROUTES[i]?.[0]} ${JSON.stringify(query)}`).toEqual(status);
      }
    }
  });

  it('takes window on /traces as on /status: the last N minutes ending now, paged within it', async () => {
    const status = (await call(statusHandler, '/status', { window: 3 })).body;
    expect(status.window).toMatchObject({ from: NOW - 2 * MINUTE_MS, to: NOW, minutes: 3 });
    const { status: code, body } = await call(tracesHandler, '/traces', { window: 3 });
    expect(code).toBe(200);
    expect(body.items).toHaveLength(status.overall.total);
    expect(body.items.length).toBe(3);
    for (const item of body.items) expect(item.ts).toBeGreaterThanOrEqual(NOW - 2 * MINUTE_MS);
    // Paged: the cursor resumes with the same window (or none), not with another.
    const first = (await call(tracesHandler, '/traces', { window: 3, limit: 2 })).body;
    expect(first.items).toHaveLength(2);
    const rest = await call(tracesHandler, '/traces', { window: 3, limit: 2, cursor: first.nextCursor });
    expect(rest.status).toBe(200);
    expect([...first.items, ...rest.body.items]).toEqual(body.items);
    expect((await call(tracesHandler, '/traces', { cursor: first.nextCursor })).status).toBe(200);
    const other = await call(tracesHandler, '/traces', { window: 4, cursor: first.nextCursor });
    expect(other).toMatchObject({ status: 400, body: { field: 'cursor' } });
  });

  it('joins a repeated parameter with commas, as API Gateway does: a list takes both, a single value refuses', async () => {
    const both = await invokeHttp(statusHandler, { path: '/status?endpoint=chat&endpoint=models' });
    expect(both.statusCode).toBe(200);
    expect(both.json<Body>().filters.endpoint).toEqual(['chat', 'models']);
    expect(both.json<Body>().overall.total).toBe(10);
    const traces = await invokeHttp(tracesHandler, {
      path: '/traces?endpoint=chat&endpoint=models&limit=100',
    });
    expect(traces.json<Body>().items).toHaveLength(10);
    for (const [path, handler, query] of [
      ['/status', statusHandler, 'window=60&window=120'],
      ['/traces', tracesHandler, 'limit=5&limit=10'],
      ['/latency_histogram', histogramHandler, 'bins=5&bins=6'],
    ] as const) {
      const res = await invokeHttp(handler, { path: `${path}?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json<Body>().detail, query).toContain('given more than once?');
    }
  });
});
