/**
 * The client as its users get it: packed with `npm pack` (which builds it),
 * installed from the tarball into an empty folder with only its peer `openai`,
 * and used from an ES module and a CommonJS script run by plain `node` (20 and
 * 22), calling the simulator and sending traces to the ingest function behind
 * the local gateway. What `/traces` shows afterwards is checked field by field.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../infra/local/gateway.js';
import { loadHandler } from '../../infra/local/runner.js';
import type { Simulator } from '../../infra/local/simulator.js';
import { setEnv, startSimulator, startTestGateway, useFreshStore } from '../../test/helpers.js';
import type { TraceEvent } from '../events/model.js';

const run = promisify(execFile);
const CLIENT_DIR = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(CLIENT_DIR, '../..');
const KEY = 'client-package-key';
/** Packing builds with tsc twice and installing may reach the registry: minutes on a loaded machine, not seconds. */
const SLOW = 300_000;

/**
 * The environment for npm and node: without what `npm test` sets for the
 * repository's own run (it would point a nested npm at the repository root).
 */
const childEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^(npm_package_|npm_lifecycle_|npm_config_local_prefix$|npm_command$|INIT_CWD$)/.test(name),
    ),
  );

/**
 * The node binaries on this machine by major version: the one running the
 * tests, the `node` dev dependency, and the first on PATH outside node_modules
 * (the system's).
 */
function nodeBinaries(): Map<number, string> {
  const candidates = [
    process.execPath,
    join(ROOT, 'node_modules', '.bin', 'node'),
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter((dir) => dir && !dir.includes('node_modules'))
      .map((dir) => join(dir, 'node')),
  ];
  const byMajor = new Map<number, string>();
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      const major = Number(/^v(\d+)\./.exec(version)?.[1]);
      if (major && !byMajor.has(major)) byMajor.set(major, candidate);
    } catch {
      // Not a runnable node: look at the next one.
    }
  }
  return byMajor;
}
const NODES = nodeBinaries();

/** The same calls from both module systems; only how the two packages are loaded differs. */
const appScript = (load: string) => `${load}
async function main() {
  const [simUrl, ingestUrl, apiKey, region] = process.argv.slice(2);
  const wrapped = instrumentOpenAI(new OpenAI({ apiKey: 'sk-app', baseURL: simUrl, maxRetries: 0 }), {
    url: ingestUrl, apiKey, region, flushIntervalMs: 60000,
  });
  const client = wrapped.client;
  const messages = [{ role: 'user', content: 'package check' }];
  await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
  let sawUsageChunk = false;
  const stream = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages, stream: true });
  for await (const chunk of stream) if (chunk.choices.length === 0) sawUsageChunk = true;
  const events = await client.responses.create({ model: 'gpt-4.1', input: 'package check', stream: true });
  let lastEvent;
  for await (const event of events) lastEvent = event.type;
  const left = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
  for await (const chunk of left) if (chunk.choices[0] && chunk.choices[0].delta.content) break;
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'package check' });
  await wrapped.close();
  process.stdout.write(JSON.stringify({ node: process.version, stats: wrapped.stats(), sawUsageChunk, lastEvent }));
}
main().catch((error) => { console.error(error); process.exit(1); });
`;
const ESM_APP = appScript(
  "import OpenAI from 'openai';\nimport { instrumentOpenAI } from 'openai-status-client';",
);
const CJS_APP = appScript(
  "const { OpenAI } = require('openai');\nconst { instrumentOpenAI } = require('openai-status-client');",
);

/** A TypeScript user of each module system: the declarations must resolve and type the calls. */
const TYPED_USE = `
const wrapped = instrumentOpenAI(new OpenAI({ apiKey: 'sk' }), { url: 'https://status.example.com', apiKey: 'k' });
const trace: TraceInput = { ts: 1, endpoint: 'chat', ok: true, latencyMs: 1 };
export const answer: Promise<{ id: string }> = wrapped.client.chat.completions.create({ model: 'm', messages: [] });
export const stats: number = wrapped.stats().recorded + trace.latencyMs;
// Typed, not any: a missing option and a wrong field are errors.
// @ts-expect-error apiKey is required
instrumentOpenAI(new OpenAI({ apiKey: 'sk' }), { url: 'https://status.example.com' });
// @ts-expect-error ok is a boolean
export const wrong: TraceInput = { ts: 1, endpoint: 'chat', ok: 'yes', latencyMs: 1 };
`;

let sim: Simulator;
let gateway: Gateway;
let work: string;
let app: string;
let restore: () => void;
let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  await useFreshStore();
  restore = setEnv({ INGEST_API_KEY: KEY });
  sim = await startSimulator({ latency: 'none' });
  gateway = await startTestGateway(loadHandler);
  work = await mkdtemp(join(tmpdir(), 'openai-status-client-'));
  app = join(work, 'app');
  await mkdir(app);

  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: CLIENT_DIR,
    env: childEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  // npm prints the build's output before its JSON answer.
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed)[])[0] as typeof packed;

  // The same openai the repository tests with, from npm's cache when it is there.
  const openaiVersion = (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'openai', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  await writeFile(join(app, 'package.json'), `${JSON.stringify({ name: 'client-check', private: true })}\n`);
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(work, packed.filename),
      `openai@${openaiVersion}`,
    ],
    { cwd: app, env: childEnv(), maxBuffer: 16 * 1024 * 1024 },
  );
  await writeFile(join(app, 'app.mjs'), ESM_APP);
  await writeFile(join(app, 'app.cjs'), CJS_APP);
  await writeFile(
    join(app, 'esm.mts'),
    `import OpenAI from 'openai';
import { instrumentOpenAI, type TraceInput } from 'openai-status-client';
${TYPED_USE}`,
  );
  await writeFile(
    join(app, 'cjs.cts'),
    `import openai = require('openai');
import client = require('openai-status-client');
const OpenAI = openai.OpenAI;
type TraceInput = client.TraceInput;
const instrumentOpenAI = client.instrumentOpenAI;
${TYPED_USE}`,
  );
}, SLOW);

