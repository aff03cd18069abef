/**
 * The error answer to an OTLP/HTTP protobuf request. Apart from the request
 * decoder (otlp-protobuf.ts, generated and large), which the ingest function
 * loads only when a protobuf request arrives: an error may be answered before
 * (a missing key, a body too large), and JSON senders never need the decoder.
 */
import protobuf from 'protobufjs/minimal.js';

/** The content type of answers (and error answers) to a protobuf request. */
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

/**
 * A `google.rpc.Status`, the body of an OTLP/HTTP error answer: `message`
 * (field 2, string). `code` (1) is left out: OTLP/HTTP clients do not use it.
 */
export function encodeStatus(message: string): Buffer {
  return Buffer.from(
    protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .string(message)
      .finish(),
  );
}
