/**
 * `/status`: per endpoint and overall, over a window, from rollups only:
 * volumes, success rate, latency percentiles, error types, last result,
 * tokens and cost, mean phase times, and the SLO view (SLI, error budget,
 * burn rates over 1 h and 6 h). The answer carries the definitions it used.
 */
import { MAX_MAINTENANCE_WINDOWS } from '../alerts/model.js';
import type { Config } from '../config.js';
import type { ErrorType } from '../events/model.js';
import {
  type Aggregate,
  addRollupItem,
  emptyAggregate,
  mergeAggregate,
  PACKED_AGGREGATE,
  summarize,
} from '../stats/aggregate.js';
import { listMaintenance } from '../store/alerts.js';
import { HOUR_MS, MINUTE_MS } from '../store/keys.js';
import { type RollupItem, readCost, rollupsFor } from '../store/rollups.js';
import type { Filters, TimeRange } from './params.js';
import {
  maintenanceCounts,
  maintenanceDefinition,
  type SloCounts,
  totalCounts,
  withoutCounts,
} from './slo-maintenance.js';

const DEFINITIONS = {
  successRate: 'ok / all executions in the window; every failure counts, whatever its type.',
  latency:
    'Request start to the last body byte. Percentiles come from log-bucket histograms merged across rollups: within 1% of the exact value.',
  sli: 'good / valid over the window: valid = all executions minus those whose error type is in excludedErrors; good = ok.',
  errorBudgetRemaining:
    '1 − (1 − SLI) / (1 − objective): 1 = untouched, 0 = spent, negative = overspent. Null without valid executions.',
  burnRate:
    '(1 − SLI over the period) / (1 − objective): 1 spends the budget exactly over the SLO period; 14.4 over 1 h is the usual page threshold.',
  phases:
    'Mean ms per phase over the executions that had it (a reused connection has no DNS, connect or TLS).',
  costUsd:
    'Estimated from token counts and the price table (see /config); calls of models without a price are not included.',
} as const;

export interface SloFigures {
  good: number;
  valid: number;
  sli: number | null;
  errorBudgetRemaining: number | null;
}

/** SLI and error budget of an aggregate's counts, leaving out the excluded error types. */
function sloOf(aggregate: SloCounts, objectivePercent: number, excluded: readonly ErrorType[]): SloFigures {
  const excludedCount = excluded.reduce((sum, type) => sum + aggregate.errors[type], 0);
  const valid = aggregate.total - excludedCount;
  const good = aggregate.ok;
  const budget = 1 - objectivePercent / 100;
  const sli = valid > 0 ? good / valid : null;
  return { good, valid, sli, errorBudgetRemaining: sli === null ? null : 1 - (1 - sli) / budget };
}

export function burnRate(
  aggregate: SloCounts,
  objectivePercent: number,
  excluded: readonly ErrorType[],
): number | null {
  const { sli } = sloOf(aggregate, objectivePercent, excluded);
  return sli === null ? null : (1 - sli) / (1 - objectivePercent / 100);
}

/**
 * The rollup items' figures summed per endpoint. With `parsed`, an item read
 * live has its attributes parsed once however many sums it goes into.
 */
export function byEndpoint(
  items: readonly RollupItem[],
  parsed?: WeakMap<RollupItem, Aggregate>,
): Map<string, Aggregate> {
  const groups = new Map<string, Aggregate>();
  for (const item of items) {
    let aggregate = groups.get(item.endpoint);
    if (!aggregate) {
      aggregate = emptyAggregate();
      groups.set(item.endpoint, aggregate);
    }
    if (parsed && item[PACKED_AGGREGATE] === undefined) {
      let figures = parsed.get(item);
      if (!figures) {
        figures = emptyAggregate();
        addRollupItem(figures, item);
        parsed.set(item, figures);
      }
      mergeAggregate(aggregate, figures);
    } else addRollupItem(aggregate, item);
  }
  return groups;
}

/** Everything in the groups together: exact, since every figure is a sum. */
function total(groups: Map<string, Aggregate>): Aggregate {
  const all = emptyAggregate();
  for (const aggregate of groups.values()) mergeAggregate(all, aggregate);
  return all;
}

