/**
 * The local stand-in for API Gateway and CloudFront: turns HTTP requests into
 * HTTP API (payload v2) events for the handlers in the route table, streams
 * the answers of streaming handlers, answers CORS preflights as API Gateway
 * would, and serves the built dashboard from `web/dist` for everything else.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { logger } from '../../shared/logger.js';
import type { RouteSpec } from '../../shared/routes.js';
import {
  type AnyHandler,
  httpEvent,
  invokeHttpHandler,
  lambdaContext,
  matchRoute,
  pathHasRoutes,
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
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('gateway error', { error: error as Error });
      if (!res.headersSent) sendProblem(res, 502, 'Bad Gateway', 'The function failed to answer.');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchRoute(options.routes, method, url.pathname);
    const pathRoutes = pathHasRoutes(options.routes, url.pathname);

    if (method === 'OPTIONS' && pathRoutes.length > 0) {
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': pathRoutes.map((r) => r.method).join(', '),
        'access-control-allow-headers': 'content-type, authorization, x-api-key, idempotency-key',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (!match) {
      if (pathRoutes.length > 0) {
        res.setHeader('allow', pathRoutes.map((r) => r.method).join(', '));
        sendProblem(res, 405, 'Method Not Allowed', `${method} is not allowed on ${url.pathname}`);
        return;
      }
      if (method === 'GET' || method === 'HEAD') {
        await serveStatic(webRoot, url.pathname, method, res);
        return;
      }
      sendProblem(res, 404, 'Not Found', `No route ${method} ${url.pathname}`);
      return;
    }

    const body = await readBody(req);
    if (body === undefined) {
      sendProblem(res, 413, 'Payload Too Large', `The request body is over ${MAX_REQUEST_BYTES} bytes.`);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const requestId = randomUUID();
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
    const answer = await invokeHttpHandler(
      handler,
      event,
      lambdaContext(fn, options.timeoutSec(fn), requestId),
    );
    const responseHeaders: Record<string, string | string[]> = { ...answer.headers };
    if (answer.cookies.length > 0) responseHeaders['set-cookie'] = answer.cookies;
    if (Buffer.isBuffer(answer.body)) {
      responseHeaders['content-length'] = String(answer.body.byteLength);
      res.writeHead(answer.statusCode, responseHeaders);
      res.end(method === 'HEAD' ? undefined : answer.body);
    } else {
      res.writeHead(answer.statusCode, responseHeaders);
      res.flushHeaders();
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
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
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

function sendProblem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

/** Static files from the dashboard folder; unknown paths without an extension get index.html (client-side routes). */
async function serveStatic(
  root: string,
  pathname: string,
  method: string,
  res: ServerResponse,
): Promise<void> {
  let relative: string;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    sendProblem(res, 400, 'Bad Request', 'The path is not valid URL encoding.');
    return;
  }
  let file = resolve(join(root, relative));
  if (file !== root && !file.startsWith(root + sep)) {
    sendProblem(res, 404, 'Not Found', `No file ${pathname}`);
    return;
  }
  const isFile = await stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    if (extname(relative) !== '') {
      sendProblem(res, 404, 'Not Found', `No file ${pathname}`);
      return;
    }
    file = join(root, 'index.html');
  }
  const isIndex = file === join(root, 'index.html');
  if (isIndex && !existsSync(file)) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(method === 'HEAD' ? undefined : PLACEHOLDER_PAGE);
    return;
  }
  const content = await readFile(file);
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': String(content.byteLength),
    // Vite fingerprints assets; the HTML must be revalidated to pick new ones up.
    'cache-control': isIndex ? 'no-cache' : 'public, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
  });
  res.end(method === 'HEAD' ? undefined : content);
}
