/**
 * The evidence a chat answer may cite, gathered before any answer is written:
 * the figures of the range (shared/ai/metrics.ts), its incidents, exemplar
 * failing traces and the log lines that match the question. Each piece is
 * numbered (E1, E2, …) and carries a stable reference that resolves to an
 * existing item — a read-API query, an incident id, a trace id, a log line id —
 * and a dashboard link that opens it.
 */
import type { Config } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import type { Filters, TimeRange } from '../status/params.js';
import { readTraces } from '../traces/query.js';
import {
  type AiMetrics,
  type AiOverview,
  type MetricQuery,
  metricQueryPath,
  startAiMetrics,
} from './metrics.js';
import type { QuestionReading } from './question.js';

export type EvidenceKind = 'metric' | 'incident' | 'trace' | 'log';

export interface Evidence {
  /** `E1`, `E2`, … in the order gathered. */
  id: string;
  kind: EvidenceKind;
  /** What the evidence is: a read-API path with its query (metric), or an incident, trace or log line id. */
  ref: string;
  /** The evidence in one line, as given to a model and shown on a citation chip. */
  snippet: string;
  /** Opens the evidence in the dashboard (relative to the dashboard's origin). */
  url: string;
}

/** A log line found for the question; log search (when present) provides them. */
export interface LogHit {
  id: string;
  ts: number;
  level: string;
  message: string;
  endpoint?: string;
  traceId?: string;
}

/** Finds log lines for a question in a range; absent until log search exists. */
export type LogFinder = (input: {
  query: string;
  from: number;
  to: number;
  endpoints: readonly string[];
  k: number;
}) => Promise<readonly LogHit[]>;

export const EXEMPLAR_TRACES = 3;
export const LOG_HITS = 4;
/** Snippets are cut to this many characters: the evidence must fit a token budget. */
export const SNIPPET_CHARS = 240;

/** The dashboard's range presets (web/src/state.ts), to open a link on one that covers the evidence. */
const DASHBOARD_RANGES: readonly [string, number][] = [
  ['15m', 15],
  ['1h', 60],
  ['6h', 360],
  ['24h', 1440],
  ['7d', 10_080],
];

/** The smallest dashboard range preset reaching back from now to `from`. */
export function dashboardRange(from: number, now: number): string {
  const minutes = (now - from) / 60_000;
  return DASHBOARD_RANGES.find(([, m]) => m >= minutes)?.[0] ?? '7d';
}

function dashboardUrl(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  return `/?${search.toString()}`;
}

