import type { APIGatewayProxyEventV2, Context, ScheduledEvent } from 'aws-lambda';
import { httpHandler } from '../../shared/http/middleware.js';
import { isScheduledEvent, scheduledHandler } from '../../shared/lambda-stack.js';
import { answerIndexLogs } from '../../shared/logs/http.js';
import { indexPendingLogs } from '../../shared/logs/indexer.js';

/**
 * POST /ai/index/logs?limit=&since= (ingest key) embeds pending lines now;
 * the schedule (EMB_INDEX_INTERVAL_MS) does the same with the default limit.
 */
const http = httpHandler(async (request) => answerIndexLogs(request.query));
const scheduled = scheduledHandler(async () => indexPendingLogs());

export const handler = (event: APIGatewayProxyEventV2 | ScheduledEvent, context: Context) =>
  isScheduledEvent(event) ? scheduled(event, context) : http(event, context);
