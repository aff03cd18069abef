/**
 * Function bundles: synthesizes the stack (esbuild, exactly the options of
 * `cdk synth`), then prints per function the bytes Lambda loads at init (the
 * entry chunk and the chunks it imports statically), the bytes of all its
 * chunks (the lazily imported ones too), what weighs most in each, and its
 * cold initialisation time: importing the entry in a fresh Node 22 process,
 * median of several runs, with and without `--enable-source-maps` (Lambda
 * runs with it).
 *
 * Run: npx tsx bench/bundles.ts [runs]   (default 7 runs)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { App } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { type BundleOutput, bundleOutputs, ENTRY_FILE } from '../infra/constructs/bundling.js';
import { PROJECT_ROOT } from '../infra/constructs/functions.js';
import { OpenAiStatusStack } from '../infra/stack.js';
import { cdkJson, testWebAssets } from '../infra/testing.js';
import { FUNCTIONS, ROUTES } from '../shared/routes.js';

const TARGET_HTTP_BYTES = 500 * 1024;
const TARGET_INIT_MS = 150;
const runs = Number(process.argv[2] ?? 7);
const node = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');

const outdir = mkdtempSync(join(tmpdir(), 'openai-status-bundles-'));
const started = performance.now();
const app = new App({ context: cdkJson.context, outdir });
const stack = new OpenAiStatusStack(app, 'Bench', { webAssetPath: testWebAssets() });
app.synth();
console.log(
  `synthesized ${FUNCTIONS.length} functions in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
console.log(
  `node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}, ${runs} runs each, ${loadAverage()}\n`,
);

/** Init times depend on how busy the machine is; sizes do not. */
function loadAverage(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')}`;
}

/** Lambda's Node runtime defines `awslambda` before it loads a streaming handler; a stand-in lets one load here. */
const AWSLAMBDA_STAND_IN =
  'globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };';

/** Milliseconds from start of import to module evaluated, in a fresh process. */
function initMs(file: string, sourceMaps: boolean): number {
  const script = `${AWSLAMBDA_STAND_IN} const t = performance.now(); await import(${JSON.stringify(`file://${file}`)}); console.log(performance.now() - t);`;
  const result = spawnSync(
    node,
    [...(sourceMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', LOG_LEVEL: 'SILENT' },
    },
  );
  if (result.status !== 0) throw new Error(`import failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The heaviest packages in some of a bundle's files, from esbuild's metafile. */
function heaviest(outputs: BundleOutput[], count: number): string {
  const byPackage = new Map<string, number>();
  for (const output of outputs) {
    for (const [input, bytes] of Object.entries(output.inputs)) {
      const pkg = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? 'app code';
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytes);
    }
  }
  const list = [...byPackage]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([pkg, bytes]) => `${pkg} ${(bytes / 1024).toFixed(0)}`)
    .join(', ');
  return list || '-';
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const bundles = FUNCTIONS.map((spec) => {
  const fn = stack.functions.get(spec.name);
  const code = stack.resolve((fn.node.defaultChild as CfnFunction).code) as { s3Key: string };
  const dir = join(outdir, `asset.${code.s3Key.replace(/\.zip$/, '')}`);
  return { spec, dir, file: join(dir, ENTRY_FILE), plain: [] as number[], withMaps: [] as number[] };
});
// Interleaved (every bundle, both modes, then again) so a busy moment of the machine spreads over all figures.
for (const b of bundles) initMs(b.file, false); // warm the file cache
for (let run = 0; run < runs; run++) {
  for (const b of bundles) {
    b.plain.push(initMs(b.file, false));
    b.withMaps.push(initMs(b.file, true));
  }
}

const header = [
  'function',
  'kind',
  'at init',
  'gzip',
  'all chunks',
  'chunks',
  'init ms',
  'init ms (src maps)',
  'verdict',
];
const rows: string[][] = [];
const notes: string[] = [];
for (const { spec, dir, plain, withMaps } of bundles) {
  const outputs = bundleOutputs(dir);
  const atInit = outputs.filter((o) => o.atInit);
  const lazy = outputs.filter((o) => !o.atInit);
  const initBytes = atInit.reduce((sum, o) => sum + o.bytes, 0);
  const totalBytes = outputs.reduce((sum, o) => sum + o.bytes, 0);
  const initGzip = atInit.reduce(
    (sum, o) => sum + gzipSync(readFileSync(join(dir, o.file)), { level: 9 }).length,
    0,
  );
  const http = ROUTES.some((r) => r.function === spec.name);
  const initPlain = median(plain);
  const initMaps = median(withMaps);
  const sizeOk = !http || initBytes <= TARGET_HTTP_BYTES;
  const initOk = initMaps <= TARGET_INIT_MS;
  rows.push([
    spec.name,
    http ? 'http' : 'scheduled',
    kb(initBytes),
    kb(initGzip),
    kb(totalBytes),
    `${atInit.length} + ${lazy.length}`,
    initPlain.toFixed(0),
    initMaps.toFixed(0),
    [sizeOk ? 'size ok' : 'SIZE OVER', initOk ? 'init ok' : 'INIT OVER'].join(', '),
  ]);
  notes.push(`${spec.name.padEnd(20)} at init: ${heaviest(atInit, 5)}`);
  notes.push(`${''.padEnd(20)} lazy:    ${heaviest(lazy, 5)}`);
}

const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(line(row));
console.log(
  [
    '',
    `at init: the entry chunk (${ENTRY_FILE}) and the chunks it imports statically, minified: what Lambda loads before the first request.`,
    'all chunks: every JavaScript file of the function, the ones loaded on first use (await import) too.',
    'chunks: loaded at init + loaded on first use. gzip: of the init files.',
    `targets: ≤ ${TARGET_HTTP_BYTES / 1024} KB at init per HTTP function (the "at init" column; "all chunks" is shown beside it, not held to it);`,
    `         ≤ ${TARGET_INIT_MS} ms init, measured here with source maps on, as in Lambda (import of the entry, lazy chunks not loaded).`,
  ].join('\n'),
);
console.log(`timed at ${loadAverage()} (at the end)`);
console.log('\nheaviest packages (KB, minified):');
for (const note of notes) console.log(`  ${note}`);
