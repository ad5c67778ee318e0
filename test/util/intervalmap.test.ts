/**
 * IntervalMap: the B+ tree interval map under the extent maps and content
 * maps. Pins the split/merge rules that ext4_ext_try_to_merge and the
 * extent status tree rely on: a cut slices the value, neighbours merge only
 * when the traits allow, removals return clipped pieces.
 */
import { InvariantError } from '../../src/util/assert.js';
import { IntervalMap, type IntervalEntry, type IntervalTraits } from '../../src/util/intervalmap.js';

/** A value that knows where it maps to, like an extent's physical block. */
interface Run {
  tag: string;
  base: number;
}

const MAX_MERGED = 10;

const traits: IntervalTraits<Run> = {
  sliceValue: (value, start, cutAt) => ({ tag: value.tag, base: value.base + (cutAt - start) }),
  canMerge: (left, leftStart, leftEnd, right, rightEnd) =>
    left.tag === right.tag && left.base + (leftEnd - leftStart) === right.base && rightEnd - leftStart <= MAX_MERGED,
};

function dump(map: IntervalMap<Run>): [number, number, string, number][] {
  return [...map.entries()].map((entry) => [entry.start, entry.end, entry.value.tag, entry.value.base]);
}

function plain(entries: IntervalEntry<Run>[]): [number, number, string, number][] {
  return entries.map((entry) => [entry.start, entry.end, entry.value.tag, entry.value.base]);
}

describe('IntervalMap set/find', () => {
  test('find returns the containing interval and undefined in gaps', () => {
    const map = new IntervalMap(traits);
    map.set(10, 20, { tag: 'a', base: 100 });
    expect(map.find(10)?.start).toBe(10);
    expect(map.find(19)?.end).toBe(20);
    expect(map.find(20)).toBeUndefined();
    expect(map.find(9)).toBeUndefined();
    expect(map.findFrom(0)?.start).toBe(10);
    expect(map.findFrom(20)).toBeUndefined();
    expect(map.findBefore(15)?.start).toBe(10);
    expect(map.findBefore(10)).toBeUndefined();
  });

  test('set over the middle of an interval splits it and slices the right part', () => {
    const map = new IntervalMap(traits);
    map.set(0, 10, { tag: 'a', base: 100 });
    const replaced = map.set(4, 6, { tag: 'b', base: 500 });
    expect(plain(replaced)).toEqual([[4, 6, 'a', 104]]);
    expect(dump(map)).toEqual([
      [0, 4, 'a', 100],
      [4, 6, 'b', 500],
      [6, 10, 'a', 106],
    ]);
    map.checkValid();
  });

  test('set merges with a mergeable left and right neighbour', () => {
    const map = new IntervalMap(traits);
    map.set(0, 3, { tag: 'a', base: 100 });
    map.set(5, 8, { tag: 'a', base: 105 });
    map.set(3, 5, { tag: 'a', base: 103 });
    expect(dump(map)).toEqual([[0, 8, 'a', 100]]);
  });

  test('no merge when the traits refuse: other tag, discontiguous base, over the length limit', () => {
    const map = new IntervalMap(traits);
    map.set(0, 3, { tag: 'a', base: 100 });
    map.set(3, 4, { tag: 'b', base: 103 });
    map.set(4, 5, { tag: 'b', base: 900 });
    expect(map.size).toBe(3);
    const long = new IntervalMap(traits);
    long.set(0, 8, { tag: 'a', base: 0 });
    long.set(8, 11, { tag: 'a', base: 8 }); // 11 > MAX_MERGED
    expect(dump(long)).toEqual([
      [0, 8, 'a', 0],
      [8, 11, 'a', 8],
    ]);
    long.set(8, 10, { tag: 'a', base: 8 }); // exactly MAX_MERGED: merges, [10,11) stays apart
    expect(dump(long)).toEqual([
      [0, 10, 'a', 0],
      [10, 11, 'a', 10],
    ]);
  });

  test('set rejects an empty interval', () => {
    const map = new IntervalMap(traits);
    expect(() => map.set(5, 5, { tag: 'a', base: 0 })).toThrow(InvariantError);
  });
});

