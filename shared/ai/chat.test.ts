import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as aiHandler } from '../../functions/ai/handler.js';
import { handler as streamHandler } from '../../functions/ai_stream/handler.js';
import { handler as incidentsHandler } from '../../functions/incidents/handler.js';
import { handler as logsHandler } from '../../functions/logs/handler.js';
import { handler as logsSearchHandler } from '../../functions/logs_search/handler.js';
import { handler as statusHandler } from '../../functions/status/handler.js';
import { handler as timeseriesHandler } from '../../functions/timeseries/handler.js';
import { handler as tracesHandler } from '../../functions/traces/handler.js';
import { httpEvent, invokeHttpHandler, lambdaContext, matchRoute } from '../../infra/local/lambda.js';
import { traceEvents } from '../../test/fixtures.js';
import {
  invokeHttp,
  ManualClock,
  setEnv,
  startSimulator,
  startTestGateway,
  useClock,
  useFreshStore,
} from '../../test/helpers.js';
import { getConfig } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import { ROUTES } from '../routes.js';
import { recordEvents } from '../store/events.js';
import { HOUR_MS, MINUTE_MS } from '../store/keys.js';
import type { ChatAnswer, ChatLine } from './chat.js';
import { answerChat, parseChatRequest, streamChat, withHeartbeat } from './chat.js';
import type { LogFinder } from './evidence.js';
import { CitationFilter, EVIDENCE_CHAR_BUDGET } from './llm.js';
import { readQuestion } from './question.js';

// "Now" is 10:40:30 UTC of a recent day; chat failed between 10:00 and 10:06.
const DAY_START = Math.floor(Date.now() / (24 * HOUR_MS)) * 24 * HOUR_MS - 24 * HOUR_MS;
const NOW = DAY_START + 10 * HOUR_MS + 40 * MINUTE_MS + 30_000;
const at = (h: number, m: number, s = 0) => DAY_START + h * HOUR_MS + m * MINUTE_MS + s * 1000;
const ev = traceEvents('c');
const INGEST_KEY = 'chat-test-ingest-key-0123';

const events: TraceEvent[] = [];
// Every endpoint healthy from 09:00 to 10:40, one call a minute each.
for (let m = 0; m < 100; m++) {
  const ts = at(9, m, 5);
  const inOutage = ts >= at(10, 0) && ts < at(10, 6);
  events.push(
    ev({
      ts,
      endpoint: 'chat',
      latencyMs: inOutage ? 4000 : 300 + (m % 7) * 10,
      ...(inOutage
        ? { ok: false, status: 429, errorType: 'rate_limited', errorMessage: 'Rate limit reached' }
        : {}),
    }),
    ev({ ts: ts + 1000, endpoint: 'embeddings', latencyMs: 120 + (m % 5) }),
  );
}
const failing = events.filter((e) => !e.ok);

let sim: Awaited<ReturnType<typeof startSimulator>>;
let restoreEnv: () => void;
let restoreClock: () => void;
beforeAll(async () => {
  sim = await startSimulator({ latency: 'none' });
  await useFreshStore();
  restoreEnv = setEnv({
    OPENAI_BASE_URL: sim.url,
    ENABLE_AI: '1',
    AI_CHAT_PER_MINUTE: '1000',
    INGEST_API_KEY: INGEST_KEY,
  });
  const config = getConfig();
  await recordEvents(events, {
    tableName: config.tableName,
    retentionDays: 30,
    rollupRetentionDays: 400,
    now: NOW,
  });
  restoreClock = useClock(new ManualClock(NOW));
  // The app's own log lines of the outage: found by full text before any indexing.
  const logs = await invokeHttp(logsHandler, {
    method: 'POST',
    path: '/logs/ingest',
    headers: { 'x-api-key': INGEST_KEY },
    body: [1, 2, 3].map((m) => ({
      ts: at(10, m, 20),
      level: 'error',
      message: `chat completion failed: 429 rate_limit_exceeded, retry after ${m}s`,
      endpoint: 'chat',
    })),
  });
  expect(logs.json()).toMatchObject({ accepted: 3 });
});
afterAll(async () => {
  restoreClock();
  restoreEnv();
  await sim.close();
});

const ask = (body: unknown, headers: Record<string, string> = {}) =>
  invokeHttp(aiHandler, { method: 'POST', path: '/ai/chat', body, headers });

