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

/** Minutes [from, to) (minute-aligned) that the same maintenance windows cover wholly; `endpoints` undefined: every endpoint. */
export interface MaintenanceSpan {
  from: number;
  to: number;
  endpoints: ReadonlySet<string> | undefined;
}

/**
 * The minutes of [from, to) that lie wholly inside an occurrence of a window,
 * cut where the set of covering windows changes, so that each minute is in
 * one span only (overlapping windows never take a minute out twice). A
 * minute only partly covered stays in: a window from 10:00:30 to 10:05 covers
 * 10:01 to 10:04. `from` and `to` are minute-aligned.
 */
export function maintenanceSpans(
  windows: readonly MaintenanceWindow[],
  from: number,
  to: number,
): MaintenanceSpan[] {
  const covered = windows
    .flatMap((w) => occurrences(w, from, to))
    .map((o) => ({
      from: Math.max(from, Math.ceil(o.start / MINUTE_MS) * MINUTE_MS),
      to: Math.min(to, Math.floor(o.end / MINUTE_MS) * MINUTE_MS),
      endpoints: o.endpoints,
    }))
    .filter((o) => o.from < o.to);
  const edges = [...new Set(covered.flatMap((o) => [o.from, o.to]))].sort((a, b) => a - b);
  const spans: MaintenanceSpan[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const [start, end] = [edges[i] as number, edges[i + 1] as number];
    const over = covered.filter((o) => o.from <= start && o.to >= end);
    if (over.length === 0) continue;
    const endpoints = over.some((o) => o.endpoints === undefined)
      ? undefined
      : new Set(over.flatMap((o) => o.endpoints ?? []));
    const last = spans.at(-1);
    if (last && last.to === start && sameEndpoints(last.endpoints, endpoints)) last.to = end;
    else spans.push({ from: start, to: end, endpoints });
  }
  return spans;
}

function sameEndpoints(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && [...a].every((e) => b.has(e));
}
