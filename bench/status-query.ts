/**
 * `/status?window=1440` and `/timeseries?window=1440` over a day of probe
 * events: DynamoDB items read and latency from the rollups, against a naive
 * exact computation over the raw events in the same run.
 *
 * 1. Generates probe events deterministically (seeded PRNG) over the 24 h
 *    before a fixed `now`: 10 endpoints (probe keys), 2 models each where the
 *    call names one (listing calls have none), 2 regions, lognormal latencies
 *    per endpoint and region, ~2% failures spread over the error types (plus a
 *    half-hour incident on `responses` in one region), token usage and cost,
 *    timing phases.
 * 2. Loads them into an in-memory dynalite (startLocalStore({ dataDir:
 *    undefined }), in a child process by default so server and client each
 *    get a core) through the write path, recordEvents(): batches of BATCH
 *    events in time order, CONCURRENCY batches at a time. A 10× smaller
 *    dataset goes into a second table.
 * 3. Times computeStatus / computeTimeseries (RUNS after WARMUP) on both
 *    tables, and a naive exact computation (Query over the raw `EV#<hour>`
 *    partitions, exact percentiles by sorting) NAIVE_RUNS times; checks that
 *    totals/ok match exactly and percentiles are within 1%.
 *
 * Run (the store process held 1.7 GiB RSS with 400,000 events, so a million
 * needs more than Node's default heap; NODE_OPTIONS reaches the child too):
 *   NODE_OPTIONS=--max-old-space-size=8192 npx tsx bench/status-query.ts
 *   EVENTS=200000 npx tsx bench/status-query.ts      (or the count as first argument)
 * Without EVENTS, a short calibration load decides: 1,000,000 events if that
 * loads within LOAD_BUDGET_S (300 s), else the largest multiple of 100,000
 * that does (at least 200,000). Other knobs: RUNS=30 WARMUP=5 NAIVE_RUNS=3
 * BATCH=500 CONCURRENCY=8 STORE=process|inprocess SEED=1; CALIBRATE_ONLY=1 stops after the
 * calibration.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { dynamoClient, resetClients } from '../shared/aws.js';
import { type Config, parseConfig, resetConfig } from '../shared/config.js';
import type { ErrorType, TraceEvent } from '../shared/events/model.js';
import { estimateCost } from '../shared/pricing.js';
import { type Aggregate, addRollupItem, emptyAggregate, summarize } from '../shared/stats/aggregate.js';
import { resolveFilters, resolveRange } from '../shared/status/params.js';
import { computeStatus, type StatusAnswer } from '../shared/status/status.js';
import { computeTimeseries } from '../shared/status/timeseries.js';
import { recordEvents } from '../shared/store/events.js';
import { DAY_MS, floorTo, HOUR_MS, hourOf, MINUTE_MS, padTs } from '../shared/store/keys.js';
import { planSegments, RollupReader } from '../shared/store/rollups.js';
import { seededRandom } from '../test/fixtures.js';

// ---------------------------------------------------------------- settings

const intSetting = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name}=${raw}: expected a whole number`);
  return value;
};
const requestedRaw = process.argv[2] ?? process.env.EVENTS;
const REQUESTED =
  requestedRaw === undefined || requestedRaw.trim() === ''
    ? undefined
    : Number(requestedRaw.replaceAll('_', '').replaceAll(',', ''));
if (REQUESTED !== undefined && !(Number.isSafeInteger(REQUESTED) && REQUESTED >= 10)) {
  throw new Error(`event count ${requestedRaw}: expected a whole number ≥ 10`);
}
const FULL = 1_000_000;
const MIN_FALLBACK = 200_000;
const LOAD_BUDGET_S = intSetting('LOAD_BUDGET_S', 300);
const CALIBRATION_EVENTS = 20_000;
const RUNS = intSetting('RUNS', 30);
const WARMUP = intSetting('WARMUP', 5);
const NAIVE_RUNS = intSetting('NAIVE_RUNS', 3);
const BATCH = intSetting('BATCH', 500);
const CONCURRENCY = intSetting('CONCURRENCY', 8);
const SEED = intSetting('SEED', 1);
const STORE_MODE = process.env.STORE === 'inprocess' ? 'inprocess' : 'process';
const STATUS_P95_TARGET_MS = 100;

/** A fixed "now", not on a minute or hour edge, so windows cross both. */
const NOW = Date.UTC(2026, 10, 27, 12, 34, 56, 789);
const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };

