/**
 * The gate every trace event passes before the write path touches the table,
 * whoever made it (probe, `/ingest/trace`, OTLP): one schema with the limits
 * of a stored event. An event that passes can always be written (its keys fit
 * DynamoDB's key sizes, its numbers fit DynamoDB numbers, its strings are
 * well-formed Unicode, its attribute names are plain data), so a batch never
 * fails halfway because of one unusual item: the item is refused on its own,
 * with the field and the reason.
 */
import * as z from '../zod.js';
import { ERROR_TYPES, SOURCES, type TraceEvent } from './model.js';

export const EVENT_LIMITS = {
  /** Longest call the store accepts, ms (also the longest phase). */
  latencyMs: 3_600_000,
  /** Tokens of one call, per kind. */
  tokens: 100_000_000,
  costUsd: 100_000,
  responseBytes: 1e12,
  /** Client clock skew tolerated ahead of the server's clock. */
  futureSkewMs: 5 * 60_000,
  attributes: 32,
  attributeKeyLength: 64,
  attributeValueLength: 512,
  errorMessageLength: 1000,
  /**
   * Labels as characters and as URI-encoded bytes: a rollup's sort key is
   * `<minute>#<endpoint>#<model>#<region>` encoded, and DynamoDB allows 1,024
   * bytes (16 + 3 + 300 + 400 + 200 = 919).
   */
  endpoint: { chars: 100, encodedBytes: 300 },
  model: { chars: 200, encodedBytes: 400 },
  region: { chars: 100, encodedBytes: 200 },
} as const;

/**
 * Names that mean something to every JavaScript object (`__proto__`,
 * `constructor`, `toString`, …). As attribute names they would be dropped,
 * or would break code that reads the object, so they are refused by name.
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
]);

/** Lone surrogates (which no store or encoder accepts) become U+FFFD; everything else is kept. */
const wellFormed = z.pipe(
  z.string(),
  z.transform((s: string) => s.toWellFormed()),
);
const text = (max: number) =>
  z.pipe(wellFormed, z.string().check(z.maxLength(max, `must be at most ${max} characters`)));

const label = (limit: { chars: number; encodedBytes: number }) =>
  z.pipe(
    z.pipe(
      z.string(),
      z.transform((s: string) => s.toWellFormed().trim()),
    ),
    z.string().check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(limit.chars, `must be at most ${limit.chars} characters`),
      z.refine(
        (s) => encodeURIComponent(s).length <= limit.encodedBytes,
        `is too long once encoded for the table key (at most ${limit.encodedBytes} bytes; non-ASCII characters take 6 to 12)`,
      ),
    ),
  );

// z.number() already refuses NaN and ±Infinity (classic zod's `.finite()` was a no-op in v4).
const ms = z
  .number()
  .check(z.gte(0, 'must not be negative'), z.lte(EVENT_LIMITS.latencyMs, 'must be at most 1 hour'));
const count = (max: number) =>
  z
    .number()
    .check(
      z.int('must be a whole number'),
      z.gte(0, 'must not be negative'),
      z.lte(max, `must be at most ${max}`),
    );

/**
 * Attributes are checked on the object as received, before anything copies
 * it: copying `{"__proto__": …}` into a new object silently drops the entry.
 */
