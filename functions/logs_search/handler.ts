import { httpHandler } from '../../shared/http/middleware.js';
import { answerLogLine, answerLogSearch, answerLogStatus } from '../../shared/logs/http.js';

/**
 * GET /logs/search (hybrid search), GET /logs/status (simulator, indexer
 * backlog, embedder) and GET /logs/{id} (one line: what search hits and chat
 * citations point at).
 */
export const handler = httpHandler(async (request) => {
  if (request.path === '/logs/search') return answerLogSearch(request.query);
  if (request.path === '/logs/status') return answerLogStatus(request.query);
  return answerLogLine(request.pathParameters.id, request.query);
});
