/**
 * Exactness under store failures: BATCHES requests of BATCH traces through
 * the `POST /ingest/trace` handler on the local store (in-memory dynalite),
 * each first sent with a store fault injected at a random write (a lost
 * request, a lost answer, or a crash of the process), then retried the way a
 * client does until it is accepted. Some batches repeat items of earlier
 * ones. At the end it reads the whole table and prints the stored events,
 * the rollup totals and their difference, which must be 0.
 *
 *   npx tsx bench/fault-ingest.ts        (BATCHES=50 BATCH=20 SEED=7 to vary)
 */
import { installAwsLambdaGlobal } from '../infra/local/lambda.js';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { resetClients } from '../shared/aws.js';
import { ManualClock, useClock } from '../shared/clock.js';
import { resetConfig } from '../shared/config.js';
import type { FaultMode } from '../test/faults.js';
import { seededRandom } from '../test/fixtures.js';
import { invokeHttp } from '../test/helpers.js';

const BATCHES = Number(process.env.BATCHES ?? 200);
const BATCH = Number(process.env.BATCH ?? 50);
const SEED = Number(process.env.SEED ?? 1);
const KEY = 'bench-fault-ingest-key';
const TABLE = 'bench-fault-ingest';

const random = seededRandom(SEED);
const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;

const store = await startLocalStore({ dataDir: undefined });
await ensureSchema({ ...store, tableName: TABLE, buckets: [TABLE] });
Object.assign(process.env, {
  DYNAMODB_ENDPOINT: store.dynamodbEndpoint,
  S3_ENDPOINT: store.s3Endpoint,
  AWS_REGION: 'us-east-1',
  TABLE_NAME: TABLE,
  ARTIFACTS_BUCKET: TABLE,
  INGEST_API_KEY: KEY,
  LOG_LEVEL: 'SILENT',
});
resetConfig();
resetClients();
installAwsLambdaGlobal();
const clock = new ManualClock(Date.UTC(2026, 10, 30, 12, 0, 0));
useClock(clock);
// Imported once the environment is set: the logger reads LOG_LEVEL when it loads.
const { handler } = await import('../functions/ingest/handler.js');
const { WRITE_LEASE_MS } = await import('../shared/store/item-layout.js');
const { checkConsistency, injectStoreFaults } = await import('../test/faults.js');

const endpoints = ['chat', 'responses', 'embeddings', 'moderations'];
const models = ['gpt-4o-mini', 'gpt-4.1-mini'];
let nextId = 0;
/** A batch of new traces over the last 20 minutes, a fifth of them repeating earlier ones. */
function batch(): string {
  return JSON.stringify(
    Array.from({ length: BATCH }, () => {
      const i = nextId > BATCH && random() < 0.2 ? Math.floor(random() * nextId) : nextId++;
      const ok = i % 9 !== 0;
      return {
        id: `f${i}`,
        // From the id alone, so a repeated item is the same event.
        ts: Date.UTC(2026, 10, 30, 11, 40) + (i % 1200) * 1000,
        endpoint: endpoints[i % endpoints.length],
        model: models[i % models.length],
        ok,
        ...(ok ? {} : { status: 500 }),
        latencyMs: 50 + (i % 700),
      };
    }),
  );
}

async function send(body: string): Promise<number> {
  const headers = { 'content-type': 'application/json', 'x-api-key': KEY };
  return (await invokeHttp(handler, { method: 'POST', path: '/ingest/trace', headers, body })).statusCode;
}

const modes: FaultMode[] = ['lost-request', 'lost-answer', 'crash'];
const injected = new Map<string, number>();
const answers = new Map<number, number>();
let attempts = 0;
const faults = injectStoreFaults();
const started = performance.now();
for (let b = 0; b < BATCHES; b++) {
  const body = batch();
  const mode = pick(modes);
  // A clean request of BATCH new traces makes about 2 × BATCH writes: aim anywhere in it.
  faults.failAt(1 + Math.floor(random() * 2 * BATCH), mode);
  for (let attempt = 0; ; attempt++) {
    attempts++;
    const status = await send(body);
    answers.set(status, (answers.get(status) ?? 0) + 1);
    if (faults.fired) {
      injected.set(mode, (injected.get(mode) ?? 0) + 1);
      faults.heal();
    }
    faults.failAt(Number.POSITIVE_INFINITY, mode); // no further fault for this batch
    if (status === 200) break;
    if (attempt > 5) throw new Error(`batch ${b} never accepted (last answer ${status})`);
    // A client waits and retries; a dead writer's claim frees up after the lease.
    clock.advance(WRITE_LEASE_MS + 1000);
  }
}
const seconds = (performance.now() - started) / 1000;
faults.remove();

const state = await checkConsistency(TABLE);
console.log(
  `batches: ${BATCHES} of ${BATCH} traces (${nextId.toLocaleString()} distinct ids), seed ${SEED}, in-memory dynalite, ${seconds.toFixed(1)} s`,
);
console.log(
  `faults injected: ${[...injected].map(([m, n]) => `${m} ${n}`).join(', ')} (a fault aimed past a request's last write does not fire)`,
);
console.log(
  `requests: ${attempts} (answers ${[...answers]
    .sort()
    .map(([s, n]) => `${s}×${n}`)
    .join(', ')})`,
);
console.log(`stored events (visible):        ${state.visible.toLocaleString()}`);
console.log(`pending events:                 ${state.pending}`);
console.log(`minute rollup total:            ${state.minuteTotal.toLocaleString()}`);
console.log(`hour rollup total:              ${state.hourTotal.toLocaleString()}`);
console.log(
  `difference (minute, hour):      ${state.minuteTotal - state.visible}, ${state.hourTotal - state.visible}`,
);
console.log(`rollup keys that disagree:      ${state.mismatches.length}`);
console.log(`writer markers left behind:     ${state.markers} (by writers that died before cleaning up)`);
console.log(`fences kept:                    ${state.fences} (against writers that were taken over)`);
resetClients();
await store.close();
if (state.mismatches.length || state.visible !== nextId || state.pending) process.exit(1);
