import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as configHandler } from '../../functions/config/handler.js';
import { handler as histogramHandler } from '../../functions/latency_histogram/handler.js';
import { handler as statusHandler } from '../../functions/status/handler.js';
import { handler as timeseriesHandler } from '../../functions/timeseries/handler.js';
import { quantile, traceEvents } from '../../test/fixtures.js';
import { invokeHttp, ManualClock, setEnv, useClock, useFreshStore } from '../../test/helpers.js';
import type { TraceEvent } from '../events/model.js';
import { recordEvents } from '../store/events.js';
import { HOUR_MS, MINUTE_MS } from '../store/keys.js';

// A fixed "now" 20 minutes into an hour, so windows cross hour and minute edges predictably.
const NOW = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS + 20 * MINUTE_MS + 15_000;
const minutesAgo = (m: number, s = 0) => NOW - m * MINUTE_MS - s * 1000;

const ev = traceEvents('e');

// chat, last hour: 8 ok, one 500, one 429
const chatLatencies = [120, 130, 150, 180, 210, 250, 400, 900, 1500, 3000];
const chatHour: TraceEvent[] = chatLatencies.map((latencyMs, i) =>
  ev({
    ts: minutesAgo(55 - i * 5, 10),
    endpoint: 'chat',
    latencyMs,
    ...(i === 3 ? { ok: false, status: 500, errorType: 'server_error' as const } : {}),
    ...(i === 6 ? { ok: false, status: 429, errorType: 'rate_limited' as const } : {}),
    usage: { input: 10, output: 2, cached: 0, reasoning: 0 },
    costUsd: 0.000003,
    responseBytes: 500,
    timing: { dnsMs: 2, connectMs: 4, tlsMs: 10, ttfbMs: latencyMs - 10, transferMs: 10, reused: false },
  }),
);
// chat, three hours ago: 2 ok, 2 failures (inside 6 h, outside 1 h)
const chatEarlier: TraceEvent[] = [0, 1, 2, 3].map((i) =>
  ev({
    ts: minutesAgo(180 + i),
    endpoint: 'chat',
    latencyMs: 200,
    ...(i < 2 ? { ok: false, status: 503, errorType: 'server_error' as const } : {}),
  }),
);
// models, last hour, another region
const models: TraceEvent[] = [40, 50, 60, 70, 80].map((latencyMs, i) =>
  ev({ ts: minutesAgo(30 - i), endpoint: 'models', model: undefined, region: 'eu-west-1', latencyMs }),
);
// an ingested call: not in source=probe views
const ingested = ev({
  ts: minutesAgo(10),
  endpoint: 'chat',
  source: 'ingest',
  latencyMs: 999,
  model: 'gpt-4o',
});
// a day ago: only in long windows
const dayAgo = ev({
  ts: minutesAgo(23 * 60),
  endpoint: 'models',
  model: undefined,
  region: 'eu-west-1',
  latencyMs: 65,
});

let restoreClock: () => void;
let restoreEnv: () => void;
beforeAll(async () => {
  await useFreshStore();
  restoreEnv = setEnv({ SLO_TARGET: '99.5' });
  const { tableName } = (await import('../config.js')).getConfig();
  await recordEvents([...chatHour, ...chatEarlier, ...models, ingested, dayAgo], {
    tableName,
    retentionDays: 30,
    rollupRetentionDays: 400,
  });
  restoreClock = useClock(new ManualClock(NOW));
});
afterAll(() => {
  restoreClock();
  restoreEnv();
});

// biome-ignore lint/suspicious/noExplicitAny: loosely typed JSON answers keep the assertions readable
type Body = Record<string, any>;
const get = async (h: typeof statusHandler, path: string, query: Record<string, string | number> = {}) => {
  const res = await invokeHttp(h, { path, query });
  return { status: res.statusCode, body: res.json<Body>(), headers: res.headers };
};

