/**
 * A small client for Node apps: wraps an `openai` client so that each call it
 * makes is recorded and posted to `/ingest/trace` in the background, batched.
 *
 * It never slows down or fails the app's own call: recording happens after the
 * response is handed back, sending happens on a timer, every error is
 * swallowed (and counted), and the queue is bounded: when full, new traces are
 * dropped and counted rather than growing memory.
 *
 *   import OpenAI from 'openai';
 *   import { instrumentOpenAI } from 'openai-status/client';
 *   const { client, close } = instrumentOpenAI(new OpenAI(), { url: 'https://status.example.com', apiKey: process.env.INGEST_API_KEY! });
 *   await client.chat.completions.create({ ... });   // recorded
 *   await close();                                     // flush on shutdown
 */
import { randomUUID } from 'node:crypto';
import type OpenAI from 'openai';
import type { ErrorType } from '../events/model.js';
import { errorTypeForStatus } from '../events/model.js';
import type { TraceInput } from '../ingest/schema.js';

export { type TraceInput, traceInputSchema } from '../ingest/schema.js';

export interface InstrumentOptions {
  /** Base URL of your deployment (the dashboard URL), e.g. `https://d123.cloudfront.net`. */
  url: string;
  /** Your INGEST_API_KEY. */
  apiKey: string;
  /** Region label for the recorded calls. */
  region?: string;
  /** Traces per request (default 50; the server takes up to 1000). */
  batchSize?: number;
  /** Longest a trace waits before it is sent (default 2000 ms). */
  flushIntervalMs?: number;
  /** Traces kept at most while waiting; more are dropped and counted (default 1000). */
  maxQueue?: number;
  /** Timeout of one send (default 5000 ms). */
  timeoutMs?: number;
  /** The fetch the OpenAI calls go through (default: global fetch). */
  fetch?: typeof fetch;
  /** The fetch used to send traces (default: global fetch). */
  sendFetch?: typeof fetch;
  /** Told about failed sends; never thrown. */
  onError?: (error: unknown) => void;
}

export interface ClientStats {
  recorded: number;
  sent: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** Lost because sending failed (after one retry). */
  failed: number;
  queued: number;
}

