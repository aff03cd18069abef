/**
 * `/incidents`: declared incidents (incidents.json), detected ones (from
 * rollups) and maintenance windows in one list, newest first; and replacing
 * the declared ones.
 *
 * Detection reads minute rollups for ranges up to 48 h. Longer ranges read
 * hour rollups instead, so a read stays bounded (at most one item per hour,
 * endpoint, model and region): there a single breaching measured hour is a
 * run, and consecutive breaching hours make one incident.
 */

import { occurrences } from '../alerts/maintenance.js';
import { MAX_MAINTENANCE_WINDOWS } from '../alerts/model.js';
import type { Config } from '../config.js';
import { validate } from '../http/problem.js';
import type { Filters, TimeRange } from '../status/params.js';
import { listMaintenance } from '../store/alerts.js';
import { HOUR_MS, MINUTE_MS } from '../store/keys.js';
import { rollupsFor } from '../store/rollups.js';
import {
  DEFAULT_MAX_GAP_MS,
  DEFAULT_ONGOING_MS,
  type DetectedIncident,
  detectIncidents,
  samplesFromRollups,
} from './detect.js';
import { type DeclaredIncident, declaredIncidentsSchema } from './schema.js';
import { INCIDENTS_KEY, readDeclaredIncidents, writeDeclaredIncidents } from './store.js';

/** Ranges up to this long are scanned minute by minute; longer ones by hour. */
const MINUTE_DETECTION_MAX_MS = 48 * HOUR_MS;

export type DeclaredItem = Omit<DeclaredIncident, 'end'> & { kind: 'declared'; end: number | null };
/** An occurrence of a maintenance window (shared/alerts/maintenance.ts) overlapping the range. */
export interface MaintenanceItem {
  kind: 'maintenance';
  id: string;
  title: string;
  start: number;
  end: number;
  endpoints?: string[] | undefined;
}
export type IncidentItem = DeclaredItem | DetectedIncident | MaintenanceItem;

const DETECTION_DEFINITION =
  'An endpoint (all models and regions of the selected sources) is in incident while, for at least minMinutes ' +
  'consecutive measured minutes, its success rate is below successRatePercent or its p95 latency above p95Ms. ' +
  'Minutes without executions neither break nor extend a run; more than 30 minutes without any ends it. ' +
  'Ranges over 48 h use hour rollups: one breaching measured hour is enough, and consecutive ones make one incident.';

/** Declared incidents that overlap [from, to] and, with an endpoint filter, concern one of those endpoints. */
function selectDeclared(
  incidents: readonly DeclaredIncident[],
  range: { from: number; to: number },
  endpoints: readonly string[] | undefined,
): DeclaredItem[] {
  return incidents
    .filter((i) => i.start <= range.to && (i.end ?? Number.POSITIVE_INFINITY) >= range.from)
    .filter((i) => !endpoints || !i.endpoints || i.endpoints.some((e) => endpoints.includes(e)))
    .map((i) => ({ kind: 'declared', ...i, end: i.end ?? null }));
}

/** Newest start first; at equal starts declared before detected, then by id. */
function byStartDescending(a: IncidentItem, b: IncidentItem): number {
  return (
    b.start - a.start ||
    (a.kind === b.kind ? 0 : a.kind === 'declared' ? -1 : 1) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export async function computeIncidents(input: {
  config: Config;
  range: TimeRange;
  filters: Filters;
  now: number;
}) {
  const { config, range, filters, now } = input;
  const hourly = range.to - range.from > MINUTE_DETECTION_MAX_MS;
  const bucketMs = hourly ? HOUR_MS : MINUTE_MS;
  const minBuckets = hourly ? 1 : config.incidents.minMinutes;
  const reader = rollupsFor(input);
  const [items, declared] = await Promise.all([
    reader.read({
      sources: filters.sources,
      from: range.from,
      to: range.to,
      filter: filters.filter,
      resolution: hourly ? 'hour' : 'minute',
    }),
    readDeclaredIncidents(config.artifactsBucket),
  ]);
  // After the rollups: a range the reader refuses sends no Query at all.
  const windows = await listMaintenance(config.tableName, MAX_MAINTENANCE_WINDOWS);
  // Compact periods inside an hour (blocks, minutes) count towards their hour's sample.
  const samples = samplesFromRollups(
    hourly
      ? items.map((item) => ({ ...item, bucketStart: Math.floor(item.bucketStart / HOUR_MS) * HOUR_MS }))
      : items,
  );
  const detected = detectIncidents(samples, {
    thresholds: config.incidents,
    bucketMs,
    minBuckets,
    maxGapMs: DEFAULT_MAX_GAP_MS,
    ongoingMs: DEFAULT_ONGOING_MS,
    now,
  });
  const selected = selectDeclared(declared.incidents, range, filters.filter.endpoint);
  const endpoints = filters.filter.endpoint;
  const maintenance: MaintenanceItem[] = windows
    .flatMap((w) => occurrences(w, range.from, range.to))
    .filter((o) => !endpoints || !o.endpoints || o.endpoints.some((e) => endpoints.includes(e)))
    .map((o) => ({
      kind: 'maintenance',
      id: `${o.windowId}@${o.start}`,
      title: o.title,
      start: o.start,
      end: o.end,
      ...(o.endpoints ? { endpoints: o.endpoints } : {}),
    }));
  const all: IncidentItem[] = [...selected, ...detected, ...maintenance].sort(byStartDescending);
  return {
    from: range.from,
    to: range.to,
    filters: filters.echo,
    items: all,
    thresholds: { ...config.incidents },
    ...(declared.problem ? { warnings: [`${INCIDENTS_KEY} is not valid: ${declared.problem}`] } : {}),
    meta: {
      declared: selected.length,
      detected: detected.length,
      maintenance: maintenance.length,
      detection: {
        resolution: hourly ? ('hour' as const) : ('minute' as const),
        bucketMs,
        minBuckets,
        maxGapMs: DEFAULT_MAX_GAP_MS,
        ongoingMs: DEFAULT_ONGOING_MS,
        definition: DETECTION_DEFINITION,
      },
      itemsRead: reader.itemsRead,
      // The rollups' Query calls and the maintenance windows' one.
      queries: reader.queries + 1,
    },
  };
}

export type IncidentsAnswer = Awaited<ReturnType<typeof computeIncidents>>;

/** Validates a PUT body (400 naming `body.<index>.<field>`) and replaces incidents.json with it. */
export async function saveIncidents(config: Config, body: unknown): Promise<{ saved: number }> {
  const incidents = validate(declaredIncidentsSchema, body, 'body');
  await writeDeclaredIncidents(config.artifactsBucket, incidents);
  return { saved: incidents.length };
}
