/**
 * The store the bench queries (dynalite, in a child process by default; in memory, or on disk
 * under DATA_DIR) and loading generated events into it: by BulkLoad (the items the write path
 * leaves, written in batches) or through the write path itself, recordEvents().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureSchema, startLocalStore } from '../../infra/local/store.js';
import { resetClients } from '../../shared/aws.js';
import { type Config, parseConfig, resetConfig } from '../../shared/config.js';
import type { TraceEvent } from '../../shared/events/model.js';
import { BulkLoad } from '../../shared/store/bulk-load.js';
import { recordEvents } from '../../shared/store/events.js';
import { generateEvents } from './data.js';
import { BATCH, CONCURRENCY, DATA_DIR, int, LOADER, log, RETENTION, SEED, STORE_MODE } from './settings.js';

export interface Store {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  describe: string;
  /** CPU time the store has used so far (ms); undefined when it shares this process. */
  cpuMs(): Promise<number | undefined>;
  /** Largest RSS the store process reported (MiB); 0 when it shares this process. */
  peakRssMb: number;
  close(): Promise<void>;
}

export async function startStore(): Promise<Store> {
  if (STORE_MODE === 'inprocess') {
    const store = await startLocalStore({ dataDir: DATA_DIR });
    return {
      ...store,
      describe: `dynalite ${DATA_DIR ? `on disk (${DATA_DIR})` : 'in memory'}, same process`,
      cpuMs: async () => undefined,
      peakRssMb: 0,
      close: () => store.close(),
    };
  }
  const helper = fileURLToPath(new URL('../local-store-server.ts', import.meta.url));
  // process.execArgv carries tsx's loader flags, so the child runs TypeScript too.
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, helper], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_STORE_DIR: DATA_DIR ?? '' },
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
  const store: Store = {
    ...endpoints,
    describe: `dynalite ${DATA_DIR ? `on disk (${DATA_DIR})` : 'in memory'} in a child process`,
    peakRssMb: 0,
    async cpuMs() {
      const answer = once(lines, 'line');
      child.stdin?.write('cpu\n');
      const [line] = (await answer) as [string];
      const reply = JSON.parse(line) as { cpuMs: number; rssMb: number };
      store.peakRssMb = Math.max(store.peakRssMb, reply.rssMb);
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
  return store;
}

// ---------------------------------------------------------------- loading

/** Points this process's SDK clients and configuration at `store`, as the functions see it locally. */
export function connectTo(store: Store): void {
  process.env.DYNAMODB_ENDPOINT = store.dynamodbEndpoint;
  process.env.S3_ENDPOINT = store.s3Endpoint;
  process.env.AWS_REGION = 'us-east-1';
  process.env.LOG_LEVEL = 'SILENT';
  resetConfig();
  resetClients();
}

export interface LoadResult {
  events: number;
  seconds: number;
  writeRequests: number;
  duplicates: number;
  /** Rollup items written (bulk loads only). */
  rollupItems?: number;
  /** How: `bulk` or `write`. */
  loader: string;
}

/** The SDK warns each time more than its 50 sockets are busy, which a bulk load always does: count, don't print. */
let socketWarnings = 0;
export const socketWarningCount = () => socketWarnings;
export function quietSocketWarnings(): () => void {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (String(args[0]).includes('socket usage at capacity')) socketWarnings++;
    else warn(...args);
  };
  return () => {
    console.warn = warn;
  };
}

/**
 * Loads `count` events of `labels` label sets in batches of BATCH, CONCURRENCY at a time, each
 * batch one writer: through BulkLoad (LOADER=bulk; the writer tokens numbered, so a reload
 * writes the same shards) or through recordEvents (LOADER=write, random tokens as in production).
 */
export async function load(config: Config, count: number, tag: string, label: string, labels = 30) {
  const limit = count;
  const events = generateEvents(count, SEED, tag, labels);
  const options = { tableName: config.tableName, ...RETENTION };
  const bulk = LOADER === 'bulk' ? new BulkLoad(options) : undefined;
  let batches = 0;
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
          if (bulk) {
            const written = await bulk.add(batch, `${tag}-${batches++}`);
            stored += written;
          } else {
            const result = await recordEvents(batch, options);
            writeRequests += result.writeRequests;
            stored += result.stored;
            duplicates += result.duplicates;
          }
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
  const rollupItems = bulk ? (await bulk.finish()).rollupItems : undefined;
  if (bulk) writeRequests = bulk.counts.writeRequests;
  if (stored + duplicates !== limit || taken !== limit)
    throw new Error(`loaded ${stored} of ${limit} events`);
  const result: LoadResult = {
    events: limit,
    seconds: (performance.now() - started) / 1000,
    writeRequests,
    duplicates,
    loader: LOADER,
  };
  if (rollupItems !== undefined) result.rollupItems = rollupItems;
  return result;
}

export async function createTable(store: Store, tableName: string): Promise<Config> {
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
