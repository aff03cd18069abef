import { beforeAll, describe, expect, it } from 'vitest';
import { useFreshStore } from '../../test/helpers.js';
import type { TraceEvent } from '../events/model.js';
import { recordEvents } from '../store/events.js';
import { floorTo, HOUR_MS } from '../store/keys.js';
import {
  CSV_COLUMNS,
  CSV_HEADER,
  csvCell,
  csvRow,
  type ExportFormat,
  type ExportOptions,
  exportHeaders,
  exportTraces,
  ndjsonLine,
} from './export.js';
import type { Position, TraceQuery } from './query.js';

const NOW = Date.now();
const BASE = floorTo(NOW, HOUR_MS) - 4 * HOUR_MS;

/** 90 events over two hours, pairs sharing a timestamp, every fifth failing. */
const EVENTS: TraceEvent[] = Array.from({ length: 90 }, (_, i) => ({
  id: `x${(i * 37) % 90}-${i}`,
  ts: BASE + 30 * 60_000 + Math.floor(i / 2) * 150_000,
  source: i % 4 === 0 ? 'ingest' : 'probe',
  endpoint: i % 3 === 0 ? 'chat' : 'embeddings',
  region: 'us-west-1',
  ok: i % 5 !== 0,
  ...(i % 5 === 0
    ? { errorType: 'server_error' as const, status: 502, errorMessage: `bad gateway, "${i}"` }
    : {}),
  latencyMs: 10 + i,
}));
const ALL: TraceQuery = { from: BASE, to: NOW, filters: {} };
const newestFirst = (a: TraceEvent, b: TraceEvent) => b.ts - a.ts || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
const SORTED = [...EVENTS].sort(newestFirst);

describe('CSV cells and rows', () => {
  it('writes absent values empty, numbers and booleans plainly', () => {
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(null)).toBe('');
    expect(csvCell(0)).toBe('0');
    expect(csvCell(-12.5)).toBe('-12.5');
    expect(csvCell(Number.NaN)).toBe('');
    expect(csvCell(true)).toBe('true');
    expect(csvCell('plain text')).toBe('plain text');
  });

  it('quotes per RFC 4180', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell('cr\rlf')).toBe('"cr\rlf"');
  });

  it('neutralizes spreadsheet formulas in text, not in numbers', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvCell('+cmd')).toBe("'+cmd");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('\rx')).toBe('"\'\rx"');
    expect(csvCell('a=b')).toBe('a=b');
    // Full-width signs that some spreadsheets normalise to formula starts.
    expect(csvCell('\uFF1D1+1')).toBe("'\uFF1D1+1");
    expect(csvCell(-5)).toBe('-5');
  });

  it('has a fixed header and one flat cell per column', () => {
    expect(CSV_HEADER).toBe(
      'id,ts,time,source,endpoint,model,region,upstream,ok,status,errorType,errorMessage,latencyMs,' +
        'dnsMs,connectMs,tlsMs,ttfbMs,transferMs,ttftMs,reused,inputTokens,outputTokens,cachedTokens,' +
        'reasoningTokens,responseBytes,costUsd,requestId,processingMs,remainingRequests,remainingTokens,' +
        'traceId,spanId\r\n',
    );
    const event: TraceEvent = {
      id: 'e1',
      ts: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
      source: 'probe',
      endpoint: 'chat',
      model: 'gpt-4o-mini',
      region: 'eu-west-1',
      upstream: 'real',
      ok: false,
      status: 429,
      errorType: 'rate_limited',
      errorMessage: 'slow down',
      latencyMs: 120,
      timing: { dnsMs: 1, connectMs: 2, tlsMs: 3, ttfbMs: 4, transferMs: 5, ttftMs: 6, reused: false },
      usage: { input: 7, output: 8, cached: 9, reasoning: 10 },
      responseBytes: 11,
      costUsd: 0.000012,
      requestId: 'req_1',
      processingMs: 13,
      rateLimit: { remainingRequests: 14, remainingTokens: 15, limitRequests: 99 },
      traceId: 't1',
      spanId: 's1',
    };
    expect(csvRow(event)).toBe(
      'e1,1767323045006,2026-01-02T03:04:05.006Z,probe,chat,gpt-4o-mini,eu-west-1,real,false,429,rate_limited,' +
        'slow down,120,1,2,3,4,5,6,false,7,8,9,10,11,0.000012,req_1,13,14,15,t1,s1\r\n',
    );
    expect(csvRow({ id: 'e2', ts: 0, source: 'ingest', endpoint: 'x', ok: true, latencyMs: 1 })).toBe(
      `e2,0,1970-01-01T00:00:00.000Z,ingest,x,,,,true,,,,1${','.repeat(CSV_COLUMNS.length - 13)}\r\n`,
    );
    expect(ndjsonLine(event)).toBe(`${JSON.stringify(event)}\n`);
  });

  it('names the download and reports caps in headers', () => {
    expect(
      exportHeaders({ format: 'csv', from: 1, to: 2, rows: 5, cappedBy: null, nextCursor: null }),
    ).toMatchObject({
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': 'attachment; filename="traces-1-2.csv"',
      'x-export-capped': 'false',
      'x-export-rows': '5',
    });
    const capped = exportHeaders({
      format: 'ndjson',
      from: 1,
      to: 2,
      rows: 5,
      cappedBy: 'bytes',
      nextCursor: 'c',
    });
    expect(capped).toMatchObject({
      'content-type': 'application/x-ndjson',
      'content-disposition': 'attachment; filename="traces-1-2.ndjson"',
      'x-export-capped': 'true',
      'x-export-cap-reason': 'bytes',
      'x-export-next-cursor': 'c',
    });
  });
});

