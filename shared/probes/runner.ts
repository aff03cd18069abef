/**
 * Running probes: picks the probes of a tick, calls each through the SDK with
 * the timed fetch, makes one OpenTelemetry span per call, turns the finished
 * span into a trace event (shared/telemetry/span-event.ts) and stores the
 * events with their rollups. One probe failing or hanging never stops the
 * others, and a tick never runs past its time budget.
 */
import { type Attributes as OtelAttributes, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { type Clock, clock as defaultClock } from '../clock.js';
import type { Config, ProbeKey } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import { logger } from '../logger.js';
import { estimateCost } from '../pricing.js';
import { type RecordResult, recordEvents } from '../store/events.js';
import { ATTR, eventFromSpan, type SpanLike } from '../telemetry/span-event.js';
import { probeTracer, takeFinishedSpan } from '../telemetry/tracer.js';
import { classifyError } from './errors.js';
import { RECORDED_HEADERS } from './headers.js';
import { PROBES, type ProbeDefinition, type ProbeOutcome } from './registry.js';
import { createTimedFetch, type RequestTiming, type TimedFetch, withTimingCapture } from './timed-fetch.js';

/** At most this many probes in flight at once in `all` mode. */
export const PROBE_CONCURRENCY = 4;
/** Below this much time left, a probe is not started. */
const MIN_PROBE_MS = 250;

export interface ProbeClient {
  client: OpenAI;
  timed: TimedFetch;
}

let cachedClient: { key: string; value: ProbeClient } | undefined;

/**
 * The SDK client probes use, kept for the life of the process so connections
 * are reused as they are in a warm Lambda (reported as `reused`).
 */
export function probeClient(config: Config): ProbeClient {
  const baseURL = config.openaiBaseUrl;
  if (!baseURL) throw new Error('OPENAI_BASE_URL is not set and no simulator is running');
  const key = `${baseURL}|${config.openaiApiKey ?? ''}`;
  if (cachedClient?.key !== key) {
    cachedClient?.value.timed.close();
    const timed = createTimedFetch();
    const client = new OpenAI({
      // The simulator accepts any key; it must not be empty for the SDK.
      apiKey: config.openaiApiKey ?? 'simulated',
      baseURL,
      maxRetries: 0,
      timeout: config.httpTimeoutMs,
      fetch: timed.fetch,
    });
    cachedClient = { key, value: { client, timed } };
  }
  return cachedClient.value;
}

/** The probes a tick runs: all selected ones, or in round robin the one whose turn the tick's time gives. */
export function selectProbes(config: Config, tickTime: number): ProbeKey[] {
  if (config.probeMode === 'all') return [...config.probeEndpoints];
  const tick = Math.floor(tickTime / (config.probeIntervalSec * 1000));
  const key = config.probeEndpoints[tick % config.probeEndpoints.length];
  return key ? [key] : [];
}

export interface RunProbeOptions {
  config: Config;
  probeClient: ProbeClient;
  /** Call timeout (ms); at most HTTP_TIMEOUT_MS. */
  timeoutMs: number;
  /** Aborts the call when the tick's budget runs out. */
  signal?: AbortSignal;
  clock?: Clock;
}

export interface ProbeRecord {
  event: TraceEvent;
  /** The finished OpenTelemetry span the event was derived from. */
  span: SpanLike;
}

/** Runs one probe and returns its span and event (not stored). Never throws for a failed call. */
export async function runProbe(definition: ProbeDefinition, options: RunProbeOptions): Promise<ProbeRecord> {
  const { config } = options;
  const clock = options.clock ?? defaultClock;
  const controller = new AbortController();
  const abort = () => controller.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  // The SDK's own timeout stops at the response headers; this one also covers a body that stalls.
  const timeout = setTimeout(abort, options.timeoutMs);

  const wallStart = clock.now();
  const monoStart = performance.now();
  const timings: RequestTiming[] = [];
  let outcome: ProbeOutcome | undefined;
  let failure: unknown;
  try {
    await withTimingCapture(async () => {
      outcome = await definition.call(options.probeClient.client, config, {
        timeout: options.timeoutMs,
        signal: controller.signal,
      });
    }, timings);
  } catch (error) {
    failure = error;
  } finally {
    clearTimeout(timeout);
    options.signal?.removeEventListener('abort', abort);
  }
  const monoEnd = performance.now();

  // The span covers the HTTP request itself, from its start to the last body byte.
  const timing = timings.at(-1);
  const requestStart = timing?.startedAt ?? monoStart;
  const requestEnd = timing?.endedAt ?? monoEnd;
  const toWall = (mono: number) => wallStart + (mono - monoStart);

  const model = definition.model?.(config);
  const tracer = probeTracer();
  const span = tracer.startSpan(`${definition.operation}${model ? ` ${model}` : ''}`, {
    kind: SpanKind.CLIENT,
    startTime: toWall(requestStart),
    attributes: requestAttributes(definition, config, model),
  });
  span.setAttributes(timingAttributes(timing));

  if (failure === undefined && outcome) {
    span.setAttributes(outcomeAttributes(definition, outcome, model, timing));
    span.setAttributes(headerAttributes(outcome.response.headers));
    if (outcome.invalid) {
      span.setAttribute(ATTR.errorType, 'invalid_response');
      span.setAttribute(ATTR.errorMessage, outcome.invalid);
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.invalid });
    } else {
      span.setStatus({ code: SpanStatusCode.OK });
    }
  } else {
    const classified = classifyError(failure);
    span.setAttribute(ATTR.errorType, classified.errorType);
    span.setAttribute(ATTR.errorMessage, classified.message);
    // A body that failed to parse (or arrive in time) still came with a status line.
    const status = classified.status ?? timing?.status;
    if (status !== undefined) span.setAttribute(ATTR.httpStatus, status);
    if (classified.headers) span.setAttributes(headerAttributes(classified.headers));
    if (timing?.responseBytes) span.setAttribute(ATTR.responseBodySize, timing.responseBytes);
    span.setStatus({ code: SpanStatusCode.ERROR, message: classified.message });
  }
  span.end(toWall(requestEnd));

  const finished = takeFinishedSpan(span);
  if (!finished) throw new Error('probe span was not recorded');
  return { event: eventFromSpan(finished, { source: 'probe' }), span: finished };
}

