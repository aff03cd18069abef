import { httpHandler } from '../../shared/http/middleware.js';
import { answerTraces } from '../../shared/traces/traces.js';

/** Time kept back from the Lambda timeout for building and sending an export. */
const EXPORT_RESERVE_MS = 5000;

/**
 * GET /traces: raw trace events newest first, filtered and paged with an
 * opaque cursor; `format=csv|ndjson` downloads the whole filtered range (capped).
 */
export const handler = httpHandler((request) =>
  answerTraces(request.query, {
    exportBudgetMs: Math.max(1000, request.context.getRemainingTimeInMillis() - EXPORT_RESERVE_MS),
  }),
);