/** `/v1/chat/completions` → `chat`, `/v1/images/generations` → `images`, … */
export function endpointOf(pathname: string): string {
  const path = pathname.replace(/^.*?\/v1\//, '').replace(/^\/+/, '');
  if (path.startsWith('chat/completions')) return 'chat';
  if (path.startsWith('fine_tuning/jobs')) return 'fine_tunes';
  const first = path.split('/')[0] ?? '';
  return first || 'unknown';
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  input_tokens?: number;
  output_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  input_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
  output_tokens_details?: { reasoning_tokens?: number };
}

function usageFields(usage: Usage | undefined): Partial<TraceInput> {
  if (!usage) return {};
  const input = usage.input_tokens ?? usage.prompt_tokens;
  const output = usage.output_tokens ?? usage.completion_tokens;
  const cached = usage.input_tokens_details?.cached_tokens ?? usage.prompt_tokens_details?.cached_tokens;
  const reasoning =
    usage.output_tokens_details?.reasoning_tokens ?? usage.completion_tokens_details?.reasoning_tokens;
  return {
    ...(input === undefined ? {} : { inputTokens: input }),
    ...(output === undefined ? {} : { outputTokens: output }),
    ...(cached === undefined || input === undefined ? {} : { cachedTokens: Math.min(cached, input) }),
    ...(reasoning === undefined || output === undefined
      ? {}
      : { reasoningTokens: Math.min(reasoning, output) }),
  };
}

function requestModel(init: RequestInit | undefined): string | undefined {
  if (typeof init?.body !== 'string') return undefined;
  try {
    const model = (JSON.parse(init.body) as { model?: unknown }).model;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined;
  }
}

export function instrumentOpenAI<T extends OpenAI>(
  openai: T,
  options: InstrumentOptions,
): { client: T; flush(): Promise<void>; close(): Promise<void>; stats(): ClientStats } {
  const batchSize = Math.min(1000, Math.max(1, options.batchSize ?? 50));
  const maxQueue = Math.max(1, options.maxQueue ?? 1000);
  const flushIntervalMs = options.flushIntervalMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const baseFetch = options.fetch ?? globalThis.fetch;
  const sendFetch = options.sendFetch ?? globalThis.fetch;
  const target = `${options.url.replace(/\/+$/, '')}/ingest/trace`;
  const queue: TraceInput[] = [];
  const counts = { recorded: 0, sent: 0, dropped: 0, failed: 0 };
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> = Promise.resolve();
  let closed = false;
  /** Records still waiting for their copy of a body to be read: flush() and close() wait for them. */
  const reading = new Set<Promise<void>>();

  const enqueue = (trace: TraceInput) => {
    if (closed) return;
    counts.recorded++;
    if (queue.length >= maxQueue) {
      counts.dropped++;
      return;
    }
    queue.push(trace);
    if (queue.length >= batchSize) void send();
    else if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        void send();
      }, flushIntervalMs);
      // Never keep the app alive just to send traces.
      timer.unref?.();
    }
  };

  const post = async (batch: TraceInput[]): Promise<void> => {
    const key = randomUUID();
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const response = await sendFetch(target, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': options.apiKey,
            'idempotency-key': key,
          },
          body: JSON.stringify(batch),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel().catch(() => undefined);
        if (response.ok) {
          counts.sent += batch.length;
          return;
        }
        // A 4xx will not get better by retrying.
        if (response.status < 500 && response.status !== 429)
          throw new Error(`ingest answered ${response.status}`);
        if (attempt === 1) throw new Error(`ingest answered ${response.status}`);
      } catch (error) {
        if (attempt === 1 || (error instanceof Error && error.message.startsWith('ingest answered 4'))) {
          counts.failed += batch.length;
          options.onError?.(error);
          return;
        }
      }
    }
  };

  /** Sends what is queued now. */
  async function send(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    while (queue.length > 0) {
      const batch = queue.splice(0, batchSize);
      sending = sending.then(() => post(batch));
    }
    await sending;
  }

  /** Sends every call made so far, including those whose record is still being read from a body copy. */
  async function flush(): Promise<void> {
    await Promise.all(reading);
    await send();
  }

  const record = (trace: TraceInput) => {
    try {
      enqueue(trace);
    } catch (error) {
      options.onError?.(error);
    }
  };

  const trackingFetch: typeof fetch = async (input, init) => {
    const started = performance.now();
    const ts = Date.now();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const base = {
      ts,
      endpoint: endpointOf(url.pathname),
      ...(options.region ? { region: options.region } : {}),
    };
    const model = requestModel(init);
    let response: Response;
    try {
      response = await baseFetch(input, init);
    } catch (error) {
      const timeout = (error as Error)?.name === 'AbortError' || (error as Error)?.name === 'TimeoutError';
      record({
        ...base,
        ok: false,
        latencyMs: performance.now() - started,
        errorType: (timeout ? 'timeout' : 'network') satisfies ErrorType,
        ...(model ? { model } : {}),
      });
      throw error;
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const contentType = response.headers.get('content-type') ?? '';
    const failed = response.status >= 400;
    const common = {
      ...base,
      ok: !failed,
      status: response.status,
      ...(failed ? { errorType: errorTypeForStatus(response.status) ?? 'unknown' } : {}),
      ...(requestId ? { requestId } : {}),
    };
    if (contentType.includes('application/json')) {
      // Read a copy after handing the response back: the app never waits for this.
      const copy = response.clone();
      const read = copy
        .text()
        .then((text) => {
          let data: { model?: unknown; usage?: Usage } = {};
          try {
            data = JSON.parse(text) as typeof data;
          } catch {
            // A body that is not JSON is still a call worth recording.
          }
          const responseModel = typeof data.model === 'string' ? data.model : model;
          record({
            ...common,
            latencyMs: performance.now() - started,
            responseBytes: Buffer.byteLength(text),
            ...(responseModel ? { model: responseModel } : {}),
            ...usageFields(data.usage),
          });
        })
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => reading.delete(read));
      reading.add(read);
    } else {
      // Streams and binary bodies: recorded at the headers (usage is not visible without reading the stream).
      record({ ...common, latencyMs: performance.now() - started, ...(model ? { model } : {}) });
    }
    return response;
  };

  const client = openai.withOptions({ fetch: trackingFetch });
  return {
    client,
    flush,
    async close() {
      await flush();
      closed = true;
    },
    stats: () => ({ ...counts, queued: queue.length }),
  };
}
