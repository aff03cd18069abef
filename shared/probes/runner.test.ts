import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Simulator } from '../../infra/local/simulator.js';
import { checkConsistency, injectStoreFaults } from '../../test/faults.js';
import { ManualClock, startSimulator, storedItem, storedRollup, useFreshStore } from '../../test/helpers.js';
import { type Config, DEFAULT_PROBE_KEYS, HEAVY_PROBE_KEYS, PROBE_KEYS, parseConfig } from '../config.js';
import { histogramFromItem } from '../stats/histogram.js';
import { eventKey } from '../store/keys.js';
import { PROBES } from './registry.js';
import { type ProbeClient, probeClient, runProbe, runProbeTick, selectProbes } from './runner.js';
import { createTimedFetch, type RequestTiming } from './timed-fetch.js';

let sim: Simulator;
let config: Config;
let tableName: string;

beforeAll(async () => {
  sim = await startSimulator({ latency: 'none' });
  ({ tableName } = await useFreshStore());
  config = parseConfig({
    OPENAI_BASE_URL: sim.url,
    PROBE_ENDPOINTS: [...PROBE_KEYS].join(','),
    PROBE_HEAVY: '1',
    PROBE_REGION: 'eu-test-1',
    TABLE_NAME: tableName,
  });
});
afterAll(() => sim.close());
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Waits, one turn of the event loop at a time, until `condition` holds. No timers: under fake
 * timers this is how a test lets real I/O (the simulator, the store) happen without moving time.
 */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Fake timers and a fake monotonic clock: the call timeout and the tick budget fire exactly when
 * the test moves time, and measured durations are the time moved, whatever the machine's load.
 */
const useFakeTime = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

/** A client whose requests carry simulator fault headers, optionally only for some paths. */
function faultyClient(fault: string, onlyPath?: string, baseURL = sim.url): ProbeClient {
  const timed = createTimedFetch();
  const fetch: typeof timed.fetch = (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    if (onlyPath && !url.includes(onlyPath)) return timed.fetch(input, init);
    const headers = new Headers(init.headers);
    headers.set('x-sim-fault', fault);
    return timed.fetch(input, { ...init, headers });
  };
  return { client: new OpenAI({ apiKey: 'sim', baseURL, maxRetries: 0, fetch }), timed };
}

const lastBody = (path: string) => [...sim.requests].reverse().find((r) => r.path === `/v1${path}`)?.body;

describe('probe registry', () => {
  it('has one entry per probe key, and only images is heavy', () => {
    expect(Object.keys(PROBES).sort()).toEqual([...PROBE_KEYS].sort());
    for (const key of PROBE_KEYS) expect(PROBES[key].key).toBe(key);
    expect(HEAVY_PROBE_KEYS).toEqual(['images']);
    expect(DEFAULT_PROBE_KEYS).not.toContain('chat_stream');
  });
});

