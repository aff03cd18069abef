import { gzipSync } from 'node:zlib';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../infra/local/gateway.js';
import type { Simulator } from '../../infra/local/simulator.js';
import { instrumentOpenAI } from '../../shared/client/src/index.js';
import { getConfig } from '../../shared/config.js';
import type { TraceEvent } from '../../shared/events/model.js';
import { INGEST_MAX_BODY_BYTES } from '../../shared/ingest/ingest.js';
import { eventKey } from '../../shared/store/keys.js';
import { readTraces } from '../../shared/traces/query.js';
import {
  invokeHttp,
  setEnv,
  startSimulator,
  startTestGateway,
  storedItem,
  storedRollup,
  useFreshStore,
} from '../../test/helpers.js';
import { handler } from './handler.js';

const KEY = 'ingest-test-key';
const auth = { 'x-api-key': KEY };
const NOW = Date.now();
let seq = 0;
const trace = (extra: Record<string, unknown> = {}) => ({
  ts: NOW - 60_000 - seq++ * 10,
  endpoint: 'chat',
  ok: true,
  latencyMs: 321.5,
  model: 'gpt-4o-mini',
  inputTokens: 100,
  outputTokens: 20,
  ...extra,
});

type Body = Record<string, unknown> & {
  accepted?: number;
  duplicates?: number;
  rejected?: { index: number; field: string; reason: string }[];
};
const post = async (body: unknown, headers: Record<string, string> = {}, path = '/ingest/trace') => {
  const res = await invokeHttp(handler, { method: 'POST', path, body, headers: { ...auth, ...headers } });
  return { status: res.statusCode, body: res.json<Body>(), headers: res.headers };
};

async function rollupCount(endpoint: string, ts: number, model = 'gpt-4o-mini'): Promise<number> {
  const labels = { source: 'ingest' as const, endpoint, model, region: undefined };
  return ((await storedRollup(getConfig().tableName, 'minute', ts, labels))?.n as number | undefined) ?? 0;
}

/** The gateway on loopback in front of this handler alone, as the local stack serves it. */
const startIngestGateway = () => startTestGateway(async () => handler as never);

let restore: () => void;
beforeAll(async () => {
  await useFreshStore();
  restore = setEnv({ INGEST_API_KEY: KEY });
});
afterAll(() => restore());

