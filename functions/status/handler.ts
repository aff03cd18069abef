import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { rejectUnknown, resolveFilters, resolveRange } from '../../shared/status/params.js';
import { computeStatus } from '../../shared/status/status.js';

/** GET /status?window=60&source=probe&endpoint=&model=&region= */
export const handler = httpHandler(async (request) => {
  const config = getConfig();
  const now = clock.now();
  rejectUnknown(request.query, ['window', 'from', 'to', 'source', 'endpoint', 'model', 'region']);
  const range = resolveRange(request.query, config, now, 60);
  const filters = resolveFilters(request.query, 'probe');
  const body = await computeStatus({ config, range, filters, now });
  // A few seconds of caching at CloudFront keeps reads flat however many people watch the page.
  return { headers: { 'cache-control': 'public, max-age=0, s-maxage=10' }, body };
});
