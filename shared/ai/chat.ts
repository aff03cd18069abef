/**
 * The chat over the telemetry: `POST /ai/chat` answers at once, `POST
 * /ai/chat/stream` as NDJSON lines. Both gather the evidence first
 * (shared/ai/evidence.ts), then answer:
 * - by default, by code: the summary sentences, each claim cited;
 * - with `llm: true` (ENABLE_AI=1 and a key, or the simulator), the Responses
 *   API writes the answer from the evidence only. Citations of unknown
 *   evidence are removed; with none left, or when the call fails, the code's
 *   answer is given instead and the answer says why.
 */
import * as z from 'zod';
import type { Config } from '../config.js';
import type { HttpRequest } from '../http/middleware.js';
import { HttpProblem, validate } from '../http/problem.js';
import { windowRange } from '../http/query.js';
import { redactSecrets } from '../redact.js';
import { type Filters, resolveFilters } from '../status/params.js';
import { DAY_MS } from '../store/keys.js';
import { callerId, takeRateToken } from '../store/rate-limit.js';
import { type Evidence, EvidenceBook, gatherEvidence, type LogFinder } from './evidence.js';
import {
  CitationFilter,
  chatClient,
  describeLlmError,
  instructionsOf,
  type LlmUsage,
  MAX_OUTPUT_TOKENS,
  promptInput,
  recordLlmCall,
  usageOf,
} from './llm.js';
import { readQuestion } from './question.js';
import { type Sentence, summarySentences } from './summary.js';

export const CHAT_LIMITS = {
  questionChars: 500,
  maxWindowMinutes: 7 * 1440,
  defaultWindowMinutes: 60,
} as const;

const labels = z.union([z.string().max(200), z.array(z.string().max(200)).max(20)]).optional();

/** The body of `POST /ai/chat` and `/ai/chat/stream`. */
export const chatRequestSchema = z.strictObject({
  question: z
    .string({ error: 'required: the question, as text' })
    .trim()
    .min(3, 'must have at least 3 characters')
    .max(CHAT_LIMITS.questionChars, `must have at most ${CHAT_LIMITS.questionChars} characters`),
  /** Minutes ending now, used when the question names no time. */
  window: z.number().int().min(1).max(CHAT_LIMITS.maxWindowMinutes).optional(),
  filters: z.strictObject({ source: labels, endpoint: labels, model: labels, region: labels }).optional(),
  llm: z.boolean().optional(),
});
export type ChatRequest = z.output<typeof chatRequestSchema>;

export interface Citation {
  id: string;
  kind: Evidence['kind'];
  ref: string;
  snippet: string;
  url: string;
}

export interface ChatAnswer {
  answer: string;
  citations: Citation[];
  mode: 'summary' | 'llm';
  evidenceWindow: { from: number; to: number; label: string };
  /** Every piece of evidence gathered (the citations are the ones the answer uses). */
  evidenceCount: number;
  model?: string;
  usage?: LlmUsage;
  /** Why the answer is the code's although `llm: true` was asked. */
  fallback?: { reason: string };
  notes: string[];
  /** What gathering the evidence cost: DynamoDB items read and queries made. */
  meta: { itemsRead: number; queries: number; itemsByPart: Record<string, number> };
}

export type ChatLine =
  | { delta: string }
  | { heartbeat: true }
  | { reset: true; reason: string }
  | ({ done: true } & Omit<ChatAnswer, 'answer'>)
  | { error: string };

export interface ChatContext {
  config: Config;
  now: number;
  findLogs?: LogFinder | undefined;
}

/** Filters given in the body, read as the read routes read their query (same validation and messages). */
function filtersOf(request: ChatRequest): Filters {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.filters ?? {})) {
    if (value !== undefined) query[name] = Array.isArray(value) ? value.join(',') : value;
  }
  try {
    return resolveFilters(query, 'all');
  } catch (error) {
    if (error instanceof HttpProblem && error.field) {
      throw new HttpProblem(error.status, error.title, `filters.${error.message}`, {
        field: `filters.${error.field}`,
      });
    }
    throw error;
  }
}

interface Prepared {
  book: EvidenceBook;
  sentences: Sentence[];
  window: ChatAnswer['evidenceWindow'];
  notes: string[];
  meta: ChatAnswer['meta'];
}

