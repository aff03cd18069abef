/**
 * OpenAI-compatible HTTP simulator on loopback.
 *
 * Without an OPENAI_API_KEY the probes and tests point the official `openai` SDK at this server
 * (`baseURL: sim.url`). Response shapes follow the real API closely enough for the SDK to parse them,
 * and faults (5xx, 429, slow, dropped sockets, malformed JSON, 401) can be injected either by rate
 * or deterministically per request via the `x-sim-fault` header.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { MODEL_KINDS, matchRoute } from './simulator/endpoints.js';
import { FAULTS, type Fault, NO_FAULTS, pickFault, type SimulatorFaults } from './simulator/faults.js';
import { type LatencyMode, latencies } from './simulator/latency.js';
import { errorBody, HttpError, hex, type Json, Sse, tokens } from './simulator/protocol.js';
import { LIMIT_REQUESTS, rateLimiter } from './simulator/rate-limits.js';

export { NO_FAULTS, type SimulatorFaults };

export interface SimulatorOptions {
  host?: string;
  port?: number;
  /** 'realistic' = per-endpoint lognormal-ish base latency, 'none' = 0 ms, or a fixed number of ms. */
  latency?: LatencyMode;
  faults?: Partial<SimulatorFaults>;
  /** Random source for reproducible faults/latency in tests; default Math.random. */
  random?: () => number;
}

export interface Simulator {
  url: string;
  port: number;
  setFaults(faults: Partial<SimulatorFaults>): void;
  /** Every request seen (oldest first, capped at the last 1000): method, pathname incl. `/v1`, headers, parsed JSON body. */
  requests: {
    method: string;
    path: string;
    headers: Record<string, string | string[] | undefined>;
    body: unknown;
  }[];
  close(): Promise<void>;
}

const MAX_RECORDED = 1000;

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const random = options.random ?? Math.random;
  const latencyMode = options.latency ?? 'realistic';
  let faults: SimulatorFaults = { ...NO_FAULTS, ...options.faults };
  let closing = false;
  let closed: Promise<void> | undefined;
  const requests: Simulator['requests'] = [];
  const { baseLatency, streamGap } = latencies(latencyMode, random);
  const rateLimitHeaders = rateLimiter();

  /** Waits, but gives up as soon as the connection closes (client abort, drop or `close()`). */
  const sleep = (ms: number, res: ServerResponse) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || res.destroyed) return resolve();
      const done = () => {
        clearTimeout(timer);
        res.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      res.once('close', done);
    });

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const sendError = (res: ServerResponse, e: HttpError, headers?: Record<string, string>) =>
    send(res, e.status, errorBody(e), headers);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const pathname = new URL(req.url ?? '/', 'http://sim').pathname;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    let badJson = false;
    try {
      body = raw.trim() === '' ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
      badJson = true;
    }
    requests.push({ method, path: pathname, headers: { ...req.headers }, body });
    if (requests.length > MAX_RECORDED) requests.splice(0, requests.length - MAX_RECORDED);

    res.setHeader('x-request-id', `req_${hex(16)}`);
    res.setHeader('openai-version', '2020-10-01');
    res.setHeader('x-simulated', 'true');
    res.setHeader('content-type', 'application/json');

    const header = (name: string) => [req.headers[name]].flat()[0];
    const forced = header('x-sim-fault');
    if (forced !== undefined && !FAULTS.has(forced))
      return sendError(
        res,
        new HttpError(400, `Unknown x-sim-fault '${forced}' (use ${[...FAULTS].join('|')}).`),
      );
    const latencyHeader = header('x-sim-latency-ms');
    const latencyOverride = latencyHeader === undefined ? undefined : Number(latencyHeader);
    if (latencyOverride !== undefined && !(latencyOverride >= 0))
      return sendError(res, new HttpError(400, `Invalid x-sim-latency-ms '${latencyHeader}'.`));

    const route = pathname.startsWith('/v1/') ? matchRoute(method, pathname.slice(3)) : undefined;
    const fault = (forced as Fault | undefined) ?? pickFault(faults, random);
    const delay = fault === 'slow' ? faults.slowMs : (latencyOverride ?? baseLatency(route?.kind ?? 'other'));
    res.setHeader('openai-processing-ms', String(delay));
    await sleep(delay, res);
    if (res.destroyed || closing) return;

    if (fault === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (fault === '500' || fault === '502' || fault === '503') {
      const message =
        fault === '503'
          ? 'The server is overloaded or not ready yet.'
          : fault === '502'
            ? 'Bad gateway.'
            : 'The server had an error while processing your request. Sorry about that!';
      return sendError(res, new HttpError(Number(fault), message, null, null, 'server_error'));
    }
    const auth = header('authorization');
    const key = /^Bearer\s+(\S+)/i.exec(auth ?? '')?.[1];
    if (!key || fault === '401') {
      const message = key
        ? `Incorrect API key provided: ${key.slice(0, 3)}***. You can find your API key at https://platform.openai.com/account/api-keys.`
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      return sendError(res, new HttpError(401, message, null, 'invalid_api_key'));
    }
    if (route && MODEL_KINDS.has(route.kind)) rateLimitHeaders(res, tokens(raw));
    if (fault === '429') {
      const model = (body as Json | undefined)?.model ?? 'gpt-4o-mini';
      const message = `Rate limit reached for ${String(model)} in organization org-simulator on requests per min (RPM): Limit ${LIMIT_REQUESTS}, Used ${LIMIT_REQUESTS}, Requested 1. Please try again in 200ms.`;
      // Consistent with the message: no requests left in the window.
      if (res.hasHeader('x-ratelimit-remaining-requests'))
        res.setHeader('x-ratelimit-remaining-requests', '0');
      const headers = { 'retry-after': '1', 'retry-after-ms': '200' };
      return sendError(res, new HttpError(429, message, null, 'rate_limit_exceeded', 'requests'), headers);
    }
    if (fault === 'malformed') return send(res, 200, '{"id":"sim-malformed","object":<truncated');
    if (!route) return sendError(res, new HttpError(404, `Invalid URL (${method} ${pathname})`));
    if (badJson || (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))))
      return sendError(res, new HttpError(400, 'We could not parse the JSON body of your request.'));

    let result: Json | Sse;
    try {
      result = route.handle((body as Json | undefined) ?? {});
    } catch (e) {
      if (e instanceof HttpError) return sendError(res, e);
      throw e;
    }
    if (!(result instanceof Sse)) return send(res, 200, JSON.stringify(result));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    for (const [i, { event, data }] of result.events.entries()) {
      if (i > 0) await sleep(streamGap(), res);
      if (res.destroyed || closing) return;
      const line = typeof data === 'string' ? data : JSON.stringify(data);
      res.write(`${event ? `event: ${event}\n` : ''}data: ${line}\n\n`);
    }
    res.end();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // A client that aborts mid-upload lands here too; only answer if we still can.
      if (res.headersSent || res.destroyed) return void res.destroy();
      sendError(res, new HttpError(500, `Simulator error: ${String(e)}`, null, null, 'server_error'));
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    requests,
    setFaults(next) {
      faults = { ...NO_FAULTS, ...next };
    },
    close() {
      closing = true;
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Destroys keep-alive and in-flight sockets (slow replies, streams) so close() returns promptly.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
