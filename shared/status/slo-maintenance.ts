/**
 * SLO figures with maintenance left out (SLO_EXCLUDE_MAINTENANCE=1): the
 * executions of the minutes wholly inside a maintenance window covering an
 * endpoint are read from the same rollups as the figures themselves (compact
 * items where the period is closed, live minutes otherwise) and subtracted
 * from the range's counts. Every SLO figure is a sum, so the subtraction is
 * exact, and its cost is a few items per window occurrence in the range,
 * whatever the traffic. /status and the burn-rate alert rules share this.
 */
import { type MaintenanceSpan, maintenanceSpans } from '../alerts/maintenance.js';
import type { MaintenanceWindow } from '../alerts/model.js';
import { ERROR_TYPES, type ErrorType } from '../events/model.js';
import type { Aggregate } from '../stats/aggregate.js';
import { readSpan } from '../store/rollups.js';

/** What an SLO figure counts: executions, the good ones, and the failures by type (some are excluded). */
export interface SloCounts {
  total: number;
  ok: number;
  errors: Record<ErrorType, number>;
}

const zero = (): SloCounts => ({
  total: 0,
  ok: 0,
  errors: Object.fromEntries(ERROR_TYPES.map((t) => [t, 0])) as Record<ErrorType, number>,
});

function add(into: SloCounts, counts: SloCounts): void {
  into.total += counts.total;
  into.ok += counts.ok;
  for (const type of ERROR_TYPES) into.errors[type] += counts.errors[type];
}

/** `counts` less `removed` (a part of it). */
export function withoutCounts(counts: SloCounts, removed: SloCounts | undefined): SloCounts {
  if (!removed) return counts;
  const left = zero();
  left.total = counts.total - removed.total;
  left.ok = counts.ok - removed.ok;
  for (const type of ERROR_TYPES) left.errors[type] = counts.errors[type] - removed.errors[type];
  return left;
}

/** Reads per endpoint the figures of [from, to) (minute-aligned), through the caller's rollup reader. */
export type ReadGroups = (from: number, to: number) => Promise<Map<string, Aggregate>>;

/**
 * Per endpoint, the counts of the maintenance minutes within what a read of
 * [from, to) at `now` covers: one rollup read per span (the minutes the same
 * windows cover), each span's figures counted for the endpoints its windows
 * cover. Nothing is read when no window falls in the range.
 */
export async function maintenanceCounts(
  windows: readonly MaintenanceWindow[],
  range: { from: number; to: number; now: number },
  readGroups: ReadGroups,
): Promise<{ byEndpoint: Map<string, SloCounts>; spans: MaintenanceSpan[] }> {
  const { start, end } = readSpan(range.from, range.to, range.now);
  const spans = maintenanceSpans(windows, start, end);
  const byEndpoint = new Map<string, SloCounts>();
  const parts = await Promise.all(
    // `to - 1`: a read of [from, to - 1] covers exactly the span's minutes (readSpan).
    spans.map(async (span) => ({ span, groups: await readGroups(span.from, span.to - 1) })),
  );
  for (const { span, groups } of parts) {
    for (const [endpoint, aggregate] of groups) {
      if (span.endpoints && !span.endpoints.has(endpoint)) continue;
      let counts = byEndpoint.get(endpoint);
      if (!counts) {
        counts = zero();
        byEndpoint.set(endpoint, counts);
      }
      add(counts, aggregate);
    }
  }
  return { byEndpoint, spans };
}

/** The sum of every endpoint's counts. */
export function totalCounts(groups: Iterable<SloCounts>): SloCounts {
  const all = zero();
  for (const counts of groups) add(all, counts);
  return all;
}

/** The definition /status and the alerts overview state, for the setting in force. */
export function maintenanceDefinition(excluded: boolean): string {
  return excluded
    ? 'Left out of the SLO (SLO_EXCLUDE_MAINTENANCE=1): the minutes wholly inside a maintenance window covering the endpoint count neither as good nor as valid in the SLI, the error budget and the burn rates (and the burn-rate alert rules); maintenanceExcluded gives the executions left out of the window. Success rate and latency keep them.'
    : 'Counted (SLO_EXCLUDE_MAINTENANCE=0, the default): executions during maintenance windows count in the SLO like any others. Set SLO_EXCLUDE_MAINTENANCE=1 to leave the minutes wholly inside a window out of the SLI, error budget and burn rates.';
}
