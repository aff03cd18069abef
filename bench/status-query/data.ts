/**
 * A day of probe events, generated deterministically (seeded PRNG): 10 endpoints, 2 models each
 * where the call names one, 2 regions, lognormal latencies per endpoint and region, ~2% failures
 * spread over the error types plus a half-hour incident, token usage and cost, timing phases.
 */
import type { ErrorType, TraceEvent } from '../../shared/events/model.js';
import { estimateCost } from '../../shared/pricing.js';
import { DAY_MS, HOUR_MS } from '../../shared/store/keys.js';
import { lognormal, seededRandom } from '../../test/fixtures.js';
import { NOW } from './settings.js';

export interface Profile {
  key: string;
  medianMs: number;
  sigma: number;
  models?: [string, string];
  usage?: 'chat' | 'responses' | 'embeddings';
  stream?: boolean;
  bytes: number;
}

export const CHAT_MODELS: [string, string] = ['gpt-4o-mini', 'gpt-4.1-mini'];
export const PROFILES: Profile[] = [
  { key: 'chat', medianMs: 480, sigma: 0.45, models: CHAT_MODELS, usage: 'chat', bytes: 650 },
  {
    key: 'chat_stream',
    medianMs: 560,
    sigma: 0.5,
    models: CHAT_MODELS,
    usage: 'chat',
    stream: true,
    bytes: 1400,
  },
  { key: 'responses', medianMs: 820, sigma: 0.5, models: CHAT_MODELS, usage: 'responses', bytes: 1500 },
  {
    key: 'embeddings',
    medianMs: 210,
    sigma: 0.4,
    models: ['text-embedding-3-small', 'text-embedding-3-large'],
    usage: 'embeddings',
    bytes: 33_000,
  },
  {
    key: 'moderations',
    medianMs: 260,
    sigma: 0.4,
    models: ['omni-moderation-latest', 'omni-moderation-2024-09-26'],
    bytes: 2500,
  },
  { key: 'models', medianMs: 140, sigma: 0.35, bytes: 9000 },
  { key: 'files', medianMs: 170, sigma: 0.4, bytes: 150 },
  { key: 'fine_tunes', medianMs: 190, sigma: 0.4, bytes: 160 },
  { key: 'batches', medianMs: 180, sigma: 0.4, bytes: 160 },
  { key: 'assistants', medianMs: 210, sigma: 0.45, bytes: 170 },
];
/** (endpoint, model) pairs: 5 endpoints with 2 models, 5 without. */
const PAIRS = PROFILES.reduce((n, p) => n + (p.models ? 2 : 1), 0);
/** The regions of a dataset of about `labels` label sets: the (endpoint, model) pairs times at least 2 regions. */
export function labelSpace(labels: number) {
  const count = Math.max(2, Math.round(labels / PAIRS));
  const regions = Array.from({ length: count }, (_, i) =>
    i === 0 ? 'us-west-1' : i === 1 ? 'eu-west-1' : `region-${i}`,
  );
  return {
    regions,
    regionFactor: regions.map((_, i) => (i === 0 ? 1 : i === 1 ? 1.25 : 1 + 0.05 * (i % 6))),
    /** Distinct (endpoint, model, region) label sets: the rollup keys. */
    labelSets: PAIRS * regions.length,
  };
}

export interface FailureKind {
  weight: number;
  errorType: ErrorType;
  statuses: number[];
  message: string;
}
export const FAILURES: FailureKind[] = [
  { weight: 30, errorType: 'server_error', statuses: [500, 502, 503], message: 'upstream answered 5xx' },
  { weight: 20, errorType: 'rate_limited', statuses: [429], message: 'Rate limit reached for requests' },
  { weight: 15, errorType: 'timeout', statuses: [], message: 'Request timed out after 12000 ms' },
  { weight: 10, errorType: 'network', statuses: [], message: 'connect ECONNRESET' },
  { weight: 10, errorType: 'client_error', statuses: [400, 404], message: 'Invalid request' },
  { weight: 5, errorType: 'auth', statuses: [401], message: 'Incorrect API key provided' },
  { weight: 10, errorType: 'invalid_response', statuses: [200], message: 'malformed JSON body' },
];
export const FAILURE_WEIGHT = FAILURES.reduce((n, f) => n + f.weight, 0);
export const BASE_FAILURE_RATE = 0.02;
/** A half-hour incident: `responses` in eu-west-1 answers 503 to a third of the calls, 5 h before now. */
export const INCIDENT = {
  endpoint: 'responses',
  region: 1,
  from: NOW - 5 * HOUR_MS,
  to: NOW - 4.5 * HOUR_MS,
  rate: 0.35,
};