describe('GET /status', () => {
  it('computes every figure of the last hour exactly', async () => {
    const { status, body } = await get(statusHandler, '/status');
    expect(status).toBe(200);
    expect(body.window.minutes).toBe(60);
    expect(body.filters).toEqual({ source: 'probe' });
    const chat = body.endpoints.find((e: Body) => e.endpoint === 'chat');
    expect(chat).toMatchObject({
      total: 10,
      ok: 8,
      failed: 2,
      successRate: 0.8,
      errors: { server_error: 1, rate_limited: 1 },
      statusClasses: { '2xx': 8, '4xx': 1, '5xx': 1 },
      tokens: { input: 100, output: 20, cached: 0, reasoning: 0 },
      responseBytes: 5000,
      phasesMs: { dns: 2, connect: 4, tls: 10, transfer: 10 },
      last: { ts: chatHour[9]?.ts, ok: true, status: 200, errorType: null },
    });
    expect(chat.costUsd).toBeCloseTo(0.00003, 12);
    expect(chat.latencyMs.mean).toBeCloseTo(chatLatencies.reduce((a, b) => a + b) / 10, 6);
    for (const [q, key] of [
      [0.5, 'p50'],
      [0.95, 'p95'],
      [0.99, 'p99'],
    ] as const) {
      const exact = quantile(chatLatencies, q);
      expect(Math.abs(chat.latencyMs[key] - exact) / exact).toBeLessThanOrEqual(0.01);
    }
    // SLO: the 429 is excluded by default; budget 0.5 %.
    expect(chat.slo.good).toBe(8);
    expect(chat.slo.valid).toBe(9);
    expect(chat.slo.sli).toBeCloseTo(8 / 9, 12);
    expect(chat.slo.errorBudgetRemaining).toBeCloseTo(1 - 1 / 9 / 0.005, 9);
    expect(chat.slo.burnRate['1h']).toBeCloseTo(1 / 9 / 0.005, 9);
    // 6 h adds 4 earlier calls, 2 of them failed: 3 bad of 13 valid.
    expect(chat.slo.burnRate['6h']).toBeCloseTo(3 / 13 / 0.005, 9);

    expect(body.overall).toMatchObject({ total: 15, ok: 13, successRate: 13 / 15 });
    expect(body.slo).toEqual({
      objectivePercent: 99.5,
      excludedErrors: ['rate_limited'],
      excludeMaintenance: false,
    });
    expect(body.simulatedShare).toBe(1);
    expect(body.definitions.successRate).toContain('ok / all executions');
    expect(body.endpoints.map((e: Body) => e.endpoint)).toEqual(['chat', 'models']);
  });

  it('counts 429s against the SLO when configured to', async () => {
    const restore = setEnv({ SLO_EXCLUDE_ERRORS: 'none' });
    try {
      const { body } = await get(statusHandler, '/status');
      const chat = body.endpoints.find((e: Body) => e.endpoint === 'chat');
      expect(chat.slo).toMatchObject({ good: 8, valid: 10, sli: 0.8 });
    } finally {
      restore();
    }
  });

  it('reads hour rollups plus minute edges for a day, and still counts exactly', async () => {
    const { body } = await get(statusHandler, '/status', { window: 1440 });
    const chat = body.endpoints.find((e: Body) => e.endpoint === 'chat');
    const modelsRow = body.endpoints.find((e: Body) => e.endpoint === 'models');
    expect(chat).toMatchObject({ total: 14, ok: 10 });
    expect(modelsRow).toMatchObject({ total: 6, ok: 6, successRate: 1 });
    expect(body.overall.total).toBe(20);
  });

  it('reads the rollups the burn rates share with the window only once', async () => {
    const { body } = await get(statusHandler, '/status', { window: 1440 });
    const { rollupsFor } = await import('../store/rollups.js');
    const { getConfig } = await import('../config.js');
    const separately = async (from: number, to: number) => {
      const reader = rollupsFor({ config: { tableName: getConfig().tableName }, now: NOW });
      await reader.read({ sources: ['probe'], from, to });
      return reader.itemsRead;
    };
    const minuteEnd = Math.floor(NOW / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const apart =
      (await separately(body.window.from, NOW)) +
      (await separately(minuteEnd - HOUR_MS, NOW)) +
      (await separately(minuteEnd - 6 * HOUR_MS, NOW));
    expect(body.meta.itemsRead).toBeGreaterThan(0);
    expect(body.meta.itemsRead).toBeLessThan(apart);
  });

  it('filters by source, endpoint, model and region', async () => {
    const all = (await get(statusHandler, '/status', { source: 'all' })).body;
    expect(all.endpoints.find((e: Body) => e.endpoint === 'chat').total).toBe(11);
    const ingest = (await get(statusHandler, '/status', { source: 'ingest' })).body;
    expect(ingest.overall).toMatchObject({ total: 1, ok: 1 });
    const eu = (await get(statusHandler, '/status', { region: 'eu-west-1' })).body;
    expect(eu.endpoints.map((e: Body) => e.endpoint)).toEqual(['models']);
    const gpt4o = (await get(statusHandler, '/status', { source: 'all', model: 'gpt-4o' })).body;
    expect(gpt4o.overall.total).toBe(1);
    const two = (await get(statusHandler, '/status', { endpoint: 'chat,models' })).body;
    expect(two.overall.total).toBe(15);
  });

  it('gives well-formed empty results for an empty range', async () => {
    const { status, body } = await get(statusHandler, '/status', {
      from: NOW - 10 * 86_400_000,
      to: NOW - 9 * 86_400_000,
    });
    expect(status).toBe(200);
    expect(body.endpoints).toEqual([]);
    expect(body.overall).toMatchObject({ total: 0, successRate: null, latencyMs: { p50: null } });
    expect(body.overall.slo).toMatchObject({ sli: null, errorBudgetRemaining: null });
  });

  it.each([
    [{ window: 0 }, 'window'],
    [{ window: 'abc' }, 'window'],
    [{ window: 30 * 1440 + 1 }, 'window'],
    [{ window: 60, from: NOW - 1000 }, 'window'],
    [{ from: NOW, to: NOW - 1 }, 'from'],
    [{ from: NOW - 31 * 86_400_000 }, 'from'],
    [{ from: 'yesterday' }, 'from'],
    [{ source: 'robots' }, 'source'],
    [{ endpoint: '' }, 'endpoint'],
    [{ windw: 5 }, 'windw'],
  ])('refuses %j naming %s', async (query, field) => {
    const { status, body, headers } = await get(statusHandler, '/status', query as Record<string, string>);
    expect(status).toBe(400);
    expect(headers['content-type']).toBe('application/problem+json');
    expect(body.field).toBe(field);
  });
});

describe('GET /timeseries', () => {
  it('buckets the last hour by minute', async () => {
    const { body } = await get(timeseriesHandler, '/timeseries', { window: 60, endpoint: 'chat' });
    expect(body).toMatchObject({ bucketMs: MINUTE_MS, resolution: 'minute', groupBy: null });
    const points = body.series[0].points as Body[];
    expect(points).toHaveLength(60);
    expect(points.reduce((s, p) => s + p.total, 0)).toBe(10);
    const failed = points.find((p) => p.errors.server_error === 1);
    expect(failed?.t).toBe(Math.floor((chatHour[3]?.ts as number) / MINUTE_MS) * MINUTE_MS);
    expect(failed).toMatchObject({ total: 1, ok: 0, successRate: 0 });
    const empty = points.find((p) => p.total === 0);
    expect(empty).toMatchObject({ successRate: null, p50: null });
  });

  it('groups by model, region, endpoint and source', async () => {
    const byModel = (
      await get(timeseriesHandler, '/timeseries', { window: 60, groupBy: 'model', source: 'all' })
    ).body;
    const totals = Object.fromEntries(
      byModel.series.map((s: Body) => [s.key, s.points.reduce((n: number, p: Body) => n + p.total, 0)]),
    );
    expect(totals).toEqual({ '(none)': 5, 'gpt-4o': 1, 'gpt-4o-mini': 10 });
    const bySource = (
      await get(timeseriesHandler, '/timeseries', { window: 60, groupBy: 'source', source: 'all' })
    ).body;
    expect(bySource.series.map((s: Body) => s.key)).toEqual(['ingest', 'probe']);
  });

  it('answers the grouped and the overall series in one request with overall=true', async () => {
    const query = { window: 60, groupBy: 'endpoint', source: 'all' };
    const both = (await get(timeseriesHandler, '/timeseries', { ...query, overall: 'true' })).body;
    const alone = (await get(timeseriesHandler, '/timeseries', { window: 60, source: 'all' })).body;
    const grouped = (await get(timeseriesHandler, '/timeseries', query)).body;
    // The same series as two requests would give, from one read.
    expect(both.series).toEqual(grouped.series);
    expect(both.overall).toEqual({ ...alone.series[0], key: 'all' });
    expect(grouped.overall).toBeNull();
    expect(both.meta.itemsRead).toBe(grouped.meta.itemsRead);
    const bad = await get(timeseriesHandler, '/timeseries', { ...query, overall: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('overall');
  });

  it('uses hour buckets from hour rollups for a day', async () => {
    const { body } = await get(timeseriesHandler, '/timeseries', { window: 1440 });
    expect(body).toMatchObject({ bucketMs: HOUR_MS, resolution: 'hour' });
    expect(body.series[0].points.length).toBeLessThanOrEqual(25);
    expect(body.series[0].points.reduce((s: number, p: Body) => s + p.total, 0)).toBe(20);
    const earlier = body.series[0].points.find(
      (p: Body) => p.t === Math.floor(minutesAgo(181) / HOUR_MS) * HOUR_MS,
    );
    expect(earlier.total).toBeGreaterThanOrEqual(1);
  });

  it('takes an explicit bucket and from/to', async () => {
    const { body } = await get(timeseriesHandler, '/timeseries', {
      from: NOW - HOUR_MS,
      to: NOW,
      bucket: '15m',
    });
    expect(body.bucketMs).toBe(15 * MINUTE_MS);
    expect(body.series[0].points.reduce((s: number, p: Body) => s + p.total, 0)).toBe(15);
  });

  it.each([
    [{ bucket: '7s' }, 'bucket'],
    [{ window: 1440, bucket: '1m' }, 'bucket'],
    [{ bucket: 'often' }, 'bucket'],
    [{ groupBy: 'colour' }, 'groupBy'],
  ])('refuses %j naming %s', async (query, field) => {
    const { status, body } = await get(timeseriesHandler, '/timeseries', query as Record<string, string>);
    expect(status).toBe(400);
    expect(body.field).toBe(field);
  });
});

describe('GET /latency_histogram', () => {
  it('bins the distribution on a log scale with the percentiles marked', async () => {
    const { body } = await get(histogramHandler, '/latency_histogram', { endpoint: 'chat', bins: 8 });
    expect(body.count).toBe(10);
    expect(body.scale).toBe('log');
    expect(body.bins.length).toBeLessThanOrEqual(8);
    expect(body.bins.reduce((s: number, b: Body) => s + b.count, 0)).toBe(10);
    for (let i = 1; i < body.bins.length; i++)
      expect(body.bins[i].lower).toBeCloseTo(body.bins[i - 1].upper, 3);
    const p95 = quantile(chatLatencies, 0.95);
    expect(Math.abs(body.percentiles.p95.value - p95) / p95).toBeLessThanOrEqual(0.01);
    const bin = body.bins[body.percentiles.p95.bin];
    expect(body.percentiles.p95.value).toBeGreaterThan(bin.lower);
    expect(body.percentiles.p95.value).toBeLessThanOrEqual(bin.upper);
  });

  it('bins linearly on request, and answers an empty range with no bins', async () => {
    const linear = (
      await get(histogramHandler, '/latency_histogram', { endpoint: 'models', scale: 'linear', bins: 4 })
    ).body;
    expect(linear.bins).toHaveLength(4);
    expect(linear.bins.reduce((s: number, b: Body) => s + b.count, 0)).toBe(5);
    const none = (await get(histogramHandler, '/latency_histogram', { endpoint: 'nothing-here' })).body;
    expect(none).toMatchObject({ count: 0, bins: [], percentiles: { p50: null, p95: null, p99: null } });
  });

  it.each([
    [{ bins: 0 }, 'bins'],
    [{ scale: 'cubic' }, 'scale'],
  ])('refuses %j naming %s', async (query, field) => {
    const { status, body } = await get(
      histogramHandler,
      '/latency_histogram',
      query as Record<string, string>,
    );
    expect(status).toBe(400);
    expect(body.field).toBe(field);
  });
});

describe('GET /config', () => {
  it('returns the dashboard settings and no secret', async () => {
    const restore = setEnv({ OPENAI_API_KEY: 'sk-live-secret-value', INGEST_API_KEY: 'ingest-secret-value' });
    try {
      const res = await invokeHttp(configHandler, { path: '/config' });
      expect(res.statusCode).toBe(200);
      expect(res.text).not.toContain('secret-value');
      expect(res.json()).toMatchObject({
        upstream: 'real',
        slo: { objectivePercent: 99.5 },
        features: { ingest: true },
        prices: { asOf: expect.any(String) },
      });
    } finally {
      restore();
    }
  });
});
