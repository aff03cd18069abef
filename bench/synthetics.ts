/**
 * What a synthetic run costs in time and memory, on the local stack
 * (in-memory dynalite and s3rver) against a page served on loopback:
 * - a browser run (Debian's Chromium, through the checking proxy) split into
 *   browser start, steps and screenshot upload, from the run records;
 * - what the HTTP runner can check of the same journey (the results page
 *   fetched directly: goto, title, text, status) for comparison;
 * - the memory peak: this process's RSS plus every Chromium process under it,
 *   sampled every 250 ms from /proc.
 * Both runners are tinybench tasks (each sample is one full run: budget,
 * attempt, upload, run record and event).
 *
 * Run: npx tsx bench/synthetics.ts [browser runs] [http runs]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { ensureSchema, startLocalStore } from '../infra/local/store.js';
import { resetClients } from '../shared/aws.js';
import { parseConfig, resetConfig } from '../shared/config.js';
import { createMonitor, type MonitorRecord, type RunRecord } from '../shared/store/synthetics.js';
import { runMonitor } from '../shared/synthetics/run.js';
import { monitorSpec } from '../shared/synthetics/spec.js';
import { startTestSite } from '../test/synthetics-site.js';

const BROWSER_RUNS = Number(process.argv[2] ?? 10);
const HTTP_RUNS = Number(process.argv[3] ?? 50);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * RSS in MiB of this process and all its descendants (Chromium and its
 * helpers), read from /proc: cheap enough to sample often without stalling
 * the event loop the runs need.
 */
function treeRssMb(): number {
  const children = new Map<number, number[]>();
  const rssKb = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
      rssKb.set(Number(entry), rss);
    } catch {
      // The process ended while being read.
    }
  }
  let total = 0;
  const pending = [process.pid];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    total += rssKb.get(pid) ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return total / 1024;
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { median: at(0.5), p95: at(0.95), mean: values.reduce((a, b) => a + b, 0) / values.length };
};

const site = await startTestSite();
const store = await startLocalStore({ dataDir: undefined });
try {
  const suffix = Date.now().toString(36);
  const env = {
    DYNAMODB_ENDPOINT: store.dynamodbEndpoint,
    S3_ENDPOINT: store.s3Endpoint,
    TABLE_NAME: `bench-${suffix}`,
    ARTIFACTS_BUCKET: `bench-${suffix}`,
    EGRESS_ALLOW: site.hostPort,
    CHROMIUM_PATH: CHROMIUM,
    SYNTHETIC_RUNS_PER_MINUTE: '600',
    LOG_LEVEL: 'SILENT',
    AWS_REGION: 'us-east-1',
  };
  Object.assign(process.env, env);
  resetConfig();
  resetClients();
  await ensureSchema({
    dynamodbEndpoint: store.dynamodbEndpoint,
    s3Endpoint: store.s3Endpoint,
    tableName: env.TABLE_NAME,
    buckets: [env.ARTIFACTS_BUCKET],
  });
  const config = parseConfig(env);
  const monitor: MonitorRecord = {
    id: 'm_0000000001',
    createdAt: Date.now(),
    updatedAt: Date.now(),
    spec: monitorSpec.parse({
      name: 'Bench shop search',
      startUrl: `${site.url}/`,
      retries: 0,
      steps: [
        { action: 'expectTitle', title: 'Demo Shop' },
        { action: 'fill', target: { label: 'Search' }, value: 'shoes' },
        { action: 'press', key: 'Enter', target: { label: 'Search' } },
        { action: 'expectText', text: 'Results for shoes' },
        { action: 'expectStatus', status: 200 },
      ],
    }),
  };
  await createMonitor(config.tableName, monitor);
  // What HTTP can check of the same journey: the results page fetched directly.
  const httpMonitor: MonitorRecord = {
    ...monitor,
    id: 'm_0000000002',
    spec: monitorSpec.parse({
      name: 'Bench shop search (HTTP)',
      startUrl: `${site.url}/search?q=shoes`,
      retries: 0,
      steps: [
        { action: 'expectTitle', title: 'Results' },
        { action: 'expectText', text: 'Results for shoes' },
        { action: 'expectStatus', status: 200 },
      ],
    }),
  };
  await createMonitor(config.tableName, httpMonitor);

  const runs: Record<'browser' | 'http', RunRecord[]> = { browser: [], http: [] };
  let peakMb = 0;
  const sampler = setInterval(() => {
    peakMb = Math.max(peakMb, treeRssMb());
  }, 250);
  const baselineMb = treeRssMb();
  const once = (runner: 'browser' | 'http') => async () => {
    const run = await runMonitor(runner === 'browser' ? monitor : httpMonitor, {
      config,
      trigger: 'manual',
      runner,
    });
    if (run.runner !== runner) throw new Error(`expected the ${runner} runner, got ${run.runner}`);
    runs[runner].push(run);
  };
  await new Bench({ iterations: BROWSER_RUNS, time: 0, warmupIterations: 1, throws: true })
    .add('browser run', once('browser'))
    .run();
  const browserPeakMb = peakMb;
  peakMb = 0;
  await new Bench({ iterations: HTTP_RUNS, time: 0, warmupIterations: 3, throws: true })
    .add('http run', once('http'))
    .run();
  const httpPeakMb = peakMb;
  clearInterval(sampler);

  // Warm-up runs are in the lists too: drop them.
  const browser = runs.browser.slice(1);
  const http = runs.http.slice(3);
  const failed = [...browser, ...http].filter((r) => !r.ok);
  if (failed.length > 0) throw new Error(`${failed.length} runs failed: ${failed[0]?.statusText}`);

  const row = (label: string, values: number[]) => {
    const s = stats(values);
    console.log(
      `${label.padEnd(34)} ${s.median.toFixed(0).padStart(7)} ${s.p95.toFixed(0).padStart(7)} ${s.mean.toFixed(0).padStart(7)}`,
    );
  };
  console.log(
    `synthetic runs on the local stack: ${browser.length} browser runs, ${http.length} HTTP runs (after warm-up)`,
  );
  console.log(
    `Chromium ${execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim()}, Node ${process.version}\n`,
  );
  console.log(`${'ms'.padEnd(34)} ${'median'.padStart(7)} ${'p95'.padStart(7)} ${'mean'.padStart(7)}`);
  row(
    'browser: start (launch + proxy)',
    browser.map((r) => r.timing.startMs),
  );
  row(
    'browser: steps (6 incl. goto)',
    browser.map((r) => r.timing.stepsMs),
  );
  row(
    'browser: upload (2 JPEG to S3)',
    browser.map((r) => r.timing.uploadMs),
  );
  row(
    'browser: whole run (+ store, event)',
    browser.map((r) => r.durationMs),
  );
  row(
    'http: steps (4: goto + 3 checks)',
    http.map((r) => r.timing.stepsMs),
  );
  row(
    'http: whole run (+ store, event)',
    http.map((r) => r.durationMs),
  );
  console.log(
    `\nmemory (RSS, this process + Chromium): baseline ${baselineMb.toFixed(0)} MiB, peak during browser runs ${browserPeakMb.toFixed(0)} MiB, during HTTP runs ${httpPeakMb.toFixed(0)} MiB`,
  );
} finally {
  await store.close();
  await site.close();
}
