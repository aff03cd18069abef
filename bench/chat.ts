/**
 * The chat's code-written (LLM-free) answer over 24 h of probe data: time to
 * the first streamed delta and to the complete answer, and what gathering the
 * evidence reads from the table.
 *
 * Loads EVENTS (default 40,000) generated probe events over the 24 h before a
 * fixed now into in-memory dynalite through the write path (the generator of
 * bench/status-query), compacts the closed periods as the probe tick does,
 * (every source, as the probe tick does), then asks QUESTIONS through streamChat (what `POST /ai/chat/stream` runs)
 * RUNS times each after WARMUP, with tinybench.
 *
 *   npx tsx bench/chat.ts            EVENTS=100000 RUNS=20 npx tsx bench/chat.ts
 *
 * Targets (local): first delta ≤ 300 ms, complete ≤ 1 s (p95).
 */
import { Bench } from 'tinybench';
import { ensureSchema } from '../infra/local/store.js';
import { type ChatLine, parseChatRequest, streamChat } from '../shared/ai/chat.js';
import { compactClosedPeriods } from '../shared/store/compaction.js';
import { DAY_MS } from '../shared/store/keys.js';
import { quantile } from '../test/fixtures.js';
import { createTable, load, startStore } from './status-query/load.js';
import { NOW, RETENTION } from './status-query/settings.js';

const EVENTS = Number(process.env.EVENTS ?? 40_000);
const RUNS = Number(process.env.RUNS ?? 15);
const WARMUP = Number(process.env.WARMUP ?? 3);
const FIRST_DELTA_TARGET_MS = 300;
const COMPLETE_TARGET_MS = 1000;
const QUESTIONS = [
  'How is the API doing?',
  'Why did responses fail in the last 24 hours?',
  'Which endpoint got slower in the last 6 hours?',
  'What happened at 09:00?',
];

const store = await startStore();
process.env.DYNAMODB_ENDPOINT = store.dynamodbEndpoint;
process.env.S3_ENDPOINT = store.s3Endpoint;
try {
  const config = await createTable(store, 'bench-chat');
  await ensureSchema({
    dynamodbEndpoint: store.dynamodbEndpoint,
    s3Endpoint: store.s3Endpoint,
    tableName: config.tableName,
    buckets: [config.artifactsBucket],
  });
  console.log(
    `loading ${EVENTS.toLocaleString('en-US')} events (24 h before ${new Date(NOW).toISOString()})…`,
  );
  const loaded = await load(config, EVENTS, 'c', 'chat');
  console.log(`  loaded in ${loaded.seconds.toFixed(1)} s`);
  for (;;) {
    const result = await compactClosedPeriods({
      tableName: config.tableName,
      ...RETENTION,
      now: NOW,
      lookbackMs: 2 * DAY_MS,
    });
    if (Object.values(result.minutes).every((n) => n === 0) && result.rebuilt === 0) break;
  }

  console.log(`\nsummary path, ${WARMUP} warm-up + ${RUNS} runs per question (tinybench):`);
  console.log('question | first delta p50 / p95 | complete p50 / p95 | items read | queries | citations');
  let worstFirst = 0;
  let worstComplete = 0;
  for (const question of QUESTIONS) {
    const request = parseChatRequest({ question, window: 1440 });
    const firstDelta: number[] = [];
    const complete: number[] = [];
    let last: Extract<ChatLine, { done: true }> | undefined;
    const bench = new Bench({ iterations: RUNS, warmupIterations: WARMUP, time: 0, warmupTime: 0 });
    bench.add(question, async () => {
      const started = performance.now();
      let first: number | undefined;
      for await (const line of streamChat(request, { config, now: NOW })) {
        if ('delta' in line && first === undefined) first = performance.now() - started;
        if ('done' in line) last = line;
      }
      firstDelta.push(first ?? Number.NaN);
      complete.push(performance.now() - started);
    });
    await bench.run();
    // tinybench runs the warm-up through the same function: keep the measured runs only.
    const measuredFirst = firstDelta.slice(-RUNS);
    const measuredComplete = complete.slice(-RUNS);
    const f50 = quantile(measuredFirst, 0.5);
    const f95 = quantile(measuredFirst, 0.95);
    const c50 = quantile(measuredComplete, 0.5);
    const c95 = quantile(measuredComplete, 0.95);
    worstFirst = Math.max(worstFirst, f95);
    worstComplete = Math.max(worstComplete, c95);
    console.log(`  items by part: ${JSON.stringify(last?.meta.itemsByPart)}`);
    console.log(
      `${question} | ${f50.toFixed(1)} / ${f95.toFixed(1)} ms | ${c50.toFixed(1)} / ${c95.toFixed(1)} ms | ${last?.meta.itemsRead ?? '?'} | ${last?.meta.queries ?? '?'} | ${last?.citations.length ?? 0}`,
    );
  }
  console.log(
    `\nworst p95: first delta ${worstFirst.toFixed(1)} ms (target ≤ ${FIRST_DELTA_TARGET_MS}: ${worstFirst <= FIRST_DELTA_TARGET_MS ? 'met' : 'MISSED'}), complete ${worstComplete.toFixed(1)} ms (target ≤ ${COMPLETE_TARGET_MS}: ${worstComplete <= COMPLETE_TARGET_MS ? 'met' : 'MISSED'})`,
  );
} finally {
  await store.close();
}
