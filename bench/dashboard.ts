/**
 * The dashboard as a visitor gets it: Lighthouse (desktop and mobile presets)
 * on the Status and Traces tabs with 24 h of data (the browser tests' seed,
 * ten endpoints), driving the system's Chromium; then the JavaScript each tab
 * loads for its first paint (every tab, opened directly by its URL), raw and
 * gzipped, and each tab's cumulative layout shift during that load at 1280 and
 * 360 px.
 *
 * Lighthouse's mobile preset simulates a mid-range phone on a slow 4G link
 * (its Performance score is computed from that simulation, so it depends less
 * on this machine's load than the wall-clock figures do); still, the load
 * average is printed beside the figures.
 *
 * Run: npx tsx bench/dashboard.ts   (builds web/dist first if it is missing)
 *      TABS=traces npx tsx bench/dashboard.ts   (every part on those tabs only)
 *      TABS=traces LIGHTHOUSE=0 TRACE_RUNS=7 npx tsx bench/dashboard.ts   (the traced loads only)
 */
import { gzipSync } from 'node:zlib';
import lighthouse, { desktopConfig } from 'lighthouse';
import type { Browser } from 'playwright-core';
import { DASHBOARD_TABS, openSeededDashboard } from '../test/browser/dashboard-setup.js';
import { buildDashboardIfMissing, freePort, load } from './dashboard-common.js';

// TABS=traces (comma-separated) narrows every part of the run to those tabs, to iterate faster.
const only = process.env.TABS?.split(',').filter(Boolean);
const TABS = only ? DASHBOARD_TABS.filter((tab) => only.includes(tab)) : DASHBOARD_TABS;
const LIGHTHOUSE_TABS = ['status', 'traces'].filter((tab) => !only || only.includes(tab));
buildDashboardIfMissing();

type Table = { items?: Record<string, unknown>[] };
const items = (lhr: { audits: Record<string, { details?: unknown }> }, id: string) =>
  (lhr.audits[id]?.details as Table | undefined)?.items ?? [];
const msText = (value: unknown) => `${Math.round(Number(value ?? 0))}`;
const fileOf = (url: unknown) =>
  String(url ?? '')
    .split('/')
    .pop() || String(url);

/**
 * What the main thread did during one Lighthouse load, in figures that explain the TBT: the long
 * tasks (count, the biggest, their scripts), the work by category, the script boot per file, and
 * the request count.
 */
function mainThreadDiagnostics(
  name: string,
  lhr: { audits: Record<string, { details?: unknown; numericValue?: number }> },
  requestCount: number,
): string {
  const tasks = items(lhr, 'long-tasks');
  // The audit's table stops at 20 rows; its debug data lists every long task.
  const allTasks =
    (lhr.audits['long-tasks']?.details as { debugData?: { tasks?: { duration: number }[] } } | undefined)
      ?.debugData?.tasks ?? tasks;
  const blocking = allTasks.reduce((sum, t) => sum + Math.max(0, Number(t.duration) - 50), 0);
  const biggest = tasks
    .slice(0, 5)
    .map((t) => `${msText(t.duration)} (${fileOf(t.url)})`)
    .join(', ');
  const work = items(lhr, 'mainthread-work-breakdown')
    .map((w) => `${w.group} ${msText(w.duration)}`)
    .join(', ');
  const boot = items(lhr, 'bootup-time')
    .map((b) => `${fileOf(b.url)} ${msText(b.scripting)}+${msText(b.scriptParseCompile)}`)
    .join(', ');
  return [
    `${name}: ${requestCount} requests; ${allTasks.length} long tasks (${msText(blocking)} ms over 50 ms each)${biggest ? `, biggest ms: ${biggest}` : ''}`,
    `    main thread ms (${msText(lhr.audits['mainthread-work-breakdown']?.numericValue)} in all): ${work}`,
    `    script boot ms (eval+parse): ${boot || 'none over the audit’s threshold'}`,
  ].join('\n');
}

/** One event of a Chromium trace (the fields read here). */
type TraceEvent = {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
};

/**
 * One load of a tab, unthrottled, under a Chromium trace: the renderer main thread's tasks in CPU time (how many
 * would be long at the mobile preset's 4× CPU slowdown, i.e. over 12.5 ms here, and the blocking time
 * they would add there), the renderer's own script / style / layout totals (CDP `Performance`
 * metrics) and the DOM size once the tab is idle.
 */
