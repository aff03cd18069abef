import { describe, expect, it } from 'vitest';
import { type StreamSummary, watchStream } from './stream.js';

const encoder = new TextEncoder();

/** A body that delivers `text` in pieces of `size` bytes (split inside lines, `\r\n` pairs and UTF-8 characters). */
function bodyOf(text: string, size: number, failWith?: unknown): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(text);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        if (failWith) controller.error(failWith);
        else controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/** Reads what the app would read, and the summary the watch reported. */
async function watch(source: ReadableStream<Uint8Array>, hideUsageChunk: boolean) {
  const ends: StreamSummary[] = [];
  const watched = watchStream(source, { hideUsageChunk, onEnd: (summary) => ends.push(summary) });
  let text = '';
  let error: unknown;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of watched.body) text += decoder.decode(chunk, { stream: true });
  } catch (e) {
    error = e;
  }
  return { text: text + decoder.decode(), ends, error };
}

const sse = (events: { event?: string; data: unknown }[], lineEnd = '\n') =>
  events
    .map(
      ({ event, data }) =>
        `${event ? `event: ${event}${lineEnd}` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}${lineEnd}${lineEnd}`,
    )
    .join('');

const chunk = (choices: unknown[], usage: unknown = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  model: 'gpt-4o-mini-2024-07-18',
  choices,
  usage,
});
const delta = (content: string) => ({ index: 0, delta: { content }, finish_reason: null });
const USAGE = { prompt_tokens: 9, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 0 } };
const CHAT = [
  { data: chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]) },
  { data: chunk([delta('héllo ')]) },
  { data: chunk([delta('wörld 🌍')]) },
  { data: chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) },
  { data: chunk([], USAGE) },
  { data: '[DONE]' },
];

describe('watchStream', () => {
  for (const lineEnd of ['\n', '\r\n']) {
    for (const size of [1, 7, 4096]) {
      it(`passes the events on unchanged but for the usage chunk (${JSON.stringify(lineEnd)} lines, ${size}-byte reads)`, async () => {
        const text = sse(CHAT, lineEnd);
        const hidden = await watch(bodyOf(text, size), true);
        expect(hidden.text).toBe(sse(CHAT.filter((_, i) => i !== 4)));
        const shown = await watch(bodyOf(text, size), false);
        expect(shown.text).toBe(sse(CHAT));
        for (const { ends } of [hidden, shown]) {
          expect(ends).toHaveLength(1);
          const [summary] = ends;
          expect(summary).toMatchObject({
            end: 'completed',
            model: 'gpt-4o-mini-2024-07-18',
            usage: USAGE,
            bytes: encoder.encode(text).length,
          });
          expect(summary?.firstTokenAt).toBeLessThanOrEqual(summary?.endedAt ?? 0);
        }
      });
    }
  }

  it('takes usage and model from the end of a Responses API stream, and its failure', async () => {
    const usage = { input_tokens: 5, output_tokens: 2, output_tokens_details: { reasoning_tokens: 1 } };
    const events = [
      { event: 'response.created', data: { type: 'response.created', response: { model: 'gpt-4.1' } } },
      { event: 'response.output_text.delta', data: { type: 'response.output_text.delta', delta: 'ok' } },
      {
        event: 'response.failed',
        data: {
          type: 'response.failed',
          response: { model: 'gpt-4.1-2025-04-14', usage, error: { code: 'server_error', message: 'boom' } },
        },
      },
    ];
    // Named events over \r\n lines read a byte at a time: a \r\n split across reads is one line end.
    const { text, ends } = await watch(bodyOf(sse(events, '\r\n'), 1), true);
    expect(text).toBe(sse(events));
    expect(ends).toEqual([
      expect.objectContaining({
        end: 'failed',
        model: 'gpt-4.1-2025-04-14',
        usage,
        error: { type: 'server_error', message: 'boom' },
        firstTokenAt: expect.any(Number),
      }),
    ]);
  });

  it('finds the first token of a (legacy) Completions stream in its text, not in an empty one', async () => {
    const completion = (text: string) => ({
      object: 'text_completion',
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, text }],
    });
    const empty = await watch(bodyOf(sse([{ data: completion('') }, { data: '[DONE]' }]), 4096), true);
    expect(empty.ends[0]?.firstTokenAt).toBeUndefined();
    const some = await watch(bodyOf(sse([{ data: completion('') }, { data: completion('Hi') }]), 4096), true);
    expect(some.ends[0]).toMatchObject({ model: 'gpt-3.5-turbo-instruct', firstTokenAt: expect.any(Number) });
  });

  it('reports an error event in the stream, even when the app leaves because of it', async () => {
    const events = [
      { data: chunk([delta('a')]) },
      { event: 'error', data: { type: 'error', code: 'rate_limit_exceeded', message: 'slow down' } },
    ];
    const ends: StreamSummary[] = [];
    const watched = watchStream(bodyOf(sse(events), 3), {
      hideUsageChunk: false,
      onEnd: (s) => ends.push(s),
    });
    // The SDK throws on the error event and cancels the stream: the error is still what ended it.
    for await (const piece of watched.body) if (new TextDecoder().decode(piece).includes('error')) break;
    expect(ends).toEqual([
      expect.objectContaining({ end: 'failed', error: { type: 'rate_limited', message: 'slow down' } }),
    ]);
  });

  it('reports a broken connection as failed, an aborted read as abandoned', async () => {
    const broken = await watch(bodyOf(sse(CHAT.slice(0, 1)), 10, new TypeError('terminated')), true);
    expect(broken.error).toBeInstanceOf(TypeError);
    expect(broken.text).toBe(sse(CHAT.slice(0, 1)));
    expect(broken.ends).toEqual([
      expect.objectContaining({ end: 'failed', error: { type: 'network', message: 'terminated' } }),
    ]);
    expect(broken.ends[0]?.firstTokenAt).toBeUndefined(); // the role chunk has no content

    const aborted = await watch(
      bodyOf(sse(CHAT.slice(0, 3)), 10, new DOMException('aborted', 'AbortError')),
      true,
    );
    expect(aborted.ends).toEqual([
      expect.objectContaining({ end: 'abandoned', firstTokenAt: expect.any(Number) }),
    ]);
    expect(aborted.ends[0]?.error).toBeUndefined();
  });

  it('reports once: cancelled by the app, or abandoned by the client first', async () => {
    const ends: StreamSummary[] = [];
    let sourceCancelled = false;
    const source = bodyOf(sse(CHAT), 4096);
    const watched = watchStream(
      new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          const reader = source.getReader();
          const { value } = await reader.read();
          reader.releaseLock();
          if (value) controller.enqueue(value);
        },
        cancel: () => {
          sourceCancelled = true;
        },
      }),
      { hideUsageChunk: true, onEnd: (s) => ends.push(s) },
    );
    watched.abandon();
    await watched.body.cancel();
    expect(sourceCancelled).toBe(true);
    expect(ends).toHaveLength(1);
    expect(ends[0]?.end).toBe('abandoned');
  });
});
