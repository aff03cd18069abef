import { describe, expect, it } from 'vitest';
import { estimateCost } from '../pricing.js';
import {
  ATTR,
  type Attributes,
  endpointFromPath,
  eventFromSpan,
  openAiCallConvention,
  type SpanLike,
} from './span-event.js';

/** Start of every hand-built span: a .25 ms fraction, exactly representable. */
const START = 1_767_225_600_000.25;

function span(overrides: Partial<SpanLike> = {}): SpanLike {
  return {
    name: 'chat gpt-4o-mini',
    startTimeMs: START,
    endTimeMs: START + 100,
    attributes: {},
    statusCode: 0,
    ...overrides,
  };
}

/** A span that only carries the given attributes (and status code). */
const withAttributes = (attributes: Attributes, statusCode: 0 | 1 | 2 = 0, extra: Partial<SpanLike> = {}) =>
  span({ attributes, statusCode, ...extra });

const probe = { source: 'probe' } as const;
const ingest = { source: 'ingest' } as const;
const header = (name: string) => `${ATTR.headerPrefix}${name}`;

describe('eventFromSpan: a successful chat span with the current GenAI names', () => {
  const chat = span({
    name: 'chat gpt-4o-mini',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    startTimeMs: START,
    endTimeMs: START + 123.5,
    statusCode: 1,
    attributes: {
      [ATTR.operationName]: 'chat',
      [ATTR.providerName]: 'openai',
      [ATTR.openaiApiType]: 'chat_completions',
      [ATTR.requestModel]: 'gpt-4o',
      // The dated snapshot the API answered with: priced as gpt-4o-mini.
      [ATTR.responseModel]: 'gpt-4o-mini-2024-07-18',
      [ATTR.httpStatus]: 200,
      [ATTR.inputTokens]: 1000,
      [ATTR.cachedInputTokens]: 400,
      [ATTR.outputTokens]: 200,
      [ATTR.reasoningOutputTokens]: 50,
      [ATTR.responseBodySize]: 812,
      [ATTR.dnsMs]: 1.5,
      [ATTR.connectMs]: 2.25,
      [ATTR.tlsMs]: 10.125,
      [ATTR.ttfbMs]: 100.5,
      [ATTR.transferMs]: 23,
      [ATTR.connectionReused]: false,
      [ATTR.timeToFirstChunk]: 0.1234,
      [ATTR.region]: 'eu-west-1',
      [ATTR.upstream]: 'real',
      [header('x-request-id')]: ['req_abc123'],
      [header('openai-processing-ms')]: ['87'],
      [header('x-ratelimit-limit-requests')]: ['5000'],
      [header('x-ratelimit-remaining-requests')]: ['4999'],
      [header('x-ratelimit-reset-requests')]: ['12ms'],
      [header('x-ratelimit-limit-tokens')]: ['2000000'],
      [header('x-ratelimit-remaining-tokens')]: ['1999000'],
      [header('x-ratelimit-reset-tokens')]: ['6m0s'],
    },
  });
  const event = eventFromSpan(chat, probe);

  it('maps identity, model (response over request), status and ids', () => {
    expect(event).toMatchObject({
      id: 'b7ad6b7169203331',
      source: 'probe',
      endpoint: 'chat',
      model: 'gpt-4o-mini-2024-07-18',
      region: 'eu-west-1',
      upstream: 'real',
      ok: true,
      status: 200,
      responseBytes: 812,
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
    });
    expect(event.errorType).toBeUndefined();
    expect(event.errorMessage).toBeUndefined();
  });

  it('keeps sub-ms latency (end − start) and rounds ts to the start ms', () => {
    expect(event.latencyMs).toBe(123.5);
    expect(event.ts).toBe(1_767_225_600_000);
    const late = eventFromSpan(span({ startTimeMs: START + 0.5, endTimeMs: START + 0.625 }), probe);
    expect(late.ts).toBe(1_767_225_600_001);
    expect(late.latencyMs).toBe(0.125);
  });

  it('never reports a negative latency', () => {
    expect(eventFromSpan(span({ endTimeMs: START - 5 }), probe).latencyMs).toBe(0);
  });

  it('maps usage including cached and reasoning tokens', () => {
    expect(event.usage).toEqual({ input: 1000, output: 200, cached: 400, reasoning: 50 });
  });

  it('estimates the cost from the price table when none is set', () => {
    // gpt-4o-mini: (600 × 0.15 + 400 × 0.075 + 200 × 0.6) / 1e6; reasoning is part of output, not added.
    expect(event.costUsd).toBeCloseTo(0.00024, 12);
    expect(event.costUsd).toBe(
      estimateCost('gpt-4o-mini', { input: 1000, output: 200, cached: 400, reasoning: 50 }),
    );
  });

  it('takes a set openai_status.cost_usd as is', () => {
    const priced = eventFromSpan(withAttributes({ ...chat.attributes, [ATTR.costUsd]: 0.5 }, 1), probe);
    expect(priced.costUsd).toBe(0.5);
    const free = eventFromSpan(withAttributes({ ...chat.attributes, [ATTR.costUsd]: 0 }, 1), probe);
    expect(free.costUsd).toBe(0);
  });

  it('maps timing phases, connection reuse and time to first chunk (s → ms)', () => {
    expect(event.timing).toEqual({
      dnsMs: 1.5,
      connectMs: 2.25,
      tlsMs: 10.125,
      ttfbMs: 100.5,
      transferMs: 23,
      ttftMs: 123.4,
      reused: false,
    });
  });

  it('reads request id, processing time and rate-limit headroom from the header attributes', () => {
    expect(event.requestId).toBe('req_abc123');
    expect(event.processingMs).toBe(87);
    expect(event.rateLimit).toEqual({
      limitRequests: 5000,
      remainingRequests: 4999,
      resetRequestsMs: 12,
      limitTokens: 2_000_000,
      remainingTokens: 1_999_000,
      resetTokensMs: 360_000,
    });
  });

  it('falls back to the request model when the response names none', () => {
    const { [ATTR.responseModel]: _, ...rest } = chat.attributes;
    const fallback = eventFromSpan(withAttributes(rest, 1), probe);
    expect(fallback.model).toBe('gpt-4o');
    // gpt-4o prices: (600 × 2.5 + 400 × 1.25 + 200 × 10) / 1e6
    expect(fallback.costUsd).toBeCloseTo(0.004, 12);
  });
});

