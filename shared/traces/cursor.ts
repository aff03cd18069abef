/**
 * The opaque paging cursor of `/traces`.
 *
 * A cursor is `<payload>.<signature>`: the payload is base64url JSON
 * `{ v: 1, pk, sk, q, r }` where `pk`/`sk` is the position to resume from
 * (`sk` is where the last page stopped: the last item handed out, or how far
 * every shard was read when a bound stopped it; used as ExclusiveStartKey in
 * each of the hour's shards. `null` means "from the top of hour `pk`"), `q` is a hash of the normalized
 * query (range and filters, not the format or page size) and `r` the resolved
 * `[from, to]` range, so a follow-up request may omit `from`/`to`. The
 * signature is a truncated HMAC-SHA256 of the payload text.
 *
 * The HMAC protects integrity, not confidentiality: anyone can base64-decode a
 * cursor and read the position and range (nothing secret is in it). The key
 * is CURSOR_SECRET, a real secret everywhere and never derived from anything
 * public: in the cloud the stack generates it in its own Secrets Manager
 * secret; `npm start` generates one on first start and keeps it in the data
 * directory (infra/local/cursor-secret.ts); tests get a random one. Without a
 * key the route answers 500 and says why (cursorKey), rather than signing with
 * a guessable one.
 *
 * Even a genuine cursor is not trusted beyond its signature: the server
 * re-validates every decoded cursor like a request (shared/traces/query.ts):
 * its range within retention and not in the future, equal to the request's
 * range when the request gives one, the same query hash, and a position (an
 * `EV#` hour inside the range, a sort key inside that hour and range).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.js';
import { HttpProblem } from '../http/problem.js';

const CURSOR_VERSION = 1;
/** Longest cursor accepted (a real one is about 200 characters). */
const MAX_CURSOR_LENGTH = 1024;
/** Signature bytes kept: 18 bytes is 144 bits, and encodes to 24 base64url characters with no spare bits. */
const SIGNATURE_BYTES = 18;

export interface TraceCursor {
  /** The hour (`EV#<hour>`, keys.ts eventHourKey) to resume in: every shard of it resumes below `sk`. */
  pk: string;
  /** Sort key the hour resumes below (ExclusiveStartKey in each shard), or null for the hour's top. */
  sk: string | null;
  /** Hash of the normalized query the cursor belongs to. */
  q: string;
  /** The query's resolved range, epoch ms. */
  from: number;
  to: number;
}

export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CursorError';
  }
}

/**
 * The signing key, CURSOR_SECRET. Its absence is a deployment fault, not the
 * caller's: a 500 that names the variable (the middleware logs it), never a
 * fallback key.
 */
export function cursorKey(config: Pick<Config, 'cursorSecret'>): string {
  if (config.cursorSecret) return config.cursorSecret;
  throw new HttpProblem(
    500,
    'Internal Server Error',
    'CURSOR_SECRET is not set, so /traces cannot sign or check cursors. In the cloud the stack generates it ' +
      '(the function reads it through CURSOR_SECRET_ARN); locally npm start generates it.',
  );
}

/** A short, stable hash of a normalized query object (keys must already be in a fixed order). */
export function queryHash(normalized: unknown): string {
  return createHash('sha256').update(JSON.stringify(normalized)).digest('base64url').slice(0, 22);
}

function sign(payload: string, secret: string): string {
  return createHmac('sha256', secret)
    .update(payload)
    .digest()
    .subarray(0, SIGNATURE_BYTES)
    .toString('base64url');
}

export function encodeCursor(cursor: TraceCursor, secret: string): string {
  const payload = Buffer.from(
    JSON.stringify({
      v: CURSOR_VERSION,
      pk: cursor.pk,
      sk: cursor.sk,
      q: cursor.q,
      r: [cursor.from, cursor.to],
    }),
    'utf8',
  ).toString('base64url');
  return `${payload}.${sign(payload, secret)}`;
}

/**
 * Verifies and decodes a cursor. Throws CursorError for anything that is not a
 * cursor this server signed with this key (tampered, truncated, other version).
 * It does not check that the cursor fits the request: the caller does.
 */
export function decodeCursor(text: string, secret: string): TraceCursor {
  if (text.length > MAX_CURSOR_LENGTH) throw new CursorError('too long');
  const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(text);
  if (!match) throw new CursorError('not a cursor');
  const [, payload = '', signature = ''] = match;
  // Compare the signature as text: two different base64url strings never pass, even if they decode alike.
  const expected = Buffer.from(sign(payload, secret), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new CursorError('bad signature (tampered or truncated)');
  }
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('unreadable');
  }
  if (typeof data !== 'object' || data === null) throw new CursorError('unreadable');
  const { v, pk, sk, q, r } = data as Record<string, unknown>;
  if (v !== CURSOR_VERSION) throw new CursorError('unsupported version');
  if (typeof pk !== 'string' || (sk !== null && typeof sk !== 'string') || typeof q !== 'string') {
    throw new CursorError('malformed');
  }
  if (!Array.isArray(r) || r.length !== 2 || !r.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new CursorError('malformed');
  }
  return { pk, sk, q, from: r[0] as number, to: r[1] as number };
}
