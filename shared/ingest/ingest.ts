/**
 * Trace ingestion, both routes: `POST /ingest/trace` (one trace, an array or
 * NDJSON) and `POST /v1/traces` (OTLP/HTTP JSON). Each parses its body, turns
 * the items into trace events, and stores them through the one write path,
 * inside the request-level idempotency of `once`.
 *
 * What an answer means:
 * - 200: every accepted item is stored and counted exactly once (an item
 *   stored before is reported as a duplicate); refused items are listed with
 *   their index, field and reason, and nothing of them was stored.
 * - 503 with Retry-After: some items are being stored right now by another
 *   request (a concurrent delivery of the same items); the rest are stored.
 *   Retrying is safe and finishes the job.
 * - 500: the store failed; what this request wrote was undone, so a retry
 *   (same body, or the same Idempotency-Key) starts clean and counts once.
 */
import { clock } from '../clock.js';
import { getConfig } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import type { HttpRequest, HttpResponse } from '../http/middleware.js';
import { HttpProblem } from '../http/problem.js';
import { logger } from '../logger.js';
import { EventsInFlight, type RecordResult, recordEvents } from '../store/events.js';
import { once } from './idempotency.js';
import { eventsFromOtlp } from './otlp.js';
import { parseTraceBody, type Rejection, traceToEvent, validateTraces } from './traces.js';

/** Stores events; a batch partly held by a concurrent request becomes a retryable 503. */
async function store(events: readonly TraceEvent[], now: number): Promise<RecordResult> {
  const config = getConfig();
  try {
    return await recordEvents(events, {
      tableName: config.tableName,
      retentionDays: config.retentionDays,
      rollupRetentionDays: config.rollupRetentionDays,
      now,
    });
  } catch (error) {
    if (!(error instanceof EventsInFlight)) throw error;
    throw new HttpProblem(
      503,
      'Service Unavailable',
      `${error.count} items are being stored by another request right now; the other ${error.partial.stored + error.partial.duplicates} were stored. Retry in a few seconds: items already stored are not counted twice.`,
      { headers: { 'retry-after': '2' } },
    );
  }
}

function idempotencyScope(request: HttpRequest, now: number) {
  return {
    tableName: getConfig().tableName,
    route: request.path,
    key: request.headers['idempotency-key'],
    body: request.rawBody ?? '',
    now,
  };
}

/** `POST /ingest/trace`. */
export async function ingestTraces(request: HttpRequest): Promise<HttpResponse> {
  const config = getConfig();
  const now = clock.now();
  const parsed = parseTraceBody(request.rawBody, request.headers['content-type']);
  const { valid, rejected } = validateTraces(parsed, { now, retentionDays: config.retentionDays });
  const noneValid = (all: Rejection[]) => {
    const first = all[0];
    return new HttpProblem(
      400,
      'Bad Request',
      `no valid trace; item ${first?.index}: ${first?.field}: ${first?.reason}`,
      {
        field: first ? `${first.index}.${first.field}` : 'body',
        errors: all.map((r) => ({ field: `${r.index}.${r.field}`, message: r.reason })),
      },
    );
  };
  if (valid.length === 0) throw noneValid(rejected);
  const answer = await once(idempotencyScope(request, now), async () => {
    const result = await store(
      valid.map((v) => traceToEvent(v.input)),
      now,
    );
    // The write path refuses by position in what it was given: map back to the body's items.
    const refused = result.refused.map((r) => ({ ...r, index: (valid[r.index] as { index: number }).index }));
    const allRejected = [...rejected, ...refused].sort((a, b) => a.index - b.index);
    if (refused.length === valid.length) throw noneValid(allRejected);
    return {
      statusCode: 200,
      body: { accepted: valid.length - refused.length, duplicates: result.duplicates, rejected: allRejected },
    };
  });
  return {
    statusCode: answer.statusCode,
    headers: { 'idempotent-replayed': String(answer.replayed) },
    body: answer.body,
  };
}

/** `POST /v1/traces`: OTLP/HTTP JSON. */
export async function ingestOtlp(request: HttpRequest): Promise<HttpResponse> {
  const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') {
    throw new HttpProblem(
      415,
      'Unsupported Media Type',
      'content-type: send OTLP/HTTP with JSON encoding (application/json); protobuf is not supported',
      { field: 'content-type' },
    );
  }
  const now = clock.now();
  const result = eventsFromOtlp(request.body);
  const answer = await once(idempotencyScope(request, now), async () => {
    const stored = await store(result.events, now);
    // Spans refused by the write path's limits (time, duration, numbers) count as rejected, as unreadable ones do.
    const errors = [
      ...result.errors,
      ...stored.refused.map((r) => `span ${result.events[r.index]?.spanId ?? '?'}: ${r.field}: ${r.reason}`),
    ];
    const rejected = result.rejected + stored.refused.length;
    logger.info('otlp spans', { events: result.events.length, skipped: result.skipped, rejected, stored });
    // OTLP: a full success is an empty object; partial success names what was rejected.
    const body =
      rejected > 0
        ? { partialSuccess: { rejectedSpans: rejected, errorMessage: errors.slice(0, 5).join('; ') } }
        : {};
    return { statusCode: 200, body };
  });
  return {
    statusCode: answer.statusCode,
    headers: { 'x-skipped-spans': String(result.skipped), 'idempotent-replayed': String(answer.replayed) },
    body: answer.body,
  };
}
