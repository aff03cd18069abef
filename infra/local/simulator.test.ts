import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NO_FAULTS, type Simulator, startSimulator } from './simulator.js';

let sim: Simulator;
let client: OpenAI;

/** A client whose every request forces the given fault via `x-sim-fault`. */
const faulty = (fault: string, opts: { timeout?: number } = {}) =>
  new OpenAI({
    apiKey: 'sim',
    baseURL: sim.url,
    maxRetries: 0,
    defaultHeaders: { 'x-sim-fault': fault },
    ...opts,
  });

/** The `error` object of an OpenAI-style error response. */
const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { type: string; param: string | null } }).error;
const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));

/** Waits, one turn of the event loop at a time (no timers: they may be fake), until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Fake timers for the simulator's delays and the SDK's timeouts: they fire exactly when the test
 * moves time, so "slower than" and "not before" are facts rather than races with a loaded machine.
 */
const useFakeTime = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
afterEach(() => {
  vi.useRealTimers();
});

beforeAll(async () => {
  sim = await startSimulator({ latency: 'none' });
  client = new OpenAI({ apiKey: 'sim', baseURL: sim.url, maxRetries: 0 });
});
afterAll(async () => {
  await sim.close();
});

describe('endpoints via the official SDK', () => {
  it('chat completions with usage, max_tokens and headers', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Say hello to the status page.' }],
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('gpt-4o-mini');
    expect(data.choices[0]?.message.content).toMatch(/simulated/);
    expect(data.choices[0]?.finish_reason).toBe('stop');
    const u = data.usage;
    expect(u?.prompt_tokens).toBeGreaterThanOrEqual(1);
    expect(u?.total_tokens).toBe((u?.prompt_tokens ?? 0) + (u?.completion_tokens ?? 0));
    expect(u?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(u?.completion_tokens_details?.reasoning_tokens).toBe(0);
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]+$/);
    expect(response.headers.get('openai-version')).toBe('2020-10-01');
    expect(response.headers.get('x-simulated')).toBe('true');
    expect(response.headers.get('openai-processing-ms')).toBe('0');
    expect(Number(response.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(
      Number(response.headers.get('x-ratelimit-limit-requests')),
    );
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+h)?(\d+m)?[\d.]+(ms|s)$/);
    expect(response.headers.get('x-ratelimit-reset-tokens')).toMatch(/^(\d+h)?(\d+m)?[\d.]+(ms|s)$/);

    const short = await client.chat.completions.create({
      model: 'gpt-5-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 2,
    });
    expect(short.usage?.completion_tokens).toBe(2);
    expect(short.choices[0]?.finish_reason).toBe('length');
    expect(short.model).toBe('gpt-5-mini');

    const last = sim.requests.at(-1);
    expect(last).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      body: { max_completion_tokens: 2 },
    });
    expect(last?.headers.authorization).toBe('Bearer sim');
  });

  it('chat streaming ends with a usage chunk when include_usage is set', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toMatch(/simulated/);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBeGreaterThan(0);

    // The SDK's helper assembles the same stream into a completion.
    const helper = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect((await helper.finalContent()) ?? '').toBe(text);
  });

  it('responses: output_text, usage and the max_output_tokens minimum', async () => {
    const r = await client.responses.create({
      model: 'gpt-4.1-mini',
      input: 'ping',
      instructions: 'be brief',
    });
    expect(r.object).toBe('response');
    expect(r.status).toBe('completed');
    expect(r.model).toBe('gpt-4.1-mini');
    expect(r.output_text).toMatch(/simulated/);
    expect(r.usage?.input_tokens).toBeGreaterThanOrEqual(1);
    expect(r.usage?.input_tokens_details.cached_tokens).toBe(0);
    expect(r.usage?.output_tokens_details.reasoning_tokens).toBe(0);
    expect(r.usage?.total_tokens).toBe((r.usage?.input_tokens ?? 0) + (r.usage?.output_tokens ?? 0));

    const capped = await client.responses.create({
      model: 'gpt-5-mini',
      input: 'ping',
      max_output_tokens: 16,
    });
    expect(capped.usage?.output_tokens).toBeLessThanOrEqual(16);

    const err = await client.responses
      .create({ model: 'gpt-5-mini', input: 'x', max_output_tokens: 5 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('max_output_tokens');
  });

  it('responses streaming works with create({stream}) and responses.stream()', async () => {
    const events = [];
    for await (const e of await client.responses.create({ model: 'gpt-5-mini', input: 'hi', stream: true }))
      events.push(e);
    expect(events[0]?.type).toBe('response.created');
    expect(events.some((e) => e.type === 'response.output_text.delta')).toBe(true);
    expect(events.at(-1)?.type).toBe('response.completed');

    const final = await client.responses.stream({ model: 'gpt-5-mini', input: 'hi' }).finalResponse();
    expect(final.output_text).toMatch(/simulated/);
  });

  it('embeddings: deterministic unit vectors in base64 (SDK default) and float', async () => {
    const a = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    const b = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'alpha',
      encoding_format: 'float',
    });
    expect(a.data).toHaveLength(2);
    expect(a.data[0]?.embedding).toHaveLength(1536);
    expect(norm(a.data[0]?.embedding ?? [])).toBeCloseTo(1, 4);
    const fromBase64 = Array.from(a.data[0]?.embedding ?? []);
    const fromFloat = b.data[0]?.embedding ?? [];
    expect(fromFloat).toHaveLength(1536);
    fromFloat.forEach((x, i) => {
      expect(fromBase64[i]).toBeCloseTo(x, 6);
    });
    expect(a.data[1]?.embedding).not.toEqual(a.data[0]?.embedding);
    expect(a.usage.prompt_tokens).toBeGreaterThan(0);
    expect(a.usage.total_tokens).toBe(a.usage.prompt_tokens);

    const small = await client.embeddings.create({
      model: 'text-embedding-3-large',
      input: 'alpha',
      dimensions: 256,
    });
    expect(small.data[0]?.embedding).toHaveLength(256);
    expect(norm(small.data[0]?.embedding ?? [])).toBeCloseTo(1, 4);

    const err = await client.embeddings.create({ model: 'text-embedding-3-small' } as never).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('input');
  });

  it('moderations flag obvious violence only', async () => {
    const m = await client.moderations.create({
      model: 'omni-moderation-latest',
      input: ['hello', 'I will kill you'],
    });
    expect(m.model).toBe('omni-moderation-latest');
    expect(m.results.map((r) => r.flagged)).toEqual([false, true]);
    expect(m.results[1]?.categories.violence).toBe(true);
    expect(m.results[0]?.category_scores.hate).toBeLessThan(0.01);
  });

  it('models list and retrieve (404 for unknown ids)', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(
      expect.arrayContaining(['gpt-4o-mini', 'text-embedding-3-small', 'gpt-image-1-mini']),
    );
    expect((await client.models.retrieve('gpt-4o')).id).toBe('gpt-4o');
    await expect(client.models.retrieve('nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('list endpoints paginate as empty lists', async () => {
    const collect = async (page: AsyncIterable<unknown>) => {
      const items = [];
      for await (const item of page) items.push(item);
      return items;
    };
    expect(await collect(client.files.list())).toEqual([]);
    expect(await collect(client.fineTuning.jobs.list())).toEqual([]);
    expect(await collect(client.batches.list())).toEqual([]);
    expect(await collect(client.beta.assistants.list())).toEqual([]);
  });

  it('images return a tiny valid PNG and usage', async () => {
    const img = await client.images.generate({ model: 'gpt-image-1-mini', prompt: 'a green status light' });
    const png = Buffer.from(img.data?.[0]?.b64_json ?? '', 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(img.usage?.total_tokens).toBe((img.usage?.input_tokens ?? 0) + (img.usage?.output_tokens ?? 0));
  });

  it('validation: unknown path 404, bad JSON 400, missing params name the param', async () => {
    const post = (path: string, body: string) =>
      fetch(`${sim.url}${path}`, {
        method: 'POST',
        headers: { authorization: 'Bearer sim', 'content-type': 'application/json' },
        body,
      });
    const notFound = await post('/nope', '{}');
    expect(notFound.status).toBe(404);
    expect((await errorOf(notFound)).type).toBe('invalid_request_error');
    const badJson = await post('/chat/completions', '{not json');
    expect(badJson.status).toBe(400);
    const noMessages = await post('/chat/completions', JSON.stringify({ model: 'gpt-4o-mini' }));
    expect(noMessages.status).toBe(400);
    expect((await errorOf(noMessages)).param).toBe('messages');
    const noModel = await post(
      '/chat/completions',
      JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    );
    expect((await errorOf(noModel)).param).toBe('model');
  });
});

