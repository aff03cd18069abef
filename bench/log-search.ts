/**
 * Log search at scale, on the local store (dynalite + s3rver in a child process):
 *
 * 1. index build: N simulated lines over a period, templates embedded with the
 *    local embedder, one segment per hour built and encoded (in memory):
 *    build time, lines/s, segment bytes (gzipped, as stored);
 * 2. the segments written to s3rver with their manifest items in dynalite,
 *    as the indexer writes them;
 * 3. search through `searchLogs` with the real dependencies (manifest Query,
 *    segment GETs, the unindexed-tail Queries): the first (cold) search, then
 *    warm searches timed with tinybench, p50 and p95; first over the hourly
 *    segments as indexed (UNCOMPACTED=0 skips it), then after the daily
 *    compaction of the closed days (timed);
 * 4. the indexer end to end (`indexPendingLogs`: pending lines read from
 *    dynalite, embedded, segments written, pending copies deleted) on
 *    INDEXER_LINES lines: lines/s.
 *
 *   npx tsx bench/log-search.ts            # 100,000 lines over 24 h
 *   LINES=1000000 DAYS=30 npx tsx bench/log-search.ts
 *     (1,000,000 lines over 30 days; give it NODE_OPTIONS=--max-old-space-size=6144)
 */
import { loadavg } from 'node:os';
import { Bench } from 'tinybench';
import { ensureSchema } from '../infra/local/store.js';
import { resetClients } from '../shared/aws.js';
import { ManualClock, useClock } from '../shared/clock.js';
import { getConfig, resetConfig } from '../shared/config.js';
import { compactClosedDays, REPLACED_KEPT_MS, writeIndexedSegment } from '../shared/logs/compaction.js';
import { localEmbedder } from '../shared/logs/embedder.js';
import { indexPendingLogs, segmentWithVectors } from '../shared/logs/indexer.js';
import { storeLogLines } from '../shared/logs/ingest.js';
import type { LogLine } from '../shared/logs/schema.js';
import { defaultSearchDeps, searchLogs } from '../shared/logs/search.js';
import { encodeSegment } from '../shared/logs/segment.js';
import { clearSegmentCache } from '../shared/logs/segments-store.js';
import { simulateLogLines } from '../shared/logs/simulator.js';
import { messageTemplate, templateHash } from '../shared/logs/text.js';
import { DAY_MS, HOUR_MS } from '../shared/store/keys.js';
import { claimLogIndexState } from '../shared/store/logs.js';
import { startStore } from './status-query/load.js';

const LINES = Number(process.env.LINES ?? 100_000);
const DAYS = Number(process.env.DAYS ?? 1);
const INDEXER_LINES = Number(process.env.INDEXER_LINES ?? 20_000);
const NOW = Date.UTC(2026, 10, 30, 0, 0, 0);
const FROM = NOW - DAYS * DAY_MS;

// The store in its own process (STORE=inprocess to share this one), as bench/status-query does.
const store = await startStore();
console.log(`store: ${store.describe}`);
const tableName = 'bench-logs';
const bucket = 'bench-logs';
await ensureSchema({
  dynamodbEndpoint: store.dynamodbEndpoint,
  s3Endpoint: store.s3Endpoint,
  tableName,
  buckets: [bucket],
});
Object.assign(process.env, {
  DYNAMODB_ENDPOINT: store.dynamodbEndpoint,
  S3_ENDPOINT: store.s3Endpoint,
  AWS_REGION: 'us-east-1',
  TABLE_NAME: tableName,
  ARTIFACTS_BUCKET: bucket,
  RETENTION_DAYS: String(Math.max(30, DAYS + 1)),
  LOG_LEVEL: 'SILENT',
});
delete process.env.OPENAI_API_KEY;
resetConfig();
resetClients();
useClock(new ManualClock(NOW));
const config = getConfig();
const embedder = localEmbedder();
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
/** The machine's 1-minute load average: figures measured on a shared machine need it beside them. */
const loadAverage = () => loadavg()[0]?.toFixed(1);

// ------------------------------------------------------------ 1. index build, 2. into the bucket
// The simulator writes ~1.12 lines per request; a little denser than needed, then cut at LINES.
const gapMs = Math.max(4, Math.floor((DAYS * DAY_MS) / (LINES * 1.15)));
console.log(
  `log search: ${LINES.toLocaleString('en')} lines wanted over ${DAYS} day(s) (mean gap ${gapMs} ms); load average ${loadAverage()}`,
);
await claimLogIndexState(tableName, {
  indexKey: embedder.key,
  model: embedder.model,
  dims: embedder.dims,
  createdAt: NOW,
});
const vectors = new Map<string, Float32Array>();
let total = 0;
let hoursBuilt = 0;
let embedded = 0;
let buildMs = 0;
let writeMs = 0;
let segmentBytes = 0;
const writes: Promise<unknown>[] = [];
// Newest hour first, so the last 24 h are always full whatever the density. Each hour is built
// (timed), then written while the next one builds: the heap never holds more than a few hours.
for (let start = NOW - HOUR_MS; start >= FROM && total < LINES; start -= HOUR_MS) {
  const lines = simulateLogLines(start, start + HOUR_MS, gapMs).slice(0, LINES - total);
  total += lines.length;
  hoursBuilt++;
  const buildStart = performance.now();
  const templateOf = new Map<string, string>();
  const missing = new Map<string, string>();
  for (const line of lines) {
    const template = messageTemplate(line.message);
    const hash = templateHash(template);
    templateOf.set(line.id, hash);
    if (!vectors.has(hash)) missing.set(hash, template);
  }
  const fresh = await embedder.embed([...missing.values()]);
  for (const [i, hash] of [...missing.keys()].entries()) vectors.set(hash, fresh[i] as Float32Array);
  embedded += missing.size;
  const hour = Math.floor((lines[0] as LogLine).ts / HOUR_MS) * HOUR_MS;
  const segment = segmentWithVectors(`b${hour}`, lines, embedder, templateOf, vectors);
  segmentBytes += encodeSegment(segment).byteLength;
  buildMs += performance.now() - buildStart;
  writes.push(
    (async () => {
      const writeStart = performance.now();
      await writeIndexedSegment(config, embedder.key, hour, segment, NOW);
      writeMs += performance.now() - writeStart;
    })(),
  );
  if (writes.length >= 8) await Promise.all(writes.splice(0));
}
await Promise.all(writes);
console.log(`generated ${total.toLocaleString('en')} lines in ${hoursBuilt} hours`);
console.log(
  `index build (template + embed + postings + encode, in memory): ${(buildMs / 1000).toFixed(2)} s, ` +
    `${Math.round(total / (buildMs / 1000)).toLocaleString('en')} lines/s; ${embedded} distinct templates embedded`,
);
console.log(
  `segments: ${hoursBuilt}, ${mb(segmentBytes)} MiB gzipped (${Math.round(segmentBytes / total)} bytes/line); written to s3rver + manifest (8 at a time): ${(writeMs / 1000).toFixed(1)} s of writes`,
);

