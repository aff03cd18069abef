import * as api from '../../shared/alerts/api.js';
import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler, requiredJsonBody } from '../../shared/http/middleware.js';
import { validate } from '../../shared/http/problem.js';
import { epochMs, rejectUnknown } from '../../shared/http/query.js';
import { matchRoute, ROUTES } from '../../shared/routes.js';
import { DAY_MS } from '../../shared/store/keys.js';
import * as z from '../../shared/zod.js';

const NO_STORE = { 'cache-control': 'no-store' };
const maintenanceQuery = z.object({ from: z.optional(epochMs), to: z.optional(epochMs) });

/**
 * The alert routes (shared/alerts/api.ts): GET /alerts (overview), rules
 * (GET public, writes with the API key), channels and maintenance windows.
 */
export const handler = httpHandler(async (request) => {
  const config = getConfig();
  const now = clock.now();
  const route = matchRoute(ROUTES, request.method, request.path)?.route.path;
  const id = request.pathParameters.id ?? '';
  const body = () => requiredJsonBody(request, 'a JSON object');
  rejectUnknown(request.query, route === '/maintenance' && request.method === 'GET' ? ['from', 'to'] : []);
  switch (`${request.method} ${route}`) {
    case 'GET /alerts':
      return {
        headers: { 'cache-control': 'public, max-age=0, s-maxage=10' },
        body: await api.overview(config, now),
      };
    case 'GET /alerts/rules':
      return { headers: NO_STORE, body: { rules: await api.rules(config, now) } };
    case 'POST /alerts/rules':
      return { statusCode: 201, headers: NO_STORE, body: await api.putRule(config, now, body()) };
    case 'GET /alerts/rules/{id}':
      return { headers: NO_STORE, body: await api.rule(config, now, id) };
    case 'PUT /alerts/rules/{id}':
      return { headers: NO_STORE, body: await api.putRule(config, now, body(), id) };
    case 'DELETE /alerts/rules/{id}':
      await api.removeRule(config, id);
      return { statusCode: 204, headers: NO_STORE };
    case 'GET /alerts/channels':
      return { headers: NO_STORE, body: { channels: await api.channels(config) } };
    case 'POST /alerts/channels':
      return { statusCode: 201, headers: NO_STORE, body: await api.putChannel(config, now, body()) };
    case 'PUT /alerts/channels/{id}':
      return { headers: NO_STORE, body: await api.putChannel(config, now, body(), id) };
    case 'DELETE /alerts/channels/{id}':
      await api.removeChannel(config, id);
      return { statusCode: 204, headers: NO_STORE };
    case 'GET /maintenance': {
      const query = validate(maintenanceQuery, { ...request.query });
      const range = { from: query.from ?? now - DAY_MS, to: query.to ?? now + 7 * DAY_MS };
      return { headers: NO_STORE, body: await api.maintenanceWindows(config, range) };
    }
    case 'POST /maintenance':
      return { statusCode: 201, headers: NO_STORE, body: await api.createMaintenance(config, now, body()) };
    case 'DELETE /maintenance/{id}':
      await api.removeMaintenance(config, id);
      return { statusCode: 204, headers: NO_STORE };
    default:
      // The route table sends nothing else here; a new route without a case is a bug, not a user's error.
      throw new Error(`functions/alerts: no case for ${request.method} ${route}`);
  }
});
