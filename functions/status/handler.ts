import { httpHandler } from '../../shared/http/middleware.js';
import { readRangeQuery } from '../../shared/status/params.js';
import { computeStatus } from '../../shared/status/status.js';

/** GET /status?window=60&source=probe&endpoint=&model=&region= */
export const handler = httpHandler(async (request) => {
  const { config, now, range, filters } = readRangeQuery(request.query, {
    defaultWindowMinutes: 60,
    defaultSource: 'probe',
  });
  const body = await computeStatus({ config, range, filters, now });
  // A few seconds of caching at CloudFront keeps reads flat however many people watch the page.
  return { headers: { 'cache-control': 'public, max-age=0, s-maxage=10' }, body };
});
