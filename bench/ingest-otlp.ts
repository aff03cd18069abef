/**
 * The OTLP part of bench/ingest.ts: `POST /v1/traces` with protobuf against
 * JSON, for the same spans made by the OpenTelemetry SDK and serialised by
 * the official OTLP serializers (what the exporters send):
 * - bytes per span on the wire, plain and gzip-compressed;
 * - reading a batch (decode alone, and decode + span mapping; no store): spans/s, timed with tinybench;
 * - end to end through the ingest handler on the local store: spans/s.
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Bench } from 'tinybench';
import { httpEvent, invokeHttpHandler, lambdaContext, matchRoute } from '../infra/local/lambda.js';
import { eventsFromOtlp } from '../shared/ingest/otlp.js';
import { decodeTraceRequest } from '../shared/ingest/otlp-protobuf.js';
import { ROUTES } from '../shared/routes.js';

/** The batch size the README recommends (the BatchSpanProcessor's default). */
const BATCH = 512;

/**
 * GenAI client spans as @opentelemetry/instrumentation-openai records them
 * (test/otlp-fixtures/otel-genai.json), spread over the last 30 minutes, one
 * in 50 failed, with the resource an SDK adds.
 */
function genAiSpans(count: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'bench-app',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.version': '2.12.1',
      'cloud.region': 'eu-west-1',
    }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-openai', '0.21.0');
  const start = Date.now() - 30 * 60_000;
  const models = ['gpt-4o-mini', 'gpt-4.1-mini'];
  for (let i = 0; i < count; i++) {
    const at = start + Math.floor((i / count) * 30 * 60_000);
    const model = models[i % models.length] as string;
    const span = tracer.startSpan(`chat ${model}`, {
      kind: SpanKind.CLIENT,
      startTime: at,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': model,
        'gen_ai.system': 'openai',
        'server.address': 'api.openai.com',
        'server.port': 443,
      },
    });
    if (i % 50 === 0) {
      span.setAttribute('error.type', 'InternalServerError');
      span.setStatus({ code: SpanStatusCode.ERROR, message: '500 The server had an error' });
    } else {
      span.setAttributes({
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.response.id': `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
        'gen_ai.response.model': model,
        'gen_ai.usage.input_tokens': 50 + (i % 100),
        'gen_ai.usage.output_tokens': 10 + (i % 20),
      });
    }
    span.end(at + 100 + (i % 900));
  }
  return memory.getFinishedSpans();
}

type Handler = Parameters<typeof invokeHttpHandler>[0];

const ENCODINGS = {
  protobuf: {
    contentType: 'application/x-protobuf',
    serialize: (spans: ReadableSpan[]) =>
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    read: (body: Buffer) => eventsFromOtlp(decodeTraceRequest(body)),
  },
  json: {
    contentType: 'application/json',
    serialize: (spans: ReadableSpan[]) =>
      Buffer.from(JsonTraceSerializer.serializeRequest(spans) as Uint8Array),
    read: (body: Buffer) => eventsFromOtlp(JSON.parse(body.toString('utf8'))),
  },
} as const;

export async function otlpEncodingsBench(options: { handler: Handler; apiKey: string; spans: number }) {
  const spans = genAiSpans(options.spans);
  const batches: ReadableSpan[][] = [];
  for (let i = 0; i < spans.length; i += BATCH) batches.push(spans.slice(i, i + BATCH));
  console.log(
    `\nOTLP /v1/traces, protobuf against JSON: ${spans.length.toLocaleString()} GenAI spans in requests of ${BATCH}`,
  );

  // Bytes on the wire.
  console.log('bytes per span          plain     gzip');
  const bodies: Record<keyof typeof ENCODINGS, Buffer[]> = { protobuf: [], json: [] };
  for (const [name, encoding] of Object.entries(ENCODINGS) as [
    keyof typeof ENCODINGS,
    (typeof ENCODINGS)['json'],
  ][]) {
    bodies[name] = batches.map((batch) => encoding.serialize(batch));
    const plain = bodies[name].reduce((sum, b) => sum + b.byteLength, 0);
    const gzip = bodies[name].reduce((sum, b) => sum + gzipSync(b).byteLength, 0);
    console.log(
      `  ${name.padEnd(18)} ${(plain / spans.length).toFixed(1).padStart(8)} ${(gzip / spans.length).toFixed(1).padStart(8)}`,
    );
  }

  // Reading one batch: decode alone, then decode and map (no store). The median is printed: the
  // machine may be shared, and a slow outlier says nothing about either encoding.
  const sample = { protobuf: bodies.protobuf[0] as Buffer, json: bodies.json[0] as Buffer };
  const sampleSpans = batches[0]?.length ?? 0;
  const bench = new Bench({ time: 3000, warmup: true });
  bench.add('decode protobuf', () => {
    decodeTraceRequest(sample.protobuf);
  });
  bench.add('decode json', () => {
    JSON.parse(sample.json.toString('utf8'));
  });
  for (const name of Object.keys(ENCODINGS) as (keyof typeof ENCODINGS)[]) {
    bench.add(`read ${name}`, () => {
      ENCODINGS[name].read(sample[name]);
    });
  }
  await bench.run();
  console.log(`a request of ${sampleSpans} spans, one core, median time:`);
  for (const task of bench.tasks) {
    const result = task.result as { latency?: { p50?: number; mean: number } } | undefined;
    const ms = result?.latency?.p50 ?? result?.latency?.mean ?? Number.NaN;
    console.log(
      `  ${task.name.padEnd(18)} ${Math.round((sampleSpans / ms) * 1000)
        .toLocaleString()
        .padStart(10)} spans/s  (${ms.toFixed(2)} ms per request)`,
    );
  }

  // End to end through the handler and the local store, one encoding after the other.
  const route = matchRoute(ROUTES, 'POST', '/v1/traces');
  console.log('end to end (handler + in-memory dynalite, 4 requests at a time):');
  for (const name of Object.keys(ENCODINGS) as (keyof typeof ENCODINGS)[]) {
    // Fresh span ids per encoding, so the second run is not answered as duplicates of the first.
    const own = name === 'protobuf' ? bodies.protobuf : genAiSpanBodies(options.spans, name);
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < own.length) {
          const body = own[next++] as Buffer;
          const event = httpEvent({
            method: 'POST',
            path: '/v1/traces',
            headers: { 'content-type': ENCODINGS[name].contentType, 'x-api-key': options.apiKey },
            body,
            ...(route ? { route } : {}),
          });
          const answer = await invokeHttpHandler(options.handler, event, lambdaContext('ingest', 29));
          if (answer.statusCode !== 200) throw new Error(`${name}: ingest answered ${answer.statusCode}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  ${name.padEnd(18)} ${Math.round(spans.length / seconds)
        .toLocaleString()
        .padStart(10)} spans/s  (${seconds.toFixed(1)} s)`,
    );
  }
}

function genAiSpanBodies(count: number, name: keyof typeof ENCODINGS): Buffer[] {
  const spans = genAiSpans(count);
  const bodies: Buffer[] = [];
  for (let i = 0; i < spans.length; i += BATCH)
    bodies.push(ENCODINGS[name].serialize(spans.slice(i, i + BATCH)));
  return bodies;
}