export const attributesSchema = z.pipe(
  z.unknown().check(
    z.superRefine((value, ctx) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
      for (const key of Object.keys(value)) {
        if (RESERVED_NAMES.has(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is a reserved name`, input: key });
        }
      }
    }),
  ),
  z
    .record(
      z.string().check(
        z.minLength(1, 'names must not be empty'),
        z.maxLength(
          EVENT_LIMITS.attributeKeyLength,
          `names must be at most ${EVENT_LIMITS.attributeKeyLength} characters`,
        ),
        z.refine((key) => key.isWellFormed(), 'names must be well-formed Unicode'),
      ),
      text(EVENT_LIMITS.attributeValueLength),
      { error: 'must be an object of string values' },
    )
    .check(
      z.refine(
        (a) => Object.keys(a).length <= EVENT_LIMITS.attributes,
        `at most ${EVENT_LIMITS.attributes} attributes`,
      ),
    ),
);

export const LABEL_SCHEMAS = {
  endpoint: label(EVENT_LIMITS.endpoint),
  model: label(EVENT_LIMITS.model),
  region: label(EVENT_LIMITS.region),
} as const;

const storableEventSchema = z.strictObject({
  id: z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1 to 128 letters, digits or . _ : -')),
  ts: z.number().check(z.int('must be whole epoch milliseconds'), z.positive('must be epoch milliseconds')),
  source: z.enum(SOURCES),
  endpoint: LABEL_SCHEMAS.endpoint,
  model: z.optional(LABEL_SCHEMAS.model),
  region: z.optional(LABEL_SCHEMAS.region),
  upstream: z.optional(z.enum(['real', 'simulated'])),
  ok: z.boolean(),
  status: z.optional(
    z.number().check(z.int(), z.gte(100, 'must be an HTTP status'), z.lte(599, 'must be an HTTP status')),
  ),
  errorType: z.optional(z.enum(ERROR_TYPES)),
  errorMessage: z.optional(text(EVENT_LIMITS.errorMessageLength)),
  latencyMs: ms,
  timing: z.optional(
    z.strictObject({
      dnsMs: z.optional(ms),
      connectMs: z.optional(ms),
      tlsMs: z.optional(ms),
      ttfbMs: z.optional(ms),
      transferMs: z.optional(ms),
      ttftMs: z.optional(ms),
      reused: z.optional(z.boolean()),
    }),
  ),
  streamed: z.optional(z.boolean()),
  usage: z.optional(
    z.strictObject({
      input: z.optional(count(EVENT_LIMITS.tokens)),
      output: z.optional(count(EVENT_LIMITS.tokens)),
      cached: z.optional(count(EVENT_LIMITS.tokens)),
      reasoning: z.optional(count(EVENT_LIMITS.tokens)),
    }),
  ),
  responseBytes: z.optional(count(EVENT_LIMITS.responseBytes)),
  costUsd: z.optional(z.number().check(z.gte(0), z.lte(EVENT_LIMITS.costUsd))),
  requestId: z.optional(text(200)),
  processingMs: z.optional(ms),
  rateLimit: z.optional(
    z.strictObject({
      limitRequests: z.optional(count(Number.MAX_SAFE_INTEGER)),
      remainingRequests: z.optional(count(Number.MAX_SAFE_INTEGER)),
      resetRequestsMs: z.optional(z.number().check(z.gte(0), z.lte(Number.MAX_SAFE_INTEGER))),
      limitTokens: z.optional(count(Number.MAX_SAFE_INTEGER)),
      remainingTokens: z.optional(count(Number.MAX_SAFE_INTEGER)),
      resetTokensMs: z.optional(z.number().check(z.gte(0), z.lte(Number.MAX_SAFE_INTEGER))),
    }),
  ),
  traceId: z.optional(z.string().check(z.regex(/^[0-9a-f]{32}$/, 'must be 32 hex characters'))),
  spanId: z.optional(z.string().check(z.regex(/^[0-9a-f]{16}$/, 'must be 16 hex characters'))),
  attributes: z.optional(attributesSchema),
});

export interface Refusal {
  /** Position in the batch given to the write path. */
  index: number;
  field: string;
  reason: string;
}

/**
 * Splits a batch into storable events (normalised) and refusals. `now` and
 * `retentionDays` bound the time: an event older than retention would expire
 * at once, and one far in the future would skew every window it falls in.
 */
export function checkStorable(
  events: readonly TraceEvent[],
  options: { now: number; retentionDays: number },
): { storable: { index: number; event: TraceEvent }[]; refused: Refusal[] } {
  const storable: { index: number; event: TraceEvent }[] = [];
  const refused: Refusal[] = [];
  const oldest = options.now - options.retentionDays * 86_400_000;
  events.forEach((event, index) => {
    const result = storableEventSchema.safeParse(event);
    if (!result.success) {
      const issue = result.error.issues[0];
      refused.push({
        index,
        field: issue?.path.map(String).join('.') || '(event)',
        reason: issue?.message ?? 'invalid',
      });
      return;
    }
    const { ts } = result.data;
    if (ts < oldest) {
      refused.push({
        index,
        field: 'ts',
        reason: `older than the retention of ${options.retentionDays} days`,
      });
      return;
    }
    if (ts > options.now + EVENT_LIMITS.futureSkewMs) {
      refused.push({ index, field: 'ts', reason: 'more than 5 minutes in the future' });
      return;
    }
    storable.push({ index, event: result.data as TraceEvent });
  });
  return { storable, refused };
}
