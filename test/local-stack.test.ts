/**
 * `npm start` end to end: the real start script in a child process, as a
 * user runs it (without the dashboard build step, which has its own script).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROBE_KEYS } from '../shared/config.js';
import { eventItem } from '../shared/store/events.js';
import { eventHourKey, eventShardPartitions } from '../shared/store/keys.js';

const ROOT = resolve(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
  dynamodb: string;
  s3: string;
  upstream: string;
}

/** Environment for the child: the test's own store settings removed, so it boots its own. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'WARN', ...extra };
  for (const name of [
    'DYNAMODB_ENDPOINT',
    'S3_ENDPOINT',
    'TABLE_NAME',
    'ARTIFACTS_BUCKET',
    'VITEST',
    'NODE_OPTIONS',
    'CURSOR_SECRET',
  ]) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function start(extra: Record<string, string>): Promise<Started> {
  const child = spawn(TSX, ['infra/local/start.ts'], { cwd: ROOT, env: childEnv(extra) });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return new Promise((resolveStart, reject) => {
    // Only ends a start that hangs, with the child's output to say why; nothing here races it.
    const timer = setTimeout(() => reject(new Error(`not ready in 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (!out.includes('Press Ctrl-C')) return;
      clearTimeout(timer);
      const field = (name: string) => out.match(new RegExp(`${name}\\s+(http://\\S+)`))?.[1] ?? '';
      resolveStart({
        child,
        output: () => out,
        url: field('dashboard').replace(/\/$/, ''),
        dynamodb: field('dynamodb'),
        s3: field('s3'),
        upstream: out.match(/upstream\s+(.*)/)?.[1] ?? '',
      });
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  return new Promise((resolveStop) => {
    child.removeAllListeners('exit');
    child.once('exit', (code) => resolveStop(code));
    child.kill(signal);
  });
}

function runToExit(
  extra: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(TSX, ['infra/local/start.ts'], { cwd: ROOT, env: childEnv(extra) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolveRun) => child.once('exit', (code) => resolveRun({ code, stdout, stderr })));
}

/**
 * Every test spawns `npm start` (tsx compiles the stack on each start: seconds of CPU, several
 * times that on a busy 2-core CI machine). Nothing in them waits on a time: they wait for what
 * the child prints, so this deadline only ends a hang, and is sized for two starts under load.
 */
