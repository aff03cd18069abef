/**
 * Maintenance windows: when one covers an endpoint, its alert rules still
 * change state (and the transitions are recorded) but notify no one. A
 * window is one-off ([start, end)) or recurring (daily or on some week days,
 * at a UTC time for a duration, from `start` until `end` if given).
 */
import { DAY_MS, MINUTE_MS } from '../store/keys.js';
import type { MaintenanceWindow } from './model.js';

export interface Occurrence {
  windowId: string;
  title: string;
  start: number;
  end: number;
  endpoints?: string[] | undefined;
}

/** The occurrences of a window that overlap [from, to), oldest first. */
export function occurrences(window: MaintenanceWindow, from: number, to: number): Occurrence[] {
  const base = { windowId: window.id, title: window.title, endpoints: window.endpoints };
  const recurrence = window.recurrence;
  if (!recurrence) {
    const end = window.end ?? window.start;
    return window.start < to && end > from ? [{ ...base, start: window.start, end }] : [];
  }
  const [hh, mm] = recurrence.at.split(':').map(Number) as [number, number];
  const duration = recurrence.durationMinutes * MINUTE_MS;
  const found: Occurrence[] = [];
  // A day's occurrence may reach into the next day: start one day (the longest duration) earlier.
  for (let day = Math.floor((from - DAY_MS) / DAY_MS) * DAY_MS; day < to; day += DAY_MS) {
    const start = day + hh * 3_600_000 + mm * MINUTE_MS;
    const end = start + duration;
    // Recurring from `start` (the first occurrence at or after it) until `end`.
    if (start < window.start || (window.end !== undefined && start >= window.end)) continue;
    const weekday = new Date(day).getUTCDay();
    if (recurrence.every === 'week' && !recurrence.weekdays?.includes(weekday)) continue;
    if (start < to && end > from) found.push({ ...base, start, end });
  }
  return found;
}

/** The window covering `endpoint` at `ts`, if any. */
export function activeWindow(
  windows: readonly MaintenanceWindow[],
  ts: number,
  endpoint: string,
): MaintenanceWindow | undefined {
  return windows.find(
    (w) =>
      (w.endpoints === undefined || w.endpoints.includes(endpoint)) && occurrences(w, ts, ts + 1).length > 0,
  );
}
