/**
 * The log simulator: the log of an app that calls OpenAI — successes, 429
 * bursts with retry-after, timeouts, context-length errors, content-filter
 * hits, slow streams, 5xx and deploys — labelled with endpoint, model,
 * region, service, request and trace ids, and the scenario that produced
 * each line (`attributes.scenario`, which the relevance test scores against).
 * Each request's call is stored as a trace (through trace ingestion, source
 * `ingest`) with the trace id its lines carry, so a line's trace opens.
 *
 * Lines are a pure function of the period they cover (seeded by its start),
 * so a period written twice yields the same ids and is stored once. Its
 * on/off switch lives in the table, so start and stop reach every container;
 * without a switch yet, LOG_SIM_ENABLED decides (the "on boot" start).
 */
import { createHash } from 'node:crypto';
import { clock } from '../clock.js';
import { getConfig } from '../config.js';
import { storeTraceItems } from '../ingest/ingest.js';
import { MINUTE_MS, padTs } from '../store/keys.js';
import { advanceLogSimulator, putLogSimulatorState, readLogSimulatorState } from '../store/logs.js';
import { storeLogLines } from './ingest.js';
import type { LogLevel, LogLine } from './schema.js';
import { logSimulatorStatus, type SimulatorStatus } from './simulator-status.js';

