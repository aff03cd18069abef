import { getConfig } from '../../shared/config.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { runNow } from '../../shared/synthetics/run-api.js';

/** POST /synthetics/{id}/run?runner=auto|http (API key): runs the monitor now and answers the run. */
export const handler = httpHandler(async (request) => ({
  headers: { 'cache-control': 'no-store' },
  body: await runNow(request.pathParameters, request.query, getConfig()),
}));
