/**
 * OTLP/HTTP with protobuf encoding: decodes an `ExportTraceServiceRequest`
 * and encodes the answers, with protobufjs (light build) and the descriptor
 * built from the official OTLP .proto files (otlp-proto/generate.ts).
 *
 * A decoded request is turned into the shape of its OTLP/JSON encoding (ids
 * as hex, 64-bit integers as decimal strings, enums as numbers), so both
 * encodings go through the one reader in otlp.ts.
 */
import Long from 'long';
import protobuf from 'protobufjs/light.js';
import { HttpProblem } from '../http/problem.js';
import descriptor from './otlp-proto/trace-service.json' with { type: 'json' };

// 64-bit values (span times in ns) decode exactly only with a Long implementation; a bundle cannot
// rely on protobufjs finding one by `require`, so it is given one.
protobuf.util.Long = Long;
protobuf.configure();

const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
const PACKAGE = 'opentelemetry.proto.collector.trace.v1';
const requestType = root.lookupType(`${PACKAGE}.ExportTraceServiceRequest`);
const responseType = root.lookupType(`${PACKAGE}.ExportTraceServiceResponse`);
/**
 * `google.rpc.Status`, the body of an OTLP/HTTP error answer. It is not part
 * of the OTLP protos; these are its first two fields as googleapis defines
 * them (`details` is never sent).
 */
const statusType = new protobuf.Type('Status')
  .add(new protobuf.Field('code', 1, 'int32'))
  .add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(statusType);

/** The content type of an error answer to a protobuf request. */
export const PROBLEM_PROTOBUF = 'application/x-protobuf';

interface DecodedSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
}
interface DecodedRequest {
  resourceSpans?: { scopeSpans?: { spans?: DecodedSpan[] }[] }[];
}

const base64ToHex = (value: string | undefined) =>
  value === undefined ? undefined : Buffer.from(value, 'base64').toString('hex');

/** Decodes a protobuf `ExportTraceServiceRequest` into its OTLP/JSON shape; 400 when it is not one. */
export function decodeTraceRequest(bytes: Uint8Array): unknown {
  let message: protobuf.Message;
  try {
    message = requestType.decode(bytes);
  } catch (error) {
    throw new HttpProblem(
      400,
      'Bad Request',
      `body: not a protobuf ExportTraceServiceRequest (${(error as Error).message})`,
      { field: 'body' },
    );
  }
  const request = requestType.toObject(message, {
    longs: String,
    enums: Number,
    bytes: String,
  }) as DecodedRequest;
  for (const resourceSpans of request.resourceSpans ?? []) {
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        span.traceId = base64ToHex(span.traceId);
        span.spanId = base64ToHex(span.spanId);
        const parent = base64ToHex(span.parentSpanId);
        if (parent) span.parentSpanId = parent;
        else delete span.parentSpanId;
      }
    }
  }
  return request;
}

/** An `ExportTraceServiceResponse`: empty on full success, else its partial success. */
export function encodeTraceResponse(body: {
  partialSuccess?: { rejectedSpans: number; errorMessage: string };
}): Buffer {
  const message = responseType.fromObject(
    body.partialSuccess
      ? {
          partialSuccess: {
            rejectedSpans: Long.fromNumber(body.partialSuccess.rejectedSpans),
            errorMessage: body.partialSuccess.errorMessage,
          },
        }
      : {},
  );
  return Buffer.from(responseType.encode(message).finish());
}

/** A `google.rpc.Status` carrying the error's message (OTLP/HTTP leaves `code` unused by clients). */
export function encodeStatus(message: string): Buffer {
  return Buffer.from(statusType.encode(statusType.fromObject({ message })).finish());
}

/** Decodes an answer (tests and the benchmark read what an exporter would). */
export function decodeTraceResponse(bytes: Uint8Array): {
  partialSuccess?: { rejectedSpans?: string; errorMessage?: string };
} {
  return responseType.toObject(responseType.decode(bytes), { longs: String }) as never;
}

export function decodeStatus(bytes: Uint8Array): { code?: number; message?: string } {
  return statusType.toObject(statusType.decode(bytes));
}
