/**
 * Timing the rollup queries (/status, /timeseries), before and after compaction.
 */
import type { Config } from '../../shared/config.js';
import { resolveFilters, resolveRange } from '../../shared/status/params.js';
import { computeStatus } from '../../shared/status/status.js';
import { computeTimeseries } from '../../shared/status/timeseries.js';
import { clearCompactCache } from '../../shared/store/compaction.js';
import { useRollupLimits } from '../../shared/store/rollups.js';
import type { Store } from './load.js';
import { NOW } from './settings.js';

export interface Timed<T> {
  samples: number[];
  last: T;
  /** Mean CPU ms per run: this process (SDK, aggregation) and the store process (dynalite). */
  clientCpuMs: number;
  storeCpuMs: number | undefined;
}

/** `timed(fn, runs, warmup)`: wall time of each run after the warm-up, and the CPU both processes spent. */
export const timer =
  (store: Store) =>
  async <T>(fn: () => Promise<T>, runs: number, warmup: number): Promise<Timed<T>> => {
    let last: T | undefined;
    for (let i = 0; i < warmup; i++) last = await fn();
    const samples: number[] = [];
    const storeBefore = await store.cpuMs();
    const before = process.cpuUsage();
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      last = await fn();
      samples.push(performance.now() - start);
    }
    const used = process.cpuUsage(before);
    const storeAfter = await store.cpuMs();
    return {
      samples,
      last: last as T,
      clientCpuMs: (used.user + used.system) / 1000 / runs,
      storeCpuMs:
        storeBefore === undefined || storeAfter === undefined ? undefined : (storeAfter - storeBefore) / runs,
    };
  };

/** What `?window=<minutes>` over the probes asks, at NOW; `liveOnly` reads as before compaction existed. */
const lastMinutes = (config: Config, minutes: number, liveOnly: boolean) => ({
  config,
  range: resolveRange({ window: String(minutes) }, config, NOW, 60),
  filters: resolveFilters({}, 'probe'),
  now: NOW,
  liveOnly,
});

/**
 * How a query is read: `before` from live rollups only (the code before compaction), `cold`
 * through compact items in a container that has none cached, `warm` in one that has.
 */
export type ReadMode = 'before' | 'cold' | 'warm';

/**
 * The `before` baseline reads every live rollup of the range, which at 300 label sets and 1M events
 * passes the request ceiling (MAX_ROLLUP_ITEMS_PER_REQUEST): the API refuses such a read with a 400.
 * The bench lifts the ceiling for it alone, so there is a baseline to compare with; its items column
 * shows how far past the ceiling it went.
 */
async function read<T>(mode: ReadMode, query: () => Promise<T>): Promise<T> {
  if (mode === 'cold') clearCompactCache();
  if (mode !== 'before') return query();
  const restore = useRollupLimits({ items: Number.POSITIVE_INFINITY });
  try {
    return await query();
  } finally {
    restore();
  }
}

export const statusQuery = (config: Config, minutes: number, mode: ReadMode) => () =>
  read(mode, () => computeStatus(lastMinutes(config, minutes, mode === 'before')));
export const timeseriesQuery = (config: Config, minutes: number, mode: ReadMode) => () =>
  read(mode, () => computeTimeseries(lastMinutes(config, minutes, mode === 'before')));
export type TimeseriesAnswer = Awaited<ReturnType<ReturnType<typeof timeseriesQuery>>>;
