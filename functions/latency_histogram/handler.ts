import { httpHandler } from '../../shared/http/middleware.js';
import { validate } from '../../shared/http/problem.js';
import { computeLatencyHistogram, histogramParams } from '../../shared/status/latency-histogram.js';
import { readRangeQuery } from '../../shared/status/params.js';

/** GET /latency_histogram?endpoint=&window=|from=&to=&bins=&scale=log|linear&source=&model=&region= */
export const handler = httpHandler(async (request) => {
  const q = request.query;
  const { config, now, range, filters } = readRangeQuery(q, {
    defaultWindowMinutes: 60,
    defaultSource: 'probe',
    extra: ['bins', 'scale'],
  });
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