export const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** `count` events spread evenly (stratified) over the 24 h before NOW, in time order. */
export function* generateEvents(
  count: number,
  seed: number,
  tag: string,
  labels: number,
): Generator<TraceEvent> {
  const { regions, regionFactor } = labelSpace(labels);
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const hex = (chars: number) => {
    let s = '';
    while (s.length < chars)
      s += Math.floor(random() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    return s.slice(0, chars);
  };
  const start = NOW - DAY_MS;
  for (let i = 0; i < count; i++) {
    const ts = start + Math.floor(((i + random()) / count) * DAY_MS);
    const profile = pick(PROFILES);
    const model = profile.models ? profile.models[random() < 0.5 ? 0 : 1] : undefined;
    const regionIndex =
      regions.length === 2 ? (random() < 0.5 ? 0 : 1) : Math.floor(random() * regions.length);
    // Busier (slower) in the UTC afternoon, a long tail on 1% of the calls.
    const hourOfDay = (ts % DAY_MS) / HOUR_MS;
    const diurnal = 1 + 0.2 * Math.sin((2 * Math.PI * (hourOfDay - 9)) / 24);
    let latencyMs = lognormal(
      random,
      profile.medianMs * (regionFactor[regionIndex] ?? 1) * diurnal,
      profile.sigma,
    );
    if (random() < 0.01) latencyMs *= 2 + 4 * random();

    const inIncident =
      profile.key === INCIDENT.endpoint &&
      regionIndex === INCIDENT.region &&
      ts >= INCIDENT.from &&
      ts < INCIDENT.to;
    let failure: { kind: FailureKind; status: number | undefined } | undefined;
    if (inIncident && random() < INCIDENT.rate) {
      failure = { kind: FAILURES[0] as FailureKind, status: 503 };
    } else if (random() < BASE_FAILURE_RATE) {
      let w = random() * FAILURE_WEIGHT;
      let kind = FAILURES[0] as FailureKind;
      for (const f of FAILURES) {
        kind = f;
        w -= f.weight;
        if (w < 0) break;
      }
      failure = { kind, status: kind.statuses.length > 0 ? pick(kind.statuses) : undefined };
    }
    if (failure?.kind.errorType === 'timeout') latencyMs = 12_000 + 40 * random();
    else if (failure?.kind.errorType === 'network') latencyMs = 5 + 60 * random();
    else if (failure?.kind.errorType === 'rate_limited' || failure?.kind.errorType === 'auth')
      latencyMs *= 0.25;
    latencyMs = r3(latencyMs);

    const answered = failure === undefined || failure.status !== undefined;
    const ok = failure === undefined;
    const event: TraceEvent = {
      id: `${tag}${i.toString(36)}-${hex(8)}`,
      ts,
      source: 'probe',
      endpoint: profile.key,
      ...(model ? { model } : {}),
      region: regions[regionIndex] as string,
      upstream: 'real',
      ok,
      latencyMs,
    };
    if (failure) {
      event.errorType = failure.kind.errorType;
      event.errorMessage = failure.kind.message;
      if (failure.status !== undefined) event.status = failure.status;
    } else {
      event.status = 200;
    }
    if (answered) {
      const reused = random() < 0.85;
      const dnsMs = reused ? undefined : r3(1 + 10 * random());
      const connectMs = reused ? undefined : r3(3 + 15 * random());
      const tlsMs = reused ? undefined : r3(8 + 30 * random());
      const setup = (dnsMs ?? 0) + (connectMs ?? 0) + (tlsMs ?? 0);
      const transferMs = r3(latencyMs * (0.02 + 0.08 * random()));
      const ttfbMs = r3(Math.max(0.1, latencyMs - transferMs - setup));
      event.timing = {
        ...(dnsMs === undefined ? {} : { dnsMs, connectMs, tlsMs }),
        ttfbMs,
        transferMs,
        ...(profile.stream && ok ? { ttftMs: r3(ttfbMs + transferMs * 0.15) } : {}),
        reused,
      };
      event.requestId = `req_${hex(24)}`;
      event.processingMs = Math.round(ttfbMs * 0.7);
      event.responseBytes = ok ? Math.round(profile.bytes * (0.9 + 0.2 * random())) : 220;
      if (profile.models) {
        event.rateLimit = {
          limitRequests: 10_000,
          remainingRequests: 9990 - Math.floor(random() * 10),
          resetRequestsMs: 6,
          limitTokens: 10_000_000,
          remainingTokens: 9_999_000 + Math.floor(random() * 1000),
          resetTokensMs: 0,
        };
      }
    } else {
      event.timing = { reused: false };
    }
    if (ok && profile.usage) {
      const usage =
        profile.usage === 'chat'
          ? {
              input: 9 + Math.floor(random() * 4),
              output: 1 + Math.floor(random() * 5),
              cached: 0,
              reasoning: 0,
            }
          : profile.usage === 'responses'
            ? { input: 12 + Math.floor(random() * 4), output: 16, cached: 0, reasoning: 0 }
            : { input: 1, output: 0 };
      event.usage = usage;
      const cost = estimateCost(model, usage);
      if (cost !== undefined) event.costUsd = cost;
    }
    yield event;
  }
}