describe('POST /ingest/trace', () => {
  it('accepts one trace, an array, and NDJSON, and stores them as source ingest', async () => {
    const one = trace({ id: 'one-1' });
    expect((await post(one)).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await post([trace(), trace()])).body).toMatchObject({ accepted: 2, rejected: [] });
    const ndjson = [trace(), trace(), trace()].map((t) => JSON.stringify(t)).join('\n');
    expect((await post(ndjson, { 'content-type': 'application/x-ndjson' })).body).toMatchObject({
      accepted: 3,
    });

    const stored = await storedItem(getConfig().tableName, eventKey(one.ts, 'one-1'));
    expect(stored).toMatchObject({
      id: 'one-1',
      source: 'ingest',
      endpoint: 'chat',
      ok: true,
      latencyMs: 321.5,
      usage: { input: 100, output: 20 },
    });
    expect(stored?.costUsd).toBeCloseTo((100 * 0.15 + 20 * 0.6) / 1e6, 12);
  });

  it.each([
    ['ts', { ts: undefined }],
    ['ts', { ts: 'yesterday' }],
    ['ts', { ts: NOW - 40 * 86_400_000 }],
    ['ts', { ts: NOW + 3_600_000 }],
    ['endpoint', { endpoint: undefined }],
    ['endpoint', { endpoint: '' }],
    ['ok', { ok: undefined }],
    ['ok', { ok: 'yes' }],
    ['latencyMs', { latencyMs: undefined }],
    ['latencyMs', { latencyMs: -1 }],
    ['status', { status: 700 }],
    ['errorType', { ok: false, errorType: 'meteor' }],
    ['errorType', { ok: false }],
    ['cachedTokens', { cachedTokens: 500 }],
    ['attributes', { attributes: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }],
    ['surprise', { surprise: 1 }],
  ])('rejects an item whose %s is missing or wrong, and stores the valid ones', async (field, change) => {
    const bad = { ...trace(), ...change };
    const res = await post([trace(), bad, trace()]);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toHaveLength(1);
    expect(res.body.rejected?.[0]).toMatchObject({ index: 1, field: expect.stringContaining(field) });
  });

  it('answers 400 naming the field when no item is valid', async () => {
    const res = await post([{ ...trace(), latencyMs: 'fast' }]);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ field: '0.latencyMs' });
  });

  it('reports a bad NDJSON line by its index and keeps the others', async () => {
    const body = [JSON.stringify(trace()), '{"ts": oops', JSON.stringify(trace())].join('\n');
    const res = await post(body, { 'content-type': 'application/x-ndjson' });
    expect(res.body).toMatchObject({ accepted: 2, rejected: [{ index: 1, field: '(line)' }] });
  });

  it('refuses invalid JSON, more than 1000 items, and bodies over 4 MiB', async () => {
    const invalid = await post('{"ts": 1,', { 'content-type': 'application/json' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.field).toBe('body');
    const many = await post(Array.from({ length: 1001 }, () => trace()));
    expect(many.status).toBe(413);
    const big = await post(
      Array.from({ length: 990 }, () => ({
        ...trace(),
        errorMessage: 'x'.repeat(Math.ceil(INGEST_MAX_BODY_BYTES / 990)),
      })),
    );
    expect(big.status).toBe(413);
  });

  it('needs the key: 401 when wrong, 403 when none is configured', async () => {
    const wrong = await invokeHttp(handler, {
      method: 'POST',
      path: '/ingest/trace',
      body: trace(),
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
    const unset = setEnv({ INGEST_API_KEY: undefined });
    try {
      const res = await invokeHttp(handler, {
        method: 'POST',
        path: '/ingest/trace',
        body: trace(),
        headers: auth,
      });
      expect(res.statusCode).toBe(403);
    } finally {
      unset();
    }
  });

  it('counts a retried delivery once (same body, or same Idempotency-Key) and answers as the first time', async () => {
    const batch = [trace({ endpoint: 'retry-body' }), trace({ endpoint: 'retry-body' })];
    const first = await post(batch);
    const again = await post(batch);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await rollupCount('retry-body', batch[0]?.ts as number)).toBe(2);

    const keyed = [trace({ endpoint: 'retry-key' })];
    const a = await post(keyed, { 'idempotency-key': 'k-123' });
    const b = await post(keyed, { 'idempotency-key': 'k-123' });
    expect(b.body).toEqual(a.body);
    expect(await rollupCount('retry-key', keyed[0]?.ts as number)).toBe(1);
    const misuse = await post([trace({ endpoint: 'retry-key' })], { 'idempotency-key': 'k-123' });
    expect(misuse.status).toBe(422);
  });

  it('overwrites an item id seen again instead of duplicating it', async () => {
    const item = trace({ id: 'dup-id-1', endpoint: 'id-check' });
    await post([item]);
    // A different body (another item alongside) carrying the same item again.
    const res = await post([item, trace({ endpoint: 'id-check-other' })]);
    expect(res.body).toMatchObject({ accepted: 2, duplicates: 1 });
    expect(await rollupCount('id-check', item.ts)).toBe(1);
  });

  it('accepts a gzip body', async () => {
    const body = gzipSync(JSON.stringify([trace({ endpoint: 'gzipped' })]));
    const res = await invokeHttp(handler, {
      method: 'POST',
      path: '/ingest/trace',
      body,
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 1 });
  });
});

