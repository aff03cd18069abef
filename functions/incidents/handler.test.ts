import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '../../shared/config.js';
import type { TraceEvent } from '../../shared/events/model.js';
import { INCIDENTS_KEY } from '../../shared/incidents/store.js';
import { s3Client } from '../../shared/s3.js';
import { recordEvents } from '../../shared/store/events.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../shared/store/keys.js';
import { traceEvents } from '../../test/fixtures.js';
import { invokeHttp, ManualClock, setEnv, useClock, useFreshStore } from '../../test/helpers.js';
import { handler } from './handler.js';

// A fixed "now" 40 minutes and 15 s into an hour.
const NOW = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS + 40 * MINUTE_MS + 15_000;
const minutesAgo = (m: number, s = 0) => NOW - m * MINUTE_MS - s * 1000;
const minuteStart = (ts: number) => Math.floor(ts / MINUTE_MS) * MINUTE_MS;

const KEY = 'test-ingest-key-0123';
const OUTAGE = [30, 29, 28, 27, 26]; // minutes ago: chat answers 500 to everything

const ev = traceEvents('e', { latencyMs: 250 });

// chat and models once a minute for the last hour (two regions for chat); chat fails for 5 minutes.
const events: TraceEvent[] = [];
for (let m = 1; m <= 60; m++) {
  const down = OUTAGE.includes(m);
  for (const region of ['us-west-1', 'eu-west-1']) {
    events.push(
      ev({
        ts: minutesAgo(m, 10),
        endpoint: 'chat',
        region,
        ...(down ? { ok: false, status: 500, errorType: 'server_error' as const } : {}),
      }),
    );
  }
  events.push(ev({ ts: minutesAgo(m, 20), endpoint: 'models', model: undefined, latencyMs: 80 }));
}

const outageStart = minuteStart(minutesAgo(30, 10));
const outageEnd = minuteStart(minutesAgo(26, 10)) + MINUTE_MS;

const declared = {
  past: {
    id: 'inc-past',
    start: minutesAgo(120),
    end: minutesAgo(100),
    severity: 'high',
    title: 'Declared outage',
  },
  ongoing: {
    id: 'inc-ongoing',
    start: minutesAgo(10),
    severity: 'low',
    title: 'Investigating slow chat',
    description: 'Some users report slow answers.',
    endpoints: ['chat'],
  },
  old: {
    id: 'inc-old',
    start: NOW - 3 * DAY_MS,
    end: NOW - 3 * DAY_MS + HOUR_MS,
    severity: 'critical',
    title: 'Three days ago',
  },
};
const allDeclared = [declared.past, declared.ongoing, declared.old];

// biome-ignore lint/suspicious/noExplicitAny: loosely typed JSON answers keep the assertions readable
type Body = Record<string, any>;
const get = async (query: Record<string, string | number> = {}) => {
  const res = await invokeHttp(handler, { path: '/incidents', query });
  return { status: res.statusCode, body: res.json<Body>() };
};
const put = async (body: unknown, headers: Record<string, string> = { 'x-api-key': KEY }) => {
  const res = await invokeHttp(handler, { method: 'PUT', path: '/incidents', body, headers });
  return { status: res.statusCode, body: res.json<Body>() };
};

let restoreClock: () => void;
beforeAll(async () => {
  const { tableName } = await useFreshStore();
  await recordEvents(events, { tableName, retentionDays: 30, rollupRetentionDays: 400 });
  restoreClock = useClock(new ManualClock(NOW));
});
afterAll(() => restoreClock());

describe('GET /incidents', () => {
  it('detects a 5-minute outage exactly, with no declared incidents yet (no incidents.json)', async () => {
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body.from).toBe(minuteStart(NOW) - 1439 * MINUTE_MS);
    expect(body.to).toBe(NOW);
    expect(body.warnings).toBeUndefined();
    expect(body.thresholds).toEqual({ successRatePercent: 90, p95Ms: 10_000, minMinutes: 3 });
    expect(body.meta).toMatchObject({ declared: 0, detected: 1, detection: { resolution: 'minute' } });
    expect(body.items).toEqual([
      {
        id: `detected:chat:${outageStart}`,
        kind: 'detected',
        endpoint: 'chat',
        start: outageStart,
        end: outageEnd,
        severity: 'high',
        title: 'chat: success rate 0% (below 90%)',
        reason: 'success_rate',
        successRate: 0,
        p95Ms: expect.any(Number),
        executions: 10,
      },
    ]);
    expect(outageEnd - outageStart).toBe(5 * MINUTE_MS);
  });

  it.each([
    [{ from: NOW, to: NOW - 1 }, 'from'],
    [{ from: NOW - 31 * DAY_MS }, 'from'],
    [{ to: 'soon' }, 'to'],
    [{ source: 'robots' }, 'source'],
    [{ severity: 'high' }, 'severity'],
  ])('refuses %j naming %s', async (query, field) => {
    const { status, body } = await get(query as Record<string, string>);
    expect(status).toBe(400);
    expect(body.field).toBe(field);
  });
});