describe('exportTraces', () => {
  let tableName = '';
  beforeAll(async () => {
    ({ tableName } = await useFreshStore());
    await recordEvents(EVENTS, { tableName, retentionDays: 30, rollupRetentionDays: 400 });
  });

  const lines = (format: ExportFormat, body: string) =>
    format === 'csv' ? body.split('\r\n').slice(1, -1) : body.split('\n').slice(0, -1);

  /** Exports with caps until done, following each next position; returns every part. */
  async function exportAll(
    format: ExportFormat,
    caps: Partial<ExportOptions>,
    query: TraceQuery = ALL,
  ): Promise<{ parts: Awaited<ReturnType<typeof exportTraces>>[] }> {
    const parts: Awaited<ReturnType<typeof exportTraces>>[] = [];
    let start: Position | undefined;
    do {
      const part = await exportTraces(query, { tableName, now: NOW, format, start, ...caps });
      parts.push(part);
      start = part.next ?? undefined;
      if (parts.length > 200) throw new Error('export does not end');
    } while (start);
    return { parts };
  }

  it('exports the whole range as CSV, newest first', async () => {
    const result = await exportTraces(ALL, { tableName, now: NOW, format: 'csv' });
    expect(result).toMatchObject({ rows: EVENTS.length, cappedBy: null, next: null });
    expect(result.body.startsWith(CSV_HEADER)).toBe(true);
    expect(result.body).toBe(CSV_HEADER + SORTED.map(csvRow).join(''));
    expect(result.bytes).toBe(Buffer.byteLength(result.body));
  });

  it('exports NDJSON that parses back to the events', async () => {
    const result = await exportTraces(ALL, { tableName, now: NOW, format: 'ndjson' });
    expect(lines('ndjson', result.body).map((l) => JSON.parse(l))).toEqual(SORTED);
  });

  it('caps by rows and continues exactly where it stopped', async () => {
    const { parts } = await exportAll('csv', { maxRows: 25 });
    expect(parts.map((p) => p.rows)).toEqual([25, 25, 25, 15]);
    expect(parts.map((p) => p.cappedBy)).toEqual(['rows', 'rows', 'rows', null]);
    expect(parts.flatMap((p) => lines('csv', p.body))).toEqual(SORTED.map((e) => csvRow(e).slice(0, -2)));
  });

  it('caps by bytes, never past the cap, and continues exactly where it stopped', async () => {
    const maxBytes = 2000;
    const { parts } = await exportAll('ndjson', { maxBytes });
    expect(parts.length).toBeGreaterThan(3);
    for (const part of parts) {
      expect(part.bytes).toBeLessThanOrEqual(maxBytes);
      expect(part.rows).toBeGreaterThan(0);
    }
    expect(parts.slice(0, -1).every((p) => p.cappedBy === 'bytes')).toBe(true);
    expect(parts.at(-1)?.cappedBy).toBeNull();
    expect(parts.flatMap((p) => lines('ndjson', p.body)).map((l) => JSON.parse(l))).toEqual(SORTED);
  });

  it('bounds the items read per page and in total, and still ends with the exact result', async () => {
    const rare: TraceQuery = { ...ALL, filters: { errorType: ['server_error'], endpoint: ['chat'] } };
    const want = SORTED.filter((e) => e.errorType === 'server_error' && e.endpoint === 'chat');
    expect(want.length).toBeGreaterThan(1);
    const paged = await exportTraces(rare, { tableName, now: NOW, format: 'ndjson', maxScanPerPage: 7 });
    expect(paged.cappedBy).toBeNull();
    expect(lines('ndjson', paged.body).map((l) => JSON.parse(l))).toEqual(want);
    const { parts } = await exportAll('ndjson', { maxScan: 20 }, rare);
    expect(parts.slice(0, -1).every((p) => p.cappedBy === 'scan' && p.scanned <= 20)).toBe(true);
    expect(parts.flatMap((p) => lines('ndjson', p.body)).map((l) => JSON.parse(l))).toEqual(want);
  });

  it('caps by Query calls, so sparse hours cannot keep it walking, and continues where it stopped', async () => {
    const sparse: TraceQuery = { from: NOW - 10 * HOUR_MS, to: NOW - 8 * HOUR_MS, filters: {} };
    const capped = await exportTraces(sparse, { tableName, now: NOW, format: 'csv', maxQueries: 2 });
    expect(capped).toMatchObject({ cappedBy: 'queries', rows: 0 });
    expect(capped.next).toEqual({
      pk: `EV#${new Date(NOW - 10 * HOUR_MS).toISOString().slice(0, 13)}`,
      sk: null,
    });
    const rest = await exportTraces(sparse, {
      tableName,
      now: NOW,
      format: 'csv',
      start: capped.next ?? undefined,
    });
    expect(rest.cappedBy).toBeNull();
  });

  it('stops when its time budget is spent', async () => {
    const result = await exportTraces(ALL, { tableName, now: NOW, format: 'csv', budgetMs: 0 });
    expect(result).toMatchObject({ rows: 0, cappedBy: 'time', body: CSV_HEADER });
    expect(result.next).toEqual({ pk: `EV#${new Date(NOW).toISOString().slice(0, 13)}`, sk: null });
  });

  it('exports an empty range as just the header', async () => {
    const result = await exportTraces(
      { from: NOW - 1000, to: NOW, filters: {} },
      {
        tableName,
        now: NOW,
        format: 'csv',
      },
    );
    expect(result).toMatchObject({ body: CSV_HEADER, rows: 0, cappedBy: null, next: null });
  });
});
