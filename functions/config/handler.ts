import { getConfig } from '../../shared/config.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { publicConfig } from '../../shared/public-config.js';

/** GET /config: non-sensitive runtime flags for the dashboard. */
export const handler = httpHandler(async () => ({
  headers: { 'cache-control': 'public, max-age=60' },
  body: publicConfig(getConfig()),
}));
