/**
 * `POST /logs/ingest`: NDJSON or a JSON array of log lines (gzip accepted by
 * the HTTP stack). Each line is validated on its own: the answer counts the
 * accepted ones and lists each rejected one with its index, field and
 * reason; the valid lines of a mixed batch are stored. Idempotent twice over,
 * as trace ingestion is: a request retried with the same Idempotency-Key (or
 * the same body) gets the first answer, and a line sent again with the same
 * id and ts (or, without an id, the same content) is stored once.
 */
import { clock } from '../clock.js';
import { getConfig } from '../config.js';
import type { HttpRequest, HttpResponse } from '../http/middleware.js';
import { HttpProblem } from '../http/problem.js';
import { once } from '../ingest/idempotency.js';
import { contentId, parseTraceBody, type Rejection, schemaIssue, timeRejection } from '../ingest/traces.js';
import { redactSecrets } from '../redact.js';
import { padTs } from '../store/keys.js';
import { putLogLines } from '../store/logs.js';
import type { LogLine, LogLineInput } from './schema.js';
import { logLineInputSchema } from './schema.js';

/** Largest body, after decompression: 1,000 lines of about 4 KB. */
export const LOG_INGEST_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The stored line of an input: its id is its time and the client's id, or a hash of its content. */
export function lineFromInput(input: LogLineInput): LogLine {
  const { id: clientId, ...rest } = input;
  const suffix = clientId ?? contentId(rest);
  return {
    id: `${padTs(input.ts)}-${suffix}`,
    ts: input.ts,
    level: input.level,
    // Keys pasted into a log line are not kept (shared/redact.ts).
    message: redactSecrets(input.message),
    ...(input.endpoint ? { endpoint: input.endpoint } : {}),
    ...(input.model ? { model: input.model } : {}),
    ...(input.region ? { region: input.region } : {}),
    ...(input.traceId ? { traceId: input.traceId } : {}),
    ...(input.spanId ? { spanId: input.spanId } : {}),
    ...(input.requestId ? { requestId: input.requestId } : {}),
    ...(input.service ? { service: input.service } : {}),
    ...(input.attributes && Object.keys(input.attributes).length > 0 ? { attributes: input.attributes } : {}),
  };
}

/** Validates each parsed item; the time must be inside retention and at most 5 minutes ahead. */
export function validateLogLines(
  items: readonly { index: number; value: unknown }[],
  options: { now: number; retentionDays: number },
): { valid: { index: number; line: LogLine }[]; rejected: Rejection[] } {
  const valid: { index: number; line: LogLine }[] = [];
  const rejected: Rejection[] = [];
  for (const { index, value } of items) {
    const result = logLineInputSchema.safeParse(value);
    if (!result.success) {
      const issue = schemaIssue(result.error.issues, '(line)');
      rejected.push({
        index,
        field: issue.field,
        reason: issue.unknownField ? 'unknown field' : issue.message,
      });
      continue;
    }
    const late = timeRejection(result.data.ts, options);
    if (late) {
      rejected.push({ index, field: 'ts', reason: late });
      continue;
    }
    valid.push({ index, line: lineFromInput(result.data) });
  }
  return { valid, rejected };
}

/** Stores lines through the one write path of logs (also the log simulator's). */
export async function storeLogLines(lines: readonly LogLine[]) {
  const config = getConfig();
  // The first copy of an id in a batch is the one stored.
  const unique = new Map<string, LogLine>();
  for (const line of lines) if (!unique.has(line.id)) unique.set(line.id, line);
  const result = await putLogLines(config.tableName, [...unique.values()], config.retentionDays);
  return { stored: result.stored, duplicates: result.duplicates + (lines.length - unique.size) };
}

export async function ingestLogs(request: HttpRequest): Promise<HttpResponse> {
  const config = getConfig();
  const now = clock.now();
  const parsed = parseTraceBody(request.rawBody, request.headers['content-type']);
  const { valid, rejected: invalid } = validateLogLines(parsed.items, {
    now,
    retentionDays: config.retentionDays,
  });
  const rejected = [...parsed.rejected, ...invalid].sort((a, b) => a.index - b.index);
  if (valid.length === 0) {
    const first = rejected[0];
    throw new HttpProblem(
      400,
      'Bad Request',
      `no valid log line; line ${first?.index}: ${first?.field}: ${first?.reason}`,
      {
        field: first ? `${first.index}.${first.field}` : 'body',
        errors: rejected.map((r) => ({ field: `${r.index}.${r.field}`, message: r.reason })),
      },
    );
  }
  const answer = await once(
    {
      tableName: config.tableName,
      route: request.path,
      key: request.headers['idempotency-key'],
      body: request.rawBody ?? '',
      now,
    },
    async () => {
      const result = await storeLogLines(valid.map((v) => v.line));
      return {
        statusCode: 200,
        body: {
          accepted: valid.length,
          duplicates: result.duplicates,
          rejected,
          ids: valid.map((v) => v.line.id),
        },
      };
    },
  );
  return {
    statusCode: answer.statusCode,
    headers: { 'idempotent-replayed': String(answer.replayed) },
    body: answer.body,
  };
}
