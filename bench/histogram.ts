/**
 * Micro benchmark and item-size estimate for shared/stats/histogram.ts.
 * Run: npx tsx bench/histogram.ts
 */
import { Bench } from 'tinybench';
import { bucketIndex, histogramFromItem, LogHistogram } from '../shared/stats/histogram.js';
import { lognormal, seededRandom } from '../test/fixtures.js';

/** DynamoDB size of a number: about (significant digits)/2 + 1 bytes. */
const numberBytes = (n: number): number => Math.ceil(String(n).replace(/^0+|0+$/g, '').length / 2) + 1;
const attributeBytes = (attributes: Record<string, number>): number =>
  Object.entries(attributes).reduce((sum, [name, count]) => sum + name.length + numberBytes(count), 0);

console.log(`buckets in (1 ms, 60 s]: ${bucketIndex(60_000) - bucketIndex(1)}`);
console.log('\nitem size for lognormal latencies, median 300 ms (mean over 200 trials):');
const random = seededRandom(42);
for (const sigma of [0.3, 0.5, 0.8]) {
  for (const n of [60, 1440, 3600]) {
    let buckets = 0;
    let bytes = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const histogram = LogHistogram.fromValues(
        Array.from({ length: n }, () => lognormal(random, 300, sigma)),
      );
      const attributes = histogram.toAttributes();
      buckets += Object.keys(attributes).length;
      bytes += attributeBytes(attributes);
    }
    console.log(
      `  σ=${sigma} n=${String(n).padStart(4)}: ${(buckets / trials).toFixed(1).padStart(6)} buckets, ~${Math.round(bytes / trials)} bytes`,
    );
  }
}

console.log('\ntimings (tinybench: warm-up, then at least 16 samples and 0.5 s each):');
const values = Array.from({ length: 1_000_000 }, () => lognormal(random, 300, 0.5));
const minutes = Array.from({ length: 1440 }, (_, m) =>
  LogHistogram.fromValues(values.slice(m * 60, m * 60 + 60)).toAttributes(),
);
const day = LogHistogram.fromValues(values);
const bench = new Bench({ time: 500, iterations: 16 })
  .add('add 1e6 values', () => {
    LogHistogram.fromValues(values);
  })
  .add('read + merge 1440 minute items (60 values each)', () => {
    const merged = new LogHistogram();
    for (const item of minutes) merged.merge(histogramFromItem(item));
  })
  .add('10k x quantiles([0.5, 0.95, 0.99])', () => {
    for (let k = 0; k < 10_000; k++) day.quantiles([0.5, 0.95, 0.99]);
  })
  .add('10k x toLogBins(40)', () => {
    for (let k = 0; k < 10_000; k++) day.toLogBins(40);
  });
await bench.run();
console.table(bench.table());