describe('npm start (local stack)', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'openai-status-start-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves /health and / , keeps data across a restart, and stops cleanly on Ctrl-C', async () => {
    const first = await start({ DATA_DIR: dataDir });
    expect(first.upstream).toContain('SIMULATED');
    const health = await fetch(`${first.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, upstream: 'simulated' });
    const page = await fetch(`${first.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');

    // The simulator it started answers the official SDK.
    const simUrl = first.upstream.match(/http:\/\/\S+/)?.[0] as string;
    const models = await new OpenAI({ apiKey: 'sim', baseURL: simUrl, maxRetries: 0 }).models.list();
    expect(models.data.length).toBeGreaterThan(0);

    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: first.dynamodb, region: 'us-east-1', credentials: CREDENTIALS }),
    );
    const s3 = new S3Client({
      endpoint: first.s3,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      forcePathStyle: true,
    });
    await doc.send(
      new PutCommand({ TableName: 'openai-status', Item: { pk: 'TEST#restart', sk: '1', value: 42 } }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: 'openai-status-artifacts', Key: 'restart.txt', Body: 'kept' }),
    );
    // Two trace events, so /traces pages them with a cursor.
    for (const id of ['restart-1', 'restart-2']) {
      const event = {
        id,
        ts: Date.now() - 60_000,
        source: 'ingest' as const,
        endpoint: 'restart',
        ok: true,
        latencyMs: 5,
      };
      await doc.send(new PutCommand({ TableName: 'openai-status', Item: eventItem(event, 30) }));
    }
    doc.destroy();
    s3.destroy();

    // No CURSOR_SECRET given: a random key, generated on this first start and kept with the data.
    expect(first.output()).toMatch(/cursor key\s+generated, kept in the data directory/);
    const keyFile = join(dataDir, 'cursor-secret');
    expect(existsSync(keyFile)).toBe(true);
    const key = readFileSync(keyFile, 'utf8');
    expect(first.output()).not.toContain(key.trim());
    const firstPage = (await (await fetch(`${first.url}/traces?endpoint=restart&limit=1`)).json()) as {
      nextCursor: string | null;
    };
    expect(firstPage.nextCursor).toEqual(expect.any(String));

    expect(await stop(first.child)).toBe(0);
    expect(first.output()).toContain('stopped; data kept in');

    const second = await start({ DATA_DIR: dataDir });
    try {
      const doc2 = DynamoDBDocumentClient.from(
        new DynamoDBClient({ endpoint: second.dynamodb, region: 'us-east-1', credentials: CREDENTIALS }),
      );
      const s32 = new S3Client({
        endpoint: second.s3,
        region: 'us-east-1',
        credentials: CREDENTIALS,
        forcePathStyle: true,
      });
      const item = await doc2.send(
        new GetCommand({ TableName: 'openai-status', Key: { pk: 'TEST#restart', sk: '1' } }),
      );
      expect(item.Item?.value).toBe(42);
      const object = await s32.send(
        new GetObjectCommand({ Bucket: 'openai-status-artifacts', Key: 'restart.txt' }),
      );
      expect(await object.Body?.transformToString()).toBe('kept');
      // The second start reuses the key: the first start's cursor still pages.
      expect(second.output()).toMatch(/cursor key\s+from the data directory/);
      expect(readFileSync(keyFile, 'utf8')).toBe(key);
      const next = await fetch(
        `${second.url}/traces?endpoint=restart&limit=1&cursor=${encodeURIComponent(firstPage.nextCursor as string)}`,
      );
      expect(next.status).toBe(200);
      expect(((await next.json()) as { items: unknown[] }).items).toHaveLength(1);
      doc2.destroy();
      s32.destroy();
    } finally {
      expect(await stop(second.child, 'SIGTERM')).toBe(0);
    }
  });

  it.each([
    ['PROBE_INTERVAL_SEC', 'abc'],
    ['PROBE_MODE', 'sometimes'],
    ['HTTP_TIMEOUT_MS', '12s'],
  ])('exits non-zero with one line naming %s=%s', async (name, value) => {
    const result = await runToExit({ [name]: value, DATA_DIR: dataDir });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: Invalid ${name}="${value}": expected `));
  });

  it('does not print the OpenAI key it is given', async () => {
    const running = await start({
      ENABLE_DB: '0',
      OPENAI_API_KEY: 'sk-test-0123456789abcdef',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    });
    try {
      expect(running.upstream).toContain('real key set');
      expect(running.output()).not.toContain('sk-test-0123456789abcdef');
      expect(running.output()).toContain('in memory (ENABLE_DB=0)');
    } finally {
      await stop(running.child);
    }
  });

  /** Probe events stored in the last two hours, oldest first. */
  async function probeEvents(endpoint: string): Promise<{ endpoint: string; ts: number; ok: boolean }[]> {
    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS }),
    );
    try {
      const items: { endpoint: string; ts: number; ok: boolean }[] = [];
      const hours = new Set([eventHourKey(Date.now() - 3_600_000), eventHourKey(Date.now())]);
      for (const pk of [...hours].flatMap(eventShardPartitions)) {
        const page = await doc.send(
          new QueryCommand({
            TableName: 'openai-status',
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pk },
          }),
        );
        items.push(...((page.Items ?? []) as { endpoint: string; ts: number; ok: boolean }[]));
      }
      return items.sort((a, b) => a.ts - b.ts);
    } finally {
      doc.destroy();
    }
  }

  interface ProbeTick {
    /** The scheduled event's time (ISO 8601, whole seconds). */
    tick: string;
    probes: string[];
  }

  /** The "probe tick" lines the probe function has logged so far (LOG_LEVEL=INFO), oldest first. */
  function probeTicks(output: string): ProbeTick[] {
    const ticks: ProbeTick[] = [];
    for (const line of output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as Partial<ProbeTick> & { message?: string };
        if (entry.message === 'probe tick' && entry.tick && entry.probes) {
          ticks.push({ tick: entry.tick, probes: entry.probes });
        }
      } catch {
        // A line cut between two reads of the pipe: it is parsed whole on a later check.
      }
    }
    return ticks;
  }

  /**
   * Resolves with the child's output once `condition` holds for it, checked on every write: the
   * test waits for what the stack reports, not for a guessed time. A tick is logged after its
   * events are stored, so whatever a logged tick probed is in the table by then.
   */
  function whenLogged(running: Started, condition: (output: string) => boolean): Promise<string> {
    return new Promise((resolveLogged, reject) => {
      const check = () => {
        if (!condition(running.output())) return;
        running.child.stdout?.off('data', check);
        running.child.off('exit', exited);
        resolveLogged(running.output());
      };
      const exited = (code: number | null) => {
        running.child.stdout?.off('data', check);
        reject(new Error(`exited with ${code}:\n${running.output()}`));
      };
      running.child.stdout?.on('data', check);
      running.child.once('exit', exited);
      check();
    });
  }

  it('probes every default endpoint on a tick with PROBE_MODE=all PROBE_INTERVAL_SEC=5', async () => {
    const running = await start({
      ENABLE_DB: '0',
      PROBE_MODE: 'all',
      PROBE_INTERVAL_SEC: '5',
      SIM_LATENCY: 'none',
      LOG_LEVEL: 'INFO',
    });
    try {
      const [tick] = probeTicks(await whenLogged(running, (out) => probeTicks(out).length >= 1));
      expect([...(tick?.probes ?? [])].sort()).toEqual([...DEFAULT_PROBE_KEYS].sort());
      const events = await probeEvents(running.dynamodb);
      const seen = new Set(events.map((e) => e.endpoint));
      expect([...seen].sort()).toEqual([...DEFAULT_PROBE_KEYS].sort());
      expect(events.every((e) => e.ok)).toBe(true);
    } finally {
      await stop(running.child);
    }
  });

  it('cycles through the probes in order with PROBE_MODE=roundrobin', async () => {
    const running = await start({
      ENABLE_DB: '0',
      PROBE_MODE: 'roundrobin',
      PROBE_INTERVAL_SEC: '1',
      SIM_LATENCY: 'none',
      LOG_LEVEL: 'INFO',
    });
    try {
      const ticks = probeTicks(await whenLogged(running, (out) => probeTicks(out).length >= 5));
      const events = await probeEvents(running.dynamodb);

      // Each tick probes the key whose turn its time gives, one turn per second, in the configured
      // order. A busy machine may skip a tick (the scheduler never stacks runs): the turn then moves
      // on with the time, so the check is against each tick's own time, not against its neighbour.
      const order: string[] = [...DEFAULT_PROBE_KEYS];
      const second = (tick: ProbeTick) => Date.parse(tick.tick) / 1000;
      const [first] = ticks as [ProbeTick];
      const firstTurn = order.indexOf(first.probes[0] as string);
      expect(firstTurn).toBeGreaterThanOrEqual(0);
      expect(ticks.map((tick) => tick.probes)).toEqual(
        ticks.map((tick) => [order[(firstTurn + second(tick) - second(first)) % order.length]]),
      );
      // The table holds one event per tick, in tick order.
      expect(events.slice(0, ticks.length).map((e) => e.endpoint)).toEqual(ticks.map((t) => t.probes[0]));
    } finally {
      await stop(running.child);
    }
  });
});
