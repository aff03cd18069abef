import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import {
  checkEgressUrl,
  classifyAddress,
  EgressLimitError,
  EgressRefusedError,
  egressPolicy,
  guardedFetch,
  NO_EXCEPTIONS,
  type Resolver,
} from './egress.js';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['224.0.0.1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::1', 'reserved'],
    ['not-an-ip', 'unresolvable'],
  ])('%s is refused as %s', (ip, reason) => {
    expect(classifyAddress(ip)).toBe(reason);
  });

  it.each([
    '8.8.8.8',
    '93.184.216.34',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '64:ff9b::808:808',
  ])('%s is public', (ip) => {
    expect(classifyAddress(ip)).toBeUndefined();
  });
});

const resolverOf =
  (table: Record<string, readonly string[]>): Resolver =>
  async (host) =>
    table[host] ?? [];

describe('checkEgressUrl', () => {
  it.each([
    'http://0x7f.1/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::1]:8080/',
  ])('refuses the loopback literal %s in any notation', async (url) => {
    const decision = await checkEgressUrl(url, NO_EXCEPTIONS, resolverOf({}));
    expect(decision).toMatchObject({ ok: false, reason: 'loopback' });
  });

  it.each([
    'ftp://example.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'data:text/html,hi',
    'not a url',
  ])('refuses %s: only http and https', async (url) => {
    const decision = await checkEgressUrl(url, NO_EXCEPTIONS, resolverOf({}));
    expect(decision).toMatchObject({ ok: false, reason: 'scheme' });
    if (!decision.ok) expect(decision.message).toContain('only http and https');
  });

  it('refuses URLs carrying credentials', async () => {
    const decision = await checkEgressUrl('https://user:pw@example.com/', NO_EXCEPTIONS, resolverOf({}));
    expect(decision).toMatchObject({ ok: false, reason: 'credentials' });
  });

  it('judges names by what they resolve to, every answer', async () => {
    const resolver = resolverOf({
      'public.test': ['93.184.216.34'],
      'inside.test': ['10.0.0.7'],
      'mixed.test': ['93.184.216.34', '192.168.0.3'],
      'imds.test': ['169.254.169.254'],
    });
    expect(await checkEgressUrl('https://public.test/x', NO_EXCEPTIONS, resolver)).toMatchObject({
      ok: true,
      addresses: ['93.184.216.34'],
    });
    const inside = await checkEgressUrl('https://inside.test/', NO_EXCEPTIONS, resolver);
    expect(inside).toMatchObject({ ok: false, reason: 'private' });
    if (!inside.ok)
      expect(inside.message).toBe(
        'Refused https://inside.test/ (10.0.0.7): it is a private network address.',
      );
    expect(await checkEgressUrl('https://mixed.test/', NO_EXCEPTIONS, resolver)).toMatchObject({
      ok: false,
      reason: 'private',
    });
    expect(await checkEgressUrl('http://imds.test/', NO_EXCEPTIONS, resolver)).toMatchObject({
      ok: false,
      reason: 'metadata',
    });
    expect(await checkEgressUrl('http://nowhere.test/', NO_EXCEPTIONS, resolver)).toMatchObject({
      ok: false,
      reason: 'unresolvable',
    });
  });

  it('lets explicit host:port exceptions through, by name or by address, and nothing else', async () => {
    const policy = egressPolicy({ egressAllow: ['127.0.0.1:8080', 'app.test:9000', '[::1]:8443'] });
    const resolver = resolverOf({ 'app.test': ['127.0.0.1'], localhost: ['127.0.0.1'] });
    expect(await checkEgressUrl('http://127.0.0.1:8080/', policy, resolver)).toMatchObject({ ok: true });
    expect(await checkEgressUrl('http://localhost:8080/', policy, resolver)).toMatchObject({ ok: true });
    expect(await checkEgressUrl('http://app.test:9000/', policy, resolver)).toMatchObject({ ok: true });
    expect(await checkEgressUrl('https://[::1]:8443/', policy, resolver)).toMatchObject({ ok: true });
    expect(await checkEgressUrl('http://127.0.0.1:8081/', policy, resolver)).toMatchObject({ ok: false });
    expect(await checkEgressUrl('http://app.test/', policy, resolver)).toMatchObject({ ok: false });
  });

  it('never allows metadata, link-local or the Lambda runtime API, whatever the exceptions say', async () => {
    const policy = egressPolicy({
      egressAllow: ['169.254.169.254:80', '169.254.10.10:80', '[fd00:ec2::254]:80', '127.0.0.1:9001'],
    });
    expect(await checkEgressUrl('http://169.254.169.254/latest/meta-data/', policy)).toMatchObject({
      ok: false,
      reason: 'metadata',
    });
    expect(await checkEgressUrl('http://169.254.10.10/', policy)).toMatchObject({
      ok: false,
      reason: 'link-local',
    });
    expect(await checkEgressUrl('http://[fd00:ec2::254]/', policy)).toMatchObject({
      ok: false,
      reason: 'metadata',
    });
    process.env.AWS_LAMBDA_RUNTIME_API = '127.0.0.1:9001';
    try {
      expect(
        await checkEgressUrl('http://127.0.0.1:9001/2018-06-01/runtime/invocation/next', policy),
      ).toMatchObject({ ok: false, reason: 'metadata' });
    } finally {
      delete process.env.AWS_LAMBDA_RUNTIME_API;
    }
  });
});

