/**
 * The write path's guarantee, through the HTTP surface of the ingest routes:
 * after any answer, and after any failure followed by retries, the rollups
 * count exactly the stored events, each id once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_LEASE_MS } from '../../shared/store/item-layout.js';
import {
  checkConsistency,
  type FaultInjector,
  type FaultMode,
  injectStoreFaults,
} from '../../test/faults.js';
import { invokeHttp, ManualClock, setEnv, useClock, useFreshStore } from '../../test/helpers.js';
import { handler } from './handler.js';

const KEY = 'exactness-test-key';
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const clock = new ManualClock(NOW);

let restoreEnv: () => void;
let restoreClock: () => void;
let tableName: string;
beforeAll(async () => {
  ({ tableName } = await useFreshStore());
  restoreEnv = setEnv({ INGEST_API_KEY: KEY });
  restoreClock = useClock(clock);
});
afterAll(() => {
  restoreClock();
  restoreEnv();
});

const post = async (body: unknown, options: { path?: string; headers?: Record<string, string> } = {}) => {
  const res = await invokeHttp(handler, {
    method: 'POST',
    path: options.path ?? '/ingest/trace',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'x-api-key': KEY, 'content-type': 'application/json', ...(options.headers ?? {}) },
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>(), headers: res.headers };
};

/** Six traces over two label sets and two minutes, unique to `tag`. */
const batchOf = (tag: string, base = clock.now() - 10 * 60_000) =>
  Array.from({ length: 6 }, (_, i) => ({
    id: `${tag}-${i}`,
    ts: base + i * 20_000,
    endpoint: i % 2 ? 'chat' : 'embeddings',
    model: 'gpt-4o-mini',
    ok: i !== 3,
    ...(i === 3 ? { status: 500 } : {}),
    latencyMs: 100 + i * 37,
  }));

async function expectExact(expectedVisible?: number) {
  const state = await checkConsistency(tableName);
  expect(state.mismatches).toEqual([]);
  expect(state.minuteTotal).toBe(state.visible);
  expect(state.hourTotal).toBe(state.visible);
  if (expectedVisible !== undefined) expect(state.visible).toBe(expectedVisible);
  return state;
}

/**
 * Sends until a 200, the way a client that retries does. A claim held by a
 * writer that died is free once its lease is over: the clock moves past it.
 */
async function sendUntilAccepted(body: unknown, headers: Record<string, string> = {}, path?: string) {
  for (let attempt = 0; attempt < 6; attempt++) {
    const answer = await post(body, { headers, ...(path ? { path } : {}) });
    if (answer.status === 200) return answer;
    expect([409, 500, 503]).toContain(answer.status);
    clock.advance(WRITE_LEASE_MS + 1000);
  }
  throw new Error('never accepted');
}

describe('items that pass validation but used to break a batch', () => {
  it('refuses each unusual item on its own, stores the others, and counts exactly', async () => {
    const before = (await expectExact()).visible;
    const ts = clock.now() - 60_000;
    // Raw JSON: `__proto__` must reach the server as an own key, as a client would send it.
    const body = `[
      {"id":"poison-ok-1","ts":${ts},"endpoint":"chat","ok":true,"latencyMs":10},
      {"id":"poison-proto","ts":${ts},"endpoint":"chat","ok":true,"latencyMs":10,"attributes":{"__proto__":"x"}},
      {"id":"poison-ctor","ts":${ts},"endpoint":"chat","ok":true,"latencyMs":10,"attributes":{"constructor":"x","toString":"y"}},
      {"id":"poison-long","ts":${ts},"endpoint":"${'\u{1F600}'.repeat(60)}","ok":true,"latencyMs":10},
      {"id":"poison-surrogate","ts":${ts},"endpoint":"ch\\ud800at","ok":true,"latencyMs":10,"attributes":{"k":"v\\udc00"}},
      {"id":"poison-ok-2","ts":${ts},"endpoint":"chat","ok":true,"latencyMs":10}
    ]`;
    const answer = await post(body);
    expect(answer.status).toBe(200);
    expect(answer.body.accepted).toBe(3);
    expect(answer.body.rejected).toEqual([
      { index: 1, field: 'attributes.__proto__', reason: '"__proto__" is a reserved name' },
      { index: 2, field: 'attributes.constructor', reason: '"constructor" is a reserved name' },
      { index: 3, field: 'endpoint', reason: expect.stringContaining('too long once encoded') },
    ]);
    // The lone surrogates were replaced, not refused: the item is stored and counted like any other.
    await expectExact(before + 3);
    // A resend counts nothing again.
    const again = await post(body, { headers: { 'idempotency-key': 'poison-resend' } });
    expect(again.body).toMatchObject({ accepted: 3, duplicates: 3 });
    await expectExact(before + 3);
  });

  it('holds OTLP spans to the same limits, rejecting them as partial success', async () => {
    const before = (await expectExact()).visible;
    const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n);
    const start = clock.now() - 30_000;
    const span = (n: number, startMs: number, endMs: number, extra: object[] = []) => ({
      traceId: n.toString(16).padStart(32, '0'),
      spanId: n.toString(16).padStart(16, '0'),
      name: 'chat gpt-4o-mini',
      startTimeUnixNano: nanos(startMs),
      endTimeUnixNano: nanos(endMs),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
        ...extra,
      ],
    });
    const body = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                span(1, start, start + 250),
                // Years ago, years long, years ahead, and a token count past any real call.
                span(2, start - 3 * 365 * 86_400_000, start - 3 * 365 * 86_400_000 + 100),
                span(3, start - 2 * 365 * 86_400_000, start - 2 * 365 * 86_400_000 + 3 * 86_400_000),
                span(4, start + 400 * 86_400_000, start + 400 * 86_400_000 + 100),
                span(5, start, start + 100, [
                  { key: 'gen_ai.usage.input_tokens', value: { intValue: '99999999999999999999999' } },
                ]),
                span(6, start, start + 2 * 3_600_000),
                // Attribute keys that name Object.prototype members are plain data here.
                span(7, start, start + 80, [
                  { key: '__proto__', value: { arrayValue: { values: [{ stringValue: 'x' }] } } },
                  { key: 'constructor', value: { stringValue: 'y' } },
                  { key: 'gen_ai.usage.input_tokens', value: { intValue: '12' } },
                ]),
              ],
            },
          ],
        },
      ],
    };
    const answer = await post(body, { path: '/v1/traces' });
    expect(answer.status).toBe(200);
    const partial = answer.body.partialSuccess as { rejectedSpans: number; errorMessage: string };
    expect(partial.rejectedSpans).toBe(5);
    expect(partial.errorMessage).toContain('ts: older than the retention');
    expect(partial.errorMessage).toContain('ts: more than 5 minutes in the future');
    expect(partial.errorMessage).toContain('usage.input: must be a whole number');
    expect(partial.errorMessage).toContain('latencyMs: must be at most 1 hour');
    await expectExact(before + 2);
  });
});

