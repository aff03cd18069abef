/**
 * One tab's load (Status unless TAB names another), taken apart: Lighthouse's mobile preset a few times
 * (scores vary with this machine's load, so the median is printed beside the
 * load average), the main-thread audits that explain its TBT, and, measured
 * without throttling in a phone-sized window, the parts that do not depend on
 * the load: the bytes of script and CSS fetched before the first paint, the
 * request count, the DOM size, and Chromium's own CPU counters (script,
 * style, layout) from opening the page until it is quiet.
 *
 * bench/dashboard.ts covers every tab and preset; this one is for working on
 * one tab's first screen (Status, or the one TAB names).
 *
 * Run: npx tsx bench/dashboard-status.ts [runs]   (builds web/dist first if it is missing)
 *      TAB=traces npx tsx bench/dashboard-status.ts 5
 */
import lighthouse from 'lighthouse';
import { openSeededDashboard } from '../test/browser/dashboard-setup.js';
import { buildDashboardIfMissing, freePort, load } from './dashboard-common.js';

const RUNS = Number(process.argv[2] ?? 3);
const TAB = process.env.TAB ?? 'status';
buildDashboardIfMissing();

type Audit = { details?: unknown; numericValue?: number; displayValue?: string };
type Row = Record<string, unknown>;
const rows = (audits: Record<string, Audit>, id: string) =>
  ((audits[id]?.details as { items?: Row[] } | undefined)?.items ?? []) as Row[];
const round = (value: unknown) => Math.round(Number(value ?? 0));
const fileOf = (url: unknown) =>
  String(url ?? '')
    .split('/')
    .pop() || String(url);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2
    ? (sorted[Math.floor(mid)] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: { data?: { url?: string; functionName?: string } };
}

