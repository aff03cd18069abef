/**
 * The trace a client sends to `POST /ingest/trace`: one zod definition, used
 * by the server to validate every item. The client package (shared/client)
 * writes the same shape out without zod; its typecheck test keeps the two equal.
 */

import { ERROR_TYPES } from '../events/model.js';
import { attributesSchema, EVENT_LIMITS, LABEL_SCHEMAS } from '../events/storable.js';
import * as z from '../zod.js';

export const INGEST_LIMITS = {
  items: 1000,
  attributes: EVENT_LIMITS.attributes,
  attributeKeyLength: EVENT_LIMITS.attributeKeyLength,
  attributeValueLength: EVENT_LIMITS.attributeValueLength,
  /** How far ahead of the server's clock a timestamp may be (client clock skew). */
  futureSkewMs: EVENT_LIMITS.futureSkewMs,
} as const;

const label = (max: number) =>
  z
    .string()
    .check(
      z.trim(),
      z.minLength(1, 'must not be empty'),
      z.maxLength(max, `must be at most ${max} characters`),
    );
const tokens = z
  .number()
  .check(z.int('must be a whole number'), z.gte(0, 'must not be negative'), z.lte(100_000_000));

export const traceInputSchema = z
  .strictObject({
    /** Start of the call, epoch milliseconds UTC. */
    ts: z
      .number({ error: 'must be epoch milliseconds' })
      .check(z.int('must be whole epoch milliseconds'), z.positive()),
    /** What was called: `chat`, `responses`, `embeddings`, … */
    endpoint: LABEL_SCHEMAS.endpoint,
    ok: z.boolean({ error: 'must be true or false' }),
    /** Request start to the full body, ms. */
    latencyMs: z.number({ error: 'must be a number of milliseconds' }).check(z.gte(0), z.lte(3_600_000)),
    /** Unique per call: a call sent again with the same id and ts overwrites, never duplicates. */
    id: z.optional(
      z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1 to 128 letters, digits or . _ : -')),
    ),
    model: z.optional(LABEL_SCHEMAS.model),
    region: z.optional(LABEL_SCHEMAS.region),
    status: z.optional(
      z.number().check(z.int(), z.gte(100, 'must be an HTTP status'), z.lte(599, 'must be an HTTP status')),
    ),
    errorType: z.optional(z.enum(ERROR_TYPES, { error: `must be one of ${ERROR_TYPES.join(', ')}` })),
    errorMessage: z.optional(z.string().check(z.maxLength(EVENT_LIMITS.errorMessageLength))),
    inputTokens: z.optional(tokens),
    outputTokens: z.optional(tokens),
    /** Part of inputTokens. */
    cachedTokens: z.optional(tokens),
    /** Part of outputTokens. */
    reasoningTokens: z.optional(tokens),
    responseBytes: z.optional(z.number().check(z.int(), z.gte(0), z.lte(EVENT_LIMITS.responseBytes))),
    /** USD; estimated from the price table when absent. */
    costUsd: z.optional(z.number().check(z.gte(0), z.lte(100_000))),
    requestId: z.optional(label(200)),
    /** The W3C trace id of the call (what log lines carrying the same `traceId` link to). */
    traceId: z.optional(z.string().check(z.regex(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex characters'))),
    /** The call's span id within that trace. */
    spanId: z.optional(z.string().check(z.regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex characters'))),
    /** Time to first token of a streamed answer, ms. */
    ttftMs: z.optional(z.number().check(z.gte(0), z.lte(3_600_000))),
    attributes: z.optional(attributesSchema),
  })
  .check(
    z.superRefine((item, ctx) => {
      if (!item.ok && item.errorType === undefined && item.status === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['errorType'],
          message: 'a failed call needs errorType or status',
        });
      }
      if (item.ok && item.errorType !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['errorType'], message: 'must be absent when ok is true' });
      }
      if (item.cachedTokens !== undefined && item.cachedTokens > (item.inputTokens ?? 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['cachedTokens'],
          message: 'cannot exceed inputTokens (cached tokens are part of the input)',
        });
      }
      if (item.reasoningTokens !== undefined && item.reasoningTokens > (item.outputTokens ?? 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['reasoningTokens'],
          message: 'cannot exceed outputTokens (reasoning tokens are part of the output)',
        });
      }
    }),
  );

export type TraceInput = z.infer<typeof traceInputSchema>;