function requestAttributes(
  definition: ProbeDefinition,
  config: Config,
  model: string | undefined,
): OtelAttributes {
  const url = new URL(config.openaiBaseUrl ?? 'https://api.openai.com/v1');
  return {
    [ATTR.operationName]: definition.operation,
    [ATTR.providerName]: 'openai',
    ...(model ? { [ATTR.requestModel]: model } : {}),
    ...(definition.apiType ? { [ATTR.openaiApiType]: definition.apiType } : {}),
    ...(definition.maxTokens ? { [ATTR.requestMaxTokens]: definition.maxTokens } : {}),
    ...(definition.stream ? { [ATTR.requestStream]: true } : {}),
    [ATTR.serverAddress]: url.hostname,
    [ATTR.serverPort]: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    [ATTR.source]: 'probe',
    [ATTR.endpoint]: definition.key,
    [ATTR.region]: config.probeRegion,
    [ATTR.upstream]: config.upstream,
  };
}

function timingAttributes(timing: RequestTiming | undefined): OtelAttributes {
  if (!timing) return {};
  const attributes: OtelAttributes = { [ATTR.connectionReused]: timing.reused };
  const set = (name: string, value: number | undefined) => {
    if (value !== undefined) attributes[name] = Math.round(value * 1000) / 1000;
  };
  set(ATTR.dnsMs, timing.dnsMs);
  set(ATTR.connectMs, timing.connectMs);
  set(ATTR.tlsMs, timing.tlsMs);
  set(ATTR.ttfbMs, timing.ttfbMs);
  set(ATTR.transferMs, timing.transferMs);
  return attributes;
}

