/**
 * The dashboard for every visitor, in a real headless Chromium against the
 * seeded local stack (24 h of data): axe-core finds no violation on any tab in
 * the light and dark themes at 1280 and 360 px; loading a tab shifts nothing
 * (cumulative layout shift from the browser's own `layout-shift` entries; an
 * alert is firing, so the Status tab's banner arrives during the load); and
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
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, DASHBOARD_TABS, openSeededDashboard, type SeededDashboard } from './dashboard-setup.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'web', 'dist', 'index.html');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WAIT_MS = 30_000;
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: WAIT_MS });

const TABS = DASHBOARD_TABS;
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

interface Ring {
  style: string;
  width: number;
  offset: number;
  color: string;
  /** The focused element's own background (the ring inside it is drawn on it). */
  background: string;
  /** The background behind the element (the ring outside it is drawn on it). */
  pageBackground: string;
}

/** The focus ring of the focused element, and the backgrounds it is drawn against. */
async function ring(page: Page): Promise<Ring> {
  return (await page.evaluate(`(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const opaque = (node) => {
      for (let n = node; n; n = n.parentElement) {
        const bg = getComputedStyle(n).backgroundColor;
        if (bg && !bg.endsWith(', 0)') && bg !== 'transparent') return bg;
      }
      return getComputedStyle(document.body).backgroundColor;
    };
    return {
      style: style.outlineStyle,
      width: parseFloat(style.outlineWidth),
      offset: parseFloat(style.outlineOffset),
      color: style.outlineColor,
      background: opaque(el),
      pageBackground: opaque(el.parentElement),
    };
  })()`)) as Ring;
}

