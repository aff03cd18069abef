/**
 * Running probes: picks the probes of a tick, calls each through the SDK with
 * the timed fetch, builds each call's trace event from its typed outcome
 * (outcome-event.ts), makes one OpenTelemetry span per call with the same
 * figures, and stores the events with their rollups. One probe failing or
 * hanging never stops the others, and a tick never runs past its time budget.
 */
import { type Attributes as OtelAttributes, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type OpenAI from 'openai';
import { type Clock, clock as defaultClock } from '../clock.js';
import { type Config, getConfig, type ProbeKey } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import { logger } from '../logger.js';
import { openaiClient } from '../openai-client.js';
import { type CompactResult, compactAfterTick } from '../store/compaction.js';
import { type RecordResult, recordEvents } from '../store/events.js';
import { emitProbeMetrics } from '../telemetry/probe-metrics.js';
import { ATTR, type SpanLike } from '../telemetry/span-event.js';
import { probeTracer, spanTimeMs, takeFinishedSpan } from '../telemetry/tracer.js';
import { classifyError } from './errors.js';
import { RECORDED_HEADERS } from './headers.js';
import {
  eventFromOutcome,
  type ProbeResult,
  responseBytesOf,
  responseHeaders,
  responseStatus,
  roundedTimings,
  timeToFirstChunkSec,
} from './outcome-event.js';
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

let cachedTimed: { key: string; timed: TimedFetch } | undefined;

/**
 * The SDK client probes use, kept for the life of the process so connections
 * are reused as they are in a warm Lambda (reported as `reused`). Its timed
 * fetch (and its connection pool) is replaced, and the old one closed, when
 * the key or base URL changes.
 */
export async function probeClient(config: Config): Promise<ProbeClient> {
  const baseURL = config.openaiBaseUrl;
  if (!baseURL) throw new Error('OPENAI_BASE_URL is not set and no simulator is running');
  const key = `${baseURL}|${config.openaiApiKey ?? ''}`;
  if (cachedTimed?.key !== key) {
    cachedTimed?.timed.close();
    cachedTimed = { key, timed: createTimedFetch() };
  }
  const { timed } = cachedTimed;
  const client = await openaiClient('probe', {
    apiKey: config.openaiApiKey,
    baseURL,
    maxRetries: 0,
    timeoutMs: config.httpTimeoutMs,
    fetch: timed.fetch,
  });
  return { client, timed };
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
  /** The call's finished OpenTelemetry span (telemetry; the event is not read from it). */
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
  const toWall = (mono: number) => spanTimeMs(wallStart + (mono - monoStart));
  const startMs = toWall(timing?.startedAt ?? monoStart);
  const endMs = toWall(timing?.endedAt ?? monoEnd);

  const model = definition.model?.(config);
  const span = probeTracer().startSpan(`${definition.operation}${model ? ` ${model}` : ''}`, {
    kind: SpanKind.CLIENT,
    startTime: startMs,
    attributes: requestAttributes(definition, config, model),
  });
  const { traceId, spanId } = span.spanContext();
  const result: ProbeResult = {
    definition,
    config,
    model,
    ...(failure === undefined && outcome ? { outcome } : { failure: classifyError(failure) }),
    timing,
    startMs,
    endMs,
    traceId,
    spanId,
  };
  const event = eventFromOutcome(result);
  // Telemetry: the same figures as the event, under the GenAI semantic conventions' names.
  span.setAttributes(resultAttributes(result, event));
  const message = result.failure ? result.failure.message : result.outcome?.invalid || undefined;
  span.setStatus(
    message === undefined ? { code: SpanStatusCode.OK } : { code: SpanStatusCode.ERROR, message },
  );
  span.end(endMs);

  const finished = takeFinishedSpan(span);
  if (!finished) throw new Error('probe span was not recorded');
  return { event, span: finished };
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

/** The span attributes of a finished call: timings, then the answer (or the error), then the headers. */
function resultAttributes(result: ProbeResult, event: TraceEvent): OtelAttributes {
  const { outcome, failure, timing } = result;
  const attributes: OtelAttributes = {};
  if (timing) {
    attributes[ATTR.connectionReused] = timing.reused;
    const rounded = roundedTimings(timing);
    const names = {
      dnsMs: ATTR.dnsMs,
      connectMs: ATTR.connectMs,
      tlsMs: ATTR.tlsMs,
      ttfbMs: ATTR.ttfbMs,
      transferMs: ATTR.transferMs,
    };
    for (const [key, name] of Object.entries(names)) {
      const value = rounded[key as keyof typeof rounded];
      if (value !== undefined) attributes[name] = value;
    }
  }
  const status = responseStatus(result);
  const responseBytes = responseBytesOf(result);
  if (outcome) {
    const usage = outcome.usage;
    const ttfc = timeToFirstChunkSec(result);
    Object.assign(attributes, {
      [ATTR.httpStatus]: status,
      ...(outcome.responseModel ? { [ATTR.responseModel]: outcome.responseModel } : {}),
      ...(outcome.responseId ? { [ATTR.responseId]: outcome.responseId } : {}),
      ...(outcome.finishReasons?.length ? { [ATTR.finishReasons]: outcome.finishReasons } : {}),
      ...(usage?.input === undefined ? {} : { [ATTR.inputTokens]: usage.input }),
      ...(usage?.output === undefined ? {} : { [ATTR.outputTokens]: usage.output }),
      ...(usage?.cached === undefined ? {} : { [ATTR.cachedInputTokens]: usage.cached }),
      ...(usage?.reasoning === undefined ? {} : { [ATTR.reasoningOutputTokens]: usage.reasoning }),
      ...(event.costUsd === undefined ? {} : { [ATTR.costUsd]: event.costUsd }),
      ...(responseBytes === undefined ? {} : { [ATTR.responseBodySize]: responseBytes }),
      ...(ttfc === undefined ? {} : { [ATTR.timeToFirstChunk]: ttfc }),
    });
    if (outcome.invalid) {
      attributes[ATTR.errorType] = 'invalid_response';
      attributes[ATTR.errorMessage] = outcome.invalid;
    }
  } else if (failure) {
    attributes[ATTR.errorType] = failure.errorType;
    attributes[ATTR.errorMessage] = failure.message;
    if (status !== undefined) attributes[ATTR.httpStatus] = status;
    if (responseBytes !== undefined) attributes[ATTR.responseBodySize] = responseBytes;
  }
  const headers = responseHeaders(result);
  if (headers) {
    for (const name of RECORDED_HEADERS) {
      const value = headers.get(name);
      if (value !== null) attributes[`${ATTR.headerPrefix}${name}`] = [value];
    }
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
  const client = input.probeClient ?? (await probeClient(config));
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

/** What a scheduled tick reports (the invocation's result and its log line). */
export interface TickSummary {
  /** The scheduled time of the tick (ISO). */
  tick: string;
  probes: ProbeKey[];
  ok: number;
  /** `endpoint:errorType` of each failed call. */
  failed: string[];
  skipped: ProbeKey[];
  writeRequests: number;
  /** What the compaction step after the tick did (shared/store/compaction.ts). */
  compaction: CompactResult | { error: string };
}

/**
 * The scheduled probe tick (functions/probe): runs and records this tick's
 * probes, writes the per-endpoint failure metric and logs a summary. Failed
 * calls are data, not errors; only a failure to store them throws.
 */
export async function scheduledProbeTick(input: {
  tickTime: number;
  budgetMs: number;
}): Promise<TickSummary> {
  const config = getConfig();
  if (!config.openaiBaseUrl) {
    // In the cloud there is no simulator: without a key there is nothing to probe.
    throw new Error(
      'OPENAI_API_KEY is not set: put it in the secret named by SECRET_ARN (README, Deploy to AWS)',
    );
  }
  const result = await runProbeTick({ config, ...input });
  // Per-endpoint failure rate for the CloudWatch alarms (EMF; only in Lambda).
  emitProbeMetrics(result.events);
  // The scheduled side of the read path: closed minutes, blocks and hours become compact items.
  const compaction = await compactAfterTick(config);
  const summary: TickSummary = {
    tick: new Date(input.tickTime).toISOString(),
    probes: result.probes,
    ok: result.events.filter((e) => e.ok).length,
    failed: result.events.filter((e) => !e.ok).map((e) => `${e.endpoint}:${e.errorType}`),
    skipped: result.skipped,
    writeRequests: result.stored.writeRequests,
    compaction,
  };
  logger.info('probe tick', { ...summary });
  return summary;
}
