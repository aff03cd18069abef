/**
 * The two runners and the checking proxy against pages served on loopback:
 * steps that pass and fail as they should, and every egress refusal (the
 * start URL, a redirect to a private or metadata address, a page that fetches
 * one, a name that resolves to a private address) refused with a clear
 * message, with the forbidden server never reached. The browser is Debian's
 * Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from '../../test/synthetics-site.js';
import { egressPolicy, type Resolver, systemResolver } from '../net/egress.js';
import { browserAttempt } from './browser-runner.js';
import { httpAttempt } from './http-runner.js';
import { startCheckingProxy } from './proxy.js';
import { type MonitorSpecInput, monitorSpec } from './spec.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const launch = { executablePath: CHROMIUM, args: [] };
const hasBrowser = existsSync(CHROMIUM);

let site: TestSite;
let policy: ReturnType<typeof egressPolicy>;
/** `internal.test` resolves to a private address; everything else as the system says. */
const resolver: Resolver = (host) =>
  host === 'internal.test' ? Promise.resolve(['10.0.0.7']) : systemResolver(host);

beforeAll(async () => {
  site = await startTestSite();
  policy = egressPolicy({ egressAllow: [site.hostPort] });
});
afterAll(() => site.close());

const spec = (input: Omit<MonitorSpecInput, 'name'> & { name?: string }) =>
  monitorSpec.parse({ name: 'test', timeoutMs: 15_000, ...input });

describe('HTTP runner', () => {
  it('checks status, text, title and URL, and skips what needs a browser', async () => {
    const attempt = await httpAttempt({
      spec: spec({
        startUrl: `${site.url}/`,
        steps: [
          { action: 'expectStatus', status: 200 },
          { action: 'expectTitle', title: 'Demo Shop', match: 'equals' },
          { action: 'expectText', text: 'Demo Shop' },
          { action: 'fill', target: { label: 'Search' }, value: 'shoes' },
          { action: 'expectUrl', url: '127.0.0.1' },
        ],
      }),
      secrets: {},
      policy,
    });
    expect(attempt.ok).toBe(true);
    expect(attempt.status).toBe(200);
    expect(attempt.steps.map((s) => [s.action, s.ok, s.skipped ?? false])).toEqual([
      ['goto', true, false],
      ['expectStatus', true, false],
      ['expectTitle', true, false],
      ['expectText', true, false],
      ['fill', true, true],
      ['expectUrl', true, false],
    ]);
  });

  it('fails on a missing text and skips the rest', async () => {
    const attempt = await httpAttempt({
      spec: spec({
        startUrl: `${site.url}/`,
        steps: [
          { action: 'expectText', text: 'Sold out' },
          { action: 'expectStatus', status: 200 },
        ],
      }),
      secrets: {},
      policy,
    });
    expect(attempt.ok).toBe(false);
    expect(attempt.failure).toEqual({
      kind: 'expectation',
      message: 'expect text "Sold out": text "Sold out" not found on the page',
    });
    expect(attempt.steps[2]).toMatchObject({ ok: false, skipped: true });
  });

  it.each([
    ['a loopback start URL not in EGRESS_ALLOW', () => `${site.forbiddenUrl}/`, /loopback address/],
    ['the metadata address', () => 'http://169.254.169.254/latest/meta-data/', /metadata address/],
    ['an IP literal in hex', () => 'http://0x7f.0.0.1/', /loopback address/],
    [
      'a redirect to a private address',
      () => `${site.url}/redirect-private`,
      /Refused http:\/\/127\.0\.0\.1:\d+\/secret.*loopback/,
    ],
    [
      'a redirect to the metadata address',
      () => `${site.url}/redirect-metadata`,
      /169\.254\.169\.254.*metadata/,
    ],
    [
      'a name that resolves to a private address',
      () => 'http://internal.test/',
      /10\.0\.0\.7.*private network/,
    ],
    ['a file: URL', () => 'file:///proc/self/environ', /only http and https/],
  ])('refuses %s', async (_case, url, message) => {
    const before = site.forbiddenHits();
    const attempt = await httpAttempt({
      spec: { ...spec({ startUrl: `${site.url}/`, steps: [] }), startUrl: url() },
      secrets: {},
      policy,
      resolver,
    });
    expect(attempt.ok).toBe(false);
    expect(attempt.failure?.kind).toBe('refused');
    expect(attempt.failure?.message).toMatch(message);
    expect(site.forbiddenHits()).toBe(before);
  });
});

