/**
 * What a chat question implies, read by rules (no model): the time range it
 * asks about ("at 14:00", "in the last 2 hours", "yesterday"), the endpoints
 * it names, and what it is about (latency, errors, cost). Times are UTC, as
 * everywhere in the API.
 */
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../store/keys.js';

export type Topic = 'latency' | 'errors' | 'cost';

export interface QuestionReading {
  /** The range the question names, or undefined when it names none. */
  range?: { from: number; to: number; label: string };
  /** Endpoints named in the question (probe keys or ingested operation names seen in the data). */
  endpoints: string[];
  topics: Topic[];
}

const UNIT_MS: Record<string, number> = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS, w: 7 * DAY_MS };
const unitOf = (word: string): number | undefined => UNIT_MS[word.startsWith('mo') ? 'x' : (word[0] ?? 'x')];

/** Half-width of the range around a named time of day ("at 14:00"). */
const AROUND_MS = 30 * MINUTE_MS;

const TOPIC_WORDS: Record<Topic, RegExp> = {
  latency: /\b(slow|slower|latency|latencies|p50|p95|p99|fast|lag|laggy|delay|delays|ttft|took long)\b/i,
  errors:
    /\b(error|errors|fail|failed|failing|failures?|down|outage|broken|429|5\d\d|rate.?limit\w*|timeouts?|timed out|unavailable|incident)\b/i,
  cost: /\b(cost|costs|spend|spent|spending|price|bill|tokens?|\$)\b/i,
};

/** Aliases people use for probe endpoints. */
const ENDPOINT_ALIASES: Record<string, string> = {
  'chat completions': 'chat',
  completions: 'chat',
  embedding: 'embeddings',
  moderation: 'moderations',
  'fine-tuning': 'fine_tunes',
  'fine tuning': 'fine_tunes',
  finetune: 'fine_tunes',
  'fine-tunes': 'fine_tunes',
  batch: 'batches',
  assistant: 'assistants',
  image: 'images',
  streaming: 'chat_stream',
  response: 'responses',
};

function namedRange(text: string, now: number): QuestionReading['range'] {
  const relative = text.match(
    /\b(?:last|past|previous)\s+(\d{1,4})\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)\b/i,
  );
  if (relative) {
    const unit = unitOf((relative[2] ?? '').toLowerCase());
    const amount = Number(relative[1]);
    if (unit && amount > 0)
      return { from: now - amount * unit, to: now, label: `the last ${relative[1]} ${relative[2]}` };
  }
  const single = text.match(/\b(?:last|past|this)\s+(hour|day|week)\b/i);
  if (single) {
    const word = (single[1] ?? '').toLowerCase();
    return { from: now - (unitOf(word) ?? HOUR_MS), to: now, label: `the last ${word}` };
  }
  const startOfToday = Math.floor(now / DAY_MS) * DAY_MS;
  if (/\byesterday\b/i.test(text))
    return { from: startOfToday - DAY_MS, to: startOfToday - 1, label: 'yesterday (UTC)' };
  const clock = text.match(/\b(?:at|around|about|near)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b/i);
  if (clock) {
    let hours = Number(clock[1]);
    const minutes = Number(clock[2] ?? 0);
    const half = clock[3]?.toLowerCase();
    if (half === 'pm' && hours < 12) hours += 12;
    if (half === 'am' && hours === 12) hours = 0;
    // "at 14" without minutes or am/pm is a time only when it reads as an hour of the day.
    if (hours < 24 && minutes < 60 && (clock[2] !== undefined || half !== undefined || hours >= 1)) {
      let at = startOfToday + hours * HOUR_MS + minutes * MINUTE_MS;
      if (at > now) at -= DAY_MS;
      const hh = String(hours).padStart(2, '0');
      const mm = String(minutes).padStart(2, '0');
      return { from: at - AROUND_MS, to: Math.min(now, at + AROUND_MS), label: `around ${hh}:${mm} UTC` };
    }
  }
  if (/\btoday\b/i.test(text)) return { from: startOfToday, to: now, label: 'today (UTC)' };
  return undefined;
}

/**
 * Reads a question. `knownEndpoints` are the endpoints seen in the data, so
 * an ingested operation name (e.g. `summarize`) is recognised too.
 */
export function readQuestion(
  question: string,
  now: number,
  knownEndpoints: readonly string[],
): QuestionReading {
  const text = question.toLowerCase();
  const endpoints = new Set<string>();
  for (const endpoint of knownEndpoints) {
    const pattern = new RegExp(
      `\\b${endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/_/g, '[ _-]')}\\b`,
      'i',
    );
    if (pattern.test(text)) endpoints.add(endpoint);
  }
  for (const [alias, endpoint] of Object.entries(ENDPOINT_ALIASES)) {
    if (knownEndpoints.includes(endpoint) && new RegExp(`\\b${alias}\\b`, 'i').test(text))
      endpoints.add(endpoint);
  }
  // "chat" inside "chat_stream" or "chat completions" counts once, as the most specific name.
  if (endpoints.has('chat_stream') && !/\bchat\b(?![ _-]stream)/i.test(text)) endpoints.delete('chat');
  const topics = (Object.keys(TOPIC_WORDS) as Topic[]).filter((topic) => TOPIC_WORDS[topic].test(question));
  const range = namedRange(question, now);
  return { ...(range ? { range } : {}), endpoints: [...endpoints].sort(), topics };
}