/** Reads the question, gathers the evidence and writes the code's sentences (citing as it goes). */
async function prepare(request: ChatRequest, context: ChatContext): Promise<Prepared> {
  const { config, now } = context;
  const filters = filtersOf(request);
  const reading = readQuestion(request.question, now, [
    ...config.probeEndpoints,
    ...(filters.filter.endpoint ?? []),
  ]);
  const oldest = now - config.retentionDays * DAY_MS;
  const named = reading.range;
  const minutes = request.window ?? CHAT_LIMITS.defaultWindowMinutes;
  const range = named
    ? { from: Math.max(oldest, named.from), to: Math.min(now, named.to) }
    : { ...windowRange(now, minutes), windowMinutes: minutes };
  const label =
    named?.label ??
    `the last ${minutes >= 60 && minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`}`;
  const gathered = await gatherEvidence({
    config,
    range,
    filters,
    now,
    question: request.question,
    reading,
    findLogs: context.findLogs,
  });
  const book = new EvidenceBook();
  const sentences = summarySentences({
    metrics: gathered.metrics,
    book,
    now,
    endpoints: reading.endpoints,
    topics: reading.topics,
    traces: gathered.traces,
    logs: gathered.logs,
    rangeLabel: label,
  });
  return {
    book,
    sentences,
    window: { from: range.from, to: range.to, label },
    notes: gathered.notes,
    meta: gathered.cost,
  };
}

function citationsOf(book: EvidenceBook, ids: readonly string[]): Citation[] {
  return ids.flatMap((id) => {
    const e = book.items.find((item) => item.id === id);
    return e ? [{ id: e.id, kind: e.kind, ref: e.ref, snippet: e.snippet, url: e.url }] : [];
  });
}

const citedIds = (sentences: readonly Sentence[]) => [...new Set(sentences.flatMap((s) => s.cites))];

/** Why `llm: true` cannot be honoured, or undefined when it can. */
function llmUnavailable(config: Config): string | undefined {
  if (!config.enableAi)
    return 'The LLM answer is switched off (ENABLE_AI=0); this answer is built from the evidence by code.';
  if (!config.openaiBaseUrl)
    return 'No OpenAI key or simulator is configured; this answer is built from the evidence by code.';
  return undefined;
}

function summaryAnswer(prepared: Prepared, fallback?: string, extra?: Partial<ChatAnswer>): ChatAnswer {
  return {
    answer: prepared.sentences.map((s) => s.text).join(' '),
    citations: citationsOf(prepared.book, citedIds(prepared.sentences)),
    mode: 'summary',
    evidenceWindow: prepared.window,
    evidenceCount: prepared.book.items.length,
    ...(fallback ? { fallback: { reason: fallback } } : {}),
    notes: prepared.notes,
    meta: prepared.meta,
    ...extra,
  };
}

/** The model's answer but its text: the citations it kept, and how many unknown ones were removed. */
function llmAnswer(
  prepared: Prepared,
  filter: CitationFilter,
  extra: Pick<ChatAnswer, 'model' | 'usage'>,
): Omit<ChatAnswer, 'answer'> {
  return {
    citations: citationsOf(prepared.book, filter.kept),
    mode: 'llm',
    evidenceWindow: prepared.window,
    evidenceCount: prepared.book.items.length,
    meta: prepared.meta,
    ...extra,
    notes: [
      ...prepared.notes,
      ...(filter.dropped > 0
        ? [`${filter.dropped} citation(s) of evidence that does not exist were removed.`]
        : []),
    ],
  };
}

/** `POST /ai/chat`: the whole answer at once. */
export async function answerChat(body: unknown, context: ChatContext): Promise<ChatAnswer> {
  const request = validate(chatRequestSchema, body);
  const prepared = await prepare(request, context);
  if (!request.llm) return summaryAnswer(prepared);
  const unavailable = llmUnavailable(context.config);
  if (unavailable) return summaryAnswer(prepared, unavailable);

  const { config } = context;
  const model = config.aiChatModel;
  const started = Date.now();
  try {
    const { data: response, response: raw } = await chatClient(config)
      .responses.create({
        model,
        instructions: instructionsOf(config),
        input: promptInput(request.question, prepared.book.items),
        store: false,
        max_output_tokens: MAX_OUTPUT_TOKENS,
      })
      .withResponse();
    const usage = usageOf(model, response.usage);
    await recordLlmCall(config, {
      model,
      startedAt: context.now,
      latencyMs: Date.now() - started,
      ok: true,
      streamed: false,
      status: raw.status,
      requestId: raw.headers.get('x-request-id') ?? undefined,
      usage,
    });
    const filter = new CitationFilter((id) => prepared.book.has(id));
    const text = redactSecrets((filter.push(response.output_text) + filter.end()).trim());
    const extra = { model, ...(usage ? { usage } : {}) };
    if (filter.kept.length === 0) {
      return summaryAnswer(prepared, 'The model cited no evidence, so its answer was not used.', extra);
    }
    return { answer: text, ...llmAnswer(prepared, filter, extra) };
  } catch (error) {
    const problem = describeLlmError(error);
    await recordLlmCall(config, {
      model,
      startedAt: context.now,
      latencyMs: Date.now() - started,
      ok: false,
      streamed: false,
      status: problem.status,
      errorMessage: problem.message,
    });
    return summaryAnswer(prepared, `The OpenAI call failed (${problem.message}).`, { model });
  }
}

/** The code's answer as stream lines: one delta per sentence, then done. */
function* summaryLines(
  prepared: Prepared,
  fallback?: string,
  extra?: Partial<ChatAnswer>,
): Generator<ChatLine> {
  for (const [i, sentence] of prepared.sentences.entries())
    yield { delta: i === 0 ? sentence.text : ` ${sentence.text}` };
  const { answer: _answer, ...rest } = summaryAnswer(prepared, fallback, extra);
  yield { done: true, ...rest };
}

/**
 * `POST /ai/chat/stream`: the answer as it is produced. The body is validated
 * before the first line (a bad request is a 400, not a stream); after that,
 * a failure is an `{ error }` line.
 */
export function parseChatRequest(body: unknown): ChatRequest {
  return validate(chatRequestSchema, body);
}

export async function* streamChat(request: ChatRequest, context: ChatContext): AsyncGenerator<ChatLine> {
  let prepared: Prepared;
  try {
    prepared = await prepare(request, context);
  } catch (error) {
    yield {
      error: error instanceof HttpProblem ? error.message : 'The evidence could not be read; try again.',
    };
    return;
  }
  if (!request.llm) {
    yield* summaryLines(prepared);
    return;
  }
  const unavailable = llmUnavailable(context.config);
  if (unavailable) {
    yield* summaryLines(prepared, unavailable);
    return;
  }

  const { config } = context;
  const model = config.aiChatModel;
  const started = Date.now();
  const filter = new CitationFilter((id) => prepared.book.has(id));
  let usage: LlmUsage | undefined;
  let shown = '';
  let failure: string | undefined;
  let status: number | undefined;
  try {
    const { data: stream, response: raw } = await chatClient(config)
      .responses.create({
        model,
        instructions: instructionsOf(config),
        input: promptInput(request.question, prepared.book.items),
        store: false,
        max_output_tokens: MAX_OUTPUT_TOKENS,
        stream: true,
      })
      .withResponse();
    status = raw.status;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') {
        const text = filter.push(event.delta);
        if (text) {
          shown += text;
          yield { delta: text };
        }
      } else if (event.type === 'response.completed') {
        usage = usageOf(model, event.response.usage);
      } else if (event.type === 'response.failed' || event.type === 'response.incomplete') {
        failure = event.response.error?.message ?? `the response ended as ${event.response.status}`;
      } else if (event.type === 'error') {
        failure = event.message;
      }
    }
    const rest = filter.end();
    if (rest) {
      shown += rest;
      yield { delta: rest };
    }
  } catch (error) {
    const problem = describeLlmError(error);
    failure = problem.message;
    status = problem.status ?? status;
  }
  await recordLlmCall(config, {
    model,
    startedAt: context.now,
    latencyMs: Date.now() - started,
    ok: failure === undefined,
    streamed: true,
    status,
    errorMessage: failure,
    usage,
  });
  const extra = { model, ...(usage ? { usage } : {}) };
  if (failure !== undefined || filter.kept.length === 0) {
    const reason =
      failure !== undefined
        ? `The OpenAI call failed (${redactSecrets(failure).slice(0, 200)}).`
        : 'The model cited no evidence, so its answer was not used.';
    // Text already shown is withdrawn: the client replaces it with what follows.
    if (shown !== '') yield { reset: true, reason };
    yield* summaryLines(prepared, reason, extra);
    return;
  }
  yield { done: true, ...llmAnswer(prepared, filter, extra) };
}

/**
 * Interleaves heartbeat lines into a stream whenever `intervalMs` passes
 * without a line, so CloudFront (30 s origin timeout) and proxies keep an
 * idle connection open while a model thinks.
 */
export async function* withHeartbeat<T>(
  source: AsyncIterator<T>,
  intervalMs: number,
  heartbeat: T,
): AsyncGenerator<T> {
  let next = source.next();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<'tick'>((resolve) => {
      timer = setTimeout(() => resolve('tick'), intervalMs);
    });
    const winner = await Promise.race([next, tick]);
    clearTimeout(timer);
    if (winner === 'tick') {
      yield heartbeat;
      continue;
    }
    if (winner.done) return;
    yield winner.value;
    next = source.next();
  }
}

/**
 * Counts a question against AI_CHAT_PER_MINUTE for its caller: the API key
 * presented, else the client's address. Over the limit: 429 with Retry-After.
 */
export async function enforceChatRate(request: HttpRequest, config: Config, now: number): Promise<void> {
  const key = request.headers['x-api-key']?.trim();
  const identity = key ? `key:${key}` : `ip:${request.event.requestContext?.http?.sourceIp ?? 'unknown'}`;
  const decision = await takeRateToken({
    tableName: config.tableName,
    action: 'chat',
    caller: callerId(identity),
    limit: config.aiChatPerMinute,
    now,
  });
  if (!decision.allowed) {
    throw new HttpProblem(
      429,
      'Too Many Requests',
      `At most ${config.aiChatPerMinute} questions per minute (AI_CHAT_PER_MINUTE); try again in ${decision.retryAfterSec} s.`,
      { headers: { 'retry-after': String(decision.retryAfterSec) } },
    );
  }
}
