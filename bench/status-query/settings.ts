/** The bench's knobs (environment and first argument), its fixed "now", and how it prints numbers. */

export const intSetting = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name}=${raw}: expected a whole number`);
  return value;
};
export const requestedRaw = process.argv[2] ?? process.env.EVENTS;
export const REQUESTED =
  requestedRaw === undefined || requestedRaw.trim() === ''
    ? undefined
    : Number(requestedRaw.replaceAll('_', '').replaceAll(',', ''));
if (REQUESTED !== undefined && !(Number.isSafeInteger(REQUESTED) && REQUESTED >= 10)) {
  throw new Error(`event count ${requestedRaw}: expected a whole number ≥ 10`);
}
export const FULL = 1_000_000;
export const MIN_FALLBACK = 200_000;
export const LOAD_BUDGET_S = intSetting('LOAD_BUDGET_S', 300);
export const CALIBRATION_EVENTS = 20_000;
export const RUNS = intSetting('RUNS', 30);
export const WARMUP = intSetting('WARMUP', 5);
export const NAIVE_RUNS = intSetting('NAIVE_RUNS', 3);
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
