import { getConfig } from '../../shared/config.js';
import { httpHandler, requiredJsonBody } from '../../shared/http/middleware.js';
import { HttpProblem } from '../../shared/http/problem.js';
import { rejectUnknown } from '../../shared/http/query.js';
import {
  deleteOne,
  getOne,
  getScreenshot,
  listAll,
  listRuns,
  postDraft,
  postMonitor,
  putOne,
} from '../../shared/synthetics/api.js';

/**
 * The synthetic monitors' API (shared/synthetics/api.ts), by route:
 * POST /synthetics/draft, GET /synthetics/runs, GET /synthetics/screenshots/{name},
 * GET|POST /synthetics, GET|PUT|DELETE /synthetics/{id}.
 */
export const handler = httpHandler(async (request) => {
  const config = getConfig();
  const { pathParameters: params, query } = request;
  const json = () => requiredJsonBody(request, 'a JSON object');
  const route = request.event.routeKey.replace(/^HEAD /, 'GET ');
  if (route === 'GET /synthetics/runs') return { body: await listRuns(query, config) };
  if (route === 'GET /synthetics/screenshots/{name}') return getScreenshot(params, query, config);
  rejectUnknown(query, []);
  switch (route) {
    case 'POST /synthetics/draft':
      return { body: await postDraft(json(), config) };
    case 'GET /synthetics':
      return { body: await listAll(config) };
    case 'POST /synthetics':
      return postMonitor(json(), config);
    case 'GET /synthetics/{id}':
      return { body: await getOne(params, config) };
    case 'PUT /synthetics/{id}':
      return { body: await putOne(params, json(), config) };
    case 'DELETE /synthetics/{id}':
      return { body: await deleteOne(params, config) };
    default:
      throw new HttpProblem(404, 'Not Found', `No route ${route}`);
  }
});
