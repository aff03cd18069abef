import { readFileSync } from 'node:fs';
import { SpanKind } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { HttpProblem } from '../http/problem.js';
import { eventsFromOtlp } from './otlp.js';
import { GENERATED_FILE, generateDecoder } from './otlp-proto/generate.js';
import {
  decodeStatus,
  decodeTraceRequest,
  decodeTraceResponse,
  encodeTraceResponse,
} from './otlp-protobuf.js';
import { encodeStatus } from './otlp-status.js';

const START = 1_767_225_600_000;

function sampleSpans() {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('sample');
  const span = tracer.startSpan('chat gpt-4o-mini', {
    kind: SpanKind.CLIENT,
    // Sub-millisecond start: 64-bit nanoseconds must survive exactly.
    startTime: [START / 1000, 123_456_789],
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.stream': true,
      'gen_ai.response.finish_reasons': ['stop', 'length'],
    },
  });
  span.addEvent('gen_ai.first_chunk', [START / 1000, 223_456_789]);
  span.end([START / 1000 + 1, 0]);
  return memory.getFinishedSpans();
}

describe('the OTLP protobuf codec', () => {
  it('decodes with the code generated from the official .proto files, as committed', async () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(await generateDecoder());
  });

  it('reads what the official protobuf serializer writes exactly as the official JSON serializer writes it', () => {
    const spans = sampleSpans();
    const fromProtobuf = eventsFromOtlp(
      decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    );
    const fromJson = eventsFromOtlp(
      JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(spans) as Uint8Array).toString('utf8')),
    );
    expect(fromProtobuf).toEqual(fromJson);
    expect(fromProtobuf.events).toHaveLength(1);
    expect(fromProtobuf.events[0]).toMatchObject({
      ts: START + 123,
      // Times are kept to the microsecond: the start's .789 µs fraction is dropped.
      latencyMs: 876.544,
      timing: { ttftMs: 100 },
      streamed: true,
      usage: { input: 12 },
    });
  });

  it('refuses bytes that are not a request with a 400 naming the body', () => {
    expect(() => decodeTraceRequest(new Uint8Array([0x0a, 0x05, 0x01]))).toThrow(HttpProblem);
    try {
      decodeTraceRequest(new Uint8Array([0x0a, 0x05, 0x01]));
    } catch (error) {
      expect((error as HttpProblem).status).toBe(400);
      expect((error as HttpProblem).field).toBe('body');
    }
  });

  it('reads an empty body as an empty request', () => {
    expect(decodeTraceRequest(new Uint8Array())).toEqual({ resourceSpans: [] });
  });

  it('encodes answers and errors that decode back', () => {
    expect(encodeTraceResponse({}).byteLength).toBe(0);
    expect(
      decodeTraceResponse(encodeTraceResponse({ partialSuccess: { rejectedSpans: 7, errorMessage: 'why' } })),
    ).toEqual({ partialSuccess: { rejectedSpans: '7', errorMessage: 'why' } });
    expect(decodeTraceResponse(encodeTraceResponse({}))).toEqual({});
    expect(decodeStatus(encodeStatus('body: bad'))).toEqual({ message: 'body: bad' });
  });
});