describe('IntervalMap remove/collect', () => {
  test('remove returns the clipped pieces in order and leaves the outside parts', () => {
    const map = new IntervalMap(traits);
    map.set(0, 10, { tag: 'a', base: 100 });
    map.set(20, 30, { tag: 'b', base: 200 });
    const removed = map.remove(5, 25);
    expect(plain(removed)).toEqual([
      [5, 10, 'a', 105],
      [20, 25, 'b', 200],
    ]);
    expect(dump(map)).toEqual([
      [0, 5, 'a', 100],
      [25, 30, 'b', 205],
    ]);
    expect(map.remove(7, 7)).toEqual([]);
    expect(() => map.remove(8, 7)).toThrow(InvariantError);
  });

  test('collect clips to the range without changing the map', () => {
    const map = new IntervalMap(traits);
    map.set(0, 10, { tag: 'a', base: 100 });
    map.set(12, 14, { tag: 'b', base: 50 });
    expect(plain(map.collect(3, 13))).toEqual([
      [3, 10, 'a', 103],
      [12, 13, 'b', 50],
    ]);
    expect(map.size).toBe(2);
    expect(map.collect(10, 12)).toEqual([]);
  });

  test('forEachOverlap visits unclipped intervals once each', () => {
    const map = new IntervalMap(traits);
    map.set(0, 10, { tag: 'a', base: 0 });
    map.set(10, 20, { tag: 'b', base: 0 });
    const seen: number[] = [];
    map.forEachOverlap(5, 15, (entry) => seen.push(entry.start, entry.end));
    expect(seen).toEqual([0, 10, 10, 20]);
  });
});

describe('IntervalMap shiftFrom (collapse/insert range)', () => {
  test('splits at `from` and moves everything after it', () => {
    const map = new IntervalMap(traits);
    map.set(0, 10, { tag: 'a', base: 100 });
    map.set(20, 30, { tag: 'b', base: 200 });
    map.shiftFrom(5, 100);
    expect(dump(map)).toEqual([
      [0, 5, 'a', 100],
      [105, 110, 'a', 105],
      [120, 130, 'b', 200],
    ]);
    map.checkValid();
  });

  test('a collapse that closes a gap merges the now-touching neighbours', () => {
    const map = new IntervalMap(traits);
    map.set(0, 4, { tag: 'a', base: 100 });
    map.set(6, 10, { tag: 'a', base: 104 });
    map.shiftFrom(6, -2);
    expect(dump(map)).toEqual([[0, 8, 'a', 100]]);
  });

  test('moving an interval below 0 is a bug', () => {
    const map = new IntervalMap(traits);
    map.set(2, 4, { tag: 'a', base: 0 });
    expect(() => map.shiftFrom(2, -3)).toThrow(InvariantError);
  });
});

/** Sets the end of the map's `entry`-th interval (a one-leaf map) behind its back, to corrupt it. */
function setEnd(map: IntervalMap<Run>, entry: number, end: number): void {
  const storage = map as unknown as { bounds: Float64Array; order: Int32Array; stride: number };
  storage.bounds[2 * (storage.order[0]! * storage.stride + entry) + 1] = end;
}

describe('IntervalMap checkValid', () => {
  test('passes on a well-formed map and detects overlapping intervals', () => {
    const map = new IntervalMap(traits);
    map.set(0, 10, { tag: 'a', base: 0 });
    map.set(20, 30, { tag: 'b', base: 0 });
    expect(() => map.checkValid()).not.toThrow();
    // Corrupt the leaf behind the map's back: [0, 25) overlaps its right neighbour.
    setEnd(map, 0, 25);
    expect(() => map.checkValid()).toThrow(/overlapping/);
  });

  test('detects an empty interval', () => {
    const map = new IntervalMap(traits);
    map.set(5, 8, { tag: 'c', base: 0 });
    setEnd(map, 0, 5);
    expect(() => map.checkValid()).toThrow(/empty interval/);
  });
});
