/**
 * The mapping from a finished span to a stored trace event, for the spans
 * ingestion receives over OTLP. Probes build their events from their typed
 * outcomes (shared/probes/outcome-event.ts) and put the same figures on their
 * spans under these names; a test checks that this mapping of a probe span
 * gives the probe's event, so a probe and a user's own call to OpenAI are
 * recorded the same way.
 *
 * Standard OpenTelemetry names are used wherever one exists (GenAI semantic
 * conventions, HTTP, server, error); older GenAI names are accepted too. What
 * has no standard name lives under the `openai_status.` namespace.
 */
import { randomUUID } from 'node:crypto';
import {
  compactEvent,
  type ErrorType,
  type EventTiming,
  type EventUsage,
  errorTypeForStatus,
  isErrorType,
  SOURCES,
  type Source,
  type TraceEvent,
  type Upstream,
} from '../events/model.js';
import { estimateCost } from '../pricing.js';
import { readOpenAIHeaders } from '../probes/headers.js';
import { redactSecrets } from '../redact.js';

export type AttributeValue =
  | string
  | number
  | boolean
  | readonly (string | number | boolean | null | undefined)[];
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

/** Attribute names, in one place. */
export const ATTR = {
  // GenAI semantic conventions
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  legacySystem: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestStream: 'gen_ai.request.stream',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  legacyPromptTokens: 'gen_ai.usage.prompt_tokens',
  legacyCompletionTokens: 'gen_ai.usage.completion_tokens',
  cachedInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  reasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  timeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  openaiApiType: 'openai.api.type',
  // HTTP, server, errors
  serverAddress: 'server.address',
  serverPort: 'server.port',
  httpStatus: 'http.response.status_code',
  httpMethod: 'http.request.method',
  responseBodySize: 'http.response.body.size',
  errorType: 'error.type',
  cloudRegion: 'cloud.region',
  headerPrefix: 'http.response.header.',
  // Ours
  source: 'openai_status.source',
  endpoint: 'openai_status.endpoint',
  region: 'openai_status.region',
  upstream: 'openai_status.upstream',
  eventId: 'openai_status.event_id',
  costUsd: 'openai_status.cost_usd',
  errorMessage: 'openai_status.error_message',
  dnsMs: 'openai_status.timing.dns_ms',
  connectMs: 'openai_status.timing.connect_ms',
  tlsMs: 'openai_status.timing.tls_ms',
  ttfbMs: 'openai_status.timing.ttfb_ms',
  transferMs: 'openai_status.timing.transfer_ms',
  connectionReused: 'openai_status.timing.connection_reused',
} as const;

/** A finished span, whatever produced it (the in-process SDK or an OTLP request). */
export interface SpanLike {
  name: string;
  traceId?: string;
  spanId?: string;
  startTimeMs: number;
  endTimeMs: number;
  attributes: Attributes;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: 0 | 1 | 2;
  statusMessage?: string;
  /** Resource attributes (`cloud.region`, `service.name`, …). */
  resource?: Attributes;
}

export interface SpanMappingDefaults {
  source: Source;
  id?: string;
}

const ERROR_MESSAGE_MAX = 300;