describe('POST /v1/traces (OTLP)', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startIngestGateway();
  });
  afterAll(() => gateway.close());

  it('stores GenAI spans sent by the official OTLP exporter and skips the others', async () => {
    const exporter = new OTLPTraceExporter({
      url: `${gateway.url}/v1/traces`,
      headers: { 'x-api-key': KEY },
    });
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('my-app');
    // Explicit span times: the events land in the hour of `at`, not in whichever hour the clock is in
    // by the time they are read back.
    const at = NOW - 60_000;
    const span = tracer.startSpan('chat gpt-4o-mini', {
      kind: SpanKind.CLIENT,
      startTime: at,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 42,
        'gen_ai.usage.output_tokens': 7,
        'http.response.status_code': 200,
        'openai_status.source': 'probe',
        'cloud.region': 'eu-central-1',
      },
    });
    span.end(at + 250);
    const failed = tracer.startSpan('embeddings text-embedding-3-small', {
      kind: SpanKind.CLIENT,
      startTime: at + 10,
      attributes: { 'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'text-embedding-3-small' },
    });
    failed.setAttribute('error.type', 'RateLimitError');
    failed.setStatus({ code: SpanStatusCode.ERROR, message: 'Rate limit reached' });
    failed.end(at + 40);
    tracer.startSpan('GET /healthz', { startTime: at }).end(at + 1);
    await provider.forceFlush();
    await provider.shutdown();

    const { traceId, spanId } = span.spanContext();
    // Read back through /traces' reader (every shard of the hour), keeping this test's two traces.
    const traceIds = [traceId, failed.spanContext().traceId];
    const page = await readTraces(
      { from: at, to: at + 10, filters: {} },
      { tableName: getConfig().tableName, now: NOW, limit: 1000 },
    );
    const events = page.items
      .filter((e) => traceIds.includes(e.traceId ?? ''))
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      id: `otlp-${traceId}-${spanId}`,
      source: 'ingest',
      endpoint: 'chat',
      model: 'gpt-4o-mini',
      region: 'eu-central-1',
      ok: true,
      usage: { input: 42, output: 7 },
    });
    expect(events[1]).toMatchObject({ endpoint: 'embeddings', ok: false, errorType: 'rate_limited' });
  });

  it('reports unreadable GenAI spans as partial success, and refuses other media types and malformed bodies', async () => {
    const body = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: 'not-hex',
                  spanId: '0102030405060708',
                  startTimeUnixNano: '1',
                  endTimeUnixNano: '2',
                  attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
                },
                {
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                  spanId: '0102030405060708',
                  startTimeUnixNano: String(BigInt(NOW) * 1_000_000n),
                  endTimeUnixNano: String(BigInt(NOW + 250) * 1_000_000n),
                  attributes: [
                    { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
                    { key: 'gen_ai.usage.input_tokens', value: { intValue: '12' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await post(body, {}, '/v1/traces');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ partialSuccess: { rejectedSpans: 1 } });
    const text = await post('resourceSpans', { 'content-type': 'text/plain' }, '/v1/traces');
    expect(text.status).toBe(415);
    const malformed = await post({ resourceSpans: 'nope' }, {}, '/v1/traces');
    expect(malformed.status).toBe(400);
  });
});

