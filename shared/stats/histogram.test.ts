import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantileOfSorted } from '../../test/fixtures.js';
import {
  BUCKET_OFFSET,
  bucketAttribute,
  bucketBounds,
  bucketIndex,
  bucketValue,
  histogramFromItem,
  LogHistogram,
  MAX_INDEX,
  MIN_INDEX,
  parseBucketAttribute,
  RELATIVE_ACCURACY,
  ZERO_BUCKET,
  ZERO_THRESHOLD,
} from './histogram.js';

const RUNS = { numRuns: 300 };
// α is met exactly in real arithmetic; allow a few ulps of float noise.
const TOLERANCE = RELATIVE_ACCURACY * (1 + 1e-9);
const QS = [0, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

const logUniform = (min: number, max: number) =>
  fc
    .double({ min: Math.log(min), max: Math.log(max), noNaN: true })
    .map((x) => Math.min(max, Math.max(min, Math.exp(x))));

/** Realistic-ish latencies: log-uniform 0.01 ms..120 s, whole milliseconds, repeated values, zeros and negatives. */
const latency = fc.oneof(
  { arbitrary: logUniform(0.01, 120_000), weight: 6 },
  { arbitrary: fc.integer({ min: 1, max: 120_000 }), weight: 2 },
  { arbitrary: fc.constantFrom(0.01, 1, 250, 300, 301, 1000, 12_000, 120_000), weight: 2 },
  { arbitrary: fc.constantFrom(0, -0, -3), weight: 1 },
);
const latencies = fc.array(latency, { maxLength: 300 });
const nonEmptyLatencies = fc.array(latency, { minLength: 1, maxLength: 300 });

/** The float `ulps` representable steps away from a positive x. */
function ulpStep(x: number, ulps: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + BigInt(ulps));
  return view.getFloat64(0);
}

const upperEdges = Array.from({ length: MAX_INDEX - MIN_INDEX + 1 }, (_, k) => MIN_INDEX + k);

describe('bucket mapping', () => {
  it('keeps the persisted attribute names stable', () => {
    expect(BUCKET_OFFSET).toBe(231);
    expect(bucketAttribute(ZERO_BUCKET)).toBe('h0');
    expect(bucketAttribute(bucketIndex(0.01))).toBe('h1');
    expect(bucketAttribute(bucketIndex(1))).toBe('h231');
    expect(bucketAttribute(bucketIndex(300))).toBe('h517');
    expect(bucketAttribute(bucketIndex(60_000))).toBe('h782');
    expect(bucketAttribute(bucketIndex(1e7))).toBe('h1037');
    expect(bucketIndex(1e12)).toBe(MAX_INDEX);
    expect(bucketIndex(0)).toBe(ZERO_BUCKET);
    expect(bucketIndex(-5)).toBe(ZERO_BUCKET);
    expect(bucketIndex(ZERO_THRESHOLD)).toBe(ZERO_BUCKET);
    expect(bucketIndex(0.0099)).toBe(MIN_INDEX);
  });

  it('puts every bucket edge in the bucket below it and every representative in its own bucket', () => {
    for (const i of upperEdges) {
      const { lower, upper } = bucketBounds(i);
      expect(bucketIndex(upper)).toBe(i);
      expect(bucketIndex(lower)).toBe(i - 1);
      expect(bucketIndex(bucketValue(i))).toBe(i);
      // Where a naive ceil(log) is off by one (thousands of such floats sit next to edges).
      for (const ulps of [1, 2, 3]) {
        expect(bucketIndex(ulpStep(upper, -ulps))).toBe(i);
        if (i < MAX_INDEX) expect(bucketIndex(ulpStep(upper, ulps))).toBe(i + 1);
      }
      if (i > MIN_INDEX) expect(bucketBounds(i - 1).upper).toBe(lower);
    }
    expect(bucketBounds(ZERO_BUCKET)).toEqual({ lower: 0, upper: bucketBounds(MIN_INDEX).lower });
  });

  it('maps each value into a bucket that contains it, with the representative within α of both edges', () => {
    const value = fc.oneof(
      logUniform(ZERO_THRESHOLD * 1.0000001, 1e7),
      fc.double({ min: ZERO_THRESHOLD, max: 1e7, noNaN: true, minExcluded: true }),
    );
    fc.assert(
      fc.property(value, (v) => {
        const i = bucketIndex(v);
        const { lower, upper } = bucketBounds(i);
        expect(lower < v && v <= upper).toBe(true);
        const rep = bucketValue(i);
        expect(Math.abs(rep - lower) / lower).toBeLessThanOrEqual(TOLERANCE);
        expect(Math.abs(upper - rep) / upper).toBeLessThanOrEqual(TOLERANCE);
        expect(Math.abs(rep - v) / v).toBeLessThanOrEqual(TOLERANCE);
      }),
      RUNS,
    );
  });

  it('is monotonic in the value', () => {
    const v = fc.oneof(logUniform(1e-4, 1e8), fc.double({ noNaN: true, noDefaultInfinity: true }));
    fc.assert(
      fc.property(v, v, (a, b) => {
        const [x, y] = a <= b ? [a, b] : [b, a];
        expect(bucketIndex(x)).toBeLessThanOrEqual(bucketIndex(y));
      }),
      RUNS,
    );
  });

  it('parses only the names it writes', () => {
    for (const i of [ZERO_BUCKET, ...upperEdges]) expect(parseBucketAttribute(bucketAttribute(i))).toBe(i);
    for (const name of [
      'pk',
      'sk',
      'n',
      'ok',
      'hello',
      'h',
      'hx1',
      'h01',
      'h-1',
      'H5',
      'h1038',
      'h99999',
      ' h5',
    ])
      expect(parseBucketAttribute(name)).toBeUndefined();
    expect(() => bucketAttribute(MAX_INDEX + 1)).toThrow(RangeError);
    expect(() => bucketValue(0.5)).toThrow(RangeError);
  });
});

