import { answerChat, enforceChatRate } from '../../shared/ai/chat.js';
import { findLogsForChat } from '../../shared/ai/logs.js';
import { computeAiMetrics } from '../../shared/ai/metrics.js';
import { aiSummary } from '../../shared/ai/summary.js';
import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler, requiredJsonBody } from '../../shared/http/middleware.js';
import { HttpProblem } from '../../shared/http/problem.js';
import { rejectUnknown } from '../../shared/http/query.js';
import { readRangeQuery } from '../../shared/status/params.js';

/**
 * GET /ai/metrics and GET /ai/summary?window=&from=&to=&source=&endpoint=&model=&region=
 * POST /ai/chat { question, window?, filters?, llm? }
 */
export const handler = httpHandler(async (request) => {
  if (request.method === 'POST') {
    rejectUnknown(request.query, []);
    const config = getConfig();
    const now = clock.now();
    const body = requiredJsonBody(request, 'a JSON object with a question');
    await enforceChatRate(request, config, now);
    return {
      headers: { 'cache-control': 'no-store' },
      body: await answerChat(body, { config, now, findLogs: findLogsForChat }),
    };
  }
  const { config, now, range, filters } = readRangeQuery(request.query, {
    defaultWindowMinutes: 60,
    defaultSource: 'all',
  });
  const metrics = await computeAiMetrics({ config, range, filters, now });
  const cached = { 'cache-control': 'public, max-age=0, s-maxage=10' };
  if (request.path.endsWith('/metrics')) return { headers: cached, body: metrics };
  if (request.path.endsWith('/summary')) return { headers: cached, body: aiSummary(metrics, now) };
  throw new HttpProblem(404, 'Not Found', `No route ${request.method} ${request.path}`);
});
