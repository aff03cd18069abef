/**
 * One item of `POST /ingest/trace`, as this package sends it.
 *
 * The server validates items with its zod schema (`shared/ingest/schema.ts` in
 * the openai-status repository); this package ships without zod, so the shape
 * is written out here, and the repository's typecheck proves both directions
 * agree (`shared/client/trace-input.test.ts`).
 */
export type ErrorType =
  | 'timeout'
  | 'network'
  | 'auth'
  | 'rate_limited'
  | 'client_error'
  | 'server_error'
  | 'invalid_response'
  | 'unknown';

export interface TraceInput {
  /** Start of the call, epoch milliseconds UTC. */
  ts: number;
  /** What was called: `chat`, `responses`, `embeddings`, … */
  endpoint: string;
  ok: boolean;
  /** Request start to the end of the body (the last streamed event for a stream), ms. */
  latencyMs: number;
  /** Unique per call; derived from the content by the server when absent. */
  id?: string | undefined;
  model?: string | undefined;
  region?: string | undefined;
  /** HTTP status of the answer. */
  status?: number | undefined;
  /** Required when `ok` is false and there is no `status`; derived from `status` otherwise. */
  errorType?: ErrorType | undefined;
  errorMessage?: string | undefined;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  /** Part of inputTokens. */
  cachedTokens?: number | undefined;
  /** Part of outputTokens. */
  reasoningTokens?: number | undefined;
  responseBytes?: number | undefined;
  /** USD; estimated by the server from its price table when absent. */
  costUsd?: number | undefined;
  requestId?: string | undefined;
  /** W3C trace id (32 lower-case hex): links the call to log lines carrying it. */
  traceId?: string | undefined;
  /** The call's span id (16 lower-case hex). */
  spanId?: string | undefined;
  /** Request start to the first streamed token, ms. */
  ttftMs?: number | undefined;
  /** At most 32 entries; keys up to 64, values up to 512 characters. */
  attributes?: Record<string, string> | undefined;
}
