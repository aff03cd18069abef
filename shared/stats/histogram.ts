/**
 * A mergeable latency histogram with logarithmic buckets (DDSketch-style).
 *
 * Bucket i holds the values in (γ^(i-1), γ^i] with γ = (1+α)/(1−α); reporting
 * 2·γ^i/(γ+1) for any of them is off by at most α = 1% relative. Buckets are a
 * fixed function of the value, so histograms merge by adding counts, which is
 * what lets rollup items be updated with one atomic DynamoDB `ADD` per bucket.
 *
 * Storage: each bucket is a flat top-level numeric attribute `h<index + OFFSET>`
 * (`ADD` cannot create nested map paths). These names are persisted: the
 * constants below must never change, or old items would be read wrongly.
 */

export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);

/** Lowest regular bucket: the one containing 0.01 ms (ceil(log_γ 0.01) = -230). */
export const MIN_INDEX = -230;
/** Highest bucket: the one containing 1e7 ms (≈ 2.8 h); larger values are clamped into it. */
export const MAX_INDEX = 806;
/** Latencies ≤ ZERO_THRESHOLD (0, negatives, < ~0.01 ms) share this bucket, reported as 0. Sorts first. */
export const ZERO_BUCKET = MIN_INDEX - 1;
/** Attribute name = `h` + (index + OFFSET): `h0` is the zero bucket, `h1`..`h1037` the regular ones. */
export const BUCKET_OFFSET = -ZERO_BUCKET;
const SLOTS = MAX_INDEX + BUCKET_OFFSET + 1;

/** Values ≤ this go to the zero bucket: the lower edge of MIN_INDEX (≈ 0.00985 ms), so no bucket is partial. */
export const ZERO_THRESHOLD = upperEdge(MIN_INDEX - 1);

// Every boundary is computed by this one expression, so bucketIndex and
// bucketBounds agree bit for bit and adjacent buckets share their edge exactly.
function upperEdge(index: number): number {
  return GAMMA ** index;
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < ZERO_BUCKET || index > MAX_INDEX) {
    throw new RangeError(`not a histogram bucket index: ${index}`);
  }
}

/** The bucket of a finite latency in ms. Throws RangeError for NaN/±Infinity. */
export function bucketIndex(valueMs: number): number {
  if (!Number.isFinite(valueMs)) throw new RangeError(`latency must be finite, got ${valueMs}`);
  if (valueMs <= ZERO_THRESHOLD) return ZERO_BUCKET;
  let i = Math.ceil(Math.log(valueMs) / LN_GAMMA) + 0; // + 0 turns ceil's -0 (values just below 1) into 0
  // The logarithm can land a hair off an integer (e.g. for exact powers of γ);
  // the edges decide, so bucketBounds(bucketIndex(v)) always contains v.
  if (valueMs > upperEdge(i)) i += 1;
  else if (valueMs <= upperEdge(i - 1)) i -= 1;
  return Math.min(i, MAX_INDEX);
}

/** The value reported for a bucket: within α of everything in it; 0 for the zero bucket. */
export function bucketValue(index: number): number {
  checkIndex(index);
  return index === ZERO_BUCKET ? 0 : (2 * upperEdge(index)) / (GAMMA + 1);
}

/** (lower, upper] in ms. The zero bucket is drawn as (0, ZERO_THRESHOLD] although it also holds 0 and negatives. */
export function bucketBounds(index: number): { lower: number; upper: number } {
  checkIndex(index);
  return { lower: index === ZERO_BUCKET ? 0 : upperEdge(index - 1), upper: upperEdge(index) };
}

export function bucketAttribute(index: number): string {
  checkIndex(index);
  return `h${index + BUCKET_OFFSET}`;
}

/** The bucket index of an attribute name, or undefined if it is not one we write (leading zeros, out of range, …). */
export function parseBucketAttribute(name: string): number | undefined {
  // Most of a rollup item's attributes are not buckets: `h` first, before the pattern (a read parses thousands).
  if (name.charCodeAt(0) !== 104) return undefined;
  const match = /^h(0|[1-9][0-9]{0,3})$/.exec(name);
  if (match === null) return undefined;
  const slot = Number(match[1]);
  return slot < SLOTS ? slot - BUCKET_OFFSET : undefined;
}

/** Reads the bucket attributes of an unmarshalled (DocumentClient) item; anything else is ignored. */
export function histogramFromItem(item: Record<string, unknown>): LogHistogram {
  const histogram = new LogHistogram();
  for (const [name, count] of Object.entries(item)) {
    const index = parseBucketAttribute(name);
    // Defensive: a corrupt or hand-edited count should not poison every read.
    if (index === undefined || typeof count !== 'number' || !Number.isSafeInteger(count) || count <= 0)
      continue;
    // The representative lies strictly inside its bucket, so this lands in `index` (tested for every index).
    histogram.add(bucketValue(index), count);
  }
  return histogram;
}

export class LogHistogram {
  // Dense counts by slot (index + OFFSET): ~8 KB, so add/merge are O(1)/O(slots)
  // and slot order is value order, which quantile walks rely on.
  private readonly counts = new Float64Array(SLOTS);
  private total = 0;

