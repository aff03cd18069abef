/**
 * The shapes of the API answers the dashboard reads, taken from the server
 * modules that build them (`import type` only: erased at build, so the browser
 * bundle never pulls in server code; see shared/ARCHITECTURE.md, `web → shared`
 * for types only).
 */
import type { IncidentsAnswer } from '../../shared/incidents/incidents.js';
import type { StatusAnswer } from '../../shared/status/status.js';
import type { TimeseriesAnswer } from '../../shared/status/timeseries.js';

export type { ErrorType, Source, TraceEvent } from '../../shared/events/model.js';
export type { IncidentsAnswer } from '../../shared/incidents/incidents.js';
export type { PublicConfig } from '../../shared/public-config.js';
export type { LastResult, Summary } from '../../shared/stats/aggregate.js';
export type { HistogramAnswer } from '../../shared/status/latency-histogram.js';
export type { StatusAnswer } from '../../shared/status/status.js';
export type { TimeseriesAnswer } from '../../shared/status/timeseries.js';
export type { TracesAnswer } from '../../shared/traces/query.js';

export type EndpointSummary = StatusAnswer['endpoints'][number];
export type SloView = StatusAnswer['overall']['slo'];
export type Series = TimeseriesAnswer['series'][number];
export type Point = Series['points'][number];

/** Every member name of any variant of the union T. */
type KeysOfAny<T> = T extends unknown ? keyof T : never;
/** A union whose variants also read the other variants' members (as undefined where absent). */
type ReadableUnion<T, K extends PropertyKey = KeysOfAny<T>> = T extends unknown
  ? T & Partial<Record<Exclude<K, keyof T>, undefined>>
  : never;
/** A declared or a detected incident; `kind` tells which. */
export type Incident = ReadableUnion<IncidentsAnswer['items'][number]>;

import type { overview as alertsOverview } from '../../shared/alerts/api.js';
/** GET /alerts (shared/alerts/api.ts). */
export type AlertsAnswer = Awaited<ReturnType<typeof alertsOverview>>;
