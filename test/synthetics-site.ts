/**
 * Pages for synthetic-monitor tests, served on loopback: a shop with a search
 * form, pages that misbehave (a redirect to a forbidden address, a page that
 * fetches one, a 500), and a second "forbidden" server that counts every hit,
 * so a test can prove nothing reached it. The site's own `host:port` is what
 * a test puts in EGRESS_ALLOW; the forbidden one is never allowed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestSite {
  /** `http://127.0.0.1:<port>` of the allowed site. */
  url: string;
  /** `127.0.0.1:<port>`, for EGRESS_ALLOW. */
  hostPort: string;
  /** `http://127.0.0.1:<port>` of the forbidden server. */
  forbiddenUrl: string;
  /** Requests the forbidden server received. */
  forbiddenHits: () => number;
  /** Requests the site received, by path. */
  hits: string[];
  close(): Promise<void>;
}

const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function startTestSite(): Promise<TestSite> {
  let forbiddenHits = 0;
  const forbidden = createServer((_request, response) => {
    forbiddenHits++;
    response.end('internal secret');
  });
  const forbiddenPort = await listen(forbidden);
  const forbiddenUrl = `http://127.0.0.1:${forbiddenPort}`;
  const hits: string[] = [];

  const site = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://site');
    hits.push(url.pathname);
    const html = (status: number, body: string) =>
      response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    switch (url.pathname) {
      case '/':
        return html(
          200,
          page(
            'Demo Shop',
            '<h1>Demo Shop</h1><form action="/search"><label for="q">Search</label> <input id="q" name="q" type="search"> <button type="submit">Go</button></form><a href="/about">About us</a>',
          ),
        );
      case '/search': {
        const q = (url.searchParams.get('q') ?? '').replace(/[<>&"']/g, '');
        return html(200, page(`Results: ${q}`, `<p data-testid="results">Results for ${q}</p>`));
      }
      case '/about':
        return html(200, page('About', '<p>We sell things.</p>'));
      case '/redirect-private':
        response.writeHead(302, { location: `${forbiddenUrl}/secret` }).end();
        return;
      case '/redirect-metadata':
        response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        return;
      case '/leaky':
        return html(
          200,
          page(
            'Leaky',
            `<p>Loaded</p><img src="${forbiddenUrl}/pixel.png" alt=""><script>fetch(${JSON.stringify(`${forbiddenUrl}/steal`)}).catch(() => {});</script>`,
          ),
        );
      case '/broken':
        return html(500, page('Oops', '<p>Server error</p>'));
      default:
        return html(404, page('Not found', '<p>Not found</p>'));
    }
  });
  const port = await listen(site);
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    forbiddenUrl,
    forbiddenHits: () => forbiddenHits,
    hits,
    close: async () => {
      await Promise.all([close(site), close(forbidden)]);
    },
  };
}
