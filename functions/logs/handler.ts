import type { APIGatewayProxyEventV2, Context, ScheduledEvent } from 'aws-lambda';
import { httpHandler } from '../../shared/http/middleware.js';
import { HttpProblem } from '../../shared/http/problem.js';
import { rejectUnknown } from '../../shared/http/query.js';
import { isScheduledEvent, scheduledHandler } from '../../shared/lambda-stack.js';
import { ingestLogs, LOG_INGEST_MAX_BODY_BYTES } from '../../shared/logs/ingest.js';
import { logSimulatorTick, switchLogSimulator } from '../../shared/logs/simulator.js';

/**
 * POST /logs/ingest (NDJSON or a JSON array of lines), GET|POST /logs/sim/start
 * and /logs/sim/stop (all with the ingest key); the schedule (LOG_SIM_INTERVAL_MS)
 * fires the log simulator's tick, which writes lines only while it is switched on.
 */
const http = httpHandler(
  async (request) => {
    if (request.path === '/logs/ingest') return ingestLogs(request);
    if (request.path === '/logs/sim/start' || request.path === '/logs/sim/stop') {
      rejectUnknown(request.query, []);
      const body = await switchLogSimulator(request.path === '/logs/sim/start');
      return { headers: { 'cache-control': 'no-store' }, body };
    }
    throw new HttpProblem(404, 'Not Found', `No route ${request.path}`);
  },
  { maxBodyBytes: LOG_INGEST_MAX_BODY_BYTES },
);
const tick = scheduledHandler(async (event) => logSimulatorTick(Date.parse(event.time) || undefined));

export const handler = (event: APIGatewayProxyEventV2 | ScheduledEvent, context: Context) =>
  isScheduledEvent(event) ? tick(event, context) : http(event, context);
