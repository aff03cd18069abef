/**
 * Aggregates of rollup items: everything a rollup counts, mergeable by
 * addition, and the figures the read API derives from them. The same code
 * sums one minute or thirty days, so `/status`, `/timeseries` and the SLO
 * numbers always agree.
 */
import { ERROR_TYPES, type ErrorType } from '../events/model.js';
import {
  ROLLUP_COUNTERS as C,
  PHASES,
  type Phase,
  ROLLUP_LAST,
  STATUS_CLASSES,
} from '../store/item-layout.js';
import { LogHistogram, parseBucketAttribute } from './histogram.js';

export type StatusClass = (typeof STATUS_CLASSES)[number];

export interface LastResult {
  ts: number;
  ok: boolean;
  status: number | null;
  errorType: ErrorType | null;
}

export interface Aggregate {
  total: number;
  ok: number;
  simulated: number;
  latencySum: number;
  latency: LogHistogram;
  errors: Record<ErrorType, number>;
  statusClasses: Record<StatusClass, number>;
  tokens: { input: number; output: number; cached: number; reasoning: number; events: number };
  bytes: number;
  cost: { usd: number; pricedEvents: number };
  phases: Record<Phase, { sum: number; n: number }>;
  reused: number;
  last: LastResult | undefined;
}

// Zeroed records copied by emptyAggregate: a cold read makes one aggregate per group of every compact item.
const NO_ERRORS = Object.fromEntries(ERROR_TYPES.map((t) => [t, 0])) as Record<ErrorType, number>;
const NO_STATUS_CLASSES = Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as Record<
  StatusClass,
  number
>;

export function emptyAggregate(): Aggregate {
  const phases = {} as Record<Phase, { sum: number; n: number }>;
  for (const phase of PHASES) phases[phase] = { sum: 0, n: 0 };
  return {
    total: 0,
    ok: 0,
    simulated: 0,
    latencySum: 0,
    latency: new LogHistogram(),
    errors: { ...NO_ERRORS },
    statusClasses: { ...NO_STATUS_CLASSES },
    tokens: { input: 0, output: 0, cached: 0, reasoning: 0, events: 0 },
    bytes: 0,
    cost: { usd: 0, pricedEvents: 0 },
    phases,
    reused: 0,
    last: undefined,
  };
}

const num = (item: Record<string, unknown>, name: string) => {
  const value = item[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
};

function laterLast(a: LastResult | undefined, b: LastResult | undefined): LastResult | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.ts > a.ts ? b : a;
}

/**
 * Where a rollup item read from a compact period carries its figures,
 * already summed: addRollupItem merges them instead of reading attributes.
 */
export const PACKED_AGGREGATE: unique symbol = Symbol('packed aggregate');

/** Adds a rollup item (as read from the table, or from a compact period) to an aggregate. */
export function addRollupItem(
  aggregate: Aggregate,
  item: Record<string, unknown> & { [PACKED_AGGREGATE]?: Aggregate },
): void {
  const packed = item[PACKED_AGGREGATE];
  if (packed) {
    mergeAggregate(aggregate, packed);
    return;
  }
  aggregate.total += num(item, C.count);
  aggregate.ok += num(item, C.ok);
  aggregate.simulated += num(item, C.simulated);
  aggregate.latencySum += num(item, C.latencySum);
  // Straight into this histogram: building one per item first costs more than the rest of the sum.
  for (const [name, value] of Object.entries(item)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) continue;
    const index = parseBucketAttribute(name);
    if (index !== undefined) aggregate.latency.addBucket(index, value);
  }
  for (const type of ERROR_TYPES) aggregate.errors[type] += num(item, `${C.errorPrefix}${type}`);
  for (const cls of STATUS_CLASSES) aggregate.statusClasses[cls] += num(item, `${C.statusPrefix}${cls}`);
  aggregate.tokens.input += num(item, C.inputTokens);
  aggregate.tokens.output += num(item, C.outputTokens);
  aggregate.tokens.cached += num(item, C.cachedTokens);
  aggregate.tokens.reasoning += num(item, C.reasoningTokens);
  aggregate.tokens.events += num(item, C.usageCount);
  aggregate.bytes += num(item, C.bytes);
  aggregate.cost.usd += num(item, C.cost);
  aggregate.cost.pricedEvents += num(item, C.costCount);
  for (const phase of PHASES) {
    aggregate.phases[phase].sum += num(item, `${C.phasePrefix}${phase}`);
    aggregate.phases[phase].n += num(item, `${C.phasePrefix}${phase}_n`);
  }
  aggregate.reused += num(item, C.reused);
  if (typeof item[ROLLUP_LAST.ts] === 'number') {
    const status = num(item, ROLLUP_LAST.status);
    const errorType = item[ROLLUP_LAST.errorType];
    aggregate.last = laterLast(aggregate.last, {
      ts: item[ROLLUP_LAST.ts] as number,
      ok: item[ROLLUP_LAST.ok] === true,
      status: status > 0 ? status : null,
      errorType: typeof errorType === 'string' && errorType !== '' ? (errorType as ErrorType) : null,
    });
  }
}

