/**
 * `/status` and `/timeseries` over 1440 and 10080 minutes of probe events:
 * DynamoDB items and KB read and latency from the rollups, against a naive
 * exact computation over the raw events in the same run, at 30 and 300 label
 * sets.
 *
 * For each entry of LABELS (default 30,300), one dataset of EVENTS events and
 * one of EVENTS/10 (items read must not grow with traffic):
 * 1. Generates probe events deterministically (seeded PRNG) over the 24 h
 *    before a fixed `now`: 10 endpoints, 2 models each where the call names
 *    one, 2 regions (20 at 300 label sets), lognormal latencies, ~2%
 *    failures plus a half-hour incident, token usage and cost, timing phases.
 * 2. Loads them in batches of BATCH events in time order, CONCURRENCY batches
 *    at a time, each batch one writer (one rollup shard): LOADER=bulk (the
 *    default) writes the items the write path leaves (raw events, minute,
 *    hour and endpoint-minute rollups on the writer's shard) with
 *    BatchWriteItem through shared/store/bulk-load.ts, whose test checks it
 *    stores what recordEvents stores; LOADER=write goes through
 *    recordEvents (12–15 events/s on a loaded machine: small counts only).
 * 3. Compacts the closed periods of the last 7 days as the probe tick does
 *    (compactClosedPeriods, run after run until it has caught up).
 * 4. Times computeStatus / computeTimeseries (RUNS after WARMUP) three ways:
 *    `before`, live rollups only (the code before compaction); `cold`,
 *    through compact items with nothing cached; `warm`, with the container's
 *    cache of closed periods; and the naive exact computation (Query over
 *    the raw `EV#<hour>` partitions, exact percentiles by sorting)
 *    NAIVE_RUNS times. Checks totals/ok exactly and percentiles within 1%
 *    against the naive figures, and compacted answers against live ones.
 * Prints one table of every dataset, with `uptime` before and after.
 *
 * Run:
 *   npx tsx bench/status-query.ts                      (20,000 events; 30 and 300 label sets; a few minutes)
 *   DATA_DIR=/tmp/sq EVENTS=1000000 NAIVE_RUNS=1 \
 *     NODE_OPTIONS=--max-old-space-size=8192 npx tsx bench/status-query.ts
 * With DATA_DIR, dynalite keeps the tables on disk there (its `path` option)
 * with a note of each load; the same command again skips loading and
 * compaction and only times the queries (RELOAD=1 loads again). Other knobs:
 * LABELS=30 (one dataset) RUNS=30 WARMUP=5 NAIVE_RUNS=3 BEFORE_RUNS=RUNS BATCH=500
 * CONCURRENCY=8 STORE=process|inprocess SEED=1 LOADER=bulk|write.
 * REWRITE_TAIL=1 (with DATA_DIR, on tables loaded earlier) first rewrites the
 * endpoint minutes of the minutes not compacted yet to the current key layout
 * (bench/status-query/rewrite-tail.ts), for tables loaded before it changed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { dynamoClient, resetClients } from '../shared/aws.js';
import type { Config } from '../shared/config.js';
import { clearCompactCache, compactClosedPeriods } from '../shared/store/compaction.js';
import { DAY_MS } from '../shared/store/keys.js';
import { quantile } from '../test/fixtures.js';
import { labelSpace } from './status-query/data.js';
import {
  connectTo,
  createTable,
  type LoadResult,
  load,
  socketWarningCount,
  startStore,
} from './status-query/load.js';
import {
  type ReadMode,
  statusQuery,
  type Timed,
  type TimeseriesAnswer,
  timer,
  timeseriesQuery,
} from './status-query/measure.js';
import { Check, type Figures, naiveStatus, naiveTimeseries, statusFigures } from './status-query/naive.js';
import { rewriteTail } from './status-query/rewrite-tail.js';
import {
  BATCH,
  BEFORE_RUNS,
  CONCURRENCY,
  DATA_DIR,
  EVENTS,
  int,
  LABEL_SET_LIST,
  LOADER,
  log,
  msf,
  NAIVE_RUNS,
  NOW,
  RELOAD,
  RETENTION,
  REWRITE_TAIL,
  RUNS,
  ratio,
  SEED,
  STATUS_P95_TARGET_MS,
  WARMUP,
} from './status-query/settings.js';

const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return '(uptime not available)';
  }
};

const store = await startStore();
const timed = timer(store);
connectTo(store);

/** What loading and compacting a dataset took: measured now, or read from the note of an earlier run (DATA_DIR). */
interface Prepared {
  config: Config;
  load: LoadResult;
  compaction: { runs: number; written: number; liveItemsRead: number; minutes: number; seconds: number };
  /** The load was done by an earlier run, on this date. */
  reusedFrom?: string;
}

