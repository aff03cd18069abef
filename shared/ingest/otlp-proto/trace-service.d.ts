/**
 * Types of the generated decoder (trace-service.js) for what this project
 * reads: the messages as protobufjs decodes them (absent fields read as their
 * defaults, 64-bit integers as Long objects or numbers, bytes as Uint8Array).
 */
type Int64 = number | { toString(): string };

export interface DecodedAnyValue {
  /** Which member of the `value` oneof is set. */
  value?:
    | 'stringValue'
    | 'boolValue'
    | 'intValue'
    | 'doubleValue'
    | 'arrayValue'
    | 'kvlistValue'
    | 'bytesValue';
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: Int64 | null;
  doubleValue?: number | null;
  arrayValue?: { values: DecodedAnyValue[] } | null;
}
export interface DecodedKeyValue {
  key: string;
  value?: DecodedAnyValue | null;
}
export interface DecodedSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: Int64;
  endTimeUnixNano: Int64;
  attributes: DecodedKeyValue[];
  events: { timeUnixNano: Int64; name: string; attributes: DecodedKeyValue[] }[];
  status?: { code: number; message: string } | null;
}
export interface DecodedTraceRequest {
  resourceSpans: {
    resource?: { attributes: DecodedKeyValue[] } | null;
    scopeSpans: { spans: DecodedSpan[] }[];
  }[];
}
export interface DecodedTraceResponse {
  partialSuccess?: { rejectedSpans: Int64; errorMessage: string } | null;
}

interface Decoder<T> {
  decode(bytes: Uint8Array): T;
}

export declare const opentelemetry: {
  proto: {
    collector: {
      trace: {
        v1: {
          ExportTraceServiceRequest: Decoder<DecodedTraceRequest>;
          ExportTraceServiceResponse: Decoder<DecodedTraceResponse>;
        };
      };
    };
  };
};