/** Adds `other` into `target`. */
export function mergeAggregate(target: Aggregate, other: Aggregate): Aggregate {
  target.total += other.total;
  target.ok += other.ok;
  target.simulated += other.simulated;
  target.latencySum += other.latencySum;
  target.latency.merge(other.latency);
  for (const type of ERROR_TYPES) target.errors[type] += other.errors[type];
  for (const cls of STATUS_CLASSES) target.statusClasses[cls] += other.statusClasses[cls];
  for (const key of ['input', 'output', 'cached', 'reasoning', 'events'] as const)
    target.tokens[key] += other.tokens[key];
  target.bytes += other.bytes;
  target.cost.usd += other.cost.usd;
  target.cost.pricedEvents += other.cost.pricedEvents;
  for (const phase of PHASES) {
    target.phases[phase].sum += other.phases[phase].sum;
    target.phases[phase].n += other.phases[phase].n;
  }
  target.reused += other.reused;
  target.last = laterLast(target.last, other.last);
  return target;
}

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The figures of an aggregate as the API returns them; rates and latencies are null when there is no data. */
export function summarize(aggregate: Aggregate) {
  const [p50, p95, p99] = aggregate.latency.quantiles([0.5, 0.95, 0.99]);
  const nonZero = <K extends string>(record: Record<K, number>) =>
    Object.fromEntries(Object.entries(record).filter(([, n]) => (n as number) > 0)) as Partial<
      Record<K, number>
    >;
  return {
    total: aggregate.total,
    ok: aggregate.ok,
    failed: aggregate.total - aggregate.ok,
    successRate: aggregate.total > 0 ? aggregate.ok / aggregate.total : null,
    latencyMs: {
      p50: p50 === undefined ? null : round(p50),
      p95: p95 === undefined ? null : round(p95),
      p99: p99 === undefined ? null : round(p99),
      mean: aggregate.total > 0 ? round(aggregate.latencySum / aggregate.total) : null,
    },
    errors: nonZero(aggregate.errors),
    statusClasses: nonZero(aggregate.statusClasses),
    tokens: {
      input: aggregate.tokens.input,
      output: aggregate.tokens.output,
      cached: aggregate.tokens.cached,
      reasoning: aggregate.tokens.reasoning,
    },
    costUsd: round(aggregate.cost.usd, 9),
    /** Events whose cost could be estimated (the others used a model with no price). */
    pricedEvents: aggregate.cost.pricedEvents,
    responseBytes: aggregate.bytes,
    phasesMs: Object.fromEntries(
      PHASES.map((phase) => {
        const { sum, n } = aggregate.phases[phase];
        return [phase, n > 0 ? round(sum / n) : null];
      }),
    ) as Record<Phase, number | null>,
    reusedConnections: aggregate.reused,
    simulated: aggregate.simulated,
    last: aggregate.last ?? null,
  };
}

export type Summary = ReturnType<typeof summarize>;