/** What the renderer's main thread did: its tasks over 12.5 ms (50 ms at the mobile preset's 4× slowdown), and each one's script, style, layout and paint time. */
function taskBreakdown(events: TraceEvent[]): string {
  const main = events.find(
    (e) =>
      e.name === 'thread_name' &&
      (e as { args?: { name?: string } }).args?.name === 'CrRendererMain' &&
      events.some((t) => t.pid === e.pid && t.tid === e.tid && t.name === 'FunctionCall'),
  );
  if (!main) return '  (no renderer main thread in the trace)';
  const onMain = events.filter(
    (e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur !== undefined,
  );
  const start =
    events.find((e) => e.name === 'navigationStart' && e.pid === main.pid)?.ts ?? onMain[0]?.ts ?? 0;
  const kinds: Record<string, string> = {
    FunctionCall: 'script',
    EvaluateScript: 'script',
    'v8.compileModule': 'script',
    'v8.evaluateModule': 'script',
    TimerFire: 'script',
    FireAnimationFrame: 'script',
    RunMicrotasks: 'script',
    EventDispatch: 'script',
    UpdateLayoutTree: 'style',
    ParseAuthorStyleSheet: 'style',
    Layout: 'layout',
    Paint: 'paint',
    PrePaint: 'paint',
    Layerize: 'paint',
    ParseHTML: 'parse',
  };
  const tasks = onMain.filter((e) => e.name === 'RunTask');
  const totals: Record<string, number> = {};
  const lines: string[] = [];
  let long = 0;
  let blocking = 0;
  for (const task of tasks) {
    const end = task.ts + (task.dur ?? 0);
    const inside = onMain.filter((e) => e !== task && e.ts >= task.ts && e.ts + (e.dur ?? 0) <= end);
    // Top-level parts only (a FunctionCall inside a TimerFire counts once).
    const parts: Record<string, number> = {};
    let coveredUntil = 0;
    for (const e of inside.sort((a, b) => a.ts - b.ts)) {
      const kind = kinds[e.name];
      if (!kind || e.ts < coveredUntil) continue;
      parts[kind] = (parts[kind] ?? 0) + (e.dur ?? 0) / 1000;
      coveredUntil = e.ts + (e.dur ?? 0);
    }
    for (const [k, v] of Object.entries(parts)) totals[k] = (totals[k] ?? 0) + v;
    const ms = (task.dur ?? 0) / 1000;
    if (ms > 12.5) {
      long++;
      blocking += ms - 12.5;
      const what = Object.entries(parts)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ');
      lines.push(`    at ${((task.ts - start) / 1000).toFixed(0)} ms: ${ms.toFixed(0)} ms (${what})`);
    }
  }
  const sum = Object.entries(totals)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
  return [
    `  trace: main-thread ms by kind: ${sum}; ${long} tasks over 12.5 ms (${blocking.toFixed(0)} ms over it):`,
    ...lines,
  ].join('\n');
}

const port = await freePort();
const dashboard = await openSeededDashboard({ debuggingPort: port });
const { base, browser } = dashboard;
const url = `${base}/?tab=${TAB}&range=24h`;
console.log(`seeded ${dashboard.seeded.events} events (24 h, 10 endpoints); load average ${load()}\n`);

try {
  const warm = await browser.newPage();
  await warm.goto(url, { waitUntil: 'networkidle' });
  await warm.close();

  // The parts that do not depend on the machine's load, measured unthrottled at a phone's width.
  const context = await browser.newContext({
    viewport: { width: 412, height: 823 },
    deviceScaleFactor: 1.75,
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await browser.startTracing(page, {
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing'],
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  await page.waitForTimeout(3500); // the idle-time chart builds (TimeChart's IDLE_BUILD_MS)
  const trace = JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] };
  const { metrics } = (await cdp.send('Performance.getMetrics')) as {
    metrics: { name: string; value: number }[];
  };
  const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? 0;
  const figures = (await page.evaluate(`(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Infinity;
    const resources = performance.getEntriesByType('resource');
    const size = (list) => list.reduce((n, e) => n + e.encodedBodySize, 0);
    const early = resources.filter((e) => e.responseEnd <= fcp);
    return {
      fcp: Math.round(fcp),
      jsAtFcp: size(early.filter((e) => e.name.endsWith('.js'))),
      cssAtFcp: size(early.filter((e) => e.name.endsWith('.css'))),
      jsAll: size(resources.filter((e) => e.name.endsWith('.js'))),
      cssAll: size(resources.filter((e) => e.name.endsWith('.css'))),
      requests: resources.length + 1,
      files: resources.filter((e) => /\\.(js|css)$/.test(e.name)).map((e) => e.name.split('/').pop()),
      elements: document.getElementsByTagName('*').length,
      firstScreen: [...document.getElementsByTagName('*')].filter((el) => {
        const r = el.getBoundingClientRect();
        return r.top < innerHeight && r.bottom > 0 && r.width > 0;
      }).length,
    };
  })()`)) as Record<string, unknown> & { files: string[] };
  await context.close();
  const kib = (n: unknown) => `${(Number(n) / 1024).toFixed(1)} KiB`;
  console.log('Unthrottled at 412 px (transfer sizes; CPU ms from Chromium’s counters, load to quiet):');
  console.log(
    `  FCP ${figures.fcp} ms; at FCP: JS ${kib(figures.jsAtFcp)}, CSS ${kib(figures.cssAtFcp)}; in all: JS ${kib(figures.jsAll)}, CSS ${kib(figures.cssAll)}; ${figures.requests} requests`,
  );
  console.log(`  files: ${figures.files.join(' ')}`);
  console.log(`  DOM: ${figures.elements} elements, ${figures.firstScreen} on the first screen`);
  console.log(
    `  CPU ms: script ${round(metric('ScriptDuration') * 1000)}, style ${round(
      metric('RecalcStyleDuration') * 1000,
    )}, layout ${round(metric('LayoutDuration') * 1000)}, tasks in all ${round(metric('TaskDuration') * 1000)}; ${metric('RecalcStyleCount')} style recalcs, ${metric('LayoutCount')} layouts`,
  );
  console.log(taskBreakdown(trace.traceEvents));
  console.log(`load average ${load()}\n`);

  console.log(`Lighthouse mobile preset, ${TAB} tab`);
  const scores: number[] = [];
  const tbts: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const result = await lighthouse(url, {
      port,
      output: 'json',
      logLevel: 'error',
      onlyCategories: ['performance', 'accessibility'],
    });
    if (!result) throw new Error('Lighthouse gave no result');
    const { audits, categories } = result.lhr;
    const perf = Math.round((categories.performance?.score ?? 0) * 100);
    const a11y = Math.round((categories.accessibility?.score ?? 0) * 100);
    scores.push(perf);
    tbts.push(Number(audits['total-blocking-time']?.numericValue ?? 0));
    const longTasks =
      (audits['long-tasks']?.details as { debugData?: { tasks?: Row[] } } | undefined)?.debugData?.tasks ??
      rows(audits, 'long-tasks');
    const biggest = [...longTasks]
      .sort((a, b) => Number(b.duration) - Number(a.duration))
      .slice(0, 6)
      .map((t) => `${round(t.duration)}`)
      .join(', ');
    const work = rows(audits, 'mainthread-work-breakdown')
      .map((w) => `${w.group} ${round(w.duration)}`)
      .join(', ');
    const boot = rows(audits, 'bootup-time')
      .map((b) => `${fileOf(b.url)} ${round(b.scripting)}+${round(b.scriptParseCompile)}`)
      .join(', ');
    console.log(
      `run ${run}: perf ${perf} a11y ${a11y}  FCP ${audits['first-contentful-paint']?.displayValue} LCP ${audits['largest-contentful-paint']?.displayValue} TBT ${audits['total-blocking-time']?.displayValue} SI ${audits['speed-index']?.displayValue} CLS ${audits['cumulative-layout-shift']?.displayValue}; load ${load()}`,
    );
    console.log(`    ${longTasks.length} long tasks, biggest ms: ${biggest}`);
    console.log(`    main thread ms: ${work}`);
    console.log(`    script ms (eval+parse): ${boot}`);
  }
  console.log(
    `median of ${RUNS}: perf ${median(scores)}, TBT ${round(median(tbts))} ms; load average ${load()}`,
  );
} finally {
  await dashboard.close();
}
