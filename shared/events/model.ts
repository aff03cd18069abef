/**
 * The trace event: one call to the OpenAI API, made by a probe or reported by
 * a user's app. Probes and ingestion produce the same shape, through the same
 * span mapping (shared/telemetry/span-event.ts), and it is what `/traces` returns.
 */
import { redactSecrets } from '../redact.js';

/**
 * Why a call failed. One taxonomy for probes and ingested traces:
 * - `timeout`: no complete answer within the timeout;
 * - `network`: DNS, refused or reset connection, TLS failure;
 * - `auth`: 401 or 403 (bad, revoked or unprivileged key);
 * - `rate_limited`: 429 (requests, tokens or quota);
 * - `client_error`: any other 4xx (bad request, unknown model, …);
 * - `server_error`: 5xx;
 * - `invalid_response`: a 2xx whose body is not what the API documents;
 * - `unknown`: anything else (reported by a client we cannot classify).
 */
export const ERROR_TYPES = [
  'timeout',
  'network',
  'auth',
  'rate_limited',
  'client_error',
  'server_error',
  'invalid_response',
  'unknown',
] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export const SOURCES = ['probe', 'ingest', 'synthetic'] as const;
export type Source = (typeof SOURCES)[number];

export type Upstream = 'real' | 'simulated';

/** Phases of the request, in ms (see shared/probes/timed-fetch.ts). Absent phases did not happen. */
export interface EventTiming {
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  ttfbMs?: number;
  transferMs?: number;
  /** Time to first token of a streamed answer. */
  ttftMs?: number;
  /** The request went over a kept-alive connection (no DNS, connect or TLS). */
  reused?: boolean;
}

export interface EventUsage {
  input?: number;
  output?: number;
  /** Part of input. */
  cached?: number;
  /** Part of output. */
  reasoning?: number;
}

/** Headroom from the `x-ratelimit-*` headers; absent headers stay absent (never 0). */
export interface RateLimitHeadroom {
  limitRequests?: number;
  remainingRequests?: number;
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
}

export interface TraceEvent {
  /** Unique per call; the same id always means the same call (retries overwrite, never duplicate). */
  id: string;
  /** Start of the call, epoch ms UTC. */
  ts: number;
  source: Source;
  /** Probe key for probes (`chat`, `embeddings`, …); the operation for ingested calls. */
  endpoint: string;
  model?: string;
  region?: string;
  upstream?: Upstream;
  ok: boolean;
  /** HTTP status; absent when no answer came (timeout, network). */
  status?: number;
  errorType?: ErrorType;
  /** Short, secret-free description of the failure. */
  errorMessage?: string;
  /** Request start to the full body, ms (monotonic clock). */
  latencyMs: number;
  timing?: EventTiming;
  /**
   * The answer was streamed. A streamed call without `timing.ttftMs` is one
   * whose time to first token is unknown (its instrumentation did not record it).
   */
  streamed?: boolean;
  usage?: EventUsage;
  responseBytes?: number;
  /** Estimated USD from the price table; absent when the model has no price. */
  costUsd?: number;
  /** `x-request-id`, for OpenAI support. */
  requestId?: string;
  /** `openai-processing-ms`: time spent inside OpenAI. */
  processingMs?: number;
  rateLimit?: RateLimitHeadroom;
  traceId?: string;
  spanId?: string;
  /** Free-form string attributes (ingestion), bounded in count and length. */
  attributes?: Record<string, string>;
}

/** The error type an HTTP status implies (undefined for success). */
export function errorTypeForStatus(status: number | undefined): ErrorType | undefined {
  if (status === undefined) return undefined;
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return undefined;
}

export function isErrorType(value: unknown): value is ErrorType {
  return typeof value === 'string' && (ERROR_TYPES as readonly string[]).includes(value);
}

/** Longest stored error message: enough to tell the cause, short enough for every row and export. */
const ERROR_MESSAGE_MAX = 300;

/**
 * An error message as stored: secrets redacted first (OpenAI echoes part of a
 * rejected key in its message), then cut to ERROR_MESSAGE_MAX characters.
 */
export function storedErrorMessage(raw: string | undefined): string | undefined {
  return raw ? redactSecrets(raw).slice(0, ERROR_MESSAGE_MAX) : undefined;
}

/** A call's duration as stored: never negative, to the microsecond (3 decimals of a millisecond). */
export function storedDurationMs(startMs: number, endMs: number): number {
  return Math.max(0, Math.round((endMs - startMs) * 1000) / 1000);
}

/** Every field of an event, in the stored order; a part may be absent. */
export type EventParts = { [K in keyof Required<TraceEvent>]: Required<TraceEvent>[K] | undefined };

/**
 * An event from its parts, in the stored field order, leaving out what is
 * absent: undefined, empty strings and empty objects are never stored.
 */
export function compactEvent(parts: EventParts): TraceEvent {
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parts)) {
    if (value === undefined || value === '') continue;
    if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) continue;
    event[name] = value;
  }
  return event as unknown as TraceEvent;
}
