import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { invokeHttp, setEnv } from '../../test/helpers.js';
import { logger } from '../logger.js';
import { matchRoute, type RouteSpec } from '../routes.js';
import * as z from '../zod.js';
import { httpHandler, sameSecret } from './middleware.js';
import { HttpProblem, validate } from './problem.js';

const routes: RouteSpec[] = [
  { method: 'POST', path: '/echo', function: 'test', auth: 'none', streaming: false },
  { method: 'GET', path: '/things/{id}', function: 'test', auth: 'none', streaming: false },
  { method: 'POST', path: '/protected', function: 'test', auth: 'ingest', streaming: false },
  { method: 'GET', path: '/stream', function: 'test', auth: 'none', streaming: true },
];

/** A promise the test resolves when it chooses. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const echo = httpHandler(
  async (req) => ({
    body: { body: req.body, rawBody: req.rawBody, query: req.query, requestId: req.requestId },
  }),
  { routes, maxBodyBytes: 100 },
);

describe('HTTP middleware stack', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  it('parses JSON bodies, serialises objects, and tags the answer with the request id and CORS', async () => {
    const res = await invokeHttp(echo, { method: 'POST', path: '/echo?x=1', body: { a: 1 }, routes });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const body = res.json<{ body: unknown; query: unknown; requestId: string }>();
    expect(body.body).toEqual({ a: 1 });
    expect(body.query).toEqual({ x: '1' });
    expect(res.headers['x-request-id']).toBe(body.requestId);
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('leaves non-JSON bodies as text', async () => {
    const res = await invokeHttp(echo, {
      method: 'POST',
      path: '/echo',
      body: '{"a":1}\n{"a":2}',
      headers: { 'content-type': 'application/x-ndjson' },
      routes,
    });
    expect(res.json<{ rawBody: string; body?: unknown }>()).toEqual({
      rawBody: '{"a":1}\n{"a":2}',
      query: {},
      requestId: expect.any(String),
    });
  });

  it('hands a binary body over as bytes, gzip undone, and measures the limit after decompression', async () => {
    const bytesEcho = httpHandler(
      async (req) => ({ body: { hex: req.bodyBytes?.toString('hex'), isJson: req.body !== undefined } }),
      {
        routes,
        maxBodyBytes: 100,
        // A protocol that answers errors in its own encoding (OTLP/HTTP protobuf) renders them itself.
        renderProblem: (problem) => ({
          contentType: 'application/x-protobuf',
          body: Buffer.from(`status:${problem.status}`),
        }),
      },
    );
    // Bytes that are not valid UTF-8 survive untouched.
    const binary = Buffer.from([0x0a, 0xff, 0x00, 0xfe, 0x80]);
    const plain = await invokeHttp(bytesEcho, {
      method: 'POST',
      path: '/echo',
      body: binary,
      headers: { 'content-type': 'application/x-protobuf' },
      routes,
    });
    expect(plain.json()).toEqual({ hex: '0aff00fe80', isJson: false });
    const gzipped = await invokeHttp(bytesEcho, {
      method: 'POST',
      path: '/echo',
      body: gzipSync(binary),
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      routes,
    });
    expect(gzipped.json()).toEqual({ hex: '0aff00fe80', isJson: false });
    // 101 bytes once decompressed, far fewer on the wire: refused, in the handler's own error format.
    const inflated = await invokeHttp(bytesEcho, {
      method: 'POST',
      path: '/echo',
      body: gzipSync(Buffer.alloc(101)),
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      routes,
    });
    expect(inflated.statusCode).toBe(413);
    expect(inflated.headers['content-type']).toBe('application/x-protobuf');
    expect(inflated.text).toBe('status:413');
  });

  it('answers invalid JSON with 400 problem+json naming the body', async () => {
    const res = await invokeHttp(echo, {
      method: 'POST',
      path: '/echo',
      body: '{"a":',
      headers: { 'content-type': 'application/json' },
      routes,
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ status: 400, title: 'Bad Request', field: 'body', instance: '/echo' });
    expect(res.json<{ requestId: string }>().requestId).toBe(res.headers['x-request-id']);
  });

  it('answers a body over the limit with 413', async () => {
    const res = await invokeHttp(echo, {
      method: 'POST',
      path: '/echo',
      body: { pad: 'x'.repeat(200) },
      routes,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ status: 413, field: 'body' });
    expect(res.json<{ detail: string }>().detail).toContain('limit of 100 bytes');
  });

  it('turns validation failures into 400 naming the field', async () => {
    const handler = httpHandler(
      async (req) => {
        const query = validate(
          z.object({ window: z.coerce.number().check(z.int(), z.gte(1), z.lte(1440)) }),
          req.query,
        );
        const params = validate(
          z.object({ id: z.string().check(z.regex(/^\d+$/)) }),
          req.pathParameters,
          'path',
        );
        return { body: { ...query, ...params } };
      },
      { routes },
    );
    const bad = await invokeHttp(handler, { path: '/things/12?window=0', routes });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ field: 'window', errors: [{ field: 'window' }] });
    const badPath = await invokeHttp(handler, { path: '/things/abc?window=5', routes });
    expect(badPath.json()).toMatchObject({ field: 'path.id' });
    const good = await invokeHttp(handler, { path: '/things/12?window=5', routes });
    expect(good.json()).toEqual({ window: 5, id: '12' });
  });

  it('passes HttpProblem status, headers and field through', async () => {
    const handler = httpHandler(
      async () => {
        throw new HttpProblem(429, 'Too Many Requests', 'slow down', {
          field: 'rate',
          headers: { 'retry-after': '3' },
        });
      },
      { routes },
    );
    const res = await invokeHttp(handler, { method: 'POST', path: '/echo', routes });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.json()).toMatchObject({ status: 429, detail: 'slow down', field: 'rate' });
  });

  it('hides the text of unexpected errors behind a 500', async () => {
    const handler = httpHandler(
      async () => {
        throw new Error('connection string postgres://admin:hunter2@db');
      },
      { routes },
    );
    const res = await invokeHttp(handler, { method: 'POST', path: '/echo', routes });
    expect(res.statusCode).toBe(500);
    expect(res.text).not.toContain('hunter2');
    expect(res.json()).toMatchObject({ status: 500, title: 'Internal Server Error' });
  });

  it('refuses routes that are not in the route table', async () => {
    const res = await invokeHttp(echo, { method: 'DELETE', path: '/echo', routes });
    expect(res.statusCode).toBe(404);
  });

  describe('API-key auth on protected routes', () => {
    const handler = httpHandler(async () => ({ statusCode: 202, body: { accepted: true } }), { routes });

    it('answers 403 saying how to enable it when no key is configured', async () => {
      const res = await invokeHttp(handler, { method: 'POST', path: '/protected', routes });
      expect(res.statusCode).toBe(403);
      expect(res.json<{ detail: string }>().detail).toContain('INGEST_API_KEY');
    });

    it('answers 401 for a missing or wrong key, 2xx for x-api-key or Bearer', async () => {
      restore = setEnv({ INGEST_API_KEY: 'correct-horse' });
      const missing = await invokeHttp(handler, { method: 'POST', path: '/protected', routes });
      expect(missing.statusCode).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer');
      const wrong = await invokeHttp(handler, {
        method: 'POST',
        path: '/protected',
        headers: { 'x-api-key': 'correct-horsE' },
        routes,
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.text).not.toContain('correct-horse');
      const viaHeader = await invokeHttp(handler, {
        method: 'POST',
        path: '/protected',
        headers: { 'X-Api-Key': 'correct-horse' },
        routes,
      });
      expect(viaHeader.statusCode).toBe(202);
      const viaBearer = await invokeHttp(handler, {
        method: 'POST',
        path: '/protected',
        headers: { authorization: 'Bearer correct-horse' },
        routes,
      });
      expect(viaBearer.statusCode).toBe(202);
      const publicRoute = await invokeHttp(echo, { method: 'POST', path: '/echo', routes });
      expect(publicRoute.statusCode).toBe(200);
    });

    it('finds the route by method and path when the event has no route key (Function URL)', async () => {
      restore = setEnv({ INGEST_API_KEY: 'correct-horse' });
      const { httpEvent, invokeHttpHandler, lambdaContext } = await import('../../infra/local/lambda.js');
      const event = httpEvent({ method: 'POST', path: '/protected', headers: {} });
      expect(event.routeKey).toBe('$default');
      const refused = await invokeHttpHandler(handler, event, lambdaContext('test', 5));
      expect(refused.statusCode).toBe(401);
      const allowed = await invokeHttpHandler(
        handler,
        httpEvent({ method: 'POST', path: '/protected', headers: { 'x-api-key': 'correct-horse' } }),
        lambdaContext('test', 5),
      );
      expect(allowed.statusCode).toBe(202);
    });

    it('compares secrets of any length', () => {
      expect(sameSecret('a', 'a')).toBe(true);
      expect(sameSecret('a', 'ab')).toBe(false);
      expect(sameSecret('', 'x'.repeat(1000))).toBe(false);
    });
  });

  it('streams the body of a streaming handler chunk by chunk, with its status and headers', async () => {
    const lines = ['{"delta":"a"}\n', '{"delta":"b"}\n', '{"done":true}\n'];
    // The handler writes a line only when the test has read the one before: each chunk must come
    // through on its own, while the handler is still running, whatever the machine's speed.
    const gates = lines.slice(1).map(gate);
    const handler = httpHandler(
      async () => ({
        statusCode: 201,
        headers: { 'content-type': 'application/x-ndjson' },
        body: Readable.from(
          (async function* () {
            for (const [i, line] of lines.entries()) {
              if (i > 0) await gates[i - 1]?.promise;
              yield line;
            }
          })(),
        ),
      }),
      { routes, streaming: true },
    );
    const { httpEvent, invokeHttpHandler, lambdaContext } = await import('../../infra/local/lambda.js');
    const route = matchRoute(routes, 'GET', '/stream');
    const answer = await invokeHttpHandler(
      handler,
      httpEvent({
        method: 'GET',
        path: '/stream',
        headers: { host: 'localhost' },
        ...(route ? { route } : {}),
      }),
      lambdaContext('test', 30),
    );
    expect(answer.statusCode).toBe(201);
    expect(answer.headers['content-type']).toBe('application/x-ndjson');
    expect(answer.headers['x-request-id']).toBeDefined();
    if (Buffer.isBuffer(answer.body)) throw new Error('the answer was buffered, not streamed');

    const chunks = answer.body[Symbol.asyncIterator]();
    const read = async () => {
      const { done, value } = await chunks.next();
      return done ? null : Buffer.from(value as Buffer).toString('utf8');
    };
    for (const [i, line] of lines.entries()) {
      if (i > 0) gates[i - 1]?.open();
      expect(await read()).toBe(line);
    }
    expect(await read()).toBeNull();
  });

  it('answers errors of a streaming handler as problem+json', async () => {
    const handler = httpHandler(
      async () => {
        throw new HttpProblem(400, 'Bad Request', 'question: required', { field: 'question' });
      },
      { routes, streaming: true },
    );
    const res = await invokeHttp(handler, { path: '/stream', routes });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ field: 'question' });
  });

  it('logs with the request id as correlation id', async () => {
    let seen: { correlationId: unknown } | undefined;
    const handler = httpHandler(
      async () => {
        // Read what every log line of this invocation carries (output is silenced in tests).
        seen = { correlationId: logger.getCorrelationId() };
        return { body: 'ok' };
      },
      { routes },
    );
    const res = await invokeHttp(handler, { method: 'POST', path: '/echo', routes });
    expect(seen?.correlationId).toBe(res.headers['x-request-id']);
  });
  it('answers HEAD on a GET route as the GET: the handler sees GET, the answer has its length and no body', async () => {
    const seen: string[] = [];
    const handler = httpHandler(
      async (req) => {
        seen.push(req.method);
        return {
          headers: { 'cache-control': 'no-store' },
          body: { id: req.pathParameters.id, text: 'wörld' },
        };
      },
      { routes },
    );
    const get = await invokeHttp(handler, { path: '/things/7', routes });
    const head = await invokeHttp(handler, { method: 'HEAD', path: '/things/7', routes });
    expect(seen).toEqual(['GET', 'GET']);
    expect(head.statusCode).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
    expect(head.headers['content-type']).toBe('application/json');
    expect(head.headers['cache-control']).toBe('no-store');
    expect(head.headers['access-control-allow-origin']).toBe('*');
    expect(head.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    // Binary (base64) answers count their bytes, not their base64 text.
    const binary = httpHandler(async () => ({ body: Buffer.alloc(300, 7) }), { routes });
    const bytes = await invokeHttp(binary, { method: 'HEAD', path: '/things/1', routes });
    expect(bytes.headers['content-length']).toBe('300');
    expect(bytes.text).toBe('');
  });

  it('answers HEAD with the error the GET would get, without its body', async () => {
    const handler = httpHandler(
      async () => {
        throw new HttpProblem(404, 'Not Found', 'thing 7: not found', { field: 'id' });
      },
      { routes },
    );
    const get = await invokeHttp(handler, { path: '/things/7', routes });
    const head = await invokeHttp(handler, { method: 'HEAD', path: '/things/7', routes });
    expect(head.statusCode).toBe(404);
    expect(head.headers['content-type']).toBe('application/problem+json');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
    expect(head.text).toBe('');

    // HEAD is no way around a route's method: a POST-only path still refuses it.
    const post = await invokeHttp(echo, { method: 'HEAD', path: '/echo', routes });
    expect(post.statusCode).toBe(404);
    expect(post.text).toBe('');
  });
});
