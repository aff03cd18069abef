/**
 * Timing the rollup queries (/status, /timeseries), before and after compaction.
 */
import type { Config } from '../../shared/config.js';
import { resolveFilters, resolveRange } from '../../shared/status/params.js';
import { computeStatus } from '../../shared/status/status.js';
import { computeTimeseries } from '../../shared/status/timeseries.js';
import { clearCompactCache } from '../../shared/store/compaction.js';
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

export const statusQuery = (config: Config, minutes: number, mode: ReadMode) => () => {
  if (mode === 'cold') clearCompactCache();
  return computeStatus(lastMinutes(config, minutes, mode === 'before'));
};
export const timeseriesQuery = (config: Config, minutes: number, mode: ReadMode) => () => {
  if (mode === 'cold') clearCompactCache();
  return computeTimeseries(lastMinutes(config, minutes, mode === 'before'));
};
export type TimeseriesAnswer = Awaited<ReturnType<ReturnType<typeof timeseriesQuery>>>;
