/**
 * OpenAI-compatible HTTP simulator on loopback.
 *
 * Without an OPENAI_API_KEY the probes and tests point the official `openai` SDK at this server
 * (`baseURL: sim.url`). Response shapes follow the real API closely enough for the SDK to parse them,
 * and faults (5xx, 429, slow, dropped sockets, malformed JSON, 401) can be injected either by rate
 * or deterministically per request via the `x-sim-fault` header.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface SimulatorFaults {
  /** Probability 0..1 of a 500/502/503 answer (OpenAI-style JSON error body). */
  serverErrorRate: number;
  /** Probability 0..1 of a 429 with `retry-after` (seconds) and `retry-after-ms` headers and a rate_limit_exceeded error body. */
  rateLimitRate: number;
  /** Probability 0..1 of a reply delayed by `slowMs` (meant to exceed the client's timeout). */
  slowRate: number;
  slowMs: number;
  /** Probability 0..1 of destroying the socket without any response. */
  dropRate: number;
  /** Probability 0..1 of a 200 whose body is not valid JSON. */
  malformedRate: number;
}

export interface SimulatorOptions {
  host?: string;
  port?: number;
  /** 'realistic' = per-endpoint lognormal-ish base latency, 'none' = 0 ms, or a fixed number of ms. */
  latency?: 'realistic' | 'none' | number;
  faults?: Partial<SimulatorFaults>;
  /** Random source for reproducible faults/latency in tests; default Math.random. */
  random?: () => number;
}

export interface Simulator {
  url: string;
  port: number;
  setFaults(faults: Partial<SimulatorFaults>): void;
  /** Every request seen (oldest first, capped at the last 1000): method, pathname incl. `/v1`, headers, parsed JSON body. */
  requests: {
    method: string;
    path: string;
    headers: Record<string, string | string[] | undefined>;
    body: unknown;
  }[];
  close(): Promise<void>;
}

export const NO_FAULTS: SimulatorFaults = Object.freeze({
  serverErrorRate: 0,
  rateLimitRate: 0,
  slowRate: 0,
  slowMs: 30_000,
  dropRate: 0,
  malformedRate: 0,
});

type Json = Record<string, unknown>;
type Fault = '500' | '502' | '503' | '429' | 'slow' | 'drop' | 'malformed' | '401';
type Kind = 'models' | 'chat' | 'responses' | 'embeddings' | 'moderations' | 'images' | 'list' | 'other';
/** A streamed (text/event-stream) reply: events written with small gaps. */
class Sse {
  constructor(readonly events: { event?: string; data: unknown }[]) {}
}
interface Route {
  kind: Kind;
  handle: (body: Json) => Json | Sse;
}

const FAULTS = new Set<string>(['500', '502', '503', '429', 'slow', 'drop', 'malformed', '401']);
/** Median base latency per endpoint family for 'realistic' mode, in ms. */
const MEDIAN_MS: Record<Kind, number> = {
  models: 40,
  chat: 300,
  responses: 350,
  embeddings: 80,
  moderations: 120,
  images: 1800,
  list: 60,
  other: 20,
};
const MODEL_KINDS = new Set<Kind>(['chat', 'responses', 'embeddings']);
const LIMIT_REQUESTS = 10_000;
const LIMIT_TOKENS = 10_000_000;
const TOKENS_PER_REQUEST = LIMIT_TOKENS / LIMIT_REQUESTS;
const MAX_RECORDED = 1000;
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

class HttpError extends Error {
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

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const now = () => Math.floor(Date.now() / 1000);
/** Rough token estimate (~4 chars per token), never below 1, like the real tokenizer on English text. */
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));
const missing = (param: string) => new HttpError(400, `Missing required parameter: '${param}'.`, param);

