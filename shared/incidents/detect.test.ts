import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import { bucketAttribute, bucketIndex, LogHistogram } from '../stats/histogram.js';
import type { RollupItem } from '../store/rollups.js';
import {
  type BucketSample,
  type DetectOptions,
  detectEndpoint,
  detectIncidents,
  formatMs,
  samplesFromRollups,
  sparseQuantile,
} from './detect.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 20, 12, 0);
const at = (minute: number) => T0 + minute * MIN;

/** One bucket: `total` executions, `ok` of them fine, all taking `latencyMs`. */
function sample(minute: number, total: number, ok: number, latencyMs = 300): BucketSample {
  return {
    start: at(minute),
    total,
    ok,
    latency: new Map(total > 0 ? [[bucketIndex(latencyMs), total]] : []),
  };
}
const healthy = (minute: number) => sample(minute, 2, 2);
const failing = (minute: number) => sample(minute, 2, 0);

const defaults = parseConfig({}).incidents;
const options = (over: Partial<DetectOptions> = {}): DetectOptions => ({
  thresholds: defaults,
  bucketMs: MIN,
  minBuckets: defaults.minMinutes,
  maxGapMs: 30 * MIN,
  ongoingMs: 2 * MIN,
  now: at(600),
  ...over,
});

const series = (...samples: BucketSample[]) => samples;

