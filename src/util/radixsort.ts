/**
 * LSD radix sort of (key, value) pairs by 32-bit unsigned key: three passes
 * of 11-bit digits, a pass skipped when every key has the same digit there
 * (small keys sort in one or two). O(n + 2048) per pass, no comparisons:
 * what the writeback uses to put its dirty pages in index order.
 */

const DIGIT_BITS = 11;
const DIGIT_VALUES = 1 << DIGIT_BITS;
const DIGIT_MASK = DIGIT_VALUES - 1;
const counts = new Uint32Array(DIGIT_VALUES);

/** Sorted pairs: keys[0..count) ascending, values moved with them (stable). */
export interface SortedPairs {
  keys: Uint32Array;
  values: Int32Array;
}

/**
 * Sorts the first `count` pairs of (keys, values) by key. The spares (as long
 * as count) take the passes' output; the result is in whichever pair of
 * arrays the last pass wrote, given back.
 */
export function radixSortPairs(keys: Uint32Array, values: Int32Array, spareKeys: Uint32Array, spareValues: Int32Array, count: number): SortedPairs {
  let fromKeys = keys;
  let fromValues = values;
  let toKeys = spareKeys;
  let toValues = spareValues;
  for (let shift = 0; shift < 32; shift += DIGIT_BITS) {
    counts.fill(0);
    for (let at = 0; at < count; at++) counts[(fromKeys[at]! >>> shift) & DIGIT_MASK]!++;
    // Every key has the same digit here: the order stands.
    if (count === 0 || counts[(fromKeys[0]! >>> shift) & DIGIT_MASK] === count) continue;
    let total = 0;
    for (let digit = 0; digit < DIGIT_VALUES; digit++) {
      const here = counts[digit]!;
      counts[digit] = total;
      total += here;
    }
    for (let at = 0; at < count; at++) {
      const key = fromKeys[at]!;
      const to = counts[(key >>> shift) & DIGIT_MASK]!++;
      toKeys[to] = key;
      toValues[to] = fromValues[at]!;
    }
    const swapKeys = fromKeys;
    fromKeys = toKeys;
    toKeys = swapKeys;
    const swapValues = fromValues;
    fromValues = toValues;
    toValues = swapValues;
  }
  return { keys: fromKeys, values: fromValues };
}
