/**
 * The CPU a cold `/status?window=1440` spends in this repository's code, the
 * store and the SDK's wire parsing left out: one cold call against the table
 * records what each DynamoDB call answered; then computeStatus runs again and
 * again (tinybench) with those answers replayed by a middleware, nothing
 * cached between runs (clearCompactCache). What is left is decoding the
 * compact items (inflate, unpack), parsing live rollup items and summing
 * aggregates; bench/status-rounds.ts measures the whole call.
 *
 * Run (a copy of a table bench/status-query.ts kept; dynalite locks it):
 *   DATA_DIR=/tmp/copy-of-sq-1m npx tsx bench/status-decode.ts
 * Knobs: TABLE=sq-30l-s1-bulk-1000000 WINDOW=1440 TIME_MS=5000
 */
import { execFileSync } from 'node:child_process';
import { Bench } from 'tinybench';
import { dynamoClient, resetClients } from '../shared/aws.js';
import { unpackSized } from '../shared/stats/packed.js';
import { connectTo, createTable, startStore } from './status-query/load.js';
import { statusQuery } from './status-query/measure.js';
import { DATA_DIR, intSetting, log, msf } from './status-query/settings.js';

const TABLE = process.env.TABLE ?? 'sq-30l-s1-bulk-1000000';
const WINDOW = intSetting('WINDOW', 1440);
const TIME_MS = intSetting('TIME_MS', 5000);
if (!DATA_DIR)
  throw new Error('DATA_DIR: the directory of a table bench/status-query.ts kept (a copy of it)');

const store = await startStore();
connectTo(store);

try {
  const config = await createTable(store, TABLE);
  const query = statusQuery(config, WINDOW, 'cold');
  // Record: each call's input (as JSON) → its answer, already parsed by the SDK.
  const answers = new Map<string, unknown>();
  let replaying = false;
  dynamoClient().middlewareStack.add(
    (next, context) => async (args) => {
      const key = `${context.commandName}:${JSON.stringify(args.input)}`;
      if (replaying) {
        if (!answers.has(key)) throw new Error(`not recorded: ${key.slice(0, 200)}`);
        return { output: structuredClone(answers.get(key)), response: {} } as never;
      }
      const result = await next(args);
      answers.set(key, structuredClone(result.output));
      return result;
    },
    { step: 'initialize', name: 'recordAnswers', priority: 'high' },
  );
  const recorded = (await query()) as { meta: Record<string, number> };
  replaying = true;
  const replayed = (await query()) as { meta: Record<string, number> };
  if (JSON.stringify(replayed) !== JSON.stringify(recorded)) throw new Error('the replayed answer differs');

  // The compact items' packed groups, for decoding alone.
  const packed: Uint8Array[] = [];
  for (const answer of answers.values()) {
    const { Items, Responses } = answer as {
      Items?: Record<string, unknown>[];
      Responses?: Record<string, Record<string, unknown>[]>;
    };
    for (const item of [...(Items ?? []), ...Object.values(Responses ?? {}).flat()])
      if (item.g instanceof Uint8Array) packed.push(item.g);
  }
  const cloneCost = [...answers.values()];

  const tasks: [string, () => unknown][] = [
    ['computeStatus, answers replayed (cold: nothing cached)', () => query()],
    [`decode the ${packed.length} compact items (inflate + unpack)`, () => packed.map((b) => unpackSized(b))],
    [
      'copying the recorded answers (included in the line above)',
      () => cloneCost.map((a) => structuredClone(a)),
    ],
  ];
  log(`status-decode: /status?window=${WINDOW} cold, table ${TABLE}, Node ${process.version}`);
  log(`uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  log(
    `recorded ${answers.size} calls: ${recorded.meta.itemsRead} items (${recorded.meta.compactItemsRead} compact), ${((recorded.meta.bytesRead ?? 0) / 1024).toFixed(1)} KB`,
  );
  // One Bench per task, so the CPU this process spent (garbage collection included) is charged to it:
  // on a loaded machine CPU per run varies far less than wall time.
  for (const [name, fn] of tasks) {
    // Warmed up here, so the CPU measured below is that of the timed runs alone.
    for (let i = 0; i < 5; i++) await fn();
    const bench = new Bench({ time: TIME_MS, warmup: false });
    bench.add(name, async () => {
      await fn();
    });
    const cpuBefore = process.cpuUsage();
    await bench.run();
    const cpu = process.cpuUsage(cpuBefore);
    const result = bench.tasks[0]?.result;
    const latency = result && 'latency' in result ? result.latency : undefined;
    if (!latency) continue;
    const runs = latency.samplesCount;
    log(
      `${name}: CPU ${msf((cpu.user + cpu.system) / 1000 / runs)} ms per run; ` +
        `wall mean ${msf(latency.mean)} ms, p50 ${msf(latency.p50 ?? latency.mean)} ms (${runs} runs)`,
    );
  }
  log(`uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
} finally {
  resetClients();
  await store.close();
}