describe('detectEndpoint', () => {
  it('uses the configured defaults: 90 %, 10 s, 3 minutes', () => {
    expect(defaults).toEqual({ successRatePercent: 90, p95Ms: 10_000, minMinutes: 3 });
  });

  it('finds nothing in healthy minutes', () => {
    const s = Array.from({ length: 60 }, (_, m) => healthy(m));
    expect(detectEndpoint('chat', s, options())).toEqual([]);
  });

  it('ignores runs shorter than minMinutes', () => {
    const s = series(healthy(0), failing(1), failing(2), healthy(3), failing(4), healthy(5));
    expect(detectEndpoint('chat', s, options())).toEqual([]);
  });

  it('opens one incident for exactly minMinutes breaching minutes, with exact bounds and figures', () => {
    const s = series(healthy(0), failing(1), failing(2), failing(3), healthy(4), healthy(5));
    expect(detectEndpoint('chat', s, options())).toEqual([
      {
        id: `detected:chat:${at(1)}`,
        kind: 'detected',
        endpoint: 'chat',
        start: at(1),
        end: at(4),
        severity: 'high',
        title: 'chat: success rate 0% (below 90%)',
        reason: 'success_rate',
        successRate: 0,
        p95Ms: expect.closeTo(300, -1),
        executions: 6,
      },
    ]);
  });

  it('rates a partial failure below the threshold medium, and below 50 % high', () => {
    const partial = series(sample(0, 10, 7), sample(1, 10, 8), sample(2, 10, 6));
    const [medium] = detectEndpoint('chat', partial, options());
    expect(medium).toMatchObject({ severity: 'medium', reason: 'success_rate', successRate: 0.7 });
    expect(medium?.title).toBe('chat: success rate 70% (below 90%)');
    const bad = series(sample(0, 10, 4), sample(1, 10, 5), sample(2, 10, 3));
    expect(detectEndpoint('chat', bad, options())[0]).toMatchObject({ severity: 'high', successRate: 0.4 });
  });

  it('never rounds a breaching rate up to the threshold in the title', () => {
    const s = series(sample(0, 1000, 896), sample(1, 1000, 896), sample(2, 1000, 896));
    expect(detectEndpoint('chat', s, options())[0]?.title).toBe('chat: success rate 89.6% (below 90%)');
  });

  it('lets minutes without data neither break nor extend a run', () => {
    // Round robin: measured every 10 minutes, with empty buckets (total 0) in between.
    const s = series(failing(0), sample(5, 0, 0), failing(10), failing(20), healthy(30));
    const [incident] = detectEndpoint('chat', s, options());
    expect(incident).toMatchObject({ start: at(0), end: at(21), executions: 6 });
  });

  it('ends a run after more than 30 minutes without data', () => {
    // 30 minutes between the end of minute 2 and minute 33: still one run.
    const joined = series(failing(0), failing(1), failing(2), failing(33));
    expect(detectEndpoint('chat', joined, options()).map((i) => [i.start, i.end])).toEqual([[at(0), at(34)]]);
    // 31 minutes: two runs, each too short on its own.
    const split = series(failing(0), failing(1), failing(33), failing(34));
    expect(detectEndpoint('chat', split, options())).toEqual([]);
    // Two long enough runs separated by a long gap are two incidents.
    const two = series(failing(0), failing(1), failing(2), failing(40), failing(41), failing(42));
    expect(detectEndpoint('chat', two, options()).map((i) => [i.start, i.end])).toEqual([
      [at(0), at(3)],
      [at(40), at(43)],
    ]);
  });

  it('reports a latency-only breach as low severity, reason latency', () => {
    const s = series(sample(0, 3, 3, 12_300), sample(1, 3, 3, 12_300), sample(2, 3, 3, 12_300));
    const [incident] = detectEndpoint('embeddings', s, options());
    expect(incident).toMatchObject({ severity: 'low', reason: 'latency', successRate: 1, executions: 9 });
    // p95 is the log bucket's representative: within 1% of 12 300 ms (12 213 ms here).
    expect(Math.abs((incident?.p95Ms ?? 0) - 12_300) / 12_300).toBeLessThanOrEqual(0.01);
    expect(incident?.title).toBe('embeddings: p95 12.2 s (above 10 s)');
  });

  it('reports failures that are also slow as reason both', () => {
    const s = series(sample(0, 2, 0, 12_000), sample(1, 2, 1, 15_000), sample(2, 2, 0, 12_000));
    const [incident] = detectEndpoint('chat', s, options());
    expect(incident).toMatchObject({ reason: 'both', severity: 'high' });
    expect(incident?.title).toMatch(/^chat: success rate 17% \(below 90%\), p95 1\d\.\d+ s \(above 10 s\)$/);
  });

  it('counts a run of mixed breaches (errors, then slowness) as one incident', () => {
    const s = series(failing(0), sample(1, 2, 2, 20_000), failing(2));
    expect(detectEndpoint('chat', s, options())).toHaveLength(1);
  });

  it('leaves end null while the run reaches the last measured minute and that is recent', () => {
    const s = series(healthy(0), failing(1), failing(2), failing(3));
    // now inside minute 3, and just after it
    expect(detectEndpoint('chat', s, options({ now: at(3) + 20_000 }))[0]?.end).toBeNull();
    expect(detectEndpoint('chat', s, options({ now: at(5) + 59_999 }))[0]?.end).toBeNull();
    // two minutes after the last measured minute ended: over
    expect(detectEndpoint('chat', s, options({ now: at(6) }))[0]?.end).toBe(at(4));
    // a healthy minute after the run: over, however recent
    const recovered = series(...s, healthy(4));
    expect(detectEndpoint('chat', recovered, options({ now: at(4) + 1000 }))[0]?.end).toBe(at(4));
  });

  it('respects the thresholds from the configuration', () => {
    const strict = parseConfig({
      INCIDENT_SUCCESS_RATE: '99',
      INCIDENT_P95_MS: '500',
      INCIDENT_MIN_MINUTES: '2',
    }).incidents;
    const s = series(sample(0, 100, 97), sample(1, 100, 98), healthy(2), sample(3, 2, 2, 800), healthy(4));
    const opts = options({ thresholds: strict, minBuckets: strict.minMinutes });
    expect(detectEndpoint('chat', s, options())).toEqual([]);
    const found = detectEndpoint('chat', s, opts);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ start: at(0), end: at(2), reason: 'success_rate', severity: 'medium' });
    expect(found[0]?.title).toBe('chat: success rate 98% (below 99%)');
    // Minute 3 alone breaches 500 ms, but one minute is under minMinutes = 2.
    const longer = series(...s, sample(5, 2, 2, 800), sample(6, 2, 2, 800));
    expect(detectEndpoint('chat', longer, opts).at(-1)).toMatchObject({ start: at(5), reason: 'latency' });
  });

  it('works with hour buckets and one breaching hour', () => {
    const H = 60 * MIN;
    const hourly = [0, 1, 2, 4].map((h) => ({ ...failing(0), start: T0 + h * H }));
    const found = detectEndpoint('chat', hourly, options({ bucketMs: H, minBuckets: 1, now: T0 + 10 * H }));
    // Hours 0–2 are one run; hour 4 follows a 60-minute gap, so it is another.
    expect(found.map((i) => [i.start, i.end])).toEqual([
      [T0, T0 + 3 * H],
      [T0 + 4 * H, T0 + 5 * H],
    ]);
  });
});

