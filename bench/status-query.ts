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
 * 3. Compacts the closed periods of the last 7 days as the probe tick does
 *    (compactClosedPeriods, run after run until it has caught up).
 * 4. Times computeStatus / computeTimeseries over 1440 and 10080 minutes
 *    (RUNS after WARMUP) three ways: `before`, live rollups only (the code
 *    before compaction); `cold`, through compact items with nothing cached;
 *    `warm`, with the container's cache of closed periods; and a naive exact
 *    computation (Query over the raw `EV#<hour>` partitions, exact percentiles
 *    by sorting) NAIVE_RUNS times. Checks that totals/ok match exactly and
 *    percentiles are within 1%, and that compacted answers equal live ones.
 *
 * Run (the store process held 1.7 GiB RSS with 400,000 events, so a million
 * needs more than Node's default heap; NODE_OPTIONS reaches the child too):
 *   NODE_OPTIONS=--max-old-space-size=8192 npx tsx bench/status-query.ts
 *   EVENTS=200000 npx tsx bench/status-query.ts      (or the count as first argument)
 * Without EVENTS, a short calibration load decides: 1,000,000 events if that
 * loads within LOAD_BUDGET_S (300 s), else the largest multiple of 100,000
 * that does (at least 200,000). Other knobs: RUNS=30 WARMUP=5 NAIVE_RUNS=3
 * BATCH=500 CONCURRENCY=8 STORE=process|inprocess SEED=1 LABELS=30|300 (300: 20 regions
 * instead of 2); CALIBRATE_ONLY=1 stops after the calibration.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient, resetClients } from '../shared/aws.js';