/** Invokes the read route a metric citation names, with its own parameters. */
async function resolveMetric(ref: string) {
  const url = new URL(ref, 'http://x');
  const handler =
    url.pathname === '/status'
      ? statusHandler
      : url.pathname === '/timeseries'
        ? timeseriesHandler
        : incidentsHandler;
  return invokeHttp(handler, { path: ref });
}

/** Every citation resolves to an existing item: metrics answer, incidents and traces exist. */
async function expectResolvable(citations: ChatAnswer['citations']) {
  const incidents = (await invokeHttp(incidentsHandler, { path: '/incidents?window=1440&source=all' })).json<{
    items: { id: string }[];
  }>();
  for (const c of citations) {
    if (c.kind === 'metric') {
      const res = await resolveMetric(c.ref);
      expect(res.statusCode, c.ref).toBe(200);
    } else if (c.kind === 'incident') {
      expect(incidents.items.map((i) => i.id)).toContain(c.ref);
    } else if (c.kind === 'trace') {
      expect(events.map((e) => e.id)).toContain(c.ref);
    } else if (c.kind === 'log') {
      const line = await invokeHttp(logsSearchHandler, { path: `/logs/${encodeURIComponent(c.ref)}` });
      expect(line.statusCode, c.ref).toBe(200);
    }
    expect(c.url).toMatch(/^\/\?tab=/);
  }
}

describe('GET /ai/metrics and /ai/summary', () => {
  it('gives per-endpoint figures equal to /status, the previous window, the worst minutes and incidents', async () => {
    const res = await invokeHttp(aiHandler, { path: '/ai/metrics?window=60' });
    expect(res.statusCode).toBe(200);
    const metrics = res.json<{
      endpoints: {
        endpoint: string;
        total: number;
        failed: number;
        p95Ms: number;
        previous: { total: number } | null;
      }[];
      worst: { t: number; reason: string; failed: number }[];
      incidents: { items: { kind: string; endpoints: string[]; start: number }[] };
      meta: { itemsRead: number };
    }>();
    const status = (await invokeHttp(statusHandler, { path: '/status?window=60&source=all' })).json<{
      endpoints: { endpoint: string; total: number; failed: number; latencyMs: { p95: number } }[];
    }>();
    expect(metrics.endpoints.map((e) => [e.endpoint, e.total, e.failed, e.p95Ms])).toEqual(
      status.endpoints.map((e) => [e.endpoint, e.total, e.failed, e.latencyMs.p95]),
    );
    const chat = metrics.endpoints.find((e) => e.endpoint === 'chat');
    expect(chat).toMatchObject({ total: 59, failed: 6, previous: { total: 41 } });
    expect(metrics.worst[0]).toMatchObject({ reason: 'failures', failed: 1 });
    expect(
      metrics.worst.filter((w) => w.reason === 'failures').every((w) => w.t >= at(10, 0) && w.t < at(10, 6)),
    ).toBe(true);
    expect(metrics.incidents.items).toContainEqual(
      expect.objectContaining({ kind: 'detected', endpoints: ['chat'] }),
    );
    expect(metrics.meta.itemsRead).toBeGreaterThan(0);
  });

  it('writes plain sentences, each citing evidence that resolves', async () => {
    const res = await invokeHttp(aiHandler, { path: '/ai/summary?window=60' });
    expect(res.statusCode).toBe(200);
    const summary = res.json<{
      text: string;
      sentences: { text: string; cites: string[] }[];
      evidence: ChatAnswer['citations'];
    }>();
    expect(summary.sentences.length).toBeGreaterThan(1);
    const ids = summary.evidence.map((e) => e.id);
    for (const sentence of summary.sentences) {
      expect(sentence.cites.length).toBeGreaterThan(0);
      for (const id of sentence.cites) expect(ids).toContain(id);
    }
    expect(summary.text).toMatch(/chat failed 6 of 59 calls/i);
    await expectResolvable(summary.evidence);
  });

  it('refuses a bad range with a problem naming the parameter', async () => {
    const res = await invokeHttp(aiHandler, { path: '/ai/metrics?window=soon' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ field: 'window' });
  });
});

