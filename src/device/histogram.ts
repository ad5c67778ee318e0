/**
 * An HDR-style log-linear latency histogram: exact below 2^SUB_BUCKET_BITS
 * units, then 2^(SUB_BUCKET_BITS-1) linear sub-buckets per power of two, so a
 * bucket is at most 1/128 of its values wide and a percentile reported at the
 * bucket's midpoint is within 0.4% of the exact one. Memory is bounded
 * (BUCKET_COUNT counters) whatever the number or range of values: this is how
 * HdrHistogram and fio's clat percentiles (stat.c plat_idx) bound their cost.
 * Values are recorded in nanoseconds (integers), reported in microseconds.
 */
import { assert } from '../util/assert.js';

/** 2^8 = 256 exact values, then 128 sub-buckets per octave: relative bucket width <= 1/128. */
const SUB_BUCKET_BITS = 8;
const SUB_BUCKET_COUNT = 2 ** SUB_BUCKET_BITS;
const HALF_SUB_BUCKET_COUNT = SUB_BUCKET_COUNT / 2;
/** Values are clamped to 2^52 ns (52 days): every octave up to there has its buckets. */
const VALUE_MAX_BITS = 52;
const VALUE_NS_MAX = 2 ** VALUE_MAX_BITS - 1;
/** Counters in one histogram: the exact range plus the log-linear octaves. */
export const BUCKET_COUNT = SUB_BUCKET_COUNT + (VALUE_MAX_BITS - SUB_BUCKET_BITS) * HALF_SUB_BUCKET_COUNT;

const TWO_POW_32 = 2 ** 32;

/** floor(log2(value)) for a positive integer below 2^53, exact (count leading zeros of the high or low word). */
function log2Floor(value: number): number {
  if (value < TWO_POW_32) return 31 - Math.clz32(value);
  return 63 - Math.clz32(Math.floor(value / TWO_POW_32));
}

/** The bucket holding `valueNs` (a non-negative integer <= VALUE_NS_MAX). O(1). */
export function bucketIndexOf(valueNs: number): number {
  if (valueNs < SUB_BUCKET_COUNT) return valueNs;
  const exponent = log2Floor(valueNs);
  const shift = exponent - (SUB_BUCKET_BITS - 1);
  const mantissa = Math.floor(valueNs / 2 ** shift); // in [HALF, SUB_BUCKET_COUNT)
  return SUB_BUCKET_COUNT + (exponent - SUB_BUCKET_BITS) * HALF_SUB_BUCKET_COUNT + (mantissa - HALF_SUB_BUCKET_COUNT);
}

/** The values [lowNs, highNs] bucket `index` holds. O(1). */
export function bucketRangeOf(index: number): { lowNs: number; highNs: number } {
  assert(index >= 0 && index < BUCKET_COUNT, 'histogram: bucket index out of range', { index });
  if (index < SUB_BUCKET_COUNT) return { lowNs: index, highNs: index };
  const octave = Math.floor((index - SUB_BUCKET_COUNT) / HALF_SUB_BUCKET_COUNT);
  const mantissa = HALF_SUB_BUCKET_COUNT + ((index - SUB_BUCKET_COUNT) % HALF_SUB_BUCKET_COUNT);
  const shift = octave + 1;
  const lowNs = mantissa * 2 ** shift;
  return { lowNs, highNs: lowNs + 2 ** shift - 1 };
}

/** Latencies of one class of ops: O(1) record, O(BUCKET_COUNT) percentile, fixed memory. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  private sumNs = 0;
  private minNs = Number.POSITIVE_INFINITY;
  private maxNs = 0;

  /** Records one latency in microseconds (negative values are a bug). O(1). */
  record(latencyUs: number): void {
    assert(Number.isFinite(latencyUs) && latencyUs >= 0, 'histogram: latency must be finite and non-negative', { latencyUs });
    const valueNs = Math.min(Math.round(latencyUs * 1000), VALUE_NS_MAX);
    this.counts[bucketIndexOf(valueNs)]!++;
    this.count++;
    this.sumNs += valueNs;
    if (valueNs < this.minNs) this.minNs = valueNs;
    if (valueNs > this.maxNs) this.maxNs = valueNs;
  }

  /** Mean in µs (0 when empty). */
  meanUs(): number {
    return this.count === 0 ? 0 : this.sumNs / this.count / 1000;
  }

  /** Largest value in µs, exact (0 when empty). */
  maxUs(): number {
    return this.maxNs / 1000;
  }

  /**
   * The nearest-rank percentile (`fraction` in (0, 1]) in µs: the midpoint of
   * the bucket holding the ceil(fraction * count)-th smallest value, clamped to
   * the exact min and max. 0 when empty. O(BUCKET_COUNT).
   */
  percentileUs(fraction: number): number {
    assert(fraction > 0 && fraction <= 1, 'histogram: percentile fraction must be in (0, 1]', { fraction });
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.count));
    let seen = 0;
    for (let index = 0; index < BUCKET_COUNT; index++) {
      seen += this.counts[index]!;
      if (seen < rank) continue;
      const { lowNs, highNs } = bucketRangeOf(index);
      const middleNs = lowNs + (highNs - lowNs) / 2;
      return Math.min(this.maxNs, Math.max(this.minNs, middleNs)) / 1000;
    }
    assert(false, 'histogram: counts do not add up', { count: this.count, seen });
  }
}
