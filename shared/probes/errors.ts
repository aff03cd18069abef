/**
 * Classifies a failed probe call into the error taxonomy (shared/events/model.ts)
 * from the SDK's typed errors, and cleans the message of anything secret.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  OpenAIError,
} from 'openai';
import type { ErrorType } from '../events/model.js';
import { errorTypeForStatus } from '../events/model.js';
import { redactSecrets } from '../redact.js';

export interface ClassifiedError {
  errorType: ErrorType;
  status?: number;
  message: string;
  /** Response headers of an HTTP error (request id, retry-after, rate limits). */
  headers?: Headers;
}

export function classifyError(error: unknown): ClassifiedError {
  const message = redactSecrets(error instanceof Error ? error.message : String(error)).slice(0, 300);
  // Order matters: the timeout error is a connection error, and both are APIErrors without a status.
  if (error instanceof APIConnectionTimeoutError) return { errorType: 'timeout', message };
  // Our own deadline (the invocation's time budget) aborted the call.
  if (error instanceof APIUserAbortError) return { errorType: 'timeout', message };
  if (error instanceof APIConnectionError) return { errorType: 'network', message };
  if (error instanceof APIError && typeof error.status === 'number') {
    return {
      errorType: errorTypeForStatus(error.status) ?? 'invalid_response',
      status: error.status,
      message,
      ...(error.headers instanceof Headers ? { headers: error.headers } : {}),
    };
  }
  // A 2xx whose body is not JSON (SyntaxError) or not a valid stream (OpenAIError).
  if (error instanceof SyntaxError || error instanceof OpenAIError)
    return { errorType: 'invalid_response', message };
  return { errorType: 'unknown', message };
}
