/**
 * `POST /v1/traces` with what users already run: the official OTLP exporters
 * (protobuf and JSON) through the local gateway, and spans recorded from the
 * real OpenAI instrumentations (test/otlp-fixtures, each naming its packages
 * and versions), checked field by field against what `/traces` and `/status`
 * show afterwards.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../infra/local/gateway.js';
import type { TraceEvent } from '../../shared/events/model.js';
import { INGEST_MAX_BODY_BYTES } from '../../shared/ingest/ingest.js';
import { decodeStatus, decodeTraceResponse } from '../../shared/ingest/otlp-protobuf.js';
import { type FaultInjector, injectStoreFaults } from '../../test/faults.js';
import { invokeHttp, setEnv, startTestGateway, useFreshStore } from '../../test/helpers.js';
import { handler as statusHandler } from '../status/handler.js';
import { handler as tracesHandler } from '../traces/handler.js';
import { handler } from './handler.js';

const KEY = 'otlp-test-key';
const NOW = Date.now();
const FIXTURES = new URL('../../test/otlp-fixtures/', import.meta.url);

let gateway: Gateway;
let restore: () => void;
beforeAll(async () => {
  await useFreshStore();
  restore = setEnv({ INGEST_API_KEY: KEY });
  gateway = await startTestGateway(async () => handler as never);
});
afterAll(async () => {
  await gateway.close();
  restore();
});

/** The events of a region, oldest first, as `/traces` returns them. */
async function tracesOf(region: string): Promise<TraceEvent[]> {
  const res = await invokeHttp(tracesHandler, {
    path: '/traces',
    query: { source: 'ingest', region, window: 120, limit: 100 },
  });
  expect(res.statusCode).toBe(200);
  return res.json<{ items: TraceEvent[] }>().items.sort((a, b) => a.ts - b.ts);
}

interface StatusBody {
  overall: { total: number; ok: number };
  endpoints: { endpoint: string; total: number; ok: number }[];
}
async function statusOf(region: string): Promise<StatusBody> {
  const res = await invokeHttp(statusHandler, {
    path: '/status',
    query: { source: 'ingest', region, window: 120 },
  });
  expect(res.statusCode).toBe(200);
  return res.json<StatusBody>();
}

const byEndpoint = (status: StatusBody) =>
  Object.fromEntries(status.endpoints.map((e) => [e.endpoint, { total: e.total, ok: e.ok }]));

// ---------------------------------------------------------------------------------------------
// Spans recorded from the real instrumentations
// ---------------------------------------------------------------------------------------------

interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: {
    key: string;
    value: { stringValue?: string; arrayValue?: { values: { stringValue: string }[] } };
  }[];
  events?: { timeUnixNano: string }[];
}
interface Fixture {
  recordedWith: Record<string, string>;
  request: {
    resourceSpans: {
      resource: { attributes: { key: string; value: unknown }[] };
      scopeSpans: { spans: OtlpJsonSpan[] }[];
    }[];
  };
}

/**
 * A recorded fixture, moved in time so its first span starts `ago` ms before
 * now (durations and order kept to the nanosecond), with the app's region as
 * a resource attribute (what an SDK's resource detector adds).
 */
function loadFixture(name: string, region: string, ago = 10 * 60_000): Fixture {
  const fixture = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Fixture;
  const spans = fixture.request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const first = spans.reduce(
    (min, s) => (BigInt(s.startTimeUnixNano) < min ? BigInt(s.startTimeUnixNano) : min),
    BigInt(spans[0]?.startTimeUnixNano ?? 0),
  );
  const shift = BigInt(NOW - ago) * 1_000_000n - first;
  const move = (nanos: string) => String(BigInt(nanos) + shift);
  for (const s of spans) {
    s.startTimeUnixNano = move(s.startTimeUnixNano);
    s.endTimeUnixNano = move(s.endTimeUnixNano);
    for (const e of s.events ?? []) e.timeUnixNano = move(e.timeUnixNano);
  }
  for (const r of fixture.request.resourceSpans) {
    r.resource.attributes.push({ key: 'cloud.region', value: { stringValue: region } });
  }
  return fixture;
}

