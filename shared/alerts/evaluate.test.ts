/**
 * The evaluator end to end, on the injectable clock: events through the one
 * write path, rules and channels in the table, figures from the rollups, and
 * deliveries over real HTTP to a receiver on loopback reached through the
 * egress guard (allowed by an explicit EGRESS_ALLOW exception).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { traceEvents } from '../../test/fixtures.js';
import { ManualClock, setEnv, storedItem, useClock, useFreshStore } from '../../test/helpers.js';
import { getConfig } from '../config.js';
import type { TraceEvent } from '../events/model.js';
import {
  listStates,
  readLog,
  saveChannel,
  saveMaintenance,
  saveRule,
  seedRulesOnce,
} from '../store/alerts.js';
import { recordEvents } from '../store/events.js';
import { alertChannelKey, MINUTE_MS } from '../store/keys.js';
import { writeChannel } from './channel-secrets.js';
import { evaluateRules } from './evaluate.js';
import { type Delivery, type RuleInput, ruleInputSchema, type Transition } from './model.js';
import { productionDelivery, RETRY_DELAYS_MS, SIGNATURE_HEADER } from './notify.js';

const SECRET = 'webhook-secret-0123456789';
/** A fixed minute start: events land 10 s into a minute, evaluations 30 s in. */
const T0 = Date.UTC(2026, 10, 30, 6, 0, 0);

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
let receiver: Server;
const received: Received[] = [];
/** Statuses the receiver answers next (then 200). */
let answers: number[] = [];
let receiverUrl: string;

let tableName: string;
const clock = new ManualClock(T0);
let restoreClock: () => void;
let restoreEnv: () => void;
const slept: number[] = [];
/** The local channel secrets store (DATA_DIR/alert-channel-secrets.json): a fresh directory for this file. */
const dataDir = mkdtempSync(join(tmpdir(), 'alerts-eval-'));

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = answers.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  receiverUrl = `http://127.0.0.1:${port}/hook`;
  ({ tableName } = await useFreshStore());
  restoreEnv = setEnv({
    EGRESS_ALLOW: `127.0.0.1:${port}`,
    DASHBOARD_URL: 'https://status.example.com',
    DATA_DIR: dataDir,
  });
  restoreClock = useClock(clock);
  // No default rules in this table: each test states its own.
  await seedRulesOnce(tableName, []);
  // `hook` as the API stores it (secrets in the store, a reference in the table); the two refused ones
  // as an earlier version stored them (secrets inline), which deliveries still read.
  await writeChannel(
    getConfig(),
    {
      put: { id: 'hook', name: 'Receiver', type: 'webhook', url: receiverUrl, secret: SECRET, updatedAt: T0 },
    },
    { now: () => clock.now() },
  );
  await saveChannel(tableName, {
    id: 'private',
    name: 'Private',
    type: 'webhook',
    url: 'http://10.1.2.3/hook',
    secret: SECRET,
    updatedAt: T0,
  });
  await saveChannel(tableName, {
    id: 'metadata',
    name: 'Metadata',
    type: 'slack',
    url: 'http://169.254.169.254/latest/meta-data/',
    updatedAt: T0,
  });
});

afterAll(async () => {
  restoreClock();
  restoreEnv();
  rmSync(dataDir, { recursive: true, force: true });
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

const rule = (input: RuleInput & { id: string }) =>
  saveRule(tableName, { ...ruleInputSchema.parse(input), id: input.id, updatedAt: T0 });

const ev = traceEvents('al', { source: 'probe' });
const record = (events: TraceEvent[]) =>
  recordEvents(events, { tableName, retentionDays: 30, rollupRetentionDays: 400, now: clock.now() });

/** Evaluates at the current clock time, with waits between attempts recorded and skipped. */
const evaluate = () =>
  evaluateRules({
    config: getConfig(),
    now: clock.now(),
    deliverOptions: {
      ...productionDelivery(getConfig()),
      sleep: async (ms) => {
        slept.push(ms);
      },
    },
  });

type Body = {
  event: string;
  rule: { id: string };
  endpoint: string;
  deliveryId: string;
  dashboardUrl?: string;
};
const bodies = (endpoint: string) =>
  received.map((r) => JSON.parse(r.body) as Body).filter((b) => b.endpoint === endpoint);

/** The webhook signature recipe of the README, as a receiver would write it. */
function verify(headers: Received['headers'], body: string, secret: string): boolean {
  const header = String(headers[SIGNATURE_HEADER] ?? '');
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2] as string, 'hex'));
}