/** A dataset's table: loaded and compacted, or, under DATA_DIR, found loaded by an earlier run with the same settings. */
async function prepare(tableName: string, count: number, tag: string, labels: number): Promise<Prepared> {
  const note = DATA_DIR ? join(DATA_DIR, `${tableName}.json`) : undefined;
  if (note && existsSync(note) && !RELOAD) {
    const earlier = JSON.parse(readFileSync(note, 'utf8')) as Omit<Prepared, 'config'> & { at: string };
    const config = await createTable(store, tableName); // exists: only checked
    log(`${tableName}: loaded by the run of ${earlier.at} (${int(count)} events), not loaded again`);
    if (REWRITE_TAIL) {
      const rewrite = await rewriteTail(tableName, NOW);
      log(
        `${tableName}: endpoint minutes not compacted yet rewritten to the current layout: ` +
          `${rewrite.removed} items removed, ${rewrite.written} written (${int(rewrite.events)} events)`,
      );
    }
    return { ...earlier, config, reusedFrom: earlier.at };
  }
  // A table left by an interrupted load, or RELOAD=1: start empty.
  await dynamoClient()
    .send(new DeleteTableCommand({ TableName: tableName }))
    .catch((error: unknown) => {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    });
  const config = await createTable(store, tableName);
  const loaded = await load(config, count, tag, tableName, labels);
  log(
    `${tableName}: loaded ${int(count)} events (${loaded.loader}) in ${loaded.seconds.toFixed(1)} s ` +
      `(${int(count / loaded.seconds)} ev/s)`,
  );
  // Compaction, as the probe tick runs it, run after run until it has caught up with the 7 days before
  // NOW; 6 hours a run rather than the tick's 60 minutes, so catching up takes 28 runs, not 168 (the
  // items written are the same).
  const started = performance.now();
  const compaction = { runs: 0, written: 0, liveItemsRead: 0, minutes: 0, seconds: 0 };
  for (;;) {
    const result = await compactClosedPeriods({
      tableName,
      ...RETENTION,
      now: NOW,
      sources: ['probe'],
      lookbackMs: 7 * DAY_MS,
      maxMinutes: 6 * 60,
    });
    compaction.runs++;
    compaction.written += result.written;
    compaction.liveItemsRead += result.liveItemsRead;
    compaction.minutes += result.minutes.probe ?? 0;
    if ((result.minutes.probe ?? 0) === 0 && result.rebuilt === 0) break;
  }
  compaction.seconds = (performance.now() - started) / 1000;
  log(`${tableName}: compacted in ${compaction.seconds.toFixed(1)} s (${compaction.runs} runs)`);
  if (note) writeFileSync(note, JSON.stringify({ at: new Date().toISOString(), load: loaded, compaction }));
  return { config, load: loaded, compaction };
}

type StatusAnswer = Awaited<ReturnType<ReturnType<typeof statusQuery>>>;
type Metered = Timed<{ meta: Record<string, number> }>;
const p50 = (t: Timed<unknown>) => quantile(t.samples, 0.5);
const p95 = (t: Timed<unknown>) => quantile(t.samples, 0.95);
const modes: ReadMode[] = ['before', 'cold', 'warm'];

interface DatasetResult {
  labels: number;
  labelSets: number;
  main: Prepared;
  smallCount: number;
  statusRuns: Map<string, Metered>;
  seriesRuns: Map<string, Metered>;
  naiveS: Timed<Awaited<ReturnType<typeof naiveStatus>>>;
  naiveT: Timed<Awaited<ReturnType<typeof naiveTimeseries>>>;
  small: { status: number; series: number };
  check: Check;
  statusPercentileError: number;
  burnOk: boolean;
  sameAsLive: string[];
  cpu: string;
}

