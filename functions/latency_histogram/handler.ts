import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { validate } from '../../shared/http/problem.js';
import { computeLatencyHistogram, histogramParams } from '../../shared/status/latency-histogram.js';
import { rejectUnknown, resolveFilters, resolveRange } from '../../shared/status/params.js';

/** GET /latency_histogram?endpoint=&window=|from=&to=&bins=&scale=log|linear&source=&model=&region= */
export const handler = httpHandler(async (request) => {
  const config = getConfig();
  const now = clock.now();
  const q = request.query;
  rejectUnknown(q, ['window', 'from', 'to', 'bins', 'scale', 'source', 'endpoint', 'model', 'region']);
  const range = resolveRange(q, config, now, 60);
  const filters = resolveFilters(q, 'probe');
  const params = validate(histogramParams, { bins: q.bins, scale: q.scale });
  const body = await computeLatencyHistogram({
    config,
    range,
    filters,
    now,
    ...(params.bins === undefined ? {} : { bins: params.bins }),
    ...(params.scale === undefined ? {} : { scale: params.scale }),
  });
  return { headers: { 'cache-control': 'public, max-age=0, s-maxage=10' }, body };
});