describe('runProbe against the simulator', () => {
  it('sends tiny requests', async () => {
    const client = await probeClient(config);
    for (const key of ['chat', 'responses', 'embeddings', 'moderations', 'chat_stream'] as const) {
      await runProbe(PROBES[key], { config, probeClient: client, timeoutMs: 5000 });
    }
    expect(lastBody('/chat/completions')).toMatchObject({
      model: 'gpt-4o-mini',
      max_completion_tokens: 5,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chat = sim.requests.find((r) => r.path === '/v1/chat/completions')?.body as { messages: unknown[] };
    expect(chat.messages).toHaveLength(1);
    expect(lastBody('/responses')).toMatchObject({ model: 'gpt-4o-mini', max_output_tokens: 16 });
    expect(lastBody('/embeddings')).toMatchObject({ model: 'text-embedding-3-small', input: 'ping' });
    expect(lastBody('/moderations')).toMatchObject({ model: 'omni-moderation-latest', input: 'ping' });
    for (const body of [lastBody('/chat/completions'), lastBody('/responses'), lastBody('/embeddings')]) {
      expect(JSON.stringify(body).length).toBeLessThan(300);
    }
  });

  it('records every field of a successful chat call', async () => {
    const at = Date.UTC(2026, 4, 6, 7, 8, 9, 100);
    const before = performance.now();
    const { event, span } = await runProbe(PROBES.chat, {
      config,
      probeClient: await probeClient(config),
      timeoutMs: 5000,
      clock: new ManualClock(at),
    });
    const took = performance.now() - before;
    expect(event).toMatchObject({
      source: 'probe',
      endpoint: 'chat',
      model: 'gpt-4o-mini',
      region: 'eu-test-1',
      upstream: 'simulated',
      ok: true,
      status: 200,
      usage: { input: expect.any(Number), output: expect.any(Number), cached: 0, reasoning: 0 },
      requestId: expect.stringMatching(/^req_/),
      processingMs: expect.any(Number),
      rateLimit: {
        limitRequests: expect.any(Number),
        remainingRequests: expect.any(Number),
        resetRequestsMs: expect.any(Number),
        limitTokens: expect.any(Number),
        remainingTokens: expect.any(Number),
        resetTokensMs: expect.any(Number),
      },
    });
    expect(event.errorType).toBeUndefined();
    expect(event.latencyMs).toBeGreaterThan(0);
    expect(event.responseBytes).toBeGreaterThan(50);
    expect(event.costUsd).toBeGreaterThan(0);
    expect(event.timing?.ttfbMs).toBeGreaterThan(0);
    expect(event.timing?.transferMs).toBeGreaterThanOrEqual(0);
    // Stamped by the injected clock: the request's start, which lies within the call.
    expect(event.ts).toBeGreaterThanOrEqual(at);
    expect(event.ts + event.latencyMs).toBeLessThanOrEqual(at + Math.ceil(took) + 1);
    expect(event.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(event.spanId).toMatch(/^[0-9a-f]{16}$/);

    // The span speaks the GenAI semantic conventions.
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': event.usage?.input,
      'gen_ai.usage.output_tokens': event.usage?.output,
      'openai.api.type': 'chat_completions',
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
    });
    expect(span.statusCode).toBe(1);
  });

  it('reports a reused connection on the second call', async () => {
    const client = faultyClient('none-such', '/never');
    const first = await runProbe(PROBES.models, { config, probeClient: client, timeoutMs: 5000 });
    const second = await runProbe(PROBES.models, { config, probeClient: client, timeoutMs: 5000 });
    expect(first.event.timing).toMatchObject({ reused: false, connectMs: expect.any(Number) });
    expect(second.event.timing?.reused).toBe(true);
    expect(second.event.timing?.connectMs).toBeUndefined();
    client.timed.close();
  });

  it.each([
    'responses',
    'embeddings',
    'moderations',
    'models',
    'files',
    'fine_tunes',
    'batches',
    'assistants',
    'images',
  ] as const)('probes %s', async (key) => {
    const { event } = await runProbe(PROBES[key], {
      config,
      probeClient: await probeClient(config),
      timeoutMs: 5000,
    });
    expect(event).toMatchObject({ endpoint: key, ok: true, status: 200 });
    expect(event.responseBytes).toBeGreaterThan(0);
    if (key === 'responses' || key === 'embeddings' || key === 'images') {
      expect(event.usage?.input).toBeGreaterThan(0);
    }
  });

  it('records time to first token for chat_stream', async () => {
    const { event } = await runProbe(PROBES.chat_stream, {
      config,
      probeClient: await probeClient(config),
      timeoutMs: 5000,
    });
    expect(event).toMatchObject({ endpoint: 'chat_stream', ok: true, status: 200 });
    expect(event.timing?.ttftMs).toBeGreaterThan(0);
    expect(event.timing?.ttftMs).toBeLessThanOrEqual(event.latencyMs + 1);
    expect(event.usage?.output).toBeGreaterThan(0);
  });

  it.each([
    ['500', 'server_error', 500],
    ['503', 'server_error', 503],
    ['429', 'rate_limited', 429],
    ['401', 'auth', 401],
    ['malformed', 'invalid_response', 200],
    ['drop', 'network', undefined],
  ] as const)('classifies a forced %s as %s', async (fault, errorType, status) => {
    const client = faultyClient(fault);
    const { event, span } = await runProbe(PROBES.chat, { config, probeClient: client, timeoutMs: 300 });
    expect(event.ok).toBe(false);
    expect(event.errorType).toBe(errorType);
    expect(event.status).toBe(status);
    expect(event.errorMessage).toBeTruthy();
    expect(span.statusCode).toBe(2);
    expect(span.attributes['error.type']).toBe(errorType);
    if (fault === '429') expect(event.requestId).toMatch(/^req_/);
    client.timed.close();
  });

  it('classifies a forced slow reply as timeout, cut at the call timeout', async () => {
    useFakeTime();
    const client = faultyClient('slow');
    const seen = sim.requests.length;
    let done = false;
    const running = runProbe(PROBES.chat, { config, probeClient: client, timeoutMs: 300 }).finally(() => {
      done = true;
    });
    // Time only moves once the simulator holds the request (for its 30 s slow reply).
    await until(() => sim.requests.length > seen);
    await vi.advanceTimersByTimeAsync(299);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const { event, span } = await running;
    expect(event).toMatchObject({ ok: false, errorType: 'timeout', latencyMs: 300 });
    expect(event.status).toBeUndefined();
    expect(event.errorMessage).toBeTruthy();
    expect(span.statusCode).toBe(2);
    expect(span.attributes['error.type']).toBe('timeout');
    client.timed.close();
  });

  it('classifies a refused connection as network', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const client = faultyClient('none', '/never', `http://127.0.0.1:${port}/v1`);
    const { event } = await runProbe(PROBES.models, { config, probeClient: client, timeoutMs: 2000 });
    expect(event).toMatchObject({ ok: false, errorType: 'network' });
    expect(event.status).toBeUndefined();
  });
});

