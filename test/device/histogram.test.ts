/**
 * The log-linear latency histogram: bucket geometry (every value falls in the
 * bucket whose range holds it; buckets at most 1/128 of their values wide),
 * and percentiles within 1% of the exact nearest-rank ones on seeded random
 * data of very different shapes.
 */
import { describe, expect, test } from '@jest/globals';
import { BUCKET_COUNT, bucketIndexOf, bucketRangeOf, LatencyHistogram } from '../../src/device/histogram.js';
import { Prng } from '../../src/util/prng.js';

/** The exact nearest-rank percentile of `values` (sorted ascending). */
function exactPercentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.max(1, Math.ceil(fraction * sorted.length)) - 1]!;
}

describe('bucket geometry', () => {
  test('each value lies in its bucket, buckets are contiguous and at most 1/128 wide', () => {
    const prng = new Prng(7);
    const values = [0, 1, 255, 256, 257, 511, 512, 1000, 4095, 4096, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 12345, 2 ** 52 - 1];
    for (let index = 0; index < 2000; index++) values.push(Math.floor(2 ** (prng.nextFloat() * 52)));
    for (const value of values) {
      const index = bucketIndexOf(value);
      expect(index).toBeGreaterThanOrEqual(0);
      expect(index).toBeLessThan(BUCKET_COUNT);
      const { lowNs, highNs } = bucketRangeOf(index);
      expect(value).toBeGreaterThanOrEqual(lowNs);
      expect(value).toBeLessThanOrEqual(highNs);
      if (value >= 256) expect((highNs - lowNs + 1) / lowNs).toBeLessThanOrEqual(1 / 128);
    }
    for (let index = 1; index < BUCKET_COUNT; index++) {
      expect(bucketRangeOf(index).lowNs).toBe(bucketRangeOf(index - 1).highNs + 1);
    }
  });

  test('values below 256 ns are exact', () => {
    for (let value = 0; value < 256; value++) expect(bucketRangeOf(bucketIndexOf(value))).toEqual({ lowNs: value, highNs: value });
  });
});

describe('percentiles against exact ones', () => {
  const shapes: [string, (prng: Prng) => number][] = [
    ['uniform 0..10 ms', (prng) => prng.nextFloat() * 10_000],
    ['log-uniform 1 µs..10 s', (prng) => 10 ** (prng.nextFloat() * 7)],
    ['bimodal cache hits and disk seeks', (prng) => (prng.nextFloat() < 0.8 ? 1 + prng.nextFloat() : 4000 + prng.nextFloat() * 12_000)],
    ['exponential, mean 100 µs', (prng) => -100 * Math.log(1 - prng.nextFloat())],
  ];
  test.each(shapes)('%s: p50..p99.9 within 1%%, mean and max exact', (_name, draw) => {
    const prng = new Prng(20240611);
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    for (let index = 0; index < 20_000; index++) {
      // Recorded at nanosecond resolution: compare against the same rounding.
      const valueUs = Math.round(draw(prng) * 1000) / 1000;
      values.push(valueUs);
      histogram.record(valueUs);
    }
    const sorted = [...values].sort((a, b) => a - b);
    for (const fraction of [0.5, 0.9, 0.99, 0.999, 1]) {
      const exact = exactPercentile(sorted, fraction);
      const estimate = histogram.percentileUs(fraction);
      expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(Math.max(0.01 * exact, 0.001));
    }
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(histogram.meanUs()).toBeCloseTo(mean, 6);
    expect(histogram.maxUs()).toBeCloseTo(sorted[sorted.length - 1]!, 6);
    expect(histogram.count).toBe(values.length);
  });

  test('empty histogram reports zeros; one value reports itself', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentileUs(0.99)).toBe(0);
    expect(histogram.meanUs()).toBe(0);
    histogram.record(1234.567);
    for (const fraction of [0.5, 0.999]) expect(histogram.percentileUs(fraction)).toBeCloseTo(1234.567, 6);
  });

  test('refuses negative and non-finite latencies (a bug in the caller)', () => {
    const histogram = new LatencyHistogram();
    expect(() => histogram.record(-1)).toThrow(/non-negative/);
    expect(() => histogram.record(Number.NaN)).toThrow(/finite/);
  });
});
