import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { cursorKey } from '../../shared/traces/cursor.js';
import { exportHeaders, exportTraces } from '../../shared/traces/export.js';
import { parseTracesRequest, readTraces, type TracesAnswer, traceCursor } from '../../shared/traces/query.js';

/** Time kept back from the Lambda timeout for building and sending an export. */
const EXPORT_RESERVE_MS = 5000;

/**
 * GET /traces: raw trace events newest first, filtered and paged with an
 * opaque cursor; `format=csv|ndjson` downloads the whole filtered range (capped).
 */
export const handler = httpHandler(async (request) => {
  const config = getConfig();
  const now = clock.now();
  const secret = cursorKey(config);
  const { query, limit, format, start } = parseTracesRequest(request.query, {
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
    budgetMs: Math.max(1000, request.context.getRemainingTimeInMillis() - EXPORT_RESERVE_MS),
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
});