describe('eventFromSpan: older GenAI names (OTLP ingestion)', () => {
  it('reads gen_ai.system spans with prompt_tokens/completion_tokens', () => {
    const event = eventFromSpan(
      withAttributes(
        {
          [ATTR.legacySystem]: 'openai',
          [ATTR.operationName]: 'chat',
          [ATTR.requestModel]: 'gpt-4o-mini',
          [ATTR.legacyPromptTokens]: 100,
          [ATTR.legacyCompletionTokens]: 20,
          [ATTR.httpStatus]: 200,
        },
        0,
      ),
      ingest,
    );
    expect(event).toMatchObject({ source: 'ingest', endpoint: 'chat', model: 'gpt-4o-mini', ok: true });
    expect(event.usage).toEqual({ input: 100, output: 20 });
    expect(event.costUsd).toBeCloseTo((100 * 0.15 + 20 * 0.6) / 1e6, 15);
  });

  it('prefers the current names when both are present', () => {
    const event = eventFromSpan(
      withAttributes({
        [ATTR.inputTokens]: 7,
        [ATTR.legacyPromptTokens]: 100,
        [ATTR.outputTokens]: 3,
        [ATTR.legacyCompletionTokens]: 20,
      }),
      ingest,
    );
    expect(event.usage).toEqual({ input: 7, output: 3 });
  });

  it('accepts token counts sent as strings (OTLP JSON int64)', () => {
    const event = eventFromSpan(
      withAttributes({ [ATTR.inputTokens]: '12', [ATTR.outputTokens]: '3', [ATTR.httpStatus]: '200' }),
      ingest,
    );
    expect(event.usage).toEqual({ input: 12, output: 3 });
    expect(event.status).toBe(200);
  });
});

