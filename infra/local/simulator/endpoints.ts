/**
 * The simulated endpoints' answers: models, chat completions, responses, embeddings,
 * moderations, images and the empty lists, and the route table that picks one.
 */
import { createHash } from 'node:crypto';
import {
  HttpError,
  hex,
  type Json,
  missing,
  now,
  positiveInt,
  requireModel,
  Sse,
  textOf,
  tokens,
} from './protocol.js';
import { structuredOutput } from './schema-instance.js';

export type Kind =
  | 'models'
  | 'chat'
  | 'responses'
  | 'embeddings'
  | 'moderations'
  | 'images'
  | 'list'
  | 'other';
export interface Route {
  kind: Kind;
  handle: (body: Json) => Json | Sse;
}

/** The endpoints whose calls count against the token rate limit. */
export const MODEL_KINDS = new Set<Kind>(['chat', 'responses', 'embeddings']);
const REPLY = 'This is a simulated response from the local OpenAI simulator.';
/** A valid 1x1 transparent PNG: enough for clients that decode `b64_json`. */
const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const MODELS: [string, number][] = [
  ['gpt-4o-mini', 1721172741],
  ['gpt-4o', 1715367049],
  ['gpt-4.1-mini', 1744318173],
  ['gpt-5-mini', 1754425928],
  ['text-embedding-3-small', 1705948997],
  ['text-embedding-3-large', 1705953180],
  ['omni-moderation-latest', 1731689265],
  ['gpt-image-1-mini', 1759290035],
];
const MODERATION_CATEGORIES = (
  'harassment harassment/threatening hate hate/threatening illicit illicit/violent self-harm ' +
  'self-harm/instructions self-harm/intent sexual sexual/minors violence violence/graphic'
).split(' ');
const VIOLENT = /\b(kill|murder|bomb|shoot)\b/i;

/** The deterministic reply, cut to the token budget (4 chars per token) like a `length` stop. */
function reply(
  limit: number | undefined,
  text = REPLY,
): { text: string; tokens: number; truncated: boolean } {
  const full = tokens(text);
  if (limit === undefined || limit >= full) return { text, tokens: full, truncated: false };
  return { text: text.slice(0, limit * 4), tokens: limit, truncated: true };
}

/**
 * A grounded answer when the input carries numbered evidence (`E1 (kind, ref): …`,
 * as the chat sends it): the first two pieces restated, each cited, like a
 * model that follows the citation rule. Ids the question itself mentions
 * (`[E99]`) are cited too, as a model parroting them would, so callers can
 * test that unknown citations are dropped.
 */
function groundedReply(input: string): string | undefined {
  const evidence = [...input.matchAll(/^(E\d+) \([^)]*\): (.+)$/gm)].slice(0, 2);
  if (evidence.length === 0) return undefined;
  const question = input.match(/^Question: (.*)$/m)?.[1] ?? '';
  const parroted = [...question.matchAll(/\[(E\d+)\]/g)].map((m) => m[1]);
  const sentences = evidence.map(([, id, snippet]) => `${(snippet ?? '').replace(/\.$/, '')} [${id}].`);
  if (parroted.length > 0) sentences.push(`See also ${parroted.map((id) => `[${id}]`).join('')}.`);
  return `From the evidence: ${sentences.join(' ')}`;
}

/** Splits text into word-sized deltas for streaming. */
const deltas = (text: string) => text.match(/\S+\s*/g) ?? [text];

function chat(body: Json): Json | Sse {
  const model = requireModel(body);
  const messages = body.messages;
  if (messages === undefined) throw missing('messages');
  if (!Array.isArray(messages) || messages.length === 0)
    throw new HttpError(400, "Invalid 'messages': empty array.", 'messages', 'empty_array');
  const limit = positiveInt(body, 'max_completion_tokens') ?? positiveInt(body, 'max_tokens');
  const n = positiveInt(body, 'n') ?? 1;
  const out = reply(limit);
  const finish_reason = out.truncated ? 'length' : 'stop';
  const prompt_tokens = tokens(textOf(messages));
  const usage = {
    prompt_tokens,
    completion_tokens: out.tokens * n,
    total_tokens: prompt_tokens + out.tokens * n,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const base = {
    id: `chatcmpl-${hex(12)}`,
    created: now(),
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_sim',
  };
  if (body.stream !== true) {
    const choices = Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: 'assistant', content: out.text, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason,
    }));
    return { ...base, object: 'chat.completion', choices, usage };
  }
  // Streaming: role chunk, word deltas, finish chunk, optional usage chunk, then [DONE] (as the real API).
  const withUsage = (body.stream_options as Json | undefined)?.include_usage === true;
  const object = 'chat.completion.chunk';
  const chunk = (choices: unknown[], usage: unknown = null) => ({
    data: { ...base, object, choices, ...(withUsage ? { usage } : {}) },
  });
  const choice = (delta: Json, finish_reason: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason,
  });
  return new Sse([
    chunk([choice({ role: 'assistant', content: '', refusal: null })]),
    ...deltas(out.text).map((content) => chunk([choice({ content })])),
    chunk([choice({}, finish_reason)]),
    ...(withUsage ? [chunk([], usage)] : []),
    { data: '[DONE]' },
  ]);
}