/** The spans of a fixture that are calls (not HTTP children), oldest first. */
function callSpans(fixture: Fixture): OtlpJsonSpan[] {
  return fixture.request.resourceSpans
    .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
    .filter((s) => !s.parentSpanId)
    .sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
}

/** A header attribute an instrumentation captured on a span (or on its HTTP child). */
function headerOf(fixture: Fixture, span: OtlpJsonSpan, name: string): string | undefined {
  const spans = fixture.request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const child = spans.find((s) => s.parentSpanId === span.spanId);
  for (const s of [child, span]) {
    const found = s?.attributes.find((a) => a.key === `http.response.header.${name}`);
    if (found) return found.value.arrayValue?.values[0]?.stringValue;
  }
  return undefined;
}

const durationMs = (s: OtlpJsonSpan) =>
  Number((BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1000n) / 1000;

/** What a fixture's calls must become, oldest first: the fields that vary per call are read from the fixture. */
type Expected = Omit<
  TraceEvent,
  'id' | 'ts' | 'source' | 'latencyMs' | 'traceId' | 'spanId' | 'region' | 'requestId'
> & {
  /** The call's x-request-id was captured (by the HTTP instrumentation) and must be the event's requestId. */
  requestId?: true;
};

const usage = (input: number, output?: number, extra: { cached?: number; reasoning?: number } = {}) => ({
  input,
  ...(output === undefined ? {} : { output }),
  ...extra,
});
/** USD per 1M tokens, input and output (the spec's price table), to check the estimate independently. */
const PRICES: Record<string, [number, number]> = {
  'gpt-4o-mini': [0.15, 0.6],
  'gpt-4.1-mini': [0.4, 1.6],
  'text-embedding-3-small': [0.02, 0],
};
const cost = (model: string, input: number, output: number) => {
  const [inputPrice, outputPrice] = PRICES[model] ?? [Number.NaN, Number.NaN];
  return (input * inputPrice + output * outputPrice) / 1e6;
};

const SERVER_ERROR = '500 The server had an error while processing your request. Sorry about that!';

/** Per fixture: what each recorded call must be stored as. */
const EXPECTED: Record<string, { packages: string[]; events: Expected[] }> = {
  // GenAI conventions (current and previous provider names); Responses API calls say `chat`.
  'otel-genai': {
    packages: ['@opentelemetry/instrumentation-openai'],
    events: [
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: true,
        usage: usage(2, 16),
        costUsd: cost('gpt-4o-mini', 2, 16),
      },
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: true,
        usage: usage(4, 16),
        costUsd: cost('gpt-4o-mini', 4, 16),
      },
      {
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        ok: true,
        usage: usage(2, 16),
        costUsd: cost('gpt-4.1-mini', 2, 16),
      },
      {
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        ok: true,
        usage: usage(2, 16),
        costUsd: cost('gpt-4.1-mini', 2, 16),
      },
      {
        endpoint: 'embeddings',
        model: 'text-embedding-3-small',
        ok: true,
        usage: usage(3),
        costUsd: cost('text-embedding-3-small', 3, 0),
      },
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: false,
        errorType: 'server_error',
        errorMessage: SERVER_ERROR,
      },
    ],
  },
  // The same with undici's HTTP child spans: status and request id come from the child.
  'otel-genai-with-undici': {
    packages: ['@opentelemetry/instrumentation-openai', '@opentelemetry/instrumentation-undici'],
    events: [
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: true,
        status: 200,
        usage: usage(2, 16),
        costUsd: cost('gpt-4o-mini', 2, 16),
        requestId: true,
        processingMs: 5,
      },
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: true,
        status: 200,
        usage: usage(4, 16),
        costUsd: cost('gpt-4o-mini', 4, 16),
        requestId: true,
        processingMs: 5,
      },
      {
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        ok: true,
        status: 200,
        usage: usage(2, 16),
        costUsd: cost('gpt-4.1-mini', 2, 16),
        requestId: true,
        processingMs: 5,
      },
      {
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        ok: true,
        status: 200,
        usage: usage(2, 16),
        costUsd: cost('gpt-4.1-mini', 2, 16),
        requestId: true,
        processingMs: 5,
      },
      {
        endpoint: 'embeddings',
        model: 'text-embedding-3-small',
        ok: true,
        status: 200,
        usage: usage(3),
        costUsd: cost('text-embedding-3-small', 3, 0),
        requestId: true,
        processingMs: 5,
      },
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: false,
        status: 500,
        errorType: 'server_error',
        errorMessage: SERVER_ERROR,
        requestId: true,
        processingMs: 5,
      },
    ],
  },
  // OpenInference: llm.model_name, llm.token_count.*, embedding.model_name; streams from llm.invocation_parameters.
  openinference: {
    packages: ['@arizeai/openinference-instrumentation-openai'],
    events: [
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: true,
        usage: usage(2, 16, { cached: 0, reasoning: 0 }),
        costUsd: cost('gpt-4o-mini', 2, 16),
      },
      // Streamed without usage or a first-token time: stored as streamed, time to first token unknown.
      { endpoint: 'chat', model: 'gpt-4o-mini', ok: true, streamed: true },
      {
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        ok: true,
        usage: usage(2, 16, { cached: 0, reasoning: 0 }),
        costUsd: cost('gpt-4.1-mini', 2, 16),
      },
      {
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        ok: true,
        streamed: true,
        usage: usage(2, 16, { cached: 0, reasoning: 0 }),
        costUsd: cost('gpt-4.1-mini', 2, 16),
      },
      { endpoint: 'embeddings', model: 'text-embedding-3-small', ok: true },
    ],
  },
  // OpenLLMetry today: GenAI names with gen_ai.usage.total_tokens; the streamed Responses call carries
  // no evidence of its API (no response id) and stays `chat`.
  traceloop: {
    packages: ['@traceloop/instrumentation-openai'],
    events: [
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: true,
        usage: usage(2, 16),
        costUsd: cost('gpt-4o-mini', 2, 16),
      },
      { endpoint: 'chat', model: 'gpt-4o-mini', ok: true },
      {
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        ok: true,
        usage: usage(2, 16),
        costUsd: cost('gpt-4.1-mini', 2, 16),
      },
      { endpoint: 'chat', model: 'gpt-4.1-mini', ok: true },
    ],
  },
  // OpenLLMetry's older names: gen_ai.system "OpenAI", llm.request.type, gen_ai.usage.prompt_tokens.
  'traceloop-0.19': {
    packages: ['@traceloop/instrumentation-openai'],
    events: [
      {
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        ok: true,
        usage: usage(2, 16),
        costUsd: cost('gpt-4o-mini', 2, 16),
      },
      { endpoint: 'chat', model: 'gpt-4o-mini', ok: true },
    ],
  },
  // Plain HTTP client spans of the openai SDK's fetch: endpoint from the path, status, request id header.
  undici: {
    packages: ['@opentelemetry/instrumentation-undici'],
    events: [
      { endpoint: 'chat', ok: true, status: 200, requestId: true, processingMs: 5 },
      { endpoint: 'chat', ok: true, status: 200, requestId: true, processingMs: 5 },
      { endpoint: 'responses', ok: true, status: 200, requestId: true, processingMs: 5 },
      { endpoint: 'responses', ok: true, status: 200, requestId: true, processingMs: 5 },
      { endpoint: 'embeddings', ok: true, status: 200, requestId: true, processingMs: 5 },
      {
        endpoint: 'chat',
        ok: false,
        status: 500,
        errorType: 'server_error',
        requestId: true,
        processingMs: 5,
      },
    ],
  },
};

