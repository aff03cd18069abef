import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, setEnv, useClock, useFreshStore } from '../../test/helpers.js';
import { getConfig } from '../config.js';
import { liveSegmentEntries, readSegmentEntries } from '../store/logs.js';
import { localEmbedder } from './embedder.js';
import { indexPendingLogs, MAX_SEGMENTS_PER_HOUR } from './indexer.js';
import { storeLogLines } from './ingest.js';
import { defaultSearchDeps, searchLogs } from './search.js';
import { simulateLogLines } from './simulator.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 30, 12);
const HOUR_START = NOW - 2 * HOUR;

let restore: () => void;
beforeAll(async () => {
  await useFreshStore();
  const restoreClock = useClock(new ManualClock(NOW));
  const restoreEnv = setEnv({ LOG_LEVEL: 'SILENT' });
  restore = () => {
    restoreEnv();
    restoreClock();
  };
});
afterAll(() => restore());

describe('the indexer', () => {
  it('compacts an hour past MAX_SEGMENTS_PER_HOUR segments into one, keeping every line once', async () => {
    // About 400 lines, so five runs stay quick on a loaded machine.
    const lines = simulateLogLines(HOUR_START, HOUR_START + HOUR, 10_000);
    const parts = MAX_SEGMENTS_PER_HOUR + 1;
    const size = Math.ceil(lines.length / parts);
    const runs = [];
    for (let i = 0; i < parts; i++) {
      await storeLogLines(lines.slice(i * size, (i + 1) * size));
      runs.push(await indexPendingLogs({}, localEmbedder()));
    }
    expect(runs.map((r) => r.segments)).toEqual([
      ...Array.from({ length: parts - 1 }, () => ({ written: 1, compacted: 0 })),
      { written: 1, compacted: 1 },
    ]);
    expect(runs.reduce((sum, r) => sum + r.indexed, 0)).toBe(lines.length);
    // Templates are embedded once per index: later runs find them cached.
    expect(runs.at(-1)?.templates.embedded).toBeLessThan(runs[0]?.templates.embedded ?? 0);

    const { entries } = await readSegmentEntries(
      getConfig().tableName,
      localEmbedder().key,
      { from: HOUR_START, to: HOUR_START + HOUR - 1, now: NOW },
      100,
    );
    // The replaced segments stay listed (compaction.ts REPLACED_KEPT_MS), unused by readers.
    expect(entries).toHaveLength(parts + 1);
    const live = liveSegmentEntries(entries);
    expect(live).toHaveLength(1);
    expect(live[0]?.lines).toBe(lines.length);

    const answer = await searchLogs(
      { query: 'deploy started', from: HOUR_START, to: HOUR_START + HOUR, k: 100 },
      defaultSearchDeps(localEmbedder()),
    );
    expect(answer).toMatchObject({ mode: 'hybrid', tail: { lines: 0 }, segments: { read: 1 } });
    const deploys = lines.filter((l) => l.message.startsWith('deploy started'));
    expect(
      answer.hits
        .slice(0, deploys.length)
        .map((h) => h.id)
        .sort(),
    ).toEqual(deploys.map((l) => l.id).sort());
  }, 60_000);
});