function responses(body: Json): Json | Sse {
  const model = requireModel(body);
  const limit = positiveInt(body, 'max_output_tokens', 16);
  const format = (body.text as Json | undefined)?.format;
  const structured = structuredOutput(format, textOf(body.input));
  // A schema-shaped answer is never cut short: a truncated document would not parse.
  const out =
    structured === undefined
      ? reply(limit, groundedReply(textOf(body.input)))
      : { text: structured, tokens: tokens(structured), truncated: false };
  const input_tokens = tokens(textOf(body.input) + textOf(body.instructions));
  const msgId = `msg_${hex(24)}`;
  const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const message = (status: string, content: unknown[]) => ({
    id: msgId,
    type: 'message',
    status,
    role: 'assistant',
    content,
  });
  const created_at = now();
  const base = {
    id: `resp_${hex(24)}`,
    object: 'response',
    created_at,
    background: false,
    error: null,
    instructions: body.instructions ?? null,
    max_output_tokens: limit ?? null,
    model,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: structured === undefined ? { type: 'text' } : format, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    metadata: body.metadata ?? {},
  };
  const final = {
    ...base,
    status: out.truncated ? 'incomplete' : 'completed',
    completed_at: out.truncated ? null : now(),
    incomplete_details: out.truncated ? { reason: 'max_output_tokens' } : null,
    output: [message(out.truncated ? 'incomplete' : 'completed', [part(out.text)])],
    usage: {
      input_tokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: out.tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input_tokens + out.tokens,
    },
  };
  if (body.stream !== true) return final;
  // The full event sequence, so that both `create({ stream: true })` and `responses.stream()` work.
  const pending = { ...base, status: 'in_progress', incomplete_details: null, output: [], usage: null };
  const at = { item_id: msgId, output_index: 0, content_index: 0 };
  const events: [string, Json][] = [
    ['response.created', { response: pending }],
    ['response.in_progress', { response: pending }],
    ['response.output_item.added', { output_index: 0, item: message('in_progress', []) }],
    ['response.content_part.added', { ...at, part: part('') }],
    ...deltas(out.text).map((delta): [string, Json] => [
      'response.output_text.delta',
      { ...at, delta, logprobs: [] },
    ]),
    ['response.output_text.done', { ...at, text: out.text, logprobs: [] }],
    ['response.content_part.done', { ...at, part: part(out.text) }],
    ['response.output_item.done', { output_index: 0, item: final.output[0] }],
    [out.truncated ? 'response.incomplete' : 'response.completed', { response: final }],
  ];
  return new Sse(
    events.map(([type, data], seq) => ({ event: type, data: { type, ...data, sequence_number: seq } })),
  );
}

