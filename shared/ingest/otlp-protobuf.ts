/**
 * OTLP/HTTP with protobuf encoding: decodes an `ExportTraceServiceRequest`
 * with protobufjs (minimal runtime) and the decoder generated from the
 * official OTLP .proto files (otlp-proto/generate.ts), and encodes the
 * answers.
 *
 * A decoded request is turned into the shape of its OTLP/JSON encoding (ids
 * as hex, 64-bit integers as decimal strings, enums as numbers), so both
 * encodings go through the one reader in otlp.ts.
 */
import protobuf from 'protobufjs/minimal.js';
import { HttpProblem } from '../http/problem.js';
import {
  type DecodedAnyValue,
  type DecodedKeyValue,
  type DecodedSpan,
  opentelemetry,
} from './otlp-proto/trace-service.js';

const { ExportTraceServiceRequest, ExportTraceServiceResponse } = opentelemetry.proto.collector.trace.v1;

type Int64 = DecodedSpan['startTimeUnixNano'];
interface LongBits {
  low: number;
  high: number;
  unsigned: boolean;
}
const isLong = (value: unknown): value is LongBits =>
  typeof value === 'object' && value !== null && 'low' in value && 'high' in value;
/**
 * 64-bit values come as Long objects (exact) or numbers; as OTLP/JSON has
 * them, decimal strings. Through BigInt: Long's own toString divides in a
 * loop, and was most of the conversion's time.
 */
function int64(value: Int64 | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!isLong(value)) return String(value);
  if (value.high === 0 && value.low >= 0) return String(value.low);
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return String(value.unsigned ? bits : BigInt.asIntN(64, bits));
}
const hex = (bytes: Uint8Array | undefined) =>
  bytes && bytes.length > 0
    ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
    : undefined;

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values: JsonAnyValue[] };
}

function anyValue(value: DecodedAnyValue | null | undefined): JsonAnyValue {
  switch (value?.value) {
    case 'stringValue':
      return { stringValue: value.stringValue ?? '' };
    case 'boolValue':
      return { boolValue: value.boolValue ?? false };
    case 'intValue':
      return { intValue: int64(value.intValue) ?? '0' };
    case 'doubleValue':
      return { doubleValue: value.doubleValue ?? 0 };
    case 'arrayValue':
      return { arrayValue: { values: (value.arrayValue?.values ?? []).map(anyValue) } };
    default:
      // Maps and bytes are not attribute values the mapping reads; an unset value is absent.
      return {};
  }
}

const keyValues = (list: readonly DecodedKeyValue[]) =>
  list.map((kv) => ({ key: kv.key, value: anyValue(kv.value) }));

function span(s: DecodedSpan) {
  return {
    traceId: hex(s.traceId),
    spanId: hex(s.spanId),
    parentSpanId: hex(s.parentSpanId),
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: int64(s.startTimeUnixNano),
    endTimeUnixNano: int64(s.endTimeUnixNano),
    attributes: keyValues(s.attributes),
    events: s.events.map((e) => ({
      timeUnixNano: int64(e.timeUnixNano),
      name: e.name,
      attributes: keyValues(e.attributes),
    })),
    ...(s.status ? { status: { code: s.status.code, message: s.status.message } } : {}),
  };
}

/** Decodes a protobuf `ExportTraceServiceRequest` into its OTLP/JSON shape; 400 when it is not one. */
export function decodeTraceRequest(bytes: Uint8Array): unknown {
  try {
    const request = ExportTraceServiceRequest.decode(bytes);
    return {
      resourceSpans: request.resourceSpans.map((rs) => ({
        resource: { attributes: keyValues(rs.resource?.attributes ?? []) },
        scopeSpans: rs.scopeSpans.map((ss) => ({ spans: ss.spans.map(span) })),
      })),
    };
  } catch (error) {
    throw new HttpProblem(
      400,
      'Bad Request',
      `body: not a protobuf ExportTraceServiceRequest (${(error as Error).message})`,
      { field: 'body' },
    );
  }
}

/**
 * An `ExportTraceServiceResponse`: empty on full success, else
 * `partial_success` (field 1) with `rejected_spans` (1, int64) and
 * `error_message` (2, string), as trace_service.proto defines them.
 */
export function encodeTraceResponse(body: {
  partialSuccess?: { rejectedSpans: number; errorMessage: string };
}): Buffer {
  const writer = protobuf.Writer.create();
  if (body.partialSuccess) {
    writer.uint32((1 << 3) | 2).fork();
    writer.uint32((1 << 3) | 0).int64(body.partialSuccess.rejectedSpans);
    writer.uint32((2 << 3) | 2).string(body.partialSuccess.errorMessage);
    writer.ldelim();
  }
  return Buffer.from(writer.finish());
}

/** Reads an answer as an exporter would (tests and the benchmark). */
export function decodeTraceResponse(bytes: Uint8Array): {
  partialSuccess?: { rejectedSpans: string; errorMessage: string };
} {
  const { partialSuccess } = ExportTraceServiceResponse.decode(bytes);
  return partialSuccess
    ? {
        partialSuccess: {
          rejectedSpans: int64(partialSuccess.rejectedSpans) ?? '0',
          errorMessage: partialSuccess.errorMessage,
        },
      }
    : {};
}

/** Reads a `google.rpc.Status` error body (tests). */
export function decodeStatus(bytes: Uint8Array): { code?: number; message?: string } {
  const reader = protobuf.Reader.create(bytes);
  const status: { code?: number; message?: string } = {};
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 0) status.code = reader.int32();
    else if (tag >>> 3 === 2 && (tag & 7) === 2) status.message = reader.string();
    else reader.skipType(tag & 7);
  }
  return status;
}