/** WCAG contrast ratio of two computed colours (rgb()/rgba() strings, opaque enough to judge). */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = (color.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** Waits until the tab's content is in: no loading state left, the network quiet. */
async function settled(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle');
  await poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
}

describe.skipIf(!existsSync(CHROMIUM) || !existsSync(DIST))(
  'dashboard accessibility',
  { timeout: 240_000 },
  () => {
    let dashboard: SeededDashboard;
    let base: string;
    const errors: string[] = [];

    beforeAll(async () => {
      // An alert firing: the Status tab's banner is on every load, inside the layout-shift and axe checks.
      dashboard = await openSeededDashboard({ firingAlert: true });
      base = dashboard.base;
      // Seeding 24 h for ten endpoints is a minute or two of work on a busy machine: this only bounds a hang.
    }, 300_000);

    afterAll(async () => {
      await dashboard?.close();
    }, 30_000);

    async function open(width: number, colorScheme: 'light' | 'dark'): Promise<[BrowserContext, Page]> {
      const context = await dashboard.browser.newContext({
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
            // The seeded alert's banner has arrived (after the figures), so its arrival is in the measure.
            if (tab === 'status') await page.locator('[data-testid="firing-alerts"]').waitFor();
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

    it('keyboard: visible focus on the selected range and tab in both themes, the traces table is one Tab stop, focus returns to the row when its detail closes', async () => {
      const [context, page] = await open(1280, 'light');
      try {
        await page.goto(`${base}/?tab=traces&range=24h`);
        await page.locator('[data-testid="trace-row"]').first().waitFor();

        // The skip link is the first Tab stop and lands in the main region.
        await page.keyboard.press('Tab');
        expect(await page.evaluate('document.activeElement.className')).toContain('skip-link');
        await page.keyboard.press('Enter');
        expect(await page.evaluate('document.activeElement.id')).toBe('main');

        // The selected tab and the selected range button, reached by keyboard, show a ring that stands
        // out from what is around it (3:1, WCAG 1.4.11) and is not clipped (inside the tab, outside the fill).
        await page.focus('#tab-traces');
        await page.keyboard.press('ArrowLeft');
        await page.keyboard.press('ArrowRight');
        await poll(() => page.evaluate('document.activeElement.id')).toBe('tab-traces');
        const tabRing = await ring(page);
        await page.focus('button[data-range="24h"]');
        await page.keyboard.press('Shift+Tab');
        await page.keyboard.press('Tab');
        expect(await page.evaluate('document.activeElement.dataset.range')).toBe('24h');
        const segRing = await ring(page);
        for (const theme of ['light', 'dark'] as const) {
          await page.evaluate(`document.documentElement.dataset.theme = '${theme}'`);
          await page.focus('#tab-traces');
          const tab = await ring(page);
          expect(tab.style).toBe('solid');
          // Drawn inside the button: the scrolling strip cannot clip it.
          expect(tab.offset + tab.width).toBeLessThanOrEqual(0);
          expect(contrast(tab.color, tab.background)).toBeGreaterThanOrEqual(3);
          await page.focus('button[data-range="24h"]');
          const seg = await ring(page);
          expect(seg.style).toBe('solid');
          // Outside the button, on the page: never a blue ring on the blue fill of the selected range.
          expect(seg.offset).toBeGreaterThanOrEqual(0);
          expect(contrast(seg.color, seg.pageBackground)).toBeGreaterThanOrEqual(3);
        }
        expect(tabRing.width).toBeGreaterThanOrEqual(2);
        expect(segRing.width).toBeGreaterThanOrEqual(2);
        await page.evaluate(`document.documentElement.dataset.theme = 'light'`);

        // The table is one Tab stop: arrows move between calls, Tab leaves the table.
        const first = page.locator('[data-testid="trace-row"] .row-open').first();
        await first.focus();
        const firstId = await page.evaluate('document.activeElement.closest("tr").dataset.id');
        await page.keyboard.press('ArrowDown');
        await page.keyboard.press('ArrowDown');
        const thirdId = (await page.evaluate('document.activeElement.closest("tr").dataset.id')) as string;
        const ids = await page
          .locator('[data-testid="trace-row"]')
          .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
        expect(ids.indexOf(thirdId)).toBe(2);
        expect(thirdId).not.toBe(firstId);
        await page.keyboard.press('Tab');
        expect(await page.evaluate('!!document.activeElement.closest("table")')).toBe(false);
        await page.keyboard.press('Shift+Tab');
        expect(await page.evaluate('document.activeElement.closest("tr").dataset.id')).toBe(thirdId);

        // Enter opens the call; the detail takes focus; Escape closes it and focus is back on the row.
        await page.keyboard.press('Enter');
        const detail = page.locator('[data-testid="trace-detail"]');
        await detail.waitFor();
        await poll(() => page.evaluate('document.activeElement.dataset.testid')).toBe('trace-detail');
        await page.keyboard.press('Escape');
        await poll(() => detail.count()).toBe(0);
        await poll(() => page.evaluate('document.activeElement.closest("tr")?.dataset.id ?? null')).toBe(
          thirdId,
        );
        // The close button does the same.
        await page.keyboard.press('Enter');
        await detail.waitFor();
        await page.click('[aria-label="Close the call detail"]');
        await poll(() => page.evaluate('document.activeElement.closest("tr")?.dataset.id ?? null')).toBe(
          thirdId,
        );
      } finally {
        await context.close();
      }
    });

    it('phone: every tab in view, a table that scrolls sideways is a labelled Tab stop, the histogram labels inside their panel', async () => {
      const [context, page] = await open(360, 'light');
      try {
        await page.goto(`${base}/?tab=slo&range=24h`);
        await page.locator('[data-testid="slo-row"]').first().waitFor();
        // No tab hidden past the edge of the strip.
        const outside = await page.locator('[role="tab"]').evaluateAll(
          (tabs) =>
            tabs.filter((t) => {
              const r = t.getBoundingClientRect();
              return r.left < 0 || r.right > 360 || r.width === 0;
            }).length,
        );
        expect(outside).toBe(0);
        // The SLO table is wider than a phone: its box scrolls, is focusable and named.
        const box = page.locator('[data-testid="slo-endpoints"] .table-wrap');
        await poll(() => box.getAttribute('tabindex')).toBe('0');
        expect(await box.getAttribute('aria-label')).toBeTruthy();
        expect(await box.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
        await box.focus();
        await page.keyboard.press('ArrowRight');
        await poll(() => box.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);

        await page.goto(`${base}/?tab=traces&range=24h`);
        const histogram = page.locator('[data-testid="latency-histogram"]');
        await histogram.waitFor();
        const panel = await page.locator('[data-testid="histogram-panel"]').boundingBox();
        const labels = await histogram.locator('.histo-mark span').evaluateAll((spans) =>
          spans.map((s) => {
            const r = s.getBoundingClientRect();
            return [r.left, r.right];
          }),
        );
        expect(labels.length).toBeGreaterThan(0);
        for (const [left, right] of labels) {
          expect(left).toBeGreaterThanOrEqual(panel?.x ?? 0);
          expect(right).toBeLessThanOrEqual((panel?.x ?? 0) + (panel?.width ?? 0));
        }
        // Text is at least 12 px everywhere on the page.
        const smallest = (await page.evaluate(
          `Math.min(...[...document.querySelectorAll('body *')].filter((e) => e.childNodes.length && [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())).filter((e) => e.getClientRects().length && !e.closest('.visually-hidden')).map((e) => parseFloat(getComputedStyle(e).fontSize)))`,
        )) as number;
        expect(smallest).toBeGreaterThanOrEqual(12);
      } finally {
        await context.close();
      }
    });

    it('logged no page errors', () => {
      expect(errors).toEqual([]);
    });
  },
);
