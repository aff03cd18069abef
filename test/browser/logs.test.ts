/**
 * The Logs tab in headless Chromium against the local stack: lines ingested
 * over HTTP are found before indexing (full text), "Index now" behind the
 * ingest key indexes them, a search highlights the matched term and labels
 * its mode, the simulator starts and stops, and a hit opens the Traces tab.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_KEY, type SeededStack, startSeededStack } from './seed.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT_MS = 30_000;
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: WAIT_MS });

describe('Logs tab in headless Chromium', { timeout: 90_000 }, () => {
  let seeded: SeededStack;
  let browser: Browser;
  let page: Page;
  let base: string;
  const errors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    if (!existsSync(join(ROOT, 'web', 'dist', 'index.html'))) {
      const built = spawnSync('npx', ['vite', 'build', 'web', '--logLevel', 'warn'], { cwd: ROOT });
      if (built.status !== 0) throw new Error('vite build failed');
    }
    // The schedules stay out of the way: the test presses "Index now" and the simulator's switch itself.
    seeded = await startSeededStack({ EMB_INDEX_INTERVAL_MS: '86400000', LOG_SIM_INTERVAL_MS: '86400000' });
    base = seeded.stack.gateway.url;
    const now = Date.now();
    const lines = [
      {
        ts: now - 60_000,
        level: 'error',
        message:
          "OpenAI API error 400 context_length_exceeded: This model's maximum context length is 128000 tokens",
        endpoint: 'chat',
        model: 'gpt-4o-mini',
        traceId: '0123456789abcdef0123456789abcdef',
        requestId: 'req_browser000111222',
      },
      {
        ts: now - 50_000,
        level: 'info',
        message: 'POST /v1/chat/completions 200 in 412 ms',
        endpoint: 'chat',
      },
    ];
    // The call the first line belongs to, and one of another trace.
    const traced = await fetch(`${base}/ingest/trace`, {
      method: 'POST',
      headers: { 'x-api-key': INGEST_KEY, 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          id: 'browser-traced',
          ts: now - 61_000,
          endpoint: 'chat',
          model: 'gpt-4o-mini',
          ok: false,
          status: 400,
          latencyMs: 120,
          traceId: '0123456789abcdef0123456789abcdef',
        },
        {
          id: 'browser-other',
          ts: now - 62_000,
          endpoint: 'chat',
          model: 'gpt-4o-mini',
          ok: true,
          status: 200,
          latencyMs: 300,
          traceId: 'fedcba9876543210fedcba9876543210',
        },
      ]),
    });
    expect(traced.status).toBe(200);
    const answer = await fetch(`${base}/logs/ingest`, {
      method: 'POST',
      headers: { 'x-api-key': INGEST_KEY, 'content-type': 'application/json' },
      body: JSON.stringify(lines),
    });
    expect(answer.status).toBe(200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await seeded?.stop();
  }, 30_000);

  const search = async (text: string) => {
    await page.fill('[data-testid="log-query"]', text);
    await page.press('[data-testid="log-query"]', 'Enter');
  };

  it('searches, indexes behind the ingest key, highlights terms and opens the trace', async () => {
    await page.goto(`${base}/?tab=logs&range=1h`);
    await page.locator('[data-testid="index-backlog"]').getByText('2 lines').waitFor({ timeout: WAIT_MS });

    // Not indexed yet: found by full text.
    await search('context_length_exceeded');
    await poll(() => page.locator('[data-testid="log-hit"]').count()).toBe(1);
    await expect(page.locator('[data-testid="log-mode"]').textContent()).resolves.toContain('mode bm25');
    await expect(page.locator('[data-testid="log-hit"] mark').first().textContent()).resolves.toBe(
      'context_length_exceeded',
    );

    // The actions need the key.
    await expect(page.locator('[data-testid="index-now"]').isDisabled()).resolves.toBe(true);
    await page.fill('[data-testid="ingest-key"]', INGEST_KEY);
    await page.click('[data-testid="index-now"]');
    await poll(() => page.locator('[data-testid="logs-action-result"]').textContent()).toContain(
      'Indexed 2 lines',
    );
    await poll(() => page.locator('[data-testid="index-backlog"]').textContent()).toContain('0 lines');
    await search('req_browser000111222');
    await poll(() => page.locator('[data-testid="log-mode"]').textContent()).toContain('mode hybrid');
    await expect(page.locator('[data-testid="log-hit"]').first().getAttribute('data-id')).resolves.toMatch(
      /^\d{13}-/,
    );
    // The key stays in this browser only.
    await expect(page.evaluate(() => localStorage.getItem('ingestKey'))).resolves.toBe(INGEST_KEY);

    await page.click('text=Start simulator');
    await poll(() => page.locator('[data-testid="sim-state"]').textContent()).toContain('running');
    await page.click('text=Stop simulator');
    await poll(() => page.locator('[data-testid="sim-state"]').textContent()).toContain('stopped');
    await page.screenshot({ path: join(ARTIFACTS, 'logs.png'), fullPage: true });

    await search('context_length_exceeded');
    await page.locator('[data-testid="log-hit"] >> text=Open trace').first().click();
    await poll(() => new URL(page.url()).searchParams.get('tab')).toBe('traces');
    expect(new URL(page.url()).searchParams.get('traceId')).toBe('0123456789abcdef0123456789abcdef');
    // Exactly that trace's call, not its neighbours.
    await page.locator('[data-testid="trace-filter"]').waitFor({ timeout: WAIT_MS });
    await poll(() => page.locator('[data-testid="trace-row"]').count()).toBe(1);
    expect(errors).toEqual([]);
  });
});
