import { getConfig } from '../../shared/config.js';
import { httpHandler, requiredJsonBody } from '../../shared/http/middleware.js';
import { HttpProblem } from '../../shared/http/problem.js';
import { rejectUnknown } from '../../shared/http/query.js';
import { computeIncidents, saveIncidents } from '../../shared/incidents/incidents.js';
import { readRangeQuery } from '../../shared/status/params.js';

/**
 * GET /incidents?from=&to=&source=&endpoint=: declared and detected incidents, newest first.
 * PUT /incidents (API key): replaces the declared incidents with the JSON array in the body.
 */
export const handler = httpHandler(async (request) => {
  const config = getConfig();
  switch (request.method) {
    case 'GET': {
      const { now, range, filters } = readRangeQuery(request.query, {
        defaultWindowMinutes: 1440,
        defaultSource: 'probe',
      });
      const body = await computeIncidents({ config, range, filters, now });
      return { headers: { 'cache-control': 'public, max-age=0, s-maxage=10' }, body };
    }
    case 'PUT': {
      rejectUnknown(request.query, []);
      const body = await saveIncidents(config, requiredJsonBody(request, 'a JSON array of incidents'));
      return { headers: { 'cache-control': 'no-store' }, body };
    }
    default:
      throw new HttpProblem(405, 'Method Not Allowed', `${request.method} is not allowed on /incidents`, {
        headers: { allow: 'GET, PUT' },
      });
  }
});
