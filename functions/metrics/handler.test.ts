import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../shared/events/model.js';
import { LATENCY_BOUNDS_MS, MAX_SERIES } from '../../shared/metrics/prometheus.js';
import { recordEvents } from '../../shared/store/events.js';
import { HOUR_MS, MINUTE_MS } from '../../shared/store/keys.js';
import { traceEvents } from '../../test/fixtures.js';
import { invokeHttp, ManualClock, useClock, useFreshStore } from '../../test/helpers.js';
import { handler } from './handler.js';

const NOW = Date.UTC(2026, 10, 30, 9, 30, 0);
let tableName: string;
let restore: () => void;

const ev = traceEvents('m');
const events: TraceEvent[] = [];
// Today: chat 40 calls (4 failed, 2 of them 500s), 20 at 80 ms and 20 at 700 ms; a label with a quote and a newline.
for (let i = 0; i < 40; i++) {
  events.push(
    ev({
      ts: NOW - 3 * HOUR_MS + i * MINUTE_MS,
      endpoint: 'chat',
      latencyMs: i < 20 ? 80 : 700,
      ...(i < 2 ? { ok: false, status: 500, errorType: 'server_error' as const } : {}),
      ...(i >= 2 && i < 4 ? { ok: false, status: 429, errorType: 'rate_limited' as const } : {}),
    }),
  );
}
events.push(ev({ ts: NOW - HOUR_MS, endpoint: 'odd "name"\nhere', source: 'ingest', latencyMs: 30 }));
// Yesterday: not counted (the counters start at 00:00 UTC).
events.push(ev({ ts: NOW - 10 * HOUR_MS, endpoint: 'chat', latencyMs: 90 }));

/**
 * parse-prometheus-text-format keys a histogram's samples by `le` alone and
 * drops the labels of `_sum` and `_count` (yunyu/parse-prometheus-text-format
 * issue 13, open): the histogram family is also read without its TYPE line,
 * as untyped samples, which keeps every label. Returns `le` → count, sum and
 * count of the series holding `selector`.
 */
function histogramOf(text: string, name: string, selector: string) {
  const lines = text.split('\n').filter((line) => line.startsWith(`${name}_`) && line.includes(selector));
  const families = parsePrometheusTextFormat(`${lines.join('\n')}\n`);
  const one = (suffix: string) => families.find((f) => f.name === `${name}_${suffix}`)?.metrics ?? [];
  const buckets: Record<string, string> = {};
  for (const sample of one('bucket')) buckets[sample.labels?.le ?? '?'] = sample.value ?? '';
  return { buckets, count: one('count')[0]?.value, sum: one('sum')[0]?.value };
}

beforeAll(async () => {
  ({ tableName } = await useFreshStore());
  await recordEvents(events, { tableName, retentionDays: 30, rollupRetentionDays: 400, now: NOW });
  restore = useClock(new ManualClock(NOW));
});
afterAll(() => restore());

describe('GET /metrics', () => {
  it('is the Prometheus text format, read by a real parser', async () => {
    const res = await invokeHttp(handler, { path: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusTextFormat(res.text);
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['openai_status_requests_total', 'COUNTER'],
      ['openai_status_errors_total', 'COUNTER'],
      ['openai_status_latency_ms', 'HISTOGRAM'],
    ]);
    const [requests, errors, latency] = families as [
      (typeof families)[number],
      (typeof families)[number],
      (typeof families)[number],
    ];
    const chat = { source: 'probe', endpoint: 'chat', model: 'gpt-4o-mini', region: 'us-west-1' };
    expect(requests.metrics).toEqual(
      expect.arrayContaining([
        { labels: { ...chat, outcome: 'success' }, value: '36' },
        { labels: { ...chat, outcome: 'failure' }, value: '4' },
      ]),
    );
    expect(errors.metrics).toEqual(
      expect.arrayContaining([
        { labels: { ...chat, error_type: 'server_error' }, value: '2' },
        { labels: { ...chat, error_type: 'rate_limited' }, value: '2' },
      ]),
    );
    expect(latency.help).toMatch(/Latency/);
    expect(latency.metrics.length).toBeGreaterThan(0);
    const histogram = histogramOf(res.text, 'openai_status_latency_ms', 'endpoint="chat"');
    expect(histogram?.count).toBe('40');
    expect(Number(histogram?.sum)).toBeCloseTo(20 * 80 + 20 * 700, 3);
    expect(Object.keys(histogram?.buckets ?? {})).toEqual([...LATENCY_BOUNDS_MS.map(String), '+Inf']);
    expect(histogram?.buckets?.['50']).toBe('0');
    expect(histogram?.buckets?.['100']).toBe('20');
    expect(histogram?.buckets?.['500']).toBe('20');
    expect(histogram?.buckets?.['1000']).toBe('40');
    // Label values are escaped: the odd endpoint comes back as it was written.
    const odd = requests.metrics.find((m) => m.labels?.source === 'ingest' && m.labels.outcome === 'success');
    expect(odd?.labels?.endpoint).toBe('odd "name"\nhere');
  });

  it('bounds the label sets: the busiest kept, the rest summed under "other"', async () => {
    const { tableName: crowded } = await useFreshStore();
    const many = Array.from({ length: MAX_SERIES + 20 }, (_, i) =>
      // Endpoint e0 is the busiest (3 calls), e1 next (2), the others one call each.
      Array.from({ length: i === 0 ? 3 : i === 1 ? 2 : 1 }, (_, k) =>
        ev({ ts: NOW - HOUR_MS + k * 1000, endpoint: `e${i}`, source: 'ingest' }),
      ),
    ).flat();
    await recordEvents(many, { tableName: crowded, retentionDays: 30, rollupRetentionDays: 400, now: NOW });
    const res = await invokeHttp(handler, { path: '/metrics' });
    const [requests] = parsePrometheusTextFormat(res.text);
    const success = (requests?.metrics ?? []).filter((m) => m.labels?.outcome === 'success');
    expect(success).toHaveLength(MAX_SERIES);
    expect(success.find((m) => m.labels?.endpoint === 'e0')?.value).toBe('3');
    expect(success.find((m) => m.labels?.endpoint === 'e1')?.value).toBe('2');
    // 120 label sets: 99 kept, 21 summed (one call each).
    expect(success.find((m) => m.labels?.endpoint === 'other')).toMatchObject({
      labels: { source: 'other', endpoint: 'other', model: 'other', region: 'other' },
      value: '21',
    });
  });

  it('refuses unknown parameters', async () => {
    const res = await invokeHttp(handler, { path: '/metrics', query: { window: 60 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe('window');
  });
});
