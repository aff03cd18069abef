/**
 * A small client for Node apps: wraps an `openai` client so that each call it
 * makes is recorded and posted to `/ingest/trace` in the background, batched.
 *
 * It never slows down or fails the app's own call: recording happens after the
 * response is handed back, sending happens on a timer, every error is
 * swallowed (and counted), and the queue is bounded: when full, new traces are
 * dropped and counted rather than growing memory.
 *
 * A streamed call is recorded when its stream ends (read to the end, left by
 * the app, or broken), with its usage and the time to its first token.
 *
 *   import OpenAI from 'openai';
 *   import { instrumentOpenAI } from 'openai-status-client';
 *   const { client, close } = instrumentOpenAI(new OpenAI(), { url: 'https://status.example.com', apiKey: process.env.INGEST_API_KEY! });
 *   await client.chat.completions.create({ ... });   // recorded
 *   await close();                                     // flush on shutdown
 */
import { randomUUID } from 'node:crypto';
import type OpenAI from 'openai';
import { type StreamSummary, watchStream } from './stream.js';
import type { ErrorType, TraceInput } from './trace.js';
import { isObject, type Usage, usageFields } from './usage.js';

export type { ErrorType, TraceInput } from './trace.js';

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
  /**
   * Ask streamed Chat Completions and Completions calls for their usage
   * (`stream_options.include_usage`) when the app did not say; the extra
   * usage chunk is kept from the app (default true).
   */
  streamUsage?: boolean;
  /** The fetch the OpenAI calls go through (default: the one the openai client was given, else global fetch). */
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

export interface InstrumentedOpenAI<T> {
  /** The app's client, with every call recorded. */
  client: T;
  /** Sends every call made so far whose record is complete (streams still being read are not). */
  flush(): Promise<void>;
  /** Records streams still open as abandoned, sends everything and stops recording. */
  close(): Promise<void>;
  stats(): ClientStats;
}

