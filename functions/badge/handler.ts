import { statusBadge, uptimeBadge } from '../../shared/badges/badge.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { badRequest } from '../../shared/http/problem.js';
import { MAX_VALUE_LENGTH, rejectUnknown } from '../../shared/http/query.js';
import { readRangeQuery } from '../../shared/status/params.js';

/** Cached a minute at CloudFront and in the README's image proxy (GitHub's camo honours it). */
const HEADERS = {
  'content-type': 'image/svg+xml; charset=utf-8',
  'cache-control': 'public, max-age=60, s-maxage=60',
};

/**
 * GET /badge/{endpoint}.svg?source=: status over the last hour.
 * GET /badge/{endpoint}/uptime.svg?window=&source=: success rate over the window (default 24 h).
 */
export const handler = httpHandler(async (request) => {
  const { endpoint: nested, file = '' } = request.pathParameters;
  const endpoint = nested ?? file.replace(/\.svg$/, '');
  if (!file.endsWith('.svg') || endpoint === '' || endpoint.length > MAX_VALUE_LENGTH)
    throw badRequest('endpoint', 'expected /badge/<endpoint>.svg or /badge/<endpoint>/uptime.svg');
  if (nested !== undefined && file !== 'uptime.svg') throw badRequest('file', 'expected uptime.svg');
  rejectUnknown(request.query, nested === undefined ? ['source'] : ['source', 'window']);
  const { config, now, range, filters } = readRangeQuery(request.query, {
    defaultWindowMinutes: 1440,
    defaultSource: 'probe',
  });
  const source = filters.sources[0] ?? 'probe';
  if (filters.sources.length !== 1) throw badRequest('source', 'expected one source');
  const body =
    nested === undefined
      ? await statusBadge(config, now, source, endpoint)
      : await uptimeBadge(config, now, source, endpoint, { ...range, minutes: range.windowMinutes ?? 1440 });
  return { headers: HEADERS, body };
});