describe('POST /ai/chat', () => {
  it('answers by code from evidence for the time the question names, citing the failing traces and the incident', async () => {
    const res = await ask({ question: 'Why did chat fail at 10:03?' });
    expect(res.statusCode).toBe(200);
    const answer = res.json<ChatAnswer>();
    expect(answer.mode).toBe('summary');
    expect(answer.evidenceWindow).toMatchObject({
      from: at(9, 33),
      to: at(10, 33),
      label: 'around 10:03 UTC',
    });
    const kinds = new Set(answer.citations.map((c) => c.kind));
    expect(kinds).toEqual(new Set(['metric', 'incident', 'trace', 'log']));
    const traceIds = answer.citations.filter((c) => c.kind === 'trace').map((c) => c.ref);
    // One from each of the two worst minutes (one failure each): the search reads no further.
    expect(traceIds.length).toBe(2);
    for (const id of traceIds) expect(failing.map((e) => e.id)).toContain(id);
    // Every [E#] in the text is a citation, and every citation is in the text.
    const cited = [...answer.answer.matchAll(/\[(E\d+)\]/g)].map((m) => m[1]);
    expect(new Set(cited)).toEqual(new Set(answer.citations.map((c) => c.id)));
    expect(answer.answer).toMatch(/rate_limited/);
    await expectResolvable(answer.citations);
    expect(answer.answer).toMatch(/rate_limit_exceeded/);
  });

  it.each([
    [{}, 'question'],
    [{ question: 'x'.repeat(501) }, 'question'],
    [{ question: 'why?', extra: 1 }, '(root)'],
    [{ question: 'why so slow?', window: 0 }, 'window'],
    [{ question: 'why so slow?', llm: 'yes' }, 'llm'],
    [{ question: 'why so slow?', filters: { source: 'martians' } }, 'filters.source'],
  ])('refuses %j naming %s', async (body, field) => {
    const res = await ask(body);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json<{ field: string }>().field).toBe(field);
  });

  it('with llm: true, the model writes from the evidence; its citations resolve, unknown ones are dropped, the call is recorded', async () => {
    const res = await ask({ question: 'Why did chat fail at 10:03? Compare [E99].', llm: true });
    const answer = res.json<ChatAnswer>();
    expect(answer.mode).toBe('llm');
    expect(answer.model).toBe('gpt-4o-mini');
    expect(answer.answer).toMatch(/^From the evidence:/);
    expect(answer.answer).not.toContain('E99');
    expect(answer.citations.length).toBeGreaterThan(0);
    expect(answer.notes).toContain('1 citation(s) of evidence that does not exist were removed.');
    expect(answer.usage?.inputTokens).toBeGreaterThan(0);
    expect(answer.usage?.costUsd).toBeGreaterThan(0);
    await expectResolvable(answer.citations);
    const request = sim.requests.findLast((r) => r.path === '/v1/responses');
    expect(request?.body).toMatchObject({ store: false, model: 'gpt-4o-mini' });
    const traces = (
      await invokeHttp(tracesHandler, { path: '/traces?source=ingest&endpoint=responses&window=60' })
    ).json<{
      items: TraceEvent[];
    }>();
    expect(traces.items.some((t) => t.attributes?.service === 'openai-status-chat' && t.ok)).toBe(true);
  });

  it('never puts a secret from the question into the prompt, and keeps the evidence within its budget', async () => {
    const key = `sk-proj-${'a1B2'.repeat(12)}`;
    const answer = (
      await ask({ question: `is chat failing? my key is ${key}`, llm: true })
    ).json<ChatAnswer>();
    expect(answer.mode).toBe('llm');
    const request = sim.requests.findLast((r) => r.path === '/v1/responses');
    const sent = JSON.stringify(request?.body);
    expect(sent).not.toContain(key);
    expect(sent).toContain('sk-[redacted]');
    expect(JSON.stringify(answer)).not.toContain(key);
    const input = (request?.body as { input: string } | undefined)?.input ?? '';
    expect(input.slice(input.indexOf('Evidence:')).length).toBeLessThanOrEqual(EVIDENCE_CHAR_BUDGET + 20);
  });

  it('falls back to the code answer, saying why, when the model call fails', async () => {
    sim.setFaults({ serverErrorRate: 1 });
    try {
      const answer = (await ask({ question: 'is chat slow?', llm: true })).json<ChatAnswer>();
      expect(answer.mode).toBe('summary');
      expect(answer.fallback?.reason).toMatch(/^The OpenAI call failed/);
      expect(answer.citations.length).toBeGreaterThan(0);
    } finally {
      sim.setFaults({ serverErrorRate: 0 });
    }
  });

  it('answers by code with the reason when ENABLE_AI=0', async () => {
    const restore = setEnv({ ENABLE_AI: '0' });
    try {
      const answer = (await ask({ question: 'is chat slow?', llm: true })).json<ChatAnswer>();
      expect(answer.mode).toBe('summary');
      expect(answer.fallback?.reason).toMatch(/ENABLE_AI=0/);
    } finally {
      restore();
    }
  });

  it('limits questions per minute per caller, with Retry-After', async () => {
    const restore = setEnv({ AI_CHAT_PER_MINUTE: '2' });
    const clock = new ManualClock(NOW + 3 * HOUR_MS + 10_000);
    const restoreLocal = useClock(clock);
    try {
      const headers = { 'x-api-key': 'caller-one-key' };
      expect((await ask({ question: 'how is chat?' }, headers)).statusCode).toBe(200);
      expect((await ask({ question: 'how is chat?' }, headers)).statusCode).toBe(200);
      const limited = await ask({ question: 'how is chat?' }, headers);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('20');
      // Another caller has its own budget; the next minute starts afresh.
      expect((await ask({ question: 'how is chat?' }, { 'x-api-key': 'caller-two-key' })).statusCode).toBe(
        200,
      );
      clock.advance(MINUTE_MS);
      expect((await ask({ question: 'how is chat?' }, headers)).statusCode).toBe(200);
    } finally {
      restoreLocal();
      restore();
    }
  });
});