describe('faults', () => {
  const ask = (c: OpenAI) =>
    c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });

  it('forced 500/502/503 throw InternalServerError with an OpenAI error body', async () => {
    for (const status of [500, 502, 503]) {
      const err = await ask(faulty(String(status))).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      expect(err.status).toBe(status);
      expect(err.type).toBe('server_error');
    }
  });

  it('forced 429 throws RateLimitError with retry-after headers', async () => {
    const err = await ask(faulty('429')).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.headers.get('retry-after')).toBe('1');
    expect(err.headers.get('retry-after-ms')).toBe('200');
  });

  it('forced slow exceeds the client timeout', async () => {
    useFakeTime();
    const seen = sim.requests.length;
    const asking = ask(faulty('slow', { timeout: 200 })).catch((e: unknown) => e);
    await until(() => sim.requests.length > seen);
    // The client's 200 ms timeout ends the call; the slow reply (30 s) has not come by then.
    await vi.advanceTimersByTimeAsync(200);
    expect(await asking).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
  });

  it('forced drop is a connection error', async () => {
    const err = await ask(faulty('drop')).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(err).not.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
  });

  it('forced malformed makes the SDK fail to parse the 200 body', async () => {
    await expect(ask(faulty('malformed'))).rejects.toBeInstanceOf(SyntaxError);
  });

  it('missing key and forced 401 are AuthenticationErrors', async () => {
    const res = await fetch(`${sim.url}/models`);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await res.json()).toEqual({
      error: {
        message: expect.any(String),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    await expect(faulty('401').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('x-sim-latency-ms delays a single request', async () => {
    useFakeTime();
    const seen = sim.requests.length;
    let answered = false;
    const listing = client.models
      .list({ headers: { 'x-sim-latency-ms': '120' } })
      .withResponse()
      .finally(() => {
        answered = true;
      });
    await until(() => sim.requests.length > seen);
    await vi.advanceTimersByTimeAsync(119);
    // A request without the header is answered at once meanwhile: the delay is this request's only.
    await client.models.list();
    expect(answered).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const { response } = await listing;
    expect(response.headers.get('openai-processing-ms')).toBe('120');
  });

  it('rate-based faults apply to every call at rate 1 and setFaults switches them off', async () => {
    sim.setFaults({ serverErrorRate: 1 });
    try {
      for (let i = 0; i < 5; i++)
        await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    } finally {
      sim.setFaults(NO_FAULTS);
    }
    await expect(client.models.list()).resolves.toBeDefined();
  });

  it('a seeded random source makes rate faults reproducible', async () => {
    const seeded = () => {
      let s = 42;
      return () => {
        s = (s * 1103515245 + 12345) % 2 ** 31;
        return s / 2 ** 31;
      };
    };
    const run = async () => {
      const s = await startSimulator({ latency: 'none', faults: { rateLimitRate: 0.5 }, random: seeded() });
      const c = new OpenAI({ apiKey: 'sim', baseURL: s.url, maxRetries: 0 });
      const out = [];
      for (let i = 0; i < 8; i++)
        out.push(
          await c.models.retrieve('gpt-4o').then(
            () => 'ok',
            (e) => e.status,
          ),
        );
      await s.close();
      return out;
    };
    const first = await run();
    expect(first).toContain(429);
    expect(first).toContain('ok');
    expect(await run()).toEqual(first);
  });

  it('close() returns while a slow reply is pending', async () => {
    const s = await startSimulator({ latency: 'none', faults: { slowRate: 1, slowMs: 60_000 } });
    // Fake timers: the 60 s reply (and the client's timeout) can never fire, so close() returning
    // at all shows it cut the pending request rather than waiting for it.
    useFakeTime();
    const pending = new OpenAI({ apiKey: 'sim', baseURL: s.url, maxRetries: 0 }).models
      .list()
      .catch((e) => e);
    await until(() => s.requests.length === 1);
    await s.close();
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});
