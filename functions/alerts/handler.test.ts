import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_SECRETS_FILE, resolveChannels } from '../../shared/alerts/channel-secrets.js';
import { getConfig } from '../../shared/config.js';
import { listChannels, listStates, saveChannel, writeState } from '../../shared/store/alerts.js';
import { alertChannelKey } from '../../shared/store/keys.js';
import { invokeHttp, ManualClock, setEnv, storedItem, useClock, useFreshStore } from '../../test/helpers.js';
import { handler } from './handler.js';

const KEY = 'test-ingest-key-0123';
const NOW = Date.UTC(2026, 10, 30, 9, 30, 0);
const AUTH = { 'x-api-key': KEY };
let restore: () => void;
/** The local channel secrets store lives in the data directory: a fresh one for this file. */
const dataDir = mkdtempSync(join(tmpdir(), 'alerts-handler-'));
const secretsFile = join(dataDir, CHANNEL_SECRETS_FILE);
const secretsDocument = () => JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, Body>;

beforeAll(async () => {
  await useFreshStore();
  setEnv({ INGEST_API_KEY: KEY, EGRESS_ALLOW: '127.0.0.1:9', DATA_DIR: dataDir });
  restore = useClock(new ManualClock(NOW));
});
afterAll(() => {
  restore();
  rmSync(dataDir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: loosely typed JSON answers keep the assertions readable
type Body = Record<string, any>;
const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) => {
  const res = await invokeHttp(handler, { method, path, ...(body === undefined ? {} : { body }), headers });
  return { status: res.statusCode, body: res.text ? res.json<Body>() : {} };
};

describe('rules', () => {
  it('start with the default set', async () => {
    const { status, body } = await call('GET', '/alerts/rules', undefined, {});
    expect(status).toBe(200);
    expect(body.rules.map((r: Body) => [r.id, r.condition.kind])).toEqual([
      ['probe-failures', 'consecutive_failures'],
      ['probe-slo-burn', 'burn_rate'],
    ]);
    expect(body.rules[1].condition.fast).toEqual({ longMinutes: 60, shortMinutes: 5, factor: 14.4 });
    expect(body.rules[1].condition.slow).toEqual({ longMinutes: 360, shortMinutes: 30, factor: 6 });
  });

  it('are written with the API key only', async () => {
    const rule = {
      name: 'Slow chat',
      endpoint: 'chat',
      condition: { kind: 'latency', thresholdMs: 3000 },
      forMinutes: 5,
    };
    expect((await call('POST', '/alerts/rules', rule, {})).status).toBe(401);
    const created = await call('POST', '/alerts/rules', { ...rule, id: 'slow-chat' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'slow-chat',
      source: 'probe',
      reminderMinutes: 240,
      enabled: true,
    });
    expect(created.body.condition).toEqual({
      kind: 'latency',
      thresholdMs: 3000,
      windowMinutes: 5,
      minSamples: 1,
    });
    expect((await call('POST', '/alerts/rules', { ...rule, id: 'slow-chat' })).status).toBe(409);

    const replaced = await call('PUT', '/alerts/rules/slow-chat', { ...rule, enabled: false });
    expect(replaced.body.enabled).toBe(false);
    expect((await call('GET', '/alerts/rules/slow-chat', undefined, {})).body.enabled).toBe(false);
    const state = {
      ruleId: 'slow-chat',
      endpoint: 'chat',
      status: 'pending' as const,
      since: NOW,
      evaluatedAt: NOW,
      value: {},
      summary: '',
      version: 1,
    };
    await writeState(getConfig().tableName, state, undefined);
    expect((await call('DELETE', '/alerts/rules/slow-chat')).status).toBe(204);
    expect((await call('GET', '/alerts/rules/slow-chat', undefined, {})).status).toBe(404);
    // Its states go with it.
    expect((await listStates(getConfig().tableName, 100)).filter((s) => s.ruleId === 'slow-chat')).toEqual(
      [],
    );
    expect((await call('DELETE', '/alerts/rules/slow-chat')).status).toBe(404);
  });

  it('answer a bad rule with a 400 naming the field', async () => {
    const bad = async (rule: unknown) => (await call('POST', '/alerts/rules', rule)).body.field;
    const base = { name: 'x', endpoint: 'chat' };
    expect(await bad({ ...base, condition: { kind: 'nope' } })).toBe('body.condition.kind');
    expect(await bad({ ...base, condition: { kind: 'consecutive_failures', failures: 6, outOf: 5 } })).toBe(
      'body.condition.failures',
    );
    expect(
      await bad({
        ...base,
        condition: { kind: 'burn_rate', fast: { longMinutes: 5, shortMinutes: 60, factor: 14.4 } },
      }),
    ).toBe('body.condition.fast.shortMinutes');
    expect(
      await bad({ ...base, condition: { kind: 'latency', thresholdMs: 1 }, channels: ['missing'] }),
    ).toBe('body.channels.0');
    expect(await bad({ ...base, condition: { kind: 'latency', thresholdMs: 1 }, extra: 1 })).toBe('body');
  });
});

describe('channels', () => {
  it('keep their secrets: stored, never returned', async () => {
    const secret = 'hmac-secret-abcdefghijkl';
    const created = await call('POST', '/alerts/channels', {
      id: 'ops',
      name: 'Ops hook',
      type: 'webhook',
      url: 'http://127.0.0.1:9/hook?token=abc',
      secret,
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: 'ops',
      name: 'Ops hook',
      type: 'webhook',
      destination: 'http://127.0.0.1:9/…',
      secretSet: true,
      updatedAt: NOW,
    });
    const listed = await call('GET', '/alerts/channels');
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(JSON.stringify(listed.body)).not.toContain('token=abc');
    expect((await call('GET', '/alerts/channels', undefined, {})).status).toBe(401);

    // The table item holds a reference only; the secrets are in the data directory's store (mode 600).
    const item = await storedItem(getConfig().tableName, alertChannelKey('ops'));
    expect(JSON.stringify(item)).not.toContain(secret);
    expect(JSON.stringify(item)).not.toContain('token=abc');
    expect(item).toMatchObject({ destination: 'http://127.0.0.1:9/…', secretRev: expect.any(String) });
    expect(secretsDocument().ops).toEqual({
      rev: item?.secretRev,
      url: 'http://127.0.0.1:9/hook?token=abc',
      secret,
    });
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    const resolved = await resolveChannels(getConfig(), await listChannels(getConfig().tableName, 50), NOW);
    expect(resolved.get('ops')).toMatchObject({
      type: 'webhook',
      url: 'http://127.0.0.1:9/hook?token=abc',
      secret,
    });
  });

  it('are replaced by PUT (a new key, a new revision), and 404 when unknown', async () => {
    const before = (await storedItem(getConfig().tableName, alertChannelKey('ops')))?.secretRev;
    const rotated = 'rotated-secret-0123456789';
    const body = { name: 'Ops hook', type: 'webhook', url: 'http://127.0.0.1:9/hook2', secret: rotated };
    const replaced = await call('PUT', '/alerts/channels/ops', body);
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: 'ops', destination: 'http://127.0.0.1:9/…', secretSet: true });
    expect(JSON.stringify(replaced.body)).not.toContain(rotated);
    const after = (await storedItem(getConfig().tableName, alertChannelKey('ops')))?.secretRev;
    expect(after).not.toBe(before);
    expect(secretsDocument().ops).toEqual({ rev: after, url: 'http://127.0.0.1:9/hook2', secret: rotated });
    expect((await call('PUT', '/alerts/channels/nope', body)).status).toBe(404);
    expect((await call('PUT', '/alerts/channels/ops', { ...body, id: 'other' })).body.field).toBe('body.id');
    expect((await call('PUT', '/alerts/channels/ops', body, {})).status).toBe(401);
  });

  it('written at the same time both keep their secrets (the writes take turns under a lease)', async () => {
    const hook = (id: string) => ({
      id,
      name: id,
      type: 'webhook',
      url: `http://127.0.0.1:9/${id}`,
      secret: `secret-of-${id}-0123456789`,
    });
    const answers = await Promise.all(
      ['twin-a', 'twin-b', 'twin-c'].map((id) => call('POST', '/alerts/channels', hook(id))),
    );
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201]);
    const document = secretsDocument();
    for (const id of ['twin-a', 'twin-b', 'twin-c']) {
      const item = await storedItem(getConfig().tableName, alertChannelKey(id));
      expect(document[id], id).toEqual({
        rev: item?.secretRev,
        url: `http://127.0.0.1:9/${id}`,
        secret: `secret-of-${id}-0123456789`,
      });
    }
    for (const id of ['twin-a', 'twin-b', 'twin-c'])
      expect((await call('DELETE', `/alerts/channels/${id}`)).status).toBe(204);
  });

  it('written by an earlier version (secrets in the item) keep working, and move to the store on the next write', async () => {
    const tableName = getConfig().tableName;
    const legacy = {
      id: 'legacy',
      name: 'Old hook',
      type: 'webhook' as const,
      url: 'http://127.0.0.1:9/old?token=xyz',
      secret: 'legacy-secret-0123456789',
      updatedAt: NOW - 1000,
    };
    const legacySlack = {
      id: 'legacy-slack',
      name: 'Old Slack',
      type: 'slack' as const,
      url: 'http://127.0.0.1:9/services/T0/B0/x',
      updatedAt: NOW - 1000,
    };
    await saveChannel(tableName, legacy);
    await saveChannel(tableName, legacySlack);
    // Read as they are: listed without their secrets, resolved from the item.
    const listed = await call('GET', '/alerts/channels');
    expect(listed.body.channels.find((c: Body) => c.id === 'legacy')).toEqual({
      id: 'legacy',
      name: 'Old hook',
      type: 'webhook',
      destination: 'http://127.0.0.1:9/…',
      secretSet: true,
      updatedAt: NOW - 1000,
    });
    expect(JSON.stringify(listed.body)).not.toMatch(/token=xyz|legacy-secret|services\/T0/);
    let resolved = await resolveChannels(getConfig(), await listChannels(tableName, 50), NOW);
    expect(resolved.get('legacy')).toMatchObject({ url: legacy.url, secret: legacy.secret });
    expect(resolved.get('legacy-slack')).toMatchObject({ url: legacySlack.url });

    // Any channel write (here: a new e-mail channel) moves both to the store.
    expect((await call('POST', '/alerts/channels', { id: 'mail', name: 'Mail', type: 'email' })).status).toBe(
      201,
    );
    for (const id of ['legacy', 'legacy-slack']) {
      const item = await storedItem(tableName, alertChannelKey(id));
      expect(item, id).not.toHaveProperty('url');
      expect(item, id).not.toHaveProperty('secret');
      expect(item, id).toMatchObject({ destination: 'http://127.0.0.1:9/…', secretRev: expect.any(String) });
      expect(secretsDocument()[id]?.rev).toBe(item?.secretRev);
    }
    resolved = await resolveChannels(getConfig(), await listChannels(tableName, 50), NOW);
    expect(resolved.get('legacy')).toMatchObject({ type: 'webhook', url: legacy.url, secret: legacy.secret });
    expect(resolved.get('legacy-slack')).toMatchObject({ type: 'slack', url: legacySlack.url });
    expect(resolved.get('mail')).toMatchObject({ type: 'email' });
    expect(secretsDocument()).not.toHaveProperty('mail');
  });

  it('refuse destinations the egress guard refuses', async () => {
    for (const url of [
      'http://10.0.0.8/x',
      'http://169.254.169.254/latest',
      'http://127.0.0.1:8080/x',
      'ftp://example.com/x',
    ]) {
      const { status, body } = await call('POST', '/alerts/channels', { name: 'x', type: 'slack', url });
      expect(status, url).toBe(400);
      expect(body.field).toBe('body.url');
    }
  });

  it('let rules name them', async () => {
    const rule = {
      name: 'Chat down',
      endpoint: 'chat',
      condition: { kind: 'consecutive_failures' },
      channels: ['ops'],
    };
    expect((await call('POST', '/alerts/rules', rule)).status).toBe(201);
    expect((await call('DELETE', '/alerts/channels/ops')).status).toBe(204);
    // Its secrets go with it.
    expect(secretsDocument()).not.toHaveProperty('ops');
    expect((await call('DELETE', '/alerts/channels/ops')).status).toBe(404);
  });
});