describe('consecutive failures', () => {
  it('ignores a blip, fires once after the threshold, resolves once after recovery', async () => {
    await rule({
      id: 'chat-down',
      name: 'Chat failing',
      endpoint: 'chat',
      condition: { kind: 'consecutive_failures', failures: 3, outOf: 5, recoverAfter: 2 },
      channels: ['hook'],
    });
    // One run a minute: ok ×5, a blip of 2 failures, ok ×3, 4 failures, ok ×3.
    const runs = 'ooooo' + 'ff' + 'ooo' + 'ffff' + 'ooo';
    const statuses: string[] = [];
    const events: string[] = [];
    for (const [i, outcome] of [...runs].entries()) {
      clock.set(T0 + i * MINUTE_MS + 10_000);
      await record([
        ev({
          ts: clock.now(),
          endpoint: 'chat',
          ...(outcome === 'f' ? { ok: false, status: 500, errorType: 'server_error' } : {}),
        }),
      ]);
      clock.set(T0 + i * MINUTE_MS + 30_000);
      const result = await evaluate();
      for (const t of result.transitions.filter((t) => t.ruleId === 'chat-down'))
        statuses.push(`${i}:${t.to}`);
      for (const d of result.deliveries.filter((d) => d.ruleId === 'chat-down'))
        events.push(`${i}:${d.event}`);
    }
    // The blip (runs 5 and 6) changed nothing; the third failure of the second run (run 12) fired,
    // the second success after it (run 15) resolved.
    expect(statuses).toEqual(['12:firing', '15:ok']);
    expect(events).toEqual(['12:firing', '15:resolved']);
    const sent = bodies('chat');
    expect(sent.map((b) => b.event)).toEqual(['firing', 'resolved']);
    expect(sent[0]?.dashboardUrl).toBe('https://status.example.com/#alerts');

    const history = await readLog<Transition>(tableName, 'AH', clock.now(), 50);
    expect(history.filter((t) => t.ruleId === 'chat-down').map((t) => `${t.from}→${t.to}`)).toEqual([
      'firing→ok',
      'ok→firing',
    ]);
  });

  it('signs every webhook body so the documented recipe verifies it', () => {
    const chat = received.filter((r) => (JSON.parse(r.body) as Body).endpoint === 'chat');
    expect(chat.length).toBe(2);
    for (const r of chat) {
      expect(verify(r.headers, r.body, SECRET)).toBe(true);
      expect(verify(r.headers, `${r.body} `, SECRET)).toBe(false);
      expect(verify(r.headers, r.body, 'another-secret-0123456')).toBe(false);
    }
  });
});

describe('burn rate', () => {
  it('fires on a fast burn, not on one that ended before the short window', async () => {
    await rule({
      id: 'emb-burn',
      name: 'Embeddings SLO',
      endpoint: 'embeddings',
      condition: { kind: 'burn_rate' },
      channels: ['hook'],
    });
    await rule({
      id: 'mod-burn',
      name: 'Moderations SLO',
      endpoint: 'moderations',
      condition: { kind: 'burn_rate' },
      channels: ['hook'],
    });
    const now = T0 + 3 * 60 * MINUTE_MS + 30_000;
    const events: TraceEvent[] = [];
    // Ten calls a minute over the last hour. Embeddings: every call of the last 10 minutes failed.
    // Moderations: every call failed 40 to 50 minutes ago, none since.
    for (let m = 1; m <= 60; m++) {
      for (let k = 0; k < 10; k++) {
        const ts = now - m * MINUTE_MS + k * 1000;
        const fail = { ok: false, status: 503, errorType: 'server_error' as const };
        events.push(ev({ ts, endpoint: 'embeddings', ...(m <= 10 ? fail : {}) }));
        events.push(ev({ ts, endpoint: 'moderations', ...(m > 40 && m <= 50 ? fail : {}) }));
      }
    }
    clock.set(now);
    await record(events);
    const result = await evaluate();
    const fired = result.transitions.filter((t) => t.ruleId.endsWith('-burn'));
    expect(fired).toEqual([{ ruleId: 'emb-burn', endpoint: 'embeddings', from: 'ok', to: 'firing' }]);
    const states = await listStates(tableName, 100);
    const moderations = states.find((s) => s.ruleId === 'mod-burn');
    // Nothing to record: it stayed ok, though its 1 h burn rate is far over 14.4×.
    expect(moderations).toBeUndefined();
    const embeddings = states.find((s) => s.ruleId === 'emb-burn');
    expect(embeddings?.value.fastShort).toBeGreaterThan(14.4);
    expect(embeddings?.value.fastLong).toBeGreaterThan(14.4);
    expect(bodies('embeddings').map((b) => b.event)).toEqual(['firing']);
  }, 60_000); // 1,200 events through the write path: over 20 s on a loaded 2-core machine.
});

