/**
 * Watches a streamed (server-sent events) answer on its way to the app: the
 * first token, the model, the usage and how the stream ended, reported once
 * when it ends, whether it was read to the end, abandoned or broken.
 *
 * The app reads a copy of the events made as they arrive; the only change is
 * that a usage-only chunk this package asked for (`stream_options.include_usage`
 * added to a request that did not set it) is left out, so the app sees the
 * chunks it asked for and nothing else.
 */
import { isObject, type Usage } from './usage.js';

/** How a stream ended: read to its end, left by the app (break, abort, never finished), or broken. */
export type StreamEnd = 'completed' | 'abandoned' | 'failed';

export interface StreamSummary {
  end: StreamEnd;
  /** `performance.now()` when the first token arrived; absent when none did. */
  firstTokenAt?: number;
  /** `performance.now()` when the stream ended. */
  endedAt: number;
  bytes: number;
  model?: string;
  usage?: Usage;
  /** Why a `failed` stream failed: an error event in the stream, or the connection. */
  error?: { type: 'network' | 'rate_limited' | 'server_error'; message: string };
}

export interface WatchOptions {
  /** Leave out chunks with no choices and a usage (the chunk `include_usage` adds). */
  hideUsageChunk: boolean;
  /** Called once, when the stream ends for any reason. */
  onEnd(summary: StreamSummary): void;
}

export interface WatchedStream {
  body: ReadableStream<Uint8Array>;
  /** Ends the watch now as abandoned (the client is closing); the app's stream is left as it is. */
  abandon(): void;
}

/** Responses API events that end a response and carry it, usage included. */
const TERMINAL_RESPONSE_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** The error type an in-stream error's code implies. */
const streamErrorType = (code: unknown): 'rate_limited' | 'server_error' =>
  typeof code === 'string' && code.startsWith('rate_limit') ? 'rate_limited' : 'server_error';

const errorMessage = (error: unknown, fallback: string): string =>
  isObject(error) && typeof error.message === 'string' ? error.message : fallback;

/** A streamed chat or completions choice that carries output (text, refusal or tool call). */
function choiceHasToken(choice: unknown): boolean {
  if (!isObject(choice)) return false;
  if (typeof choice.text === 'string' && choice.text !== '') return true;
  const delta = choice.delta;
  if (!isObject(delta)) return false;
  return (
    (typeof delta.content === 'string' && delta.content !== '') ||
    (typeof delta.refusal === 'string' && delta.refusal !== '') ||
    (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)
  );
}

export function watchStream(source: ReadableStream<Uint8Array>, options: WatchOptions): WatchedStream {
  const reader = source.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const summary: Omit<StreamSummary, 'end' | 'endedAt'> = { bytes: 0 };
  let ended = false;
  /** The unfinished line at the end of what arrived so far. */
  let partialLine = '';
  /** The lines of the event being read. */
  let eventLines: string[] = [];

  const finish = (end: StreamEnd) => {
    if (ended) return;
    ended = true;
    // An error event seen before the app left is what ended the stream.
    const outcome: StreamEnd = summary.error ? 'failed' : end;
    options.onEnd({ ...summary, end: outcome, endedAt: performance.now() });
  };

  /** Learns what the event says; false when the app must not see it. */
  const inspect = (lines: string[]): boolean => {
    let eventName = '';
    const data: string[] = [];
    for (const line of lines) {
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') eventName = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return true;
    let payload: unknown;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch {
      return true; // `[DONE]`, or something this watch does not need to understand
    }
    if (!isObject(payload)) return true;
    const type = typeof payload.type === 'string' ? payload.type : eventName;

    if (type === 'error' || eventName === 'error' || isObject(payload.error)) {
      const error = isObject(payload.error) ? payload.error : payload;
      summary.error ??= { type: streamErrorType(error.code), message: errorMessage(error, 'error event') };
      return true;
    }
    // Responses API.
    if (TERMINAL_RESPONSE_EVENTS.has(type) && isObject(payload.response)) {
      const response = payload.response;
      if (typeof response.model === 'string') summary.model = response.model;
      if (isObject(response.usage)) summary.usage = response.usage as Usage;
      if (type === 'response.failed') {
        const error = isObject(response.error) ? response.error : {};
        summary.error ??= { type: streamErrorType(error.code), message: errorMessage(error, type) };
      }
      return true;
    }
    if (type.endsWith('.delta') && typeof payload.delta === 'string' && payload.delta !== '') {
      summary.firstTokenAt ??= performance.now();
      return true;
    }
    // Chat Completions and Completions chunks.
    if (Array.isArray(payload.choices)) {
      if (typeof payload.model === 'string') summary.model ??= payload.model;
      if (summary.firstTokenAt === undefined && payload.choices.some(choiceHasToken))
        summary.firstTokenAt = performance.now();
      if (isObject(payload.usage)) {
        summary.usage = payload.usage as Usage;
        if (options.hideUsageChunk && payload.choices.length === 0) return false;
      }
    }
    return true;
  };

  /** The text to pass on for what arrived: the complete events, re-joined with `\n` line ends. */
  const passOn = (text: string, last: boolean): string => {
    let pending = partialLine + text;
    // A `\r` at the end may be the first half of a `\r\n` still on its way.
    let heldBack = '';
    if (!last && pending.endsWith('\r')) {
      heldBack = '\r';
      pending = pending.slice(0, -1);
    }
    const lines = pending.split(/\r\n|\r|\n/);
    partialLine = (lines.pop() ?? '') + heldBack;
    let out = '';
    for (const line of lines) {
      if (line !== '') {
        eventLines.push(line);
        continue;
      }
      if (eventLines.length > 0 && inspect(eventLines)) out += `${eventLines.join('\n')}\n\n`;
      eventLines = [];
    }
    if (last) {
      // An unfinished event at the very end is passed on as it came: it is the app's to judge.
      if (partialLine !== '') eventLines.push(partialLine);
      if (eventLines.length > 0) out += eventLines.join('\n');
      partialLine = '';
      eventLines = [];
    }
    return out;
  };

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Reads until there is something to hand on: a chunk may hold no complete event.
      for (;;) {
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          const aborted = isObject(error) && error.name === 'AbortError';
          if (!aborted && !summary.error)
            summary.error = { type: 'network', message: errorMessage(error, 'stream broken') };
          finish(aborted ? 'abandoned' : 'failed');
          controller.error(error);
          return;
        }
        if (result.done) {
          const rest = passOn(decoder.decode(), true);
          if (rest) controller.enqueue(encoder.encode(rest));
          finish('completed');
          controller.close();
          return;
        }
        summary.bytes += result.value.byteLength;
        const out = passOn(decoder.decode(result.value, { stream: true }), false);
        if (out) {
          controller.enqueue(encoder.encode(out));
          return;
        }
      }
    },
    async cancel(reason) {
      finish('abandoned');
      await reader.cancel(reason).catch(() => undefined);
    },
  });
  return { body, abandon: () => finish('abandoned') };
}
