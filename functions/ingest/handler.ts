import { httpHandler } from '../../shared/http/middleware.js';
import { ingestOtlp, ingestTraces } from '../../shared/ingest/ingest.js';

/**
 * POST /ingest/trace (one trace, an array or NDJSON) and POST /v1/traces
 * (OTLP/HTTP JSON). Both need INGEST_API_KEY (checked by the HTTP stack); what
 * each answer guarantees is in shared/ingest/ingest.ts.
 */
export const handler = httpHandler((request) =>
  request.path === '/v1/traces' ? ingestOtlp(request) : ingestTraces(request),
);
