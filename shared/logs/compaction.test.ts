import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, setEnv, useClock, useFreshStore } from '../../test/helpers.js';
import { getConfig } from '../config.js';
import { s3Client } from '../s3.js';
import { DAY_MS, HOUR_MS } from '../store/keys.js';
import { claimLogIndexState, liveSegmentEntries, readSegmentEntries } from '../store/logs.js';
import {
  compactClosedDays,
  compactionGroups,
  DAY_CLOSED_AFTER_MS,
  REPLACED_KEPT_MS,
  writeIndexedSegment,
} from './compaction.js';
import { localEmbedder } from './embedder.js';
import { segmentWithVectors } from './indexer.js';
import type { LogLine } from './schema.js';
import { defaultSearchDeps, type SearchAnswer, type SearchParams, searchLogs } from './search.js';
import { clearSegmentCache } from './segments-store.js';
import { simulateLogLines } from './simulator.js';
import { messageTemplate } from './text.js';

const DAY0 = Date.UTC(2026, 10, 27);
/** Two closed days and four hours of the third. */
const NOW = DAY0 + 2 * DAY_MS + 4 * HOUR_MS;
const embedder = localEmbedder();

let clock: ManualClock;
let restore: () => void;
const hourLines = new Map<number, LogLine[]>();

/** One segment per hour, written as the indexer writes them. */
async function writeHour(hour: number, lines: LogLine[], id: string) {
  const templates = [...new Set(lines.map((l) => messageTemplate(l.message)))];
  const vectors = await embedder.embed(templates);
  const byTemplate = new Map(templates.map((t, i) => [t, vectors[i] as Float32Array]));
  const segment = segmentWithVectors(
    id,
    lines,
    embedder,
    new Map(lines.map((l) => [l.id, messageTemplate(l.message)])),
    byTemplate,
    (template) => template,
  );
  await writeIndexedSegment(getConfig(), embedder.key, hour, segment, clock.now());
}

async function manifest() {
  const { entries } = await readSegmentEntries(
    getConfig().tableName,
    embedder.key,
    { from: DAY0, to: NOW, now: clock.now() },
    1000,
  );
  return entries;
}

const requestId = () =>
  (hourLines.get(DAY0 + 5 * HOUR_MS) as LogLine[]).find((l) => l.requestId)?.requestId as string;

/** Searches that cover whole days, parts of days, filters and exact tokens. */
const searches = (): SearchParams[] => [
  { query: 'context_length_exceeded', from: DAY0, to: NOW, k: 50 },
  { query: 'rate limit reached retry-after', from: DAY0, to: NOW, k: 50 },
  { query: 'request timed out', from: DAY0 + 7 * HOUR_MS + 123, to: DAY0 + DAY_MS + 9 * HOUR_MS, k: 30 },
  { query: 'deploy finished healthy', from: DAY0 + DAY_MS, to: NOW, k: 20, level: ['info'] },
  { query: 'server overloaded 503', from: DAY0, to: NOW, k: 40, endpoint: ['chat'], region: ['eu-west-1'] },
  { query: requestId(), from: DAY0, to: NOW, k: 10 },
];

async function answers(): Promise<SearchAnswer[]> {
  const deps = defaultSearchDeps(embedder);
  const all: SearchAnswer[] = [];
  for (const params of searches()) all.push(await searchLogs(params, deps));
  return all;
}

/** Same hits in the same order with the same ranks, and scores equal within 1e-9. */
function expectSameAnswers(after: SearchAnswer[], before: SearchAnswer[]) {
  expect(after.length).toBe(before.length);
  after.forEach((answer, i) => {
    const was = before[i] as SearchAnswer;
    expect(answer.mode).toBe(was.mode);
    expect(answer.candidates).toBe(was.candidates);
    expect(answer.hits.map((h) => [h.id, h.ranks])).toEqual(was.hits.map((h) => [h.id, h.ranks]));
    answer.hits.forEach((hit, j) => {
      const old = was.hits[j] as (typeof was.hits)[number];
      expect(Math.abs(hit.score - old.score)).toBeLessThanOrEqual(1e-9);
      expect(Math.abs((hit.scores.bm25 ?? 0) - (old.scores.bm25 ?? 0))).toBeLessThanOrEqual(1e-9);
      expect(Math.abs((hit.scores.vector ?? 0) - (old.scores.vector ?? 0))).toBeLessThanOrEqual(1e-9);
      expect(hit.line).toEqual(old.line);
    });
  });
}

