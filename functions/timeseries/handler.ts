import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { httpHandler } from '../../shared/http/middleware.js';
import { validate } from '../../shared/http/problem.js';
import { rejectUnknown, resolveFilters, resolveRange } from '../../shared/status/params.js';
import { computeTimeseries, timeseriesParams } from '../../shared/status/timeseries.js';

/** GET /timeseries?window=|from=&to=&bucket=&groupBy=&source=&endpoint=&model=&region= */
export const handler = httpHandler(async (request) => {
  const config = getConfig();
  const now = clock.now();
  const q = request.query;
  rejectUnknown(q, ['window', 'from', 'to', 'bucket', 'groupBy', 'source', 'endpoint', 'model', 'region']);
  const range = resolveRange(q, config, now, 60);
  const filters = resolveFilters(q, 'probe');
  const params = validate(timeseriesParams, { bucket: q.bucket, groupBy: q.groupBy });
  const body = await computeTimeseries({
    config,
    range,
    filters,
    now,
    ...(params.bucket === undefined ? {} : { bucketMs: params.bucket }),
    ...(params.groupBy === undefined ? {} : { groupBy: params.groupBy }),
  });
  return { headers: { 'cache-control': 'public, max-age=0, s-maxage=10' }, body };
});