describe('detectIncidents', () => {
  it('treats endpoints independently and sorts newest first', () => {
    const samples = new Map([
      ['chat', series(failing(0), failing(1), failing(2), healthy(3))],
      // interleaved with chat's failures, but only two of its own: nothing
      ['models', series(healthy(0), failing(1), failing(2), healthy(3))],
      ['embeddings', series(healthy(0), failing(5), failing(6), failing(7), healthy(8))],
    ]);
    const found = detectIncidents(samples, options());
    expect(found.map((i) => [i.endpoint, i.start, i.end])).toEqual([
      ['embeddings', at(5), at(8)],
      ['chat', at(0), at(3)],
    ]);
  });
});

describe('samplesFromRollups', () => {
  const item = (
    minute: number,
    model: string,
    region: string,
    latencies: number[],
    ok: number,
  ): RollupItem => {
    const histogram = LogHistogram.fromValues(latencies);
    return {
      resolution: 'minute',
      bucketStart: at(minute),
      source: 'probe',
      endpoint: 'chat',
      model,
      region,
      n: latencies.length,
      ok,
      lat: latencies.reduce((a, b) => a + b, 0),
      ...histogram.toAttributes(),
    };
  };

  it('sums models and regions per endpoint and minute, histograms included', () => {
    const samples = samplesFromRollups([
      item(1, 'a', 'us', [100, 200], 2),
      item(0, 'a', 'us', [100], 1),
      item(0, 'b', 'eu', [5000, 9000, 12_000], 0),
    ]);
    const chat = samples.get('chat') ?? [];
    expect(chat.map((s) => [s.start, s.total, s.ok])).toEqual([
      [at(0), 4, 1],
      [at(1), 2, 2],
    ]);
    const merged = LogHistogram.fromValues([100, 5000, 9000, 12_000]);
    expect(sparseQuantile(chat[0]?.latency ?? new Map(), 0.95)).toBe(merged.quantile(0.95));
    expect(sparseQuantile(new Map(), 0.95)).toBeUndefined();
  });

  it('computes quantiles exactly as LogHistogram does', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    for (let round = 0; round < 20; round++) {
      const values = Array.from({ length: 1 + Math.floor(random() * 200) }, () => random() * 30_000);
      const histogram = LogHistogram.fromValues(values);
      const sparse = new Map(histogram.buckets().map(({ index, count }) => [index, count]));
      for (const q of [0.5, 0.95, 0.99]) expect(sparseQuantile(sparse, q)).toBe(histogram.quantile(q));
    }
    expect(bucketAttribute(bucketIndex(0))).toBe('h0');
  });
});

describe('formatMs', () => {
  it('reads naturally and never shows a value above the threshold as equal to it', () => {
    expect(formatMs(850)).toBe('850 ms');
    expect(formatMs(12_345)).toBe('12.3 s');
    expect(formatMs(10_000)).toBe('10 s');
    expect(formatMs(10_049, 10_000)).toBe('10.05 s');
    expect(formatMs(10_004, 10_000)).toBe('10.004 s');
    expect(formatMs(500.4, 500)).toBe('500.4 ms');
  });
});