export async function computeStatus(input: {
  config: Config;
  range: TimeRange;
  filters: Filters;
  now: number;
}) {
  const { config, range, filters, now } = input;
  const reader = rollupsFor(input);
  const read = (from: number, to: number) =>
    reader.read({ sources: filters.sources, from, to, filter: filters.filter });
  // One small Query, only when the setting asks for it.
  const windows = config.sloExcludeMaintenance
    ? listMaintenance(config.tableName, MAX_MAINTENANCE_WINDOWS)
    : undefined;
  const currentMinuteEnd = Math.floor(now / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  // Widest range first: the reader cuts the narrower ones out of what it has already asked for.
  const ranges: [number, number][] = [
    [range.from, range.to],
    [currentMinuteEnd - HOUR_MS, now],
    [currentMinuteEnd - 6 * HOUR_MS, now],
  ];
  const order = [0, 1, 2].sort((a, b) => {
    const [fa, ta] = ranges[a] as [number, number];
    const [fb, tb] = ranges[b] as [number, number];
    return tb - fb - (ta - fa);
  });
  const pending: Promise<RollupItem[]>[] = [];
  for (const i of order) {
    const [from, to] = ranges[i] as [number, number];
    pending[i] = read(from, to);
  }
  const [loaded, maintenance] = await Promise.all([Promise.all(pending), windows ?? []]);
  const [windowItems, hourItems, sixHourItems] = loaded as [RollupItem[], RollupItem[], RollupItem[]];

  // The minutes read live (those after the compaction horizon) are in all three answers.
  const parsed = new WeakMap<RollupItem, Aggregate>();
  const windowGroups = byEndpoint(windowItems, parsed);
  const hourGroups = byEndpoint(hourItems, parsed);
  const sixHourGroups = byEndpoint(sixHourItems, parsed);
  const objective = config.sloTarget;
  const excluded = config.sloExcludeErrors;

  // Per range, the counts of the maintenance minutes in it, taken out of the SLO figures (none when the setting is off).
  // Read after the ranges themselves: the reader cuts what it can out of what it has already read.
  const readGroups = async (from: number, to: number) => byEndpoint(await read(from, to), parsed);
  const [windowOut, hourOut, sixHourOut] = (await Promise.all(
    ranges.map(async ([from, to]) =>
      maintenance.length === 0
        ? new Map<string, SloCounts>()
        : (
            await maintenanceCounts(maintenance, { from, to, now }, readGroups)
          ).byEndpoint,
    ),
  )) as [Map<string, SloCounts>, Map<string, SloCounts>, Map<string, SloCounts>];

  const view = (
    window: Aggregate,
    hour: Aggregate,
    sixHours: Aggregate,
    out: [SloCounts | undefined, SloCounts | undefined, SloCounts | undefined],
  ) => ({
    ...summarize(window),
    slo: {
      ...sloOf(withoutCounts(window, out[0]), objective, excluded),
      burnRate: {
        '1h': burnRate(withoutCounts(hour, out[1]), objective, excluded),
        '6h': burnRate(withoutCounts(sixHours, out[2]), objective, excluded),
      },
      /** Executions of the window left out as maintenance (SLO_EXCLUDE_MAINTENANCE=1); 0 otherwise. */
      maintenanceExcluded: out[0]?.total ?? 0,
    },
  });

  const endpoints = [...new Set([...windowGroups.keys()])].sort().map((endpoint) => ({
    endpoint,
    ...view(
      windowGroups.get(endpoint) ?? emptyAggregate(),
      hourGroups.get(endpoint) ?? emptyAggregate(),
      sixHourGroups.get(endpoint) ?? emptyAggregate(),
      [windowOut.get(endpoint), hourOut.get(endpoint), sixHourOut.get(endpoint)],
    ),
  }));
  const overallWindow = total(windowGroups);
  const overall = view(overallWindow, total(hourGroups), total(sixHourGroups), [
    totalCounts(windowOut.values()),
    totalCounts(hourOut.values()),
    totalCounts(sixHourOut.values()),
  ]);

  return {
    generatedAt: now,
    window: {
      from: range.from,
      to: range.to,
      minutes: range.windowMinutes ?? Math.ceil((range.to - range.from) / MINUTE_MS),
    },
    filters: filters.echo,
    upstream: config.upstream,
    /** Share of the window's executions that were made against the simulator. */
    simulatedShare: overallWindow.total > 0 ? overallWindow.simulated / overallWindow.total : null,
    slo: {
      objectivePercent: objective,
      excludedErrors: excluded,
      /** SLO_EXCLUDE_MAINTENANCE: maintenance minutes left out of the SLO figures. */
      excludeMaintenance: config.sloExcludeMaintenance,
    },
    overall,
    endpoints,
    definitions: { ...DEFINITIONS, maintenance: maintenanceDefinition(config.sloExcludeMaintenance) },
    meta: readCost(reader),
  };
}

export type StatusAnswer = Awaited<ReturnType<typeof computeStatus>>;
