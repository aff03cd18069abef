/**
 * The checking proxy a synthetic browser's traffic is forced through: every
 * request the page makes (navigations, redirects, scripts, fetches, sockets)
 * arrives here as a plain-HTTP proxy request or an HTTPS CONNECT tunnel, is
 * judged by the egress guard (shared/net/egress.ts) after DNS resolution, and
 * is connected to the very address that was judged (no rebinding window).
 *
 * Chromium sends loopback and link-local requests around a proxy unless its
 * bypass list says `<-loopback>` (browser-runner.ts passes it), and QUIC and
 * WebRTC UDP are switched off there, so nothing leaves the browser any other way.
 *
 * The proxy also bounds the run's transfer: past `maxBytes` in either
 * direction it cuts every connection and refuses new ones.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { checkEgressUrl, type EgressPolicy, type Resolver, systemResolver } from '../net/egress.js';

/** Marks a proxy's own refusal, so the runner can tell it from the site's own 403. */
export const REFUSED_HEADER = 'x-synthetic-refused';

export interface Refusal {
  url: string;
  reason: string;
  message: string;
}

export interface CheckingProxy {
  /** `http://127.0.0.1:<port>`, for `--proxy-server`. */
  readonly url: string;
  /** Requests refused so far, in order. */
  readonly refusals: readonly Refusal[];
  /** Bytes carried so far, both directions. */
  readonly bytes: number;
  /** Requests let through so far. */
  readonly allowed: number;
  close(): Promise<void>;
}

export interface ProxyOptions {
  policy: EgressPolicy;
  /** Transfer limit of the run, both directions together. */
  maxBytes: number;
  resolver?: Resolver;
}

export async function startCheckingProxy(options: ProxyOptions): Promise<CheckingProxy> {
  const resolver = options.resolver ?? systemResolver;
  const refusals: Refusal[] = [];
  const sockets = new Set<Duplex>();
  let bytes = 0;
  let allowed = 0;
  let overLimit = false;

  const refuse = (url: string, reason: string, message: string) => {
    refusals.push({ url, reason, message });
  };
  const count = (n: number) => {
    bytes += n;
    if (bytes > options.maxBytes && !overLimit) {
      overLimit = true;
      refuse(
        '*',
        'size',
        `The page transferred more than ${options.maxBytes} bytes; the run's connections were cut.`,
      );
      for (const socket of sockets) socket.destroy();
    }
  };
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  /** Judges a URL; on refusal records it and returns undefined. */
  const judge = async (url: string) => {
    if (overLimit) {
      refuse(
        url,
        'size',
        `Refused ${url}: the run's transfer limit of ${options.maxBytes} bytes was reached.`,
      );
      return undefined;
    }
    const decision = await checkEgressUrl(url, options.policy, resolver);
    if (!decision.ok) {
      refuse(url, decision.reason, decision.message);
      return undefined;
    }
    allowed++;
    return decision;
  };

  const server = http.createServer(async (request, response) => {
    track(request.socket);
    const target = request.url ?? '';
    // A proxy request names an absolute URL; anything else was not meant for a proxy.
    if (!/^https?:\/\//i.test(target)) {
      response.writeHead(400, { [REFUSED_HEADER]: 'scheme' }).end('Only absolute http URLs are proxied.');
      return;
    }
    const decision = await judge(target);
    if (!decision) {
      const last = refusals.at(-1) as Refusal;
      response
        .writeHead(403, { 'content-type': 'text/plain; charset=utf-8', [REFUSED_HEADER]: last.reason })
        .end(last.message);
      return;
    }
    const url = decision.url;
    const headers = { ...request.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(
      {
        host: decision.addresses[0],
        port: url.port || 80,
        method: request.method,
        path: `${url.pathname}${url.search}`,
        headers: { ...headers, host: url.host },
        agent: false,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
        answer.on('data', (chunk: Buffer) => count(chunk.length));
        answer.pipe(response);
      },
    );
    upstream.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end(`Upstream error: ${error.message}`);
    });
    request.on('data', (chunk: Buffer) => count(chunk.length));
    request.pipe(upstream);
  });

  // HTTPS (and wss) arrive as CONNECT host:port; judged as https://host:port/.
  server.on('connect', async (request: http.IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    const authority = request.url ?? '';
    const decision = await judge(`https://${authority}/`);
    if (!decision) {
      const last = refusals.at(-1) as Refusal;
      client.end(`HTTP/1.1 403 Forbidden\r\n${REFUSED_HEADER}: ${last.reason}\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const port = Number(decision.url.port || 443);
    const upstream = net.connect(port, decision.addresses[0] as string, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.on('data', (chunk: Buffer) => count(chunk.length));
    client.on('data', (chunk: Buffer) => count(chunk.length));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });

  // A plain-http WebSocket would be an upgrade on a proxy request: not carried (wss goes by CONNECT).
  server.on('upgrade', (request: http.IncomingMessage, socket: Duplex) => {
    refuse(request.url ?? '', 'scheme', `Refused ${request.url}: plain ws:// is not carried by the proxy.`);
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refusals,
    get bytes() {
      return bytes;
    },
    get allowed() {
      return allowed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