describe('maintenance windows', () => {
  it('are listed with their occurrences in the range', async () => {
    const day = Date.UTC(2026, 10, 30);
    const once = {
      id: 'db',
      title: 'Database upgrade',
      start: NOW + 3_600_000,
      end: NOW + 7_200_000,
      endpoints: ['chat'],
    };
    const nightly = {
      id: 'nightly',
      title: 'Nightly deploy',
      start: day,
      recurrence: { every: 'day', at: '02:00', durationMinutes: 30 },
    };
    expect((await call('POST', '/maintenance', once, {})).status).toBe(401);
    expect((await call('POST', '/maintenance', once)).status).toBe(201);
    expect((await call('POST', '/maintenance', nightly)).status).toBe(201);
    const { body } = await invokeHttp(handler, {
      path: '/maintenance',
      query: { from: day, to: day + 2 * 86_400_000 },
    }).then((r) => ({ body: r.json<Body>() }));
    expect(body.occurrences.map((o: Body) => [o.windowId, new Date(o.start).toISOString()])).toEqual([
      ['nightly', '2026-11-30T02:00:00.000Z'],
      ['db', '2026-11-30T10:30:00.000Z'],
      ['nightly', '2026-12-01T02:00:00.000Z'],
    ]);
    expect((await call('POST', '/maintenance', { title: 'x', start: NOW })).body.field).toBe('body.end');
    expect((await call('DELETE', '/maintenance/db')).status).toBe(204);
  });
});