describe('eventFromSpan: endpoint', () => {
  const endpointOf = (attributes: Attributes, name = 'chat gpt-4o-mini') =>
    eventFromSpan(span({ name, attributes }), ingest).endpoint;

  it('uses an explicit openai_status.endpoint first', () => {
    expect(
      endpointOf({
        [ATTR.endpoint]: 'chat_stream',
        [ATTR.operationName]: 'chat',
        [ATTR.openaiApiType]: 'responses',
      }),
    ).toBe('chat_stream');
  });

  it('maps openai.api.type responses to responses, whatever the operation', () => {
    expect(endpointOf({ [ATTR.operationName]: 'chat', [ATTR.openaiApiType]: 'responses' })).toBe('responses');
  });

  it('maps the chat (and text_completion) operation to chat', () => {
    expect(endpointOf({ [ATTR.operationName]: 'chat', [ATTR.openaiApiType]: 'chat_completions' })).toBe(
      'chat',
    );
    expect(endpointOf({ [ATTR.operationName]: 'chat' })).toBe('chat');
    expect(endpointOf({ [ATTR.operationName]: 'text_completion' })).toBe('chat');
  });

  it('uses other operations as they are', () => {
    expect(endpointOf({ [ATTR.operationName]: 'embeddings' }, 'embeddings text-embedding-3-small')).toBe(
      'embeddings',
    );
  });

  it("falls back to the span name's first word, then unknown", () => {
    expect(endpointOf({}, 'embeddings text-embedding-3-small')).toBe('embeddings');
    expect(endpointOf({}, 'models.list')).toBe('models.list');
    expect(endpointOf({}, '')).toBe('unknown');
  });
});

describe('eventFromSpan: region', () => {
  const regionOf = (attributes: Attributes, resource?: Attributes) =>
    eventFromSpan(span({ attributes, ...(resource ? { resource } : {}) }), ingest).region;

  it('prefers openai_status.region, then span cloud.region, then resource cloud.region', () => {
    const resource = { [ATTR.cloudRegion]: 'ap-south-1', 'service.name': 'app' };
    expect(regionOf({ [ATTR.region]: 'eu-west-1', [ATTR.cloudRegion]: 'us-east-2' }, resource)).toBe(
      'eu-west-1',
    );
    expect(regionOf({ [ATTR.cloudRegion]: 'us-east-2' }, resource)).toBe('us-east-2');
    expect(regionOf({}, resource)).toBe('ap-south-1');
  });

  it('leaves the region absent when nothing names one', () => {
    const event = eventFromSpan(span({ resource: { 'service.name': 'app' } }), ingest);
    expect('region' in event).toBe(false);
  });
});

