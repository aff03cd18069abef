/**
 * The local stand-in for API Gateway and CloudFront: turns HTTP requests into
 * HTTP API (payload v2) events for the handlers in the route table (HEAD
 * included for GET routes, as the stack adds), streams the answers of
 * streaming handlers, answers CORS preflights as API Gateway would, and serves
 * the built dashboard from `web/dist` for everything else.
 *
 * Every answer carries the security headers CloudFront adds in the cloud
 * (shared/http/headers.ts; HSTS aside, this is plain HTTP). The gateway's own
 * answers (preflights, and errors as problem+json: unknown path, method not
 * allowed, body too large, malformed request, function failure) also carry
 * CORS and an `x-request-id`, like the middleware's answers.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CORS_HEADERS, PLAIN_HTTP_SECURITY_HEADERS } from '../../shared/http/headers.js';
import { HttpProblem } from '../../shared/http/problem.js';
import { logger } from '../../shared/logger.js';
import type { RouteSpec } from '../../shared/routes.js';
import {
  type AnyHandler,
  allowedMethods,
  httpEvent,
  invokeHttpHandler,
  lambdaContext,
  matchRoute,
} from './lambda.js';

/** API Gateway's payload limit. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const PLACEHOLDER_PAGE = `<!doctype html><meta charset="utf-8"><title>OpenAI status</title>
<p>The dashboard has not been built: run <code>npm run build:web</code>. The API is up: <a href="/health">/health</a>.</p>`;

export interface GatewayOptions {
  host: string;
  port: number;
  routes: readonly RouteSpec[];
  /** Loads a function's handler by name (cached by the caller). */
  loadHandler: (functionName: string) => Promise<AnyHandler>;
  /** Timeout of a function in seconds (the Lambda context's deadline). */
  timeoutSec: (functionName: string) => number;
  /** Folder with the built dashboard. */
  webDir: string;
}