export const SCENARIOS = [
  'success',
  'rate_limit',
  'timeout',
  'context_length',
  'content_filter',
  'slow_stream',
  'server_error',
  'deploy',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** One simulated request (or event) every this many ms on average. */
const MEAN_GAP_MS = 2000;
/** After a pause, the simulator writes at most this far back: it never backfills hours. */
const MAX_CATCH_UP_MS = 10 * MINUTE_MS;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENDPOINTS = [
  { endpoint: 'chat', path: '/v1/chat/completions', models: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini'] },
  { endpoint: 'responses', path: '/v1/responses', models: ['gpt-4o-mini', 'gpt-5-mini'] },
  { endpoint: 'embeddings', path: '/v1/embeddings', models: ['text-embedding-3-small'] },
];
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
const SERVICES = ['checkout-api', 'support-bot', 'search-indexer'];

/** Base weights of the scenarios; an incident block multiplies one failure scenario. */
const WEIGHTS: Record<Scenario, number> = {
  success: 70,
  rate_limit: 5,
  timeout: 3,
  context_length: 3,
  content_filter: 2,
  slow_stream: 3,
  server_error: 2,
  deploy: 0.3,
};

interface Draft {
  level: LogLevel;
  message: string;
  delayMs?: number;
}

type Context = {
  random: () => number;
  int: (min: number, max: number) => number;
  hex: (n: number) => string;
  pick: <T>(items: readonly T[]) => T;
  path: string;
  model: string;
  requestId: string;
};

/** The lines of one request of each scenario, in the wording of real client logs. */
const WRITERS: Record<Scenario, (c: Context) => Draft[]> = {
  success: (c) => [
    {
      level: 'info',
      message: c.pick([
        `POST ${c.path} 200 in ${c.int(180, 1900)} ms model=${c.model} prompt_tokens=${c.int(40, 3000)} completion_tokens=${c.int(5, 800)}`,
        `OpenAI call ok: ${c.model} answered in ${c.int(180, 1900)} ms (finish_reason=stop)`,
        `cache miss for conversation ${c.hex(8)}; called ${c.model}, ${c.int(40, 3000)} input tokens`,
      ]),
    },
  ],
  rate_limit: (c) => {
    const retryAfter = c.int(1, 20);
    return [
      {
        level: 'warn',
        message: `OpenAI API error 429 rate_limit_exceeded: Rate limit reached for ${c.model} in organization org-${c.hex(6)} on tokens per min (TPM): Limit ${c.int(100, 800) * 1000}, Used ${c.int(90, 800) * 1000}, Requested ${c.int(500, 5000)}. retry-after: ${retryAfter}s`,
      },
      {
        level: 'info',
        message: `retrying ${c.path} after ${retryAfter * 1000} ms (attempt ${c.int(2, 4)} of 5) because of 429 Too Many Requests`,
        delayMs: retryAfter * 1000,
      },
    ];
  },
  timeout: (c) => [
    {
      level: 'error',
      message: c.pick([
        `Request to ${c.path} timed out after ${c.int(10, 60) * 1000} ms (ETIMEDOUT); aborting and returning 504 to the caller`,
        `APIConnectionTimeoutError: Request timed out. model=${c.model} elapsed=${c.int(10, 60)}s`,
      ]),
    },
  ],
  context_length: (c) => {
    const limit = c.pick([8192, 16385, 128000]);
    return [
      {
        level: 'error',
        message: `OpenAI API error 400 context_length_exceeded: This model's maximum context length is ${limit} tokens. However, your messages resulted in ${limit + c.int(10, 9000)} tokens. Please reduce the length of the messages.`,
      },
    ];
  },
  content_filter: (c) => [
    {
      level: 'warn',
      message: c.pick([
        `completion ended with finish_reason=content_filter for ${c.model}; answer withheld from the user`,
        `response blocked by content_filter: the prompt was flagged (categories: ${c.pick(['violence', 'hate', 'self-harm'])})`,
      ]),
    },
  ],
  slow_stream: (c) => [
    {
      level: 'warn',
      message: `slow stream from ${c.model}: first token after ${c.int(4000, 15000)} ms, ${c.int(3, 15)} tokens/s on ${c.path} (stream=true)`,
    },
  ],
  server_error: (c) => [
    {
      level: 'error',
      message: c.pick([
        `OpenAI API error 503 service_unavailable: The server is overloaded or not ready yet.`,
        `OpenAI API error 500 server_error: The server had an error while processing your request. request_id=${c.requestId}`,
        `OpenAI API error 502 bad_gateway from ${c.path}; upstream connection reset`,
      ]),
    },
  ],
  deploy: (c) => {
    const version = `v2.${c.int(1, 40)}.${c.int(0, 9)}`;
    return [
      { level: 'info', message: `deploy started: ${version} (commit ${c.hex(7)}) rolling out, 3 instances` },
      {
        level: 'info',
        message: `deploy finished: ${version} healthy on 3 of 3 instances after ${c.int(40, 200)} s`,
        delayMs: c.int(40, 200) * 1000,
      },
    ];
  },
};

function pickScenario(random: () => number, incident: Scenario | undefined): Scenario {
  const weights = SCENARIOS.map((s) => (s === incident ? WEIGHTS[s] * 12 : WEIGHTS[s]));
  let roll = random() * weights.reduce((a, b) => a + b, 0);
  for (const [i, w] of weights.entries()) {
    roll -= w;
    if (roll <= 0) return SCENARIOS[i] as Scenario;
  }
  return 'success';
}

/**
 * The simulated lines of requests starting in [from, to): a pure function of
 * the range (`meanGapMs` apart on average: benchmarks ask for more). Every 10-minute block may carry an incident (a burst of one
 * failure scenario), chosen from the block's start.
 */
export function simulateLogLines(from: number, to: number, meanGapMs = MEAN_GAP_MS): LogLine[] {
  return simulateLogPeriod(from, to, meanGapMs).lines;
}

/** A simulated call as `POST /ingest/trace` takes it (shared/ingest/schema.ts traceInputSchema). */
export interface SimulatedCall {
  id: string;
  ts: number;
  endpoint: string;
  model: string;
  region: string;
  ok: boolean;
  status?: number;
  errorType?: 'timeout';
  latencyMs: number;
  ttftMs?: number;
  requestId: string;
  traceId: string;
  spanId: string;
  attributes: Record<string, string>;
}

/**
 * The call behind a request's lines, so "open trace" on a line finds it: its
 * status is the one the first line reports (none for a timeout). Its own
 * random numbers come from the trace id, so the lines stay what they were.
 */
function simulatedCall(
  scenario: Scenario,
  first: Draft,
  line: { ts: number; endpoint: string; model: string; region: string; requestId: string; traceId: string },
): SimulatedCall {
  const random = mulberry32(Number.parseInt(line.traceId.slice(0, 8), 16));
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const reported = /\b(?:error |POST \S+ )([1-5]\d\d)\b/.exec(first.message)?.[1];
  const status =
    scenario === 'timeout'
      ? undefined
      : reported
        ? Number(reported)
        : scenario === 'content_filter'
          ? 400
          : 200;
  const latencyMs =
    scenario === 'timeout'
      ? between(10_000, 60_000)
      : scenario === 'slow_stream'
        ? between(8000, 30_000)
        : scenario === 'success'
          ? between(180, 1900)
          : between(40, 900);
  return {
    id: `sim-${line.traceId}`,
    ts: line.ts,
    endpoint: line.endpoint,
    model: line.model,
    region: line.region,
    ok: status !== undefined && status < 400,
    ...(status === undefined ? { errorType: 'timeout' as const } : { status }),
    latencyMs,
    ...(scenario === 'slow_stream' ? { ttftMs: between(4000, Math.min(15_000, latencyMs)) } : {}),
    requestId: line.requestId,
    traceId: line.traceId,
    spanId: line.traceId.slice(0, 16),
    attributes: { scenario, simulated: 'true' },
  };
}

/** The lines of [from, to), and the calls (traces) their trace ids name: a pure function of the range. */
export function simulateLogPeriod(
  from: number,
  to: number,
  meanGapMs = MEAN_GAP_MS,
): { lines: LogLine[]; calls: SimulatedCall[] } {
  const random = mulberry32(Number(BigInt(from) % 4294967291n));
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const lines: LogLine[] = [];
  const calls: SimulatedCall[] = [];
  let seq = 0;
  const gap = Math.max(4, meanGapMs);
  for (let ts = from + int(0, gap); ts < to; ts += int(Math.floor(gap / 4), Math.floor((gap * 7) / 4))) {
    const block = Math.floor(ts / (10 * MINUTE_MS));
    const blockRandom = mulberry32(block);
    const incident =
      blockRandom() < 0.4 ? (SCENARIOS[1 + Math.floor(blockRandom() * 6)] as Scenario) : undefined;
    const scenario = pickScenario(random, incident);
    const target = pick(ENDPOINTS);
    const context: Context = {
      random,
      int,
      hex,
      pick,
      path: target.path,
      model: pick(target.models),
      requestId: `req_${hex(24)}`,
    };
    const traceId = hex(32);
    const region = pick(REGIONS);
    const service = pick(SERVICES);
    let at = ts;
    const drafts = WRITERS[scenario](context);
    if (scenario !== 'deploy') {
      calls.push(
        simulatedCall(scenario, drafts[0] as Draft, {
          ts,
          endpoint: target.endpoint,
          model: context.model,
          region,
          requestId: context.requestId,
          traceId,
        }),
      );
    }
    for (const draft of drafts) {
      at += draft.delayMs ?? 0;
      const suffix = `sim-${createHash('sha256').update(`${ts}:${seq++}`).digest('hex').slice(0, 16)}`;
      lines.push({
        id: `${padTs(at)}-${suffix}`,
        ts: at,
        level: draft.level,
        message: draft.message,
        ...(scenario === 'deploy'
          ? { service }
          : {
              endpoint: target.endpoint,
              model: context.model,
              region,
              traceId,
              spanId: traceId.slice(0, 16),
              requestId: context.requestId,
              service,
            }),
        attributes: { scenario, simulated: 'true' },
      });
    }
  }
  return { lines, calls };
}

/** One tick: when running, writes the lines of the period since the last tick. */
export async function logSimulatorTick(
  now = clock.now(),
): Promise<{ running: boolean; written: number; traces?: number }> {
  const config = getConfig();
  let state = await readLogSimulatorState(config.tableName);
  if (!(state ? state.running : config.logSimEnabled)) return { running: false, written: 0 };
  if (!state) {
    state = { running: true, changedBy: 'config', changedAt: now, lines: 0 };
    await putLogSimulatorState(config.tableName, state);
  }
  const from = Math.max(state.writtenUpTo ?? now - config.logSimIntervalMs, now - MAX_CATCH_UP_MS);
  if (from >= now) return { running: true, written: 0 };
  const { lines, calls } = simulateLogPeriod(from, now);
  // Claim the period first: of two concurrent ticks, one writes it.
  if (!(await advanceLogSimulator(config.tableName, state.writtenUpTo, now, lines.length))) {
    return { running: true, written: 0 };
  }
  // The calls first, through trace ingestion's path (source `ingest`): a line's trace exists once the line does.
  const traces = await storeTraceItems(calls, now);
  const result = await storeLogLines(lines);
  return { running: true, written: result.stored, traces: traces.stored };
}

/** Switches the simulator on (and writes a first batch) or off, for every container. */
export async function switchLogSimulator(
  running: boolean,
  by: 'api' | 'config' = 'api',
): Promise<SimulatorStatus & { written: number }> {
  const config = getConfig();
  const now = clock.now();
  await putLogSimulatorState(config.tableName, { running, changedBy: by, changedAt: now, lines: 0 });
  const written = running ? (await logSimulatorTick(now)).written : 0;
  return { ...(await logSimulatorStatus()), written };
}