describe('eventFromSpan: error type', () => {
  const errorOf = (attributes: Attributes, statusCode: 0 | 1 | 2 = 2, extra: Partial<SpanLike> = {}) =>
    eventFromSpan(withAttributes(attributes, statusCode, extra), ingest);

  it('keeps an explicit taxonomy value, even against the status', () => {
    expect(errorOf({ [ATTR.errorType]: 'invalid_response', [ATTR.httpStatus]: 200 })).toMatchObject({
      ok: false,
      errorType: 'invalid_response',
      status: 200,
    });
    expect(errorOf({ [ATTR.errorType]: 'timeout', [ATTR.httpStatus]: 500 }).errorType).toBe('timeout');
  });

  it.each([
    [429, 'rate_limited'],
    [401, 'auth'],
    [403, 'auth'],
    [400, 'client_error'],
    [404, 'client_error'],
    [408, 'client_error'],
    [500, 'server_error'],
    [503, 'server_error'],
  ] as const)('status %i → %s', (status, errorType) => {
    // With the span status unset too: a ≥ 400 status alone marks the failure.
    for (const statusCode of [0, 2] as const) {
      const event = errorOf({ [ATTR.httpStatus]: status }, statusCode);
      expect(event).toMatchObject({ ok: false, status, errorType });
    }
  });

  it('the status wins over an exception class name', () => {
    expect(errorOf({ [ATTR.errorType]: 'InternalServerError', [ATTR.httpStatus]: 502 }).errorType).toBe(
      'server_error',
    );
  });

  it('classifies exception class names and error codes without a status', () => {
    expect(errorOf({ [ATTR.errorType]: 'APIConnectionTimeoutError' }).errorType).toBe('timeout');
    expect(errorOf({ [ATTR.errorType]: 'ETIMEDOUT' }).errorType).toBe('timeout');
    expect(errorOf({ [ATTR.errorType]: 'ECONNRESET' }).errorType).toBe('network');
    expect(errorOf({ [ATTR.errorType]: 'ENOTFOUND' }).errorType).toBe('network');
    expect(errorOf({ [ATTR.errorType]: 'APIConnectionError' }).errorType).toBe('network');
    // A declared error.type marks a failure even on a span whose status was left unset.
    expect(errorOf({ [ATTR.errorType]: 'ECONNRESET' }, 0)).toMatchObject({ ok: false, errorType: 'network' });
    expect('status' in errorOf({ [ATTR.errorType]: 'ECONNRESET' })).toBe(false);
  });

  it('an error span with nothing else is unknown', () => {
    expect(errorOf({}, 2)).toMatchObject({ ok: false, errorType: 'unknown' });
    expect(errorOf({ [ATTR.errorType]: '_OTHER' }, 2).errorType).toBe('unknown');
  });

  it('an ok span with status 200 is ok with no error type', () => {
    for (const statusCode of [0, 1] as const) {
      const event = errorOf({ [ATTR.httpStatus]: 200 }, statusCode);
      expect(event.ok).toBe(true);
      expect(event.status).toBe(200);
      expect('errorType' in event).toBe(false);
    }
  });
});

describe('eventFromSpan: error message', () => {
  it('is taken from openai_status.error_message, else the status message, truncated to 300 chars', () => {
    const long = 'x'.repeat(500);
    const fromAttribute = eventFromSpan(
      withAttributes({ [ATTR.errorMessage]: long, [ATTR.httpStatus]: 500 }, 2, { statusMessage: 'other' }),
      ingest,
    );
    expect(fromAttribute.errorMessage).toBe('x'.repeat(300));
    const fromStatus = eventFromSpan(
      withAttributes({ [ATTR.httpStatus]: 500 }, 2, { statusMessage: `boom ${long}` }),
      ingest,
    );
    expect(fromStatus.errorMessage).toHaveLength(300);
    expect(fromStatus.errorMessage?.startsWith('boom x')).toBe(true);
  });

  it('is only set on failures', () => {
    const event = eventFromSpan(
      withAttributes({ [ATTR.errorMessage]: 'stale', [ATTR.httpStatus]: 200 }, 1, { statusMessage: 'fine' }),
      ingest,
    );
    expect(event.ok).toBe(true);
    expect('errorMessage' in event).toBe(false);
  });

  it('is absent on a failure that has none', () => {
    expect('errorMessage' in eventFromSpan(withAttributes({ [ATTR.httpStatus]: 500 }, 2), ingest)).toBe(
      false,
    );
  });
});

