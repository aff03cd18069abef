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
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient, resetClients } from '../shared/aws.js';
import { resetConfig } from '../shared/config.js';
import { summarize } from '../shared/stats/aggregate.js';
import { byEndpoint } from '../shared/status/status.js';
import { quantile } from '../test/fixtures.js';
import { LABEL_SETS } from './status-query/data.js';
import { createTable, load, socketWarningCount, startStore } from './status-query/load.js';
import {
  cellsRead,
  statusCells,
  statusQuery,
  statusReadsOnly,
  type Timed,
  type TimeseriesAnswer,
  timer,
  timeseriesQuery,
} from './status-query/measure.js';
import { Check, type Figures, naiveStatus, naiveTimeseries, statusFigures } from './status-query/naive.js';
import {
  BATCH,
  CALIBRATION_EVENTS,
  CONCURRENCY,
  FULL,
  int,
  LOAD_BUDGET_S,
  log,
  MIN_FALLBACK,
  msf,
  NAIVE_RUNS,
  NOW,
  REQUESTED,
  RUNS,
  ratio,
  SEED,
  STATUS_P95_TARGET_MS,
  WARMUP,
} from './status-query/settings.js';

/** CALIBRATE_ONLY=1: stop after printing the load rate. */
class CalibrationDone extends Error {}
const store = await startStore();
const timed = timer(store);
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
      `${socketWarningCount()} SDK "socket usage at capacity" warnings hidden)`,
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
      for (const part of sr.parts) for (const aggregate of byEndpoint(part).values()) summarize(aggregate);
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
      (store.peakRssMb > 0 ? `, store process RSS up to ${int(store.peakRssMb)} MiB` : ''),
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
