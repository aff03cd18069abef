/**
 * The minutes not compacted yet under high traffic: what `/status?window=1440`
 * reads when every label set was called in each of the last minutes, by
 * several requests (so several rollup shards) per minute.
 *
 * Loads LABELS label sets (10 endpoints × 3 models × LABELS/30 regions) ×
 * the last TAIL_MINUTES minutes × REQUESTS writers per minute into an
 * in-memory dynalite, compacts what is closed, then reads
 * `/status?window=1440` cold (nothing cached) and prints the items,
 * Query/BatchGet calls and KB read, and the figures' totals; then the same
 * read costs of `/timeseries?window=1440` and of both at 10080 (the earlier
 * days hold nothing here: only what the tail adds to them is measured).
 *
 * LOADER=bulk (the default) writes through BulkLoad (shared/store/bulk-load.ts)
 * with writer tokens chosen so that the writers of a minute cover the rollup
 * shards in turn (REQUESTS=8: every shard written in every minute, the
 * high-traffic case); LOADER=write goes through recordEvents, whose random
 * tokens spread writers over the shards by chance.
 *
 *   npx tsx bench/status-tail.ts            (LABELS=300 TAIL_MINUTES=4 REQUESTS=8)
 */
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { resetClients } from '../shared/aws.js';
import { parseConfig, resetConfig } from '../shared/config.js';
import type { TraceEvent } from '../shared/events/model.js';
import { resolveFilters, resolveRange } from '../shared/status/params.js';
import { computeStatus } from '../shared/status/status.js';
import { computeTimeseries } from '../shared/status/timeseries.js';
import { BulkLoad } from '../shared/store/bulk-load.js';
import { clearCompactCache, compactClosedPeriods } from '../shared/store/compaction.js';
import { recordEvents } from '../shared/store/events.js';
import { DAY_MS, MINUTE_MS, ROLLUP_SHARDS, rollupShard } from '../shared/store/keys.js';

const LABELS = Number(process.env.LABELS ?? 300);
const TAIL_MINUTES = Number(process.env.TAIL_MINUTES ?? 4);
const REQUESTS = Number(process.env.REQUESTS ?? 8);
const LOADER = process.env.LOADER === 'write' ? 'write' : 'bulk';
const NOW = Date.UTC(2026, 10, 27, 12, 34, 56, 789);
const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };
const endpoints = Array.from({ length: 10 }, (_, i) => `endpoint-${i}`);
const models = ['m-a', 'm-b', 'm-c'];
const regions = Array.from({ length: Math.max(1, Math.round(LABELS / 30)) }, (_, i) => `region-${i}`);

const store = await startLocalStore({ dataDir: undefined });
const tableName = 'bench-status-tail';
await ensureSchema({ ...store, tableName, buckets: [] });
Object.assign(process.env, {
  DYNAMODB_ENDPOINT: store.dynamodbEndpoint,
  S3_ENDPOINT: store.s3Endpoint,
  AWS_REGION: 'us-east-1',
  LOG_LEVEL: 'SILENT',
});
resetConfig();
resetClients();

/** A writer token whose rollup shard is `shard`. */
function tokenOnShard(name: string, shard: number): string {
  for (let k = 0; ; k++) if (rollupShard(`${name}-${k}`) === shard) return `${name}-${k}`;
}

// One event per label set, minute and request; each request is one writer.
const started = performance.now();
const bulk = LOADER === 'bulk' ? new BulkLoad({ tableName, ...RETENTION, now: NOW }) : undefined;
const shardsWritten = new Set<number>();
let n = 0;
for (let m = TAIL_MINUTES; m >= 0; m--) {
  const minute = Math.floor(NOW / MINUTE_MS) * MINUTE_MS - m * MINUTE_MS;
  for (let r = 0; r < REQUESTS; r++) {
    const batch: TraceEvent[] = [];
    for (const endpoint of endpoints)
      for (const model of models)
        for (const region of regions) {
          const ts = Math.min(NOW - 1, minute + ((n * 7919) % MINUTE_MS));
          batch.push({
            id: `t${n++}`,
            ts,
            source: 'probe',
            endpoint,
            model,
            region,
            ok: n % 50 !== 0,
            latencyMs: 100 + (n % 900),
          } as TraceEvent);
        }
    if (bulk) {
      const token = tokenOnShard(`tail-${m}-${r}`, r % ROLLUP_SHARDS);
      shardsWritten.add(rollupShard(token));
      await bulk.add(batch, token);
    } else await recordEvents(batch, { tableName, ...RETENTION, now: NOW });
  }
}
await bulk?.finish();
const loadSeconds = (performance.now() - started) / 1000;
for (;;) {
  const result = await compactClosedPeriods({
    tableName,
    ...RETENTION,
    now: NOW,
    sources: ['probe'],
    lookbackMs: DAY_MS,
  });
  if ((result.minutes.probe ?? 0) === 0 && result.rebuilt === 0) break;
}
const config = parseConfig({ TABLE_NAME: tableName });
const request = (liveOnly: boolean, window = 1440) => ({
  config,
  range: resolveRange({ window: String(window) }, config, NOW, 60),
  filters: resolveFilters({}, 'probe'),
  now: NOW,
  liveOnly,
});
clearCompactCache();
const answer = await computeStatus(request(false));
const live = await computeStatus(request(true));
const m = answer.meta as unknown as Record<string, number>;
/** The other views of issue 12's targets, each cold. */
const others: [string, () => Promise<{ meta: unknown }>][] = [
  ['/timeseries?window=1440', () => computeTimeseries(request(false))],
  ['/status?window=10080', () => computeStatus(request(false, 10080))],
  ['/timeseries?window=10080', () => computeTimeseries(request(false, 10080))],
];
const otherLines: string[] = [];
for (const [name, run] of others) {
  clearCompactCache();
  const meta = (await run()).meta as Record<string, number>;
  otherLines.push(
    `${name} cold: ${meta.itemsRead} items (${meta.compactItemsRead} compact), ` +
      `${meta.queries} Queries + ${meta.batchGets} BatchGets, ${((meta.bytesRead ?? 0) / 1024).toFixed(1)} KB, ${meta.readUnits} RRU`,
  );
}
console.log(
  `${endpoints.length * models.length * regions.length} label sets, ${TAIL_MINUTES + 1} minutes up to now × ${REQUESTS} requests each: ` +
    `${n.toLocaleString()} events loaded (${LOADER}${bulk ? `, shards ${[...shardsWritten].sort().join(',')} in every minute` : ''}) in ${loadSeconds.toFixed(1)} s`,
);
console.log(
  `/status?window=1440 cold: ${m.itemsRead} items (${m.compactItemsRead} compact), ` +
    `${m.queries} Queries + ${m.batchGets} BatchGets, ${((m.bytesRead ?? 0) / 1024).toFixed(1)} KB, ${m.readUnits} RRU`,
);
for (const line of otherLines) console.log(line);
console.log(
  `totals: ${answer.overall.total} (live rollups only: ${live.overall.total}; events: ${n}); ` +
    `ok ${answer.overall.ok} (live ${live.overall.ok})`,
);
resetClients();
await store.close();