/** Collects the plain text of chat messages / Responses input items / moderation parts. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).join('\n');
  if (value && typeof value === 'object') {
    const v = value as Json;
    if (typeof v.text === 'string') return v.text;
    if ('content' in v) return textOf(v.content);
  }
  return '';
}

function positiveInt(body: Json, param: string, min = 1): number | undefined {
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

function requireModel(body: Json): string {
  if (typeof body.model !== 'string' || body.model === '') throw missing('model');
  return body.model;
}

/** The deterministic reply, cut to the token budget (4 chars per token) like a `length` stop. */
function reply(limit: number | undefined): { text: string; tokens: number; truncated: boolean } {
  const full = tokens(REPLY);
  if (limit === undefined || limit >= full) return { text: REPLY, tokens: full, truncated: false };
  return { text: REPLY.slice(0, limit * 4), tokens: limit, truncated: true };
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
  const out = reply(limit);
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
    text: { format: { type: 'text' }, verbosity: 'medium' },
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

function matchRoute(method: string, path: string): Route | undefined {
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

/** Go-style duration as in `x-ratelimit-reset-*` headers: `120ms`, `1.5s`, `6m0s`. */
function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Number(((ms % 60_000) / 1000).toFixed(3));
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

const errorBody = (e: HttpError) =>
  JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const random = options.random ?? Math.random;
  const latencyMode = options.latency ?? 'realistic';
  let faults: SimulatorFaults = { ...NO_FAULTS, ...options.faults };
  let closing = false;
  let closed: Promise<void> | undefined;
  const requests: Simulator['requests'] = [];
  // Leaky buckets behind the x-ratelimit-* headers: usage drains linearly at limit-per-minute.
  const bucket = { requests: 0, tokens: 0, at: Date.now() };

  const baseLatency = (kind: Kind): number => {
    if (latencyMode === 'none') return 0;
    if (typeof latencyMode === 'number') return latencyMode;
    // Lognormal around the median (Box-Muller normal sample), clamped to avoid absurd tails.
    const gauss = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const median = MEDIAN_MS[kind];
    return Math.round(Math.min(median * 5, Math.max(median / 4, median * Math.exp(0.35 * gauss))));
  };
  const streamGap = () => (latencyMode === 'none' || latencyMode === 0 ? 0 : 10 + Math.round(random() * 20));

  const pickFault = (): Fault | undefined => {
    const roll = (rate: number) => rate > 0 && random() < rate;
    if (roll(faults.dropRate)) return 'drop';
    if (roll(faults.serverErrorRate))
      return (['500', '502', '503'] as const)[Math.floor(random() * 3)] ?? '500';
    if (roll(faults.rateLimitRate)) return '429';
    if (roll(faults.malformedRate)) return 'malformed';
    if (roll(faults.slowRate)) return 'slow';
    return undefined;
  };

  /** Waits, but gives up as soon as the connection closes (client abort, drop or `close()`). */
  const sleep = (ms: number, res: ServerResponse) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || res.destroyed) return resolve();
      const done = () => {
        clearTimeout(timer);
        res.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      res.once('close', done);
    });

  const rateLimitHeaders = (res: ServerResponse, used: number) => {
    const t = Date.now();
    const drained = ((t - bucket.at) / 60_000) * LIMIT_REQUESTS;
    bucket.requests = Math.min(LIMIT_REQUESTS, Math.max(0, bucket.requests - drained) + 1);
    bucket.tokens = Math.min(LIMIT_TOKENS, Math.max(0, bucket.tokens - drained * TOKENS_PER_REQUEST) + used);
    bucket.at = t;
    res.setHeader('x-ratelimit-limit-requests', String(LIMIT_REQUESTS));
    res.setHeader('x-ratelimit-remaining-requests', String(Math.floor(LIMIT_REQUESTS - bucket.requests)));
    res.setHeader('x-ratelimit-limit-tokens', String(LIMIT_TOKENS));
    res.setHeader('x-ratelimit-remaining-tokens', String(Math.floor(LIMIT_TOKENS - bucket.tokens)));
    res.setHeader('x-ratelimit-reset-requests', goDuration((bucket.requests / LIMIT_REQUESTS) * 60_000));
    res.setHeader('x-ratelimit-reset-tokens', goDuration((bucket.tokens / LIMIT_TOKENS) * 60_000));
  };

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const sendError = (res: ServerResponse, e: HttpError, headers?: Record<string, string>) =>
    send(res, e.status, errorBody(e), headers);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const pathname = new URL(req.url ?? '/', 'http://sim').pathname;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    let badJson = false;
    try {
      body = raw.trim() === '' ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
      badJson = true;
    }
    requests.push({ method, path: pathname, headers: { ...req.headers }, body });
    if (requests.length > MAX_RECORDED) requests.splice(0, requests.length - MAX_RECORDED);

    res.setHeader('x-request-id', `req_${hex(16)}`);
    res.setHeader('openai-version', '2020-10-01');
    res.setHeader('x-simulated', 'true');
    res.setHeader('content-type', 'application/json');

    const header = (name: string) => [req.headers[name]].flat()[0];
    const forced = header('x-sim-fault');
    if (forced !== undefined && !FAULTS.has(forced))
      return sendError(
        res,
        new HttpError(400, `Unknown x-sim-fault '${forced}' (use ${[...FAULTS].join('|')}).`),
      );
    const latencyHeader = header('x-sim-latency-ms');
    const latencyOverride = latencyHeader === undefined ? undefined : Number(latencyHeader);
    if (latencyOverride !== undefined && !(latencyOverride >= 0))
      return sendError(res, new HttpError(400, `Invalid x-sim-latency-ms '${latencyHeader}'.`));

    const route = pathname.startsWith('/v1/') ? matchRoute(method, pathname.slice(3)) : undefined;
    const fault = (forced as Fault | undefined) ?? pickFault();
    const delay = fault === 'slow' ? faults.slowMs : (latencyOverride ?? baseLatency(route?.kind ?? 'other'));
    res.setHeader('openai-processing-ms', String(delay));
    await sleep(delay, res);
    if (res.destroyed || closing) return;

    if (fault === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (fault === '500' || fault === '502' || fault === '503') {
      const message =
        fault === '503'
          ? 'The server is overloaded or not ready yet.'
          : fault === '502'
            ? 'Bad gateway.'
            : 'The server had an error while processing your request. Sorry about that!';
      return sendError(res, new HttpError(Number(fault), message, null, null, 'server_error'));
    }
    const auth = header('authorization');
    const key = /^Bearer\s+(\S+)/i.exec(auth ?? '')?.[1];
    if (!key || fault === '401') {
      const message = key
        ? `Incorrect API key provided: ${key.slice(0, 3)}***. You can find your API key at https://platform.openai.com/account/api-keys.`
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      return sendError(res, new HttpError(401, message, null, 'invalid_api_key'));
    }
    if (route && MODEL_KINDS.has(route.kind)) rateLimitHeaders(res, tokens(raw));
    if (fault === '429') {
      const model = (body as Json | undefined)?.model ?? 'gpt-4o-mini';
      const message = `Rate limit reached for ${String(model)} in organization org-simulator on requests per min (RPM): Limit ${LIMIT_REQUESTS}, Used ${LIMIT_REQUESTS}, Requested 1. Please try again in 200ms.`;
      // Consistent with the message: no requests left in the window.
      if (res.hasHeader('x-ratelimit-remaining-requests'))
        res.setHeader('x-ratelimit-remaining-requests', '0');
      const headers = { 'retry-after': '1', 'retry-after-ms': '200' };
      return sendError(res, new HttpError(429, message, null, 'rate_limit_exceeded', 'requests'), headers);
    }
    if (fault === 'malformed') return send(res, 200, '{"id":"sim-malformed","object":<truncated');
    if (!route) return sendError(res, new HttpError(404, `Invalid URL (${method} ${pathname})`));
    if (badJson || (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))))
      return sendError(res, new HttpError(400, 'We could not parse the JSON body of your request.'));

    let result: Json | Sse;
    try {
      result = route.handle((body as Json | undefined) ?? {});
    } catch (e) {
      if (e instanceof HttpError) return sendError(res, e);
      throw e;
    }
    if (!(result instanceof Sse)) return send(res, 200, JSON.stringify(result));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    for (const [i, { event, data }] of result.events.entries()) {
      if (i > 0) await sleep(streamGap(), res);
      if (res.destroyed || closing) return;
      const line = typeof data === 'string' ? data : JSON.stringify(data);
      res.write(`${event ? `event: ${event}\n` : ''}data: ${line}\n\n`);
    }
    res.end();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // A client that aborts mid-upload lands here too; only answer if we still can.
      if (res.headersSent || res.destroyed) return void res.destroy();
      sendError(res, new HttpError(500, `Simulator error: ${String(e)}`, null, null, 'server_error'));
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    requests,
    setFaults(next) {
      faults = { ...NO_FAULTS, ...next };
    },
    close() {
      closing = true;
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Destroys keep-alive and in-flight sockets (slow replies, streams) so close() returns promptly.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
