/**
 * The Synthetics tab in a real headless Chromium against the local stack:
 * draft a monitor from a sentence (rules drafter), see the API's validation
 * message for a bad edit, fix it, create it, run it now (the run itself
 * drives a second Chromium through the checking proxy), and see the steps,
 * the screenshot and the monitor's pass rate. The page under test is served
 * on loopback and allowed by EGRESS_ALLOW.
 *
 * Needs web/dist (`npm run build:web`; `npm test` builds it first).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from '../synthetics-site.js';
import { INGEST_KEY, type SeededStack, startSeededStack } from './seed.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DIST = join(resolve(import.meta.dirname, '../..'), 'web', 'dist', 'index.html');
const WAIT_MS = 60_000;

describe.skipIf(!existsSync(CHROMIUM) || !existsSync(DIST))('Synthetics tab', () => {
  let site: TestSite;
  let seeded: SeededStack;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    site = await startTestSite();
    seeded = await startSeededStack({ EGRESS_ALLOW: site.hostPort, CHROMIUM_PATH: CHROMIUM });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => errors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await seeded?.stop();
    await site?.close();
  }, 30_000);

  it('drafts, validates, creates and runs a monitor, and lists it with its pass rate', async () => {
    await page.goto(`${seeded.stack.gateway.url}/?tab=synthetics`);
    const create = page.getByTestId('create-synthetic');
    await create.getByLabel('API key').fill(INGEST_KEY);
    await create
      .getByLabel('What should the monitor do?')
      .fill(
        `Visit ${site.url}/, type shoes in the search box, press Enter, pass if Results for shoes appears`,
      );
    await create.getByLabel('Drafter').selectOption('rules');
    await create.getByRole('button', { name: 'Draft' }).click();
    await expect
      .poll(() => create.getByTestId('draft-notes').textContent(), { timeout: WAIT_MS })
      .toMatch(/Drafted by rules/);
    const specBox = create.getByLabel('Monitor spec (JSON)');
    const drafted = JSON.parse(await specBox.inputValue()) as { startUrl: string; steps: unknown[] };
    expect(drafted.startUrl).toBe(`${site.url}/`);
    expect(drafted.steps).toHaveLength(3);

    // A bad edit: the API's message names the field.
    await specBox.fill(JSON.stringify({ ...drafted, startUrl: 'file:///etc/passwd' }));
    await create.getByRole('button', { name: 'Create' }).click();
    await expect
      .poll(() => create.getByTestId('synthetic-problem').textContent(), { timeout: WAIT_MS })
      .toMatch(/body\.spec\.startUrl/);

    await specBox.fill(JSON.stringify({ ...drafted, name: 'Dashboard shop search' }, null, 2));
    await create.getByRole('button', { name: 'Create' }).click();
    await expect
      .poll(() => create.getByTestId('created-id').textContent(), { timeout: WAIT_MS })
      .toMatch(/Created m_/);

    const screenshot = page.waitForResponse((r) => r.url().includes('/synthetics/screenshots/'), {
      timeout: WAIT_MS,
    });
    await create.getByRole('button', { name: 'Run now' }).click();
    const result = create.getByTestId('synthetic-run');
    await result.waitFor({ timeout: WAIT_MS });
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await create.getByTestId('synthetic-steps').locator('tbody tr').count()).toBe(4);
    const image = await screenshot;
    expect(image.status()).toBe(200);
    expect(image.headers()['content-type']).toBe('image/jpeg');

    const monitor = page.getByTestId('synthetics-panel').getByTestId('synthetic-monitor');
    await expect
      .poll(() => monitor.first().textContent(), { timeout: WAIT_MS })
      .toMatch(/Dashboard shop search.*100% of the last 1 runs passed/);
    await page.screenshot({
      path: join(resolve(import.meta.dirname, '../..'), 'test-artifacts', 'synthetics-tab.png'),
    });
    expect(errors).toEqual([]);
  }, 180_000);
});
