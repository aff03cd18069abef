/**
 * A fetch for probes that measures the phases of every request (DNS, TCP, TLS,
 * time to first byte, transfer) on a monotonic clock, the way synthetic
 * monitors report them. Native fetch (undici) exposes none of this, so this is
 * a small fetch on top of `node:http`/`node:https`, shaped for the `openai`
 * SDK's `fetch` option: it returns a real global `Response`, rejects with the
 * signal's reason on abort (an `AbortError` DOMException for a plain
 * `abort()`, which the SDK maps to `APIConnectionTimeoutError`) and with
 * `TypeError('fetch failed', { cause })` on network errors (→ `APIConnectionError`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { pipeline, Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, constants as z } from 'node:zlib';

export interface RequestTiming {
  /**
   * Phase durations in ms, undefined when the phase did not happen (reused connection, plain http, IP literal).
   * dns: request start → address resolved; connect: resolved (or start) → TCP connected;
   * tls: TCP connected → handshake done. ttfbMs minus their sum is the server's wait.
   */
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  /** Request start → response headers received (includes dns/connect/tls and any wait for a pooled socket). */
  ttfbMs?: number;
  /** First byte → body fully read by the consumer. */
  transferMs?: number;
  /** Request start → body fully read (undefined until the body is consumed). */
  totalMs?: number;
  /** The request went out on a pooled keep-alive socket. */
  reused: boolean;
  /** Body bytes handed to the consumer, i.e. after content-decoding (not wire bytes). */
  responseBytes: number;
  status?: number;
  /**
   * A pooled socket turned out dead (reset before any response, typical after a Lambda freeze) and the
   * request was resent once on a fresh connection; phases then describe that second attempt.
   */
  staleSocketRetry?: boolean;
  /** Absolute `performance.now()` of start / first byte / body end, for callers that mark further events like first token. */
  startedAt: number;
  firstByteAt?: number;
  endedAt?: number;
}

export interface TimedFetchOptions {
  /** Pool connections across calls (default true), as a warm Lambda would. */
  keepAlive?: boolean;
  maxSockets?: number;
  /** TLS options for the https agent, e.g. `{ rejectUnauthorized: false }` against a self-signed test server. */
  tls?: { rejectUnauthorized?: boolean; ca?: string | Buffer };
}

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface TimedFetch {
  /** A fetch-compatible function whose every call reports its timing. */
  fetch: FetchFn;
  /** Timing of a Response returned by this fetch. */
  timingOf(response: Response): RequestTiming | undefined;
  /** The timing of the most recent request started (handy when the SDK hides the Response). */
  lastTiming(): RequestTiming | undefined;
  /** Destroys pooled sockets. */
  close(): void;
}

const captures = new AsyncLocalStorage<RequestTiming[]>();

/**
 * Runs `fn` and collects the timing of every request this module's fetches start within its async
 * context — so concurrent probes each get exactly their own requests. Timings are live objects: they
 * are complete once the bodies have been read. Pass `sink` to keep the timings when `fn` throws.
 */
export async function withTimingCapture<T>(
  fn: () => Promise<T>,
  sink: RequestTiming[] = [],
): Promise<{ result: T; timings: RequestTiming[] }> {
  const result = await captures.run(sink, fn);
  return { result, timings: sink };
}