import { resetConfig } from '../shared/config.js';
import { compactClosedPeriods } from '../shared/store/compaction.js';
import { DAY_MS } from '../shared/store/keys.js';
import { quantile } from '../test/fixtures.js';
import { LABEL_SETS } from './status-query/data.js';
import { createTable, load, socketWarningCount, startStore } from './status-query/load.js';
import {
  type ReadMode,
  statusQuery,
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
  RETENTION,
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

  // Compaction, as the probe tick runs it: run after run until it has caught up with the 7 days before NOW.
  const compactStarted = performance.now();
  const compaction = { runs: 0, written: 0, liveItemsRead: 0, minutes: 0 };
  const compactAll = async (tableName: string) => {
    for (;;) {
      const result = await compactClosedPeriods({
        tableName,
        ...RETENTION,
        now: NOW,
        sources: ['probe'],
        lookbackMs: 7 * DAY_MS,
      });
      compaction.runs++;
      compaction.written += result.written;
      compaction.liveItemsRead += result.liveItemsRead;
      compaction.minutes += result.minutes.probe ?? 0;
      if ((result.minutes.probe ?? 0) === 0 && result.rebuilt === 0) return;
    }
  };
  await compactAll(main.tableName);
  const compactSeconds = (performance.now() - compactStarted) / 1000;
  await compactAll(small.tableName);

  // Rollup queries: every query, every way of reading it.
  log(`\ntiming rollup queries (${WARMUP} warm-up + ${RUNS} runs each)...`);
  type StatusAnswer = Awaited<ReturnType<ReturnType<typeof statusQuery>>>;
  const modes: ReadMode[] = ['before', 'cold', 'warm'];
  const statusRuns = new Map<string, Timed<StatusAnswer>>();
  const seriesRuns = new Map<string, Timed<TimeseriesAnswer>>();
  for (const minutes of [1440, 10080]) {
    for (const mode of modes) {
      statusRuns.set(`${minutes} ${mode}`, await timed(statusQuery(main, minutes, mode), RUNS, WARMUP));
      seriesRuns.set(`${minutes} ${mode}`, await timed(timeseriesQuery(main, minutes, mode), RUNS, WARMUP));
    }
  }
  const statusSmall = await timed(statusQuery(small, 1440, 'cold'), 3, 1);
  const seriesSmall = await timed(timeseriesQuery(small, 1440, 'cold'), 3, 1);

  // Naive exact computation over the raw events.
  log(`timing the naive computation (${NAIVE_RUNS} runs each, no warm-up)...`);
  const naiveS = await timed(() => naiveStatus(main), NAIVE_RUNS, 0);
  const ts = (seriesRuns.get('1440 cold') as Timed<TimeseriesAnswer>).last;
  const naiveT = await timed(() => naiveTimeseries(main, ts.from, ts.to, ts.bucketMs), NAIVE_RUNS, 0);

  // Correctness: compacted figures against the exact ones, and against the live rollups.
  const check = new Check();
  const st = (statusRuns.get('1440 cold') as Timed<StatusAnswer>).last;
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
  // Compacted answers against live ones: the same document but for what reading cost.
  // `last` left out: a live hour rollup keeps the result of the writer that wrote last, not of
  // the latest event, when batches land out of order; compacted minutes are nearer the truth.
  const withoutMeta = (answer: { meta: unknown }) =>
    JSON.stringify({ ...answer, meta: null }, (key, value) => (key === 'last' ? undefined : value));
  const sameAsLive: string[] = [];
  for (const minutes of [1440, 10080]) {
    for (const [name, runs] of [
      ['/status', statusRuns],
      ['/timeseries', seriesRuns],
    ] as const) {
      const live = withoutMeta((runs.get(`${minutes} before`) as Timed<{ meta: unknown }>).last);
      for (const mode of ['cold', 'warm'] as const) {
        const compacted = withoutMeta((runs.get(`${minutes} ${mode}`) as Timed<{ meta: unknown }>).last);
        if (compacted !== live) {
          // Where they part: the first differing character, with some context.
          let at = 0;
          while (at < live.length && live[at] === compacted[at]) at++;
          sameAsLive.push(
            `${name}?window=${minutes} ${mode} (…${live.slice(Math.max(0, at - 60), at + 30)}… vs …${compacted.slice(Math.max(0, at - 60), at + 30)}…)`,
          );
        }
      }
    }
  }

  // ------------------------------------------------------------ report
  const p50 = (t: Timed<unknown>) => quantile(t.samples, 0.5);
  const p95 = (t: Timed<unknown>) => quantile(t.samples, 0.95);
  log('\n=== results ===');
  log(
    `events loaded: ${int(count)} (${store.describe}; ${countNote}) in ${mainLoad.seconds.toFixed(0)} s ` +
      `(${int(rate)} ev/s), over 24 h, ${LABEL_SETS} label sets, ${int(ns.overall.total)} in the 1440-min window, ` +
      `${((1 - ns.overall.ok / ns.overall.total) * 100).toFixed(2)}% failed`,
  );
  const rollupWrites = mainLoad.writeRequests - count;
  log(
    `write requests: ${int(mainLoad.writeRequests)} = 1.00 put + ${(rollupWrites / count).toFixed(3)} rollup updates ` +
      `and late marks per event (${(mainLoad.writeRequests / count).toFixed(3)}/event; batches of ${BATCH}; ` +
      `${socketWarningCount()} SDK "socket usage at capacity" warnings hidden)`,
  );
  log(
    `compaction of the 7 days before now: ${compaction.runs} runs, ${int(compaction.minutes)} minutes, ` +
      `${int(compaction.written)} compact items written, ${int(compaction.liveItemsRead)} live rollups read, ` +
      `${compactSeconds.toFixed(1)} s`,
  );
  log('');
  const row = (cells: string[]) =>
    log(
      cells
        .map((c, i) =>
          i === 0 ? c.padEnd(26) : i === 1 ? c.padEnd(7) : c.padStart([0, 0, 8, 9, 8, 10, 8, 9, 9][i] ?? 9),
        )
        .join(''),
    );
  row(['query', 'read', 'items', 'compact', 'calls', 'KB read', 'RRU', 'p50 ms', 'p95 ms']);
  const report = (name: string, t: Timed<{ meta: Record<string, number> }>, mode: string) => {
    const m = t.last.meta;
    row([
      name,
      mode,
      int(m.itemsRead ?? 0),
      int(m.compactItemsRead ?? 0),
      int((m.queries ?? 0) + (m.batchGets ?? 0)),
      ((m.bytesRead ?? 0) / 1024).toFixed(1),
      (m.readUnits ?? 0).toFixed(1),
      msf(p50(t)),
      msf(p95(t)),
    ]);
  };
  for (const minutes of [1440, 10080]) {
    for (const mode of modes)
      report(`/status?window=${minutes}`, statusRuns.get(`${minutes} ${mode}`) as never, mode);
    for (const mode of modes)
      report(`/timeseries?window=${minutes}`, seriesRuns.get(`${minutes} ${mode}`) as never, mode);
  }
  row([
    'naive /status (raw events)',
    'raw',
    int(ns.itemsRead),
    '-',
    int(ns.queries),
    '-',
    '-',
    msf(p50(naiveS)),
    msf(p95(naiveS)),
  ]);
  row([
    'naive /timeseries',
    'raw',
    int(naiveT.last.itemsRead),
    '-',
    int(naiveT.last.queries),
    '-',
    '-',
    msf(p50(naiveT)),
    msf(p95(naiveT)),
  ]);
  log(
    '(items: items read from the table; compact: of them, compact items and late-versions items; calls: Query + BatchGetItem;',
  );
  log(
    ' KB read: item sizes as DynamoDB counts them; RRU: read request units DynamoDB reported, eventually consistent)',
  );
  log('');
  const before = statusRuns.get('1440 before') as Timed<StatusAnswer>;
  const cold = statusRuns.get('1440 cold') as Timed<StatusAnswer>;
  log(
    `/status?window=1440 before → after (cold): items ${ratio(before.last.meta.itemsRead, cold.last.meta.itemsRead)} fewer, ` +
      `KB ${ratio(before.last.meta.bytesRead, cold.last.meta.bytesRead)} fewer, p95 ${ratio(p95(before), p95(cold))} faster; ` +
      `naive/after p95 ${ratio(p95(naiveS), p95(cold))}`,
  );
  const cpu = (t: Timed<unknown>) =>
    `bench process ${msf(t.clientCpuMs)} ms` +
    (t.storeCpuMs === undefined ? '' : `, dynalite ${msf(t.storeCpuMs)} ms`);
  log(`CPU per /status?window=1440 call: before ${cpu(before)}; after (cold) ${cpu(cold)}`);
  log(
    `items read with 10x fewer events (${int(smallCount)}), cold: /status ${int(statusSmall.last.meta.itemsRead)} ` +
      `(vs ${int(cold.last.meta.itemsRead)}), /timeseries ${int(seriesSmall.last.meta.itemsRead)} ` +
      `(vs ${int((seriesRuns.get('1440 cold') as Timed<TimeseriesAnswer>).last.meta.itemsRead)})`,
  );
  log(
    `correctness: ${check.countsCompared} totals/ok compared against the raw events (per endpoint, overall, per hour bucket): ` +
      `${check.countMismatches.length === 0 ? 'all equal' : `${check.countMismatches.length} MISMATCHES`}; ` +
      `burn rates 1 h/6 h equal to exact: ${burnOk ? 'yes' : 'NO'}`,
  );
  for (const line of check.countMismatches.slice(0, 10)) log(`  mismatch ${line}`);
  log(
    `max relative percentile error vs exact: ${(check.maxRelError * 100).toFixed(3)} % ` +
      `(/status ${(statusPercentileError * 100).toFixed(3)} %; ${check.percentilesCompared} percentiles; worst: ${check.worst})`,
  );
  log(
    `compacted answers equal the live-rollup answers (every figure, 1440 and 10080, cold and warm): ` +
      `${sameAsLive.length === 0 ? 'yes' : `NO: ${sameAsLive.join(', ')}`}`,
  );
  await store.cpuMs(); // refresh the RSS figure
  const heap = process.memoryUsage();
  log(
    `memory: bench process RSS ${int(heap.rss / 2 ** 20)} MiB` +
      (store.peakRssMb > 0 ? `, store process RSS up to ${int(store.peakRssMb)} MiB` : ''),
  );
  const targets = [
    [`/status?window=1440 items ≤ 150`, cold.last.meta.itemsRead <= 150, int(cold.last.meta.itemsRead)],
    [
      `/status?window=1440 ≤ 200 KB read`,
      cold.last.meta.bytesRead <= 200 * 1024,
      `${(cold.last.meta.bytesRead / 1024).toFixed(1)} KB`,
    ],
    [
      `/status?window=1440 p95 ≤ ${STATUS_P95_TARGET_MS} ms`,
      p95(cold) <= STATUS_P95_TARGET_MS,
      `${msf(p95(cold))} ms`,
    ],
    ...(['/status', '/timeseries'] as const).map((name) => {
      const runs = (name === '/status' ? statusRuns : seriesRuns) as Map<
        string,
        Timed<{ meta: Record<string, number> }>
      >;
      const items =
        (runs.get('10080 cold') as Timed<{ meta: Record<string, number> }>).last.meta.itemsRead ?? 0;
      return [`${name}?window=10080 items ≤ 250`, items <= 250, int(items)] as const;
    }),
    [`/timeseries?window=1440 items ≤ 150`, ts.meta.itemsRead <= 150, int(ts.meta.itemsRead)],
  ] as const;
  for (const [name, met, figure] of targets)
    log(`target ${name} (cold): ${met ? 'met' : 'MISSED'} (${figure})`);
  if (check.countMismatches.length > 0 || check.maxRelError > 0.01 || !burnOk || sameAsLive.length > 0)
    exitCode = 1;
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
