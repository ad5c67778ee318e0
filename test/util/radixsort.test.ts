/** radixSortPairs against Array#sort: random keys of every width, duplicates (stability), empty and one-pair inputs. */
import { radixSortPairs } from '../../src/util/radixsort.js';
import { Prng } from '../../src/util/prng.js';

function check(keysIn: number[]): void {
  const count = keysIn.length;
  const keys = new Uint32Array(count + 3);
  const values = new Int32Array(count + 3);
  keysIn.forEach((key, at) => {
    keys[at] = key;
    values[at] = at;
  });
  const sorted = radixSortPairs(keys, values, new Uint32Array(count + 3), new Int32Array(count + 3), count);
  const expected = keysIn.map((key, at) => [key, at] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  expect([...sorted.keys.subarray(0, count)]).toEqual(expected.map(([key]) => key));
  expect([...sorted.values.subarray(0, count)]).toEqual(expected.map(([, at]) => at));
}

describe('radixSortPairs', () => {
  test('empty, one pair, equal keys', () => {
    check([]);
    check([42]);
    check([7, 7, 7, 7]);
  });

  test.each([
    ['under 2^11 (one pass)', 2 ** 11],
    ['under 2^22 (two passes)', 2 ** 22],
    ['the whole 32 bits', 2 ** 32],
    ['few distinct keys (stable)', 5],
  ])('random keys %s', (_name, limit) => {
    const random = new Prng(limit % 1000);
    for (const count of [2, 100, 5000]) {
      check(Array.from({ length: count }, () => Math.floor(random.nextFloat() * limit)));
    }
  });
});
