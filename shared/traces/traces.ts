/**
 * `GET /traces`: one page of raw events (JSON, with a signed cursor to the
 * next), or the whole filtered range as a CSV or NDJSON download (capped,
 * with a cursor to continue), depending on `format`.
 */
import { clock } from '../clock.js';
import { getConfig } from '../config.js';
import type { HttpResponse } from '../http/middleware.js';
import { cursorKey } from './cursor.js';
import { exportHeaders, exportTraces } from './export.js';
import { parseTracesRequest, readTraces, type TracesAnswer, traceCursor } from './query.js';

/** Answers the query parameters of a `/traces` request; an export stops (capped) after `exportBudgetMs`. */
export async function answerTraces(
  params: Readonly<Record<string, string>>,
  options: { exportBudgetMs: number },
): Promise<HttpResponse> {
  const config = getConfig();
  const now = clock.now();
  const secret = cursorKey(config);
  const { query, limit, format, start } = parseTracesRequest(params, {
    now,
    retentionDays: config.retentionDays,
    secret,
  });

  if (format === 'json') {
    const page = await readTraces(query, { tableName: config.tableName, now, limit, start });
    const body: TracesAnswer = {
      items: page.items,
      nextCursor: page.next ? traceCursor(query, page.next, secret) : null,
      scanned: page.scanned,
    };
    return { headers: { 'cache-control': 'no-store' }, body };
  }

  const exported = await exportTraces(query, {
    tableName: config.tableName,
    now,
    format,
    start,
    budgetMs: options.exportBudgetMs,
  });
  return {
    headers: exportHeaders({
      format,
      from: query.from,
      to: query.to,
      rows: exported.rows,
      cappedBy: exported.cappedBy,
      nextCursor: exported.next ? traceCursor(query, exported.next, secret) : null,
    }),
    body: exported.body,
  };
}