beforeAll(async () => {
  await useFreshStore();
  clock = new ManualClock(NOW);
  const restoreClock = useClock(clock);
  const restoreEnv = setEnv({ LOG_LEVEL: 'SILENT' });
  restore = () => {
    restoreEnv();
    restoreClock();
  };
  await claimLogIndexState(getConfig().tableName, {
    indexKey: embedder.key,
    model: embedder.model,
    dims: embedder.dims,
    createdAt: DAY0,
  });
  // About 180 lines an hour: 52 hourly segments, quick to write on a loaded machine.
  const writes: Promise<void>[] = [];
  for (let hour = DAY0; hour < NOW; hour += HOUR_MS) {
    const lines = simulateLogLines(hour, hour + HOUR_MS, 20_000);
    hourLines.set(hour, lines);
    writes.push(writeHour(hour, lines, `h${hour.toString(36)}`));
  }
  await Promise.all(writes);
}, 120_000);
afterAll(() => restore());

describe('daily compaction', () => {
  it('groups consecutive hours up to a number of lines', () => {
    const entry = (hour: number, lines: number) =>
      ({ hour, lines, minTs: hour }) as Parameters<typeof compactionGroups>[0][number];
    const groups = compactionGroups([entry(3, 50), entry(1, 60), entry(2, 50), entry(4, 500)], 120);
    expect(groups.map((g) => g.map((e) => e.hour))).toEqual([[1, 2], [3], [4]]);
  });

  it('merges each closed day into one segment; searches answer exactly as before; replaced segments go later', async () => {
    const before = await answers();
    expect(before.every((a) => a.hits.length > 0)).toBe(true);
    expect((await manifest()).length).toBe(52);

    const first = await compactClosedDays(getConfig(), embedder.key, clock.now());
    expect(first).toEqual({ days: 2, written: 2, dropped: 0 });
    // The replaced hourly entries are still there, but no reader uses them.
    const entries = await manifest();
    const live = liveSegmentEntries(entries);
    expect(entries.length).toBe(54);
    expect(live.map((e) => e.lines)).toEqual([
      [...hourLines].filter(([h]) => h < DAY0 + DAY_MS).reduce((n, [, l]) => n + l.length, 0),
      [...hourLines]
        .filter(([h]) => h >= DAY0 + DAY_MS && h < DAY0 + 2 * DAY_MS)
        .reduce((n, [, l]) => n + l.length, 0),
      ...[0, 1, 2, 3].map((i) => (hourLines.get(DAY0 + 2 * DAY_MS + i * HOUR_MS) as LogLine[]).length),
    ]);
    expectSameAnswers(await answers(), before);
    // From the bucket, not the cache: the new objects hold the same index.
    clearSegmentCache();
    const compacted = await answers();
    expectSameAnswers(compacted, before);
    expect(compacted[0]?.segments.read).toBe(6);
    expect(before[0]?.segments.read).toBe(52);

    // Idempotent: nothing left to merge, nothing old enough to drop.
    expect(await compactClosedDays(getConfig(), embedder.key, clock.now())).toEqual({
      days: 0,
      written: 0,
      dropped: 0,
    });

    clock.set(NOW + REPLACED_KEPT_MS);
    const replaced = entries.filter((e) => !live.includes(e));
    expect(await compactClosedDays(getConfig(), embedder.key, clock.now())).toEqual({
      days: 0,
      written: 0,
      dropped: 48,
    });
    expect((await manifest()).map((e) => e.segmentId)).toEqual(live.map((e) => e.segmentId));
    await expect(
      (await s3Client()).send(
        new GetObjectCommand({ Bucket: getConfig().artifactsBucket, Key: replaced[0]?.objectKey }),
      ),
    ).rejects.toThrow();
    clearSegmentCache();
    expectSameAnswers(await answers(), before);
  }, 120_000);

  it('merges a late line of a compacted day into the day again, replacing both', async () => {
    const late = DAY0 + 5 * HOUR_MS;
    const line: LogLine = {
      id: `${late + 1}-late-line`,
      ts: late + 1,
      level: 'error',
      message: 'late arrival: upstream quota_exhausted for org',
    };
    await writeHour(late, [line], 'late');
    const now = clock.now();
    const dayOne = (await manifest()).filter((e) => e.hour < DAY0 + DAY_MS);
    expect(liveSegmentEntries(dayOne)).toHaveLength(2);
    expect(await compactClosedDays(getConfig(), embedder.key, now)).toEqual({
      days: 1,
      written: 1,
      dropped: 0,
    });
    const live = liveSegmentEntries((await manifest()).filter((e) => e.hour < DAY0 + DAY_MS));
    expect(live).toHaveLength(1);
    expect(live[0]?.replaces).toEqual(expect.arrayContaining(['late', ...dayOne.map((e) => e.segmentId)]));
    const found = await searchLogs(
      { query: 'quota_exhausted', from: DAY0, to: NOW, k: 5 },
      defaultSearchDeps(embedder),
    );
    expect(found.hits[0]).toMatchObject({ id: line.id, ranks: { bm25: 1 } });
    expect(found.hits.filter((h) => h.ranks.bm25 !== null)).toHaveLength(1);
    // The day still open is never compacted.
    expect(DAY0 + 2 * DAY_MS + DAY_MS + DAY_CLOSED_AFTER_MS).toBeGreaterThan(now);
  }, 60_000);
});
