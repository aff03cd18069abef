/**
 * The stored trace event of a probe, built from what the probe learned (its
 * typed outcome or classified failure, the timed fetch's measurements and the
 * response headers) rather than read back from its span. Header facts and
 * cost are computed here once; the runner puts the same figures on the span.
 *
 * The event is field for field what `eventFromSpan` (shared/telemetry/span-event.ts,
 * still the mapping for OTLP ingestion) gives for the probe's span; the
 * equivalence is tested in outcome-event.test.ts.
 */
import type { Config } from '../config.js';
import {
  compactEvent,
  type ErrorType,
  type EventTiming,
  type EventUsage,
  errorTypeForStatus,
  storedDurationMs,
  storedErrorMessage,
  type TraceEvent,
} from '../events/model.js';
import { estimateCost } from '../pricing.js';
import type { ClassifiedError } from './errors.js';
import { type OpenAIHeaderFacts, readOpenAIHeaders } from './headers.js';
import type { ProbeDefinition, ProbeOutcome } from './registry.js';
import type { RequestTiming } from './timed-fetch.js';

/** Everything a finished probe call produced: an outcome, or a classified failure. */
export interface ProbeResult {
  definition: ProbeDefinition;
  config: Config;
  /** The model the request named. */
  model: string | undefined;
  /** Set when the SDK call returned (possibly with an invalid body). */
  outcome?: ProbeOutcome;
  /** Set when the SDK call threw. */
  failure?: ClassifiedError;
  /** The HTTP request's measurements (the last request of the call), if one was made. */
  timing: RequestTiming | undefined;
  /** Wall-clock start and end of the HTTP request, epoch ms. */
  startMs: number;
  endMs: number;
  traceId: string;
  spanId: string;
}

/** A trimmed, non-empty string, else undefined. */
function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

const finiteNonNegative = (value: number | undefined): number | undefined =>
  value !== undefined && Number.isFinite(value) && value >= 0 ? value : undefined;

/** Timed-fetch durations rounded to the microsecond, as recorded (span and event alike). */
export function roundedTimings(timing: RequestTiming): Omit<EventTiming, 'ttftMs' | 'reused'> {
  const rounded: Omit<EventTiming, 'ttftMs' | 'reused'> = {};
  const set = (key: keyof typeof rounded, value: number | undefined) => {
    if (value !== undefined) rounded[key] = Math.round(value * 1000) / 1000;
  };
  set('dnsMs', timing.dnsMs);
  set('connectMs', timing.connectMs);
  set('tlsMs', timing.tlsMs);
  set('ttfbMs', timing.ttfbMs);
  set('transferMs', timing.transferMs);
  return rounded;
}

/** Time to the first streamed token in seconds, from the HTTP request's start (chat_stream only). */
export function timeToFirstChunkSec(result: ProbeResult): number | undefined {
  const { definition, outcome, timing } = result;
  // From the request's start, not from the SDK call's: the SDK's own work before it sends the
  // request is not the API's time, and counting it could make the first token come after the last.
  if (!definition.stream || outcome?.firstTokenAt === undefined || !timing) return undefined;
  return (outcome.firstTokenAt - timing.startedAt) / 1000;
}

/** The response headers the call came back with (a failed call's only when it was an HTTP error). */
export function responseHeaders(result: ProbeResult): Headers | undefined {
  return result.outcome ? result.outcome.response.headers : result.failure?.headers;
}

/** The HTTP status: the outcome's, or a failure's (a body that failed to parse still came with a status line). */
export function responseStatus(result: ProbeResult): number | undefined {
  if (result.outcome) return result.outcome.response.status;
  return result.failure?.status ?? result.timing?.status;
}

/** Body bytes received: always with an outcome, only when some arrived for a failure. */
export function responseBytesOf(result: ProbeResult): number | undefined {
  if (result.outcome) return result.timing?.responseBytes;
  return result.timing?.responseBytes ? result.timing.responseBytes : undefined;
}

function usageOf(outcome: ProbeOutcome | undefined): EventUsage {
  const usage: EventUsage = {};
  const set = (key: keyof EventUsage, value: number | undefined) => {
    const n = finiteNonNegative(value);
    if (n !== undefined) usage[key] = n;
  };
  set('input', outcome?.usage?.input);
  set('output', outcome?.usage?.output);
  set('cached', outcome?.usage?.cached);
  set('reasoning', outcome?.usage?.reasoning);
  return usage;
}

function errorTypeOf(result: ProbeResult, status: number | undefined): ErrorType | undefined {
  if (result.failure) return result.failure.errorType;
  if (result.outcome?.invalid) return 'invalid_response';
  if (status !== undefined && status >= 400) return errorTypeForStatus(status) ?? 'unknown';
  return undefined;
}

/** The stored event of a probe call. */
export function eventFromOutcome(result: ProbeResult): TraceEvent {
  const { config, outcome, timing } = result;
  const status = responseStatus(result);
  const errorType = errorTypeOf(result, status);
  const model = text(outcome?.responseModel) ?? text(result.model);
  const region = text(config.probeRegion);
  const upstream = config.upstream;
  const headers = responseHeaders(result);
  const facts: OpenAIHeaderFacts = headers ? readOpenAIHeaders((name) => headers.get(name)) : {};

  const eventTiming: EventTiming = {};
  const rounded = timing ? roundedTimings(timing) : {};
  for (const [key, value] of Object.entries(rounded) as [keyof typeof rounded, number][]) {
    if (finiteNonNegative(value) !== undefined) eventTiming[key] = value;
  }
  const ttfc = finiteNonNegative(timeToFirstChunkSec(result));
  if (ttfc !== undefined) eventTiming.ttftMs = Math.round(ttfc * 1000 * 1000) / 1000;
  if (timing) eventTiming.reused = timing.reused;

  const usage = usageOf(outcome);
  const hasUsage = Object.keys(usage).length > 0;
  // The one cost estimate of the call; the runner records it on the span too.
  const costUsd = finiteNonNegative(hasUsage ? estimateCost(model, usage) : undefined);
  const responseBytes = finiteNonNegative(responseBytesOf(result));
  // Messages can quote a key (OpenAI echoes part of a rejected one): redact before storing.
  const rawMessage = errorType ? text(result.failure?.message ?? outcome?.invalid) : undefined;
  const errorMessage = storedErrorMessage(rawMessage);

  return compactEvent({
    id: result.spanId,
    ts: Math.round(result.startMs),
    source: 'probe',
    endpoint: result.definition.key,
    model,
    region,
    upstream: upstream === 'real' || upstream === 'simulated' ? upstream : undefined,
    ok: errorType === undefined,
    status,
    errorType,
    errorMessage,
    latencyMs: storedDurationMs(result.startMs, result.endMs),
    timing: eventTiming,
    streamed: result.definition.stream ? true : undefined,
    usage: hasUsage ? usage : undefined,
    responseBytes,
    costUsd,
    requestId: facts.requestId,
    processingMs: facts.processingMs,
    rateLimit: facts.rateLimit,
    traceId: result.traceId,
    spanId: result.spanId,
    attributes: undefined,
  });
}
