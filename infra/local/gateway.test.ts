import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, useClock } from '../../shared/clock.js';
import { CORS_HEADERS, PLAIN_HTTP_SECURITY_HEADERS } from '../../shared/http/headers.js';
import { httpHandler } from '../../shared/http/middleware.js';
import type { RouteSpec } from '../../shared/routes.js';
import { type Gateway, startGateway } from './gateway.js';
import type { AnyHandler } from './lambda.js';

const ROUTES: readonly RouteSpec[] = [
  { method: 'GET', path: '/echo', function: 'echo', auth: 'none', streaming: false },
  { method: 'POST', path: '/echo', function: 'echo', auth: 'none', streaming: false },
  { method: 'GET', path: '/items/{id}', function: 'items', auth: 'none', streaming: false },
  { method: 'GET', path: '/stream', function: 'stream', auth: 'none', streaming: true },
  { method: 'GET', path: '/binary', function: 'binary', auth: 'none', streaming: false },
  { method: 'GET', path: '/boom', function: 'boom', auth: 'none', streaming: false },
  { method: 'GET', path: '/crash', function: 'crash', auth: 'none', streaming: false },
];

const SECRET_MESSAGE = 'db password is hunter2';
const BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const INDEX_HTML = '<!doctype html><title>dashboard</title><div id="app"></div>';
const APP_JS = 'console.log("dashboard");';
const PARENT_SECRET = 'PARENT-SECRET-do-not-serve';

/** Every event the handlers received, newest last. */
const events: APIGatewayProxyEventV2[] = [];
const loaded: string[] = [];

/** A promise the test resolves when it chooses. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
/** What the streaming handler waits for before its 2nd and 3rd line: the test opens them one by one. */
let streamGates = [gate(), gate()];

const HANDLERS: Record<string, AnyHandler> = {
  echo: httpHandler(
    async (request) => {
      events.push(request.event);
      return {
        body: {
          requestId: request.requestId,
          method: request.method,
          path: request.path,
          headers: request.headers,
          query: request.query,
          pathParameters: request.pathParameters,
          rawBody: request.rawBody ?? null,
          body: request.body ?? null,
          functionName: request.context.functionName,
          remainingMs: request.context.getRemainingTimeInMillis(),
        },
      };
    },
    { routes: ROUTES },
  ),
  items: httpHandler(
    async (request) => {
      events.push(request.event);
      return { body: { id: request.pathParameters.id } };
    },
    { routes: ROUTES },
  ),
  stream: httpHandler(
    async () => {
      const gates = streamGates;
      async function* lines() {
        for (let i = 0; i < 3; i++) {
          if (i > 0) await gates[i - 1]?.promise;
          yield `${JSON.stringify({ line: i })}\n`;
        }
      }
      return {
        statusCode: 200,
        headers: { 'content-type': 'application/x-ndjson' },
        body: Readable.from(lines()),
      };
    },
    { routes: ROUTES, streaming: true },
  ),
  // Sets a header CloudFront's policy overrides.
  binary: httpHandler(async () => ({ headers: { 'x-frame-options': 'SAMEORIGIN' }, body: BYTES }), {
    routes: ROUTES,
  }),
  boom: httpHandler(
    async () => {
      throw new Error(SECRET_MESSAGE);
    },
    { routes: ROUTES },
  ),
  // A function that fails outright (no middleware to turn the error into an answer).
  crash: (async () => {
    throw new Error(SECRET_MESSAGE);
  }) as AnyHandler,
};

let tmp: string;
let gateway: Gateway;
let bare: Gateway;

async function startTestGateway(webDir: string): Promise<Gateway> {
  return startGateway({
    host: '127.0.0.1',
    port: 0,
    routes: ROUTES,
    loadHandler: async (name) => {
      loaded.push(name);
      const handler = HANDLERS[name];
      if (!handler) throw new Error(`no handler ${name}`);
      return handler;
    },
    timeoutSec: () => 7,
    webDir,
  });
}