describe('maintenance windows', () => {
  it('silence a rule while they last and let it announce itself when they end', async () => {
    const start = T0 + 5 * 60 * MINUTE_MS;
    await saveMaintenance(tableName, {
      id: 'upgrade',
      title: 'Upgrade',
      endpoints: ['files'],
      start,
      end: start + 10 * MINUTE_MS,
      updatedAt: start,
    });
    await rule({
      id: 'files-down',
      name: 'Files failing',
      endpoint: 'files',
      condition: { kind: 'consecutive_failures', failures: 2, outOf: 2, recoverAfter: 1 },
      channels: ['hook'],
      reminderMinutes: 0,
    });
    const seen: string[] = [];
    for (let i = 0; i < 14; i++) {
      clock.set(start + i * MINUTE_MS + 10_000);
      await record([
        ev({ ts: clock.now(), endpoint: 'files', ok: false, status: 500, errorType: 'server_error' }),
      ]);
      clock.set(start + i * MINUTE_MS + 30_000);
      const result = await evaluate();
      for (const t of result.transitions.filter((t) => t.ruleId === 'files-down')) seen.push(`${i}:${t.to}`);
      for (const d of result.deliveries.filter((d) => d.ruleId === 'files-down'))
        seen.push(`${i}:sent ${d.event}`);
    }
    // Fires at the second failure (minute 1) inside the window: recorded, not sent; sent at minute 10, when it ended.
    expect(seen).toEqual(['1:firing', '10:sent firing']);
    const history = await readLog<Transition>(tableName, 'AH', clock.now(), 50);
    expect(history.find((t) => t.ruleId === 'files-down')?.silencedBy).toBe('upgrade');
  });
});

describe('deliveries', () => {
  it('retry a failing receiver with backoff and log every attempt', async () => {
    await rule({
      id: 'batches-down',
      name: 'Batches failing',
      endpoint: 'batches',
      condition: { kind: 'consecutive_failures', failures: 1, outOf: 1, recoverAfter: 1 },
      channels: ['hook', 'private', 'metadata'],
    });
    const at = T0 + 8 * 60 * MINUTE_MS;
    clock.set(at + 10_000);
    await record([
      ev({ ts: clock.now(), endpoint: 'batches', ok: false, status: 500, errorType: 'server_error' }),
    ]);
    clock.set(at + 30_000);
    answers = [500, 503];
    slept.length = 0;
    const before = received.length;
    const result = await evaluate();
    const [hook, privateOne, metadata] = result.deliveries as [Delivery, Delivery, Delivery];
    expect(hook.ok).toBe(true);
    expect(hook.attempts.map((a) => a.status)).toEqual([500, 503, 200]);
    expect(slept).toEqual([...RETRY_DELAYS_MS]);
    // The three attempts carry the same delivery id, so a receiver can drop repeats.
    const ids = received.slice(before).map((r) => r.headers['x-openai-status-delivery']);
    expect(new Set(ids).size).toBe(1);

    expect(privateOne.ok).toBe(false);
    expect(privateOne.refused).toBe('private');
    expect(privateOne.attempts).toHaveLength(1);
    expect(metadata.ok).toBe(false);
    expect(metadata.refused).toBe('metadata');

    const log = await readLog<Delivery>(tableName, 'AD', clock.now(), 10);
    expect(log.slice(0, 3).map((d) => [d.channelId, d.ok, d.attempts.length])).toEqual(
      expect.arrayContaining([
        ['hook', true, 3],
        ['private', false, 1],
        ['metadata', false, 1],
      ]),
    );
  });

  it('give up after the last retry and log the failure', async () => {
    await rule({
      id: 'assistants-down',
      name: 'Assistants failing',
      endpoint: 'assistants',
      condition: { kind: 'consecutive_failures', failures: 1, outOf: 1, recoverAfter: 1 },
      channels: ['hook'],
    });
    const at = T0 + 9 * 60 * MINUTE_MS;
    clock.set(at + 10_000);
    await record([
      ev({ ts: clock.now(), endpoint: 'assistants', ok: false, status: 500, errorType: 'server_error' }),
    ]);
    clock.set(at + 30_000);
    answers = [500, 500, 500];
    const result = await evaluate();
    const delivery = result.deliveries.find((d) => d.ruleId === 'assistants-down');
    expect(delivery?.ok).toBe(false);
    expect(delivery?.attempts.map((a) => a.status)).toEqual([500, 500, 500]);
    // A second evaluation of the same state sends nothing more (once per transition).
    clock.set(at + 40_000);
    const again = await evaluate();
    expect(again.deliveries.filter((d) => d.ruleId === 'assistants-down')).toEqual([]);
  });
});