/** `/v1/chat/completions` → `chat`, `/v1/images/generations` → `images`, … */
export function endpointOf(pathname: string): string {
  const path = pathname.replace(/^.*?\/v1\//, '').replace(/^\/+/, '');
  if (path.startsWith('chat/completions')) return 'chat';
  if (path.startsWith('fine_tuning/jobs')) return 'fine_tunes';
  const first = path.split('/')[0] ?? '';
  return first || 'unknown';
}

/** The endpoints whose streams send usage only when asked (`stream_options.include_usage`). */
const ASKS_FOR_STREAM_USAGE = new Set(['chat', 'completions']);

/** The JSON request body, when it is one. */
function jsonBody(init: RequestInit | undefined): Record<string, unknown> | undefined {
  if (typeof init?.body !== 'string') return undefined;
  try {
    const body: unknown = JSON.parse(init.body);
    return isObject(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

/** Milliseconds between two `performance.now()` readings, to the microsecond. */
const elapsed = (from: number, to: number) => Math.round((to - from) * 1000) / 1000;

export function instrumentOpenAI<T extends OpenAI>(
  openai: T,
  options: InstrumentOptions,
): InstrumentedOpenAI<T> {
  const batchSize = Math.min(1000, Math.max(1, options.batchSize ?? 50));
  const maxQueue = Math.max(1, options.maxQueue ?? 1000);
  const flushIntervalMs = options.flushIntervalMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const streamUsage = options.streamUsage ?? true;
  // The app's own fetch (a proxy, a custom agent) keeps carrying its calls: the SDK keeps it as `fetch`.
  const clientFetch = (openai as unknown as { fetch?: unknown }).fetch;
  const baseFetch =
    options.fetch ?? (typeof clientFetch === 'function' ? (clientFetch as typeof fetch) : globalThis.fetch);
  const sendFetch = options.sendFetch ?? globalThis.fetch;
  const target = `${options.url.replace(/\/+$/, '')}/ingest/trace`;
  const queue: TraceInput[] = [];
  const counts = { recorded: 0, sent: 0, dropped: 0, failed: 0 };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> = Promise.resolve();
  let closed = false;
  /** Records still waiting for their copy of a body to be read: flush() and close() wait for them. */
  const reading = new Set<Promise<void>>();
  /** Streams the app has not finished: close() records them as abandoned. */
  const openStreams = new Set<() => void>();

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

  /** The trace of a stream that ended, however it ended. */
  const streamTrace = (common: TraceInput, started: number, summary: StreamSummary): TraceInput => {
    const failed = summary.end === 'failed';
    const errorType: ErrorType = summary.error?.type ?? 'unknown';
    return {
      ...common,
      ok: common.ok && !failed,
      latencyMs: elapsed(started, summary.endedAt),
      responseBytes: summary.bytes,
      ...(summary.model ? { model: summary.model } : {}),
      ...usageFields(summary.usage),
      ...(summary.firstTokenAt === undefined ? {} : { ttftMs: elapsed(started, summary.firstTokenAt) }),
      ...(failed ? { errorType, errorMessage: summary.error?.message.slice(0, 1000) } : {}),
      attributes: { stream: summary.end },
    };
  };

  const trackingFetch: typeof fetch = async (input, requestInit) => {
    const started = performance.now();
    const ts = Date.now();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const endpoint = endpointOf(url.pathname);
    const base = { ts, endpoint, ...(options.region ? { region: options.region } : {}) };
    const body = jsonBody(requestInit);
    const model = typeof body?.model === 'string' ? body.model : undefined;
    let init = requestInit;
    // Usage comes in a last chunk of its own, which the app did not ask for: it is kept from the app.
    let addedUsageChunk = false;
    const streamOptions = body?.stream_options ?? {};
    if (
      streamUsage &&
      body?.stream === true &&
      ASKS_FOR_STREAM_USAGE.has(endpoint) &&
      isObject(streamOptions) &&
      streamOptions.include_usage === undefined
    ) {
      const asked = { ...body, stream_options: { ...streamOptions, include_usage: true } };
      init = { ...requestInit, body: JSON.stringify(asked) };
      addedUsageChunk = true;
    }
    let response: Response;
    try {
      response = await baseFetch(input, init);
    } catch (error) {
      const timeout = (error as Error)?.name === 'AbortError' || (error as Error)?.name === 'TimeoutError';
      record({
        ...base,
        ok: false,
        latencyMs: elapsed(started, performance.now()),
        errorType: timeout ? 'timeout' : 'network',
        ...(model ? { model } : {}),
      });
      throw error;
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const contentType = response.headers.get('content-type') ?? '';
    const failed = response.status >= 400;
    const common: TraceInput = {
      ...base,
      ok: !failed,
      latencyMs: 0,
      status: response.status,
      ...(requestId ? { requestId } : {}),
      ...(model ? { model } : {}),
    };
    if (contentType.includes('text/event-stream') && response.body && !closed) {
      const watched = watchStream(response.body, {
        hideUsageChunk: addedUsageChunk,
        onEnd: (summary) => {
          openStreams.delete(watched.abandon);
          record(streamTrace(common, started, summary));
        },
      });
      openStreams.add(watched.abandon);
      const streamed = new Response(watched.body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
      // The SDK reports the URL in its errors and logs.
      Object.defineProperty(streamed, 'url', { value: response.url });
      return streamed;
    }
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
          record({
            ...common,
            latencyMs: elapsed(started, performance.now()),
            responseBytes: Buffer.byteLength(text),
            ...(typeof data.model === 'string' ? { model: data.model } : {}),
            ...usageFields(data.usage),
          });
        })
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => reading.delete(read));
      reading.add(read);
    } else {
      // Binary bodies (audio, files): recorded at the headers, the app reads the body itself.
      record({ ...common, latencyMs: elapsed(started, performance.now()) });
    }
    return response;
  };

  const client = openai.withOptions({ fetch: trackingFetch }) as T;
  return {
    client,
    flush,
    async close() {
      for (const abandon of [...openStreams]) abandon();
      await flush();
      closed = true;
    },
    stats: () => ({ ...counts, queued: queue.length }),
  };
}
