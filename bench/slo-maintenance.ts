/**
 * What SLO_EXCLUDE_MAINTENANCE costs: the rollup items, read units and calls
 * of `/status?window=1440` and of one alert evaluation (a burn-rate rule on
 * every endpoint), with the setting off and on, over the same data.
 *
 * Data: ENDPOINTS endpoints, one probe each a minute for the 24 h before a
 * fixed `now`, 1% failures (seeded), compacted as the probe tick does. Windows:
 * a daily one of 30 minutes on every endpoint, and a one-off of 2 h on one
 * endpoint. Each figure is read cold (a fresh reader, the compact cache
 * cleared): what a new container pays, the upper bound.
 *
 * Run: npx tsx bench/slo-maintenance.ts      (ENDPOINTS=6 SEED=1)
 */
import { loadavg } from 'node:os';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { evaluateRules } from '../shared/alerts/evaluate.js';
import { ANY_ENDPOINT, ruleInputSchema } from '../shared/alerts/model.js';
import { resetClients } from '../shared/aws.js';
import { parseConfig } from '../shared/config.js';
import type { TraceEvent } from '../shared/events/model.js';
import { computeStatus } from '../shared/status/status.js';
import { saveMaintenance, saveRule, seedRulesOnce } from '../shared/store/alerts.js';
import { clearCompactCache, compactClosedPeriods } from '../shared/store/compaction.js';
import { recordEvents } from '../shared/store/events.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../shared/store/keys.js';
import { seededRandom } from '../test/fixtures.js';

const ENDPOINT_COUNT = Number(process.env.ENDPOINTS ?? 6);
const SEED = Number(process.env.SEED ?? 1);
const NOW = Date.UTC(2026, 10, 30, 9, 30, 20);
const ENDPOINTS = Array.from({ length: ENDPOINT_COUNT }, (_, i) => `endpoint-${i}`);
const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };
const TABLE = 'bench-slo-maintenance';

const store = await startLocalStore({ dataDir: undefined });
process.env.DYNAMODB_ENDPOINT = store.dynamodbEndpoint;
process.env.S3_ENDPOINT = store.s3Endpoint;
process.env.LOG_LEVEL = 'SILENT';
resetClients();
await ensureSchema({
  dynamodbEndpoint: store.dynamodbEndpoint,
  s3Endpoint: store.s3Endpoint,
  tableName: TABLE,
  buckets: ['bench-slo-maintenance'],
});

const random = seededRandom(SEED);
const events: TraceEvent[] = [];
for (let minute = NOW - DAY_MS - (NOW % MINUTE_MS); minute < NOW - MINUTE_MS; minute += MINUTE_MS) {
  for (const endpoint of ENDPOINTS) {
    const fail = random() < 0.01;
    events.push({
      id: `e-${endpoint}-${minute}`,
      ts: minute + 5000,
      source: 'probe',
      endpoint,
      model: 'gpt-4o-mini',
      region: 'us-west-1',
      upstream: 'simulated',
      ok: !fail,
      status: fail ? 503 : 200,
      latencyMs: 100 + Math.floor(random() * 400),
      ...(fail ? { errorType: 'server_error' as const } : {}),
    });
  }
}
for (let i = 0; i < events.length; i += 500)
  await recordEvents(events.slice(i, i + 500), { tableName: TABLE, ...RETENTION, now: NOW });
for (let run = 0; run < 100; run++) {
  const result = await compactClosedPeriods({
    tableName: TABLE,
    ...RETENTION,
    now: NOW,
    lookbackMs: 2 * DAY_MS,
    sources: ['probe'],
  });
  if (Object.values(result.minutes).every((n) => n === 0) && result.rebuilt === 0) break;
}
await seedRulesOnce(TABLE, []);
await saveRule(TABLE, {
  ...ruleInputSchema.parse({ name: 'SLO burn', endpoint: ANY_ENDPOINT, condition: { kind: 'burn_rate' } }),
  id: 'burn',
  updatedAt: NOW,
});
await saveMaintenance(TABLE, {
  id: 'daily',
  title: 'Nightly deploy',
  start: NOW - 3 * DAY_MS,
  recurrence: { every: 'day', at: '02:00', durationMinutes: 30 },
  updatedAt: NOW,
});
await saveMaintenance(TABLE, {
  id: 'migration',
  title: 'Migration',
  endpoints: ['endpoint-0'],
  start: NOW - 4 * HOUR_MS,
  end: NOW - 2 * HOUR_MS,
  updatedAt: NOW,
});

const config = (exclude: boolean) =>
  parseConfig({ ...process.env, TABLE_NAME: TABLE, SLO_EXCLUDE_MAINTENANCE: exclude ? '1' : '0' });

console.log(
  `${events.length} events, ${ENDPOINT_COUNT} endpoints, 24 h; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const exclude of [false, true]) {
  clearCompactCache();
  const started = performance.now();
  const status = await computeStatus({
    config: config(exclude),
    range: { from: NOW - DAY_MS, to: NOW, windowMinutes: 1440 },
    filters: { sources: ['probe'], filter: {}, echo: { source: 'probe' } },
    now: NOW,
  });
  const statusMs = performance.now() - started;
  clearCompactCache();
  const evalStarted = performance.now();
  const evaluation = await evaluateRules({
    config: config(exclude),
    now: NOW,
    deliverOptions: { send: async () => ({ status: 200 }), sleep: async () => {} },
  });
  const evalMs = performance.now() - evalStarted;
  const m = status.meta;
  const r = evaluation.reads;
  console.log(
    `SLO_EXCLUDE_MAINTENANCE=${exclude ? 1 : 0}: /status?window=1440 itemsRead ${m.itemsRead} (compact ${m.compactItemsRead}), readUnits ${m.readUnits}, queries ${m.queries}, batchGets ${m.batchGets}, ${statusMs.toFixed(0)} ms; ` +
      `overall SLI ${status.overall.slo.sli?.toFixed(5)}, left out ${status.overall.slo.maintenanceExcluded} | ` +
      `evaluation itemsRead ${r.itemsRead}, readUnits ${r.readUnits}, queries ${r.queries}, batchGets ${r.batchGets}, ${evalMs.toFixed(0)} ms`,
  );
}
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
await store.close();
