import { clock } from '../../shared/clock.js';
import { getConfig } from '../../shared/config.js';
import { type HttpResponse, httpHandler } from '../../shared/http/middleware.js';
import { HttpProblem } from '../../shared/http/problem.js';
import { once } from '../../shared/ingest/idempotency.js';
import { eventsFromOtlp } from '../../shared/ingest/otlp.js';
import { parseTraceBody, traceToEvent, validateTraces } from '../../shared/ingest/traces.js';
import { logger } from '../../shared/logger.js';
import { recordEventBatch } from '../../shared/store/events.js';

/**
 * POST /ingest/trace (one trace, an array or NDJSON) and POST /v1/traces
 * (OTLP/HTTP JSON). Both need INGEST_API_KEY (checked by the HTTP stack) and
 * are idempotent per Idempotency-Key header or identical body.
 */
export const handler = httpHandler(async (request): Promise<HttpResponse> => {
  const config = getConfig();
  const now = clock.now();
  const store = {
    tableName: config.tableName,
    retentionDays: config.retentionDays,
    rollupRetentionDays: config.rollupRetentionDays,
  };
  const scope = {
    tableName: config.tableName,
    route: request.path,
    key: request.headers['idempotency-key'],
    body: request.rawBody ?? '',
    now,
  };

  if (request.path === '/v1/traces') {
    const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/json') {
      throw new HttpProblem(
        415,
        'Unsupported Media Type',
        'content-type: send OTLP/HTTP with JSON encoding (application/json); protobuf is not supported',
        { field: 'content-type' },
      );
    }
    const result = eventsFromOtlp(request.body);
    const answer = await once(scope, async () => {
      const stored = await recordEventBatch(result.events, store);
      logger.info('otlp spans', {
        events: result.events.length,
        skipped: result.skipped,
        rejected: result.rejected,
        stored,
      });
      // OTLP: a full success is an empty object; partial success names what was rejected.
      const body =
        result.rejected > 0
          ? { partialSuccess: { rejectedSpans: result.rejected, errorMessage: result.errors.join('; ') } }
          : {};
      return { statusCode: 200, body };
    });
    return {
      statusCode: answer.statusCode,
      headers: { 'x-skipped-spans': String(result.skipped), 'idempotent-replayed': String(answer.replayed) },
      body: answer.body,
    };
  }

  const parsed = parseTraceBody(request.rawBody, request.headers['content-type']);
  const { valid, rejected } = validateTraces(parsed, { now, retentionDays: config.retentionDays });
  if (valid.length === 0) {
    const first = rejected[0];
    throw new HttpProblem(
      400,
      'Bad Request',
      `no valid trace; item ${first?.index}: ${first?.field}: ${first?.reason}`,
      {
        field: first ? `${first.index}.${first.field}` : 'body',
        errors: rejected.map((r) => ({ field: `${r.index}.${r.field}`, message: r.reason })),
      },
    );
  }
  const answer = await once(scope, async () => {
    const stored = await recordEventBatch(
      valid.map((v) => traceToEvent(v.input)),
      store,
    );
    return {
      statusCode: 200,
      body: { accepted: valid.length, duplicates: stored.duplicates, rejected },
    };
  });
  return {
    statusCode: answer.statusCode,
    headers: { 'idempotent-replayed': String(answer.replayed) },
    body: answer.body,
  };
});
