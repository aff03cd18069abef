/**
 * `POST /v1/traces`: reads an OTLP trace request (the JSON encoding, or the
 * protobuf encoding once otlp-protobuf.ts has decoded it into the same shape).
 * Spans that are calls to the OpenAI API, in any convention the span mapping
 * knows (shared/telemetry/span-event.ts: GenAI current and previous names,
 * OpenLLMetry, OpenInference, HTTP client spans to an OpenAI host), become
 * trace events; an HTTP client span under such a call is read with it, not
 * stored on its own. Other spans are counted and skipped. Spans that claim to
 * be calls but cannot be read are rejected; both are reported as partial
 * success, as the OTLP specification says.
 */

import type { TraceEvent } from '../events/model.js';
import { HttpProblem } from '../http/problem.js';
import {
  ATTR,
  type Attributes,
  type AttributeValue,
  type Convention,
  eventFromSpan,
  isHttpClientSpan,
  openAiCallConvention,
  type SpanLike,
} from '../telemetry/span-event.js';
import * as z from '../zod.js';

// Only what we read is declared; OTLP says unknown fields are ignored.
const anyValue: z.ZodMiniType<OtlpAnyValue> = z.lazy(() =>
  z.looseObject({
    stringValue: z.optional(z.string()),
    boolValue: z.optional(z.boolean()),
    intValue: z.optional(z.union([z.string(), z.number()])),
    doubleValue: z.optional(z.union([z.number(), z.string()])),
    arrayValue: z.optional(z.object({ values: z.optional(z.array(anyValue)) })),
  }),
);
interface OtlpAnyValue {
  stringValue?: string | undefined;
  boolValue?: boolean | undefined;
  intValue?: string | number | undefined;
  doubleValue?: number | string | undefined;
  arrayValue?: { values?: OtlpAnyValue[] | undefined } | undefined;
}
const keyValues = z.optional(z.array(z.looseObject({ key: z.string(), value: z.optional(anyValue) })));
const spanEvent = z.looseObject({
  timeUnixNano: z.optional(z.union([z.string(), z.number()])),
  name: z.optional(z.string()),
  attributes: keyValues,
});
const span = z.looseObject({
  traceId: z.optional(z.string()),
  spanId: z.optional(z.string()),
  parentSpanId: z.optional(z.string()),
  name: z.optional(z.string()),
  kind: z.optional(z.union([z.number(), z.string()])),
  startTimeUnixNano: z.optional(z.union([z.string(), z.number()])),
  endTimeUnixNano: z.optional(z.union([z.string(), z.number()])),
  attributes: keyValues,
  events: z.optional(z.array(spanEvent)),
  status: z.optional(
    z.looseObject({ code: z.optional(z.union([z.number(), z.string()])), message: z.optional(z.string()) }),
  ),
});
const otlpTraceRequest = z.looseObject({
  resourceSpans: z.optional(
    z.array(
      z.looseObject({
        resource: z.optional(z.looseObject({ attributes: keyValues })),
        scopeSpans: z.optional(z.array(z.looseObject({ spans: z.optional(z.array(span)) }))),
      }),
    ),
  ),
});

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

/** Names a client must not set: an ingested span is never a probe, and its id is ours to derive. */
const RESERVED = [ATTR.source, ATTR.eventId, ATTR.upstream];

export interface OtlpResult {
  events: TraceEvent[];
  /** Spans that are not calls to the OpenAI API. */
  skipped: number;
  /** HTTP client spans read together with the call span above them. */
  merged: number;
  rejected: number;
  errors: string[];
  /** Stored calls by the convention that made them one. */
  conventions: Partial<Record<Convention, number>>;
}

type OtlpSpan = z.infer<typeof span>;

const KIND_NAMES: Readonly<Record<string, number>> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};