export function createTimedFetch(options: TimedFetchOptions = {}): TimedFetch {
  const pool = { keepAlive: options.keepAlive ?? true, maxSockets: options.maxSockets ?? Infinity };
  const httpAgent = new HttpAgent(pool);
  const httpsAgent = new HttpsAgent({ ...pool, ...options.tls });
  const byResponse = new WeakMap<Response, RequestTiming>();
  let last: RequestTiming | undefined;

  async function timedFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : (input as string | URL));
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') {
      throw new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${url.protocol}`) });
    }
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase();
    const signal = init.signal ?? request?.signal;
    if (signal?.aborted) throw reasonOf(signal);
    const headers: Record<string, string> = {};
    new Headers(init.headers ?? request?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = toNodeBody(init.body !== undefined ? init.body : request?.body, headers, method);
    // Native fetch negotiates compression too; the API's size and speed should be measured as served.
    headers['accept-encoding'] ??= 'gzip, deflate, br';

    const timing: RequestTiming = { reused: false, responseBytes: 0, startedAt: performance.now() };
    last = timing;
    captures.getStore()?.push(timing);

    return new Promise<Response>((resolve, reject) => {
      let current: ClientRequest | undefined;
      let incoming: IncomingMessage | undefined;
      let aborted = false;
      const onAbort = () => {
        aborted = true;
        const reason = reasonOf(signal as AbortSignal);
        reject(reason); // no-op once resolved; the body stream then fails with the reason instead
        current?.destroy();
        incoming?.destroy(reason as Error);
      };
      const settle = () => signal?.removeEventListener('abort', onAbort);
      const finish = (now = performance.now()) => {
        settle();
        timing.endedAt = now;
        timing.totalMs = now - timing.startedAt;
        timing.transferMs = now - (timing.firstByteAt ?? now);
      };
      // What a body read rejects with: the abort reason, else a TypeError like undici's 'terminated'.
      const bodyError = (cause: unknown) => {
        settle();
        return aborted ? reasonOf(signal as AbortSignal) : new TypeError('terminated', { cause });
      };

      const send = (attempt: number) => {
        const attemptStart = performance.now();
        const req = (secure ? httpsRequest : httpRequest)(url, {
          method,
          headers,
          agent: secure ? httpsAgent : httpAgent,
        });
        current = req;
        req.once('socket', (socket: Socket) => {
          // reusedSocket is set by the agent before 'socket' fires; a pooled socket has no phases.
          timing.reused = req.reusedSocket;
          if (req.reusedSocket || !socket.connecting) return;
          let lookupAt: number | undefined;
          let connectAt: number | undefined;
          const onLookup = () => {
            lookupAt = performance.now();
            timing.dnsMs = lookupAt - attemptStart;
          };
          socket.once('lookup', onLookup); // never fires for an IP literal: dropped at connect, not left on the pooled socket
          socket.once('connect', () => {
            socket.off('lookup', onLookup);
            connectAt = performance.now();
            timing.connectMs = connectAt - (lookupAt ?? attemptStart);
          });
          if (secure) {
            socket.once('secureConnect', () => {
              timing.tlsMs = performance.now() - (connectAt ?? attemptStart);
            });
          }
        });
        req.once('response', (res) => {
          incoming = res;
          timing.firstByteAt = performance.now();
          timing.ttfbMs = timing.firstByteAt - timing.startedAt;
          const status = res.statusCode ?? 0;
          timing.status = status;
          try {
            const responseHeaders = new Headers();
            const raw = res.rawHeaders; // appending each pair joins repeats with ", " and keeps set-cookie apart
            for (let i = 0; i < raw.length; i += 2)
              responseHeaders.append(raw[i] as string, raw[i + 1] as string);
            let webBody: ReadableStream<Uint8Array> | null = null;
            if (method === 'HEAD' || status === 204 || status === 205 || status === 304) {
              res.resume(); // frees the socket for reuse
              finish(timing.firstByteAt);
            } else {
              webBody = toWebBody(decoded(res), timing, () => finish(), bodyError);
            }
            const response = new Response(webBody, {
              status,
              statusText: res.statusMessage,
              headers: responseHeaders,
            });
            Object.defineProperty(response, 'url', { value: url.href }); // the SDK logs and reports it
            byResponse.set(response, timing);
            resolve(response);
          } catch (err) {
            // e.g. a status Response refuses (1xx, > 599) or a header it rejects
            res.destroy();
            settle();
            reject(new TypeError('fetch failed', { cause: err }));
          }
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          if (aborted || incoming) return; // already rejected, or the body stream reports it
          // Node's documented pattern: a keep-alive socket the server closed while idle resets on reuse.
          const replayable = !(body instanceof Readable);
          const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
          if (attempt === 0 && req.reusedSocket && replayable && reset) {
            timing.staleSocketRetry = true;
            send(1);
            return;
          }
          settle();
          reject(new TypeError('fetch failed', { cause: err }));
        });
        if (body instanceof Readable) pipeline(body, req, () => {});
        else req.end(body);
      };

      signal?.addEventListener('abort', onAbort, { once: true });
      send(0);
    });
  }

  return {
    fetch: timedFetch,
    timingOf: (response) => byResponse.get(response),
    lastTiming: () => last,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Turns a fetch body into bytes with a known length, or a stream; sets content-type/-length like fetch does. */
function toNodeBody(
  body: RequestInit['body'] | undefined,
  headers: Record<string, string>,
  method: string,
): Buffer | Readable | undefined {
  const fixed = (bytes: Buffer, type?: string) => {
    if (type) headers['content-type'] ??= type;
    headers['content-length'] = String(bytes.byteLength);
    return bytes;
  };
  if (body == null) {
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') headers['content-length'] = '0';
    return undefined;
  }
  if (typeof body === 'string') return fixed(Buffer.from(body), 'text/plain;charset=UTF-8');
  if (body instanceof URLSearchParams) {
    return fixed(Buffer.from(body.toString()), 'application/x-www-form-urlencoded;charset=UTF-8');
  }
  if (body instanceof ArrayBuffer) return fixed(Buffer.from(body));
  if (ArrayBuffer.isView(body)) return fixed(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  // ReadableStream and async iterables (the SDK's streaming uploads) go out chunked.
  if (Symbol.asyncIterator in body) return Readable.from(body as AsyncIterable<Uint8Array>);
  // FormData and Blob: let the platform serialise them (multipart boundary, blob type), then stream.
  const serialised = new Response(body);
  const type = serialised.headers.get('content-type');
  if (type) headers['content-type'] ??= type;
  if (body instanceof Blob) headers['content-length'] = String(body.size);
  return serialised.body ? Readable.fromWeb(serialised.body) : undefined;
}

/** Decodes gzip/deflate/br like native fetch (lenient flush, as undici does, so truncated streams still yield data). */
function decoded(res: IncomingMessage): Readable {
  const coding = res.headers['content-encoding']?.trim().toLowerCase();
  const flush = { flush: z.Z_SYNC_FLUSH, finishFlush: z.Z_SYNC_FLUSH };
  const decoder =
    coding === 'gzip' || coding === 'x-gzip'
      ? createGunzip(flush)
      : coding === 'deflate'
        ? createInflate(flush)
        : coding === 'br'
          ? createBrotliDecompress({ flush: z.BROTLI_OPERATION_FLUSH, finishFlush: z.BROTLI_OPERATION_FLUSH })
          : undefined;
  // pipeline propagates errors and destruction both ways (abort → res → decoder, cancel → decoder → res).
  return decoder ? pipeline(res, decoder, () => {}) : res;
}

/**
 * A pull-based web stream over a Node stream: with highWaterMark 0 a chunk is only read when the consumer
 * asks, so the end is timed when the consumer has read everything (also for SSE streams read progressively).
 */
function toWebBody(
  src: Readable,
  timing: RequestTiming,
  onEnd: () => void,
  onError: (cause: unknown) => unknown,
): ReadableStream<Uint8Array> {
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  src.on('readable', notify).on('end', notify).on('error', notify).on('close', notify);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const chunk: Buffer | null = src.read();
          if (chunk !== null) {
            timing.responseBytes += chunk.byteLength;
            controller.enqueue(chunk);
            return;
          }
          if (src.readableEnded) {
            onEnd();
            controller.close();
            return;
          }
          if (src.destroyed) throw onError(src.errored ?? new Error('response closed before its end'));
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
      cancel() {
        onError(undefined);
        src.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}
