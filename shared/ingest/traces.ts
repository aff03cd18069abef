/**
 * `POST /ingest/trace`: parses a body of one trace, a JSON array or NDJSON,
 * validates each item on its own (a bad item is reported, the good ones are
 * stored), and turns items into trace events with source `ingest`.
 */
import { createHash } from 'node:crypto';
import type { TraceEvent } from '../events/model.js';
import { errorTypeForStatus } from '../events/model.js';
import { HttpProblem } from '../http/problem.js';
import { estimateCost } from '../pricing.js';
import { redactSecrets } from '../redact.js';
import { DAY_MS } from '../store/keys.js';
import type * as z from '../zod.js';
import { INGEST_LIMITS, type TraceInput, traceInputSchema } from './schema.js';

export interface Rejection {
  /** Position in the body (array index or NDJSON line, from 0). */
  index: number;
  field: string;
  reason: string;
}

export interface ParsedBody {
  /** Items that parsed as JSON, with their index. */
  items: { index: number; value: unknown }[];
  rejected: Rejection[];
}

const isNdjson = (contentType: string | undefined) =>
  /^application\/(x-)?ndjson\b/i.test(contentType?.trim() ?? '');

/** Splits the body into items. Malformed JSON of the whole body is a 400; a bad NDJSON line is one rejection. */
export function parseTraceBody(rawBody: string | undefined, contentType: string | undefined): ParsedBody {
  const text = rawBody?.trim() ?? '';
  if (text === '')
    throw new HttpProblem(400, 'Bad Request', 'body: empty; send a trace, an array or NDJSON', {
      field: 'body',
    });
  const parsed: ParsedBody = { items: [], rejected: [] };
  if (isNdjson(contentType) || (!text.startsWith('[') && /}\s*\r?\n\s*{/.test(text))) {
    const lines = text.split(/\r?\n/);
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      try {
        parsed.items.push({ index, value: JSON.parse(line) });
      } catch (error) {
        parsed.rejected.push({
          index,
          field: '(line)',
          reason: `not valid JSON: ${(error as Error).message}`,
        });
      }
    });
  } else {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new HttpProblem(400, 'Bad Request', `body: not valid JSON (${(error as Error).message})`, {
        field: 'body',
      });
    }
    const list = Array.isArray(value) ? value : [value];
    list.forEach((item, index) => {
      parsed.items.push({ index, value: item });
    });
  }
  const count = parsed.items.length + parsed.rejected.length;
  if (count > INGEST_LIMITS.items) {
    throw new HttpProblem(
      413,
      'Payload Too Large',
      `body: ${count} items; at most ${INGEST_LIMITS.items} per request`,
      {
        field: 'body',
      },
    );
  }
  return parsed;
}

/** The first schema issue of an ingested item; an unknown field is named by itself rather than the item. */
export function schemaIssue(
  issues: readonly z.core.$ZodIssue[],
  whole: string,
): { field: string; message: string; unknownField: boolean } {
  const issue = issues[0];
  const unknownKey = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  return {
    field: unknownKey ?? (issue?.path.map(String).join('.') || whole),
    message: issue?.message ?? 'invalid',
    unknownField: unknownKey !== undefined,
  };
}

/** Why an ingested item's time is refused (before retention, or too far ahead), or undefined. */
export function timeRejection(
  ts: number,
  options: { now: number; retentionDays: number },
): string | undefined {
  if (ts < options.now - options.retentionDays * DAY_MS)
    return `older than the retention of ${options.retentionDays} days`;
  if (ts > options.now + INGEST_LIMITS.futureSkewMs) return 'more than 5 minutes in the future';
  return undefined;
}

/** Validates each item; returns the valid ones and a rejection (index, field, reason) per invalid one. */
export function validateTraces(
  parsed: ParsedBody,
  options: { now: number; retentionDays: number },
): { valid: { index: number; input: TraceInput }[]; rejected: Rejection[] } {
  const valid: { index: number; input: TraceInput }[] = [];
  const rejected = [...parsed.rejected];
  for (const { index, value } of parsed.items) {
    const result = traceInputSchema.safeParse(value);
    if (!result.success) {
      const issue = schemaIssue(result.error.issues, '(item)');
      rejected.push({ index, field: issue.field, reason: issue.message });
      continue;
    }
    const late = timeRejection(result.data.ts, options);
    if (late) {
      rejected.push({ index, field: 'ts', reason: late });
      continue;
    }
    valid.push({ index, input: result.data });
  }
  rejected.sort((a, b) => a.index - b.index);
  return { valid, rejected };
}

/**
 * The id of an item sent without one, derived from its content (keys in any
 * order): the same trace or log line sent twice is the same item.
 */
export function contentId(input: unknown): string {
  const canonical = JSON.stringify(sortKeys(input));
  return `h${createHash('sha256').update(canonical).digest('hex').slice(0, 24)}`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

export function traceToEvent(input: TraceInput): TraceEvent {
  const usage = {
    ...(input.inputTokens === undefined ? {} : { input: input.inputTokens }),
    ...(input.outputTokens === undefined ? {} : { output: input.outputTokens }),
    ...(input.cachedTokens === undefined ? {} : { cached: input.cachedTokens }),
    ...(input.reasoningTokens === undefined ? {} : { reasoning: input.reasoningTokens }),
  };
  const hasUsage = Object.keys(usage).length > 0;
  const costUsd = input.costUsd ?? (hasUsage ? estimateCost(input.model, usage) : undefined);
  const errorType = input.ok ? undefined : (input.errorType ?? errorTypeForStatus(input.status) ?? 'unknown');
  return {
    id: input.id ?? contentId(input),
    ts: input.ts,
    source: 'ingest',
    endpoint: input.endpoint,
    ...(input.model ? { model: input.model } : {}),
    ...(input.region ? { region: input.region } : {}),
    ok: input.ok,
    ...(input.status === undefined ? {} : { status: input.status }),
    ...(errorType ? { errorType } : {}),
    ...(input.errorMessage && !input.ok
      ? { errorMessage: redactSecrets(input.errorMessage).slice(0, 300) }
      : {}),
    latencyMs: input.latencyMs,
    ...(input.ttftMs === undefined ? {} : { timing: { ttftMs: input.ttftMs } }),
    ...(hasUsage ? { usage } : {}),
    ...(input.responseBytes === undefined ? {} : { responseBytes: input.responseBytes }),
    ...(costUsd === undefined ? {} : { costUsd }),
    ...(input.requestId ? { requestId: input.requestId } : {}),
    ...(input.traceId ? { traceId: input.traceId } : {}),
    ...(input.spanId ? { spanId: input.spanId } : {}),
    ...(input.attributes && Object.keys(input.attributes).length ? { attributes: input.attributes } : {}),
  };
}