// ------------------------------------------------------------ 3. search, before and after daily compaction
const QUERIES = [
  'context_length_exceeded',
  'rate limit reached retry-after',
  'request timed out',
  'slow streaming first token',
  'deploy finished healthy',
  'server overloaded 503',
];
const deps = defaultSearchDeps(embedder);
const ranges: [string, number][] = [['24 h', DAY_MS]];
if (DAYS > 1) ranges.push([`${DAYS} days`, DAYS * DAY_MS]);

async function measure(state: string) {
  for (const [label, span] of ranges) {
    const params = (query: string) => ({ query, from: NOW - span, to: NOW, k: 20 });
    clearSegmentCache();
    const coldStart = performance.now();
    const cold = await searchLogs(params(QUERIES[0] as string), deps);
    const coldMs = performance.now() - coldStart;
    console.log(
      `\nsearch over ${label} (${state}): ${cold.candidates.toLocaleString('en')} candidate lines, ${cold.segments.read} segments, mode ${cold.mode}; load average ${loadAverage()}`,
    );
    console.log(
      `  cold (segments fetched and decoded): ${coldMs.toFixed(0)} ms, ${mb(cold.segments.bytes)} MiB read`,
    );
    let q = 0;
    const bench = new Bench({ time: 4000, iterations: 30, warmup: true, retainSamples: true });
    bench.add(`search ${label}`, async () => {
      await searchLogs(params(QUERIES[q++ % QUERIES.length] as string), deps);
    });
    await bench.run();
    const samples =
      (bench.tasks[0]?.result as { latency?: { samples?: number[] } } | undefined)?.latency?.samples ?? [];
    const sorted = [...samples].sort((a, b) => a - b);
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
    console.log(
      `  warm (cached segments; manifest and tail Queries each time): p50 ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms over ${samples.length} searches; load average ${loadAverage()}`,
    );
  }
}

if (process.env.UNCOMPACTED !== '0') await measure('hourly segments, as indexed');
const compactStart = performance.now();
const compaction = { days: 0, written: 0, dropped: 0 };
for (;;) {
  const run = await compactClosedDays(config, embedder.key, NOW);
  compaction.days += run.days;
  compaction.written += run.written;
  if (run.days === 0) break;
}
const compactMs = performance.now() - compactStart;
// The replaced segments go once no search can still read them (compaction.ts REPLACED_KEPT_MS).
compaction.dropped = (await compactClosedDays(config, embedder.key, NOW + REPLACED_KEPT_MS)).dropped;
console.log(
  `\ndaily compaction: ${compaction.days} closed days merged into ${compaction.written} segments in ${(compactMs / 1000).toFixed(1)} s; ${compaction.dropped} hourly segments dropped`,
);
await measure('closed days compacted');

// ------------------------------------------------------------ 4. the indexer end to end
if (INDEXER_LINES <= 0) {
  await store.close();
  process.exit(0);
}
const recent = simulateLogLines(
  NOW - HOUR_MS,
  NOW,
  Math.max(4, Math.round(HOUR_MS / (INDEXER_LINES * 1.15))),
).slice(0, INDEXER_LINES);
const ingestStart = performance.now();
for (let i = 0; i < recent.length; i += 1000) await storeLogLines(recent.slice(i, i + 1000));
console.log(
  `\nindexer: ${recent.length.toLocaleString('en')} pending lines stored in ${((performance.now() - ingestStart) / 1000).toFixed(1)} s (not timed below)`,
);
const indexStart = performance.now();
let indexed = 0;
for (;;) {
  const run = await indexPendingLogs({ limit: 50_000 }, embedder);
  indexed += run.indexed;
  if (run.indexed === 0 || run.pending === 0) break;
}
const indexMs = performance.now() - indexStart;
console.log(
  `indexer end to end (read pending, embed, build, write segment, delete pending; dynalite + s3rver): ${indexed.toLocaleString('en')} lines in ${(indexMs / 1000).toFixed(2)} s = ${Math.round(indexed / (indexMs / 1000)).toLocaleString('en')} lines/s`,
);
console.log(`heap used at the end: ${mb(process.memoryUsage().heapUsed)} MiB`);
await store.close();
process.exit(0);