describe('LogHistogram', () => {
  it('answers quantiles within α of the exact lower-nearest-rank quantile', () => {
    fc.assert(
      fc.property(nonEmptyLatencies, (values) => {
        const sorted = [...values].sort((a, b) => a - b);
        const histogram = LogHistogram.fromValues(values);
        expect(histogram.count).toBe(values.length);
        const batch = histogram.quantiles(QS);
        QS.forEach((q, k) => {
          const exact = quantileOfSorted(sorted, q);
          const estimate = histogram.quantile(q);
          expect(batch[k]).toBe(estimate);
          if (exact <= ZERO_THRESHOLD) expect(estimate).toBe(0);
          else {
            expect(estimate).not.toBe(0);
            expect(Math.abs((estimate ?? Number.NaN) - exact) / exact).toBeLessThanOrEqual(TOLERANCE);
          }
        });
      }),
      RUNS,
    );
  });

  it('merges into exactly the histogram of the concatenation, commutatively and associatively', () => {
    const of = (values: number[]) => LogHistogram.fromValues(values);
    fc.assert(
      fc.property(latencies, latencies, latencies, (a, b, c) => {
        const ab = of(a).merge(of(b));
        expect(ab.equals(of([...a, ...b]))).toBe(true);
        expect(ab.buckets()).toEqual(of([...a, ...b]).buckets());
        expect(ab.equals(of(b).merge(of(a)))).toBe(true);
        expect(
          of(a)
            .merge(of(b))
            .merge(of(c))
            .equals(of(a).merge(of(b).merge(of(c)))),
        ).toBe(true);
      }),
      RUNS,
    );
  });

  it('gives the same buckets, quantiles and merges whatever order buckets are added in', () => {
    // Bucket additions in any order (live rollup attributes come in name order, not bucket order).
    const additions = fc.array(
      fc.record({
        index: fc.integer({ min: ZERO_BUCKET, max: MAX_INDEX }),
        count: fc.integer({ min: 0, max: 1e6 }),
      }),
      { maxLength: 400 },
    );
    const reference = (list: { index: number; count: number }[]) => {
      const sums = new Map<number, number>();
      for (const { index, count } of list) sums.set(index, (sums.get(index) ?? 0) + count);
      return [...sums]
        .filter(([, count]) => count > 0)
        .sort(([a], [b]) => a - b)
        .map(([index, count]) => ({ index, count }));
    };
    const of = (list: { index: number; count: number }[]) => {
      const histogram = new LogHistogram();
      for (const { index, count } of list) histogram.addBucket(index, count);
      return histogram;
    };
    fc.assert(
      fc.property(additions, additions, (a, b) => {
        expect(of(a).buckets()).toEqual(reference(a));
        expect(of(a).count).toBe(a.reduce((n, x) => n + x.count, 0));
        const both = reference([...a, ...b]);
        // Into an empty one, into a few buckets, into many, and each way round.
        expect(new LogHistogram().merge(of(a)).merge(of(b)).buckets()).toEqual(both);
        expect(of(a).merge(of(b)).buckets()).toEqual(both);
        expect(of(b).merge(of(a)).buckets()).toEqual(both);
        const whole = of([...a, ...b]);
        expect(of(a).merge(of(b)).quantiles(QS)).toEqual(whole.quantiles(QS));
        expect(of(a).merge(of(b)).equals(whole)).toBe(true);
        const twice = of(a);
        twice.merge(twice);
        expect(twice.buckets()).toEqual(reference([...a, ...a]));
      }),
      RUNS,
    );
  });

  it('round-trips through item attributes, ignoring unrelated attributes', () => {
    fc.assert(
      fc.property(latencies, (values) => {
        const histogram = LogHistogram.fromValues(values);
        const attributes = histogram.toAttributes();
        expect(histogramFromItem(attributes).equals(histogram)).toBe(true);
        const item = {
          pk: 'EP#chat',
          sk: 'M#2024',
          n: 3,
          ok: 2,
          hello: 1,
          h: 7,
          hx1: 2,
          h01: 5,
          ...attributes,
        };
        const read = histogramFromItem(item);
        expect(read.equals(histogram)).toBe(true);
        expect(read.buckets()).toEqual(histogram.buckets());
      }),
      RUNS,
    );
  });

  it('skips bucket attributes whose counts are not positive integers', () => {
    const read = histogramFromItem({
      h0: 2,
      h1: -1,
      h2: 1.5,
      h3: '4',
      h4: Number.NaN,
      h5: 0,
      h6: null,
      h517: 3,
    });
    expect(read.buckets()).toEqual([
      { index: ZERO_BUCKET, count: 2 },
      { index: bucketIndex(300), count: 3 },
    ]);
  });

  it('is undefined when empty', () => {
    const empty = new LogHistogram();
    expect(empty.count).toBe(0);
    expect(empty.quantile(0.5)).toBeUndefined();
    expect(empty.quantiles([0.5, 0.99])).toEqual([undefined, undefined]);
    expect(empty.buckets()).toEqual([]);
    expect(empty.toAttributes()).toEqual({});
    expect(empty.toLogBins(10)).toEqual([]);
  });

  it('answers every quantile of a single value with that value', () => {
    const histogram = LogHistogram.fromValues([300]);
    for (const q of QS) expect(Math.abs((histogram.quantile(q) ?? 0) - 300) / 300).toBeLessThanOrEqual(0.01);
    expect(histogram.toAttributes()).toEqual({ h517: 1 });
  });

  it('adds with a count', () => {
    const histogram = new LogHistogram();
    histogram.add(100, 98);
    histogram.add(1000, 2);
    histogram.add(5, 0);
    expect(histogram.count).toBe(100);
    expect(histogram.buckets()).toEqual([
      { index: bucketIndex(100), count: 98 },
      { index: bucketIndex(1000), count: 2 },
    ]);
    expect(histogram.quantiles([0.5, 0.98, 0.99])).toEqual([
      bucketValue(bucketIndex(100)),
      bucketValue(bucketIndex(100)),
      bucketValue(bucketIndex(1000)),
    ]);
  });

  it('adds to a bucket by index exactly as adding its values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 120_000, noNaN: true }), { maxLength: 200 }),
        (values) => {
          const byIndex = new LogHistogram();
          for (const v of values) byIndex.addBucket(bucketIndex(v), 1);
          expect(byIndex.equals(LogHistogram.fromValues(values))).toBe(true);
        },
      ),
      RUNS,
    );
    expect(() => new LogHistogram().addBucket(MAX_INDEX + 1, 1)).toThrow(RangeError);
    expect(() => new LogHistogram().addBucket(0, -1)).toThrow(RangeError);
  });

  it('does not let float noise in q·count move the rank', () => {
    const histogram = LogHistogram.fromValues(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(0.07 * 100).toBeGreaterThan(7);
    expect(histogram.quantile(0.07)).toBe(bucketValue(bucketIndex(7)));
  });

  it('rejects invalid input with RangeError', () => {
    const histogram = new LogHistogram();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
      expect(() => histogram.add(bad)).toThrow(RangeError);
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => histogram.add(1, bad)).toThrow(RangeError);
    for (const bad of [-0.1, 1.1, Number.NaN]) expect(() => histogram.quantile(bad)).toThrow(RangeError);
    expect(() => histogram.toLogBins(0)).toThrow(RangeError);
    expect(histogram.count).toBe(0);
  });

  it('re-bins into contiguous ascending log bins whose counts sum to the total', () => {
    fc.assert(
      fc.property(nonEmptyLatencies, fc.integer({ min: 1, max: 60 }), (values, maxBins) => {
        const histogram = LogHistogram.fromValues(values);
        const bins = histogram.toLogBins(maxBins);
        expect(bins.length).toBeGreaterThan(0);
        expect(bins.length).toBeLessThanOrEqual(maxBins);
        expect(bins.reduce((sum, bin) => sum + bin.count, 0)).toBe(histogram.count);
        bins.forEach((bin, k) => {
          expect(bin.lower).toBeLessThan(bin.upper);
          if (k > 0) expect(bin.lower).toBe(bins[k - 1]?.upper);
        });
        const positive = values.filter((v) => v > ZERO_THRESHOLD);
        const first = bins[0];
        const last = bins.at(-1);
        if (positive.length < values.length) expect(first?.lower).toBe(0);
        else expect(first?.lower).toBeLessThan(Math.min(...positive));
        expect(last?.upper).toBeGreaterThanOrEqual(Math.max(...values));
      }),
      RUNS,
    );
  });

  it('draws a skewed sample as evenly log-spaced bins', () => {
    const values = [100, 150, 200, 250, 300, 300, 310, 400, 800, 2000];
    const bins = LogHistogram.fromValues(values).toLogBins(5);
    expect(bins.map((bin) => bin.count)).toEqual([2, 5, 1, 1, 1]);
    const ratios = bins.map((bin) => bin.upper / bin.lower);
    for (const ratio of ratios.slice(0, -1)) expect(ratio).toBeCloseTo(ratios[0] ?? 0, 9);
  });
});
