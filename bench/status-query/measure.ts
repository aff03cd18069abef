/**
 * Timing the rollup queries (/status, /timeseries, /status's reads alone) and the cells and
 * items they read.
 */
import type { Config } from '../../shared/config.js';
import { resolveFilters, resolveRange } from '../../shared/status/params.js';
import { computeStatus } from '../../shared/status/status.js';
import { computeTimeseries } from '../../shared/status/timeseries.js';
import { HOUR_MS, MINUTE_MS } from '../../shared/store/keys.js';
import { planSegments, rollupsFor } from '../../shared/store/rollups.js';
import { LABEL_SETS } from './data.js';
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

/** What `?window=1440` over the probes asks, at NOW. */
const lastDay = (config: Config) => ({
  config,
  range: resolveRange({ window: '1440' }, config, NOW, 60),
  filters: resolveFilters({}, 'probe'),
  now: NOW,
});
export const statusQuery = (config: Config) => () => computeStatus(lastDay(config));
export const timeseriesQuery = (config: Config) => () => computeTimeseries(lastDay(config));
export type TimeseriesAnswer = Awaited<ReturnType<ReturnType<typeof timeseriesQuery>>>;

/**
 * Only the reads computeStatus makes (window, last hour, last six hours), to split its latency.
 * `minuteOnlyUnder6h` reads the last hour and six hours from minute rollups alone, as the planner
 * did for ranges up to 6 h before it compared the cost of both plans: a same-data A/B of that change.
 */
export const statusReadsOnly =
  (config: Config, minuteOnlyUnder6h = false) =>
  async () => {
    const range = resolveRange({ window: '1440' }, config, NOW, 60);
    const reader = rollupsFor({ config, now: NOW });
    const currentMinuteEnd = Math.floor(NOW / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const read = (from: number, to: number, short = false) =>
      reader.read({
        sources: ['probe'],
        from,
        to,
        ...(short && minuteOnlyUnder6h ? { resolution: 'minute' as const } : {}),
      });
    const parts = await Promise.all([
      read(range.from, range.to),
      read(currentMinuteEnd - HOUR_MS, NOW, true),
      read(currentMinuteEnd - 6 * HOUR_MS, NOW, true),
    ]);
    // Attributes per item by resolution: what a read costs grows with them, not only with the items.
    const attributes = { minute: [0, 0], hour: [0, 0] };
    for (const item of parts[0] ?? []) {
      const a = attributes[item.resolution];
      a[0] = (a[0] ?? 0) + 1;
      a[1] = (a[1] ?? 0) + Object.keys(item).length;
    }
    const mean = ([n, sum]: number[]) => ((n ?? 0) > 0 ? (sum ?? 0) / (n ?? 1) : 0);
    return {
      parts,
      items: parts.map((p) => p.length),
      itemsRead: reader.itemsRead,
      queries: reader.queries,
      attributesPerItem: { minute: mean(attributes.minute), hour: mean(attributes.hour) },
    };
  };

/**
 * The (minute or hour) cells a set of reads covers, counted once as the reader memoises identical
 * ranges: label sets × cells bounds the items read, whatever the number of events.
 */
export function cellsRead(ranges: { from: number; to: number; resolution?: 'minute' | 'hour' }[]) {
  const seen = new Set<string>();
  const cells = { minute: 0, hour: 0 };
  for (const range of ranges) {
    for (const segment of planSegments(range.from, range.to, NOW, range.resolution)) {
      const key = `${segment.resolution}|${segment.from}|${segment.to}`;
      if (seen.has(key)) continue;
      seen.add(key);
      cells[segment.resolution] +=
        (segment.to - segment.from) / (segment.resolution === 'minute' ? MINUTE_MS : HOUR_MS);
    }
  }
  return { ...cells, maxItems: LABEL_SETS * (cells.minute + cells.hour) };
}

export function statusCells(config: Config) {
  const range = resolveRange({ window: '1440' }, config, NOW, 60);
  const currentMinuteEnd = Math.floor(NOW / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  return cellsRead([
    range,
    { from: currentMinuteEnd - HOUR_MS, to: NOW },
    { from: currentMinuteEnd - 6 * HOUR_MS, to: NOW },
  ]);
}
