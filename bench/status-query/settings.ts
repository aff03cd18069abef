/** The bench's knobs (environment and first argument), its fixed "now", and how it prints numbers. */

export const intSetting = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name}=${raw}: expected a whole number`);
  return value;
};
export const requestedRaw = process.argv[2] ?? process.env.EVENTS;
/** Events per dataset: a small default that runs in a few minutes; EVENTS=1000000 for the full figures. */
export const EVENTS =
  requestedRaw === undefined || requestedRaw.trim() === ''
    ? 20_000
    : Number(requestedRaw.replaceAll('_', '').replaceAll(',', ''));
if (!(Number.isSafeInteger(EVENTS) && EVENTS >= 10)) {
  throw new Error(`event count ${requestedRaw}: expected a whole number ≥ 10`);
}
/** Label sets of each dataset, one dataset per entry: LABELS=30,300 (300 spreads the calls over 20 regions instead of 2). */
export const LABEL_SET_LIST = (process.env.LABELS ?? '30,300').split(',').map((raw) => {
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`LABELS=${process.env.LABELS}: expected e.g. 30,300`);
  return value;
});
/** `bulk`: BulkLoad (shared/store/bulk-load.ts), batch by batch as writers; `write`: the write path, recordEvents. */
export const LOADER = process.env.LOADER === 'write' ? 'write' : 'bulk';
if (process.env.LOADER !== undefined && !['bulk', 'write'].includes(process.env.LOADER))
  throw new Error(`LOADER=${process.env.LOADER}: expected bulk or write`);
/**
 * Where dynalite keeps the tables (its `path` option), so a later run with the same settings reads them
 * again instead of loading; unset: in memory. RELOAD=1 loads again anyway.
 */
export const DATA_DIR = process.env.DATA_DIR?.trim() || undefined;
export const RELOAD = process.env.RELOAD === '1';
/** With DATA_DIR: rewrite a loaded table's endpoint minutes not compacted yet to the current layout first. */
export const REWRITE_TAIL = process.env.REWRITE_TAIL === '1';
export const RUNS = intSetting('RUNS', 30);
export const WARMUP = intSetting('WARMUP', 5);
export const NAIVE_RUNS = intSetting('NAIVE_RUNS', 3);
/** Runs of the live-rollups baseline (`before`): seconds per call at 1M events and 300 label sets. */
export const BEFORE_RUNS = intSetting('BEFORE_RUNS', RUNS);
export const BATCH = intSetting('BATCH', 500);
export const CONCURRENCY = intSetting('CONCURRENCY', 8);
export const SEED = intSetting('SEED', 1);
export const STORE_MODE = process.env.STORE === 'inprocess' ? 'inprocess' : 'process';
export const STATUS_P95_TARGET_MS = 100;

/** A fixed "now", not on a minute or hour edge, so windows cross both. */
export const NOW = Date.UTC(2026, 10, 27, 12, 34, 56, 789);
export const RETENTION = { retentionDays: 30, rollupRetentionDays: 400 };

export const int = (n: number) => Math.round(n).toLocaleString('en-US');
export const msf = (n: number) => (n >= 1000 ? int(n) : n >= 100 ? n.toFixed(0) : n.toFixed(1));
export const ratio = (a: number, b: number) => `${a / b >= 100 ? int(a / b) : (a / b).toFixed(1)}x`;
export const log = (line = '') => console.log(line);