describe('eventFromSpan: absent, unknown and bad values', () => {
  it('gives no cost for an unknown model (never 0)', () => {
    const event = eventFromSpan(
      withAttributes({
        [ATTR.responseModel]: 'my-finetune-xyz',
        [ATTR.inputTokens]: 10,
        [ATTR.outputTokens]: 5,
      }),
      ingest,
    );
    expect(event.usage).toEqual({ input: 10, output: 5 });
    expect('costUsd' in event).toBe(false);
  });

  it('gives no cost without usage or model', () => {
    expect('costUsd' in eventFromSpan(withAttributes({ [ATTR.requestModel]: 'gpt-4o' }), ingest)).toBe(false);
    expect('costUsd' in eventFromSpan(withAttributes({ [ATTR.inputTokens]: 10 }), ingest)).toBe(false);
  });

  it('ignores negative, NaN, infinite and non-numeric token values', () => {
    const event = eventFromSpan(
      withAttributes({
        [ATTR.responseModel]: 'gpt-4o-mini',
        [ATTR.inputTokens]: -1,
        [ATTR.outputTokens]: Number.NaN,
        [ATTR.cachedInputTokens]: Number.POSITIVE_INFINITY,
        [ATTR.reasoningOutputTokens]: 'lots',
      }),
      ingest,
    );
    expect('usage' in event).toBe(false);
    expect('costUsd' in event).toBe(false);
  });

  it('a bad current value falls back to the older name', () => {
    const event = eventFromSpan(
      withAttributes({ [ATTR.inputTokens]: -5, [ATTR.legacyPromptTokens]: 9 }),
      ingest,
    );
    expect(event.usage).toEqual({ input: 9 });
  });

  it('ignores a negative or NaN cost and estimates instead', () => {
    const base = { [ATTR.responseModel]: 'gpt-4o-mini', [ATTR.inputTokens]: 1_000_000 };
    expect(eventFromSpan(withAttributes({ ...base, [ATTR.costUsd]: -1 }), ingest).costUsd).toBeCloseTo(0.15);
    expect(
      eventFromSpan(withAttributes({ ...base, [ATTR.costUsd]: Number.NaN }), ingest).costUsd,
    ).toBeCloseTo(0.15);
  });

  it('ignores negative timings and a non-boolean reuse flag', () => {
    const event = eventFromSpan(
      withAttributes({ [ATTR.dnsMs]: -1, [ATTR.connectionReused]: 'true', [ATTR.timeToFirstChunk]: -0.1 }),
      ingest,
    );
    expect('timing' in event).toBe(false);
  });

  it('leaves absent headers absent (rate limits never 0)', () => {
    const event = eventFromSpan(withAttributes({ [ATTR.httpStatus]: 200 }), ingest);
    for (const key of ['requestId', 'processingMs', 'rateLimit']) expect(key in event).toBe(false);
  });

  it('keeps only the rate-limit fields whose headers are present and valid', () => {
    const event = eventFromSpan(
      withAttributes({
        [header('x-ratelimit-remaining-tokens')]: ['0'],
        [header('x-ratelimit-limit-tokens')]: ['lots'],
        [header('x-ratelimit-reset-tokens')]: ['soon'],
        [header('openai-processing-ms')]: ['-3'],
      }),
      ingest,
    );
    expect(event.rateLimit).toEqual({ remainingTokens: 0 });
    expect('processingMs' in event).toBe(false);
  });

  it('reads header attributes given as plain strings too', () => {
    const event = eventFromSpan(withAttributes({ [header('x-request-id')]: ' req_1 ' }), ingest);
    expect(event.requestId).toBe('req_1');
  });
});