describe('GET /alerts', () => {
  it('gives the rules with their states, the logs and the maintenance', async () => {
    const res = await invokeHttp(handler, { path: '/alerts' });
    expect(res.statusCode).toBe(200);
    const body = res.json<Body>();
    expect(body.firing).toEqual([]);
    expect(body.rules.length).toBeGreaterThanOrEqual(2);
    expect(body.transitions).toEqual([]);
    expect(body.deliveries).toEqual([]);
    expect(body.maintenance.windows.map((w: Body) => w.id)).toEqual(['nightly']);
    expect(Object.keys(body.definitions)).toContain('burn_rate');
  });
});

describe('maintenance in /incidents', () => {
  it('lists the occurrences in range beside the incidents, for the charts and the list', async () => {
    const { handler: incidents } = await import('../incidents/handler.js');
    const res = await invokeHttp(incidents, { path: '/incidents', query: { window: 1440 } });
    expect(res.statusCode).toBe(200);
    const items = res.json<Body>().items.filter((i: Body) => i.kind === 'maintenance');
    // The nightly window at 02:00 UTC today (the one-off `db` was deleted above).
    expect(items).toEqual([
      {
        kind: 'maintenance',
        id: `nightly@${Date.UTC(2026, 10, 30, 2)}`,
        title: 'Nightly deploy',
        start: Date.UTC(2026, 10, 30, 2),
        end: Date.UTC(2026, 10, 30, 2, 30),
      },
    ]);
  });
});
