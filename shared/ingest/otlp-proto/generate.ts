/**
 * Builds trace-service.json, the descriptor the OTLP protobuf decoder loads
 * (shared/ingest/otlp-protobuf.ts), from the official OTLP .proto files in
 * this folder (open-telemetry/opentelemetry-proto, tag v1.11.0, unchanged).
 * The Lambda bundle then carries protobufjs's light build and a small JSON
 * file instead of the .proto parser. A test checks the two stay in step.
 *
 *   npx tsx shared/ingest/otlp-proto/generate.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';

export const PROTO_DIR = import.meta.dirname;
export const DESCRIPTOR_FILE = join(PROTO_DIR, 'trace-service.json');

/** The descriptor of the trace service and every message it uses, from the .proto files. */
export function traceServiceDescriptor(): unknown {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
  root.resolveAll();
  return root.toJSON();
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(DESCRIPTOR_FILE, `${JSON.stringify(traceServiceDescriptor(), null, 2)}\n`);
  console.log(`wrote ${DESCRIPTOR_FILE}`);
}