describe('EGRESS_ALLOW', () => {
  it('parses host:port pairs and names the variable on a bad one', () => {
    expect(parseConfig({ EGRESS_ALLOW: ' localhost:8080, [::1]:8443 ,10.0.0.5:80' }).egressAllow).toEqual([
      'localhost:8080',
      '[::1]:8443',
      '10.0.0.5:80',
    ]);
    expect(parseConfig({}).egressAllow).toBeUndefined();
    expect(() => parseConfig({ EGRESS_ALLOW: 'localhost' })).toThrow(/EGRESS_ALLOW="localhost".*host:port/);
    expect(() => parseConfig({ EGRESS_ALLOW: 'localhost:70000' })).toThrow(/EGRESS_ALLOW/);
  });
});

describe('guardedFetch', () => {
  let server: Server;
  let port: number;
  const requests: { method: string; url: string; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', body });
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/ok') res.end('hello');
        else if (url.pathname === '/to-ok') res.writeHead(302, { location: '/ok' }).end();
        else if (url.pathname === '/see-other') res.writeHead(303, { location: '/ok' }).end();
        else if (url.pathname === '/to-private')
          res.writeHead(302, { location: 'http://10.0.0.1/admin' }).end();
        else if (url.pathname === '/to-metadata') {
          res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        } else if (url.pathname === '/to-other-port') {
          res.writeHead(307, { location: `http://127.0.0.1:${url.searchParams.get('port')}/` }).end();
        } else if (url.pathname === '/loop') res.writeHead(302, { location: '/loop' }).end();
        else if (url.pathname === '/big') res.end('x'.repeat(10_000));
        else res.writeHead(404).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.close();
  });
  afterEach(() => {
    requests.length = 0;
  });

  const allowed = () => egressPolicy({ egressAllow: [`127.0.0.1:${port}`, `app.test:${port}`] });

  it('fetches an allowed URL and follows a redirect, checking each hop', async () => {
    const response = await guardedFetch(`http://127.0.0.1:${port}/to-ok`, {}, allowed());
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello');
    expect(response.url).toBe(`http://127.0.0.1:${port}/ok`);
    expect(response.redirected).toBe(true);
  });

  it('refuses the start URL before any connection', async () => {
    await expect(guardedFetch(`http://127.0.0.1:${port}/ok`, {}, NO_EXCEPTIONS)).rejects.toMatchObject({
      name: 'EgressRefusedError',
      reason: 'loopback',
    });
    expect(requests).toEqual([]);
  });

  it.each([
    ['/to-private', 'private', 'http://10.0.0.1/admin'],
    ['/to-metadata', 'metadata', 'http://169.254.169.254/latest/meta-data/'],
  ])('refuses a redirect %s to a %s address', async (path, reason, target) => {
    const error = await guardedFetch(`http://127.0.0.1:${port}${path}`, {}, allowed()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EgressRefusedError);
    expect(error).toMatchObject({ reason, url: target });
  });

  it('refuses a redirect to a loopback port that is not an exception', async () => {
    await expect(
      guardedFetch(`http://127.0.0.1:${port}/to-other-port?port=${port + 1}`, {}, allowed()),
    ).rejects.toMatchObject({ reason: 'loopback' });
  });

  it('stops a redirect loop', async () => {
    await expect(
      guardedFetch(`http://127.0.0.1:${port}/loop`, {}, allowed(), { maxRedirects: 3 }),
    ).rejects.toMatchObject({ reason: 'too-many-redirects' });
    expect(requests).toHaveLength(4);
  });

  it('cuts off a body over the limit', async () => {
    await expect(
      guardedFetch(`http://127.0.0.1:${port}/big`, {}, allowed(), { maxBytes: 1000 }),
    ).rejects.toBeInstanceOf(EgressLimitError);
  });

  it('turns a POST answered 303 into a GET without the body', async () => {
    const response = await guardedFetch(
      `http://127.0.0.1:${port}/see-other`,
      { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } },
      allowed(),
    );
    expect(response.status).toBe(200);
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/see-other', '{"a":1}'],
      ['GET', '/ok', ''],
    ]);
  });

  it('connects only to a checked address: a DNS answer that changes after the check is refused', async () => {
    let calls = 0;
    // The first answer (the check) is public; the second (the connection) points inside.
    const rebinding: Resolver = async () => (calls++ === 0 ? ['93.184.216.34'] : ['127.0.0.1']);
    await expect(
      guardedFetch(`http://rebind.test:${port}/ok`, {}, NO_EXCEPTIONS, { resolver: rebinding }),
    ).rejects.toMatchObject({ name: 'EgressRefusedError', reason: 'loopback' });
    expect(calls).toBe(2);
    expect(requests).toEqual([]);
  });

  it('reaches an allowed name through the pinned lookup', async () => {
    const response = await guardedFetch(`http://app.test:${port}/ok`, {}, allowed(), {
      resolver: resolverOf({ 'app.test': ['127.0.0.1'] }),
    });
    expect(await response.text()).toBe('hello');
  });
});
