/**
 * Where a cold `/status` (or `/timeseries`) spends its time, in figures that do
 * not depend on how loaded the machine is: rounds of DynamoDB calls on the
 * critical path (test/faults.ts traceStoreCalls: calls sent together are one
 * round), calls per command, and CPU ms per call in this process and in
 * dynalite; the wall p50/p95 beside them, with `uptime`.
 *
 * It reads a table bench/status-query.ts loaded and kept on disk (DATA_DIR);
 * it never loads one. Copy the directory first: dynalite locks it.
 *
 * Run:
 *   DATA_DIR=/tmp/copy-of-sq-1m npx tsx bench/status-rounds.ts
 * Knobs: TABLE=sq-30l-s1-bulk-1000000 QUERY=status|timeseries WINDOW=1440
 * RUNS=40 WARMUP=5 MODE=cold|warm, PROFILE=file.cpuprofile (a V8 CPU profile
 * of the timed runs in this process, for Chrome DevTools or speedscope).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { resetClients } from '../shared/aws.js';
import { callRounds, type TracedCall, traceStoreCalls } from '../test/faults.js';
import { quantile } from '../test/fixtures.js';
import { connectTo, createTable, startStore } from './status-query/load.js';
import { statusQuery, timeseriesQuery } from './status-query/measure.js';
import { DATA_DIR, intSetting, log, msf, RUNS, WARMUP } from './status-query/settings.js';

const TABLE = process.env.TABLE ?? 'sq-30l-s1-bulk-1000000';
const QUERY = process.env.QUERY === 'timeseries' ? 'timeseries' : 'status';
const WINDOW = intSetting('WINDOW', 1440);
const MODE = process.env.MODE === 'warm' ? 'warm' : 'cold';
const PROFILE = process.env.PROFILE?.trim() || undefined;
if (!DATA_DIR)
  throw new Error('DATA_DIR: the directory of a table bench/status-query.ts kept (a copy of it)');

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

const store = await startStore();
connectTo(store);

try {
  const config = await createTable(store, TABLE); // exists: only checked
  const query = (QUERY === 'status' ? statusQuery : timeseriesQuery)(config, WINDOW, MODE);
  log(
    `status-rounds: /${QUERY}?window=${WINDOW} ${MODE}, table ${TABLE} in ${DATA_DIR}, Node ${process.version}`,
  );
  log(`uptime at start: ${uptime()}`);
  for (let i = 0; i < WARMUP; i++) await query();

  const trace = traceStoreCalls();
  const session = PROFILE ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  const rounds: number[] = [];
  const perCall: TracedCall[][] = [];
  let meta: Record<string, number> = {};
  const storeBefore = await store.cpuMs();
  for (let i = 0; i < RUNS; i++) {
    trace.clear();
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const answer = (await query()) as { meta: Record<string, number> };
    wall.push(performance.now() - start);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
    rounds.push(callRounds(trace.calls));
    perCall.push([...trace.calls]);
    meta = answer.meta;
  }
  const storeAfter = await store.cpuMs();
  if (session && PROFILE) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(PROFILE, JSON.stringify(profile));
    session.disconnect();
  }
  trace.remove();

  const commands = new Map<string, number>();
  for (const call of perCall.at(-1) ?? []) commands.set(call.command, (commands.get(call.command) ?? 0) + 1);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  log(`uptime at end:   ${uptime()}`);
  log(
    `rounds of DynamoDB calls per call: min ${Math.min(...rounds)}, median ${quantile(rounds, 0.5)}, max ${Math.max(...rounds)}`,
  );
  log(
    `DynamoDB calls per call: ${[...commands].map(([c, n]) => `${n} ${c.replace(/Command$/, '')}`).join(', ')}`,
  );
  log(
    `read: ${meta.itemsRead} items (${meta.compactItemsRead} compact), ${((meta.bytesRead ?? 0) / 1024).toFixed(1)} KB, ${meta.readUnits} RRU`,
  );
  log(
    `CPU per call: this process ${msf(mean(cpu))} ms (median ${msf(quantile(cpu, 0.5))})` +
      (storeBefore === undefined || storeAfter === undefined
        ? ''
        : `, dynalite ${msf((storeAfter - storeBefore) / RUNS)} ms`),
  );
  log(
    `wall: p50 ${msf(quantile(wall, 0.5))} ms, p95 ${msf(quantile(wall, 0.95))} ms (${RUNS} runs after ${WARMUP} warm-up)`,
  );
  if (PROFILE) log(`CPU profile of the timed runs: ${PROFILE}`);
} finally {
  resetClients();
  await store.close();
}
