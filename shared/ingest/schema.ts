/**
 * The trace a client sends to `POST /ingest/trace`: one zod definition, used
 * by the server to validate every item. The client package (shared/client)
 * writes the same shape out without zod; its typecheck test keeps the two equal.
 */
import * as z from 'zod';
import { ERROR_TYPES } from '../events/model.js';
import { attributesSchema, EVENT_LIMITS, LABEL_SCHEMAS } from '../events/storable.js';

export const INGEST_LIMITS = {
  items: 1000,
  attributes: EVENT_LIMITS.attributes,
  attributeKeyLength: EVENT_LIMITS.attributeKeyLength,
  attributeValueLength: EVENT_LIMITS.attributeValueLength,
  /** How far ahead of the server's clock a timestamp may be (client clock skew). */
  futureSkewMs: EVENT_LIMITS.futureSkewMs,
} as const;

const label = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const tokens = z.number().int('must be a whole number').min(0, 'must not be negative').max(100_000_000);

export const traceInputSchema = z
  .object({
    /** Start of the call, epoch milliseconds UTC. */
    ts: z.number({ error: 'must be epoch milliseconds' }).int('must be whole epoch milliseconds').positive(),
    /** What was called: `chat`, `responses`, `embeddings`, … */
    endpoint: LABEL_SCHEMAS.endpoint,
    ok: z.boolean({ error: 'must be true or false' }),
    /** Request start to the full body, ms. */
    latencyMs: z.number({ error: 'must be a number of milliseconds' }).finite().min(0).max(3_600_000),
    /** Unique per call: a call sent again with the same id and ts overwrites, never duplicates. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1 to 128 letters, digits or . _ : -')
      .optional(),
    model: LABEL_SCHEMAS.model.optional(),
    region: LABEL_SCHEMAS.region.optional(),
    status: z.number().int().min(100, 'must be an HTTP status').max(599, 'must be an HTTP status').optional(),
    errorType: z.enum(ERROR_TYPES, { error: `must be one of ${ERROR_TYPES.join(', ')}` }).optional(),
    errorMessage: z.string().max(EVENT_LIMITS.errorMessageLength).optional(),
    inputTokens: tokens.optional(),
    outputTokens: tokens.optional(),
    /** Part of inputTokens. */
    cachedTokens: tokens.optional(),
    /** Part of outputTokens. */
    reasoningTokens: tokens.optional(),
    responseBytes: z.number().int().min(0).max(EVENT_LIMITS.responseBytes).optional(),
    /** USD; estimated from the price table when absent. */
    costUsd: z.number().finite().min(0).max(100_000).optional(),
    requestId: label(200).optional(),
    /** The W3C trace id of the call (what log lines carrying the same `traceId` link to). */
    traceId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex characters')
      .optional(),
    /** The call's span id within that trace. */
    spanId: z
      .string()
      .regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex characters')
      .optional(),
    /** Time to first token of a streamed answer, ms. */
    ttftMs: z.number().finite().min(0).max(3_600_000).optional(),
    attributes: attributesSchema.optional(),
  })
  .strict()
  .superRefine((item, ctx) => {
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
  });

export type TraceInput = z.infer<typeof traceInputSchema>;
