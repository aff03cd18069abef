/**
 * The conditions of alert rules, computed from rollup figures only: one
 * evaluation reads each distinct window once per source through the rollup
 * reader (compact periods where closed, live rollups for the last minutes),
 * so its cost depends on the windows the rules use, not on traffic nor on
 * how many rules share a window. Burn rates are the SLO view's (status.ts).
 */
import type { Config } from '../config.js';
import type { Source } from '../events/model.js';
import { type Aggregate, emptyAggregate } from '../stats/aggregate.js';
import { maintenanceCounts, type SloCounts, withoutCounts } from '../status/slo-maintenance.js';
import { burnRate, byEndpoint } from '../status/status.js';
import { floorTo, MINUTE_MS } from '../store/keys.js';
import type { Rollups } from '../store/rollups.js';
import type { Condition, MaintenanceWindow } from './model.js';

/** Runs and failures of one minute of one endpoint. */
interface MinuteRuns {
  runs: number;
  failed: number;
}

/**
 * The figures of one evaluation, read lazily and shared by every rule: a
 * window of N minutes ending now per source, and per-minute runs over the
 * longest lookback a rule asks for.
 */
export class EvaluationFigures {
  private readonly windows = new Map<string, Promise<Map<string, Aggregate>>>();
  private readonly series = new Map<Source, Promise<Map<string, Map<number, MinuteRuns>>>>();
  private readonly sloWindows = new Map<string, Promise<Map<string, SloCounts>>>();

  constructor(
    private readonly reader: Rollups,
    private readonly now: number,
    /** The longest consecutive-failures lookback per source: its minutes are read once. */
    private readonly lookback: ReadonlyMap<Source, number>,
    /** Maintenance windows whose minutes the SLO leaves out (SLO_EXCLUDE_MAINTENANCE=1); empty: none. */
    private readonly sloMaintenance: readonly MaintenanceWindow[] = [],
  ) {}

  /** The range `window(source, minutes)` reads. */
  private windowRange(minutes: number): { from: number; to: number } {
    const end = floorTo(this.now, MINUTE_MS) + MINUTE_MS;
    return { from: end - minutes * MINUTE_MS, to: this.now + 1 };
  }

  /** Per endpoint, the last `minutes` minutes (the current one included). */
  window(source: Source, minutes: number): Promise<Map<string, Aggregate>> {
    const key = `${source}#${minutes}`;
    let pending = this.windows.get(key);
    if (!pending) {
      pending = this.reader.read({ sources: [source], ...this.windowRange(minutes) }).then(byEndpoint);
      this.windows.set(key, pending);
    }
    return pending;
  }

  /**
   * Per endpoint, what the SLO counts over the last `minutes` minutes: the
   * window's executions, less those in maintenance minutes when the SLO leaves them out.
   */
  sloWindow(source: Source, minutes: number): Promise<Map<string, SloCounts>> {
    const key = `${source}#${minutes}`;
    let pending = this.sloWindows.get(key);
    if (!pending) {
      pending = (async () => {
        const groups: Map<string, SloCounts> = await this.window(source, minutes);
        if (this.sloMaintenance.length === 0) return groups;
        const { byEndpoint: out } = await maintenanceCounts(
          this.sloMaintenance,
          { ...this.windowRange(minutes), now: this.now },
          async (from, to) => byEndpoint(await this.reader.read({ sources: [source], from, to })),
        );
        return new Map(
          [...groups].map(([endpoint, counts]) => [endpoint, withoutCounts(counts, out.get(endpoint))]),
        );
      })();
      this.sloWindows.set(key, pending);
    }
    return pending;
  }

  /** Per endpoint, minute start → runs and failures, over the source's longest lookback. */
  minutes(source: Source): Promise<Map<string, Map<number, MinuteRuns>>> {
    let pending = this.series.get(source);
    if (!pending) {
      const minutes = this.lookback.get(source) ?? 60;
      const end = floorTo(this.now, MINUTE_MS) + MINUTE_MS;
      pending = this.reader
        .read({ sources: [source], from: end - minutes * MINUTE_MS, to: this.now + 1, bucketMs: MINUTE_MS })
        .then(byEndpointAndMinute);
      this.series.set(source, pending);
    }
    return pending;
  }

  /** Endpoints with data in what has been read for `source` so far, for rules on every endpoint. */
  async endpoints(source: Source, condition: Condition): Promise<string[]> {
    const groups =
      condition.kind === 'consecutive_failures'
        ? await this.minutes(source)
        : await this.window(source, windowOf(condition));
    return [...groups.keys()].sort();
  }
}

/** The window whose endpoints a rule on every endpoint covers. */
function windowOf(condition: Condition): number {
  if (condition.kind === 'burn_rate') return Math.max(condition.fast.longMinutes, condition.slow.longMinutes);
  if (condition.kind === 'latency') return condition.windowMinutes;
  return condition.lookbackMinutes;
}

