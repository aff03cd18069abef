import { httpHandler } from '../../shared/http/middleware.js';
import { validate } from '../../shared/http/problem.js';
import { readRangeQuery } from '../../shared/status/params.js';
import { computeTimeseries, timeseriesParams } from '../../shared/status/timeseries.js';

/** GET /timeseries?window=|from=&to=&bucket=&groupBy=&overall=&source=&endpoint=&model=&region= */
export const handler = httpHandler(async (request) => {
  const q = request.query;
  const { config, now, range, filters } = readRangeQuery(q, {
    defaultWindowMinutes: 60,
    defaultSource: 'probe',
    extra: ['bucket', 'groupBy', 'overall'],
  });
  const params = validate(timeseriesParams, { bucket: q.bucket, groupBy: q.groupBy, overall: q.overall });
  const body = await computeTimeseries({
    config,
    range,
    filters,
    now,
    ...(params.bucket === undefined ? {} : { bucketMs: params.bucket }),
    ...(params.groupBy === undefined ? {} : { groupBy: params.groupBy }),
    ...(params.overall === undefined ? {} : { overall: params.overall }),
  });
  return { headers: { 'cache-control': 'public, max-age=0, s-maxage=10' }, body };
});
