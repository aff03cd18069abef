/**
 * What OpenAI's response headers say about a call: the request id for
 * support, the server's own processing time, and the rate-limit headroom.
 */
import type { RateLimitHeadroom } from '../events/model.js';

export interface OpenAIHeaderFacts {
  requestId?: string;
  processingMs?: number;
  rateLimit?: RateLimitHeadroom;
}

/** Headers worth keeping on the span, as `http.response.header.<name>`. */
export const RECORDED_HEADERS = [
  'x-request-id',
  'openai-processing-ms',
  'openai-version',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
  'retry-after',
  'retry-after-ms',
] as const;

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 1e-6,
};

/** Parses a Go duration (`1s`, `6m0s`, `120ms`, `1h2m3.5s`) to ms; undefined when it is not one. */
export function parseGoDuration(text: string | null | undefined): number | undefined {
  if (!text) return undefined;
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    total += Number(amount) * (UNIT_MS[unit as string] ?? 0);
  }
  return Math.round(total * 1000) / 1000;
}

function nonNegativeInt(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  return Number(text);
}

/** Reads the facts from a header lookup (a Headers object, or a plain record of lower-case names). */
export function readOpenAIHeaders(get: (name: string) => string | null | undefined): OpenAIHeaderFacts {
  const rateLimit: RateLimitHeadroom = {};
  const set = <K extends keyof RateLimitHeadroom>(key: K, value: number | undefined) => {
    if (value !== undefined) rateLimit[key] = value;
  };
  set('limitRequests', nonNegativeInt(get('x-ratelimit-limit-requests')));
  set('remainingRequests', nonNegativeInt(get('x-ratelimit-remaining-requests')));
  set('resetRequestsMs', parseGoDuration(get('x-ratelimit-reset-requests')));
  set('limitTokens', nonNegativeInt(get('x-ratelimit-limit-tokens')));
  set('remainingTokens', nonNegativeInt(get('x-ratelimit-remaining-tokens')));
  set('resetTokensMs', parseGoDuration(get('x-ratelimit-reset-tokens')));
  const requestId = get('x-request-id')?.trim() || undefined;
  const processingMs = nonNegativeInt(get('openai-processing-ms'));
  return {
    ...(requestId ? { requestId } : {}),
    ...(processingMs === undefined ? {} : { processingMs }),
    ...(Object.keys(rateLimit).length ? { rateLimit } : {}),
  };
}
