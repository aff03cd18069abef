/**
 * How log text becomes search terms and message templates.
 *
 * Terms: lower-cased runs of letters, digits and `_`, joined through `.`,
 * `-`, `:` and `/` into compound tokens (`gpt-4o-mini`, `/v1/chat/completions`);
 * a compound is indexed whole and by its parts, so both `context_length_exceeded`
 * and `gpt` match. Tokens that look like unique ids (request ids, trace ids:
 * 8+ characters with 4+ digits) are kept out of the vocabulary, where they
 * would dominate its size, and found by an exact scan instead (segment.ts).
 *
 * Templates: the message with numbers, hex and ids masked, so the lines of
 * one log statement share one embedding.
 */
import { createHash } from 'node:crypto';

const COMPOUND = /[\p{L}\p{N}_]+(?:[.\-:/][\p{L}\p{N}_]+)*/gu;
const PART = /[\p{L}\p{N}_]+/gu;

/** A unique-looking token: at least 8 characters, 4 of them digits. */
export function isIdLike(token: string): boolean {
  if (token.length < 8) return false;
  let digits = 0;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++digits >= 4) return true;
  }
  return false;
}

export interface Tokens {
  /** Vocabulary terms, repeated as often as they occur. */
  terms: string[];
  /** Id-like tokens, each once. */
  ids: string[];
}

/** The terms and id-like tokens of a text. */
export function tokenize(text: string): Tokens {
  const terms: string[] = [];
  const ids = new Set<string>();
  for (const match of text.toLowerCase().matchAll(COMPOUND)) {
    const token = match[0];
    if (isIdLike(token)) {
      ids.add(token);
      continue;
    }
    terms.push(token);
    if (/[.\-:/]/.test(token)) {
      for (const part of token.matchAll(PART)) {
        if (isIdLike(part[0])) ids.add(part[0]);
        else terms.push(part[0]);
      }
    }
  }
  return { terms, ids: [...ids] };
}

/** The text of a line that full-text search sees: the message and the ids and names around it. */
export function searchableText(line: {
  message: string;
  requestId?: string | undefined;
  traceId?: string | undefined;
  service?: string | undefined;
  attributes?: Record<string, string> | undefined;
}): string {
  const parts = [line.message];
  if (line.requestId) parts.push(line.requestId);
  if (line.traceId) parts.push(line.traceId);
  if (line.service) parts.push(line.service);
  if (line.attributes) parts.push(...Object.values(line.attributes));
  return parts.join(' ');
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const LONG_HEX = /\b(?:0x)?[0-9a-f]{12,}\b/gi;
/** Short hex words (commits, org and conversation ids) count when they hold a digit. */
const SHORT_HEX = /\b[0-9a-f]{6,11}\b/gi;

/** The message with ids, hex and numbers masked: lines of one log statement share it. */
export function messageTemplate(message: string): string {
  return message
    .replace(UUID, '<uuid>')
    .replace(LONG_HEX, '<hex>')
    .replace(SHORT_HEX, (word) => (/\d/.test(word) && /[a-f]/i.test(word) ? '<hex>' : word))
    .replace(COMPOUND, (token) => (isIdLike(token) ? '<id>' : token))
    .replace(/\d+(?:\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 1000);
}

/** A short stable hash of a template (the key of its cached vector). */
export const templateHash = (template: string) =>
  createHash('sha256').update(template).digest('base64url').slice(0, 22);