export interface Gateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const webRoot = resolve(options.webDir);
  /** Handler invocations still running (close() waits for them). */
  const inFlight = new Set<Promise<unknown>>();
  const server = createServer((req, res) => {
    // One id per request: the event's and the Lambda context's, and the one the gateway's own errors carry.
    const requestId = randomUUID();
    handle(req, res, requestId).catch((error: unknown) => {
      logger.error('gateway error', { error: error as Error, requestId });
      const problem = new HttpProblem(502, 'Bad Gateway', 'The function failed to answer.');
      if (!res.headersSent) sendProblem(res, requestId, problem, pathOf(req.url));
      else res.destroy();
    });
  });
  // A request Node cannot parse never reaches the handler above; answer it like the gateway's other errors.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    answerClientError(error, socket);
  });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      const problem = new HttpProblem(400, 'Bad Request', 'The request target is not a valid URL.');
      sendProblem(res, requestId, problem, '/');
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchRoute(options.routes, method, url.pathname);
    const allowed = allowedMethods(options.routes, url.pathname);

    if (method === 'OPTIONS' && allowed.length > 0) {
      writeHead(res, 204, {
        ...ownHeaders(requestId),
        'access-control-allow-methods': allowed.join(', '),
        'access-control-allow-headers':
          'content-type, authorization, x-api-key, idempotency-key, x-amz-content-sha256',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (!match) {
      if (allowed.length > 0) {
        const detail = `${method} is not allowed on ${url.pathname}`;
        const problem = new HttpProblem(405, 'Method Not Allowed', detail, {
          headers: { allow: allowed.join(', ') },
        });
        sendProblem(res, requestId, problem, url.pathname);
        return;
      }
      if (method === 'GET' || method === 'HEAD') {
        await serveStatic(webRoot, url.pathname, res, requestId);
        return;
      }
      const problem = new HttpProblem(404, 'Not Found', `No route ${method} ${url.pathname}`);
      sendProblem(res, requestId, problem, url.pathname);
      return;
    }

    const body = await readBody(req);
    if (body === undefined) {
      const detail = `The request body is over ${MAX_REQUEST_BYTES} bytes.`;
      sendProblem(res, requestId, new HttpProblem(413, 'Payload Too Large', detail), url.pathname);
      return;
    }
    const bodyHashProblem = match.route.streaming ? checkBodyHash(req, body) : undefined;
    if (bodyHashProblem) {
      sendProblem(res, requestId, bodyHashProblem, url.pathname);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const event = httpEvent({
      method,
      path: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      body,
      route: match,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      requestId,
    });
    const fn = match.route.function;
    const handler = await options.loadHandler(fn);
    const invocation = invokeHttpHandler(
      handler,
      event,
      lambdaContext(fn, options.timeoutSec(fn), requestId),
    );
    // Tracked until it settles, so close() lets a running handler finish before the store goes away.
    inFlight.add(invocation);
    void invocation.catch(() => undefined).finally(() => inFlight.delete(invocation));
    const answer = await invocation;
    const responseHeaders: Record<string, string | string[]> = { ...answer.headers };
    if (answer.cookies.length > 0) responseHeaders['set-cookie'] = answer.cookies;
    if (Buffer.isBuffer(answer.body)) {
      // A HEAD answer has no body but the GET's length (the middleware says it).
      if (method !== 'HEAD' || answer.headers['content-length'] === undefined) {
        responseHeaders['content-length'] = String(answer.body.byteLength);
      }
      writeHead(res, answer.statusCode, responseHeaders);
      res.end(method === 'HEAD' ? undefined : answer.body);
    } else {
      writeHead(res, answer.statusCode, responseHeaders);
      res.flushHeaders();
      // Node sends no body to HEAD, whatever is written.
      await pipeline(answer.body, res);
    }
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    port,
    close: async () => {
      await new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      });
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * What CloudFront's origin access control needs to sign a request with a body
 * for a Function URL (the streaming routes): `x-amz-content-sha256`, the hex
 * SHA-256 of the body. Without it (or with a wrong one) the Function URL
 * refuses the request in the cloud; the gateway refuses it the same way, so
 * a client that forgets it fails locally too.
 */
function checkBodyHash(req: IncomingMessage, body: Buffer): HttpProblem | undefined {
  if (body.byteLength === 0) return undefined;
  const sent = req.headers['x-amz-content-sha256'];
  const expected = createHash('sha256').update(body).digest('hex');
  if (sent === expected) return undefined;
  return new HttpProblem(
    403,
    'Forbidden',
    sent === undefined
      ? 'A request with a body to a streaming route needs x-amz-content-sha256 (the hex SHA-256 of the body): CloudFront signs it for the Function URL.'
      : 'x-amz-content-sha256 does not match the body.',
    { field: 'x-amz-content-sha256' },
  );
}

/** Reads the whole body, or undefined when it passes the size limit. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Every answer: its own headers, then the security headers over them (CloudFront's policy overrides too). */
function writeHead(res: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, { ...headers, ...PLAIN_HTTP_SECURITY_HEADERS });
}

/** Headers of the gateway's own answers, as the middleware's answers carry them. */
function ownHeaders(requestId: string): Record<string, string> {
  return { ...CORS_HEADERS, 'x-request-id': requestId };
}

function problemBody(problem: HttpProblem, instance: string, requestId: string): Buffer {
  return Buffer.from(JSON.stringify(problem.toJSON(instance, requestId)));
}

/** One of the gateway's own errors, as problem+json (Node leaves the body out for HEAD). */
function sendProblem(res: ServerResponse, requestId: string, problem: HttpProblem, instance: string): void {
  const body = problemBody(problem, instance, requestId);
  writeHead(res, problem.status, {
    ...ownHeaders(requestId),
    ...problem.headers,
    'content-type': 'application/problem+json',
    'content-length': String(body.byteLength),
  });
  res.end(body);
}

/** The path of a raw request target, for a problem's `instance` (never the query). */
function pathOf(target: string | undefined): string {
  try {
    return new URL(target ?? '/', 'http://localhost').pathname;
  } catch {
    return '/';
  }
}

/** Answers a request Node could not parse (Node's own answer would be a bare status line). */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const requestId = randomUUID();
  const problem = new HttpProblem(
    status,
    STATUS_CODES[status] ?? 'Bad Request',
    'The request is not valid HTTP.',
  );
  const body = problemBody(problem, '/', requestId);
  const headers: Record<string, string> = {
    ...ownHeaders(requestId),
    'content-type': 'application/problem+json',
    'content-length': String(body.byteLength),
    connection: 'close',
    ...PLAIN_HTTP_SECURITY_HEADERS,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n');
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${status} ${problem.title}\r\n${head}\r\n\r\n`), body]));
}

/** Static files from the dashboard folder; unknown paths without an extension get index.html (client-side routes). */
async function serveStatic(
  root: string,
  pathname: string,
  res: ServerResponse,
  requestId: string,
): Promise<void> {
  let relative: string;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    const problem = new HttpProblem(400, 'Bad Request', 'The path is not valid URL encoding.');
    sendProblem(res, requestId, problem, pathname);
    return;
  }
  const notFound = () =>
    sendProblem(res, requestId, new HttpProblem(404, 'Not Found', `No file ${pathname}`), pathname);
  let file = resolve(join(root, relative));
  if (file !== root && !file.startsWith(root + sep)) {
    notFound();
    return;
  }
  const isFile = await stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    if (extname(relative) !== '') {
      notFound();
      return;
    }
    file = join(root, 'index.html');
  }
  const isIndex = file === join(root, 'index.html');
  // Node sends no body to HEAD: the headers, content-length included, are the GET's.
  if (isIndex && !existsSync(file)) {
    writeHead(res, 200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(PLACEHOLDER_PAGE)),
      'cache-control': 'no-cache',
    });
    res.end(PLACEHOLDER_PAGE);
    return;
  }
  const content = await readFile(file);
  writeHead(res, 200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': String(content.byteLength),
    // Vite fingerprints assets; the HTML must be revalidated to pick new ones up.
    'cache-control': isIndex ? 'no-cache' : 'public, max-age=31536000, immutable',
  });
  res.end(content);
}
