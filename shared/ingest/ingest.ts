/**
 * Trace ingestion, both routes: `POST /ingest/trace` (one trace, an array or
 * NDJSON) and `POST /v1/traces` (OTLP/HTTP, protobuf or JSON). Each parses its body, turns
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
 *   `/v1/traces` answers 503 with Retry-After instead: OTLP exporters retry
 *   only 429, 502, 503 and 504, and the retry is safe.
 */
import { createHash } from 'node:crypto';
import { clock } from '../clock.js';
import { getConfig } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import type { HttpRequest, HttpResponse } from '../http/middleware.js';
import { HttpProblem } from '../http/problem.js';
import { logger } from '../logger.js';
import { EventsInFlight, type RecordResult, recordEvents } from '../store/events.js';
import { once } from './idempotency.js';
import { eventsFromOtlp } from './otlp.js';
import { encodeStatus, PROTOBUF_CONTENT_TYPE } from './otlp-status.js';
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

/**
 * The largest request body of both routes, measured after decompression.
 * Every body this size reaches the function whatever its encoding: Lambda
 * takes at most 6 MB (6,291,456 bytes) in a synchronous invocation, and API
 * Gateway hands a binary body (protobuf, or anything gzip-encoded) over in
 * base64, a third larger: 4 MiB becomes 5,592,408 bytes, which leaves about
 * 0.7 MB for the headers and the rest of the event.
 */
export const INGEST_MAX_BODY_BYTES = 4 * 1024 * 1024;

function idempotencyScope(request: HttpRequest, now: number, body = request.rawBody ?? '') {
  return {
    tableName: getConfig().tableName,
    route: request.path,
    key: request.headers['idempotency-key'],
    body,
    now,
  };
}

/**
 * Stores trace items the way `POST /ingest/trace` stores a body's items
 * (same validation, same events, same write path), for producers inside the
 * service: the log simulator's calls. Invalid items are returned, not stored.
 */
export async function storeTraceItems(
  items: readonly unknown[],
  now: number,
): Promise<RecordResult & { rejected: Rejection[] }> {
  const config = getConfig();
  const parsed = { items: items.map((value, index) => ({ index, value })), rejected: [] };
  const { valid, rejected } = validateTraces(parsed, { now, retentionDays: config.retentionDays });
  const result = await store(
    valid.map((v) => traceToEvent(v.input)),
    now,
  );
  return { ...result, rejected };
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

type OtlpEncoding = 'protobuf' | 'json';

function otlpEncoding(contentType: string | undefined): OtlpEncoding | undefined {
  const media = contentType?.split(';')[0]?.trim().toLowerCase();
  if (media === 'application/x-protobuf' || media === 'application/protobuf') return 'protobuf';
  if (media === 'application/json') return 'json';
  return undefined;
}

/**
 * OTLP/HTTP answers an error in the request's encoding: a protobuf request
 * gets a protobuf `google.rpc.Status`; a JSON one keeps problem+json (whose
 * `detail` is the Status message).
 */
export function renderOtlpProblem(
  problem: HttpProblem,
  event: { rawPath?: string; headers?: Record<string, string | undefined> },
) {
  if (event.rawPath !== '/v1/traces') return undefined;
  const contentType = Object.entries(event.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'content-type',
  )?.[1];
  if (otlpEncoding(contentType) !== 'protobuf') return undefined;
  return { contentType: PROTOBUF_CONTENT_TYPE, body: encodeStatus(problem.message) };
}

/** `POST /v1/traces`: OTLP/HTTP, protobuf (the exporters' default) or JSON. */
export async function ingestOtlp(request: HttpRequest): Promise<HttpResponse> {
  const encoding = otlpEncoding(request.headers['content-type']);
  if (!encoding) {
    throw new HttpProblem(
      415,
      'Unsupported Media Type',
      'content-type: send OTLP/HTTP as application/x-protobuf or application/json',
      { field: 'content-type' },
    );
  }
  const now = clock.now();
  const bytes = request.bodyBytes ?? Buffer.alloc(0);
  // The generated decoder is loaded with the first protobuf request: JSON senders never pay for it at init.
  const proto = encoding === 'protobuf' ? await import('./otlp-protobuf.js') : undefined;
  const result = eventsFromOtlp(proto ? proto.decodeTraceRequest(bytes) : request.body);
  const body =
    encoding === 'protobuf'
      ? `protobuf:${createHash('sha256').update(bytes).digest('hex')}`
      : request.rawBody;
  let answer: Awaited<ReturnType<typeof once>>;
  try {
    answer = await once(idempotencyScope(request, now, body), async () => {
      const stored = await store(result.events, now);
      // Spans refused by the write path's limits (time, duration, numbers) count as rejected, as unreadable ones do.
      const errors = [
        ...result.errors,
        ...stored.refused.map(
          (r) => `span ${result.events[r.index]?.spanId ?? '?'}: ${r.field}: ${r.reason}`,
        ),
      ];
      const refused = result.rejected + stored.refused.length;
      logger.info('otlp spans', {
        encoding,
        events: result.events.length,
        conventions: result.conventions,
        merged: result.merged,
        skipped: result.skipped,
        refused,
        stored,
      });
      // OTLP: a full success is an empty answer; otherwise partialSuccess counts every span not
      // stored (refused, or skipped as not an OpenAI call) and says which is which.
      const notes = [
        ...(refused > 0 ? [`${refused} spans refused: ${errors.slice(0, 5).join('; ')}`] : []),
        ...(result.skipped > 0 ? [`${result.skipped} spans skipped: not calls to the OpenAI API`] : []),
      ];
      const answerBody =
        notes.length > 0
          ? { partialSuccess: { rejectedSpans: refused + result.skipped, errorMessage: notes.join('; ') } }
          : {};
      return { statusCode: 200, body: answerBody };
    });
  } catch (error) {
    if (error instanceof HttpProblem) throw error;
    logger.error('otlp store failed', { error });
    throw new HttpProblem(
      503,
      'Service Unavailable',
      'The spans could not be stored right now; nothing of this request was kept. Retry: it will count once.',
      { headers: { 'retry-after': '5' } },
    );
  }
  const headers = {
    'x-skipped-spans': String(result.skipped),
    'idempotent-replayed': String(answer.replayed),
  };
  if (proto) {
    return {
      statusCode: answer.statusCode,
      headers: { ...headers, 'content-type': PROTOBUF_CONTENT_TYPE },
      body: proto.encodeTraceResponse(answer.body as Parameters<typeof proto.encodeTraceResponse>[0]),
    };
  }
  return { statusCode: answer.statusCode, headers, body: answer.body };
}