describe('PUT /incidents', () => {
  it('answers 403 when no key is configured', async () => {
    const { status } = await put(allDeclared);
    expect(status).toBe(403);
  });

  describe('with INGEST_API_KEY', () => {
    let restoreEnv: () => void;
    beforeAll(() => {
      restoreEnv = setEnv({ INGEST_API_KEY: KEY });
    });
    afterAll(() => restoreEnv());

    it('answers 401 without the key or with a wrong one', async () => {
      expect((await put(allDeclared, {})).status).toBe(401);
      expect((await put(allDeclared, { 'x-api-key': 'not-the-key-at-all' })).status).toBe(401);
    });

    it.each([
      [[{ ...declared.past, severity: 'urgent' }], 'body.0.severity'],
      [[declared.past, { ...declared.ongoing, title: '' }], 'body.1.title'],
      [[{ ...declared.past, end: declared.past.start - 1 }], 'body.0.end'],
      [[declared.past, { ...declared.ongoing, id: 'inc-past' }], 'body.1.id'],
      [[{ ...declared.past, id: 'x'.repeat(101) }], 'body.0.id'],
      [[{ ...declared.past, id: 'detected:chat:1' }], 'body.0.id'],
      [[{ ...declared.past, colour: 'red' }], 'body.0'],
      [{ incidents: [] }, 'body'],
      [Array.from({ length: 1001 }, (_, i) => ({ ...declared.past, id: `inc-${i}` })), 'body'],
    ])('refuses an invalid body naming the field (%#)', async (body, field) => {
      const { status, body: problem } = await put(body);
      expect(status).toBe(400);
      expect(problem.field).toBe(field);
    });

    it('saves the list, and GET merges it with the detected incident, newest first', async () => {
      expect(await put(allDeclared)).toEqual({ status: 200, body: { saved: 3 } });
      const { body } = await get();
      expect(body.items.map((i: Body) => [i.kind, i.id])).toEqual([
        ['declared', 'inc-ongoing'],
        ['detected', `detected:chat:${outageStart}`],
        ['declared', 'inc-past'],
      ]);
      expect(body.items[0]).toEqual({ kind: 'declared', ...declared.ongoing, end: null });
      expect(body.items[2]).toEqual({ kind: 'declared', ...declared.past });
      expect(body.meta).toMatchObject({ declared: 2, detected: 1 });
    });

    it('filters declared incidents by overlap with from/to, edges included', async () => {
      const ids = async (query: Record<string, number | string>) =>
        (await get(query)).body.items.map((i: Body) => i.id);
      expect(await ids({ from: minutesAgo(110), to: minutesAgo(105) })).toEqual(['inc-past']);
      expect(await ids({ from: declared.past.end, to: minutesAgo(50) })).toEqual(['inc-past']);
      expect(await ids({ from: declared.past.end + 1, to: minutesAgo(50) })).toEqual([]);
      expect(await ids({ from: minutesAgo(200), to: declared.past.start })).toEqual(['inc-past']);
      // An ongoing incident overlaps everything after its start.
      expect(await ids({ from: minutesAgo(5) })).toEqual(['inc-ongoing']);
      // Over 48 h: hour rollups; the outage's hour so far (70 of 80 chat calls ok) breaches 90 %.
      const long = await get({ from: NOW - 4 * DAY_MS });
      expect(long.body.meta.detection).toMatchObject({ resolution: 'hour', minBuckets: 1 });
      expect(long.body.items.map((i: Body) => i.id)).toEqual([
        'inc-ongoing',
        `detected:chat:${Math.floor(NOW / HOUR_MS) * HOUR_MS}`,
        'inc-past',
        'inc-old',
      ]);
    });

    it('filters by endpoint: declared incidents without endpoints concern every endpoint', async () => {
      const { body } = await get({ endpoint: 'models' });
      expect(body.filters).toEqual({ source: 'probe', endpoint: ['models'] });
      expect(body.items.map((i: Body) => i.id)).toEqual(['inc-past']);
      const chat = await get({ endpoint: 'chat' });
      expect(chat.body.items).toHaveLength(3);
    });

    it('accepts items read back from GET (kind included) and an empty list', async () => {
      const { body } = await get({ from: NOW - 4 * DAY_MS });
      const back = body.items.filter((i: Body) => i.kind === 'declared');
      expect(await put(back)).toEqual({ status: 200, body: { saved: 3 } });
      expect((await get({ from: NOW - 4 * DAY_MS })).body.items).toEqual(body.items);
      expect(await put([])).toEqual({ status: 200, body: { saved: 0 } });
      expect((await get()).body.meta.declared).toBe(0);
    });
  });

  it('reports a corrupt incidents.json as a warning and still answers', async () => {
    await (await s3Client()).send(
      new PutObjectCommand({ Bucket: getConfig().artifactsBucket, Key: INCIDENTS_KEY, Body: '[{"id": 1,' }),
    );
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body.warnings).toEqual([expect.stringMatching(/^incidents\.json is not valid: not JSON/)]);
    expect(body.items.map((i: Body) => i.kind)).toEqual(['detected']);

    await (await s3Client()).send(
      new PutObjectCommand({
        Bucket: getConfig().artifactsBucket,
        Key: INCIDENTS_KEY,
        Body: JSON.stringify([{ ...declared.past, severity: 'urgent' }]),
      }),
    );
    const invalid = await get();
    expect(invalid.status).toBe(200);
    expect(invalid.body.warnings).toEqual([
      expect.stringMatching(/^incidents\.json is not valid: 0\.severity: /),
    ]);
  });
});