describe('the Node client', () => {
  let sim: Simulator;
  let gateway: Gateway;
  beforeAll(async () => {
    sim = await startSimulator({ latency: 'none' });
    gateway = await startIngestGateway();
  });
  afterAll(async () => {
    await gateway.close();
    await sim.close();
  });

  it('records the calls of a wrapped openai client and posts them in batches', async () => {
    const wrapped = instrumentOpenAI(new OpenAI({ apiKey: 'sk-app', baseURL: sim.url, maxRetries: 0 }), {
      url: gateway.url,
      apiKey: KEY,
      region: 'client-region',
      batchSize: 2,
      flushIntervalMs: 50,
    });
    const completion = await wrapped.client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.choices.length).toBeGreaterThan(0);
    await wrapped.client.embeddings.create({ model: 'text-embedding-3-small', input: 'client check' });
    await wrapped.client.models.list();
    await expect(
      wrapped.client.chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
        {
          headers: { 'x-sim-fault': '500' },
        },
      ),
    ).rejects.toThrow();
    // Records are made when the copies of the bodies have been read: close() waits for those too.
    await wrapped.close();
    expect(wrapped.stats()).toMatchObject({ recorded: 4, sent: 4, dropped: 0, failed: 0, queued: 0 });

    const status = await invokeHttp((await import('../status/handler.js')).handler, {
      path: '/status',
      query: { source: 'ingest', region: 'client-region' },
    });
    const body = status.json<{ overall: { total: number; ok: number }; endpoints: { endpoint: string }[] }>();
    expect(body.overall).toMatchObject({ total: 4, ok: 3 });
    expect(body.endpoints.map((e) => e.endpoint).sort()).toEqual(['chat', 'embeddings', 'models']);
  });

  /** What /traces shows for a region, oldest first. */
  const tracesOf = async (region: string) => {
    const answer = await invokeHttp((await import('../traces/handler.js')).handler, {
      path: '/traces',
      query: { source: 'ingest', region },
    });
    expect(answer.statusCode).toBe(200);
    return answer.json<{ items: TraceEvent[] }>().items.sort((a, b) => a.ts - b.ts);
  };

  it('records streamed calls when their streams end, with usage and time to first token', async () => {
    const wrapped = instrumentOpenAI(new OpenAI({ apiKey: 'sk-app', baseURL: sim.url, maxRetries: 0 }), {
      url: gateway.url,
      apiKey: KEY,
      region: 'client-streams',
      flushIntervalMs: 60_000,
    });
    const messages = [{ role: 'user' as const, content: 'stream please' }];
    const seen = await wrapped.client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of seen) chunks.push(chunk);
    // The client asked for usage on the app's behalf, and kept the usage-only chunk from the app.
    expect(sim.requests.at(-1)?.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);

    // An app that asks for the usage chunk itself gets it.
    const asked = await wrapped.client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usageChunks = 0;
    for await (const chunk of asked) if (chunk.usage && chunk.choices.length === 0) usageChunks++;
    expect(usageChunks).toBe(1);

    const response = await wrapped.client.responses.create({
      model: 'gpt-4o-mini',
      input: 'stream a response',
      stream: true,
    });
    const types: string[] = [];
    for await (const event of response) types.push(event.type);
    expect(types.at(-1)).toBe('response.completed');

    // Left after the first token: recorded as abandoned when the SDK cancels the stream.
    const left = await wrapped.client.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    for await (const chunk of left) if (chunk.choices[0]?.delta.content) break;
    await wrapped.close();
    expect(wrapped.stats()).toMatchObject({ recorded: 4, sent: 4, failed: 0 });

    const [chat, chatAsked, responses, abandoned] = await tracesOf('client-streams');
    for (const event of [chat, chatAsked, responses]) {
      expect(event).toMatchObject({ ok: true, status: 200, attributes: { stream: 'completed' } });
      expect(event?.usage?.input).toBeGreaterThan(0);
      expect(event?.usage?.output).toBeGreaterThan(0);
      // The first token comes before the end of the stream, measured from the same start.
      expect(event?.timing?.ttftMs).toBeGreaterThan(0);
      expect(event?.timing?.ttftMs).toBeLessThanOrEqual(event?.latencyMs ?? 0);
      expect(event?.responseBytes).toBeGreaterThan(0);
    }
    expect(chat).toMatchObject({ endpoint: 'chat', model: 'gpt-4o-mini' });
    expect(responses).toMatchObject({ endpoint: 'responses', model: 'gpt-4o-mini' });
    expect(abandoned).toMatchObject({
      endpoint: 'chat',
      model: 'gpt-4o',
      ok: true,
      attributes: { stream: 'abandoned' },
    });
    // What had arrived by then counts (here, with no simulated latency, possibly the whole stream).
    expect(abandoned?.timing?.ttftMs).toBeGreaterThan(0);
  });

  it('records a stream that breaks as failed, and one still open at close() as abandoned', async () => {
    /** Real fetch, but a streamed body breaks after its first two events, as a reset connection does. */
    const breakingFetch: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (!answer.headers.get('content-type')?.includes('text/event-stream') || !answer.body) return answer;
      const reader = answer.body.getReader();
      let text = '';
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          for (;;) {
            const events = text.split('\n\n');
            if (events.length > 2) {
              controller.enqueue(new TextEncoder().encode(`${events.slice(0, 2).join('\n\n')}\n\n`));
              controller.error(new TypeError('terminated'));
              return;
            }
            const { done, value } = await reader.read();
            if (done) throw new Error('the stream ended before two events');
            text += new TextDecoder().decode(value);
          }
        },
      });
      return new Response(body, { status: answer.status, headers: answer.headers });
    };
    const wrapped = instrumentOpenAI(new OpenAI({ apiKey: 'sk-app', baseURL: sim.url, maxRetries: 0 }), {
      url: gateway.url,
      apiKey: KEY,
      region: 'client-broken-streams',
      flushIntervalMs: 60_000,
      fetch: breakingFetch,
    });
    const messages = [{ role: 'user' as const, content: 'break' }];
    const broken = await wrapped.client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
    });
    await expect(async () => {
      for await (const _ of broken);
    }).rejects.toThrow('terminated');

    // Never read: the app still holds it when it closes the client.
    const unread = await wrapped.client.chat.completions.create({ model: 'gpt-4.1', messages, stream: true });
    await wrapped.close();
    unread.controller.abort();
    expect(wrapped.stats()).toMatchObject({ recorded: 2, sent: 2, failed: 0 });

    const [failed, open] = await tracesOf('client-broken-streams');
    expect(failed).toMatchObject({
      endpoint: 'chat',
      ok: false,
      status: 200,
      errorType: 'network',
      errorMessage: 'terminated',
      attributes: { stream: 'failed' },
    });
    expect(failed?.timing?.ttftMs).toBeGreaterThan(0);
    expect(open).toMatchObject({
      endpoint: 'chat',
      model: 'gpt-4.1',
      ok: true,
      attributes: { stream: 'abandoned' },
    });
    expect(open?.latencyMs).toBeGreaterThan(0);
  });

  it('keeps sending the app’s calls through the fetch its openai client was given', async () => {
    const fetched: string[] = [];
    const appFetch: typeof fetch = (input, init) => {
      fetched.push(String(input));
      return fetch(input, init);
    };
    const wrapped = instrumentOpenAI(
      new OpenAI({ apiKey: 'sk-app', baseURL: sim.url, maxRetries: 0, fetch: appFetch }),
      { url: gateway.url, apiKey: KEY, region: 'client-own-fetch', flushIntervalMs: 60_000 },
    );
    await wrapped.client.models.list();
    await wrapped.close();
    expect(fetched).toEqual([`${sim.url}/models`]);
    expect(wrapped.stats()).toMatchObject({ recorded: 1, sent: 1 });
  });

  it('drops and counts when its queue is full, and never fails the app when ingest is down', async () => {
    const wrapped = instrumentOpenAI(new OpenAI({ apiKey: 'sk-app', baseURL: sim.url, maxRetries: 0 }), {
      url: 'http://127.0.0.1:9',
      apiKey: KEY,
      maxQueue: 2,
      batchSize: 100,
      flushIntervalMs: 10_000,
      timeoutMs: 500,
    });
    for (let i = 0; i < 4; i++) await wrapped.client.models.list();
    await wrapped.close();
    // Two fitted in the queue and were lost to the failed send; the other two were dropped.
    expect(wrapped.stats()).toEqual({ recorded: 4, dropped: 2, queued: 0, failed: 2, sent: 0 });
  });
});
