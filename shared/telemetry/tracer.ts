/**
 * In-process OpenTelemetry: a tracer provider registered globally, so probe
 * code makes its spans through `@opentelemetry/api` alone, and a span
 * processor that hands each finished span to whoever is waiting for it (the
 * probe runner turns it into a stored event). No exporter, no collector.
 */
import { type Span, trace } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { APP_VERSION } from '../version.js';
import type { Attributes, SpanLike } from './span-event.js';

const finished = new Map<string, ReadableSpan>();

/** Keeps finished spans until their runner takes them; nothing else keeps them. */
const handOver: SpanProcessor = {
  onStart: () => {},
  onEnd: (span) => {
    finished.set(span.spanContext().spanId, span);
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};

let registered = false;

/** The tracer probes use, registering the provider on first use. */
export function probeTracer() {
  if (!registered) {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [handOver] }));
    registered = true;
  }
  return trace.getTracer('openai-status.probe', APP_VERSION);
}

const hrToMs = ([seconds, nanos]: readonly [number, number]) => seconds * 1000 + nanos / 1e6;

/**
 * An epoch-ms time as a finished span reports it: OpenTelemetry keeps times as [seconds, nanoseconds]
 * (its `millisToHrTime`), so a probe's event, built beside its span, uses the very same start and end.
 */
export function spanTimeMs(epochMs: number): number {
  return hrToMs([Math.trunc(epochMs / 1000), Math.round((epochMs % 1000) * 1e6)]);
}

/** Takes the finished form of a span that has ended (undefined if it was not recorded). */
export function takeFinishedSpan(span: Span): SpanLike | undefined {
  const id = span.spanContext().spanId;
  const readable = finished.get(id);
  if (!readable) return undefined;
  finished.delete(id);
  return {
    name: readable.name,
    traceId: readable.spanContext().traceId,
    spanId: id,
    startTimeMs: hrToMs(readable.startTime),
    endTimeMs: hrToMs(readable.endTime),
    attributes: readable.attributes as Attributes,
    statusCode: readable.status.code as 0 | 1 | 2,
    ...(readable.status.message ? { statusMessage: readable.status.message } : {}),
    resource: readable.resource.attributes as Attributes,
  };
}