// ---------------------------------------------------------------- formatting

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const msf = (n: number) => (n >= 1000 ? int(n) : n >= 100 ? n.toFixed(0) : n.toFixed(1));
const ratio = (a: number, b: number) => `${a / b >= 100 ? int(a / b) : (a / b).toFixed(1)}x`;
const log = (line = '') => console.log(line);

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

// ---------------------------------------------------------------- data

interface Profile {
  key: string;
  medianMs: number;
  sigma: number;
  models?: [string, string];
  usage?: 'chat' | 'responses' | 'embeddings';
  stream?: boolean;
  bytes: number;
}

const CHAT_MODELS: [string, string] = ['gpt-4o-mini', 'gpt-4.1-mini'];
const PROFILES: Profile[] = [
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
const REGIONS = ['us-west-1', 'eu-west-1'] as const;
const REGION_FACTOR = [1, 1.25];
/** Distinct (endpoint, model, region) label sets: the rollup keys. */
const LABEL_SETS = PROFILES.reduce((n, p) => n + (p.models ? 2 : 1), 0) * REGIONS.length;

interface FailureKind {
  weight: number;
  errorType: ErrorType;
  statuses: number[];
  message: string;
}
const FAILURES: FailureKind[] = [
  { weight: 30, errorType: 'server_error', statuses: [500, 502, 503], message: 'upstream answered 5xx' },
  { weight: 20, errorType: 'rate_limited', statuses: [429], message: 'Rate limit reached for requests' },
  { weight: 15, errorType: 'timeout', statuses: [], message: 'Request timed out after 12000 ms' },
  { weight: 10, errorType: 'network', statuses: [], message: 'connect ECONNRESET' },
  { weight: 10, errorType: 'client_error', statuses: [400, 404], message: 'Invalid request' },
  { weight: 5, errorType: 'auth', statuses: [401], message: 'Incorrect API key provided' },
  { weight: 10, errorType: 'invalid_response', statuses: [200], message: 'malformed JSON body' },
];
const FAILURE_WEIGHT = FAILURES.reduce((n, f) => n + f.weight, 0);
const BASE_FAILURE_RATE = 0.02;
/** A half-hour incident: `responses` in eu-west-1 answers 503 to a third of the calls, 5 h before now. */
const INCIDENT = {
  endpoint: 'responses',
  region: 1,
  from: NOW - 5 * HOUR_MS,
  to: NOW - 4.5 * HOUR_MS,
  rate: 0.35,
};

const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** `count` events spread evenly (stratified) over the 24 h before NOW, in time order. */
function* generateEvents(count: number, seed: number, tag: string): Generator<TraceEvent> {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
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
    const regionIndex = random() < 0.5 ? 0 : 1;
    // Busier (slower) in the UTC afternoon, a long tail on 1% of the calls.
    const hourOfDay = (ts % DAY_MS) / HOUR_MS;
    const diurnal = 1 + 0.2 * Math.sin((2 * Math.PI * (hourOfDay - 9)) / 24);
    let latencyMs =
      profile.medianMs * (REGION_FACTOR[regionIndex] ?? 1) * diurnal * Math.exp(profile.sigma * gauss());
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
      region: REGIONS[regionIndex] as string,
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

// ---------------------------------------------------------------- store

interface Store {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  describe: string;
  /** CPU time the store has used so far (ms); undefined when it shares this process. */
  cpuMs(): Promise<number | undefined>;
  close(): Promise<void>;
}

async function startStore(): Promise<Store> {
  if (STORE_MODE === 'inprocess') {
    const store = await startLocalStore({ dataDir: undefined });
    return {
      ...store,
      describe: 'in-memory dynalite, same process',
      cpuMs: async () => undefined,
      close: () => store.close(),
    };
  }
  const helper = fileURLToPath(new URL('./local-store-server.ts', import.meta.url));
  // process.execArgv carries tsx's loader flags, so the child runs TypeScript too.
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, helper], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let started = false;
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      if (!started) throw new Error(`store process exited with ${code}`);
      return [''];
    }),
  ])) as [string];
  started = true;
  const endpoints = JSON.parse(first) as { dynamodbEndpoint: string; s3Endpoint: string };
  return {
    ...endpoints,
    describe: 'in-memory dynalite in a child process',
    async cpuMs() {
      const answer = once(lines, 'line');
      child.stdin?.write('cpu\n');
      const [line] = (await answer) as [string];
      const reply = JSON.parse(line) as { cpuMs: number; rssMb: number };
      storeRssMb = Math.max(storeRssMb, reply.rssMb);
      return reply.cpuMs;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      lines.close();
      child.stdin?.end();
      await exited;
    },
  };
}

// ---------------------------------------------------------------- loading