function linesOf(text: string): ChatLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ChatLine);
}

describe('POST /ai/chat/stream', () => {
  const streamAsk = (body: unknown) =>
    invokeHttp(streamHandler, { method: 'POST', path: '/ai/chat/stream', body });

  it('streams the code answer as deltas, then exactly one done line with the same citations as /ai/chat', async () => {
    const body = { question: 'Why did chat fail at 10:03?' };
    const res = await streamAsk(body);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = linesOf(res.text);
    const done = lines.filter((l) => 'done' in l);
    expect(done).toHaveLength(1);
    expect(lines.at(-1)).toBe(done[0]);
    const deltas = lines.filter((l): l is { delta: string } => 'delta' in l);
    expect(deltas.length).toBeGreaterThan(1);
    const whole = (await ask(body)).json<ChatAnswer>();
    expect(deltas.map((d) => d.delta).join('')).toBe(whole.answer);
    expect((done[0] as { citations: unknown }).citations).toEqual(whole.citations);
  });

  it('opens the code answer from the status figures while the rest of the evidence is still read', async () => {
    const config = getConfig();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let searched = 0;
    // The log search (read with the buckets, incidents and examples, after the overview) waits until released.
    const findLogs: LogFinder = async () => {
      searched++;
      await held;
      return [];
    };
    const request = parseChatRequest({ question: 'Why did chat fail at 10:03?' });
    const lines = streamChat(request, { config, now: NOW, findLogs });
    const first = await lines.next();
    expect(searched).toBe(1);
    expect(first.value).toMatchObject({
      delta: expect.stringMatching(/^In around 10:03 UTC .* calls were made/),
    });
    release();
    const rest: ChatLine[] = [];
    for await (const line of lines) rest.push(line);
    const deltas = [first.value, ...rest].flatMap((l) => (l && 'delta' in l ? [l.delta] : []));
    expect(rest.some((l) => 'reset' in l)).toBe(false);
    // The same answer, word for word, as the one given at once with the same evidence.
    const whole = await answerChat(request, { config, now: NOW, findLogs: async () => [] });
    expect(deltas.join('')).toBe(whole.answer);
    expect(deltas.length).toBeGreaterThan(2);
    expect(rest.filter((l) => 'done' in l)).toHaveLength(1);
  });

  it('streams the model answer: the first delta is out before the call is complete and recorded', async () => {
    const route = matchRoute(ROUTES, 'POST', '/ai/chat/stream');
    const question = 'What went wrong with chat at 10:03?';
    const answer = await invokeHttpHandler(
      streamHandler,
      httpEvent({
        method: 'POST',
        path: '/ai/chat/stream',
        headers: { host: 'localhost', 'content-type': 'application/json' },
        body: JSON.stringify({ question, llm: true }),
        ...(route ? { route } : {}),
      }),
      lambdaContext('ai_stream', 60),
    );
    if (Buffer.isBuffer(answer.body)) throw new Error('buffered, not streamed');
    const recorded = async () =>
      (
        await invokeHttp(tracesHandler, {
          path: '/traces?source=ingest&endpoint=responses&window=60&limit=500',
        })
      )
        .json<{ items: TraceEvent[] }>()
        .items.filter((t) => t.streamed).length;
    const before = await recorded();
    const chunks = answer.body[Symbol.asyncIterator]();
    let text = '';
    while (!text.includes('\n')) text += Buffer.from((await chunks.next()).value as Buffer).toString('utf8');
    const first = JSON.parse(text.slice(0, text.indexOf('\n'))) as ChatLine;
    expect(first).toHaveProperty('delta');
    // The call is recorded when the model's stream has ended: not yet.
    expect(await recorded()).toBe(before);
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      text += Buffer.from(next.value as Buffer).toString('utf8');
    }
    const lines = linesOf(text);
    expect(lines.filter((l) => 'done' in l)).toHaveLength(1);
    expect(lines.at(-1)).toMatchObject({ done: true, mode: 'llm', model: 'gpt-4o-mini' });
    expect(await recorded()).toBe(before + 1);
  });

  it('withdraws streamed text and gives the code answer when the model cites nothing it was given', async () => {
    // The grounded simulator cites only what it sees; with every citation of the model unknown nothing remains.
    const filter = new CitationFilter(() => false);
    expect(filter.push('It broke [E1].') + filter.end()).toBe('It broke.');
    expect(filter.kept).toEqual([]);
  });

  it('refuses a bad body with problem+json before streaming', async () => {
    const res = await streamAsk({ question: '' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ field: 'question' });
  });

  it('through the gateway, a POST needs the body hash CloudFront signs for the Function URL', async () => {
    const gateway = await startTestGateway(async () => streamHandler);
    try {
      const body = JSON.stringify({ question: 'how is embeddings?' });
      const url = `${gateway.url}/ai/chat/stream`;
      const unsigned = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(unsigned.status).toBe(403);
      expect(await unsigned.json()).toMatchObject({ field: 'x-amz-content-sha256' });
      const signed = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
        },
        body,
      });
      expect(signed.status).toBe(200);
      const lines = linesOf(await signed.text());
      expect(lines.at(-1)).toMatchObject({ done: true, mode: 'summary' });
    } finally {
      await gateway.close();
    }
  });
});

