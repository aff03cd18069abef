/**
 * The gate every trace event passes before the write path touches the table,
 * whoever made it (probe, `/ingest/trace`, OTLP): one schema with the limits
 * of a stored event. An event that passes can always be written (its keys fit
 * DynamoDB's key sizes, its numbers fit DynamoDB numbers, its strings are
 * well-formed Unicode, its attribute names are plain data), so a batch never
 * fails halfway because of one unusual item: the item is refused on its own,
 * with the field and the reason.
 */
import * as z from 'zod';
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
const text = (max: number) =>
  z
    .string()
    .transform((s) => s.toWellFormed())
    .pipe(z.string().max(max, `must be at most ${max} characters`));

const label = (limit: { chars: number; encodedBytes: number }) =>
  z
    .string()
    .transform((s) => s.toWellFormed().trim())
    .pipe(
      z
        .string()
        .min(1, 'must not be empty')
        .max(limit.chars, `must be at most ${limit.chars} characters`)
        .refine(
          (s) => encodeURIComponent(s).length <= limit.encodedBytes,
          `is too long once encoded for the table key (at most ${limit.encodedBytes} bytes; non-ASCII characters take 6 to 12)`,
        ),
    );

const ms = z
  .number()
  .finite('must be a finite number')
  .min(0, 'must not be negative')
  .max(EVENT_LIMITS.latencyMs, 'must be at most 1 hour');
const count = (max: number) =>
  z.number().int('must be a whole number').min(0, 'must not be negative').max(max, `must be at most ${max}`);

/**
 * Attributes are checked on the object as received, before anything copies
 * it: copying `{"__proto__": …}` into a new object silently drops the entry.
 */
export const attributesSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const key of Object.keys(value)) {
      if (RESERVED_NAMES.has(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is a reserved name`, input: key });
      }
    }
  })
  .pipe(
    z
      .record(
        z
          .string()
          .min(1, 'names must not be empty')
          .max(
            EVENT_LIMITS.attributeKeyLength,
            `names must be at most ${EVENT_LIMITS.attributeKeyLength} characters`,
          )
          .refine((key) => key.isWellFormed(), 'names must be well-formed Unicode'),
        text(EVENT_LIMITS.attributeValueLength),
        { error: 'must be an object of string values' },
      )
      .refine(
        (a) => Object.keys(a).length <= EVENT_LIMITS.attributes,
        `at most ${EVENT_LIMITS.attributes} attributes`,
      ),
  );

export const LABEL_SCHEMAS = {
  endpoint: label(EVENT_LIMITS.endpoint),
  model: label(EVENT_LIMITS.model),
  region: label(EVENT_LIMITS.region),
} as const;

const storableEventSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1 to 128 letters, digits or . _ : -'),
    ts: z.number().int('must be whole epoch milliseconds').positive('must be epoch milliseconds'),
    source: z.enum(SOURCES),
    endpoint: LABEL_SCHEMAS.endpoint,
    model: LABEL_SCHEMAS.model.optional(),
    region: LABEL_SCHEMAS.region.optional(),
    upstream: z.enum(['real', 'simulated']).optional(),
    ok: z.boolean(),
    status: z.number().int().min(100, 'must be an HTTP status').max(599, 'must be an HTTP status').optional(),
    errorType: z.enum(ERROR_TYPES).optional(),
    errorMessage: text(EVENT_LIMITS.errorMessageLength).optional(),
    latencyMs: ms,
    timing: z
      .object({
        dnsMs: ms.optional(),
        connectMs: ms.optional(),
        tlsMs: ms.optional(),
        ttfbMs: ms.optional(),
        transferMs: ms.optional(),
        ttftMs: ms.optional(),
        reused: z.boolean().optional(),
      })
      .strict()
      .optional(),
    streamed: z.boolean().optional(),
    usage: z
      .object({
        input: count(EVENT_LIMITS.tokens).optional(),
        output: count(EVENT_LIMITS.tokens).optional(),
        cached: count(EVENT_LIMITS.tokens).optional(),
        reasoning: count(EVENT_LIMITS.tokens).optional(),
      })
      .strict()
      .optional(),
    responseBytes: count(EVENT_LIMITS.responseBytes).optional(),
    costUsd: z.number().finite().min(0).max(EVENT_LIMITS.costUsd).optional(),
    requestId: text(200).optional(),
    processingMs: ms.optional(),
    rateLimit: z
      .object({
        limitRequests: count(Number.MAX_SAFE_INTEGER).optional(),
        remainingRequests: count(Number.MAX_SAFE_INTEGER).optional(),
        resetRequestsMs: z.number().finite().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
        limitTokens: count(Number.MAX_SAFE_INTEGER).optional(),
        remainingTokens: count(Number.MAX_SAFE_INTEGER).optional(),
        resetTokensMs: z.number().finite().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      })
      .strict()
      .optional(),
    traceId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'must be 32 hex characters')
      .optional(),
    spanId: z
      .string()
      .regex(/^[0-9a-f]{16}$/, 'must be 16 hex characters')
      .optional(),
    attributes: attributesSchema.optional(),
  })
  .strict();

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
