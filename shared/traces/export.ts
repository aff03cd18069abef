/**
 * Exports of `GET /traces?format=csv|ndjson`: the whole filtered range (from
 * the cursor, if any), read page by page with shared/traces/query.ts and
 * returned as one download.
 *
 * API Gateway and Lambda answer at most 6 MB, so an export is capped — by
 * rows, bytes, items read, Query calls, and the time left — and says so in headers
 * (`x-export-capped`, `x-export-rows`, `x-export-next-cursor`); the next
 * cursor continues exactly after the last row written, with the same query.
 *
 * CSV follows RFC 4180 (CRLF line ends, quotes around values holding a quote,
 * comma or line break, quotes doubled) and neutralizes spreadsheet formula
 * injection: a text cell starting with `=`, `+`, `-`, `@`, tab or CR gets a
 * leading `'`; bidirectional controls become visible `[U+202E]` tokens, as on
 * the dashboard (shared/text.ts). Numbers are written as numbers and are never altered.
 */
import { type Options as CsvOptions, stringify } from 'csv-stringify/sync';
import type { TraceEvent } from '../events/model.js';
import { EVENT_SHARDS, eventHourKey } from '../store/keys.js';
import { neutralizeBidi } from '../text.js';
import {
  MAX_QUERIES_PER_REQUEST,
  type Position,
  positionAfter,
  readTraces,
  type TraceQuery,
} from './query.js';

const EXPORT_MAX_ROWS = 50_000;
/** Under API Gateway's and Lambda's 6 MB response limit, with room for headers. */
const EXPORT_MAX_BYTES = 5_000_000;
/** Items read per export at most (bounds the time of a selective filter over a long range). */
const EXPORT_MAX_SCAN = 100_000;
/**
 * Query calls per export at most: an hour with nothing to export still costs one per shard
 * (EVENT_SHARDS), so 30 sparse days (720 hours) take a few exports.
 */
const EXPORT_MAX_QUERIES = 2000;
/** Rows asked of one page read. */
const EXPORT_PAGE_ROWS = 1000;

export type ExportFormat = 'csv' | 'ndjson';
export type CapReason = 'rows' | 'bytes' | 'scan' | 'queries' | 'time';

type Column = readonly [name: string, value: (event: TraceEvent) => unknown];

const isoTime = (ts: number) => {
  const date = new Date(ts);
  return Number.isFinite(date.getTime()) ? date.toISOString() : undefined;
};

/** The CSV columns, in order: one flat value per event. */
export const CSV_COLUMNS: readonly Column[] = [
  ['id', (e) => e.id],
  ['ts', (e) => e.ts],
  ['time', (e) => isoTime(e.ts)],
  ['source', (e) => e.source],
  ['endpoint', (e) => e.endpoint],
  ['model', (e) => e.model],
  ['region', (e) => e.region],
  ['upstream', (e) => e.upstream],
  ['ok', (e) => e.ok],
  ['status', (e) => e.status],
  ['errorType', (e) => e.errorType],
  ['errorMessage', (e) => e.errorMessage],
  ['latencyMs', (e) => e.latencyMs],
  ['dnsMs', (e) => e.timing?.dnsMs],
  ['connectMs', (e) => e.timing?.connectMs],
  ['tlsMs', (e) => e.timing?.tlsMs],
  ['ttfbMs', (e) => e.timing?.ttfbMs],
  ['transferMs', (e) => e.timing?.transferMs],
  ['ttftMs', (e) => e.timing?.ttftMs],
  ['reused', (e) => e.timing?.reused],
  ['inputTokens', (e) => e.usage?.input],
  ['outputTokens', (e) => e.usage?.output],
  ['cachedTokens', (e) => e.usage?.cached],
  ['reasoningTokens', (e) => e.usage?.reasoning],
  ['responseBytes', (e) => e.responseBytes],
  ['costUsd', (e) => e.costUsd],
  ['requestId', (e) => e.requestId],
  ['processingMs', (e) => e.processingMs],
  ['remainingRequests', (e) => e.rateLimit?.remainingRequests],
  ['remainingTokens', (e) => e.rateLimit?.remainingTokens],
  ['traceId', (e) => e.traceId],
  ['spanId', (e) => e.spanId],
];

/**
 * csv-stringify does the quoting and the formula escaping (`escape_formulas`,
 * which also covers the full-width `＝＋－＠`). Its defaults are changed where
 * the export needs otherwise: CRLF line ends; a lone CR or LF inside a value
 * is quoted too (by default only the whole CRLF is); booleans are written as
 * `true`/`false` (not `1`/empty); non-finite numbers as empty cells; text has
 * its bidirectional controls made visible first.
 */
const CSV_OPTIONS: CsvOptions = {
  record_delimiter: 'windows',
  escape_formulas: true,
  quoted_match: /[\r\n]/,
  cast: {
    boolean: (value) => (value ? 'true' : 'false'),
    number: (value) => (Number.isFinite(value) ? String(value) : ''),
    string: (value) => neutralizeBidi(value),
    object: (value) => neutralizeBidi(JSON.stringify(value)),
  },
};

