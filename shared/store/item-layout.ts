/**
 * The layout of the write path's items, shared by the writer
 * (shared/store/events.ts) and every reader (rollup reads, compaction,
 * aggregation, incident detection): attribute names of rollup items and of
 * pending events, and how long a pending claim lasts. Kept apart from the
 * writer so the read functions do not bundle the write path.
 */

/**
 * How long a claim protects a pending event. Longer than any function that
 * writes events runs (probe 60 s, ingest 29 s: shared/routes.ts), so a claim
 * this old belongs to a writer that is gone.
 */
export const WRITE_LEASE_MS = 2 * 60_000;

/** Attributes of a pending event; a committed event has none of them. */
export const PENDING = {
  owner: 'wb',
  since: 'wbAt',
  /** Resolutions whose rollups are known to include the event already (set when adopted). */
  counted: 'wbDone',
} as const;

/**
 * The names of the counters in a rollup item. Every counter is a plain
 * top-level number, because ADD cannot create a path inside a missing map.
 */
export const ROLLUP_COUNTERS = {
  count: 'n',
  ok: 'ok',
  /** Events recorded against the simulator. */
  simulated: 'sim',
  latencySum: 'lat',
  errorPrefix: 'e_',
  statusPrefix: 's_',
  inputTokens: 'tin',
  outputTokens: 'tout',
  cachedTokens: 'tcached',
  reasoningTokens: 'treason',
  /** Events that reported usage. */
  usageCount: 'tn',
  bytes: 'bytes',
  cost: 'cost',
  /** Events with a cost estimate (the rest had no price). */
  costCount: 'costn',
  /** Phase `x` adds `p_x` (sum of ms) and `p_x_n` (events that had it). */
  phasePrefix: 'p_',
  reused: 'reused',
} as const;

export const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer', 'ttft'] as const;
export type Phase = (typeof PHASES)[number];

export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'none'] as const;

export function statusClass(status: number | undefined): (typeof STATUS_CLASSES)[number] {
  if (status === undefined || status < 200 || status >= 600) return 'none';
  return `${Math.floor(status / 100)}xx` as '2xx' | '3xx' | '4xx' | '5xx';
}

/** The latest result in a rollup, for "last result" without reading raw events. */
export const ROLLUP_LAST = {
  ts: 'lastTs',
  ok: 'lastOk',
  status: 'lastStatus',
  errorType: 'lastError',
} as const;