describe('pieces', () => {
  it('keeps valid citations, drops unknown ones, also when a citation arrives in pieces', () => {
    const filter = new CitationFilter((id) => id === 'E1' || id === 'E2');
    const pieces = ['Chat failed [', 'E1', '] and [E', '9]. Slow [E2, E', '7] too', '.'];
    const out = pieces.map((p) => filter.push(p)).join('') + filter.end();
    expect(out).toBe('Chat failed [E1] and. Slow [E2] too.');
    expect(filter.kept).toEqual(['E1', 'E2']);
    expect(filter.dropped).toBe(2);
  });

  it('reads the range, endpoints and topics a question names', () => {
    const now = at(10, 40);
    expect(readQuestion('why did chat get slow at 14:00?', now, ['chat', 'embeddings'])).toEqual({
      range: {
        from: at(14, 0) - 24 * HOUR_MS - 30 * MINUTE_MS,
        to: at(14, 0) - 24 * HOUR_MS + 30 * MINUTE_MS,
        label: 'around 14:00 UTC',
      },
      endpoints: ['chat'],
      topics: ['latency'],
    });
    expect(
      readQuestion('errors in the last 2 hours for embedding calls?', now, ['chat', 'embeddings']),
    ).toMatchObject({
      range: { from: now - 2 * HOUR_MS, to: now },
      endpoints: ['embeddings'],
      topics: ['errors'],
    });
    expect(readQuestion('what did we spend yesterday?', now, [])).toMatchObject({
      range: { from: DAY_START - 24 * HOUR_MS, to: DAY_START - 1 },
      topics: ['cost'],
    });
    expect(readQuestion('how are things?', now, ['chat'])).toEqual({ endpoints: [], topics: [] });
  });

  it('sends a heartbeat while the source is silent, without racing a real clock', async () => {
    vi.useFakeTimers();
    try {
      let release: (value: IteratorResult<string>) => void = () => {};
      const source: AsyncIterator<string> = {
        next: () => new Promise((resolve) => (release = resolve)),
      };
      const lines = withHeartbeat(source, 1000, 'beat');
      const first = lines.next();
      await vi.advanceTimersByTimeAsync(1000);
      expect(await first).toEqual({ value: 'beat', done: false });
      const second = lines.next();
      release({ value: 'data', done: false });
      expect(await second).toEqual({ value: 'data', done: false });
    } finally {
      vi.useRealTimers();
    }
  });
});
