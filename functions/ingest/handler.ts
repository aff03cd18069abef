import { httpHandler } from '../../shared/http/middleware.js';
import {
  INGEST_MAX_BODY_BYTES,
  ingestOtlp,
  ingestTraces,
  renderOtlpProblem,
} from '../../shared/ingest/ingest.js';

/**
 * POST /ingest/trace (one trace, an array or NDJSON) and POST /v1/traces
 * (OTLP/HTTP, protobuf or JSON). Both need INGEST_API_KEY (checked by the HTTP stack); what
 * each answer guarantees is in shared/ingest/ingest.ts.
 */
export const handler = httpHandler(
  (request) => (request.path === '/v1/traces' ? ingestOtlp(request) : ingestTraces(request)),
  { maxBodyBytes: INGEST_MAX_BODY_BYTES, renderProblem: renderOtlpProblem },
);