/** A request with the path sent exactly as given (fetch would normalise `..` and `%2e%2e` away). */
function rawRequest(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes and reads the answer until the server closes the connection. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

type Headers = Record<string, string | string[] | undefined>;

const headersOf = (res: Response): Headers => Object.fromEntries(res.headers.entries());

/** The security headers CloudFront adds, HSTS aside (plain HTTP). */
function expectSecurityHeaders(headers: Headers) {
  for (const [name, value] of Object.entries(PLAIN_HTTP_SECURITY_HEADERS)) {
    expect(headers[name], name).toBe(value);
  }
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['strict-transport-security']).toBeUndefined();
}

/** A gateway error: problem+json with CORS and a request id, like the middleware's answers. */
function expectGatewayProblem(headers: Headers, body: string, status: number) {
  expect(headers['content-type']).toBe('application/problem+json');
  expect(headers['access-control-allow-origin']).toBe('*');
  expect(headers['access-control-expose-headers']).toBe(CORS_HEADERS['access-control-expose-headers']);
  const requestId = headers['x-request-id'];
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(headers['content-length']).toBe(String(Buffer.byteLength(body)));
  const problem = JSON.parse(body) as { status: number; title: string; requestId: string };
  expect(problem).toMatchObject({ type: 'about:blank', status, title: expect.any(String) });
  expect(problem.requestId).toBe(requestId);
  expectSecurityHeaders(headers);
}

const lastEvent = (): APIGatewayProxyEventV2 => {
  const event = events.at(-1);
  if (!event) throw new Error('no event received');
  return event;
};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gateway-test-'));
  // A secret next to the web dir: traversal out of the web dir would reach it.
  await writeFile(join(tmp, 'package.json'), JSON.stringify({ name: PARENT_SECRET }));
  await writeFile(join(tmp, 'secret'), PARENT_SECRET);
  await mkdir(join(tmp, 'web', 'assets'), { recursive: true });
  await writeFile(join(tmp, 'web', 'index.html'), INDEX_HTML);
  await writeFile(join(tmp, 'web', 'assets', 'app.js'), APP_JS);
  await writeFile(join(tmp, 'web', 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await mkdir(join(tmp, 'bare'));
  gateway = await startTestGateway(join(tmp, 'web'));
  bare = await startTestGateway(join(tmp, 'bare'));
});

afterAll(async () => {
  await gateway?.close();
  await bare?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  events.length = 0;
  loaded.length = 0;
});

