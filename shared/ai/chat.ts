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

import type { Config } from '../config.js';
import type { HttpRequest } from '../http/middleware.js';
import { HttpProblem, validate } from '../http/problem.js';
import { windowRange } from '../http/query.js';
import { redactSecrets } from '../redact.js';
import { type Filters, resolveFilters } from '../status/params.js';
import { DAY_MS } from '../store/keys.js';
import { callerId, takeRateToken } from '../store/rate-limit.js';
import * as z from '../zod.js';
import { type Evidence, EvidenceBook, type LogFinder, startGathering } from './evidence.js';
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
import { type Sentence, type SummaryInput, summarySentences } from './summary.js';

export const CHAT_LIMITS = {
  questionChars: 500,
  maxWindowMinutes: 7 * 1440,
  defaultWindowMinutes: 60,
} as const;

const labelValue = z.string().check(z.maxLength(200));
const labels = z.optional(z.union([labelValue, z.array(labelValue).check(z.maxLength(20))]));

/** The body of `POST /ai/chat` and `/ai/chat/stream`. */
export const chatRequestSchema = z.strictObject({
  question: z
    .string({ error: 'required: the question, as text' })
    .check(
      z.trim(),
      z.minLength(3, 'must have at least 3 characters'),
      z.maxLength(CHAT_LIMITS.questionChars, `must have at most ${CHAT_LIMITS.questionChars} characters`),
    ),
  /** Minutes ending now, used when the question names no time. */
  window: z.optional(z.number().check(z.int(), z.gte(1), z.lte(CHAT_LIMITS.maxWindowMinutes))),
  filters: z.optional(z.strictObject({ source: labels, endpoint: labels, model: labels, region: labels })),
  llm: z.optional(z.boolean()),
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

/**
 * Reads the question and starts gathering the evidence. `opening` settles
 * first, with the sentences the two ranges' status alone supports (the
 * overview and the endpoints); `prepared` with everything: all the code's
 * sentences (the opening ones first, word for word), the evidence they cite
 * and what was read. `prepared` rejects whenever `opening` does.
 */
function startPreparing(
  request: ChatRequest,
  context: ChatContext,
): { opening: Promise<Sentence[]>; prepared: Promise<Prepared> } {
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
  const { overview, gathered } = startGathering({
    config,
    range,
    filters,
    now,
    question: request.question,
    reading,
    findLogs: context.findLogs,
  });
  const write = (
    metrics: SummaryInput['metrics'],
    examples?: Pick<SummaryInput, 'traces' | 'logs'>,
  ): Pick<Prepared, 'book' | 'sentences'> => {
    const book = new EvidenceBook();
    const sentences = summarySentences({
      metrics,
      book,
      now,
      endpoints: reading.endpoints,
      topics: reading.topics,
      rangeLabel: label,
      ...examples,
    });
    return { book, sentences };
  };
  const opening = overview.then((metrics) => write(metrics).sentences);
  const prepared = gathered.then((found) => ({
    ...write(found.metrics, { traces: found.traces, logs: found.logs }),
    window: { from: range.from, to: range.to, label },
    notes: found.notes,
    meta: found.cost,
  }));
  return { opening, prepared };
}

/** Reads the question, gathers the evidence and writes the code's sentences (citing as it goes). */
function prepare(request: ChatRequest, context: ChatContext): Promise<Prepared> {
  const { opening, prepared } = startPreparing(request, context);
  // Whoever awaits `prepared` sees the failure; the opening's copy of it is not left unhandled.
  opening.catch(() => undefined);
  return prepared;
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

/** The Responses API request that asks the model to answer from the evidence only (both routes send it). */
function answerRequest(config: Config, request: ChatRequest, prepared: Prepared) {
  return {
    model: config.aiChatModel,
    instructions: instructionsOf(config),
    input: promptInput(request.question, prepared.book.items),
    store: false,
    max_output_tokens: MAX_OUTPUT_TOKENS,
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
    const { data: response, response: raw } = await (await chatClient(config)).responses
      .create(answerRequest(config, request, prepared))
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

const sentenceDelta = (sentence: Sentence, i: number): ChatLine => ({
  delta: i === 0 ? sentence.text : ` ${sentence.text}`,
});

/**
 * The code's answer as stream lines: one delta per sentence not `shown` yet,
 * then done. The opening sentences shown early are the first of the whole
 * answer by construction; were they ever not, the text is sent again whole.
 */
function* summaryLines(
  prepared: Prepared,
  fallback?: string,
  extra?: Partial<ChatAnswer>,
  shown: readonly Sentence[] = [],
): Generator<ChatLine> {
  let from = shown.length;
  if (shown.some((sentence, i) => prepared.sentences[i]?.text !== sentence.text)) {
    yield { reset: true, reason: 'The figures changed while they were read; the answer is given again.' };
    from = 0;
  }
  for (const [i, sentence] of prepared.sentences.entries()) if (i >= from) yield sentenceDelta(sentence, i);
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
  const unavailable = request.llm ? llmUnavailable(context.config) : undefined;
  const byCode = !request.llm || unavailable !== undefined;
  let prepared: Prepared;
  let opening: Sentence[] = [];
  try {
    const started = startPreparing(request, context);
    if (byCode) {
      // The code's answer opens as soon as the two ranges' status is read, while the rest is still read.
      opening = await started.opening.catch((error: unknown) => {
        started.prepared.catch(() => undefined);
        throw error;
      });
      yield* opening.map(sentenceDelta);
    } else {
      started.opening.catch(() => undefined);
    }
    prepared = await started.prepared;
  } catch (error) {
    yield {
      error: error instanceof HttpProblem ? error.message : 'The evidence could not be read; try again.',
    };
    return;
  }
  if (byCode) {
    yield* summaryLines(prepared, unavailable, undefined, opening);
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
    const { data: stream, response: raw } = await (await chatClient(config)).responses
      .create({ ...answerRequest(config, request, prepared), stream: true })
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