function outcomeAttributes(
  definition: ProbeDefinition,
  outcome: ProbeOutcome,
  model: string | undefined,
  timing: RequestTiming | undefined,
): OtelAttributes {
  const usage = outcome.usage;
  const responseModel = outcome.responseModel ?? model;
  const cost = usage ? estimateCost(responseModel, usage) : undefined;
  return {
    [ATTR.httpStatus]: outcome.response.status,
    ...(outcome.responseModel ? { [ATTR.responseModel]: outcome.responseModel } : {}),
    ...(outcome.responseId ? { [ATTR.responseId]: outcome.responseId } : {}),
    ...(outcome.finishReasons?.length ? { [ATTR.finishReasons]: outcome.finishReasons } : {}),
    ...(usage?.input === undefined ? {} : { [ATTR.inputTokens]: usage.input }),
    ...(usage?.output === undefined ? {} : { [ATTR.outputTokens]: usage.output }),
    ...(usage?.cached === undefined ? {} : { [ATTR.cachedInputTokens]: usage.cached }),
    ...(usage?.reasoning === undefined ? {} : { [ATTR.reasoningOutputTokens]: usage.reasoning }),
    ...(cost === undefined ? {} : { [ATTR.costUsd]: cost }),
    ...(timing ? { [ATTR.responseBodySize]: timing.responseBytes } : {}),
    // From the request's start, not from the SDK call's: the SDK's own work before it sends the
    // request is not the API's time, and counting it could make the first token come after the last.
    ...(definition.stream && outcome.firstTokenAt !== undefined && timing
      ? { [ATTR.timeToFirstChunk]: (outcome.firstTokenAt - timing.startedAt) / 1000 }
      : {}),
  };
}

function headerAttributes(headers: Headers): OtelAttributes {
  const attributes: OtelAttributes = {};
  for (const name of RECORDED_HEADERS) {
    const value = headers.get(name);
    if (value !== null) attributes[`${ATTR.headerPrefix}${name}`] = [value];
  }
  return attributes;
}

export interface TickResult {
  probes: ProbeKey[];
  events: TraceEvent[];
  /** Probes not started because the time budget ran out. */
  skipped: ProbeKey[];
  stored: RecordResult;
}

/**
 * One scheduled tick: runs the selected probes (bounded concurrency), records
 * their events and rollups, and returns within `budgetMs`.
 */
export async function runProbeTick(input: {
  config: Config;
  tickTime: number;
  budgetMs: number;
  clock?: Clock;
  probeClient?: ProbeClient;
}): Promise<TickResult> {
  const { config } = input;
  const client = input.probeClient ?? probeClient(config);
  const deadline = performance.now() + input.budgetMs;
  const budget = new AbortController();
  const budgetTimer = setTimeout(() => budget.abort(), input.budgetMs);
  const keys = selectProbes(config, input.tickTime);
  const events: TraceEvent[] = [];
  const skipped: ProbeKey[] = [];

  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++] as ProbeKey;
      const left = deadline - performance.now();
      if (left < MIN_PROBE_MS) {
        skipped.push(key);
        continue;
      }
      const record = await runProbe(PROBES[key], {
        config,
        probeClient: client,
        timeoutMs: Math.min(config.httpTimeoutMs, Math.floor(left)),
        signal: budget.signal,
        ...(input.clock ? { clock: input.clock } : {}),
      }).catch((error: unknown) => {
        // runProbe handles call failures itself; this is a bug, not an outage: log it, keep the others.
        logger.error('probe crashed', { probe: key, error: error as Error });
        return undefined;
      });
      if (record) events.push(record.event);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, keys.length) }, worker));
  } finally {
    clearTimeout(budgetTimer);
  }
  if (skipped.length) logger.warn('probes skipped: time budget exhausted', { skipped });

  events.sort((a, b) => a.ts - b.ts);
  const stored = await storeProbeEvents(events, config, input.clock ?? defaultClock);
  return { probes: keys, events, skipped, stored };
}

/**
 * Probe results have no client to send them again: a write that fails is
 * retried once here (the write path undid the failed attempt, so a retry
 * counts each event once). An event the store refuses is a bug in a probe: logged.
 */
async function storeProbeEvents(events: TraceEvent[], config: Config, clock: Clock): Promise<RecordResult> {
  // The tick's clock: the events' times and the store's checks of them agree.
  const options = {
    tableName: config.tableName,
    retentionDays: config.retentionDays,
    rollupRetentionDays: config.rollupRetentionDays,
    now: clock.now(),
  };
  let stored: RecordResult;
  try {
    stored = await recordEvents(events, options);
  } catch (error) {
    logger.warn('probe results not stored; retrying once', { error: error as Error });
    stored = await recordEvents(events, options);
  }
  if (stored.refused.length) logger.error('probe results refused by the store', { refused: stored.refused });
  return stored;
}
