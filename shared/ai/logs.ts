/**
 * The chat's log evidence: the hybrid log search (shared/logs/search.ts) run
 * with the question as its query, over the evidence range and the endpoints
 * the question names.
 */
import { defaultSearchDeps, searchLogs } from '../logs/search.js';
import type { LogFinder } from './evidence.js';

export const findLogsForChat: LogFinder = async ({ query, from, to, endpoints, k }) => {
  const answer = await searchLogs(
    { query, from, to, k, ...(endpoints.length > 0 ? { endpoint: endpoints } : {}) },
    defaultSearchDeps(),
  );
  return answer.hits.map((hit) => ({
    id: hit.id,
    ts: hit.line.ts,
    level: hit.line.level,
    message: hit.line.message,
    ...(hit.line.endpoint ? { endpoint: hit.line.endpoint } : {}),
    ...(hit.line.traceId ? { traceId: hit.line.traceId } : {}),
  }));
};