  static fromValues(values: Iterable<number>): LogHistogram {
    const histogram = new LogHistogram();
    for (const value of values) histogram.add(value);
    return histogram;
  }

  /** Throws RangeError for a non-finite value or a count that is not a non-negative safe integer. */
  add(valueMs: number, count = 1): void {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`count must be a non-negative integer, got ${count}`);
    const slot = bucketIndex(valueMs) + BUCKET_OFFSET;
    this.counts[slot] = (this.counts[slot] ?? 0) + count;
    this.total += count;
  }

  /** Adds `count` to a bucket by index (rollup attributes name buckets, not values). */
  addBucket(index: number, count: number): void {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`count must be a non-negative integer, got ${count}`);
    const slot = index + BUCKET_OFFSET;
    if (!Number.isInteger(index) || slot < 0 || slot >= SLOTS) throw new RangeError(`no bucket ${index}`);
    this.counts[slot] = (this.counts[slot] ?? 0) + count;
    this.total += count;
  }

  merge(other: LogHistogram): this {
    for (let slot = 0; slot < SLOTS; slot++)
      this.counts[slot] = (this.counts[slot] ?? 0) + (other.counts[slot] ?? 0);
    this.total += other.total;
    return this;
  }

  get count(): number {
    return this.total;
  }

  /**
   * q in [0,1]; undefined when empty. Lower nearest rank: rank = max(1, ceil(q·count)),
   * the value whose cumulative count first reaches rank. The 1e-9 slack keeps float
   * noise (0.07·100 = 7.000000000000001) from bumping the rank by one.
   */
  quantile(q: number): number | undefined {
    return this.quantiles([q])[0];
  }

  /** Several quantiles in one pass over the buckets (p50/p95/p99). */
  quantiles(qs: readonly number[]): (number | undefined)[] {
    for (const q of qs) if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0,1], got ${q}`);
    if (this.total === 0) return qs.map(() => undefined);
    const ranks = qs.map((q) => Math.max(1, Math.ceil(q * this.total - 1e-9)));
    const order = ranks.map((_, i) => i).sort((a, b) => (ranks[a] ?? 0) - (ranks[b] ?? 0));
    const result = new Array<number | undefined>(qs.length);
    let next = 0;
    let cumulative = 0;
    for (let slot = 0; slot < SLOTS && next < order.length; slot++) {
      cumulative += this.counts[slot] ?? 0;
      // Ranks are visited in ascending order, so one bucket can settle several of them.
      while (next < order.length) {
        const k = order[next] ?? 0;
        if (cumulative < (ranks[k] ?? 0)) break;
        result[k] = bucketValue(slot - BUCKET_OFFSET);
        next++;
      }
    }
    return result;
  }

  /** Sparse buckets, ascending by index (the zero bucket first). */
  buckets(): { index: number; count: number }[] {
    const out: { index: number; count: number }[] = [];
    this.counts.forEach((count, slot) => {
      if (count > 0) out.push({ index: slot - BUCKET_OFFSET, count });
    });
    return out;
  }

  /** Attribute name → count of the non-empty buckets, for `ADD h517 :c517, …` expressions. */
  toAttributes(): Record<string, number> {
    return Object.fromEntries(this.buckets().map(({ index, count }) => [bucketAttribute(index), count]));
  }

  equals(other: LogHistogram): boolean {
    return this.total === other.total && this.counts.every((count, slot) => count === other.counts[slot]);
  }

  /**
   * At most maxBins contiguous display bins from the lowest to the highest occupied
   * bucket. Each bin is a run of equally many native buckets, so bins are equal on a
   * log scale and counts are exact (they sum to count). A zero bucket becomes a first
   * bin starting at 0 and reaching up to the next bin, so bins stay contiguous.
   */
  toLogBins(maxBins: number): { lower: number; upper: number; count: number }[] {
    if (!Number.isSafeInteger(maxBins) || maxBins < 1)
      throw new RangeError(`maxBins must be ≥ 1, got ${maxBins}`);
    const occupied = this.buckets();
    const first = occupied[0];
    const last = occupied.at(-1);
    if (first === undefined || last === undefined) return [];
    const zero = first.index === ZERO_BUCKET ? first.count : 0;
    const regular = zero > 0 ? occupied.slice(1) : occupied;
    const lo = regular[0]?.index;
    if (lo === undefined) return [{ ...bucketBounds(ZERO_BUCKET), count: zero }];
    if (zero > 0 && maxBins === 1)
      return [{ lower: 0, upper: bucketBounds(last.index).upper, count: this.total }];
    const available = zero > 0 ? maxBins - 1 : maxBins;
    const width = Math.ceil((last.index - lo + 1) / available);
    const bins: { lower: number; upper: number; count: number }[] = [];
    for (let start = lo; start <= last.index; start += width) {
      const end = Math.min(start + width - 1, last.index);
      bins.push({ lower: bucketBounds(start).lower, upper: bucketBounds(end).upper, count: 0 });
    }
    for (const { index, count } of regular) {
      const bin = bins[Math.floor((index - lo) / width)];
      if (bin !== undefined) bin.count += count;
    }
    const lowest = bins[0]?.lower ?? ZERO_THRESHOLD;
    return zero > 0 ? [{ lower: 0, upper: lowest, count: zero }, ...bins] : bins;
  }
}