async function tracedLoad(browser: Browser, url: string) {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await browser.startTracing(page, {
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'],
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  // Idle slices (requestIdleCallback) may still run after the network is quiet.
  await page.evaluate('new Promise((done) => requestIdleCallback(() => setTimeout(done, 300)))');
  const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] };
  const { metrics } = (await cdp.send('Performance.getMetrics')) as {
    metrics: { name: string; value: number }[];
  };
  const metric = (name: string) => (metrics.find((m) => m.name === name)?.value ?? 0) * 1000;
  const domNodes = (await page.evaluate('document.getElementsByTagName("*").length')) as number;
  await page.close();
  const mains = trace.traceEvents.filter(
    (e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain',
  );
  // The page's renderer main thread is the one that ran the most tasks.
  const tasksOf = (m: TraceEvent) =>
    trace.traceEvents.filter(
      (e) => e.pid === m.pid && e.tid === m.tid && e.name === 'RunTask' && e.ph === 'X',
    );
  const tasks = mains.map(tasksOf).sort((a, b) => b.length - a.length)[0] ?? [];
  // Thread time (tdur), not wall time: the time the task ran on a CPU, which the machine's load
  // stretches much less than its wall time (a task waiting for a CPU still counts in `dur`).
  const durations = tasks.map((t) => (t.tdur ?? t.dur ?? 0) / 1000).sort((a, b) => b - a);
  return {
    taskMs: durations.reduce((a, b) => a + b, 0),
    longAtMobile: durations.filter((d) => d > 12.5).length,
    blockingAtMobile: durations.reduce((sum, d) => sum + Math.max(0, 4 * d - 50), 0),
    biggest: durations.slice(0, 3),
    scriptMs: metric('ScriptDuration'),
    styleMs: metric('RecalcStyleDuration'),
    layoutMs: metric('LayoutDuration'),
    domNodes,
  };
}

const port = await freePort();
const dashboard = await openSeededDashboard({ debuggingPort: port });
const { base, browser } = dashboard;
console.log(`seeded ${dashboard.seeded.events} events (24 h, 10 endpoints); load average ${load()}\n`);

try {
  // Warm the functions once (a Lambda's cold start is not the dashboard's to measure).
  const warm = await browser.newPage();
  for (const tab of LIGHTHOUSE_TABS)
    await warm.goto(`${base}/?tab=${tab}&range=24h`, { waitUntil: 'networkidle' });
  await warm.close();

  // TRACE_RUNS loads of each Lighthouse tab under a Chromium trace (the median run by task time is printed).
  const traceRuns = Number(process.env.TRACE_RUNS ?? 5);
  if (traceRuns > 0) {
    console.log(
      `Main thread of one load, unthrottled (Chromium trace, tasks’ CPU time, median of ${traceRuns} by task ms; “long at 4×”: tasks over 12.5 ms, which the mobile preset’s 4× slowdown makes long, and the blocking time they would add)`,
    );
    console.log(
      'tab       task ms  long at 4×  TBT at 4×  biggest tasks ms      script  style  layout  DOM nodes',
    );
    for (const tab of LIGHTHOUSE_TABS) {
      const runs = [];
      for (let i = 0; i < traceRuns; i++)
        runs.push(await tracedLoad(browser, `${base}/?tab=${tab}&range=24h`));
      runs.sort((a, b) => a.taskMs - b.taskMs);
      const r = runs[Math.floor(runs.length / 2)];
      if (!r) continue;
      console.log(
        `${tab.padEnd(8)} ${msText(r.taskMs).padStart(8)}  ${String(r.longAtMobile).padStart(10)}  ${msText(
          r.blockingAtMobile,
        ).padStart(
          9,
        )}  ${r.biggest.map(msText).join(', ').padEnd(20)}  ${msText(r.scriptMs).padStart(6)}  ${msText(
          r.styleMs,
        ).padStart(5)}  ${msText(r.layoutMs).padStart(6)}  ${String(r.domNodes).padStart(9)}`,
      );
    }
    console.log(`load average ${load()}\n`);
  }
  // LIGHTHOUSE=0 stops after the traced loads (the fast loop while changing the dashboard).
  if (process.env.LIGHTHOUSE === '0') {
    await dashboard.close();
    process.exit(0);
  }

  console.log('Lighthouse (performance and accessibility scores; metrics from the preset’s simulation)');
  console.log('tab      preset   perf  a11y   FCP     LCP     TBT    CLS     script requests  script bytes');
  const diagnostics: string[] = [];
  for (const tab of LIGHTHOUSE_TABS) {
    for (const preset of ['desktop', 'mobile'] as const) {
      const result = await lighthouse(
        `${base}/?tab=${tab}&range=24h`,
        { port, output: 'json', logLevel: 'error', onlyCategories: ['performance', 'accessibility'] },
        preset === 'desktop' ? desktopConfig : undefined,
      );
      if (!result) throw new Error('Lighthouse gave no result');
      const { lhr } = result;
      const score = (id: string) => Math.round((lhr.categories[id]?.score ?? 0) * 100);
      const metric = (id: string) => lhr.audits[id]?.displayValue ?? '—';
      const requests =
        (lhr.audits['network-requests']?.details as { items?: Record<string, unknown>[] })?.items ?? [];
      const scripts = requests.filter((r) => r.resourceType === 'Script');
      const scriptBytes = scripts.reduce((sum, r) => sum + Number(r.resourceSize ?? 0), 0);
      const failing = Object.values(lhr.audits)
        .filter(
          (a) =>
            a.score !== null &&
            a.score < 1 &&
            lhr.categories.accessibility?.auditRefs.some((ref) => ref.id === a.id && ref.weight > 0),
        )
        .map((a) => a.id);
      diagnostics.push(mainThreadDiagnostics(`${tab} ${preset}`, lhr, requests.length));
      console.log(
        `${tab.padEnd(8)} ${preset.padEnd(8)} ${String(score('performance')).padStart(4)}  ${String(
          score('accessibility'),
        ).padStart(4)}  ${metric('first-contentful-paint').padStart(6)}  ${metric(
          'largest-contentful-paint',
        ).padStart(
          6,
        )}  ${metric('total-blocking-time').padStart(6)}  ${metric('cumulative-layout-shift').padStart(5)}  ${String(
          scripts.length,
        ).padStart(
          15,
        )}  ${(scriptBytes / 1024).toFixed(1)} KiB${failing.length ? `  a11y audits below 1: ${failing.join(', ')}` : ''}`,
      );
    }
  }
  console.log(`load average ${load()}\n`);
  console.log(
    'Main thread during load (Lighthouse audits; task times are the simulation’s: observed × the preset’s CPU slowdown, 1 desktop, 4 mobile)',
  );
  for (const line of diagnostics) console.log(line);
  console.log(`load average ${load()}\n`);

  console.log(
    'JavaScript loaded by each tab’s first paint (opened by its URL), and its layout shift during load',
  );
  console.log('tab         KiB by FCP  KiB in all  gzip KiB   CLS 1280  CLS 360  files');
  const shifts: Record<string, Record<number, number>> = {};
  for (const width of [1280, 360]) {
    const context = await browser.newContext({ viewport: { width, height: width > 600 ? 900 : 780 } });
    const page = await context.newPage();
    for (const tab of TABS) {
      await page.goto(`${base}/?tab=${tab}&range=24h`, { waitUntil: 'networkidle' });
      const cls = (await page.evaluate(`new Promise((done) => {
        new PerformanceObserver((list) => done(list.getEntries().filter((e) => !e.hadRecentInput)
          .reduce((sum, e) => sum + e.value, 0))).observe({ type: 'layout-shift', buffered: true });
        setTimeout(() => done(0), 200);
      })`)) as number;
      shifts[tab] = { ...shifts[tab], [width]: cls };
    }
    await context.close();
  }
  for (const tab of TABS) {
    const page = await browser.newPage();
    await page.goto(`${base}/?tab=${tab}&range=24h`, { waitUntil: 'networkidle' });
    // From the browser's own timings: the scripts fetched before the first contentful paint, and all of
    // them by the time the tab has loaded (uPlot and a tab's chunk arrive after the shell painted).
    const { before, all, files } = (await page.evaluate(`(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Infinity;
      const scripts = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.js'));
      const sum = (list) => list.reduce((n, e) => n + e.decodedBodySize, 0);
      return {
        before: sum(scripts.filter((e) => e.responseEnd <= fcp)),
        all: sum(scripts),
        files: scripts.map((e) => e.name.split('/').pop()),
      };
    })()`)) as { before: number; all: number; files: string[] };
    const gzip = (
      await Promise.all(
        files.map(
          async (name) =>
            gzipSync(Buffer.from(await (await fetch(`${base}/assets/${name}`)).arrayBuffer()), { level: 9 })
              .length,
        ),
      )
    ).reduce((a, b) => a + b, 0);
    await page.close();
    console.log(
      `${tab.padEnd(11)} ${(before / 1024).toFixed(1).padStart(12)}  ${(all / 1024).toFixed(1).padStart(9)}  ${(
        gzip / 1024
      )
        .toFixed(1)
        .padStart(8)}  ${(shifts[tab]?.[1280] ?? 0).toFixed(4).padStart(9)}  ${(shifts[tab]?.[360] ?? 0)
        .toFixed(4)
        .padStart(7)}  ${files.join(' ')}`,
    );
  }
  console.log(`load average ${load()}`);
} finally {
  await dashboard.close();
}
