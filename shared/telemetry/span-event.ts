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
  storedDurationMs,
  storedErrorMessage,
  type TraceEvent,
  type Upstream,
} from '../events/model.js';
import { estimateCost } from '../pricing.js';
import { readOpenAIHeaders } from '../probes/headers.js';

export type AttributeValue =
  | string
  | number
  | boolean
  | readonly (string | number | boolean | null | undefined)[];
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

/** Attribute names, in one place (the README's convention table lists which field each one feeds). */
export const ATTR = {
  // GenAI semantic conventions (current names)
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestStream: 'gen_ai.request.stream',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cachedInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  reasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  timeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  openaiApiType: 'openai.api.type',
  openaiResponseServiceTier: 'openai.response.service_tier',
  openaiRequestServiceTier: 'openai.request.service_tier',
  // GenAI semantic conventions (previous names, still sent by many instrumentations)
  legacySystem: 'gen_ai.system',
  legacyPromptTokens: 'gen_ai.usage.prompt_tokens',
  legacyCompletionTokens: 'gen_ai.usage.completion_tokens',
  legacyResponseServiceTier: 'gen_ai.openai.response.service_tier',
  legacyRequestServiceTier: 'gen_ai.openai.request.service_tier',
  // OpenLLMetry (Traceloop) names
  traceloopRequestType: 'llm.request.type',
  traceloopIsStreaming: 'llm.is_streaming',
  traceloopCachedInputTokens: 'gen_ai.usage.cache_read_input_tokens',
  traceloopReasoningTokens: 'gen_ai.usage.reasoning_tokens',
  // OpenInference names
  oiSpanKind: 'openinference.span.kind',
  oiModelName: 'llm.model_name',
  oiEmbeddingModelName: 'embedding.model_name',
  oiSystem: 'llm.system',
  oiProvider: 'llm.provider',
  oiPromptTokens: 'llm.token_count.prompt',
  oiCompletionTokens: 'llm.token_count.completion',
  oiCachedTokens: 'llm.token_count.prompt_details.cache_read',
  oiReasoningTokens: 'llm.token_count.completion_details.reasoning',
  oiInvocationParameters: 'llm.invocation_parameters',
  // HTTP, URL, server, errors (current names, then the previous HTTP conventions)
  serverAddress: 'server.address',
  serverPort: 'server.port',
  httpStatus: 'http.response.status_code',
  httpMethod: 'http.request.method',
  urlFull: 'url.full',
  urlPath: 'url.path',
  legacyHttpStatus: 'http.status_code',
  legacyHttpMethod: 'http.method',
  legacyHttpUrl: 'http.url',
  legacyHttpTarget: 'http.target',
  legacyPeerName: 'net.peer.name',
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

/** A timed event of a span (OTLP `Span.events`). */
export interface SpanEventLike {
  name: string;
  timeMs: number;
  attributes?: Attributes;
}

/** A finished span, whatever produced it (the in-process SDK or an OTLP request). */
export interface SpanLike {
  name: string;
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  /** OTLP span kind: 1 internal, 2 server, 3 client, … (absent: not said). */
  kind?: number;
  startTimeMs: number;
  endTimeMs: number;
  attributes: Attributes;
  events?: readonly SpanEventLike[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: 0 | 1 | 2;
  statusMessage?: string;
  /** Resource attributes (`cloud.region`, `service.name`, …). */
  resource?: Attributes;
}

export interface SpanMappingDefaults {
  source: Source;
  id?: string;
  /**
   * The HTTP client span of this call (a child of it, in the same request):
   * what went over the wire (status, response headers, path) is read from it
   * first, as it is what the API answered.
   */
  httpChild?: SpanLike;
}

/** What made a span a call to the OpenAI API, as the README's convention table names it. */
export type Convention = 'genai' | 'openinference' | 'http';

const OPENAI_API_HOST = /(^|\.)api\.openai\.com$|\.openai\.azure\.com$/i;
const SPAN_KIND_CLIENT = 3;
/** Span events that mark the first streamed token or chunk (`First Token Stream Event`, `gen_ai.first_chunk`, …). */
const FIRST_TOKEN_EVENT = /first[\s._-]*(token|chunk)/i;

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

/** The first of several attributes that holds a usable value (current names first, then older ones). */
function first<T>(
  read: (value: AttributeValue | undefined) => T | undefined,
  attributes: Attributes,
  names: readonly string[],
): T | undefined {
  for (const name of names) {
    const value = read(attributes[name]);
    if (value !== undefined) return value;
  }
  return undefined;
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

interface HttpFacts {
  method?: string;
  host?: string;
  path?: string;
  status?: number;
}

/** What an HTTP client span says about the request, in the current or the previous HTTP conventions. */
function httpFacts(a: Attributes): HttpFacts {
  const full = str(a[ATTR.urlFull]) ?? str(a[ATTR.legacyHttpUrl]);
  let url: URL | undefined;
  try {
    url = full ? new URL(full) : undefined;
  } catch {
    url = undefined;
  }
  const facts: HttpFacts = {};
  const method = str(a[ATTR.httpMethod]) ?? str(a[ATTR.legacyHttpMethod]);
  const host = str(a[ATTR.serverAddress]) ?? url?.hostname ?? str(a[ATTR.legacyPeerName]);
  const path = str(a[ATTR.urlPath]) ?? url?.pathname ?? str(a[ATTR.legacyHttpTarget])?.split('?')[0];
  const status = num(a[ATTR.httpStatus]) ?? num(a[ATTR.legacyHttpStatus]);
  if (method) facts.method = method;
  if (host) facts.host = host;
  if (path) facts.path = path;
  if (status !== undefined) facts.status = status;
  return facts;
}

/** An HTTP client span whose request went to an OpenAI API host. */
export function isOpenAiHttpCall(span: SpanLike): boolean {
  if (span.kind !== undefined && span.kind !== SPAN_KIND_CLIENT) return false;
  const facts = httpFacts(span.attributes);
  return facts.method !== undefined && facts.host !== undefined && OPENAI_API_HOST.test(facts.host);
}

/** Any HTTP client span (a candidate child of a GenAI span). */
export function isHttpClientSpan(span: SpanLike): boolean {
  return (
    (span.kind === undefined || span.kind === SPAN_KIND_CLIENT) &&
    httpFacts(span.attributes).method !== undefined
  );
}

/**
 * Which convention makes this span a call to the OpenAI API, or undefined when
 * it is not one: another provider's call, an agent, chain or tool step, or any
 * other operation of the app.
 */
export function openAiCallConvention(span: SpanLike): Convention | undefined {
  const a = span.attributes;
  const provider = first(str, a, [ATTR.providerName, ATTR.legacySystem, ATTR.oiProvider, ATTR.oiSystem]);
  // `openai`, `OpenAI` (older OpenLLMetry), `azure.ai.openai`: the OpenAI API, direct or on Azure.
  const otherProvider = provider !== undefined && !/openai/i.test(provider);
  const genAi = [
    ATTR.operationName,
    ATTR.providerName,
    ATTR.legacySystem,
    ATTR.requestModel,
    ATTR.traceloopRequestType,
  ].some((name) => a[name] !== undefined);
  if (genAi) return otherProvider ? undefined : 'genai';
  const oiKind = str(a[ATTR.oiSpanKind])?.toUpperCase();
  if (oiKind !== undefined)
    return (oiKind === 'LLM' || oiKind === 'EMBEDDING') && !otherProvider ? 'openinference' : undefined;
  return isOpenAiHttpCall(span) ? 'http' : undefined;
}

/** The endpoint label of a URL path: `/v1/chat/completions` → chat, `/v1/responses/{id}` → responses, … */
export function endpointFromPath(path: string): string | undefined {
  // After `/v1/` (OpenAI) or `/openai/deployments/<name>/` or `/openai/` (Azure OpenAI).
  const rest = path.match(/\/(?:v1|openai\/deployments\/[^/]+|openai(?:\/v1)?)\/([a-z_]+)(?:\/([a-z_]+))?/i);
  if (!rest) return undefined;
  const [, head, next] = rest;
  if (head === 'chat' && next === 'completions') return 'chat';
  return head?.toLowerCase();
}

const OPERATION_ENDPOINTS: Readonly<Record<string, string>> = {
  chat: 'chat',
  text_completion: 'chat',
  embeddings: 'embeddings',
  // OpenLLMetry's llm.request.type
  completion: 'chat',
  embedding: 'embeddings',
};

/**
 * The endpoint of a call, decided from all the evidence, strongest first: our
 * own attribute; the path that went over the wire; the API type; the response
 * id's prefix (`resp_` is a Responses API answer even when the operation says
 * `chat`); the OpenInference span's name; the operation; the span name.
 */
function endpointOf(span: SpanLike, child: SpanLike | undefined): string {
  const a = span.attributes;
  const explicit = str(a[ATTR.endpoint]);
  if (explicit) return explicit;
  const path = (child && httpFacts(child.attributes).path) ?? httpFacts(a).path;
  const fromPath = path ? endpointFromPath(path) : undefined;
  if (fromPath) return fromPath;
  const apiType = str(a[ATTR.openaiApiType]);
  if (apiType === 'responses') return 'responses';
  if (apiType === 'chat_completions') return 'chat';
  const responseId = str(a[ATTR.responseId]);
  if (responseId?.startsWith('resp_')) return 'responses';
  if (responseId?.startsWith('chatcmpl-')) return 'chat';
  const oiKind = str(a[ATTR.oiSpanKind])?.toUpperCase();
  if (oiKind === 'EMBEDDING') return 'embeddings';
  if (oiKind === 'LLM') {
    if (/responses/i.test(span.name)) return 'responses';
    if (/chat|completion/i.test(span.name)) return 'chat';
  }
  const operation = str(a[ATTR.operationName]) ?? str(a[ATTR.traceloopRequestType]);
  if (operation) return OPERATION_ENDPOINTS[operation] ?? operation;
  return span.name.split(' ')[0] || 'unknown';
}

function exceptionOf(span: SpanLike): { type?: string; message?: string } {
  const event = span.events?.find((e) => e.name === 'exception');
  return {
    ...(event?.attributes && str(event.attributes['exception.type'])
      ? { type: str(event.attributes['exception.type']) }
      : {}),
    ...(event?.attributes && str(event.attributes['exception.message'])
      ? { message: str(event.attributes['exception.message']) }
      : {}),
  };
}

function errorTypeOf(
  span: SpanLike,
  status: number | undefined,
  failedChild: boolean,
): ErrorType | undefined {
  const declared = str(span.attributes[ATTR.errorType]) ?? exceptionOf(span).type;
  const failed =
    span.statusCode === 2 || failedChild || declared !== undefined || (status !== undefined && status >= 400);
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

function bool(value: AttributeValue | undefined): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

/** Whether the call streamed its answer, when the span says so. */
function streamedOf(a: Attributes): boolean | undefined {
  const flag = bool(a[ATTR.requestStream]) ?? bool(a[ATTR.traceloopIsStreaming]);
  if (flag !== undefined) return flag;
  // OpenInference records the request's parameters as one JSON string.
  const parameters = str(a[ATTR.oiInvocationParameters]);
  if (parameters && parameters.length <= 20_000) {
    try {
      const stream = (JSON.parse(parameters) as { stream?: unknown } | null)?.stream;
      if (typeof stream === 'boolean') return stream;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Time to first token, ms: the GenAI attribute (seconds), else a first-token span event. */
function ttftMsOf(span: SpanLike): number | undefined {
  const seconds = nonNegative(span.attributes[ATTR.timeToFirstChunk]);
  if (seconds !== undefined) return round3(seconds * 1000);
  const marker = span.events?.find((e) => FIRST_TOKEN_EVENT.test(e.name));
  if (marker && marker.timeMs >= span.startTimeMs && marker.timeMs <= span.endTimeMs)
    return round3(marker.timeMs - span.startTimeMs);
  return undefined;
}

/** Maps a finished span (and its HTTP child, if any) to a trace event. */
export function eventFromSpan(span: SpanLike, defaults: SpanMappingDefaults): TraceEvent {
  const a = span.attributes;
  const child = defaults.httpChild;
  const header = (name: string) =>
    str(child?.attributes[`${ATTR.headerPrefix}${name}`]) ?? str(a[`${ATTR.headerPrefix}${name}`]);
  const facts = readOpenAIHeaders(header);
  const status = (child && httpFacts(child.attributes).status) ?? httpFacts(a).status;
  const errorType = errorTypeOf(span, status, child?.statusCode === 2);
  const model = first(str, a, [
    ATTR.responseModel,
    ATTR.requestModel,
    ATTR.oiModelName,
    ATTR.oiEmbeddingModelName,
  ]);
  const region = str(a[ATTR.region]) ?? str(a[ATTR.cloudRegion]) ?? str(span.resource?.[ATTR.cloudRegion]);
  const declaredSource = str(a[ATTR.source]);
  const source = (SOURCES as readonly string[]).includes(declaredSource ?? '')
    ? (declaredSource as Source)
    : defaults.source;
  const upstream = str(a[ATTR.upstream]) as Upstream | undefined;

  const usage: EventUsage = {};
  const input = first(nonNegative, a, [ATTR.inputTokens, ATTR.legacyPromptTokens, ATTR.oiPromptTokens]);
  const output = first(nonNegative, a, [
    ATTR.outputTokens,
    ATTR.legacyCompletionTokens,
    ATTR.oiCompletionTokens,
  ]);
  const cached = first(nonNegative, a, [
    ATTR.cachedInputTokens,
    ATTR.traceloopCachedInputTokens,
    ATTR.oiCachedTokens,
  ]);
  const reasoning = first(nonNegative, a, [
    ATTR.reasoningOutputTokens,
    ATTR.traceloopReasoningTokens,
    ATTR.oiReasoningTokens,
  ]);
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
  const ttftMs = ttftMsOf(span);
  setTiming('ttftMs', ttftMs);
  const reused = a[ATTR.connectionReused];
  if (typeof reused === 'boolean') timing.reused = reused;
  // A first token implies a stream; a stream without one is stored as `streamed` with no ttftMs: unknown.
  const streamed = ttftMs !== undefined ? true : streamedOf(a) === true ? true : undefined;

  const hasUsage = Object.keys(usage).length > 0;
  const costUsd = nonNegative(a[ATTR.costUsd]) ?? (hasUsage ? estimateCost(model, usage) : undefined);
  const responseBytes =
    nonNegative(child?.attributes[ATTR.responseBodySize]) ?? nonNegative(a[ATTR.responseBodySize]);
  // Messages can quote a key (OpenAI echoes part of a rejected one): redact before storing.
  const rawMessage = errorType
    ? (str(a[ATTR.errorMessage]) ??
      str(span.statusMessage) ??
      str(child?.statusMessage) ??
      exceptionOf(span).message)
    : undefined;
  const errorMessage = storedErrorMessage(rawMessage);
  const serviceTier = first(str, a, [
    ATTR.openaiResponseServiceTier,
    ATTR.legacyResponseServiceTier,
    ATTR.openaiRequestServiceTier,
    ATTR.legacyRequestServiceTier,
  ]);

  return compactEvent({
    id: str(a[ATTR.eventId]) ?? defaults.id ?? span.spanId ?? randomUUID(),
    ts: Math.round(span.startTimeMs),
    source,
    endpoint: endpointOf(span, child),
    model,
    region,
    upstream: upstream === 'real' || upstream === 'simulated' ? upstream : undefined,
    ok: errorType === undefined,
    status,
    errorType,
    errorMessage,
    latencyMs: storedDurationMs(span.startTimeMs, span.endTimeMs),
    timing,
    streamed,
    usage: hasUsage ? usage : undefined,
    responseBytes,
    costUsd,
    requestId: facts.requestId,
    processingMs: facts.processingMs,
    rateLimit: facts.rateLimit,
    traceId: span.traceId,
    spanId: span.spanId,
    attributes: serviceTier ? { service_tier: serviceTier.slice(0, 64) } : undefined,
  });
}
