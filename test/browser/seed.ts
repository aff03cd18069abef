/**
 * Seed data for the dashboard's browser test (and for looking at the dashboard
 * by hand): 24 h of probe results for 10 endpoints every 5 minutes, one named
 * like an XSS payload, a failing burst that makes a detected incident, and a
 * few ingested calls with attributes (one an XSS payload, one a bidi override).
 */
import { type LocalStack, startLocalStack } from '../../infra/local/runner.js';
import { resetClients } from '../../shared/aws.js';
import { DEFAULT_PROBE_KEYS, resetConfig } from '../../shared/config.js';
import type { ErrorType, TraceEvent } from '../../shared/events/model.js';
import { estimateCost } from '../../shared/pricing.js';
import { recordEvents } from '../../shared/store/events.js';
import { lcgRandom } from '../fixtures.js';

export const XSS = '<img src=x onerror=alert(1)>';
export const XSS_ATTRIBUTE = '<script>window.__pwned=1</script>';
/** Displays as "invoice-exe.pdf" where the right-to-left override is honoured. */
export const BIDI_ATTRIBUTE = 'invoice-\u202Efdp.exe';
export const ENDPOINTS = [...DEFAULT_PROBE_KEYS, XSS];
const BASE_LATENCY: Record<string, number> = {
  chat: 450,
  responses: 620,
  embeddings: 180,
  moderations: 230,
  models: 90,
  files: 110,
  fine_tunes: 130,
  batches: 120,
  assistants: 140,
};
const MODELS: Record<string, string[]> = {
  chat: ['gpt-4o-mini', 'gpt-4.1-mini'],
  responses: ['gpt-4o-mini'],
  embeddings: ['text-embedding-3-small'],
  moderations: ['omni-moderation-latest'],
};
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

function failure(rand: () => number): { status?: number; errorType: ErrorType; errorMessage: string } {
  const r = rand();
  if (r < 0.4) return { status: 429, errorType: 'rate_limited', errorMessage: 'Rate limit reached' };
  if (r < 0.8) return { status: 503, errorType: 'server_error', errorMessage: 'Service unavailable' };
  return { errorType: 'timeout', errorMessage: 'No answer within 12000 ms' };
}

/** 24 h of probe results for 10 endpoints every 5 minutes, a failing burst, and a few ingested calls. */
export function seedEvents(now: number): TraceEvent[] {
  const rand = lcgRandom(42);
  const events: TraceEvent[] = [];
  const make = (endpoint: string, ts: number, i: number, failRate: number, source: 'probe' | 'ingest') => {
    // The declared incident's hour (3 h to 2 h ago) really is bad for chat.
    if (endpoint === 'chat' && source === 'probe' && ts >= now - 3 * HOUR && ts < now - 2 * HOUR)
      failRate = 0.35;
    const models = MODELS[endpoint];
    const model = models ? models[i % models.length] : undefined;
    const base = BASE_LATENCY[endpoint] ?? 300;
    const daily = 1 + 0.25 * Math.sin((ts / (24 * HOUR)) * 2 * Math.PI);
    const latencyMs = Math.round(base * daily * (0.7 + rand() * 0.6) * (rand() < 0.02 ? 4 : 1));
    const ok = rand() >= failRate;
    const output = endpoint === 'chat' ? 5 : endpoint === 'responses' ? 16 : 0;
    const usage = model && ok ? { input: 12 + Math.floor(rand() * 8), output } : undefined;
    const cost = usage ? estimateCost(model, usage) : undefined;
    const event: TraceEvent = {
      id: `seed-${source}-${endpoint.length}-${endpoint.replace(/[^a-z_]/g, 'x')}-${ts}`,
      ts,
      source,
      endpoint,
      region: i % 3 === 0 ? 'eu-west-1' : 'us-west-1',
      upstream: 'simulated',
      ok,
      latencyMs,
      requestId: `req_${ts.toString(36)}${i}`,
      processingMs: Math.round(latencyMs * 0.6),
      timing: { ttfbMs: Math.round(latencyMs * 0.8), transferMs: Math.round(latencyMs * 0.2), reused: true },
      responseBytes: 200 + Math.floor(rand() * 800),
      rateLimit: { limitRequests: 5000, remainingRequests: 4990 - (i % 10), resetRequestsMs: 12 },
      ...(model ? { model } : {}),
      ...(ok ? { status: 200 } : failure(rand)),
      ...(usage ? { usage } : {}),
      ...(cost === undefined ? {} : { costUsd: cost }),
    };
    if (source === 'ingest') {
      event.attributes = {
        'app.user_note': XSS_ATTRIBUTE,
        'app.name': 'checkout',
        'app.file': BIDI_ATTRIBUTE,
      };
    }
    events.push(event);
  };
  const start = Math.floor(now / (5 * MINUTE)) * 5 * MINUTE - 24 * HOUR + 5 * MINUTE;
  ENDPOINTS.forEach((endpoint, e) => {
    for (let i = 0, ts = start + e * 30_000; ts <= now - 10_000; i++, ts += 5 * MINUTE) {
      make(endpoint, ts, i, endpoint === 'fine_tunes' ? 0.012 : 0.002, 'probe');
    }
  });
  // A 20-minute failing burst on embeddings, one result a minute: a detected incident.
  const burst = Math.floor((now - 8 * HOUR) / MINUTE) * MINUTE;
  for (let i = 0; i < 20; i++) make('embeddings', burst + i * MINUTE + 30_000, i, 0.9, 'probe');
  // A few ingested calls, older than 15 minutes, with attributes.
  for (let i = 0; i < 5; i++) make('chat', now - 2 * HOUR + i * MINUTE, i, 0, 'ingest');
  return events;
}

