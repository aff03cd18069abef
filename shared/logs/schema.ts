/**
 * A log line as a client sends it to `POST /logs/ingest`, and as it is
 * stored: one zod definition (README "Logs").
 */

import { attributesSchema, EVENT_LIMITS, LABEL_SCHEMAS } from '../events/storable.js';
import * as z from '../zod.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_LIMITS = {
  /** Lines per request. */
  lines: 1000,
  messageLength: 4000,
  serviceLength: 100,
  requestIdLength: 200,
  /** How far ahead of the server clock a line may be stamped. */
  futureSkewMs: EVENT_LIMITS.futureSkewMs,
} as const;

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Lone surrogates become U+FFFD (no store or encoder takes them); then the length limit. */
const text = (max: number) =>
  z.pipe(
    z.pipe(
      z.string({ error: 'must be a string' }),
      z.transform((s: string) => s.toWellFormed()),
    ),
    z
      .string()
      .check(z.minLength(1, 'must not be empty'), z.maxLength(max, `must be at most ${max} characters`)),
  );

export const logLineInputSchema = z.strictObject({
  /** When the line was written, epoch milliseconds UTC. */
  ts: z
    .number({ error: 'must be epoch milliseconds' })
    .check(z.int('must be whole epoch milliseconds'), z.positive()),
  level: z.pipe(
    z.pipe(
      z.string({ error: `must be one of ${LOG_LEVELS.join(', ')}` }),
      z.transform((l: string) => l.trim().toLowerCase()),
    ),
    z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  ),
  message: text(LOG_LIMITS.messageLength),
  /** The client's id of the line: the same id and ts sent again is the same line, stored once. */
  id: z.optional(z.string().check(z.regex(CLIENT_ID, 'must be 1 to 128 letters, digits or . _ : -'))),
  endpoint: z.optional(LABEL_SCHEMAS.endpoint),
  model: z.optional(LABEL_SCHEMAS.model),
  region: z.optional(LABEL_SCHEMAS.region),
  /** Links the line to a stored trace (W3C trace id). */
  traceId: z.optional(z.string().check(z.regex(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex characters'))),
  spanId: z.optional(z.string().check(z.regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex characters'))),
  requestId: z.optional(text(LOG_LIMITS.requestIdLength)),
  service: z.optional(text(LOG_LIMITS.serviceLength)),
  attributes: z.optional(attributesSchema),
});

export type LogLineInput = z.infer<typeof logLineInputSchema>;

/** A stored line: the input with its stable id (`<ts, 13 digits>-<client id or content hash>`). */
export interface LogLine {
  /** Stable, and enough to fetch the line (`GET /logs/{id}`): its time is the first 13 digits. */
  id: string;
  ts: number;
  level: LogLevel;
  message: string;
  endpoint?: string;
  model?: string;
  region?: string;
  traceId?: string;
  spanId?: string;
  requestId?: string;
  service?: string;
  attributes?: Record<string, string>;
}

export const LOG_ID_PATTERN = /^(\d{13})-([A-Za-z0-9._:-]{1,128})$/;

/** The time a line id carries, or undefined if the text is not a line id. */
export function logIdTime(id: string): number | undefined {
  const match = LOG_ID_PATTERN.exec(id);
  return match ? Number(match[1]) : undefined;
}