function byEndpointAndMinute(items: Parameters<typeof byEndpoint>[0]): Map<string, Map<number, MinuteRuns>> {
  const groups = new Map<string, Map<number, MinuteRuns>>();
  for (const [key, aggregate] of byEndpoint(
    items.map((item) => ({ ...item, endpoint: `${item.bucketStart}\u0000${item.endpoint}` })),
  )) {
    const [minute, endpoint] = key.split('\u0000') as [string, string];
    let minutes = groups.get(endpoint);
    if (!minutes) {
      minutes = new Map();
      groups.set(endpoint, minutes);
    }
    minutes.set(Number(minute), { runs: aggregate.total, failed: aggregate.total - aggregate.ok });
  }
  return groups;
}

export interface Verdict {
  /** The condition holds now. */
  breaching: boolean;
  /** A firing rule may resolve (for most conditions: not breaching). */
  recovered: boolean;
  value: Record<string, number | null>;
  summary: string;
}

/** The newest minutes holding at least `want` runs (whole minutes), summed. */
function newestRuns(minutes: Map<number, MinuteRuns> | undefined, want: number): MinuteRuns {
  const sum = { runs: 0, failed: 0 };
  if (!minutes) return sum;
  for (const minute of [...minutes.keys()].sort((a, b) => b - a)) {
    const runs = minutes.get(minute) as MinuteRuns;
    sum.runs += runs.runs;
    sum.failed += runs.failed;
    if (sum.runs >= want) break;
  }
  return sum;
}

const round = (value: number | null, digits = 3) =>
  value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;

export async function evaluateCondition(
  condition: Condition,
  target: { source: Source; endpoint: string },
  figures: EvaluationFigures,
  config: Pick<Config, 'sloTarget' | 'sloExcludeErrors'>,
): Promise<Verdict> {
  const { source, endpoint } = target;
  switch (condition.kind) {
    case 'consecutive_failures': {
      const minutes = (await figures.minutes(source)).get(endpoint);
      const last = newestRuns(minutes, condition.outOf);
      // "N of the last M runs": exact when the newest minutes hold M runs; as a share when they hold more.
      // And failing now: a rule resolved by a run of successes does not fire again on the failures before them.
      const breaching =
        last.runs >= condition.outOf &&
        last.failed * condition.outOf >= condition.failures * last.runs &&
        newestRuns(minutes, 1).failed > 0;
      const recent = newestRuns(minutes, condition.recoverAfter);
      return {
        breaching,
        recovered: recent.runs >= condition.recoverAfter && recent.failed === 0,
        value: { runs: last.runs, failed: last.failed },
        summary: `${last.failed} of the last ${last.runs} runs failed (fires at ${condition.failures} of ${condition.outOf})`,
      };
    }
    case 'burn_rate': {
      const objective = condition.objectivePercent ?? config.sloTarget;
      const rate = async (minutes: number) =>
        burnRate(
          (await figures.sloWindow(source, minutes)).get(endpoint) ?? emptyAggregate(),
          objective,
          config.sloExcludeErrors,
        );
      const pair = async (w: { longMinutes: number; shortMinutes: number; factor: number }) => {
        const [long, short] = await Promise.all([rate(w.longMinutes), rate(w.shortMinutes)]);
        return {
          long,
          short,
          over: long !== null && short !== null && long >= w.factor && short >= w.factor,
        };
      };
      const [fast, slow] = await Promise.all([pair(condition.fast), pair(condition.slow)]);
      const breaching = fast.over || slow.over;
      const f = condition.fast;
      const s = condition.slow;
      return {
        breaching,
        recovered: !breaching,
        value: {
          fastLong: round(fast.long),
          fastShort: round(fast.short),
          slowLong: round(slow.long),
          slowShort: round(slow.short),
        },
        summary:
          `burn rate ${round(fast.long)}× over ${f.longMinutes} min and ${round(fast.short)}× over ${f.shortMinutes} min (fast pair fires at ${f.factor}×); ` +
          `${round(slow.long)}× over ${s.longMinutes} min and ${round(slow.short)}× over ${s.shortMinutes} min (slow pair at ${s.factor}×); objective ${objective}%`,
      };
    }
    case 'latency': {
      const aggregate = (await figures.window(source, condition.windowMinutes)).get(endpoint);
      const samples = aggregate?.total ?? 0;
      const p95 = samples >= condition.minSamples ? (aggregate?.latency.quantile(0.95) ?? null) : null;
      const breaching = p95 !== null && p95 > condition.thresholdMs;
      return {
        breaching,
        recovered: !breaching,
        value: { p95Ms: round(p95, 1), samples },
        summary:
          p95 === null
            ? `fewer than ${condition.minSamples} executions in the last ${condition.windowMinutes} min`
            : `p95 ${round(p95, 1)} ms over the last ${condition.windowMinutes} min (threshold ${condition.thresholdMs} ms)`,
      };
    }
  }
}
