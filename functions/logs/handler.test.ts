/**
 * Logs through the HTTP surface on the local store: ingestion, the log
 * simulator's switch across two handler instances, the indexer, search and
 * one line by id.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Simulator } from '../../infra/local/simulator.js';
import type { TraceEvent } from '../../shared/events/model.js';
import type { IndexAnswer } from '../../shared/logs/indexer.js';
import type { LogLine } from '../../shared/logs/schema.js';
import type { SearchAnswer } from '../../shared/logs/search.js';
import {
  invokeHttp,
  invokeScheduled,
  ManualClock,
  setEnv,
  startSimulator,
  useClock,
  useFreshStore,
} from '../../test/helpers.js';
import { handler as indexHandler } from '../logs_index/handler.js';
import { handler as searchHandler } from '../logs_search/handler.js';
import { handler as tracesHandler } from '../traces/handler.js';
import { handler } from './handler.js';

const KEY = 'logs-test-key';
const auth = { 'x-api-key': KEY };
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const clock = new ManualClock(NOW);

type IngestBody = {
  accepted: number;
  duplicates: number;
  rejected: { index: number; field: string; reason: string }[];
  ids: string[];
};
const ingest = async (body: unknown, headers: Record<string, string> = {}) => {
  const res = await invokeHttp(handler, {
    method: 'POST',
    path: '/logs/ingest',
    body,
    headers: { ...auth, ...headers },
  });
  return { status: res.statusCode, body: res.json<IngestBody>(), headers: res.headers };
};
const search = async (query: Record<string, string | number>) => {
  const res = await invokeHttp(searchHandler, { path: '/logs/search', query });
  return { status: res.statusCode, body: res.json<SearchAnswer & { field?: string }>() };
};
const indexNow = async (query: Record<string, string | number> = {}) => {
  const res = await invokeHttp(indexHandler, {
    method: 'POST',
    path: '/ai/index/logs',
    query,
    headers: auth,
  });
  return { status: res.statusCode, body: res.json<IndexAnswer & { field?: string; detail?: string }>() };
};

let seq = 0;
const line = (extra: Record<string, unknown> = {}) => ({
  ts: NOW - 3_600_000 + seq++ * 1000,
  level: 'info',
  message: `POST /v1/chat/completions 200 in ${300 + seq} ms model=gpt-4o-mini`,
  endpoint: 'chat',
  model: 'gpt-4o-mini',
  region: 'us-east-1',
  ...extra,
});

let restoreEnv: () => void;
let restoreClock: () => void;
beforeAll(async () => {
  await useFreshStore();
  restoreEnv = setEnv({ INGEST_API_KEY: KEY, LOG_SIM_ENABLED: '0' });
  restoreClock = useClock(clock);
});
afterAll(() => {
  restoreClock();
  restoreEnv();
});

describe('POST /logs/ingest', () => {
  it('stores a JSON array, NDJSON and a gzipped body, and each line is fetchable by its id', async () => {
    const array = await ingest([
      line(),
      line({ level: 'WARN', message: 'slow stream: first token after 9000 ms' }),
    ]);
    expect(array.status).toBe(200);
    expect(array.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: [] });

    const ndjson = [line(), line()].map((l) => JSON.stringify(l)).join('\n');
    expect((await ingest(ndjson, { 'content-type': 'application/x-ndjson' })).body.accepted).toBe(2);

    const gz = gzipSync(Buffer.from(JSON.stringify([line({ requestId: 'req_gzip0000000001' })])));
    const zipped = await ingest(gz, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(zipped.body.accepted).toBe(1);

    const id = array.body.ids[1] as string;
    const one = await invokeHttp(searchHandler, { path: `/logs/${id}` });
    expect(one.statusCode).toBe(200);
    expect(one.json<LogLine>()).toMatchObject({
      id,
      level: 'warn',
      message: 'slow stream: first token after 9000 ms',
    });
  });

  it('refuses a batch with no valid line, naming the line and field', async () => {
    const res = await ingest([{ ts: NOW, level: 'loud', message: 'x' }]);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ field: '0.level' });
  });

  it('stores the valid lines of a mixed batch and lists each rejected one', async () => {
    const res = await ingest([
      line(),
      { level: 'info', message: 'no time' },
      line({ traceId: 'XYZ' }),
      line({ colour: 'red' }),
      line({ ts: NOW - 40 * 86_400_000 }),
      line(),
    ]);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected.map((r) => [r.index, r.field])).toEqual([
      [1, 'ts'],
      [2, 'traceId'],
      [3, 'colour'],
      [4, 'ts'],
    ]);
  });

  it('is idempotent: the same request replays its answer, the same line id is stored once', async () => {
    const body = [line({ id: 'client-1' }), line({ id: 'client-2' })];
    const first = await ingest(body, { 'idempotency-key': 'batch-1' });
    const replay = await ingest(body, { 'idempotency-key': 'batch-1' });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    // The same lines in another request: found, not stored twice.
    const again = await ingest([...body, line()]);
    expect(again.body).toMatchObject({ accepted: 3, duplicates: 2 });
  });

  it('needs the ingest key', async () => {
    const res = await invokeHttp(handler, { method: 'POST', path: '/logs/ingest', body: [line()] });
    expect(res.statusCode).toBe(401);
  });

  it('answers 400 for a malformed id and 404 for an unknown one', async () => {
    expect((await invokeHttp(searchHandler, { path: '/logs/not-an-id' })).statusCode).toBe(400);
    expect((await invokeHttp(searchHandler, { path: `/logs/${NOW}-nothing` })).statusCode).toBe(404);
  });
});

describe('the log simulator', () => {
  it('starts and stops across two handler instances (the switch is in the table)', async () => {
    vi.resetModules();
    const other = (await import('./handler.js')).handler;
    const status = async () =>
      (await invokeHttp(searchHandler, { path: '/logs/status' })).json<{
        simulator: { running: boolean; lines: number };
      }>();
    expect((await status()).simulator.running).toBe(false);

    const started = await invokeHttp(handler, { path: '/logs/sim/start', headers: auth });
    expect(started.statusCode).toBe(200);
    expect(started.json()).toMatchObject({ running: true, source: 'api' });
    expect(started.json<{ written: number }>().written).toBeGreaterThan(0);

    // The other instance's tick sees the switch and writes the next period.
    clock.advance(30_000);
    const tick = (await invokeScheduled(other, { functionName: 'logs', time: clock.now() })) as {
      written: number;
    };
    expect(tick.written).toBeGreaterThan(0);
    expect((await status()).simulator).toMatchObject({ running: true });

    const stopped = await invokeHttp(other, { method: 'POST', path: '/logs/sim/stop', headers: auth });
    expect(stopped.json()).toMatchObject({ running: false });
    clock.advance(30_000);
    expect(await invokeScheduled(handler, { functionName: 'logs', time: clock.now() })).toEqual({
      running: false,
      written: 0,
    });
  });

  it('refuses the switch without the key', async () => {
    expect((await invokeHttp(handler, { path: '/logs/sim/start' })).statusCode).toBe(401);
  });

  it("stores the call behind its lines as a trace: a line's trace id opens exactly that call", async () => {
    const found = await search({ query: 'OpenAI', window: 60, k: 20 });
    const linked = found.body.hits.map((h) => h.line).filter((l) => l.traceId && l.attributes?.simulated);
    expect(linked.length).toBeGreaterThan(0);
    for (const one of linked.slice(0, 3)) {
      const res = await invokeHttp(tracesHandler, {
        path: '/traces',
        query: {
          traceId: one.traceId as string,
          from: one.ts - 30 * 60_000,
          to: Math.min(one.ts + 60_000, clock.now()),
        },
      });
      expect(res.statusCode, res.text).toBe(200);
      const { items } = res.json<{ items: TraceEvent[] }>();
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        id: `sim-${one.traceId}`,
        source: 'ingest',
        traceId: one.traceId,
        endpoint: one.endpoint,
        model: one.model,
        region: one.region,
        requestId: one.requestId,
      });
    }
  });
});

describe('indexer and search', () => {
  const REQUEST_ID = 'req_9f8e7d6c5b4a39281706';

  it('finds unindexed lines by full text and labels the mode bm25', async () => {
    await ingest([
      line({
        level: 'error',
        endpoint: 'responses',
        requestId: REQUEST_ID,
        message:
          "OpenAI API error 400 context_length_exceeded: This model's maximum context length is 128000 tokens",
      }),
    ]);
    const res = await search({ query: 'context_length_exceeded', window: 180 });
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('bm25');
    expect(res.body.tail.lines).toBeGreaterThan(0);
    expect(res.body.hits[0]?.line.requestId).toBe(REQUEST_ID);
    expect(res.body.hits[0]?.matched).toEqual(['context_length_exceeded']);
  });

  it('indexes pending lines, then search runs hybrid with the local embedder', async () => {
    const before = (await invokeHttp(searchHandler, { path: '/logs/status' })).json<{
      indexer: { pending: number };
    }>();
    expect(before.indexer.pending).toBeGreaterThan(0);

    const run = await indexNow();
    expect(run.status).toBe(200);
    expect(run.body.indexed).toBe(before.indexer.pending);
    expect(run.body.pending).toBe(0);
    expect(run.body.embedder).toMatchObject({ kind: 'local', semantic: false, dims: 256 });
    expect(run.body.templates.embedded).toBeGreaterThan(0);
    expect(run.body.segments.written).toBeGreaterThan(0);

    const again = await indexNow();
    expect(again.body).toMatchObject({ indexed: 0, pending: 0 });

    const res = await search({ query: REQUEST_ID, window: 180 });
    expect(res.body.mode).toBe('hybrid');
    expect(res.body.embedder).toMatchObject({ kind: 'local', semantic: false });
    expect(res.body.tail.lines).toBe(0);
    expect(res.body.hits[0]?.line.requestId).toBe(REQUEST_ID);
    expect(res.body.hits[0]?.ranks.bm25).toBe(1);
  });

  it('applies filters before ranking, honours k, and answers an empty range with no hits', async () => {
    const filtered = await search({ query: 'error', window: 180, endpoint: 'responses', level: 'error' });
    expect(filtered.body.hits.length).toBeGreaterThan(0);
    for (const hit of filtered.body.hits)
      expect(hit.line).toMatchObject({ endpoint: 'responses', level: 'error' });

    const limited = await search({ query: 'chat completions', window: 180, k: 3 });
    expect(limited.body.hits).toHaveLength(3);

    const empty = await search({ query: 'chat', from: NOW - 20 * 86_400_000, to: NOW - 19 * 86_400_000 });
    expect(empty.body).toMatchObject({ hits: [], candidates: 0 });
  });

  it('still finds lines that arrive after indexing, by full text', async () => {
    await ingest([
      line({ message: 'upstream said content_filter for a fresh line', requestId: 'req_fresh00001111' }),
    ]);
    const res = await search({ query: 'req_fresh00001111', window: 180 });
    expect(res.body.mode).toBe('hybrid');
    expect(res.body.tail.lines).toBe(1);
    expect(res.body.hits[0]?.line.requestId).toBe('req_fresh00001111');
  });

  it('refuses bad parameters with the field named', async () => {
    expect((await search({ window: 60 })).body).toMatchObject({ field: 'query' });
    expect((await search({ query: 'x', k: 0 })).body).toMatchObject({ field: 'k' });
    expect((await search({ query: 'x', level: 'loud' })).body).toMatchObject({ field: 'level' });
    expect((await search({ query: 'x', colour: 'red' })).body).toMatchObject({ field: 'colour' });
    expect((await indexNow({ limit: 0 })).body).toMatchObject({ field: 'limit' });
  });

  describe('with OPENAI_API_KEY (the simulator as OpenAI)', () => {
    let simulator: Simulator;
    let restore: () => void;
    beforeAll(async () => {
      simulator = await startSimulator({ latency: 'none' });
      restore = setEnv({ OPENAI_API_KEY: 'sk-test-logs', OPENAI_BASE_URL: simulator.url });
    });
    afterAll(async () => {
      restore();
      await simulator.close();
    });

    it('refuses to add vectors of another model to the index (409), and search falls back to bm25', async () => {
      const run = await indexNow();
      expect(run.status).toBe(409);
      expect(run.body.field).toBe('EMBEDDING_MODEL');
      expect(run.body.detail).toContain('local-hash-v1@256');

      const res = await search({ query: REQUEST_ID, window: 180 });
      expect(res.body.mode).toBe('bm25');
      expect(res.body.embedder).toMatchObject({
        kind: 'openai',
        model: 'text-embedding-3-small',
        semantic: true,
      });
      expect(res.body.hits[0]?.line.requestId).toBe(REQUEST_ID);
    });
  });
});
