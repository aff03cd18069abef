/**
 * Synthetic monitors end to end on the local stack (dynalite, s3rver, the
 * simulator, Debian's Chromium) against a site served on an allowed loopback
 * port: drafts by both drafters, CRUD with its validation and auth, runs in
 * the browser (steps passing and failing, the retry, a screenshot stored and
 * fetchable by its short-lived link), the HTTP fallback, the run budget,
 * scheduled runs by the dispatcher on an injected clock, the runs listing,
 * and the runs as events in /status.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../infra/local/simulator.js';
import { HOUR_MS, MINUTE_MS } from '../../shared/store/keys.js';
import {
  invokeHttp,
  invokeScheduled,
  ManualClock,
  setEnv,
  startSimulator,
  useClock,
  useFreshStore,
} from '../../test/helpers.js';
import { startTestSite, type TestSite } from '../../test/synthetics-site.js';
import { handler as statusHandler } from '../status/handler.js';
import { handler as runHandler } from '../synthetic_run/handler.js';
import { handler as dispatchHandler } from '../synthetics_dispatch/handler.js';
import { handler } from './handler.js';

const KEY = 'test-ingest-key-0123';
const auth = { 'x-api-key': KEY };
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
// A fixed "now" a little into an hour (slot arithmetic below is exact).
const NOW = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS + 2 * MINUTE_MS;

let site: TestSite;
let simulator: Simulator;
const clock = new ManualClock(NOW);
let restoreClock: () => void;
let restoreEnv: () => void;

interface RunView {
  id: string;
  ok: boolean;
  statusText: string;
  runner: string;
  attempts: number;
  steps: { name: string; ok: boolean; ms: number; skipped?: boolean; error?: string }[];
  screenshot?: string;
  screenshots: string[];
  logs: string[];
  trigger: string;
  timing: { startMs: number; stepsMs: number; uploadMs: number };
}

const searchSpec = () => ({
  name: 'Shop search',
  startUrl: `${site.url}/`,
  steps: [
    { action: 'fill', target: { label: 'Search' }, value: 'shoes' },
    { action: 'press', key: 'Enter', target: { label: 'Search' } },
    { action: 'expectText', text: 'Results for shoes' },
  ],
});

async function create(spec: unknown): Promise<string> {
  const answer = await invokeHttp(handler, {
    method: 'POST',
    path: '/synthetics',
    headers: auth,
    body: { spec },
  });
  expect(answer.statusCode, answer.text).toBe(201);
  return answer.json<{ id: string }>().id;
}

async function run(id: string, query: Record<string, string> = {}) {
  return invokeHttp(runHandler, { method: 'POST', path: `/synthetics/${id}/run`, headers: auth, query });
}

beforeAll(async () => {
  site = await startTestSite();
  simulator = await startSimulator({ latency: 'none' });
  await useFreshStore();
  restoreEnv = setEnv({
    INGEST_API_KEY: KEY,
    EGRESS_ALLOW: site.hostPort,
    OPENAI_BASE_URL: simulator.url,
    CHROMIUM_PATH: CHROMIUM,
    SYNTHETIC_RUNS_PER_MINUTE: '50',
  });
  restoreClock = useClock(clock);
});

afterAll(async () => {
  restoreClock();
  restoreEnv();
  await Promise.all([site.close(), simulator.close()]);
});

describe('drafts', () => {
  it('drafts the common sentence by rules, and says so', async () => {
    const answer = await invokeHttp(handler, {
      method: 'POST',
      path: '/synthetics/draft',
      headers: auth,
      body: {
        prompt: `Visit ${site.url}/, type "shoes" in the search box, press Enter, pass if Results for shoes appears, every 5 minutes`,
        drafter: 'rules',
      },
    });
    expect(answer.statusCode, answer.text).toBe(200);
    const draft = answer.json<{ spec: Record<string, unknown>; source: string; notes: string[] }>();
    expect(draft.source).toBe('rules');
    expect(draft.notes[0]).toMatch(/Drafted by rules/);
    expect(draft.spec).toMatchObject({
      startUrl: `${site.url}/`,
      schedule: { everySec: 300 },
      steps: [
        { action: 'fill', target: { role: 'searchbox' }, value: 'shoes' },
        { action: 'press', key: 'Enter' },
        { action: 'expectText', text: 'Results for shoes' },
      ],
    });
  });

  it('drafts with the Responses API (the simulator, no key) and validates the result', async () => {
    const answer = await invokeHttp(handler, {
      method: 'POST',
      path: '/synthetics/draft',
      headers: auth,
      body: { prompt: `Check that ${site.url}/about loads`, drafter: 'openai' },
    });
    expect(answer.statusCode, answer.text).toBe(200);
    const draft = answer.json<{ spec: { startUrl: string; steps: unknown[] }; source: string }>();
    expect(draft.source).toBe('simulator');
    expect(draft.spec.startUrl).toBe(`${site.url}/about`);
    expect(simulator.requests.some((r) => r.path === '/v1/responses')).toBe(true);
  });

  it('answers a prompt without a URL with a 422 naming the prompt', async () => {
    const answer = await invokeHttp(handler, {
      method: 'POST',
      path: '/synthetics/draft',
      headers: auth,
      body: { prompt: 'make sure it works', drafter: 'rules' },
    });
    expect(answer.statusCode).toBe(422);
    expect(answer.json()).toMatchObject({ field: 'prompt' });
  });
});

describe('CRUD', () => {
  // Validation cases are built when the file loads, before the test site has a port.
  const valid = { name: 'Valid', startUrl: 'https://example.com/', steps: [] };

  it('creates, lists, reads, replaces and deletes; writes need the key', async () => {
    const unauthorised = await invokeHttp(handler, {
      method: 'POST',
      path: '/synthetics',
      body: { spec: searchSpec() },
    });
    expect(unauthorised.statusCode).toBe(401);

    const id = await create({ ...searchSpec(), name: 'CRUD monitor' });
    const list = await invokeHttp(handler, { path: '/synthetics' });
    expect(list.json<{ items: { id: string }[] }>().items.map((m) => m.id)).toContain(id);

    const one = await invokeHttp(handler, { path: `/synthetics/${id}` });
    expect(one.json()).toMatchObject({
      id,
      spec: { name: 'CRUD monitor', version: 1, retries: 1, schedule: 'off' },
    });

    const replaced = await invokeHttp(handler, {
      method: 'PUT',
      path: `/synthetics/${id}`,
      headers: auth,
      body: { spec: { ...searchSpec(), name: 'Renamed' } },
    });
    expect(replaced.json()).toMatchObject({ spec: { name: 'Renamed' } });

    const deleted = await invokeHttp(handler, { method: 'DELETE', path: `/synthetics/${id}`, headers: auth });
    expect(deleted.json()).toEqual({ id, deleted: true });
    expect((await invokeHttp(handler, { path: `/synthetics/${id}` })).statusCode).toBe(404);
  });

  it.each([
    [{ ...valid, startUrl: 'file:///etc/passwd' }, 'body.spec.startUrl'],
    [{ ...valid, steps: [{ action: 'evaluate', script: 'alert(1)' }] }, 'body.spec.steps.0.action'],
    [{ ...valid, steps: Array.from({ length: 26 }, () => ({ action: 'screenshot' })) }, 'body.spec.steps'],
    [
      { ...valid, steps: [{ action: 'fill', target: { css: 'input' }, value: { password: 'x' } }] },
      'body.spec.steps.0.value',
    ],
    [{ ...valid, schedule: { everySec: 10 } }, 'body.spec.schedule'],
  ])('refuses an invalid spec, naming the field (%#)', async (spec, field) => {
    const answer = await invokeHttp(handler, {
      method: 'POST',
      path: '/synthetics',
      headers: auth,
      body: { spec },
    });
    expect(answer.statusCode).toBe(400);
    expect(answer.json<{ field: string }>().field.startsWith(field), answer.text).toBe(true);
  });
});

describe.skipIf(!hasBrowser)('runs', () => {
  let passing: string;
  let failing: string;

  it('runs in the browser: steps pass, a screenshot is stored and fetchable by its link', async () => {
    passing = await create(searchSpec());
    const answer = await run(passing);
    expect(answer.statusCode, answer.text).toBe(200);
    const result = answer.json<RunView>();
    expect(result).toMatchObject({ ok: true, runner: 'browser', attempts: 1, trigger: 'manual' });
    expect(result.statusText).toMatch(/^passed: 4 steps by the browser runner/);
    expect(result.steps.map((s) => s.ok)).toEqual([true, true, true, true]);
    expect(result.screenshot).toMatch(
      /^\/synthetics\/screenshots\/m_[0-9a-f]{10}\.r_\w+\.0\.jpg\?exp=\d+&sig=/,
    );

    const image = await invokeHttp(handler, { path: result.screenshot as string });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/jpeg');

    const forged = await invokeHttp(handler, {
      path: (result.screenshot as string).replace(/sig=.{4}/, 'sig=AAAA'),
    });
    expect(forged.statusCode).toBe(403);
    clock.advance(16 * MINUTE_MS);
    const expired = await invokeHttp(handler, { path: result.screenshot as string });
    expect(expired.statusCode).toBe(403);
    expect(expired.json<{ detail: string }>().detail).toMatch(/expired/);
  }, 90_000);

  it('fails a step that does not hold, after one retry in a fresh browser', async () => {
    failing = await create({
      name: 'Shop is sold out',
      startUrl: `${site.url}/`,
      timeoutMs: 3000,
      steps: [{ action: 'expectText', text: 'Sold out', timeoutMs: 500 }],
    });
    const result = (await run(failing)).json<RunView>();
    expect(result).toMatchObject({ ok: false, attempts: 2, runner: 'browser' });
    expect(result.statusText).toBe(
      'failed after a retry: expect text "Sold out": text "Sold out" did not appear',
    );
    expect(result.steps.map((s) => [s.ok, s.skipped ?? false])).toEqual([
      [true, false],
      [false, false],
    ]);
    expect(result.logs[0]).toMatch(/^attempt 1 failed: /);
    expect(result.screenshots).toHaveLength(1);
  }, 90_000);

  it('does not retry a refused start URL, and says why', async () => {
    const id = await create({ name: 'Metadata', startUrl: 'http://169.254.169.254/latest/', steps: [] });
    const result = (await run(id)).json<RunView>();
    expect(result).toMatchObject({ ok: false, attempts: 1 });
    expect(result.statusText).toMatch(/Refused http:\/\/169\.254\.169\.254\/latest\/ .*metadata address/);
  }, 90_000);

  it('falls back to HTTP, skipping what needs a browser, and says which runner ran', async () => {
    const id = await create({
      name: 'Shop home',
      startUrl: `${site.url}/`,
      steps: [
        { action: 'fill', target: { label: 'Search' }, value: 'shoes' },
        { action: 'screenshot' },
        { action: 'expectTitle', title: 'Demo Shop', match: 'equals' },
      ],
    });
    const forced = (await run(id, { runner: 'http' })).json<RunView>();
    expect(forced).toMatchObject({ ok: true, runner: 'http', screenshots: [] });
    expect(forced.statusText).toBe('passed: 4 steps by the http runner (2 browser-only steps skipped)');
    expect(forced.steps.map((s) => [s.ok, s.skipped ?? false])).toEqual([
      [true, false],
      [true, true],
      [true, true],
      [true, false],
    ]);

    // No browser where CHROMIUM_PATH points: `auto` falls back by itself.
    const restore = setEnv({ CHROMIUM_PATH: '/nonexistent/chromium' });
    try {
      expect((await run(id)).json<RunView>()).toMatchObject({ ok: true, runner: 'http' });
    } finally {
      restore();
    }
  }, 90_000);

  it('lists runs newest first, one monitor or all, page by page', async () => {
    const all = await invokeHttp(handler, { path: '/synthetics/runs', query: { limit: 2 } });
    expect(all.statusCode, all.text).toBe(200);
    const first = all.json<{ items: (RunView & { ts: number })[]; cursor: string }>();
    expect(first.items).toHaveLength(2);
    expect(first.cursor).toBeTruthy();
    const next = await invokeHttp(handler, {
      path: '/synthetics/runs',
      query: { limit: 2, cursor: first.cursor },
    });
    const second = next.json<{ items: (RunView & { ts: number })[] }>();
    const ids = [...first.items, ...second.items].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);

    const one = await invokeHttp(handler, { path: '/synthetics/runs', query: { monitor: passing } });
    const runs = one.json<{ items: (RunView & { ts: number; monitorId: string })[] }>().items;
    expect(runs.every((r) => r.monitorId === passing)).toBe(true);
    expect(runs.map((r) => r.ts)).toEqual([...runs.map((r) => r.ts)].sort((a, b) => b - a));

    const bad = await invokeHttp(handler, { path: '/synthetics/runs', query: { cursor: 'nope' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ field: 'cursor' });
  });

  it('records every run as a synthetic event that /status counts', async () => {
    const answer = await invokeHttp(statusHandler, {
      path: '/status',
      query: { source: 'synthetic', window: 60 },
    });
    expect(answer.statusCode, answer.text).toBe(200);
    const body = answer.json<{ endpoints: { endpoint: string }[] }>();
    const byName = Object.fromEntries(body.endpoints.map((e) => [e.endpoint, e]));
    expect(Object.keys(byName).sort()).toEqual(['Metadata', 'Shop home', 'Shop is sold out', 'Shop search']);
    expect(byName['Shop search']).toMatchObject({ total: 1, ok: 1 });
    expect(byName['Shop is sold out']).toMatchObject({ total: 1, ok: 0 });
    expect(byName['Shop home']).toMatchObject({ total: 2, ok: 2 });
  });
});

describe.skipIf(!hasBrowser)('dispatcher', () => {
  it('runs each scheduled monitor once per slot, on the injected clock', async () => {
    const store = await useFreshStore();
    expect(store.tableName).toBeTruthy();
    clock.set(NOW);
    const every5 = await create({ ...searchSpec(), name: 'Every 5 min', schedule: { everySec: 300 } });
    await create({ ...searchSpec(), name: 'Manual only' });

    const tick = (time: number) =>
      invokeScheduled(dispatchHandler, { functionName: 'synthetics_dispatch', time });
    const slot = Math.floor(NOW / 300_000) * 300_000;
    clock.set(slot + 60_000);
    expect(await tick(slot + 60_000)).toEqual({ ran: [every5], deferred: [], failed: [] });
    clock.set(slot + 120_000);
    expect(await tick(slot + 120_000)).toEqual({ ran: [], deferred: [], failed: [] });
    clock.set(slot + 300_000);
    expect(await tick(slot + 300_000)).toEqual({ ran: [every5], deferred: [], failed: [] });

    const runs = (await invokeHttp(handler, { path: '/synthetics/runs', query: { monitor: every5 } })).json<{
      items: RunView[];
    }>().items;
    expect(runs.map((r) => r.trigger)).toEqual(['schedule', 'schedule']);
  }, 120_000);

  it('stops runs past SYNTHETIC_RUNS_PER_MINUTE with a 429', async () => {
    const restore = setEnv({ SYNTHETIC_RUNS_PER_MINUTE: '1' });
    try {
      clock.set(NOW + 30 * MINUTE_MS);
      const id = await create({ ...searchSpec(), name: 'Budget' });
      expect((await run(id, { runner: 'http' })).statusCode).toBe(200);
      const refused = await run(id, { runner: 'http' });
      expect(refused.statusCode).toBe(429);
      expect(refused.json<{ detail: string }>().detail).toMatch(/SYNTHETIC_RUNS_PER_MINUTE/);
    } finally {
      restore();
    }
  }, 60_000);
});