/** One CSV cell: empty for absent values, numbers as they are, text neutralized and quoted as needed. */
export function csvCell(value: unknown): string {
  return stringify([[value]], { ...CSV_OPTIONS, record_delimiter: '' });
}

export const CSV_HEADER = stringify([CSV_COLUMNS.map(([name]) => name)], CSV_OPTIONS);

export function csvRow(event: TraceEvent): string {
  return stringify([CSV_COLUMNS.map(([, value]) => value(event))], CSV_OPTIONS);
}

export function ndjsonLine(event: TraceEvent): string {
  return `${JSON.stringify(event)}\n`;
}

export interface ExportOptions {
  tableName: string;
  /** Epoch ms (TTL filter). */
  now: number;
  format: ExportFormat;
  /** Resume position (from a cursor). */
  start?: Position | undefined;
  maxRows?: number;
  maxBytes?: number;
  /** Items read at most over the whole export. */
  maxScan?: number;
  /** Items read per page read (passed to readTraces; raised to EVENT_SHARDS, the least a page reads). */
  maxScanPerPage?: number;
  /** Query calls at most over the whole export. */
  maxQueries?: number;
  /** Milliseconds the export may take; it stops (capped) when they are spent. */
  budgetMs?: number;
}

export interface ExportResult {
  body: string;
  rows: number;
  bytes: number;
  scanned: number;
  /** Why the export stopped early, or null when it holds the whole range. */
  cappedBy: CapReason | null;
  /** Where a follow-up export (or page) continues; null when the range is exhausted. */
  next: Position | null;
}

/** Reads `query` page by page into a CSV or NDJSON document, until the range ends or a cap is hit. */
export async function exportTraces(query: TraceQuery, options: ExportOptions): Promise<ExportResult> {
  const maxRows = options.maxRows ?? EXPORT_MAX_ROWS;
  const maxBytes = options.maxBytes ?? EXPORT_MAX_BYTES;
  const maxScan = options.maxScan ?? EXPORT_MAX_SCAN;
  const maxQueries = options.maxQueries ?? EXPORT_MAX_QUERIES;
  const budgetMs = options.budgetMs ?? Number.POSITIVE_INFINITY;
  const started = performance.now();
  const line = options.format === 'csv' ? csvRow : ndjsonLine;
  const chunks: string[] = options.format === 'csv' ? [CSV_HEADER] : [];
  let bytes = Buffer.byteLength(chunks.join(''));
  let rows = 0;
  let scanned = 0;
  let queries = 0;
  let position: Position | undefined = options.start;
  const done = (cappedBy: CapReason | null, next: Position | null): ExportResult => ({
    body: chunks.join(''),
    rows,
    bytes,
    scanned,
    cappedBy,
    next,
  });
  // Where the export begins when no cursor was given: the top of the newest hour.
  const here = (): Position => position ?? { pk: eventHourKey(query.to), sk: null };

  for (;;) {
    if (rows >= maxRows) return done('rows', here());
    // A page reads every shard of an hour at least once (readTraces): less than that left is spent.
    if (scanned + EVENT_SHARDS > maxScan) return done('scan', here());
    if (queries + EVENT_SHARDS > maxQueries) return done('queries', here());
    if (performance.now() - started >= budgetMs) return done('time', here());
    const page = await readTraces(query, {
      tableName: options.tableName,
      now: options.now,
      limit: Math.min(EXPORT_PAGE_ROWS, maxRows - rows),
      start: position,
      maxScan: Math.min(Math.max(options.maxScanPerPage ?? maxScan, EVENT_SHARDS), maxScan - scanned),
      maxQueries: Math.min(MAX_QUERIES_PER_REQUEST, maxQueries - queries),
    });
    scanned += page.scanned;
    queries += page.queries;
    for (const event of page.items) {
      const text = line(event);
      const size = Buffer.byteLength(text);
      if (bytes + size > maxBytes) return done('bytes', here());
      chunks.push(text);
      bytes += size;
      rows++;
      position = positionAfter(event);
    }
    if (page.next === null) return done(null, null);
    position = page.next;
  }
}

export interface ExportHeadersInput {
  format: ExportFormat;
  from: number;
  to: number;
  rows: number;
  cappedBy: CapReason | null;
  /** The cursor continuing the export, when capped. */
  nextCursor: string | null;
}

/** The download headers of an export. */
export function exportHeaders(input: ExportHeadersInput): Record<string, string> {
  const extension = input.format === 'csv' ? 'csv' : 'ndjson';
  const headers: Record<string, string> = {
    'content-type': input.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
    'content-disposition': `attachment; filename="traces-${input.from}-${input.to}.${extension}"`,
    'cache-control': 'no-store',
    'x-export-capped': input.cappedBy === null ? 'false' : 'true',
    'x-export-rows': String(input.rows),
  };
  if (input.cappedBy !== null) headers['x-export-cap-reason'] = input.cappedBy;
  if (input.cappedBy !== null && input.nextCursor !== null)
    headers['x-export-next-cursor'] = input.nextCursor;
  return headers;
}