function str(value: AttributeValue | undefined): string | undefined {
  if (Array.isArray(value)) return str(value[0] ?? undefined);
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

function num(value: AttributeValue | undefined): number | undefined {
  if (Array.isArray(value)) return num(value[0] ?? undefined);
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

function nonNegative(value: AttributeValue | undefined): number | undefined {
  const n = num(value);
  return n === undefined || n < 0 ? undefined : n;
}

/** The endpoint label of a span: ours if set, else derived from the GenAI operation and API type. */
function endpointOf(attributes: Attributes, spanName: string): string {
  const explicit = str(attributes[ATTR.endpoint]);
  if (explicit) return explicit;
  const operation = str(attributes[ATTR.operationName]);
  const apiType = str(attributes[ATTR.openaiApiType]);
  if (apiType === 'responses') return 'responses';
  if (operation === 'chat' || operation === 'text_completion') return 'chat';
  if (operation) return operation;
  return spanName.split(' ')[0] || 'unknown';
}

function errorTypeOf(span: SpanLike, status: number | undefined): ErrorType | undefined {
  const declared = str(span.attributes[ATTR.errorType]);
  const failed = span.statusCode === 2 || declared !== undefined || (status !== undefined && status >= 400);
  if (!failed) return undefined;
  if (isErrorType(declared)) return declared;
  const fromStatus = errorTypeForStatus(status);
  if (fromStatus) return fromStatus;
  // Instrumentations put exception class names here (APIConnectionTimeoutError, RateLimitError, ETIMEDOUT, …).
  if (!declared) return 'unknown';
  if (/timeout|timedout|abort/i.test(declared)) return 'timeout';
  if (/connection|network|econn|enotfound|socket/i.test(declared)) return 'network';
  if (/ratelimit/i.test(declared)) return 'rate_limited';
  if (/authentication|permissiondenied/i.test(declared)) return 'auth';
  if (/badrequest|notfound|conflict|unprocessable/i.test(declared)) return 'client_error';
  if (/internalserver/i.test(declared)) return 'server_error';
  return 'unknown';
}

/** Maps a finished span to a trace event. */
export function eventFromSpan(span: SpanLike, defaults: SpanMappingDefaults): TraceEvent {
  const a = span.attributes;
  const header = (name: string) => str(a[`${ATTR.headerPrefix}${name}`]);
  const facts = readOpenAIHeaders(header);
  const status = num(a[ATTR.httpStatus]);
  const errorType = errorTypeOf(span, status);
  const model = str(a[ATTR.responseModel]) ?? str(a[ATTR.requestModel]);
  const region = str(a[ATTR.region]) ?? str(a[ATTR.cloudRegion]) ?? str(span.resource?.[ATTR.cloudRegion]);
  const declaredSource = str(a[ATTR.source]);
  const source = (SOURCES as readonly string[]).includes(declaredSource ?? '')
    ? (declaredSource as Source)
    : defaults.source;
  const upstream = str(a[ATTR.upstream]) as Upstream | undefined;

  const usage: EventUsage = {};
  const input = nonNegative(a[ATTR.inputTokens]) ?? nonNegative(a[ATTR.legacyPromptTokens]);
  const output = nonNegative(a[ATTR.outputTokens]) ?? nonNegative(a[ATTR.legacyCompletionTokens]);
  const cached = nonNegative(a[ATTR.cachedInputTokens]);
  const reasoning = nonNegative(a[ATTR.reasoningOutputTokens]);
  if (input !== undefined) usage.input = input;
  if (output !== undefined) usage.output = output;
  if (cached !== undefined) usage.cached = cached;
  if (reasoning !== undefined) usage.reasoning = reasoning;

  const timing: EventTiming = {};
  const setTiming = (key: keyof Omit<EventTiming, 'reused'>, value: number | undefined) => {
    if (value !== undefined) timing[key] = value;
  };
  setTiming('dnsMs', nonNegative(a[ATTR.dnsMs]));
  setTiming('connectMs', nonNegative(a[ATTR.connectMs]));
  setTiming('tlsMs', nonNegative(a[ATTR.tlsMs]));
  setTiming('ttfbMs', nonNegative(a[ATTR.ttfbMs]));
  setTiming('transferMs', nonNegative(a[ATTR.transferMs]));
  const ttfc = nonNegative(a[ATTR.timeToFirstChunk]);
  if (ttfc !== undefined) timing.ttftMs = Math.round(ttfc * 1000 * 1000) / 1000;
  const reused = a[ATTR.connectionReused];
  if (typeof reused === 'boolean') timing.reused = reused;

  const hasUsage = Object.keys(usage).length > 0;
  const costUsd = nonNegative(a[ATTR.costUsd]) ?? (hasUsage ? estimateCost(model, usage) : undefined);
  const responseBytes = nonNegative(a[ATTR.responseBodySize]);
  // Messages can quote a key (OpenAI echoes part of a rejected one): redact before storing.
  const rawMessage = errorType ? (str(a[ATTR.errorMessage]) ?? str(span.statusMessage)) : undefined;
  const errorMessage = rawMessage ? redactSecrets(rawMessage).slice(0, ERROR_MESSAGE_MAX) : undefined;
  const requestId = facts.requestId;

  return compactEvent({
    id: str(a[ATTR.eventId]) ?? defaults.id ?? span.spanId ?? randomUUID(),
    ts: Math.round(span.startTimeMs),
    source,
    endpoint: endpointOf(a, span.name),
    model,
    region,
    upstream: upstream === 'real' || upstream === 'simulated' ? upstream : undefined,
    ok: errorType === undefined,
    status,
    errorType,
    errorMessage,
    latencyMs: Math.max(0, Math.round((span.endTimeMs - span.startTimeMs) * 1000) / 1000),
    timing,
    usage: hasUsage ? usage : undefined,
    responseBytes,
    costUsd,
    requestId,
    processingMs: facts.processingMs,
    rateLimit: facts.rateLimit,
    traceId: span.traceId,
    spanId: span.spanId,
    attributes: undefined,
  });
}