describe('API routes', () => {
  it('builds the payload v2 event API Gateway would send', async () => {
    // A pinned clock: the event's time and the context's deadline are then exact, not "close to now".
    const at = Date.UTC(2026, 2, 4, 5, 6, 7, 890);
    const restoreClock = useClock(new ManualClock(at));
    const res = await fetch(`${gateway.url}/echo?a=1&a=2&b=x%20y&empty=`, {
      headers: { 'X-Custom-Header': 'Some Value', cookie: 'session=abc; theme=dark' },
    }).finally(restoreClock);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const json = (await res.json()) as { requestId: string; functionName: string; remainingMs: number };
    const event = lastEvent();

    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe('GET /echo');
    expect(event.rawPath).toBe('/echo');
    expect(event.rawQueryString).toBe('a=1&a=2&b=x%20y&empty=');
    expect(event.queryStringParameters).toEqual({ a: '1,2', b: 'x y', empty: '' });
    expect(event.headers['x-custom-header']).toBe('Some Value');
    for (const name of Object.keys(event.headers)) expect(name).toBe(name.toLowerCase());
    expect(event.headers.host).toBe(new URL(gateway.url).host);
    expect(event.headers.cookie).toBeUndefined();
    expect(event.cookies).toEqual(['session=abc', 'theme=dark']);
    expect(event.pathParameters).toBeUndefined();
    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);

    expect(event.requestContext.routeKey).toBe('GET /echo');
    expect(event.requestContext.stage).toBe('$default');
    expect(event.requestContext.http.method).toBe('GET');
    expect(event.requestContext.http.path).toBe('/echo');
    expect(event.requestContext.http.sourceIp).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(event.requestContext.timeEpoch).toBe(at);
    expect(event.requestContext.time).toBe('Wed, 04 Mar 2026 05:06:07 GMT');

    const requestId = event.requestContext.requestId;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    expect(json.requestId).toBe(requestId);
    // The Lambda context names the function and counts down from its timeout.
    expect(json.functionName).toBe('echo');
    expect(json.remainingMs).toBe(7000);
    expect(loaded).toEqual(['echo']);
  });

  it('gives each request its own request id', async () => {
    const [a, b] = await Promise.all([fetch(`${gateway.url}/echo`), fetch(`${gateway.url}/echo`)]);
    await Promise.all([a?.arrayBuffer(), b?.arrayBuffer()]);
    expect(a?.headers.get('x-request-id')).toBeTruthy();
    expect(a?.headers.get('x-request-id')).not.toBe(b?.headers.get('x-request-id'));
  });

  it('decodes path parameters and uses the route template as the route key', async () => {
    const res = await fetch(`${gateway.url}/items/hello%20w%C3%B6rld%2Fx`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'hello wörld/x' });
    const event = lastEvent();
    expect(event.routeKey).toBe('GET /items/{id}');
    expect(event.rawPath).toBe('/items/hello%20w%C3%B6rld%2Fx');
    expect(event.pathParameters).toEqual({ id: 'hello wörld/x' });
  });

  it('passes a JSON body as text and the handler parses it', async () => {
    const payload = { hello: 'wörld', n: 1, nested: { list: [1, 2, 3] } };
    const res = await fetch(`${gateway.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { method: string; body: unknown; rawBody: string };
    expect(json.method).toBe('POST');
    expect(json.body).toEqual(payload);
    expect(json.rawBody).toBe(JSON.stringify(payload));
    const event = lastEvent();
    expect(event.routeKey).toBe('POST /echo');
    expect(event.isBase64Encoded).toBe(false);
    expect(event.body).toBe(JSON.stringify(payload));
  });

  it('passes a binary body base64-encoded, byte for byte', async () => {
    const res = await fetch(`${gateway.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: BYTES,
    });
    expect(res.status).toBe(200);
    const event = lastEvent();
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64').equals(BYTES)).toBe(true);
  });

  it('sends a Buffer answer as the raw bytes', async () => {
    const res = await fetch(`${gateway.url}/binary`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-length')).toBe(String(BYTES.byteLength));
    expect(Buffer.from(await res.arrayBuffer()).equals(BYTES)).toBe(true);
  });

  it('streams a streaming route as it is written', async () => {
    streamGates = [gate(), gate()];
    const [second, third] = streamGates as [ReturnType<typeof gate>, ReturnType<typeof gate>];
    const res = await fetch(`${gateway.url}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    expect(res.headers.get('x-request-id')).toBeTruthy();

    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    /** Reads until `lines` whole lines have arrived (robust to chunks being merged or split on the way). */
    const readLines = async (lines: number) => {
      while (text.split('\n').length - 1 < lines) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended after ${JSON.stringify(text)}`);
        text += decoder.decode(value, { stream: true });
      }
      return text;
    };

    // Each line reaches the client while the handler is still held before the next one: the
    // gateway forwards what is written as it is written, rather than buffering the whole answer.
    expect(await readLines(1)).toBe('{"line":0}\n');
    second.open();
    expect(await readLines(2)).toBe('{"line":0}\n{"line":1}\n');
    third.open();
    expect(await readLines(3)).toBe('{"line":0}\n{"line":1}\n{"line":2}\n');
    expect(await reader.read()).toMatchObject({ done: true });
  });

  it('answers a thrown error with a 500 problem that does not leak the message', async () => {
    const res = await fetch(`${gateway.url}/boom`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(SECRET_MESSAGE);
    const problem = JSON.parse(text) as { status: number; title: string; requestId: string };
    expect(problem).toMatchObject({ status: 500, title: 'Internal Server Error' });
    expect(problem.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('answers a wrong method on a known path with 405 and allow', async () => {
    const res = await fetch(`${gateway.url}/echo`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 405 });

    const item = await fetch(`${gateway.url}/items/42`, { method: 'PUT', body: '{}' });
    expect(item.status).toBe(405);
    expect(item.headers.get('allow')).toBe('GET, HEAD');
    await item.arrayBuffer();
    expect(loaded).toEqual([]);
  });

  it('answers CORS preflight for known paths', async () => {
    const res = await fetch(`${gateway.url}/echo`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-api-key',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST');
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'authorization', 'x-api-key']));
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(await res.text()).toBe('');

    const item = await fetch(`${gateway.url}/items/7`, { method: 'OPTIONS' });
    expect(item.status).toBe(204);
    expect(item.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    expect(loaded).toEqual([]);
  });

  it('answers API responses with CORS headers', async () => {
    const res = await fetch(`${gateway.url}/echo`, { headers: { origin: 'https://example.com' } });
    await res.arrayBuffer();
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('answers 404 problem for a non-GET request to an unknown path', async () => {
    const res = await fetch(`${gateway.url}/nope`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('refuses a body over 10 MB with 413 without invoking the function', async () => {
    const res = await fetch(`${gateway.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 1),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 413, title: 'Payload Too Large' });
    expect(loaded).toEqual([]);
    expect(events).toEqual([]);

    // The gateway still answers afterwards.
    const next = await fetch(`${gateway.url}/items/1`);
    expect(await next.json()).toEqual({ id: '1' });
  });
});

describe('static files', () => {
  it('serves index.html and assets with their content types', async () => {
    const index = await fetch(`${gateway.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(await index.text()).toBe(INDEX_HTML);

    const js = await fetch(`${gateway.url}/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await js.text()).toBe(APP_JS);

    const svg = await fetch(`${gateway.url}/assets/logo.svg`);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    await svg.arrayBuffer();
  });

  it('serves index.html for client-side routes', async () => {
    const res = await fetch(`${gateway.url}/some/client/route?tab=latency`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe(INDEX_HTML);
  });

  it('answers 404 for a missing file with an extension', async () => {
    const res = await fetch(`${gateway.url}/missing.js`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    await res.arrayBuffer();
    const nested = await fetch(`${gateway.url}/assets/missing.css`);
    expect(nested.status).toBe(404);
    await nested.arrayBuffer();
  });

  it.each([
    '/../package.json',
    '/%2e%2e/package.json',
    '/%2E%2E/package.json',
    '/assets/../../package.json',
    '/..%2fpackage.json',
    '/%2e%2e%2fpackage.json',
    '/assets/..%2f..%2fpackage.json',
    '/..%2fsecret',
    '/assets%2f..%2f..%2fsecret',
  ])('does not escape the web dir: %s', async (path) => {
    const res = await rawRequest(gateway.port, path);
    expect(res.body).not.toContain(PARENT_SECRET);
    expect([400, 404]).toContain(res.status);
  });

  it('answers 400 for a path that is not valid URL encoding', async () => {
    const res = await rawRequest(gateway.port, '/%E0%A4%A.js');
    expect(res.status).toBe(400);
  });

  it('answers HEAD with headers and no body', async () => {
    const index = await fetch(`${gateway.url}/`, { method: 'HEAD' });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-length')).toBe(String(Buffer.byteLength(INDEX_HTML)));
    expect(await index.text()).toBe('');

    const js = await rawRequest(gateway.port, '/assets/app.js', 'HEAD');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['content-length']).toBe(String(Buffer.byteLength(APP_JS)));
    expect(js.body).toBe('');

    const missing = await rawRequest(gateway.port, '/missing.js', 'HEAD');
    expect(missing.status).toBe(404);
  });

  it('serves a placeholder page when the dashboard has not been built', async () => {
    for (const path of ['/', '/some/client/route']) {
      const res = await fetch(`${bare.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await res.text()).toContain('npm run build:web');
    }
    const get = await fetch(`${bare.url}/`);
    const page = await get.text();
    expect(get.headers.get('content-length')).toBe(String(Buffer.byteLength(page)));
    const head = await rawRequest(bare.port, '/', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(page)));
    expect(head.body).toBe('');

    const js = await fetch(`${bare.url}/assets/app.js`);
    expect(js.status).toBe(404);
    await js.arrayBuffer();

    // The API is still served.
    const api = await fetch(`${bare.url}/items/x`);
    expect(await api.json()).toEqual({ id: 'x' });
  });
});

describe('HEAD on API routes', () => {
  it('answers HEAD on a GET route as the GET: same status and headers, same content-length, no body', async () => {
    const get = await rawRequest(gateway.port, '/items/hello');
    expect(get.body).toBe('{"id":"hello"}');
    const head = await rawRequest(gateway.port, '/items/hello', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
    expect(head.headers['content-type']).toBe('application/json');
    expect(head.headers['access-control-allow-origin']).toBe('*');
    expect(head.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // The event is the one API Gateway sends for the HEAD route the stack adds.
    const event = lastEvent();
    expect(event.routeKey).toBe('HEAD /items/{id}');
    expect(event.requestContext.http.method).toBe('HEAD');
    expect(event.pathParameters).toEqual({ id: 'hello' });
  });

  it('gives binary and error answers their GET length', async () => {
    const binary = await rawRequest(gateway.port, '/binary', 'HEAD');
    expect(binary.status).toBe(200);
    expect(binary.headers['content-type']).toBe('application/octet-stream');
    expect(binary.headers['content-length']).toBe(String(BYTES.byteLength));
    expect(binary.body).toBe('');

    const get = await rawRequest(gateway.port, '/boom');
    const head = await rawRequest(gateway.port, '/boom', 'HEAD');
    expect(head.status).toBe(500);
    expect(head.headers['content-type']).toBe('application/problem+json');
    // Same shape, other request id of the same length: the same number of bytes.
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
    expect(head.body).toBe('');
  });

  it('answers HEAD on a streaming GET route with the headers only', async () => {
    const head = await rawRequest(gateway.port, '/stream', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/x-ndjson');
    expect(head.body).toBe('');
  });
});

describe('headers on every answer', () => {
  it.each([
    ['an API answer', 'GET', '/echo', 200],
    ['an API error', 'GET', '/boom', 500],
    ['an API answer to HEAD', 'HEAD', '/items/1', 200],
    ['the dashboard', 'GET', '/', 200],
    ['a client-side route', 'GET', '/some/route', 200],
    ['an asset', 'GET', '/assets/app.js', 200],
    ['an asset to HEAD', 'HEAD', '/assets/app.js', 200],
    ['a missing file', 'GET', '/missing.js', 404],
    ['an unknown path', 'POST', '/nope', 404],
    ['a method not allowed', 'DELETE', '/echo', 405],
    ['a CORS preflight', 'OPTIONS', '/echo', 204],
    ['a function failure', 'GET', '/crash', 502],
  ])('sends nosniff and the security headers on %s', async (_what, method, path, status) => {
    const res = await rawRequest(gateway.port, path, method);
    expect(res.status).toBe(status);
    expectSecurityHeaders(res.headers);
  });

  it('sends them on the placeholder page too', async () => {
    const res = await rawRequest(bare.port, '/');
    expect(res.body).toContain('npm run build:web');
    expectSecurityHeaders(res.headers);
  });

  it('lets the security headers win over a handler that sets its own', async () => {
    const res = await fetch(`${gateway.url}/binary`);
    await res.arrayBuffer();
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toBe(
      PLAIN_HTTP_SECURITY_HEADERS['content-security-policy'],
    );
  });
});

describe("the gateway's own errors", () => {
  it('answers an unknown path with a 404 problem carrying CORS and a request id', async () => {
    const res = await fetch(`${gateway.url}/nope?secret=x`, { method: 'POST', body: 'x' });
    const body = await res.text();
    expect(res.status).toBe(404);
    expectGatewayProblem(headersOf(res), body, 404);
    expect(JSON.parse(body)).toMatchObject({ title: 'Not Found', instance: '/nope' });
    expect(body).not.toContain('secret');

    const file = await rawRequest(gateway.port, '/missing.js');
    expect(file.status).toBe(404);
    expectGatewayProblem(file.headers, file.body, 404);
  });

  it('answers a wrong method with a 405 problem carrying CORS, a request id and allow', async () => {
    const res = await fetch(`${gateway.url}/items/3`, { method: 'PATCH', body: '{}' });
    const body = await res.text();
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expectGatewayProblem(headersOf(res), body, 405);
    expect(JSON.parse(body)).toMatchObject({ title: 'Method Not Allowed', instance: '/items/3' });
  });

  it('answers a body over the limit with a 413 problem carrying CORS and a request id', async () => {
    const res = await fetch(`${gateway.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 1),
    });
    const body = await res.text();
    expect(res.status).toBe(413);
    expectGatewayProblem(headersOf(res), body, 413);
  });

  it('answers a failed function with a 502 problem carrying CORS and the request id, never its error', async () => {
    const res = await fetch(`${gateway.url}/crash`);
    const body = await res.text();
    expect(res.status).toBe(502);
    expectGatewayProblem(headersOf(res), body, 502);
    expect(JSON.parse(body)).toMatchObject({ title: 'Bad Gateway', instance: '/crash' });
    expect(body).not.toContain('hunter2');
  });

  it('answers malformed requests with a 400 problem carrying CORS and a request id', async () => {
    const encoding = await rawRequest(gateway.port, '/%E0%A4%A.js');
    expect(encoding.status).toBe(400);
    expectGatewayProblem(encoding.headers, encoding.body, 400);

    // A request target that is no URL (it used to fail as a 502).
    const target = await rawRequest(gateway.port, '//[');
    expect(target.status).toBe(400);
    expectGatewayProblem(target.headers, target.body, 400);

    // Not HTTP at all: Node's parser refuses it before any handler runs.
    const raw = await rawExchange(gateway.port, 'GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n');
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    const [statusLine, ...lines] = head.split('\r\n');
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    const headers = Object.fromEntries(
      lines.map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    expectGatewayProblem(headers, body, 400);

    // The gateway still answers afterwards.
    const next = await fetch(`${gateway.url}/items/2`);
    expect(await next.json()).toEqual({ id: '2' });
  });
});

describe('the awslambda global', () => {
  it('adds the streaming members to an awslambda object another package created first', async () => {
    const { installAwsLambdaGlobal } = await import('./lambda.js');
    const g = globalThis as { awslambda?: Record<string, unknown> };
    const saved = g.awslambda;
    // What @aws/lambda-invoke-store does when it loads (under the SDK and Powertools): an object of its own.
    const invokeStore = { hasContext: () => false };
    g.awslambda = { InvokeStore: invokeStore };
    try {
      installAwsLambdaGlobal();
      expect(typeof g.awslambda.streamifyResponse).toBe('function');
      expect(g.awslambda.HttpResponseStream).toBeDefined();
      expect(g.awslambda.InvokeStore).toBe(invokeStore);
    } finally {
      g.awslambda = saved;
    }
  });
});