describe('eventFromSpan: ids, source and upstream', () => {
  it('takes the id from openai_status.event_id, then defaults.id, then the span id, else a UUID', () => {
    expect(
      eventFromSpan(withAttributes({ [ATTR.eventId]: 'evt-1' }, 0, { spanId: 's1' }), { ...ingest, id: 'd' })
        .id,
    ).toBe('evt-1');
    expect(eventFromSpan(span({ spanId: 's1' }), { ...ingest, id: 'd' }).id).toBe('d');
    expect(eventFromSpan(span({ spanId: 's1' }), ingest).id).toBe('s1');
    expect(eventFromSpan(span(), ingest).id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('takes a valid openai_status.source over the default, and ignores an invalid one', () => {
    expect(eventFromSpan(withAttributes({ [ATTR.source]: 'probe' }), ingest).source).toBe('probe');
    expect(eventFromSpan(withAttributes({ [ATTR.source]: 'bogus' }), ingest).source).toBe('ingest');
  });

  it('keeps only known upstream values', () => {
    expect(eventFromSpan(withAttributes({ [ATTR.upstream]: 'simulated' }), probe).upstream).toBe('simulated');
    expect('upstream' in eventFromSpan(withAttributes({ [ATTR.upstream]: 'mars' }), probe)).toBe(false);
  });
});

describe('openAiCallConvention: which spans are calls to the OpenAI API', () => {
  const conventionOf = (attributes: Attributes, extra: Partial<SpanLike> = {}) =>
    openAiCallConvention(withAttributes(attributes, 0, extra));

  it('takes GenAI spans of OpenAI (current, previous and OpenLLMetry provider names) and of unnamed providers', () => {
    expect(conventionOf({ [ATTR.providerName]: 'openai', [ATTR.operationName]: 'chat' })).toBe('genai');
    expect(conventionOf({ [ATTR.legacySystem]: 'OpenAI', [ATTR.traceloopRequestType]: 'chat' })).toBe(
      'genai',
    );
    expect(conventionOf({ [ATTR.providerName]: 'azure.ai.openai', [ATTR.operationName]: 'chat' })).toBe(
      'genai',
    );
    expect(conventionOf({ [ATTR.operationName]: 'embeddings' })).toBe('genai');
  });

  it("skips other providers' GenAI spans", () => {
    expect(conventionOf({ [ATTR.providerName]: 'anthropic', [ATTR.operationName]: 'chat' })).toBeUndefined();
    expect(conventionOf({ [ATTR.legacySystem]: 'aws.bedrock', [ATTR.requestModel]: 'x' })).toBeUndefined();
  });

  it('takes OpenInference LLM and EMBEDDING spans of OpenAI, and skips chains, tools and other providers', () => {
    expect(conventionOf({ [ATTR.oiSpanKind]: 'LLM', [ATTR.oiProvider]: 'openai' })).toBe('openinference');
    expect(conventionOf({ [ATTR.oiSpanKind]: 'EMBEDDING' })).toBe('openinference');
    expect(conventionOf({ [ATTR.oiSpanKind]: 'CHAIN' })).toBeUndefined();
    expect(conventionOf({ [ATTR.oiSpanKind]: 'LLM', [ATTR.oiProvider]: 'anthropic' })).toBeUndefined();
  });

  it('takes HTTP client spans to an OpenAI API host, in the current and the previous HTTP names', () => {
    const client = { kind: 3 };
    expect(
      conventionOf(
        { [ATTR.httpMethod]: 'POST', [ATTR.urlFull]: 'https://api.openai.com/v1/embeddings' },
        client,
      ),
    ).toBe('http');
    expect(
      conventionOf(
        { [ATTR.legacyHttpMethod]: 'POST', [ATTR.legacyHttpUrl]: 'https://my.openai.azure.com/openai/x' },
        client,
      ),
    ).toBe('http');
    expect(
      conventionOf({ [ATTR.httpMethod]: 'GET', [ATTR.serverAddress]: 'api.example.com' }, client),
    ).toBeUndefined();
    // A server span answering on a host named like OpenAI's is not a call to it.
    expect(
      conventionOf({ [ATTR.httpMethod]: 'POST', [ATTR.serverAddress]: 'api.openai.com' }, { kind: 2 }),
    ).toBeUndefined();
    expect(conventionOf({ 'db.system': 'dynamodb' })).toBeUndefined();
  });
});

describe('endpointFromPath', () => {
  it('names the endpoint of OpenAI and Azure OpenAI paths', () => {
    expect(endpointFromPath('/v1/chat/completions')).toBe('chat');
    expect(endpointFromPath('/v1/responses')).toBe('responses');
    expect(endpointFromPath('/v1/responses/resp_123/input_items')).toBe('responses');
    expect(endpointFromPath('/v1/embeddings')).toBe('embeddings');
    expect(endpointFromPath('/v1/images/generations')).toBe('images');
    expect(endpointFromPath('/openai/deployments/gpt4o/chat/completions')).toBe('chat');
    expect(endpointFromPath('/openai/v1/responses')).toBe('responses');
    expect(endpointFromPath('/health')).toBeUndefined();
  });
});

describe('eventFromSpan: evidence against the operation name', () => {
  const endpointOf = (attributes: Attributes, extra: Partial<SpanLike> = {}, child?: SpanLike) =>
    eventFromSpan(span({ attributes, ...extra }), { ...ingest, ...(child ? { httpChild: child } : {}) })
      .endpoint;

  it('a resp_ response id makes a `chat` operation a Responses call', () => {
    expect(endpointOf({ [ATTR.operationName]: 'chat', [ATTR.responseId]: 'resp_abc' })).toBe('responses');
    expect(endpointOf({ [ATTR.operationName]: 'chat', [ATTR.responseId]: 'chatcmpl-abc' })).toBe('chat');
  });

  it('the path that went over the wire wins over everything the span claims', () => {
    const child = span({
      attributes: { [ATTR.httpMethod]: 'POST', [ATTR.urlPath]: '/v1/responses' },
      kind: 3,
    });
    expect(
      endpointOf({ [ATTR.operationName]: 'chat', [ATTR.openaiApiType]: 'chat_completions' }, {}, child),
    ).toBe('responses');
  });

  it('an OpenInference span is named by its kind and span name', () => {
    expect(endpointOf({ [ATTR.oiSpanKind]: 'LLM' }, { name: 'OpenAI Responses' })).toBe('responses');
    expect(endpointOf({ [ATTR.oiSpanKind]: 'LLM' }, { name: 'OpenAI Chat Completions' })).toBe('chat');
    expect(endpointOf({ [ATTR.oiSpanKind]: 'EMBEDDING' }, { name: 'OpenAI Embeddings' })).toBe('embeddings');
  });
});

describe('eventFromSpan: the HTTP child span', () => {
  it('gives the status, headers and response size of the call; the call keeps its own latency and usage', () => {
    const child = span({
      kind: 3,
      statusCode: 2,
      startTimeMs: START + 5,
      endTimeMs: START + 60,
      attributes: {
        [ATTR.httpMethod]: 'POST',
        [ATTR.urlFull]: 'https://api.openai.com/v1/chat/completions',
        [ATTR.httpStatus]: 503,
        [ATTR.responseBodySize]: 120,
        [header('x-request-id')]: ['req_child'],
      },
    });
    const event = eventFromSpan(
      span({ attributes: { [ATTR.operationName]: 'chat', [ATTR.httpStatus]: 200, [ATTR.inputTokens]: 3 } }),
      { ...ingest, httpChild: child },
    );
    expect(event).toMatchObject({
      ok: false,
      status: 503,
      errorType: 'server_error',
      requestId: 'req_child',
      responseBytes: 120,
      latencyMs: 100,
      usage: { input: 3 },
    });
  });
});

describe('eventFromSpan: streamed calls and time to first token', () => {
  const streamedOf = (attributes: Attributes, extra: Partial<SpanLike> = {}) => {
    const event = eventFromSpan(span({ attributes, ...extra }), ingest);
    return { streamed: event.streamed, ttftMs: event.timing?.ttftMs };
  };

  it('takes the GenAI time_to_first_chunk attribute (seconds)', () => {
    expect(streamedOf({ [ATTR.requestStream]: true, [ATTR.timeToFirstChunk]: 0.25 })).toEqual({
      streamed: true,
      ttftMs: 250,
    });
  });

  it('takes a first-token span event, measured from the span start', () => {
    for (const name of ['First Token Stream Event', 'gen_ai.first_chunk', 'first_token']) {
      expect(streamedOf({}, { events: [{ name, timeMs: START + 42.5 }] })).toEqual({
        streamed: true,
        ttftMs: 42.5,
      });
    }
    // An event outside the span is not believed.
    expect(streamedOf({}, { events: [{ name: 'first token', timeMs: START + 500 }] }).ttftMs).toBeUndefined();
  });

  it('says streamed with no ttftMs when the stream is known and its first token is not', () => {
    expect(streamedOf({ [ATTR.requestStream]: true })).toEqual({ streamed: true, ttftMs: undefined });
    expect(streamedOf({ [ATTR.traceloopIsStreaming]: true })).toEqual({ streamed: true, ttftMs: undefined });
    expect(streamedOf({ [ATTR.oiInvocationParameters]: '{"model":"gpt-4o","stream":true}' })).toEqual({
      streamed: true,
      ttftMs: undefined,
    });
  });

  it('leaves streamed out for calls that did not stream, or did not say', () => {
    expect(streamedOf({ [ATTR.requestStream]: false })).toEqual({ streamed: undefined, ttftMs: undefined });
    expect(streamedOf({ [ATTR.oiInvocationParameters]: 'not json' })).toEqual({
      streamed: undefined,
      ttftMs: undefined,
    });
    expect(streamedOf({})).toEqual({ streamed: undefined, ttftMs: undefined });
  });
});

describe('eventFromSpan: other conventions', () => {
  it('reads OpenInference model and token names, cache and reasoning details included', () => {
    const event = eventFromSpan(
      span({
        attributes: {
          [ATTR.oiSpanKind]: 'LLM',
          [ATTR.oiModelName]: 'gpt-4o',
          [ATTR.oiPromptTokens]: 1000,
          [ATTR.oiCompletionTokens]: 200,
          [ATTR.oiCachedTokens]: 400,
          [ATTR.oiReasoningTokens]: 50,
        },
      }),
      ingest,
    );
    expect(event).toMatchObject({
      model: 'gpt-4o',
      usage: { input: 1000, output: 200, cached: 400, reasoning: 50 },
    });
  });

  it('reads OpenLLMetry cache and reasoning names, and the service tier of either GenAI generation', () => {
    const event = eventFromSpan(
      span({
        attributes: {
          [ATTR.operationName]: 'chat',
          [ATTR.inputTokens]: 10,
          [ATTR.outputTokens]: 5,
          [ATTR.traceloopCachedInputTokens]: 4,
          [ATTR.traceloopReasoningTokens]: 2,
          [ATTR.legacyResponseServiceTier]: 'flex',
        },
      }),
      ingest,
    );
    expect(event).toMatchObject({ usage: { input: 10, output: 5, cached: 4, reasoning: 2 } });
    expect(event.attributes).toEqual({ service_tier: 'flex' });
  });

  it('reads status and failure from the previous HTTP names and from an exception event', () => {
    const event = eventFromSpan(
      span({
        kind: 3,
        statusCode: 2,
        attributes: {
          [ATTR.legacyHttpMethod]: 'POST',
          [ATTR.legacyHttpUrl]: 'https://api.openai.com/v1/embeddings',
        },
        events: [
          {
            name: 'exception',
            timeMs: START + 1,
            attributes: { 'exception.type': 'ECONNRESET', 'exception.message': 'socket hang up' },
          },
        ],
      }),
      ingest,
    );
    expect(event).toMatchObject({
      endpoint: 'embeddings',
      ok: false,
      errorType: 'network',
      errorMessage: 'socket hang up',
    });
  });
});