const cut = (text: string) => (text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS - 1)}…` : text);

/** Collects evidence, numbering each distinct reference once. */
export class EvidenceBook {
  readonly items: Evidence[] = [];
  private readonly byKey = new Map<string, Evidence>();

  add(kind: EvidenceKind, ref: string, snippet: string, url: string): Evidence {
    const key = `${kind}|${ref}`;
    const known = this.byKey.get(key);
    if (known) return known;
    const evidence: Evidence = { id: `E${this.items.length + 1}`, kind, ref, snippet: cut(snippet), url };
    this.items.push(evidence);
    this.byKey.set(key, evidence);
    return evidence;
  }

  has(id: string): boolean {
    return this.items.some((e) => e.id === id);
  }
}

export interface GatherInput {
  config: Config;
  range: TimeRange;
  filters: Filters;
  now: number;
  question: string;
  reading: QuestionReading;
  findLogs?: LogFinder | undefined;
}

export interface Gathered {
  metrics: AiMetrics;
  traces: TraceEvent[];
  logs: LogHit[];
  /** Why a kind of evidence is missing (log search absent, a read failed). */
  notes: string[];
  /** What gathering cost: DynamoDB items read and queries made, and items by part. */
  cost: { itemsRead: number; queries: number; itemsByPart: Record<string, number> };
}

/**
 * Starts reading everything the answer may use; the pieces are numbered
 * later, as they are cited. `overview` (the two ranges' status) settles
 * first, so a streamed answer can open before the rest is read; `gathered`
 * settles with everything and rejects whenever `overview` does.
 */
export function startGathering(input: GatherInput): {
  overview: Promise<AiOverview>;
  gathered: Promise<Gathered>;
} {
  const { config, range, filters, now, reading } = input;
  const focus = reading.endpoints.length > 0 ? reading.endpoints : filters.filter.endpoint;
  const notes: string[] = [];
  const figures = startAiMetrics({ config, range, filters, now });
  const logs = input.findLogs
    ? input
        .findLogs({
          query: input.question,
          from: range.from,
          to: range.to,
          endpoints: focus ?? [],
          k: LOG_HITS,
        })
        .catch((): readonly LogHit[] => {
          // The figures still answer; the answer says what is missing.
          notes.push('Log lines could not be searched this time.');
          return [];
        })
    : Promise.resolve<readonly LogHit[]>([]);
  if (!input.findLogs) notes.push('Log lines were not searched: log search is not available.');
  const gathered = (async (): Promise<Gathered> => {
    const metrics = await figures.metrics;
    const [found, traces] = await Promise.all([logs, exemplarTraces(input, metrics, focus)]);
    return {
      metrics,
      traces: traces.items,
      logs: [...found],
      notes,
      cost: {
        itemsRead: metrics.meta.itemsRead + traces.scanned,
        queries: metrics.meta.queries + traces.queries,
        itemsByPart: { ...metrics.meta.itemsByPart, traces: traces.scanned },
      },
    };
  })();
  return { overview: figures.overview, gathered };
}

/** Reads everything the answer may use, at once. */
export function gatherEvidence(input: GatherInput): Promise<Gathered> {
  const { overview, gathered } = startGathering(input);
  // Whoever awaits `gathered` sees the failure; the overview's copy of it is not left unhandled.
  overview.catch(() => undefined);
  return gathered;
}

/** Items a search for exemplar failing traces reads at most, per window searched. */
const EXEMPLAR_SCAN = 150;

/**
 * A few failing calls, newest first. Raw events are many, so the search looks
 * where the figures say failures are: the two worst buckets (EXEMPLAR_SCAN
 * items at most each), and only when they held none, the newest part of the
 * whole range (as many items at most).
 */
async function exemplarTraces(
  input: GatherInput,
  metrics: AiMetrics,
  focus: readonly string[] | undefined,
): Promise<{ items: TraceEvent[]; scanned: number; queries: number }> {
  const { config, range, filters, now } = input;
  const focused = metrics.endpoints.filter((e) => !focus || focus.length === 0 || focus.includes(e.endpoint));
  const found = { items: [] as TraceEvent[], scanned: 0, queries: 0 };
  if (!focused.some((e) => e.failed > 0)) return found;
  const search = async (from: number, to: number) => {
    const page = await readTraces(
      {
        from: Math.max(range.from, from),
        to: Math.min(range.to, to),
        filters: {
          ok: false,
          source: filters.sources,
          ...(focus && focus.length > 0 ? { endpoint: [...focus] } : {}),
          ...(filters.filter.model ? { model: [...filters.filter.model] } : {}),
          ...(filters.filter.region ? { region: [...filters.filter.region] } : {}),
        },
      },
      { tableName: config.tableName, now, limit: EXEMPLAR_TRACES, maxScan: EXEMPLAR_SCAN },
    );
    found.scanned += page.scanned;
    found.queries += page.queries;
    return page.items;
  };
  const windows = metrics.worst.filter((w) => w.reason === 'failures').slice(0, 2);
  const pages = await Promise.all(windows.map((w) => search(w.t, w.t + w.bucketMs - 1)));
  const byId = new Map(pages.flat().map((t) => [t.id, t]));
  if (byId.size === 0) for (const t of await search(range.from, range.to)) byId.set(t.id, t);
  found.items = [...byId.values()]
    .sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1))
    .slice(0, EXEMPLAR_TRACES);
  return found;
}

// ---------------------------------------------------------------- references and links

export function metricEvidence(
  book: EvidenceBook,
  query: MetricQuery,
  snippet: string,
  now: number,
): Evidence {
  const from = Number(query.params.from);
  return book.add(
    'metric',
    metricQueryPath(query),
    snippet,
    dashboardUrl({
      tab: 'status',
      range: dashboardRange(from, now),
      source: query.params.source === 'probe' ? undefined : query.params.source,
      endpoint: query.params.endpoint,
      model: query.params.model,
      region: query.params.region,
    }),
  );
}

export function incidentEvidence(
  book: EvidenceBook,
  incident: AiMetrics['incidents']['items'][number],
  snippet: string,
  now: number,
): Evidence {
  return book.add(
    'incident',
    incident.id,
    snippet,
    dashboardUrl({ tab: 'status', range: dashboardRange(incident.start, now), incident: incident.id }),
  );
}

export function traceEvidence(book: EvidenceBook, trace: TraceEvent, snippet: string, now: number): Evidence {
  return book.add(
    'trace',
    trace.id,
    snippet,
    dashboardUrl({
      tab: 'traces',
      range: dashboardRange(trace.ts, now),
      source: trace.source === 'probe' ? undefined : trace.source,
      endpoint: trace.endpoint,
      ok: 'false',
      trace: trace.id,
    }),
  );
}

export function logEvidence(book: EvidenceBook, hit: LogHit, snippet: string, now: number): Evidence {
  return book.add(
    'log',
    hit.id,
    snippet,
    dashboardUrl({ tab: 'logs', range: dashboardRange(hit.ts, now), line: hit.id }),
  );
}