function spanLike(s: OtlpSpan, resource: Attributes): SpanLike {
  const kind = typeof s.kind === 'string' ? (KIND_NAMES[s.kind] ?? Number(s.kind)) : s.kind;
  const code = Number(s.status?.code ?? 0);
  const events = (s.events ?? []).flatMap((e) => {
    const timeMs = nanosToMs(e.timeUnixNano);
    return timeMs === undefined
      ? []
      : [{ name: e.name ?? '', timeMs, attributes: toAttributes(e.attributes) }];
  });
  return {
    name: s.name ?? '',
    ...(s.traceId ? { traceId: s.traceId.toLowerCase() } : {}),
    ...(s.spanId ? { spanId: s.spanId.toLowerCase() } : {}),
    ...(s.parentSpanId ? { parentSpanId: s.parentSpanId.toLowerCase() } : {}),
    ...(kind !== undefined && kind > 0 ? { kind } : {}),
    startTimeMs: nanosToMs(s.startTimeUnixNano) ?? Number.NaN,
    endTimeMs: nanosToMs(s.endTimeUnixNano) ?? Number.NaN,
    attributes: toAttributes(s.attributes),
    ...(events.length ? { events } : {}),
    statusCode: code === 2 ? 2 : code === 1 ? 1 : 0,
    ...(s.status?.message ? { statusMessage: s.status.message } : {}),
    resource,
  };
}

/** Why a call span cannot be stored, or undefined when it can. */
function unreadable(s: SpanLike): string | undefined {
  if (!s.traceId || !/^[0-9a-f]{32}$/.test(s.traceId)) return 'traceId must be 32 hex characters';
  if (!s.spanId || !/^[0-9a-f]{16}$/.test(s.spanId)) return 'spanId must be 16 hex characters';
  if (Number.isNaN(s.startTimeMs) || Number.isNaN(s.endTimeMs))
    return 'startTimeUnixNano and endTimeUnixNano are required';
  if (s.endTimeMs < s.startTimeMs) return 'endTimeUnixNano is before startTimeUnixNano';
  return undefined;
}

/** Validates an OTLP/JSON-shaped trace request; a body that is not one is a 400 naming the field. */
function parseRequest(body: unknown) {
  const parsed = otlpTraceRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = ['body', ...(issue?.path.map(String) ?? [])].join('.');
    throw new HttpProblem(400, 'Bad Request', `${field}: ${issue?.message ?? 'not an OTLP trace request'}`, {
      field,
    });
  }
  return parsed.data;
}

export function eventsFromOtlp(body: unknown): OtlpResult {
  const request = parseRequest(body);
  const result: OtlpResult = { events: [], skipped: 0, merged: 0, rejected: 0, errors: [], conventions: {} };
  const spans: SpanLike[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = toAttributes(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const s of scope.spans ?? []) spans.push(spanLike(s, resource));
    }
  }
  const conventions = spans.map(openAiCallConvention);
  // The HTTP client spans under each span, by `traceId/parentSpanId`: the wire request of a call.
  const httpChildren = new Map<string, SpanLike[]>();
  for (const s of spans) {
    if (s.parentSpanId && s.traceId && isHttpClientSpan(s)) {
      const key = `${s.traceId}/${s.parentSpanId}`;
      httpChildren.set(key, [...(httpChildren.get(key) ?? []), s]);
    }
  }
  const mergedChildren = new Set<SpanLike>();
  const calls: { span: SpanLike; convention: Convention; httpChild?: SpanLike }[] = [];
  spans.forEach((s, index) => {
    const convention = conventions[index];
    if (!convention || convention === 'http') return;
    const children = httpChildren.get(`${s.traceId}/${s.spanId}`) ?? [];
    for (const child of children) mergedChildren.add(child);
    // Retries send several requests: the last one is the call's outcome.
    const last = children.reduce<SpanLike | undefined>(
      (a, b) => (!a || b.endTimeMs >= a.endTimeMs ? b : a),
      undefined,
    );
    calls.push({ span: s, convention, ...(last ? { httpChild: last } : {}) });
  });
  spans.forEach((s, index) => {
    if (conventions[index] === 'http' && !mergedChildren.has(s)) calls.push({ span: s, convention: 'http' });
  });
  result.merged = mergedChildren.size;
  result.skipped = spans.length - calls.length - mergedChildren.size;

  for (const { span: s, convention, httpChild } of calls) {
    const problem = unreadable(s);
    if (problem || !s.traceId || !s.spanId) {
      result.rejected++;
      if (result.errors.length < 5) result.errors.push(`span ${s.spanId ?? '?'}: ${problem}`);
      continue;
    }
    const attributes: Record<string, AttributeValue | undefined> = Object.assign(
      Object.create(null),
      s.attributes,
    );
    for (const name of RESERVED) delete attributes[name];
    result.conventions[convention] = (result.conventions[convention] ?? 0) + 1;
    result.events.push(
      eventFromSpan(
        { ...s, attributes },
        { source: 'ingest', id: `otlp-${s.traceId}-${s.spanId}`, ...(httpChild ? { httpChild } : {}) },
      ),
    );
  }
  return result;
}
