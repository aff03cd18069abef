/**
 * One evaluation of 50 alert rules over 30 endpoints (shared/alerts/evaluate.ts):
 * its time, and the DynamoDB items and read units it costs, at two traffic
 * levels, to show that the cost follows the rules' windows, not the traffic.
 *
 * 1. Generates probe events (seeded PRNG) over the 7 hours before a fixed
 *    `now`: 30 endpoints, LEVELS calls per endpoint and minute (1 and 10),
 *    lognormal latencies, 1% failures, and a 20-minute outage of one endpoint
 *    ending now (so some rules fire).
 * 2. Loads them through the write path (recordEvents) into an in-memory
 *    dynalite, one table per traffic level, and compacts the closed periods
 *    as the probe tick does.
 * 3. Stores 50 rules: 20 consecutive-failure rules, 15 burn-rate rules (fast
 *    1 h/5 min at 14.4×, slow 6 h/30 min at 6×) and 15 latency rules, each on
 *    one endpoint, three of them on every endpoint (`*`); no channels.
 * 4. Evaluates once cold (nothing of the compact cache warm), then times
 *    RUNS evaluations with tinybench at the same `now` (a warm function's
 *    minute after minute), printing items read, read units, Query and
 *    BatchGetItem calls per evaluation, and the mean and p95 time.
 *
 * Run: npx tsx bench/alerts.ts      (RUNS=30 SEED=1 CONCURRENCY=8 LEVELS=1,10)
 */
import { Bench } from 'tinybench';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { evaluateRules } from '../shared/alerts/evaluate.js';
import { ANY_ENDPOINT, type Rule, ruleInputSchema } from '../shared/alerts/model.js';
import { resetClients } from '../shared/aws.js';
import { parseConfig, resetConfig } from '../shared/config.js';
import type { TraceEvent } from '../shared/events/model.js';
import { saveRule, seedRulesOnce } from '../shared/store/alerts.js';
import { clearCompactCache, compactClosedPeriods } from '../shared/store/compaction.js';
import { recordEvents } from '../shared/store/events.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../shared/store/keys.js';
import { lognormal, seededRandom } from '../test/fixtures.js';

const RUNS = Number(process.env.RUNS ?? 30);
const SEED = Number(process.env.SEED ?? 1);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
/** Calls per endpoint and minute of the two traffic levels compared. */
const LEVELS = (process.env.LEVELS ?? '1,10').split(',').map(Number);
const NOW = Date.UTC(2026, 10, 30, 9, 30, 20);
const ENDPOINTS = Array.from({ length: 30 }, (_, i) => `endpoint-${String(i).padStart(2, '0')}`);
const HOURS = 7;
const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };

const store = await startLocalStore({ dataDir: undefined });
process.env.DYNAMODB_ENDPOINT = store.dynamodbEndpoint;
process.env.S3_ENDPOINT = store.s3Endpoint;
process.env.LOG_LEVEL = 'SILENT';

function events(perMinute: number): TraceEvent[] {
  const random = seededRandom(SEED);
  const out: TraceEvent[] = [];
  const start = NOW - HOURS * HOUR_MS;
  for (let minute = start - (start % MINUTE_MS); minute <= NOW - MINUTE_MS; minute += MINUTE_MS) {
    for (const [e, endpoint] of ENDPOINTS.entries()) {
      for (let k = 0; k < perMinute; k++) {
        const outage = e === 0 && minute >= NOW - 20 * MINUTE_MS;
        const fail = outage || random() < 0.01;
        out.push({
          id: `${endpoint}-${minute}-${k}`,
          ts: minute + Math.floor(random() * 50_000),
          source: 'probe',
          endpoint,
          model: 'gpt-4o-mini',
          region: 'us-west-1',
          upstream: 'simulated',
          ok: !fail,
          status: fail ? 503 : 200,
          ...(fail ? { errorType: 'server_error' as const } : {}),
          latencyMs: lognormal(random, 300 + e * 20, 0.5),
        });
      }
    }
  }
  return out;
}

