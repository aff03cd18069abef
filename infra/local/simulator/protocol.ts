/**
 * What every simulated endpoint shares: the JSON body type, streamed replies, OpenAI-style
 * errors, ids, token estimates and parameter checks.
 */
import { randomBytes } from 'node:crypto';

export type Json = Record<string, unknown>;
/** A streamed (text/event-stream) reply: events written with small gaps. */
export class Sse {
  constructor(readonly events: { event?: string; data: unknown }[]) {}
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }
}

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const now = () => Math.floor(Date.now() / 1000);
/** Rough token estimate (~4 chars per token), never below 1, like the real tokenizer on English text. */
export const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));
export const missing = (param: string) =>
  new HttpError(400, `Missing required parameter: '${param}'.`, param);

/** Collects the plain text of chat messages / Responses input items / moderation parts. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).join('\n');
  if (value && typeof value === 'object') {
    const v = value as Json;
    if (typeof v.text === 'string') return v.text;
    if ('content' in v) return textOf(v.content);
  }
  return '';
}

export function positiveInt(body: Json, param: string, min = 1): number | undefined {
  const v = body[param];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new HttpError(400, `Invalid '${param}': expected an integer.`, param, 'invalid_type');
  if (v < min)
    throw new HttpError(
      400,
      `Invalid '${param}': integer below minimum value (${min}).`,
      param,
      'integer_below_min_value',
    );
  return v;
}

export function requireModel(body: Json): string {
  if (typeof body.model !== 'string' || body.model === '') throw missing('model');
  return body.model;
}

export const errorBody = (e: HttpError) =>
  JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
