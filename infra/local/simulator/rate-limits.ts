/**
 * The x-ratelimit-* headers: leaky buckets of requests and tokens that drain linearly
 * at their limit per minute.
 */
import type { ServerResponse } from 'node:http';

export const LIMIT_REQUESTS = 10_000;
const LIMIT_TOKENS = 10_000_000;
const TOKENS_PER_REQUEST = LIMIT_TOKENS / LIMIT_REQUESTS;

/** Go-style duration as in `x-ratelimit-reset-*` headers: `120ms`, `1.5s`, `6m0s`. */
function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Number(((ms % 60_000) / 1000).toFixed(3));
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/** Sets the rate-limit headers on a reply after counting one request of `used` tokens. */
export function rateLimiter(): (res: ServerResponse, used: number) => void {
  const bucket = { requests: 0, tokens: 0, at: Date.now() };
  return (res, used) => {
    const t = Date.now();
    const drained = ((t - bucket.at) / 60_000) * LIMIT_REQUESTS;
    bucket.requests = Math.min(LIMIT_REQUESTS, Math.max(0, bucket.requests - drained) + 1);
    bucket.tokens = Math.min(LIMIT_TOKENS, Math.max(0, bucket.tokens - drained * TOKENS_PER_REQUEST) + used);
    bucket.at = t;
    res.setHeader('x-ratelimit-limit-requests', String(LIMIT_REQUESTS));
    res.setHeader('x-ratelimit-remaining-requests', String(Math.floor(LIMIT_REQUESTS - bucket.requests)));
    res.setHeader('x-ratelimit-limit-tokens', String(LIMIT_TOKENS));
    res.setHeader('x-ratelimit-remaining-tokens', String(Math.floor(LIMIT_TOKENS - bucket.tokens)));
    res.setHeader('x-ratelimit-reset-requests', goDuration((bucket.requests / LIMIT_REQUESTS) * 60_000));
    res.setHeader('x-ratelimit-reset-tokens', goDuration((bucket.tokens / LIMIT_TOKENS) * 60_000));
  };
}