interface LoadResult {
  events: number;
  seconds: number;
  writeRequests: number;
  duplicates: number;
}

/** The SDK warns each time more than its 50 sockets are busy, which a bulk load always does: count, don't print. */
let socketWarnings = 0;
function quietSocketWarnings(): () => void {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (String(args[0]).includes('socket usage at capacity')) socketWarnings++;
    else warn(...args);
  };
  return () => {
    console.warn = warn;
  };
}

/** Loads `count` events; `limit` loads only the first ones (the calibration: same density as the full load). */
async function load(
  config: Config,
  count: number,
  tag: string,
  label: string,
  limit = count,
): Promise<LoadResult> {
  const all = generateEvents(count, SEED, tag);
  const events = (function* () {
    for (let i = 0; i < limit; i++) {
      const next = all.next();
      if (next.done) return;
      yield next.value;
    }
  })();
  const options = { tableName: config.tableName, ...RETENTION };
  let taken = 0;
  let writeRequests = 0;
  let stored = 0;
  let duplicates = 0;
  let nextReport = 0.1;
  const started = performance.now();
  const restoreWarn = quietSocketWarnings();
  const nextBatch = (): TraceEvent[] => {
    const batch: TraceEvent[] = [];
    while (batch.length < BATCH) {
      const next = events.next();
      if (next.done) break;
      batch.push(next.value);
    }
    taken += batch.length;
    return batch;
  };
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
          const result = await recordEvents(batch, options);
          writeRequests += result.writeRequests;
          stored += result.stored;
          duplicates += result.duplicates;
          if (limit >= 100_000 && stored / limit >= nextReport) {
            const s = (performance.now() - started) / 1000;
            log(`  ${label}: ${int(stored)} / ${int(limit)} in ${s.toFixed(0)} s (${int(stored / s)} ev/s)`);
            nextReport += 0.1;
          }
        }
      }),
    );
  } finally {
    restoreWarn();
  }
  if (stored + duplicates !== limit || taken !== limit)
    throw new Error(`loaded ${stored} of ${limit} events`);
  return { events: limit, seconds: (performance.now() - started) / 1000, writeRequests, duplicates };
}