describe('maintenance windows and the SLO', () => {
  it('leave burn-rate rules alone when SLO_EXCLUDE_MAINTENANCE=1, and not by default', async () => {
    const now = T0 + 12 * 60 * MINUTE_MS + 30_000;
    await saveMaintenance(tableName, {
      id: 'images-migration',
      title: 'Images migration',
      endpoints: ['images'],
      start: now - 30_000 - 15 * MINUTE_MS,
      end: now + 5 * MINUTE_MS,
      updatedAt: now,
    });
    await rule({
      id: 'img-burn',
      name: 'Images SLO',
      endpoint: 'images',
      condition: { kind: 'burn_rate' },
      channels: ['hook'],
    });
    // Two calls a minute over the last hour; every call of the last 10 minutes (inside the window) failed.
    const events: TraceEvent[] = [];
    for (let m = 1; m <= 60; m++) {
      for (let k = 0; k < 2; k++) {
        const fail = m <= 10 ? { ok: false, status: 503, errorType: 'server_error' as const } : {};
        events.push(ev({ ts: now - m * MINUTE_MS + k * 1000, endpoint: 'images', ...fail }));
      }
    }
    clock.set(now);
    await record(events);
    const fired = async () =>
      (await evaluate()).transitions.filter((t) => t.ruleId === 'img-burn').map((t) => t.to);
    const restore = setEnv({ SLO_EXCLUDE_MAINTENANCE: '1' });
    try {
      expect(await fired()).toEqual([]);
      const states = await listStates(tableName, 100);
      expect(states.find((s) => s.ruleId === 'img-burn')).toBeUndefined();
    } finally {
      restore();
    }
    // Counted: the same minutes burn the budget at 200× over 5 min, and 34× over the hour (minutes 1 … 59 ago).
    expect(await fired()).toEqual(['firing']);
    const state = (await listStates(tableName, 100)).find((s) => s.ruleId === 'img-burn');
    expect(state?.value.fastShort).toBeCloseTo(200, 6);
    expect(state?.value.fastLong).toBeCloseTo(20 / 118 / 0.005, 2);
  });
});

describe('channel secrets', () => {
  it('sign with the key from the store, for a channel written by the API', async () => {
    const item = await storedItem(tableName, alertChannelKey('hook'));
    expect(item).not.toHaveProperty('secret');
    expect(item).not.toHaveProperty('url');
    const chat = received.filter((r) => (JSON.parse(r.body) as Body).endpoint === 'chat');
    expect(chat.length).toBeGreaterThan(0);
    for (const r of chat) expect(verify(r.headers, r.body, SECRET)).toBe(true);
  });

  it('of a channel stored with them inline still sign, before and after the next write moves them', async () => {
    const OLD_SECRET = 'old-inline-secret-0123456789';
    await saveChannel(tableName, {
      id: 'old-hook',
      name: 'Old receiver',
      type: 'webhook',
      url: `${receiverUrl}?old=1`,
      secret: OLD_SECRET,
      updatedAt: T0,
    });
    await rule({
      id: 'fine-tunes-down',
      name: 'Fine-tunes failing',
      endpoint: 'fine_tunes',
      condition: { kind: 'consecutive_failures', failures: 1, outOf: 1, recoverAfter: 1 },
      channels: ['old-hook'],
    });
    const at = T0 + 14 * 60 * MINUTE_MS;
    const runOnce = async (minute: number, ok: boolean) => {
      clock.set(at + minute * MINUTE_MS + 10_000);
      await record([
        ev({
          ts: clock.now(),
          endpoint: 'fine_tunes',
          ...(ok ? {} : { ok: false, status: 500, errorType: 'server_error' as const }),
        }),
      ]);
      clock.set(at + minute * MINUTE_MS + 30_000);
      return (await evaluate()).deliveries.filter((d) => d.ruleId === 'fine-tunes-down');
    };
    expect((await runOnce(0, false)).map((d) => [d.event, d.ok])).toEqual([['firing', true]]);
    // The next channel write moves the inline secrets to the store.
    await writeChannel(
      getConfig(),
      { put: { id: 'mail', name: 'Mail', type: 'email', updatedAt: clock.now() } },
      { now: () => clock.now() },
    );
    const item = await storedItem(tableName, alertChannelKey('old-hook'));
    expect(item).not.toHaveProperty('secret');
    expect(item).toMatchObject({ secretRev: expect.any(String) });
    expect((await runOnce(1, true)).map((d) => [d.event, d.ok])).toEqual([['resolved', true]]);
    const sent = received.filter((r) => (JSON.parse(r.body) as Body).endpoint === 'fine_tunes');
    expect(sent.map((r) => (JSON.parse(r.body) as Body).event)).toEqual(['firing', 'resolved']);
    for (const r of sent) expect(verify(r.headers, r.body, OLD_SECRET)).toBe(true);
  });
});
