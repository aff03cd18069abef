/**
 * The client package writes the trace shape out by hand (it ships without zod):
 * this proves, at typecheck, that it is exactly what the server's schema
 * accepts once parsed, and at run time that a trace using every field passes it.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ERROR_TYPES } from '../events/model.js';
import { type TraceInput as ServerTraceInput, traceInputSchema } from '../ingest/schema.js';
import type { ErrorType, TraceInput } from './src/index.js';

describe('the client package’s TraceInput', () => {
  it('is the type of the server’s schema, field by field', () => {
    expectTypeOf<TraceInput>().toEqualTypeOf<ServerTraceInput>();
    expectTypeOf<ErrorType>().toEqualTypeOf<(typeof ERROR_TYPES)[number]>();
  });

  it('passes the schema with every field set', () => {
    const full: Required<TraceInput> = {
      ts: Date.UTC(2026, 0, 1),
      endpoint: 'chat',
      ok: false,
      latencyMs: 812.5,
      id: 'call-1',
      model: 'gpt-4o-mini',
      region: 'eu-west-1',
      status: 200,
      errorType: 'network',
      errorMessage: 'terminated',
      inputTokens: 10,
      outputTokens: 5,
      cachedTokens: 2,
      reasoningTokens: 1,
      responseBytes: 2048,
      costUsd: 0.0001,
      requestId: 'req_1',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      ttftMs: 120.25,
      attributes: { stream: 'failed' },
    };
    expect(traceInputSchema.safeParse(full).success).toBe(true);
  });
});
