import { getConfig } from '../../shared/config.js';
import { checkHealth } from '../../shared/health.js';
import { httpHandler } from '../../shared/http/middleware.js';

/** GET /health: 200 when the store answers, 503 when it does not. Never cached. */
export const handler = httpHandler(async () => {
  const health = await checkHealth(getConfig());
  return { statusCode: health.ok ? 200 : 503, headers: { 'cache-control': 'no-store' }, body: health };
});