async function runDataset(labels: number): Promise<DatasetResult> {
  const { labelSets } = labelSpace(labels);
  const name = `sq-${labelSets}l-s${SEED}-${LOADER}`;
  const smallCount = Math.max(10, Math.round(EVENTS / 10));
  log(`\n--- ${labelSets} label sets: ${int(EVENTS)} events (and ${int(smallCount)} in a second table)`);
  const small = await prepare(`${name}-${smallCount}`, smallCount, 's', labels);
  const main = await prepare(`${name}-${EVENTS}`, EVENTS, 'm', labels);
  clearCompactCache();

  log(`timing rollup queries (${WARMUP} warm-up + ${RUNS} runs each)...`);
  const statusRuns = new Map<string, Metered>();
  const seriesRuns = new Map<string, Metered>();
  for (const minutes of [1440, 10080]) {
    for (const mode of modes) {
      const [runs, warmup] = mode === 'before' ? [BEFORE_RUNS, Math.min(WARMUP, 1)] : [RUNS, WARMUP];
      statusRuns.set(
        `${minutes} ${mode}`,
        (await timed(statusQuery(main.config, minutes, mode), runs, warmup)) as never,
      );
      seriesRuns.set(
        `${minutes} ${mode}`,
        (await timed(timeseriesQuery(main.config, minutes, mode), runs, warmup)) as never,
      );
    }
  }
  const statusSmall = await timed(statusQuery(small.config, 1440, 'cold'), 3, 1);
  const seriesSmall = await timed(timeseriesQuery(small.config, 1440, 'cold'), 3, 1);

  log(`timing the naive computation (${NAIVE_RUNS} runs each, no warm-up)...`);
  const naiveS = await timed(() => naiveStatus(main.config), NAIVE_RUNS, 0);
  const ts = (seriesRuns.get('1440 cold') as unknown as Timed<TimeseriesAnswer>).last;
  const naiveT = await timed(() => naiveTimeseries(main.config, ts.from, ts.to, ts.bucketMs), NAIVE_RUNS, 0);

  // Correctness: compacted figures against the exact ones, and against the live rollups.
  const check = new Check();
  const st = (statusRuns.get('1440 cold') as unknown as Timed<StatusAnswer>).last;
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
  // Compacted answers against live ones: the same document but for what reading cost.
  // `last` left out: a live hour rollup keeps the result of the writer that wrote last, not of
  // the latest event, when batches land out of order; compacted minutes are nearer the truth.
  const withoutMeta = (answer: { meta: unknown }) =>
    JSON.stringify({ ...answer, meta: null }, (key, value) => (key === 'last' ? undefined : value));
  const sameAsLive: string[] = [];
  for (const minutes of [1440, 10080]) {
    for (const [label, runs] of [
      ['/status', statusRuns],
      ['/timeseries', seriesRuns],
    ] as const) {
      const live = withoutMeta((runs.get(`${minutes} before`) as Metered).last);
      for (const mode of ['cold', 'warm'] as const) {
        const compacted = withoutMeta((runs.get(`${minutes} ${mode}`) as Metered).last);
        if (compacted !== live) {
          let at = 0;
          while (at < live.length && live[at] === compacted[at]) at++;
          sameAsLive.push(
            `${label}?window=${minutes} ${mode} (…${live.slice(Math.max(0, at - 60), at + 30)}… vs …${compacted.slice(Math.max(0, at - 60), at + 30)}…)`,
          );
        }
      }
    }
  }
  const before = statusRuns.get('1440 before') as Metered;
  const cold = statusRuns.get('1440 cold') as Metered;
  const cpuOf = (t: Timed<unknown>) =>
    `bench process ${msf(t.clientCpuMs)} ms` +
    (t.storeCpuMs === undefined ? '' : `, dynalite ${msf(t.storeCpuMs)} ms`);
  return {
    labels,
    labelSets,
    main,
    smallCount,
    statusRuns,
    seriesRuns,
    naiveS,
    naiveT,
    small: { status: statusSmall.last.meta.itemsRead, series: seriesSmall.last.meta.itemsRead },
    check,
    statusPercentileError,
    burnOk,
    sameAsLive,
    cpu: `CPU per /status?window=1440 call: before ${cpuOf(before)}; after (cold) ${cpuOf(cold)}`,
  };
}