/** Deterministic unit vector from sha256 in counter mode; a `dimensions` cut is the renormalised prefix, as with v3 models. */
function embed(model: string, text: string, dims: number): number[] {
  const v = new Array<number>(dims);
  let block = Buffer.alloc(0);
  for (let i = 0; i < dims; i++) {
    if (i % 8 === 0)
      block = createHash('sha256')
        .update(`${model}|${text}|${i / 8}`)
        .digest();
    v[i] = block.readInt32LE((i % 8) * 4) / 2 ** 31;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

function embeddings(body: Json): Json {
  const model = requireModel(body);
  const input = body.input;
  if (input === undefined || input === null) throw missing('input');
  // Accepts a string, string[], token array (number[]) or array of token arrays.
  const items: unknown[] =
    Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number' ? input : [input];
  if (items.length === 0 || items.some((i) => i === '' || (Array.isArray(i) && i.length === 0)))
    throw new HttpError(400, "'$.input' is invalid: empty input.", 'input');
  const native = model.includes('large') ? 3072 : 1536;
  const dims = positiveInt(body, 'dimensions') ?? native;
  if (dims > native)
    throw new HttpError(400, `'dimensions' must be at most ${native} for ${model}.`, 'dimensions');
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64')
    throw new HttpError(400, "Invalid 'encoding_format': use 'float' or 'base64'.", 'encoding_format');
  let prompt_tokens = 0;
  const data = items.map((item, index) => {
    const text = typeof item === 'string' ? item : JSON.stringify(item);
    prompt_tokens += typeof item === 'string' ? tokens(item) : Array.isArray(item) ? item.length : 1;
    const vector = embed(model, text, dims);
    if (format === 'float') return { object: 'embedding', index, embedding: vector };
    // The SDK's default: little-endian float32, base64-encoded.
    const buf = Buffer.alloc(dims * 4);
    for (const [i, x] of vector.entries()) buf.writeFloatLE(x, i * 4);
    return { object: 'embedding', index, embedding: buf.toString('base64') };
  });
  return { object: 'list', data, model, usage: { prompt_tokens, total_tokens: prompt_tokens } };
}

function moderations(body: Json): Json {
  const input = body.input;
  if (input === undefined || input === null || input === '') throw missing('input');
  // Multimodal input (array of parts) is one result; a string array is one result per string.
  const texts = Array.isArray(input) && input.every((i) => typeof i === 'string') ? input : [textOf(input)];
  const results = texts.map((text) => {
    const violent = VIOLENT.test(text);
    const entries = (f: (c: string) => unknown) =>
      Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, f(c)]));
    return {
      flagged: violent,
      categories: entries((c) => violent && c === 'violence'),
      category_scores: entries((c) => (violent && c === 'violence' ? 0.92 : 0.00001)),
      category_applied_input_types: entries(() => ['text']),
    };
  });
  const model = typeof body.model === 'string' ? body.model : 'omni-moderation-latest';
  return { id: `modr-${hex(12)}`, model, results };
}

function images(body: Json): Json {
  if (typeof body.prompt !== 'string' || body.prompt === '') throw missing('prompt');
  const n = positiveInt(body, 'n') ?? 1;
  const text_tokens = tokens(body.prompt);
  const output_tokens = 272 * n; // what a low-quality 1024x1024 image costs
  return {
    created: now(),
    background: 'opaque',
    output_format: 'png',
    quality: 'low',
    size: '1024x1024',
    data: Array.from({ length: n }, () => ({ b64_json: TINY_PNG })),
    usage: {
      input_tokens: text_tokens,
      input_tokens_details: { image_tokens: 0, text_tokens },
      output_tokens,
      total_tokens: text_tokens + output_tokens,
    },
  };
}

const model = (id: string, created: number) => ({ id, object: 'model', created, owned_by: 'system' });
const emptyList = () => ({ object: 'list', data: [], has_more: false, first_id: null, last_id: null });

export function matchRoute(method: string, path: string): Route | undefined {
  if (method === 'GET' && path === '/models')
    return {
      kind: 'models',
      handle: () => ({ object: 'list', data: MODELS.map(([id, c]) => model(id, c)) }),
    };
  if (method === 'GET' && path.startsWith('/models/')) {
    const id = decodeURIComponent(path.slice('/models/'.length));
    const found = MODELS.find(([m]) => m === id);
    return {
      kind: 'models',
      handle: () => {
        if (!found) throw new HttpError(404, `The model '${id}' does not exist`, 'model', 'model_not_found');
        return model(...found);
      },
    };
  }
  if (method === 'GET' && ['/files', '/fine_tuning/jobs', '/batches', '/assistants'].includes(path))
    return { kind: 'list', handle: emptyList };
  if (method !== 'POST') return undefined;
  const post: Partial<Record<string, Route>> = {
    '/chat/completions': { kind: 'chat', handle: chat },
    '/responses': { kind: 'responses', handle: responses },
    '/embeddings': { kind: 'embeddings', handle: embeddings },
    '/moderations': { kind: 'moderations', handle: moderations },
    '/images/generations': { kind: 'images', handle: images },
  };
  return post[path];
}