describe('spans recorded from the real instrumentations', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: every call is stored as the instrumentation described it`, async () => {
      const region = `fixture-${name}`;
      const fixture = loadFixture(name, region);
      for (const pkg of expected.packages) expect(fixture.recordedWith[pkg], pkg).toMatch(/^\d+\.\d+\.\d+/);
      const res = await invokeHttp(handler, {
        method: 'POST',
        path: '/v1/traces',
        headers: { 'x-api-key': KEY },
        body: fixture.request,
      });
      expect(res.statusCode).toBe(200);
      // Every span is an OpenAI call or the HTTP request of one: nothing skipped, nothing refused.
      expect(res.json()).toEqual({});
      expect(res.headers['x-skipped-spans']).toBe('0');

      const calls = callSpans(fixture);
      const stored = await tracesOf(region);
      expect(stored).toHaveLength(expected.events.length);
      stored.forEach((event, i) => {
        const span = calls[i] as OtlpJsonSpan;
        const { requestId, costUsd, ...want } = expected.events[i] as Expected;
        const { costUsd: storedCost, ...rest } = event;
        expect(rest, `${name} call ${i}`).toEqual({
          id: `otlp-${span.traceId}-${span.spanId}`,
          ts: Math.round(Number(BigInt(span.startTimeUnixNano) / 1000n) / 1000),
          source: 'ingest',
          region,
          latencyMs: durationMs(span),
          traceId: span.traceId,
          spanId: span.spanId,
          ...want,
          ...(requestId ? { requestId: headerOf(fixture, span, 'x-request-id') } : {}),
        });
        if (costUsd === undefined) expect(storedCost).toBeUndefined();
        else expect(storedCost).toBeCloseTo(costUsd, 12);
      });
      if (expected.events.some((e) => e.requestId))
        expect(stored.every((e) => /^req_/.test(e.requestId ?? ''))).toBe(true);

      const status = await statusOf(region);
      const counts: Record<string, { total: number; ok: number }> = {};
      for (const e of expected.events) {
        const row = counts[e.endpoint] ?? { total: 0, ok: 0 };
        counts[e.endpoint] = row;
        row.total++;
        if (e.ok) row.ok++;
      }
      expect(status.overall).toMatchObject({
        total: expected.events.length,
        ok: expected.events.filter((e) => e.ok).length,
      });
      expect(byEndpoint(status)).toEqual(counts);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The official OTLP exporters
// ---------------------------------------------------------------------------------------------

/**
 * An app's spans, made with the OpenTelemetry SDK: a GenAI chat call with its
 * HTTP child (the wire answered 429), a streamed Responses call that records
 * its first chunk, and the app's own server span (not an OpenAI call).
 */
function appSpans(at: number, region: string): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('my-app');
  const server = tracer.startSpan('POST /ask', { kind: SpanKind.SERVER, startTime: at });
  const inServer = trace.setSpan(context.active(), server);
  const chat = tracer.startSpan(
    'chat gpt-4o-mini',
    {
      kind: SpanKind.CLIENT,
      startTime: at + 1,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'cloud.region': region,
      },
    },
    inServer,
  );
  const wire = tracer.startSpan(
    'POST',
    {
      kind: SpanKind.CLIENT,
      startTime: at + 2,
      attributes: {
        'http.request.method': 'POST',
        'url.full': 'https://api.openai.com/v1/chat/completions',
        'server.address': 'api.openai.com',
        'http.response.status_code': 429,
        'http.response.header.x-request-id': ['req_wire_429'],
      },
    },
    trace.setSpan(inServer, chat),
  );
  wire.end(at + 40);
  chat.setAttribute('error.type', 'RateLimitError');
  chat.setStatus({ code: SpanStatusCode.ERROR, message: '429 Rate limit reached for gpt-4o-mini' });
  chat.end(at + 41.5);
  const streamed = tracer.startSpan(
    'chat gpt-4.1-mini',
    {
      kind: SpanKind.CLIENT,
      startTime: at + 50,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4.1-mini',
        'gen_ai.request.stream': true,
        'gen_ai.response.id': 'resp_0123',
        'gen_ai.usage.prompt_tokens': 30,
        'gen_ai.usage.completion_tokens': 12,
        'gen_ai.openai.response.service_tier': 'default',
        'cloud.region': region,
      },
    },
    inServer,
  );
  streamed.addEvent('gen_ai.first_chunk', at + 50 + 180.25);
  streamed.end(at + 50 + 900);
  server.end(at + 1000);
  return memory.getFinishedSpans();
}

function exportWith(exporter: OtlpProtoExporter | OtlpJsonExporter, spans: ReadableSpan[]) {
  return new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve));
}

describe('the official OTLP exporters', () => {
  const expectAppEvents = async (region: string, at: number) => {
    const stored = await tracesOf(region);
    expect(stored.map(({ id, traceId, spanId, costUsd, ...e }) => e)).toEqual([
      {
        ts: at + 1,
        source: 'ingest',
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        region,
        ok: false,
        status: 429,
        errorType: 'rate_limited',
        errorMessage: '429 Rate limit reached for gpt-4o-mini',
        latencyMs: 40.5,
        requestId: 'req_wire_429',
      },
      {
        ts: at + 50,
        source: 'ingest',
        endpoint: 'responses',
        model: 'gpt-4.1-mini',
        region,
        ok: true,
        latencyMs: 900,
        timing: { ttftMs: 180.25 },
        streamed: true,
        usage: { input: 30, output: 12 },
        attributes: { service_tier: 'default' },
      },
    ]);
    expect(stored[1]?.costUsd).toBeCloseTo(30 * 0.4e-6 + 12 * 1.6e-6, 12);
    const status = await statusOf(region);
    expect(status.overall).toMatchObject({ total: 2, ok: 1 });
    expect(byEndpoint(status)).toEqual({ chat: { total: 1, ok: 0 }, responses: { total: 1, ok: 1 } });
  };

  it('http/protobuf (the SDK default), gzip-compressed: stored, the HTTP child read with its call', async () => {
    const at = NOW - 20 * 60_000;
    const exporter = new OtlpProtoExporter({
      url: `${gateway.url}/v1/traces`,
      headers: { 'x-api-key': KEY },
      compression: CompressionAlgorithm.GZIP,
    });
    const result = await exportWith(exporter, appSpans(at, 'exporter-protobuf'));
    expect(result.error).toBeUndefined();
    expect(result.code).toBe(0);
    await exporter.shutdown();
    await expectAppEvents('exporter-protobuf', at);
  });

  it('http/json: the same spans give the same events', async () => {
    const at = NOW - 25 * 60_000;
    const exporter = new OtlpJsonExporter({ url: `${gateway.url}/v1/traces`, headers: { 'x-api-key': KEY } });
    const result = await exportWith(exporter, appSpans(at, 'exporter-json'));
    expect(result.code).toBe(0);
    await exporter.shutdown();
    await expectAppEvents('exporter-json', at);
  });
});

// ---------------------------------------------------------------------------------------------
// Answers, as the OTLP/HTTP specification has them
// ---------------------------------------------------------------------------------------------

const send = (body: Uint8Array | string, headers: Record<string, string>) =>
  fetch(`${gateway.url}/v1/traces`, { method: 'POST', headers: { 'x-api-key': KEY, ...headers }, body });
const PROTOBUF = { 'content-type': 'application/x-protobuf' };

describe('OTLP/HTTP answers', () => {
  let faults: FaultInjector | undefined;
  afterEach(() => faults?.remove());

  it('answers a protobuf request in protobuf: partial success counts refused and skipped spans and says which', async () => {
    const at = NOW - 30 * 60_000;
    const spans = appSpans(at, 'answers');
    const res = await send(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array, PROTOBUF);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect(decodeTraceResponse(new Uint8Array(await res.arrayBuffer()))).toEqual({
      partialSuccess: { rejectedSpans: '1', errorMessage: '1 spans skipped: not calls to the OpenAI API' },
    });
    // The same request again: the answer is replayed, nothing is counted twice.
    const again = await send(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array, PROTOBUF);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await statusOf('answers')).overall).toMatchObject({ total: 2 });
  });

  it('a JSON request gets JSON, with the refused span named', async () => {
    const res = await send(
      JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: 'zz',
                    spanId: '0102030405060708',
                    startTimeUnixNano: '1',
                    endTimeUnixNano: '2',
                    attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
                  },
                  { traceId: '0102030405060708090a0b0c0d0e0f10', spanId: '0102030405060709', name: 'GET /' },
                ],
              },
            ],
          },
        ],
      }),
      { 'content-type': 'application/json' },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      partialSuccess: {
        rejectedSpans: 2,
        errorMessage:
          '1 spans refused: span 0102030405060708: traceId must be 32 hex characters; 1 spans skipped: not calls to the OpenAI API',
      },
    });
  });

  it('refuses what cannot be read with a non-retryable 4xx whose protobuf Status says why', async () => {
    const garbage = await send(new Uint8Array([0x0a, 0xff, 0xff, 0xff]), PROTOBUF);
    expect(garbage.status).toBe(400);
    expect(garbage.headers.get('content-type')).toBe('application/x-protobuf');
    expect(decodeStatus(new Uint8Array(await garbage.arrayBuffer())).message).toMatch(
      /^body: not a protobuf ExportTraceServiceRequest/,
    );
    const media = await send('{}', { 'content-type': 'text/plain' });
    expect(media.status).toBe(415);
    const unauthorized = await fetch(`${gateway.url}/v1/traces`, {
      method: 'POST',
      headers: PROTOBUF,
      body: '',
    });
    expect(unauthorized.status).toBe(401);
    expect(decodeStatus(new Uint8Array(await unauthorized.arrayBuffer())).message).toMatch(/API key/);
  });

  it('measures the body limit after decompression: a small gzip body that inflates past 4 MiB is 413', async () => {
    const bomb = gzipSync(Buffer.alloc(INGEST_MAX_BODY_BYTES + 1));
    expect(bomb.byteLength).toBeLessThan(10_000);
    const res = await send(bomb, { ...PROTOBUF, 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(decodeStatus(new Uint8Array(await res.arrayBuffer())).message).toMatch(/once decompressed/);
    // Just under the limit is read (all zero bytes: not a valid request, so a 400, not a 413).
    const under = await send(gzipSync(Buffer.alloc(INGEST_MAX_BODY_BYTES)), {
      ...PROTOBUF,
      'content-encoding': 'gzip',
    });
    expect(under.status).toBe(400);
  });

  it('answers a store failure with a retryable 503 and Retry-After; the retry stores each span once', async () => {
    const at = NOW - 35 * 60_000;
    const body = ProtobufTraceSerializer.serializeRequest(appSpans(at, 'store-failure')) as Uint8Array;
    faults = injectStoreFaults();
    faults.failAt(2, 'lost-request');
    const failed = await send(body, PROTOBUF);
    expect(faults.fired).toBe(true);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('5');
    faults.remove();
    faults = undefined;
    const retried = await send(body, PROTOBUF);
    expect(retried.status).toBe(200);
    expect((await statusOf('store-failure')).overall).toMatchObject({ total: 2, ok: 1 });
    expect(await tracesOf('store-failure')).toHaveLength(2);
  });
});