afterAll(async () => {
  await gateway?.close();
  await sim?.close();
  restore?.();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed client', () => {
  it('holds the built JavaScript and declarations only, and installs with nothing but openai', async () => {
    const paths = packed.files.map((f) => f.path).sort();
    expect(paths).toContain('dist/esm/index.js');
    expect(paths).toContain('dist/esm/index.d.ts');
    expect(paths).toContain('dist/cjs/index.js');
    expect(paths).toContain('dist/cjs/index.d.ts');
    expect(paths).toContain('dist/cjs/package.json');
    expect(paths.filter((p) => !p.startsWith('dist/'))).toEqual(['README.md', 'package.json']);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);

    const installed = (await readdir(join(app, 'node_modules'))).filter((name) => !name.startsWith('.'));
    expect(installed.sort()).toEqual(['openai', 'openai-status-client']);
  });

  it(
    'types its API for TypeScript users of ES modules and CommonJS',
    async () => {
      await writeFile(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            lib: ['es2023', 'dom'],
            types: [],
            strict: true,
            noEmit: true,
          },
          files: ['esm.mts', 'cjs.cts'],
        }),
      );
      // The repository's TypeScript, run on the app folder: the app itself has nothing installed but the two packages.
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = await run(process.execPath, [tsc, '-p', app], { cwd: app, env: childEnv() }).catch(
        (error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }),
      );
      expect(result.stdout).toBe('');
    },
    SLOW,
  );

  for (const major of [22, 20]) {
    const node = NODES.get(major);
    // Node 22 is the `node` dev dependency, always there; Node 20 is the system's, when it has one: shown as skipped if not.
    it.skipIf(!node)(
      `works from ESM and CommonJS on Node ${major} (${node ?? 'not installed here'})`,
      async () => {
        for (const [format, script] of [
          ['esm', 'app.mjs'],
          ['cjs', 'app.cjs'],
        ] as const) {
          const region = `package-node${major}-${format}`;
          const { stdout } = await run(node as string, [script, sim.url, gateway.url, KEY, region], {
            cwd: app,
            env: childEnv(),
          });
          const outcome = JSON.parse(stdout) as {
            node: string;
            stats: Record<string, number>;
            sawUsageChunk: boolean;
            lastEvent: string;
          };
          expect(outcome.node.startsWith(`v${major}.`)).toBe(true);
          expect(outcome.stats).toEqual({ recorded: 5, sent: 5, dropped: 0, failed: 0, queued: 0 });
          expect(outcome.sawUsageChunk).toBe(false);
          expect(outcome.lastEvent).toBe('response.completed');

          const answer = await fetch(`${gateway.url}/traces?source=ingest&region=${region}`);
          expect(answer.status).toBe(200);
          const { items } = (await answer.json()) as { items: TraceEvent[] };
          const byModel = new Map(items.map((event) => [event.model, event]));
          expect(items).toHaveLength(5);
          expect(byModel.size).toBe(5);
          for (const event of items) {
            expect(event).toMatchObject({ source: 'ingest', region, ok: true, status: 200 });
            expect(event.requestId).toMatch(/^req_/);
            expect(event.responseBytes).toBeGreaterThan(0);
            expect(event.latencyMs).toBeGreaterThan(0);
          }

          const chat = byModel.get('gpt-4o-mini');
          expect(chat).toMatchObject({ endpoint: 'chat' });
          expect(chat?.timing).toBeUndefined();
          expect(chat?.attributes).toBeUndefined();
          expect(chat?.usage?.input).toBeGreaterThan(0);
          expect(chat?.usage?.output).toBeGreaterThan(0);

          const embeddings = byModel.get('text-embedding-3-small');
          expect(embeddings).toMatchObject({ endpoint: 'embeddings' });
          expect(embeddings?.usage?.input).toBeGreaterThan(0);

          for (const [model, endpoint] of [
            ['gpt-4.1-mini', 'chat'],
            ['gpt-4.1', 'responses'],
          ] as const) {
            const streamed = byModel.get(model);
            expect(streamed).toMatchObject({ endpoint, attributes: { stream: 'completed' } });
            expect(streamed?.usage?.input).toBeGreaterThan(0);
            expect(streamed?.usage?.output).toBeGreaterThan(0);
            expect(streamed?.costUsd).toBeGreaterThan(0);
            expect(streamed?.timing?.ttftMs).toBeGreaterThan(0);
            expect(streamed?.timing?.ttftMs).toBeLessThanOrEqual(streamed?.latencyMs ?? 0);
          }

          const abandoned = byModel.get('gpt-4o');
          expect(abandoned).toMatchObject({ endpoint: 'chat', attributes: { stream: 'abandoned' } });
          expect(abandoned?.timing?.ttftMs).toBeGreaterThan(0);
        }
      },
      SLOW,
    );
  }
});
