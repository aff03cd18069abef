import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { rejectUnknown } from '../../shared/http/query.js';
import { CONTENT_TYPE, renderMetrics } from '../../shared/metrics/prometheus.js';

/** GET /metrics: the rollups in the Prometheus text format (shared/metrics/prometheus.ts). */
export const handler = httpHandler(async (request) => {
  rejectUnknown(request.query, []);
  const body = await renderMetrics(getConfig(), clock.now());
  // Scrapers come every 15 to 60 s: CloudFront answers all but one of them per 10 s.
  return {
    headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'public, max-age=0, s-maxage=10' },
    body,
  };
});
