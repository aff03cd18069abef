import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError } from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTimedFetch, type RequestTiming, withTimingCapture } from './timed-fetch.js';

/**
 * The server never waits on the clock: where a case needs the answer held back, it waits for a
 * named gate the test opens, so what happens in what order is the test's choice on any machine.
 */
interface Gate {
  promise: Promise<void>;
  open: () => void;
}
const gates = new Map<string, Gate>();
function gate(name: string): Gate {
  let found = gates.get(name);
  if (!found) {
    let open = () => {};
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    found = { promise, open };
    gates.set(name, found);
  }
  return found;
}
/** Path and query of every request the server has received, oldest first. */
const arrived: string[] = [];

/** Waits, one turn of the event loop at a time (no timers: they may be fake), until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/** Fake timers and a fake `performance.now()`: measured phases are exactly the time the test moves. */
const useFakeTime = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
beforeEach(() => {
  gates.clear();
});
afterEach(() => {
  vi.useRealTimers();
});

/** One router for every case: the path picks the behaviour. */
async function handler(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname;
  arrived.push(`${path}${url.search}`);
  if (path.startsWith('/hang')) return; // never answers; closeAllConnections() ends it
  if (path === '/slow') {
    // headers when gate slow-headers opens, then 5 chunks of 100 bytes, one per gate slow-1 … slow-5
    await gate('slow-headers').promise;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    for (let i = 1; i <= 5; i++) {
      await gate(`slow-${i}`).promise;
      res.write('x'.repeat(100));
    }
    return res.end();
  }
  if (path === '/held') {
    // answers when the gate named in the query opens
    await gate(url.searchParams.get('gate') ?? '').promise;
    res.writeHead(Number(url.searchParams.get('status') ?? 200));
    return res.end('ok');
  }
  if (path === '/ok') {
    res.writeHead(Number(url.searchParams.get('status') ?? 200));
    return res.end('ok');
  }
  if (path === '/encoded') {
    const coding = url.searchParams.get('coding') ?? 'gzip';
    const json = Buffer.from(
      JSON.stringify({ hello: 'world', acceptEncoding: req.headers['accept-encoding'] }),
    );
    const encode = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync }[coding] ?? gzipSync;
    res.writeHead(201, 'Created', [
      ['content-type', 'application/json'],
      ['content-encoding', coding],
      ['x-multi', 'a'],
      ['x-multi', 'b'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ]);
    return res.end(encode(json));
  }
  if (path === '/empty') {
    res.writeHead(204);
    return res.end();
  }
  if (path === '/echo') {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    res.writeHead(200, { 'content-type': 'application/json' });
    const body = Buffer.concat(chunks).toString();
    return res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'], body }));
  }
  if (path === '/flaky') {
    // Kills the second request of every connection, as a server that closed an idle keep-alive socket would.
    const socket = req.socket as typeof req.socket & { served?: number };
    socket.served = (socket.served ?? 0) + 1;
    if (socket.served === 2) return socket.destroy();
    return res.end('fine');
  }
  if (path === '/v1/models') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(
      JSON.stringify({ object: 'list', data: [{ id: 'gpt-test', object: 'model', created: 0 }] }),
    );
  }
  if (path === '/v1/chat/completions') {
    // each event after the first waits for its gate (chat-1, chat-2)
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const [i, word] of ['Hel', 'lo'].entries()) {
      if (i > 0) await gate(`chat-${i}`).promise;
      res.write(
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })}\n\n`,
      );
    }
    await gate('chat-2').promise;
    return res.end('data: [DONE]\n\n');
  }
  res.writeHead(404);
  res.end();
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** Servers keep idle keep-alive sockets open (Node's default closes them after 5 s): reuse never depends on timing. */
function keepIdleSockets(server: Server): Server {
  server.keepAliveTimeout = 0;
  return server;
}

function shutdown(server: Server) {
  server.closeAllConnections();
  server.close();
}

const http = keepIdleSockets(createServer((req, res) => void handler(req, res)));
let port = 0;
let base = '';

beforeAll(async () => {
  port = await listen(http);
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => shutdown(http));

describe('connection phases', () => {
  it('reports dns only for names, connect on a fresh socket, nothing on a reused one', async () => {
    const timed = createTimedFetch();
    try {
      const first = await timed.fetch(`${base}/ok`);
      await first.text();
      const t1 = timed.timingOf(first) as RequestTiming;
      expect(t1).toBe(timed.lastTiming());
      expect(t1).toMatchObject({ reused: false, status: 200, responseBytes: 2 });
      expect(t1.dnsMs).toBeUndefined();
      expect(t1.connectMs).toBeGreaterThanOrEqual(0);
      expect(t1.tlsMs).toBeUndefined();
      expect(t1.totalMs).toBeGreaterThanOrEqual(t1.ttfbMs as number);

      const second = await timed.fetch(`${base}/ok`);
      await second.text();
      const t2 = timed.timingOf(second) as RequestTiming;
      expect(t2.reused).toBe(true);
      expect([t2.dnsMs, t2.connectMs, t2.tlsMs]).toEqual([undefined, undefined, undefined]);

      const named = await timed.fetch(`http://localhost:${port}/ok`); // a new pool key: new socket
      await named.text();
      const t3 = timed.timingOf(named) as RequestTiming;
      expect(t3.reused).toBe(false);
      expect(t3.dnsMs).toBeGreaterThanOrEqual(0);
      expect(t3.connectMs).toBeGreaterThanOrEqual(0);
    } finally {
      timed.close();
    }
  });

  it('does not reuse sockets with keepAlive: false', async () => {
    const timed = createTimedFetch({ keepAlive: false });
    try {
      for (let i = 0; i < 2; i++) {
        const response = await timed.fetch(`${base}/ok`);
        await response.text();
        expect(timed.timingOf(response)?.reused).toBe(false);
      }
    } finally {
      timed.close();
    }
  });

  let certDir: string | undefined;
  try {
    certDir = mkdtempSync(join(tmpdir(), 'timed-fetch-'));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')],
        ...['-days', '1', '-subj', '/CN=localhost'],
      ],
      { stdio: 'ignore' },
    );
  } catch {
    certDir = undefined; // no openssl CLI: the https case is skipped
  }

  it.skipIf(!certDir)('measures the TLS handshake on https', async () => {
    const dir = certDir as string;
    const tlsServer = keepIdleSockets(
      createHttpsServer(
        { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
        (req, res) => void handler(req, res),
      ),
    );
    const tlsPort = await listen(tlsServer);
    const timed = createTimedFetch({ tls: { rejectUnauthorized: false } });
    try {
      const first = await timed.fetch(`https://localhost:${tlsPort}/ok`);
      expect(await first.text()).toBe('ok');
      const t1 = timed.timingOf(first) as RequestTiming;
      expect(t1.reused).toBe(false);
      expect(t1.dnsMs).toBeGreaterThanOrEqual(0);
      expect(t1.connectMs).toBeGreaterThanOrEqual(0);
      expect(t1.tlsMs).toBeGreaterThan(0);

      const second = await timed.fetch(`https://localhost:${tlsPort}/ok`);
      await second.text();
      const t2 = timed.timingOf(second) as RequestTiming;
      expect(t2.reused).toBe(true);
      expect([t2.dnsMs, t2.connectMs, t2.tlsMs]).toEqual([undefined, undefined, undefined]);
    } finally {
      timed.close();
      shutdown(tlsServer);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('response timing and decoding', () => {
  const timed = createTimedFetch();
  afterAll(() => timed.close());

  it('splits time to first byte from transfer, and counts body bytes', async () => {
    useFakeTime();
    const seen = arrived.length;
    const responding = timed.fetch(`${base}/slow`);
    await until(() => arrived.slice(seen).includes('/slow'));
    // The server answers 150 ms into the request, then sends a chunk every 50 ms.
    vi.advanceTimersByTime(150);
    gate('slow-headers').open();
    const response = await responding;
    const t = timed.timingOf(response) as RequestTiming;
    expect(t.ttfbMs).toBe(150);
    expect(t.totalMs).toBeUndefined(); // not read yet
    const reading = response.text();
    for (let i = 1; i <= 5; i++) {
      vi.advanceTimersByTime(50);
      gate(`slow-${i}`).open();
    }
    expect(await reading).toHaveLength(500);
    expect(t.transferMs).toBe(250);
    expect(t.totalMs).toBe(400);
    expect(t.endedAt).toBe(t.startedAt + 400);
    expect(t.responseBytes).toBe(500);
  });

  it.each(['gzip', 'deflate', 'br'])('decodes %s and keeps status and headers', async (coding) => {
    const response = await timed.fetch(`${base}/encoded?coding=${coding}`);
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Created');
    expect(response.url).toBe(`${base}/encoded?coding=${coding}`);
    expect(response.headers.get('x-multi')).toBe('a, b');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const json = await response.json();
    expect(json).toEqual({ hello: 'world', acceptEncoding: 'gzip, deflate, br' });
    expect(timed.timingOf(response)?.responseBytes).toBe(JSON.stringify(json).length);
  });

  it('gives 204 and HEAD a null body and a finished timing', async () => {
    const empty = await timed.fetch(`${base}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    expect(timed.timingOf(empty)?.totalMs).toBeGreaterThanOrEqual(0);
    const head = await timed.fetch(`${base}/ok`, { method: 'HEAD' });
    expect(head.body).toBeNull();
    expect(timed.timingOf(head)).toMatchObject({ status: 200, responseBytes: 0, transferMs: 0 });
  });

  it('sends the usual request bodies', async () => {
    const echo = async (body: RequestInit['body'], headers?: RequestInit['headers']) => {
      const response = await timed.fetch(`${base}/echo`, { method: 'post', body, headers });
      return (await response.json()) as { method: string; type?: string; body: string };
    };
    expect(await echo('{"a":1}', { 'content-type': 'application/json' })).toEqual({
      method: 'POST',
      type: 'application/json',
      body: '{"a":1}',
    });
    expect((await echo('plain')).type).toBe('text/plain;charset=UTF-8');
    expect((await echo(new TextEncoder().encode('bytes'))).body).toBe('bytes');
    expect((await echo(new TextEncoder().encode('buffer').buffer)).body).toBe('buffer');
    expect(await echo(new URLSearchParams({ q: 'a b' }))).toMatchObject({ body: 'q=a+b' });
    expect((await echo(new Blob(['blob'], { type: 'text/x-blob' }))).type).toBe('text/x-blob');
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('str'));
        controller.enqueue(new TextEncoder().encode('eam'));
        controller.close();
      },
    });
    expect((await echo(stream)).body).toBe('stream');
    const form = new FormData();
    form.set('field', 'value');
    const multipart = await echo(form);
    expect(multipart.type).toMatch(/^multipart\/form-data; boundary=/);
    expect(multipart.body).toContain('value');
    const request = new Request(`${base}/echo`, { method: 'PUT', body: 'from a Request' });
    expect(await (await timed.fetch(request)).json()).toMatchObject({
      method: 'PUT',
      body: 'from a Request',
    });
  });

  it('resends once on a fresh socket when a pooled one turns out dead', async () => {
    const flaky = createTimedFetch();
    try {
      await (await flaky.fetch(`${base}/flaky`)).text();
      const response = await flaky.fetch(`${base}/flaky`);
      expect(await response.text()).toBe('fine');
      expect(flaky.timingOf(response)).toMatchObject({ staleSocketRetry: true, reused: false, status: 200 });
    } finally {
      flaky.close();
    }
  });
});

describe('errors', () => {
  const timed = createTimedFetch();
  afterAll(() => timed.close());

  it('rejects with AbortError when aborted before the response', async () => {
    const controller = new AbortController();
    const seen = arrived.length;
    const fetching = timed.fetch(`${base}/hang`, { signal: controller.signal });
    // Abort while the request is with the server, which never answers.
    await until(() => arrived.slice(seen).includes('/hang'));
    controller.abort();
    await expect(fetching).rejects.toMatchObject({ name: 'AbortError' });
    const already = AbortSignal.abort();
    await expect(timed.fetch(`${base}/hang`, { signal: already })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('fails the body read with AbortError when aborted mid-body', async () => {
    const controller = new AbortController();
    // Headers come at once; the body chunks are never let through.
    gate('slow-headers').open();
    const response = await timed.fetch(`${base}/slow`, { signal: controller.signal });
    const reading = response.text();
    controller.abort();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects network errors with TypeError("fetch failed") and the cause', async () => {
    const closedPort = await freePort();
    const error = await timed.fetch(`http://127.0.0.1:${closedPort}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
  });
});

describe('through the openai SDK', () => {
  const timed = createTimedFetch();
  afterAll(() => timed.close());
  const client = (baseURL: string, timeout = 5_000) =>
    new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0, timeout, fetch: timed.fetch });

  it('parses a JSON answer and captures exactly its one timing', async () => {
    const { result, timings } = await withTimingCapture(() => client(`${base}/v1`).models.list());
    expect(result.data.map((model) => model.id)).toEqual(['gpt-test']);
    expect(timings).toHaveLength(1);
    expect(timings[0]).toMatchObject({ status: 200 });
    expect(timings[0]?.totalMs).toBeGreaterThanOrEqual(0);
  });

  it('times a streamed chat completion to its last event', async () => {
    useFakeTime();
    const sink: RequestTiming[] = [];
    const capturing = withTimingCapture(async () => {
      const stream = await client(`${base}/v1`).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      return text;
    }, sink);
    // The second event comes 60 ms after the first byte, the end 60 ms after that.
    await until(() => sink[0]?.firstByteAt !== undefined);
    vi.advanceTimersByTime(60);
    gate('chat-1').open();
    vi.advanceTimersByTime(60);
    gate('chat-2').open();
    const { result, timings } = await capturing;
    expect(result).toBe('Hello');
    expect(timings).toHaveLength(1);
    expect(timings[0]?.transferMs).toBe(120);
  });

  it('turns its timeout into APIConnectionTimeoutError', async () => {
    useFakeTime();
    const sink: RequestTiming[] = [];
    const seen = arrived.length;
    let settled = false;
    const failing = withTimingCapture(() => client(`${base}/hang`, 100).models.list(), sink)
      .catch((e: unknown) => e)
      .finally(() => {
        settled = true;
      });
    // The server never answers: the SDK's 100 ms timeout, and only that, ends the call.
    await until(() => arrived.slice(seen).includes('/hang/models'));
    await vi.advanceTimersByTimeAsync(99);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await failing).toBeInstanceOf(APIConnectionTimeoutError);
    expect(sink).toHaveLength(1);
    expect(sink[0]?.ttfbMs).toBeUndefined();
  });

  it('turns a refused connection into APIConnectionError, not a timeout', async () => {
    const error = await client(`http://127.0.0.1:${await freePort()}/v1`)
      .models.list()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(error).not.toBeInstanceOf(APIConnectionTimeoutError);
  });
});

describe('withTimingCapture', () => {
  it('gives each concurrent capture only its own requests', async () => {
    const timed = createTimedFetch();
    const fetchText = async (url: string) => (await timed.fetch(url)).text();
    try {
      // b's three requests all start and end while a's first one is held by the server.
      const first = '/held?gate=capture-a1&status=201';
      const seen = arrived.length;
      const [a, b] = await Promise.all([
        withTimingCapture(async () => {
          await fetchText(`${base}${first}`);
          await fetchText(`${base}/ok?status=203`);
        }),
        withTimingCapture(async () => {
          await until(() => arrived.slice(seen).includes(first));
          await Promise.all([
            fetchText(`${base}/ok?status=202`),
            fetchText(`${base}/ok?status=202`),
            fetchText(`${base}/ok?status=202`),
          ]);
          gate('capture-a1').open();
        }),
      ]);
      expect(a.timings.map((t) => t.status)).toEqual([201, 203]);
      expect(b.timings.map((t) => t.status)).toEqual([202, 202, 202]);
    } finally {
      timed.close();
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  const free = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return free;
}