describe('scheduling', () => {
  it('round robin gives every key its turn, in order, from the tick time alone', () => {
    const rr = parseConfig({ PROBE_INTERVAL_SEC: '60', OPENAI_BASE_URL: sim.url });
    const start = Date.UTC(2026, 10, 27, 12, 0, 7);
    const seen = Array.from({ length: 18 }, (_, i) => selectProbes(rr, start + i * 60_000));
    expect(seen.every((s) => s.length === 1)).toBe(true);
    const order = seen.map((s) => s[0]);
    const first = rr.probeEndpoints.indexOf(order[0] as (typeof rr.probeEndpoints)[number]);
    expect(order).toEqual(
      Array.from({ length: 18 }, (_, i) => rr.probeEndpoints[(first + i) % rr.probeEndpoints.length]),
    );
    // Jitter within the interval keeps the same turn.
    expect(selectProbes(rr, start + 30_000)).toEqual(seen[0]);
  });

  it('all mode runs every selected probe', () => {
    const all = parseConfig({ PROBE_MODE: 'all', PROBE_ENDPOINTS: 'chat,models' });
    expect(selectProbes(all, Date.now())).toEqual(['chat', 'models']);
  });
});

describe('a probe tick', () => {
  it('records every probe, with 7 write requests each plus one commit, and the rollups add up', async () => {
    const tickConfig: Config = {
      ...config,
      probeMode: 'all',
      probeEndpoints: ['chat', 'models', 'embeddings'],
    };
    const result = await runProbeTick({ config: tickConfig, tickTime: Date.now(), budgetMs: 10_000 });
    expect(result.events.map((e) => e.endpoint).sort()).toEqual(['chat', 'embeddings', 'models']);
    // Per probe: the claim, three rollup updates (label-set minute and hour, endpoint minute) and three
    // marker clean-ups; one BatchWrite commits all three.
    expect(result.stored).toEqual({ stored: 3, duplicates: 0, refused: [], writeRequests: 22 });

    for (const event of result.events) {
      const item = await storedItem(tableName, eventKey(event.ts, event.id));
      expect(item).toMatchObject({ endpoint: event.endpoint, ok: true, status: 200, source: 'probe' });
      expect(item?.expiresAt).toBe(Math.ceil((event.ts + 30 * 86_400_000) / 1000));

      for (const resolution of ['minute', 'hour'] as const) {
        const r = (await storedRollup(tableName, resolution, event.ts, event)) as Record<string, unknown>;
        expect(r).toMatchObject({ n: 1, ok: 1, sim: 1, s_2xx: 1, endpoint: event.endpoint, resolution });
        expect(r.lat).toBeCloseTo(event.latencyMs, 6);
        expect(histogramFromItem(r).count).toBe(1);
        expect(r.bytes).toBe(event.responseBytes);
      }
    }
  });

  it('retries a failed write once, and the tick still counts each probe once', async () => {
    const tickConfig: Config = { ...config, probeMode: 'all', probeEndpoints: ['chat', 'models'] };
    const before = await checkConsistency(tableName);
    const faults = injectStoreFaults();
    try {
      // The third write is a rollup update: it fails after the claims, and the write path undoes them.
      faults.failAt(3, 'lost-answer');
      const result = await runProbeTick({ config: tickConfig, tickTime: Date.now(), budgetMs: 10_000 });
      expect(faults.fired).toBe(true);
      expect(result.stored).toMatchObject({ stored: 2, duplicates: 0 });
    } finally {
      faults.remove();
    }
    const after = await checkConsistency(tableName);
    expect(after.mismatches).toEqual([]);
    expect(after.visible).toBe(before.visible + 2);
    expect(after.pending).toBe(0);
  });

  it('does not count a retried delivery twice, and never loses counts to concurrent writers', async () => {
    const { recordEvents } = await import('../store/events.js');
    const ts = Date.UTC(2026, 0, 2, 3, 4, 5);
    const options = { tableName, retentionDays: 30, rollupRetentionDays: 400, now: ts + 60_000 };
    const event = (i: number) => ({
      id: `dup-${i}`,
      ts: ts + i,
      source: 'probe' as const,
      endpoint: 'dedupe-check',
      model: 'gpt-4o-mini',
      region: 'eu-test-1',
      ok: i % 4 !== 0,
      ...(i % 4 === 0 ? { errorType: 'server_error' as const, status: 500 } : { status: 200 }),
      latencyMs: 100 + i,
    });
    // Claim, 3 rollup updates, the late mark (written after its minute ended), commit, 3 clean-ups.
    expect(await recordEvents([event(0)], options)).toEqual({
      stored: 1,
      duplicates: 0,
      refused: [],
      writeRequests: 9,
    });
    // The second delivery's claim finds the event: one write, nothing counted.
    expect(await recordEvents([event(0)], options)).toEqual({
      stored: 0,
      duplicates: 1,
      refused: [],
      writeRequests: 1,
    });
    // 20 writers at once, each with its own event, all adding to the same rollups.
    await Promise.all(Array.from({ length: 20 }, (_, i) => recordEvents([event(i + 1)], options)));
    for (const resolution of ['minute', 'hour'] as const) {
      const r = (await storedRollup(tableName, resolution, ts, event(0))) as Record<string, unknown>;
      expect(r).toMatchObject({ n: 21, ok: 15, e_server_error: 6, s_2xx: 15, s_5xx: 6 });
      expect(r.lat).toBe(Array.from({ length: 21 }, (_, i) => 100 + i).reduce((a, b) => a + b));
      expect(histogramFromItem(r).count).toBe(21);
    }
  });

  it('keeps recording the others when one probe hangs, and ends at its budget', async () => {
    const tickConfig: Config = {
      ...config,
      probeMode: 'all',
      probeEndpoints: ['embeddings', 'chat', 'models', 'files', 'batches'],
      httpTimeoutMs: 60_000,
    };
    // embeddings gets the simulator's 30 s slow reply; the others are answered at once, and their
    // timings tell the test when each has read its whole answer.
    const timed = createTimedFetch();
    const healthy: RequestTiming[] = [];
    const fetch: typeof timed.fetch = async (input, init = {}) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes('/embeddings')) {
        const headers = new Headers(init.headers);
        headers.set('x-sim-fault', 'slow');
        return timed.fetch(input, { ...init, headers });
      }
      const response = await timed.fetch(input, init);
      const timing = timed.timingOf(response);
      if (timing) healthy.push(timing);
      return response;
    };
    const client = { client: new OpenAI({ apiKey: 'sim', baseURL: sim.url, maxRetries: 0, fetch }), timed };

    useFakeTime();
    const seen = sim.requests.length;
    let done = false;
    const tick = runProbeTick({
      config: tickConfig,
      tickTime: Date.UTC(2026, 4, 6, 7, 8),
      budgetMs: 1500,
      probeClient: client,
    }).finally(() => {
      done = true;
    });
    // Time stands still while the four others run to their end, however long that takes here.
    await until(
      () =>
        healthy.length === 4 &&
        healthy.every((t) => t.endedAt !== undefined) &&
        sim.requests.slice(seen).some((r) => r.path === '/v1/embeddings'),
    );
    await vi.advanceTimersByTimeAsync(1499);
    expect(done).toBe(false);
    // The budget runs out: the hung call is cut there and the tick records what it has.
    await vi.advanceTimersByTimeAsync(1);
    vi.useRealTimers();
    const result = await tick;
    timed.close();

    const byEndpoint = Object.fromEntries(result.events.map((e) => [e.endpoint, e]));
    expect(byEndpoint.embeddings).toMatchObject({ ok: false, errorType: 'timeout', latencyMs: 1500 });
    for (const key of ['chat', 'models', 'files', 'batches']) expect(byEndpoint[key]?.ok).toBe(true);
    expect(result.skipped).toEqual([]);
    expect(result.stored.stored).toBe(5);
  });
});