describe('the same items sent concurrently under different idempotency keys', () => {
  it('stores and counts each item once; a request that finds them in flight is told to retry', async () => {
    const before = (await expectExact()).visible;
    const items = Array.from({ length: 40 }, (_, i) => ({
      id: `race-${i}`,
      ts: clock.now() - 5 * 60_000 + i * 1000,
      endpoint: i % 3 ? 'chat' : 'responses',
      ok: i % 7 !== 0,
      ...(i % 7 === 0 ? { status: 429 } : {}),
      latencyMs: 50 + i,
    }));
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => post(items, { headers: { 'idempotency-key': `race-key-${i}` } })),
    );
    for (const answer of answers) expect([200, 503]).toContain(answer.status);
    // Every 503 is retried, as a client does, until it is a 200.
    for (const [i, answer] of answers.entries()) {
      if (answer.status === 503) {
        expect(answer.headers['retry-after']).toBe('2');
        await sendUntilAccepted(items, { 'idempotency-key': `race-key-${i}-retry` });
      }
    }
    await expectExact(before + items.length);
  });
});

describe('store failures between any two writes', () => {
  let faults: FaultInjector | undefined;
  afterEach(() => faults?.remove());

  const modes: FaultMode[] = ['lost-request', 'lost-answer', 'crash'];
  it.each(modes)(
    '%s at every write: a 500 changed nothing visible, and retries count each item once',
    async (mode) => {
      // The fault goes at write 1, 2, … until a batch ends before reaching it. A batch's write count is
      // not fixed: a rollup update refused because its item holds a later call takes a second write.
      let at = 1;
      for (; ; at++) {
        const before = (await expectExact()).visible;
        const body = batchOf(`${mode}-${at}`);
        faults = injectStoreFaults();
        faults.failAt(at, mode);
        const first = await post(body);
        const fired = faults.fired;
        faults.heal();
        if (!fired) {
          // Fewer writes than `at`, idempotency included: the batch went through whole.
          expect(first.status).toBe(200);
          expect(first.body.accepted).toBe(6);
          faults.remove();
          faults = undefined;
          await expectExact(before + 6);
          break;
        }
        if (first.status === 200) {
          // Only a marker clean-up failed: the answer stands and the counts are exact.
          expect(first.body.accepted).toBe(6);
        } else {
          expect(first.status).toBe(500);
        }
        // Right after the answer the visible events and the rollups agree, and a 500 left nothing
        // visible. After a crash nothing could be undone: the pending events wait for the retry.
        if (mode !== 'crash') {
          const after = await expectExact();
          if (first.status === 500) expect(after.visible).toBe(before);
        }
        faults.remove();
        faults = undefined;
        await sendUntilAccepted(body);
        const state = await expectExact(before + 6);
        expect(state.pending).toBe(0);
      }
      // Every write of a batch failed once: idempotency, claims, rollup updates, commit, clean-ups.
      expect(at).toBeGreaterThan(8);
    },
    // One batch per write of the batch (a dozen or more), each sent, checked and retried: on a loaded
    // 2-core machine that is more than the default 20 s of work, though no step waits on a clock.
    60_000,
  );
});