function rules(): Rule[] {
  const specs: Record<string, unknown>[] = [];
  for (let i = 0; i < 20; i++)
    specs.push({
      endpoint: i === 0 ? ANY_ENDPOINT : ENDPOINTS[i % 30],
      condition: { kind: 'consecutive_failures' },
    });
  for (let i = 0; i < 15; i++)
    specs.push({
      endpoint: i === 0 ? ANY_ENDPOINT : ENDPOINTS[(i + 5) % 30],
      condition: { kind: 'burn_rate' },
    });
  for (let i = 0; i < 15; i++)
    specs.push({
      endpoint: i === 0 ? ANY_ENDPOINT : ENDPOINTS[(i + 10) % 30],
      condition: { kind: 'latency', thresholdMs: 2000 },
      forMinutes: 5,
    });
  return specs.map((spec, i) => ({
    ...ruleInputSchema.parse({ name: `rule ${i}`, ...spec }),
    id: `rule-${String(i).padStart(2, '0')}`,
    updatedAt: NOW,
  }));
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

console.log(
  `alerts bench: ${rules().length} rules over ${ENDPOINTS.length} endpoints, ${HOURS} h of probe events, in-memory dynalite`,
);
for (const perMinute of LEVELS) {
  const tableName = `bench-alerts-${perMinute}`;
  await ensureSchema({ ...store, tableName, buckets: [] });
  process.env.TABLE_NAME = tableName;
  resetConfig();
  resetClients();
  const generated = events(perMinute);
  const loadStart = performance.now();
  // CONCURRENCY batches of 500 in flight, in time order (as bench/status-query.ts loads).
  const batches: TraceEvent[][] = [];
  for (let i = 0; i < generated.length; i += 500) batches.push(generated.slice(i, i + 500));
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batches.length) {
        const batch = batches[next++] as TraceEvent[];
        await recordEvents(batch, { tableName, ...RETENTION, now: NOW });
      }
    }),
  );
  const loadS = (performance.now() - loadStart) / 1000;
  let compacted = 0;
  for (let run = 0; run < 10; run++) {
    const result = await compactClosedPeriods({ tableName, ...RETENTION, now: NOW, lookbackMs: DAY_MS });
    compacted += result.written;
    if (result.written === 0) break;
  }
  await seedRulesOnce(tableName, []);
  for (const rule of rules()) await saveRule(tableName, rule);
  const config = parseConfig({ ...process.env, TABLE_NAME: tableName });
  const evaluate = () =>
    evaluateRules({
      config,
      now: NOW,
      deliverOptions: { send: async () => ({ status: 200 }), sleep: async () => undefined },
    });

  clearCompactCache();
  const cold = await evaluate();
  const warm = await evaluate();
  const bench = new Bench({ iterations: RUNS, warmupIterations: 3, time: 0 });
  bench.add('evaluate', async () => {
    await evaluate();
  });
  await bench.run();
  const task = bench.tasks[0];
  const latency = task?.result && 'latency' in task.result ? task.result.latency : undefined;
  console.log(
    `\n${perMinute} call(s) per endpoint and minute: ${generated.length} events loaded in ${round(loadS)} s, ${compacted} compact items`,
  );
  console.log(
    `  rule instances evaluated: ${cold.instances}; transitions on the first evaluation: ${cold.transitions.length}, on the next: ${warm.transitions.length}`,
  );
  for (const [name, r] of [
    ['cold (compact cache empty)', cold.reads],
    ['warm (next minute, same container)', warm.reads],
  ] as const) {
    console.log(
      `  ${name}: rollup items read ${r.itemsRead} (compact ${r.compactItemsRead}), read units ${round(r.readUnits)}, Query ${r.queries} + ${r.tableQueries} small-partition Query + ${r.tableGets} GetItem, BatchGetItem ${r.batchGets}`,
    );
  }
  if (latency) {
    console.log(
      `  evaluation time (warm, ${latency.samplesCount ?? RUNS} runs): mean ${round(latency.mean)} ms, p50 ${round(latency.p50 ?? Number.NaN)} ms, p99 ${round(latency.p99 ?? Number.NaN)} ms`,
    );
  }
}
await store.close();