describe('checking proxy', () => {
  it('refuses a CONNECT to a forbidden address and says why', async () => {
    const proxy = await startCheckingProxy({ policy, maxBytes: 1_000_000, resolver });
    try {
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({
          host: '127.0.0.1',
          port: Number(new URL(proxy.url).port),
          method: 'CONNECT',
          path: 'internal.test:443',
        });
        req.on('connect', (response, socket) => {
          socket.destroy();
          resolve(response.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(403);
      expect(proxy.refusals).toEqual([
        expect.objectContaining({
          reason: 'private',
          message: expect.stringMatching(/internal\.test.*10\.0\.0\.7/),
        }),
      ]);
    } finally {
      await proxy.close();
    }
  });
});

describe.skipIf(!hasBrowser)('browser runner', () => {
  const tempProfiles = async () =>
    (await readdir(tmpdir())).filter((name) => name.startsWith('synthetic-')).length;

  it('fills, presses Enter and finds the result; cleans its profile', async () => {
    const profilesBefore = await tempProfiles();
    const attempt = await browserAttempt({
      spec: spec({
        startUrl: `${site.url}/`,
        steps: [
          { action: 'expectTitle', title: 'Demo Shop' },
          { action: 'fill', target: { label: 'Search' }, value: { secret: 'QUERY' } },
          { action: 'press', key: 'Enter', target: { role: 'searchbox' } },
          { action: 'expectText', text: 'Results for shoes' },
          { action: 'expectUrl', url: '/search?q=shoes' },
          { action: 'waitFor', target: { testId: 'results' } },
          { action: 'screenshot' },
          { action: 'goto', url: `${site.url}/` },
          { action: 'click', target: { role: 'link', name: 'About us' } },
          { action: 'expectText', text: 'We sell things', target: { css: 'p' } },
        ],
      }),
      secrets: { QUERY: 'shoes' },
      policy,
      launch,
    });
    expect(attempt.failure).toBeUndefined();
    expect(attempt.ok).toBe(true);
    expect(attempt.status).toBe(200);
    expect(attempt.steps.every((s) => s.ok && !s.skipped)).toBe(true);
    // The screenshot step's and the final one, both JPEG.
    expect(attempt.screenshots).toHaveLength(2);
    for (const image of attempt.screenshots) expect([...image.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(await tempProfiles()).toBe(profilesBefore);
  }, 60_000);

  it('fails a step that does not hold, with a screenshot of the failure', async () => {
    const attempt = await browserAttempt({
      spec: spec({
        startUrl: `${site.url}/broken`,
        steps: [
          { action: 'expectStatus', status: 200 },
          { action: 'expectText', text: 'never here' },
        ],
      }),
      secrets: {},
      policy,
      launch,
    });
    expect(attempt.ok).toBe(false);
    expect(attempt.failure).toEqual({
      kind: 'status',
      message: 'expect status 200: status 500, expected 200',
    });
    expect(attempt.steps.map((s) => [s.ok, s.skipped ?? false])).toEqual([
      [true, false],
      [false, false],
      [false, true],
    ]);
    expect(attempt.screenshots).toHaveLength(1);
  }, 60_000);

  it('refuses a redirect to a private address', async () => {
    const before = site.forbiddenHits();
    const attempt = await browserAttempt({
      spec: spec({ startUrl: `${site.url}/redirect-private`, steps: [] }),
      secrets: {},
      policy,
      launch,
    });
    expect(attempt.ok).toBe(false);
    expect(attempt.failure?.kind).toBe('refused');
    expect(attempt.failure?.message).toMatch(/Refused http:\/\/127\.0\.0\.1:\d+\/secret .*loopback address/);
    expect(site.forbiddenHits()).toBe(before);
  }, 60_000);

  it('refuses a redirect to the metadata address', async () => {
    const attempt = await browserAttempt({
      spec: spec({ startUrl: `${site.url}/redirect-metadata`, steps: [] }),
      secrets: {},
      policy,
      launch,
    });
    expect(attempt.failure?.kind).toBe('refused');
    expect(attempt.failure?.message).toMatch(/169\.254\.169\.254.*metadata address/);
  }, 60_000);

  it('blocks what a page fetches from a forbidden address, and logs it', async () => {
    const before = site.forbiddenHits();
    const attempt = await browserAttempt({
      spec: spec({ startUrl: `${site.url}/leaky`, steps: [{ action: 'expectText', text: 'Loaded' }] }),
      secrets: {},
      policy,
      launch,
    });
    expect(attempt.ok).toBe(true);
    expect(site.forbiddenHits()).toBe(before);
    const blocked = attempt.logs.filter((l) => l.startsWith('blocked: '));
    expect(blocked.some((l) => /\/pixel\.png .*loopback address/.test(l))).toBe(true);
  }, 60_000);

  it('refuses a start URL that resolves to a private address, before the browser asks', async () => {
    const attempt = await browserAttempt({
      spec: spec({ startUrl: 'http://internal.test/', steps: [] }),
      secrets: {},
      policy,
      launch,
      resolver,
    });
    expect(attempt.failure?.kind).toBe('refused');
    expect(attempt.failure?.message).toMatch(/internal\.test.*10\.0\.0\.7.*private network/);
  }, 60_000);
});
