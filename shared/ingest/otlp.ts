/**
 * `POST /v1/traces`: OTLP/HTTP with JSON encoding. Spans that describe GenAI
 * calls (they carry `gen_ai.*` attributes) become trace events through the
 * span mapping (shared/telemetry/span-event.ts), which gives a probe's own
 * span the probe's event; other spans are counted and skipped. Spans that
 * claim to be GenAI calls but cannot be read are rejected and reported as
 * partial success, as the OTLP specification says.
 */
import * as z from 'zod';
import type { TraceEvent } from '../events/model.js';
import { HttpProblem } from '../http/problem.js';
import { ATTR, type Attributes, type AttributeValue, eventFromSpan } from '../telemetry/span-event.js';

// Only what we read is declared; OTLP says unknown fields are ignored.
const anyValue: z.ZodType<OtlpAnyValue> = z.lazy(() =>
  z
    .object({
      stringValue: z.string().optional(),
      boolValue: z.boolean().optional(),
      intValue: z.union([z.string(), z.number()]).optional(),
      doubleValue: z.union([z.number(), z.string()]).optional(),
      arrayValue: z.object({ values: z.array(anyValue).optional() }).optional(),
    })
    .loose(),
);
interface OtlpAnyValue {
  stringValue?: string | undefined;
  boolValue?: boolean | undefined;
  intValue?: string | number | undefined;
  doubleValue?: number | string | undefined;
  arrayValue?: { values?: OtlpAnyValue[] | undefined } | undefined;
}
const keyValues = z.array(z.object({ key: z.string(), value: anyValue.optional() }).loose()).optional();
const span = z
  .object({
    traceId: z.string().optional(),
    spanId: z.string().optional(),
    name: z.string().optional(),
    kind: z.union([z.number(), z.string()]).optional(),
    startTimeUnixNano: z.union([z.string(), z.number()]).optional(),
    endTimeUnixNano: z.union([z.string(), z.number()]).optional(),
    attributes: keyValues,
    status: z
      .object({ code: z.union([z.number(), z.string()]).optional(), message: z.string().optional() })
      .loose()
      .optional(),
  })
  .loose();
const otlpTraceRequest = z
  .object({
    resourceSpans: z
      .array(
        z
          .object({
            resource: z.object({ attributes: keyValues }).loose().optional(),
            scopeSpans: z.array(z.object({ spans: z.array(span).optional() }).loose()).optional(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();

function attributeValue(value: OtlpAnyValue | undefined): AttributeValue | undefined {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue) {
    // Nested arrays are not valid attribute values: they become null.
    return (value.arrayValue.values ?? []).map((v) => {
      const item = attributeValue(v);
      return Array.isArray(item) || item === undefined ? null : (item as string | number | boolean);
    });
  }
  return undefined;
}

function toAttributes(list: z.infer<typeof keyValues>): Record<string, AttributeValue | undefined> {
  // No prototype: a key named `__proto__` or `constructor` is data like any other.
  const attributes: Record<string, AttributeValue | undefined> = Object.create(null);
  for (const { key, value } of list ?? []) attributes[key] = attributeValue(value);
  return attributes;
}

/** Nanoseconds since the epoch (decimal string, or a number) → milliseconds, keeping sub-ms precision. */
function nanosToMs(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value / 1e6 : undefined;
  if (!/^\d{1,20}$/.test(value)) return undefined;
  const nanos = BigInt(value);
  return nanos > 0n ? Number(nanos / 1000n) / 1000 : undefined;
}

const isGenAi = (attributes: Attributes) =>
  [ATTR.operationName, ATTR.providerName, ATTR.legacySystem, ATTR.requestModel].some(
    (name) => attributes[name] !== undefined,
  );

/** Names a client must not set: an ingested span is never a probe, and its id is ours to derive. */
const RESERVED = [ATTR.source, ATTR.eventId, ATTR.upstream];

export interface OtlpResult {
  events: TraceEvent[];
  /** Spans that are not GenAI calls. */
  skipped: number;
  rejected: number;
  errors: string[];
}

export function eventsFromOtlp(body: unknown): OtlpResult {
  const parsed = otlpTraceRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = ['body', ...(issue?.path.map(String) ?? [])].join('.');
    throw new HttpProblem(400, 'Bad Request', `${field}: ${issue?.message ?? 'not an OTLP trace request'}`, {
      field,
    });
  }
  const result: OtlpResult = { events: [], skipped: 0, rejected: 0, errors: [] };
  for (const resourceSpans of parsed.data.resourceSpans ?? []) {
    const resource = toAttributes(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const s of scope.spans ?? []) {
        const attributes = toAttributes(s.attributes);
        if (!isGenAi(attributes)) {
          result.skipped++;
          continue;
        }
        const start = nanosToMs(s.startTimeUnixNano);
        const end = nanosToMs(s.endTimeUnixNano);
        const traceId = s.traceId?.toLowerCase();
        const spanId = s.spanId?.toLowerCase();
        const problem =
          !traceId || !/^[0-9a-f]{32}$/.test(traceId)
            ? 'traceId must be 32 hex characters'
            : !spanId || !/^[0-9a-f]{16}$/.test(spanId)
              ? 'spanId must be 16 hex characters'
              : start === undefined || end === undefined
                ? 'startTimeUnixNano and endTimeUnixNano are required'
                : end < start
                  ? 'endTimeUnixNano is before startTimeUnixNano'
                  : undefined;
        if (problem || start === undefined || end === undefined || !traceId || !spanId) {
          result.rejected++;
          if (result.errors.length < 5) result.errors.push(`span ${s.spanId ?? '?'}: ${problem}`);
          continue;
        }
        for (const name of RESERVED) delete attributes[name];
        const code = Number(s.status?.code ?? 0);
        result.events.push(
          eventFromSpan(
            {
              name: s.name ?? '',
              traceId,
              spanId,
              startTimeMs: start,
              endTimeMs: end,
              attributes,
              statusCode: code === 2 ? 2 : code === 1 ? 1 : 0,
              ...(s.status?.message ? { statusMessage: s.status.message } : {}),
              resource,
            },
            { source: 'ingest', id: `otlp-${traceId}-${spanId}` },
          ),
        );
      }
    }
  }
  return result;
}