export const INGEST_KEY = 'browser-test-ingest-key-0123456789';

export interface SeededStack {
  stack: LocalStack;
  /** When the data was made (epoch ms). */
  seededAt: number;
  events: number;
  /** Stops the stack and restores process.env (the runner writes its endpoints into it). */
  stop(): Promise<void>;
}

/**
 * Starts the local stack in-process with its own in-memory store (the tests'
 * shared store settings are ignored), records the seed events into its table
 * and declares an incident 3 h to 2 h ago on chat through `PUT /incidents`.
 */
export async function startSeededStack(extra: Record<string, string> = {}): Promise<SeededStack> {
  const savedEnv = { ...process.env };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    ENABLE_DB: '0',
    // The probe does not run here (below), but the dashboard's empty state names its interval.
    PROBE_INTERVAL_SEC: '3600',
    LOG_LEVEL: 'SILENT',
    INGEST_API_KEY: INGEST_KEY,
    ...extra,
  };
  for (const name of [
    'DATA_DIR',
    'DB_FILE',
    'TABLE_NAME',
    'ARTIFACTS_BUCKET',
    'OPENAI_API_KEY',
    'OPENAI_BASE_URL',
  ]) {
    if (!(name in extra)) delete env[name];
  }
  const restore = () => {
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
    resetConfig();
    resetClients();
  };
  let stack: LocalStack;
  try {
    // The probe, the monitors' dispatcher and the alert evaluator do not run: the data is the seed's,
    // monitors run when a test says so, and the alert states are the ones a test writes. (Hourly
    // ticks, as these were, still came at the top of the hour, mid-test.)
    stack = await startLocalStack(env, { unscheduled: ['probe', 'synthetics_dispatch', 'alerts_eval'] });
  } catch (error) {
    restore();
    throw error;
  }
  const stop = async () => {
    await stack.stop();
    restore();
  };
  try {
    const seededAt = Date.now();
    const events = seedEvents(seededAt);
    const options = {
      tableName: stack.config.tableName,
      retentionDays: stack.config.retentionDays,
      rollupRetentionDays: stack.config.rollupRetentionDays,
    };
    for (let i = 0; i < events.length; i += 500) await recordEvents(events.slice(i, i + 500), options);
    const declared = await fetch(`${stack.gateway.url}/incidents`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-api-key': INGEST_KEY },
      body: JSON.stringify([
        {
          id: 'seeded-outage',
          start: seededAt - 3 * HOUR,
          end: seededAt - 2 * HOUR,
          severity: 'high',
          title: 'Seeded outage <b>on chat</b>',
          description: 'Declared by the browser test: a third of chat completions failed.',
          endpoints: ['chat'],
        },
      ]),
    });
    if (declared.status !== 200)
      throw new Error(`PUT /incidents answered ${declared.status}: ${await declared.text()}`);
    return { stack, seededAt, events: events.length, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
