import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../shared/events/model.js';
import { recordEvents } from '../../shared/store/events.js';
import { DAY_MS, MINUTE_MS } from '../../shared/store/keys.js';
import { traceEvents } from '../../test/fixtures.js';
import { invokeHttp, ManualClock, useClock, useFreshStore } from '../../test/helpers.js';
import { handler } from './handler.js';

const NOW = Date.UTC(2026, 10, 30, 9, 30, 0);
let restore: () => void;
const ev = traceEvents('b');
const fail = { ok: false, status: 500, errorType: 'server_error' as const };
const events: TraceEvent[] = [];
for (let m = 1; m <= 100; m++) {
  // chat: all fine in the last hour, one failure two days ago; embeddings: half failed in the last hour.
  events.push(ev({ ts: NOW - m * MINUTE_MS, endpoint: 'chat' }));
  events.push(
    ev({ ts: NOW - m * MINUTE_MS, endpoint: 'embeddings', ...(m % 2 === 0 && m <= 60 ? fail : {}) }),
  );
}
events.push(ev({ ts: NOW - 2 * DAY_MS, endpoint: 'chat', ...fail }));
events.push(ev({ ts: NOW - 2 * DAY_MS + 1000, endpoint: 'a<b>&"c"', source: 'ingest' }));

beforeAll(async () => {
  const { tableName } = await useFreshStore();
  await recordEvents(events, { tableName, retentionDays: 30, rollupRetentionDays: 400, now: NOW });
  restore = useClock(new ManualClock(NOW));
});
afterAll(() => restore());

const badge = async (path: string, query: Record<string, string> = {}) => {
  const res = await invokeHttp(handler, { path, query });
  return res;
};

/** The badge's texts (label, value) as a reader sees them, after checking it is well-formed SVG. */
function texts(svg: string): string[] {
  expect(XMLValidator.validate(svg)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as {
    svg: {
      '@_xmlns': string;
      '@_role': string;
      title: string;
      g: { text: ({ '#text': string } | string)[] }[];
    };
  };
  expect(doc.svg['@_xmlns']).toBe('http://www.w3.org/2000/svg');
  expect(doc.svg['@_role']).toBe('img');
  const labels = doc.svg.g[1]?.text ?? [];
  // Each text is drawn twice (shadow, then text): keep the second of each pair.
  return labels.filter((_, i) => i % 2 === 1).map((t) => (typeof t === 'string' ? t : t['#text']));
}

describe('GET /badge/{endpoint}.svg', () => {
  it('is valid, cacheable SVG naming the status', async () => {
    const res = await badge('/badge/chat.svg');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=60, s-maxage=60');
    expect(texts(res.text)).toEqual(['chat', 'operational']);
    expect(texts((await badge('/badge/embeddings.svg')).text)).toEqual(['embeddings', 'down']);
    expect(texts((await badge('/badge/nothing.svg')).text)).toEqual(['nothing', 'no data']);
  });

  it('escapes what the endpoint name holds', async () => {
    const res = await badge(`/badge/${encodeURIComponent('a<b>&"c"')}.svg`, { source: 'ingest' });
    expect(texts(res.text)).toEqual(['a<b>&"c"', 'no data']);
  });

  it('refuses other file names', async () => {
    const res = await badge('/badge/chat.png');
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe('endpoint');
  });
});

describe('GET /badge/{endpoint}/uptime.svg', () => {
  it('gives the success rate over the window, never rounded up to 100% after a failure', async () => {
    expect(texts((await badge('/badge/chat/uptime.svg', { window: '60' })).text)).toEqual([
      'chat uptime 1h',
      '100%',
    ]);
    // 100 minutes of chat ok plus one failure two days ago.
    expect(texts((await badge('/badge/chat/uptime.svg', { window: String(3 * 1440) })).text)).toEqual([
      'chat uptime 3d',
      '99.00%',
    ]);
    expect(texts((await badge('/badge/embeddings/uptime.svg')).text)).toEqual([
      'embeddings uptime 1d',
      '70.00%',
    ]);
  });

  it('refuses a bad window or file', async () => {
    expect((await badge('/badge/chat/uptime.svg', { window: 'week' })).json().field).toBe('window');
    expect((await badge('/badge/chat/status.svg')).json().field).toBe('file');
  });
});