let exitCode = 0;
try {
  const startUptime = uptime();
  log(`status-query bench: Node ${process.version}, ${store.describe}, now = ${new Date(NOW).toISOString()}`);
  log(`uptime at start: ${startUptime}`);
  log(
    `data: 10 endpoints, label sets ${LABEL_SET_LIST.join(' and ')}, seed ${SEED}; ${int(EVENTS)} events per dataset; ` +
      `loader ${LOADER}, batches of ${BATCH}, ${CONCURRENCY} at a time`,
  );
  const results: DatasetResult[] = [];
  for (const labels of LABEL_SET_LIST) results.push(await runDataset(labels));

  // ------------------------------------------------------------ report
  log('\n=== results ===');
  log(`uptime at start: ${startUptime}`);
  log(`uptime at end:   ${uptime()}`);
  for (const r of results) {
    const { load: loaded, compaction } = r.main;
    const ns = r.naiveS.last;
    log(
      `${r.labelSets} label sets: ${int(EVENTS)} events over 24 h, ${int(ns.overall.total)} in the 1440-min window, ` +
        `${((1 - ns.overall.ok / ns.overall.total) * 100).toFixed(2)}% failed; ` +
        `${r.main.reusedFrom ? `loaded by the run of ${r.main.reusedFrom}: ` : ''}` +
        `load ${loaded.seconds.toFixed(1)} s (${int(EVENTS / loaded.seconds)} ev/s, ${loaded.loader}` +
        (loaded.rollupItems === undefined ? '' : `, ${int(loaded.rollupItems)} rollup items`) +
        `, ${int(loaded.writeRequests)} write requests), compaction ${compaction.seconds.toFixed(1)} s ` +
        `(${compaction.runs} runs, ${int(compaction.minutes)} minutes, ${int(compaction.written)} compact items, ` +
        `${int(compaction.liveItemsRead)} live rollups read)`,
    );
  }
  if (LOADER === 'write') log(`(${socketWarningCount()} SDK "socket usage at capacity" warnings hidden)`);
  log('');
  const widths = [7, 26, 7, 7, 8, 6, 9, 8, 9, 9];
  const row = (cells: string[]) =>
    log(cells.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 9) : c.padStart(widths[i] ?? 9))).join(''));
  row(['labels', 'query', 'read', 'items', 'compact', 'calls', 'KB read', 'RRU', 'p50 ms', 'p95 ms']);
  for (const r of results) {
    const report = (name: string, t: Metered, mode: string) => {
      const m = t.last.meta;
      row([
        String(r.labelSets),
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
        report(`/status?window=${minutes}`, r.statusRuns.get(`${minutes} ${mode}`) as Metered, mode);
      for (const mode of modes)
        report(`/timeseries?window=${minutes}`, r.seriesRuns.get(`${minutes} ${mode}`) as Metered, mode);
    }
    const naiveRow = (name: string, t: Timed<{ itemsRead: number; queries: number }>) =>
      row([
        String(r.labelSets),
        name,
        'raw',
        int(t.last.itemsRead),
        '-',
        int(t.last.queries),
        '-',
        '-',
        msf(p50(t)),
        msf(p95(t)),
      ]);
    naiveRow('naive /status?window=1440', r.naiveS);
    naiveRow('naive /timeseries 1440', r.naiveT);
  }
  log(
    '(items: items read from the table; compact: of them, compact items and late-versions items; calls: Query + BatchGetItem;',
  );
  log(
    ' KB read: item sizes as DynamoDB counts them; RRU: read request units DynamoDB reported, eventually consistent;',
  );
  log(` naive: ${NAIVE_RUNS} runs, p50/p95 of those; the others ${RUNS} runs after ${WARMUP} warm-up)`);

  for (const r of results) {
    const { check, statusRuns, seriesRuns } = r;
    const before = statusRuns.get('1440 before') as Metered;
    const cold = statusRuns.get('1440 cold') as Metered;
    log(`\n${r.labelSets} label sets:`);
    log(
      `  /status?window=1440 before → after (cold): items ${ratio(before.last.meta.itemsRead ?? 0, cold.last.meta.itemsRead ?? 0)} fewer, ` +
        `KB ${ratio(before.last.meta.bytesRead ?? 0, cold.last.meta.bytesRead ?? 0)} fewer, p95 ${ratio(p95(before), p95(cold))} faster; ` +
        `naive/after p95 ${ratio(p95(r.naiveS), p95(cold))}`,
    );
    log(`  ${r.cpu}`);
    log(
      `  items read with 10x fewer events (${int(r.smallCount)}), cold: /status ${int(r.small.status)} ` +
        `(vs ${int(cold.last.meta.itemsRead ?? 0)}), /timeseries ${int(r.small.series)} ` +
        `(vs ${int((seriesRuns.get('1440 cold') as Metered).last.meta.itemsRead ?? 0)})`,
    );
    log(
      `  correctness: ${check.countsCompared} totals/ok compared against the raw events (per endpoint, overall, per hour bucket): ` +
        `${check.countMismatches.length === 0 ? 'all equal' : `${check.countMismatches.length} MISMATCHES`}; ` +
        `burn rates 1 h/6 h equal to exact: ${r.burnOk ? 'yes' : 'NO'}`,
    );
    for (const line of check.countMismatches.slice(0, 10)) log(`    mismatch ${line}`);
    log(
      `  max relative percentile error vs exact: ${(check.maxRelError * 100).toFixed(3)} % ` +
        `(/status ${(r.statusPercentileError * 100).toFixed(3)} %; ${check.percentilesCompared} percentiles; worst: ${check.worst})`,
    );
    log(
      `  compacted answers equal the live-rollup answers (every figure, 1440 and 10080, cold and warm): ` +
        `${r.sameAsLive.length === 0 ? 'yes' : `NO: ${r.sameAsLive.join(', ')}`}`,
    );
    const items = (runs: Map<string, Metered>, key: string) => runs.get(key)?.last.meta.itemsRead ?? 0;
    const kb = (runs: Map<string, Metered>, key: string) => (runs.get(key)?.last.meta.bytesRead ?? 0) / 1024;
    const targets: [string, boolean, string][] = [];
    for (const [name, runs] of [
      ['/status', statusRuns],
      ['/timeseries', seriesRuns],
    ] as const) {
      const i1440 = items(runs, '1440 cold');
      const k1440 = kb(runs, '1440 cold');
      const i10080 = items(runs, '10080 cold');
      targets.push([`${name}?window=1440 items ≤ 150`, i1440 <= 150, int(i1440)]);
      targets.push([`${name}?window=1440 ≤ 200 KB read`, k1440 <= 200, `${k1440.toFixed(1)} KB`]);
      targets.push([`${name}?window=10080 items ≤ 250`, i10080 <= 250, int(i10080)]);
    }
    targets.push([
      `/status?window=1440 p95 ≤ ${STATUS_P95_TARGET_MS} ms`,
      p95(cold) <= STATUS_P95_TARGET_MS,
      `${msf(p95(cold))} ms`,
    ]);
    for (const [name, met, figure] of targets)
      log(`  target ${name} (cold): ${met ? 'met' : 'MISSED'} (${figure})`);
    if (
      r.check.countMismatches.length > 0 ||
      r.check.maxRelError > 0.01 ||
      !r.burnOk ||
      r.sameAsLive.length > 0
    )
      exitCode = 1;
  }
  await store.cpuMs(); // refresh the RSS figure
  const heap = process.memoryUsage();
  log(
    `\nmemory: bench process RSS ${int(heap.rss / 2 ** 20)} MiB` +
      (store.peakRssMb > 0 ? `, store process RSS up to ${int(store.peakRssMb)} MiB` : ''),
  );
  if (DATA_DIR)
    log(`tables kept in ${DATA_DIR}: the same command again times the queries only (RELOAD=1 loads again)`);
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  resetClients();
  await store.close();
}
process.exitCode = exitCode;