async function createTable(store: Store, tableName: string): Promise<Config> {
  // dynalite flips a new table to ACTIVE on a timer; ensureSchema refuses a CREATING one, so ask again.
  for (let attempt = 0; ; attempt++) {
    try {
      await ensureSchema({
        dynamodbEndpoint: store.dynamodbEndpoint,
        s3Endpoint: store.s3Endpoint,
        tableName,
        buckets: [],
      });
      break;
    } catch (error) {
      if (attempt >= 50 || !String(error).includes('CREATING')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return parseConfig({
    DYNAMODB_ENDPOINT: store.dynamodbEndpoint,
    S3_ENDPOINT: store.s3Endpoint,
    TABLE_NAME: tableName,
    ARTIFACTS_BUCKET: 'bench-artifacts',
    LOG_LEVEL: 'SILENT',
  });
}

// ---------------------------------------------------------------- queries

interface Timed<T> {
  samples: number[];
  last: T;
  /** Mean CPU ms per run: this process (SDK, aggregation) and the store process (dynalite). */
  clientCpuMs: number;
  storeCpuMs: number | undefined;
}

let store: Store;
/** Largest RSS the store process reported. */
let storeRssMb = 0;

async function timed<T>(fn: () => Promise<T>, runs: number, warmup: number): Promise<Timed<T>> {
  let last: T | undefined;
  for (let i = 0; i < warmup; i++) last = await fn();
  const samples: number[] = [];
  const storeBefore = await store.cpuMs();
  const before = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    last = await fn();
    samples.push(performance.now() - start);
  }
  const used = process.cpuUsage(before);
  const storeAfter = await store.cpuMs();
  return {
    samples,
    last: last as T,
    clientCpuMs: (used.user + used.system) / 1000 / runs,
    storeCpuMs:
      storeBefore === undefined || storeAfter === undefined ? undefined : (storeAfter - storeBefore) / runs,
  };
}

const statusQuery = (config: Config) => () =>
  computeStatus({
    config,
    range: resolveRange({ window: '1440' }, config, NOW, 60),
    filters: resolveFilters({}, 'probe'),
    now: NOW,
  });
const timeseriesQuery = (config: Config) => () =>
  computeTimeseries({
    config,
    range: resolveRange({ window: '1440' }, config, NOW, 60),
    filters: resolveFilters({}, 'probe'),
    now: NOW,
  });
type TimeseriesAnswer = Awaited<ReturnType<ReturnType<typeof timeseriesQuery>>>;

/**
 * Only the reads computeStatus makes (window, last hour, last six hours), to split its latency.
 * `minuteOnlyUnder6h` reads the last hour and six hours from minute rollups alone, as the planner
 * did for ranges up to 6 h before it compared the cost of both plans: a same-data A/B of that change.
 */
const statusReadsOnly =
  (config: Config, minuteOnlyUnder6h = false) =>
  async () => {
    const range = resolveRange({ window: '1440' }, config, NOW, 60);
    const reader = new RollupReader(config.tableName, NOW);
    const currentMinuteEnd = Math.floor(NOW / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const read = (from: number, to: number, short = false) =>
      reader.read({
        sources: ['probe'],
        from,
        to,
        ...(short && minuteOnlyUnder6h ? { resolution: 'minute' as const } : {}),
      });
    const parts = await Promise.all([
      read(range.from, range.to),
      read(currentMinuteEnd - HOUR_MS, NOW, true),
      read(currentMinuteEnd - 6 * HOUR_MS, NOW, true),
    ]);
    // Attributes per item by resolution: what a read costs grows with them, not only with the items.
    const attributes = { minute: [0, 0], hour: [0, 0] };
    for (const item of parts[0] ?? []) {
      const a = attributes[item.resolution];
      a[0] = (a[0] ?? 0) + 1;
      a[1] = (a[1] ?? 0) + Object.keys(item).length;
    }
    const mean = ([n, sum]: number[]) => ((n ?? 0) > 0 ? (sum ?? 0) / (n ?? 1) : 0);
    return {
      parts,
      items: parts.map((p) => p.length),
      itemsRead: reader.itemsRead,
      queries: reader.queries,
      attributesPerItem: { minute: mean(attributes.minute), hour: mean(attributes.hour) },
    };
  };

/**
 * The (minute or hour) cells a set of reads covers, counted once as the reader memoises identical
 * ranges: label sets × cells bounds the items read, whatever the number of events.
 */
function cellsRead(ranges: { from: number; to: number; resolution?: 'minute' | 'hour' }[]) {
  const seen = new Set<string>();
  const cells = { minute: 0, hour: 0 };
  for (const range of ranges) {
    for (const segment of planSegments(range.from, range.to, NOW, range.resolution)) {
      const key = `${segment.resolution}|${segment.from}|${segment.to}`;
      if (seen.has(key)) continue;
      seen.add(key);
      cells[segment.resolution] +=
        (segment.to - segment.from) / (segment.resolution === 'minute' ? MINUTE_MS : HOUR_MS);
    }
  }
  return { ...cells, maxItems: LABEL_SETS * (cells.minute + cells.hour) };
}

function statusCells(config: Config) {
  const range = resolveRange({ window: '1440' }, config, NOW, 60);
  const currentMinuteEnd = Math.floor(NOW / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  return cellsRead([
    range,
    { from: currentMinuteEnd - HOUR_MS, to: NOW },
    { from: currentMinuteEnd - 6 * HOUR_MS, to: NOW },
  ]);
}

// ---------------------------------------------------------------- naive exact computation

interface RawEvent {
  ts: number;
  endpoint: string;
  ok: boolean;
  latencyMs: number;
  errorType?: ErrorType;
  source: string;
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** Every raw event in [from, to): one Query (paged) per `EV#<hour>` partition, no Scan. */
async function forEachRawEvent(
  tableName: string,
  from: number,
  to: number,
  visit: (event: RawEvent) => void,
): Promise<{ itemsRead: number; queries: number }> {
  const hours: number[] = [];
  for (let hour = floorTo(from, HOUR_MS); hour < to; hour += HOUR_MS) hours.push(hour);
  let itemsRead = 0;
  let queries = 0;
  await pool(hours, 4, async (hour) => {
    const low = padTs(Math.max(from, hour));
    const high = `${padTs(Math.min(to, hour + HOUR_MS) - 1)}$`; // `$` sorts after `#<id>`
    let startKey: Record<string, unknown> | undefined;
    do {
      queries++;
      const page = await dynamoClient().send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
          // Only what the figures need: the same items are read, fewer bytes travel.
          ProjectionExpression: '#ts, #ep, #ok, #lat, #err, #src',
          ExpressionAttributeNames: {
            '#pk': 'pk',
            '#sk': 'sk',
            '#ts': 'ts',
            '#ep': 'endpoint',
            '#ok': 'ok',
            '#lat': 'latencyMs',
            '#err': 'errorType',
            '#src': 'source',
          },
          ExpressionAttributeValues: { ':pk': `EV#${hourOf(hour)}`, ':low': low, ':high': high },
          ExclusiveStartKey: startKey,
        }),
      );
      itemsRead += page.ScannedCount ?? page.Count ?? 0;
      for (const item of page.Items ?? []) visit(item as RawEvent);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  });
  return { itemsRead, queries };
}

const QS = [0.5, 0.95, 0.99];

interface Figures {
  total: number;
  ok: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

class Acc {
  latencies: number[] = [];
  ok = 0;
  excluded = 0;
  add(event: RawEvent, excludedErrors: readonly ErrorType[]) {
    this.latencies.push(event.latencyMs);
    if (event.ok) this.ok++;
    if (event.errorType && excludedErrors.includes(event.errorType)) this.excluded++;
  }
  figures(): Figures {
    const sorted = Float64Array.from(this.latencies).sort();
    const n = sorted.length;
    // Lower nearest rank, the definition the histogram uses.
    const at = (q: number) => (n === 0 ? null : (sorted[Math.max(1, Math.ceil(q * n - 1e-9)) - 1] ?? null));
    const [p50, p95, p99] = QS.map(at) as [number | null, number | null, number | null];
    return { total: n, ok: this.ok, p50, p95, p99 };
  }
}

/** The same figures as /status, exactly, from the raw events. */
async function naiveStatus(config: Config) {
  const range = resolveRange({ window: '1440' }, config, NOW, 60);
  const currentMinuteEnd = Math.floor(NOW / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const hourFrom = currentMinuteEnd - HOUR_MS;
  const sixFrom = currentMinuteEnd - 6 * HOUR_MS;
  const excluded = config.sloExcludeErrors;
  const endpoints = new Map<string, Acc>();
  const overall = new Acc();
  const hour = new Acc();
  const six = new Acc();
  const read = await forEachRawEvent(config.tableName, range.from, range.to, (event) => {
    if (event.source !== 'probe') return;
    let acc = endpoints.get(event.endpoint);
    if (!acc) {
      acc = new Acc();
      endpoints.set(event.endpoint, acc);
    }
    acc.add(event, excluded);
    overall.add(event, excluded);
    if (event.ts >= hourFrom) hour.add(event, excluded);
    if (event.ts >= sixFrom) six.add(event, excluded);
  });
  const burn = (acc: Acc) => {
    const valid = acc.latencies.length - acc.excluded;
    return valid > 0 ? (1 - acc.ok / valid) / (1 - config.sloTarget / 100) : null;
  };
  return {
    ...read,
    endpoints: new Map([...endpoints].map(([k, acc]) => [k, acc.figures()])),
    overall: overall.figures(),
    burn1h: burn(hour),
    burn6h: burn(six),
  };
}

/** The same buckets as /timeseries, exactly, from the raw events. */
async function naiveTimeseries(config: Config, from: number, to: number, bucketMs: number) {
  const buckets: Acc[] = Array.from({ length: Math.ceil((to - from) / bucketMs) }, () => new Acc());
  const read = await forEachRawEvent(config.tableName, from, to, (event) => {
    if (event.source !== 'probe') return;
    buckets[Math.floor((event.ts - from) / bucketMs)]?.add(event, []);
  });
  return { ...read, points: buckets.map((b) => b.figures()) };
}

// ---------------------------------------------------------------- cross-check

class Check {
  countMismatches: string[] = [];
  countsCompared = 0;
  maxRelError = 0;
  worst = '';
  percentilesCompared = 0;
  counts(label: string, rollup: number, exact: number) {
    this.countsCompared++;
    if (rollup !== exact) this.countMismatches.push(`${label}: rollup ${rollup} vs exact ${exact}`);
  }
  percentile(label: string, rollup: number | null, exact: number | null) {
    this.percentilesCompared++;
    if (rollup === null || exact === null) {
      if (rollup !== exact) this.countMismatches.push(`${label}: rollup ${rollup} vs exact ${exact}`);
      return;
    }
    const error = exact === 0 ? Math.abs(rollup) : Math.abs(rollup - exact) / exact;
    if (error > this.maxRelError) {
      this.maxRelError = error;
      this.worst = `${label} rollup ${rollup} vs exact ${exact}`;
    }
  }
  figures(label: string, rollup: Figures, exact: Figures) {
    this.counts(`${label} total`, rollup.total, exact.total);
    this.counts(`${label} ok`, rollup.ok, exact.ok);
    this.percentile(`${label} p50`, rollup.p50, exact.p50);
    this.percentile(`${label} p95`, rollup.p95, exact.p95);
    this.percentile(`${label} p99`, rollup.p99, exact.p99);
  }
}

const statusFigures = (s: StatusAnswer['overall']): Figures => ({
  total: s.total,
  ok: s.ok,
  p50: s.latencyMs.p50,
  p95: s.latencyMs.p95,
  p99: s.latencyMs.p99,
});

// ---------------------------------------------------------------- main

/** CALIBRATE_ONLY=1: stop after printing the load rate. */
class CalibrationDone extends Error {}

store = await startStore();
process.env.DYNAMODB_ENDPOINT = store.dynamodbEndpoint;
process.env.S3_ENDPOINT = store.s3Endpoint;
process.env.AWS_REGION = 'us-east-1';
process.env.LOG_LEVEL = 'SILENT';
resetConfig();
resetClients();

let exitCode = 0;
try {
  log(`status-query bench: Node ${process.version}, ${store.describe}, now = ${new Date(NOW).toISOString()}`);
  log(
    `data: 10 endpoints, ${LABEL_SETS} (endpoint, model, region) label sets, seed ${SEED}; ` +
      `load in batches of ${BATCH}, ${CONCURRENCY} concurrent recordEvents calls`,
  );

  // How many events: as asked, or a million if it loads within the budget.
  let count: number;
  let countNote: string;
  if (REQUESTED !== undefined) {
    count = REQUESTED;
    countNote = 'as requested';
  } else {
    const calibration = await createTable(store, 'bench-calibration');
    // The first events of the million, so batches are as dense in time (as few rollup updates) as in the real load.
    const calib = await load(calibration, FULL, 'c', 'calibration', CALIBRATION_EVENTS);
    await dynamoClient().send(new DeleteTableCommand({ TableName: calibration.tableName }));
    const rate = calib.events / calib.seconds;
    const fullSeconds = FULL / rate;
    log(
      `calibration: ${int(calib.events)} events at ${int(rate)} ev/s → 1,000,000 would take ~${int(fullSeconds)} s`,
    );
    if (fullSeconds <= LOAD_BUDGET_S) {
      count = FULL;
      countNote = `1,000,000 fits the ${LOAD_BUDGET_S} s load budget`;
    } else {
      count = Math.max(MIN_FALLBACK, Math.floor((rate * LOAD_BUDGET_S) / 100_000) * 100_000);
      countNote = `1,000,000 would take ~${int(fullSeconds)} s > ${LOAD_BUDGET_S} s: the largest round count that fits`;
    }
  }
  if (process.env.CALIBRATE_ONLY === '1') throw new CalibrationDone();
  const smallCount = Math.max(1, Math.round(count / 10));
  log(`events: ${int(count)} (${countNote}); second dataset: ${int(smallCount)}`);

  const small = await createTable(store, 'bench-small');
  const smallLoad = await load(small, smallCount, 's', 'small');
  log(`loaded ${int(smallCount)} events into ${small.tableName} in ${smallLoad.seconds.toFixed(1)} s`);
  const main = await createTable(store, 'bench-main');
  const mainLoad = await load(main, count, 'm', 'main');
  const rate = count / mainLoad.seconds;
  log(
    `loaded ${int(count)} events into ${main.tableName} in ${mainLoad.seconds.toFixed(1)} s (${int(rate)} ev/s; ` +
      `1,000,000 at this rate: ~${int(FULL / rate)} s)`,
  );

  // Rollup queries, both tables.
  log(`\ntiming rollup queries (${WARMUP} warm-up + ${RUNS} runs each)...`);
  const status = await timed(statusQuery(main), RUNS, WARMUP);
  const series = await timed(timeseriesQuery(main), RUNS, WARMUP);
  const statusReads = await timed(statusReadsOnly(main), RUNS, WARMUP);
  const statusReadsOldPlan = await timed(statusReadsOnly(main, true), RUNS, WARMUP);
  const statusSmall = await timed(statusQuery(small), 3, 1);
  const seriesSmall = await timed(timeseriesQuery(small), 3, 1);

  // Naive exact computation over the raw events.
  log(`timing the naive computation (${NAIVE_RUNS} runs each, no warm-up)...`);
  const naiveS = await timed(() => naiveStatus(main), NAIVE_RUNS, 0);
  const ts = series.last as TimeseriesAnswer;
  const naiveT = await timed(() => naiveTimeseries(main, ts.from, ts.to, ts.bucketMs), NAIVE_RUNS, 0);

  // Correctness: rollup figures against the exact ones.
  const check = new Check();
  const st = status.last;
  const ns = naiveS.last;
  const rollupEndpoints = new Map(st.endpoints.map((e) => [e.endpoint, statusFigures(e)]));
  for (const endpoint of new Set([...rollupEndpoints.keys(), ...ns.endpoints.keys()])) {
    const empty: Figures = { total: 0, ok: 0, p50: null, p95: null, p99: null };
    check.figures(
      `/status ${endpoint}`,
      rollupEndpoints.get(endpoint) ?? empty,
      ns.endpoints.get(endpoint) ?? empty,
    );
  }
  check.figures('/status overall', statusFigures(st.overall), ns.overall);
  const burnClose = (a: number | null, b: number | null) =>
    a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));
  const burnOk =
    burnClose(st.overall.slo.burnRate['1h'], ns.burn1h) &&
    burnClose(st.overall.slo.burnRate['6h'], ns.burn6h);
  const statusPercentileError = check.maxRelError;
  const points = ts.series[0]?.points ?? [];
  if (points.length !== naiveT.last.points.length)
    check.countMismatches.push(`/timeseries buckets: ${points.length} vs ${naiveT.last.points.length}`);
  points.forEach((p, i) => {
    const exact = naiveT.last.points[i] as Figures;
    check.figures(`/timeseries ${new Date(p.t).toISOString().slice(0, 13)}h`, p, exact);
  });
  if (ns.overall.total !== statusFigures(st.overall).total) exitCode = 1;

  // ------------------------------------------------------------ report
  const row = (name: string, items: string, queries: string, p50: string, p95: string) =>
    log(
      `${name.padEnd(32)}${items.padStart(12)}${queries.padStart(9)}${p50.padStart(10)}${p95.padStart(10)}`,
    );
  const timing = (t: Timed<unknown>) =>
    [msf(quantile(t.samples, 0.5)), msf(quantile(t.samples, 0.95))] as const;
  log('\n=== results ===');
  log(
    `events loaded: ${int(count)} (${store.describe}; ${countNote}) in ${mainLoad.seconds.toFixed(0)} s ` +
      `(${int(rate)} ev/s), over 24 h, ${int(ns.overall.total)} in the 1440-min window, ` +
      `${((1 - ns.overall.ok / ns.overall.total) * 100).toFixed(2)}% failed`,
  );
  const rollupWrites = mainLoad.writeRequests - count;
  log(
    `write requests: ${int(mainLoad.writeRequests)} = 1.00 put + ${(rollupWrites / count).toFixed(3)} rollup updates ` +
      `per event (${(mainLoad.writeRequests / count).toFixed(3)}/event; batches of ${BATCH}; a lone probe costs 3; ` +
      `${socketWarnings} SDK "socket usage at capacity" warnings hidden)`,
  );
  log('');
  row('query', 'items read', 'queries', 'p50 ms', 'p95 ms');
  row('/status?window=1440', int(st.meta.itemsRead), int(st.meta.queries), ...timing(status));
  row('/timeseries?window=1440', int(ts.meta.itemsRead), int(ts.meta.queries), ...timing(series));
  row('naive /status (raw events)', int(ns.itemsRead), int(ns.queries), ...timing(naiveS));
  row(
    'naive /timeseries (raw events)',
    int(naiveT.last.itemsRead),
    int(naiveT.last.queries),
    ...timing(naiveT),
  );
  log('');
  const p50 = (t: Timed<unknown>) => quantile(t.samples, 0.5);
  const p95 = (t: Timed<unknown>) => quantile(t.samples, 0.95);
  log(
    `ratio naive/rollup /status:      items ${ratio(ns.itemsRead, st.meta.itemsRead)}, ` +
      `p50 ${ratio(p50(naiveS), p50(status))}, p95 ${ratio(p95(naiveS), p95(status))}`,
  );
  log(
    `ratio naive/rollup /timeseries:  items ${ratio(naiveT.last.itemsRead, ts.meta.itemsRead)}, ` +
      `p50 ${ratio(p50(naiveT), p50(series))}, p95 ${ratio(p95(naiveT), p95(series))}`,
  );
  const sr = statusReads.last;
  const cpu = (t: Timed<unknown>) =>
    `CPU per call: bench process ${msf(t.clientCpuMs)} ms` +
    (t.storeCpuMs === undefined ? '' : `, dynalite ${msf(t.storeCpuMs)} ms`);
  log(`/status split (per call):`);
  log(`  whole computeStatus: p50 ${msf(p50(status))} ms, ${cpu(status)}`);
  log(
    `  its three rollup reads alone: p50 ${msf(p50(statusReads))} ms, ${cpu(statusReads)}; ` +
      `window ${int(sr.items[0] ?? 0)} + last 1 h ${int(sr.items[1] ?? 0)} + last 6 h ${int(sr.items[2] ?? 0)} items`,
  );
  // Aggregation alone, on the items of one /status call: what computeStatus does after its reads.
  const aggregation = await timed(
    async () => {
      for (const part of sr.parts) {
        const groups = new Map<string, Aggregate>();
        for (const item of part) {
          let aggregate = groups.get(item.endpoint);
          if (!aggregate) {
            aggregate = emptyAggregate();
            groups.set(item.endpoint, aggregate);
          }
          addRollupItem(aggregate, item);
        }
        for (const aggregate of groups.values()) summarize(aggregate);
      }
    },
    RUNS,
    WARMUP,
  );
  const old = statusReadsOldPlan.last;
  log(
    `  the same reads with the pre-fix plan (last 1 h and 6 h from minute rollups only): ` +
      `${int(old.itemsRead)} items read, p50 ${msf(p50(statusReadsOldPlan))} ms, p95 ${msf(p95(statusReadsOldPlan))} ms ` +
      `(now ${int(sr.itemsRead)} items, p50 ${msf(p50(statusReads))} ms, p95 ${msf(p95(statusReads))} ms), ${cpu(statusReadsOldPlan)}`,
  );
  log(
    `  attributes per rollup item read: minute ${sr.attributesPerItem.minute.toFixed(0)}, ` +
      `hour ${sr.attributesPerItem.hour.toFixed(0)} (histogram buckets are one attribute each)`,
  );
  log(
    `  aggregation alone (addRollupItem per item, summaries): p50 ${msf(p50(aggregation))} ms, ` +
      `p95 ${msf(p95(aggregation))} ms; /timeseries: ${cpu(series)}`,
  );
  const sS = statusSmall.last.meta.itemsRead;
  const tS = seriesSmall.last.meta.itemsRead;
  const sCells = statusCells(main);
  const tCells = cellsRead([{ from: ts.from, to: ts.to, resolution: 'hour' }]);
  const same = (a: number, b: number) => (Math.abs(a - b) <= LABEL_SETS ? 'yes' : 'no');
  log(
    `items read with 10x fewer events (${int(smallCount)}): /status ${int(sS)} (vs ${int(st.meta.itemsRead)}: ` +
      `same ±${LABEL_SETS}: ${same(sS, st.meta.itemsRead)}), /timeseries ${int(tS)} (vs ${int(ts.meta.itemsRead)}: ` +
      `same ±${LABEL_SETS}: ${same(tS, ts.meta.itemsRead)})`,
  );
  log(
    `  bound for any event count = ${LABEL_SETS} label sets × cells read: /status ${int(sCells.maxItems)} ` +
      `(${sCells.minute} minute + ${sCells.hour} hour cells), /timeseries ${int(tCells.maxItems)} ` +
      `(${tCells.hour} hour cells); a rollup exists only for a (label set, cell) that had an event, ` +
      `so sparse data reads fewer`,
  );
  log(
    `correctness: ${check.countsCompared} totals/ok compared (per endpoint, overall, per hour bucket): ` +
      `${check.countMismatches.length === 0 ? 'all equal' : `${check.countMismatches.length} MISMATCHES`}; ` +
      `burn rates 1 h/6 h equal to exact: ${burnOk ? 'yes' : 'NO'}`,
  );
  for (const line of check.countMismatches.slice(0, 10)) log(`  mismatch ${line}`);
  log(
    `max relative percentile error vs exact: ${(check.maxRelError * 100).toFixed(3)} % ` +
      `(/status ${(statusPercentileError * 100).toFixed(3)} %; ${check.percentilesCompared} percentiles; worst: ${check.worst})`,
  );
  await store.cpuMs(); // refresh the RSS figure
  const heap = process.memoryUsage();
  log(
    `memory: bench process RSS ${int(heap.rss / 2 ** 20)} MiB` +
      (storeRssMb > 0 ? `, store process RSS up to ${int(storeRssMb)} MiB` : ''),
  );
  const statusP95 = p95(status);
  log(
    `target /status p95 < ${STATUS_P95_TARGET_MS} ms locally: ${statusP95 < STATUS_P95_TARGET_MS ? 'met' : 'MISSED'} ` +
      `(${msf(statusP95)} ms)`,
  );
  if (check.countMismatches.length > 0 || check.maxRelError > 0.01 || !burnOk) exitCode = 1;
} catch (error) {
  if (!(error instanceof CalibrationDone)) {
    console.error(error);
    exitCode = 1;
  }
} finally {
  resetClients();
  await store.close();
}
process.exitCode = exitCode;
