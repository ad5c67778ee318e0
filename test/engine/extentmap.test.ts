/**
 * ExtentMap: one inode fork. Pins ext4_ext_try_to_merge / ext4_can_extents_be_merged
 * (logically and physically contiguous, same state, within 32768 written /
 * 32767 unwritten blocks), the splits of ext4_ext_convert_to_initialized /
 * ext4_split_extent (setState), and ext4_ext_remove_space's clipped pieces.
 */
import { ExtentMap, ExtentState, clipExtent, type Extent } from '../../src/extent/extentmap.js';
import { EXT4_MAX_UNWRITTEN_BLOCKS, EXT4_MAX_WRITTEN_BLOCKS } from '../../src/fs/ext4/policy.js';
import { InvariantError } from '../../src/util/assert.js';

const ext4Limits = { maxWritten: EXT4_MAX_WRITTEN_BLOCKS, maxUnwritten: EXT4_MAX_UNWRITTEN_BLOCKS, maxDelalloc: Number.MAX_SAFE_INTEGER };

function extents(map: ExtentMap): [number, number, number, ExtentState][] {
  return [...map.all()].map((e) => [e.startBlock, e.blockCount, e.physBlock, e.state]);
}

const W = ExtentState.Written;
const U = ExtentState.Unwritten;
const D = ExtentState.Delalloc;

describe('ExtentMap merge rules (ext4_can_extents_be_merged)', () => {
  test('ext4 limits are 32768 written and 32767 unwritten blocks', () => {
    expect(EXT4_MAX_WRITTEN_BLOCKS).toBe(32768);
    expect(EXT4_MAX_UNWRITTEN_BLOCKS).toBe(32767);
  });

  test('logically and physically contiguous extents in the same state merge', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 4, 1000, W);
    map.insert(4, 4, 1004, W);
    expect(extents(map)).toEqual([[0, 8, 1000, W]]);
  });

  test('a physical gap, a different state or a logical gap prevents the merge', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 4, 1000, W);
    map.insert(4, 4, 2000, W); // physical gap
    map.insert(8, 4, 2004, U); // state change
    map.insert(13, 4, 2009, U); // logical gap (block 12 is a hole)
    expect(map.extentCount).toBe(4);
    map.checkValid();
  });

  test('written extents merge up to 32768 blocks, not beyond', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 32767, 100_000, W);
    map.insert(32767, 1, 100_000 + 32767, W);
    expect(extents(map)).toEqual([[0, 32768, 100_000, W]]);
    map.insert(32768, 1, 100_000 + 32768, W);
    expect(extents(map)).toEqual([
      [0, 32768, 100_000, W],
      [32768, 1, 132_768, W],
    ]);
  });

  test('unwritten extents merge up to 32767 blocks, not beyond', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 32766, 100_000, U);
    map.insert(32766, 1, 132_766, U);
    expect(map.extentCount).toBe(1);
    map.insert(32767, 1, 132_767, U);
    expect(extents(map)).toEqual([
      [0, 32767, 100_000, U],
      [32767, 1, 132_767, U],
    ]);
  });

  test('delalloc runs merge whatever their (absent) address', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 3, -1, D);
    map.insert(3, 5, -1, D);
    expect(extents(map)).toEqual([[0, 8, -1, D]]);
  });

  test('insert refuses mapped ranges and address/state mismatches', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 4, 1000, W);
    expect(() => map.insert(2, 4, 5000, W)).toThrow(InvariantError);
    expect(() => map.insert(10, 1, -1, W)).toThrow(InvariantError);
    expect(() => map.insert(10, 1, 77, D)).toThrow(InvariantError);
    expect(() => map.insert(10, 0, 77, W)).toThrow(InvariantError);
  });
});

describe('ExtentMap setState (unwritten conversion splits)', () => {
  test('converting the middle splits into three pieces with the right addresses, and back merges again', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 10, 500, U);
    map.setState(3, 4, W);
    expect(extents(map)).toEqual([
      [0, 3, 500, U],
      [3, 4, 503, W],
      [7, 3, 507, U],
    ]);
    map.setState(0, 10, U);
    expect(extents(map)).toEqual([[0, 10, 500, U]]);
  });

  test('setState only touches mapped blocks and leaves holes alone', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 2, 500, U);
    map.insert(5, 2, 505, U);
    map.setState(0, 10, W);
    expect(extents(map)).toEqual([
      [0, 2, 500, W],
      [5, 2, 505, W],
    ]);
    expect(map.lookup(3)).toEqual({ holeEndBlock: 5 });
  });

  test('delalloc cannot become written or unwritten without an address', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 4, -1, D);
    expect(() => map.setState(0, 4, W)).toThrow(InvariantError);
  });
});

describe('ExtentMap remove, lookup, shift', () => {
  test('remove returns the pieces that were mapped, clipped to the range', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 10, 500, W);
    map.insert(20, 10, -1, D);
    const removed = map.remove(5, 20);
    const expected: Extent[] = [
      { startBlock: 5, blockCount: 5, physBlock: 505, state: W },
      { startBlock: 20, blockCount: 5, physBlock: -1, state: D },
    ];
    expect(removed).toEqual(expected);
    expect(extents(map)).toEqual([
      [0, 5, 500, W],
      [25, 5, -1, D],
    ]);
    expect(map.countBlocks()).toBe(10);
    expect(map.countBlocks(D)).toBe(5);
  });

  test('remove of a hole returns nothing and does not bump the sequence', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 1, 9, W);
    const before = map.sequence;
    expect(map.remove(5, 5)).toEqual([]);
    expect(map.sequence).toBe(before);
  });

  test('lookup gives the extent or the hole end; extentAt clips to the block', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(4, 4, 100, W);
    expect(map.lookup(0)).toEqual({ holeEndBlock: 4 });
    expect(map.lookup(9).holeEndBlock).toBe(Infinity);
    expect(map.lookup(5).extent).toEqual({ startBlock: 4, blockCount: 4, physBlock: 100, state: W });
    expect(map.extentAt(6)).toEqual({ startBlock: 6, blockCount: 2, physBlock: 102, state: W });
    expect(map.extentBefore(4)).toBeUndefined();
    expect(map.extentBefore(5)?.startBlock).toBe(4);
    expect(map.lastBlock()).toBe(8);
    expect(clipExtent({ startBlock: 0, blockCount: 4, physBlock: -1, state: D }, 1, 3)).toEqual({ startBlock: 1, blockCount: 2, physBlock: -1, state: D });
  });

  test('shift moves extents at or after a block (collapse/insert) and bumps the sequence', () => {
    const map = new ExtentMap(ext4Limits);
    map.insert(0, 2, 100, W);
    map.insert(10, 2, 200, W);
    const before = map.sequence;
    map.shift(10, -5);
    expect(extents(map)).toEqual([
      [0, 2, 100, W],
      [5, 2, 200, W],
    ]);
    map.shift(1, 3); // splits the first extent at block 1
    expect(extents(map)).toEqual([
      [0, 1, 100, W],
      [4, 1, 101, W],
      [8, 2, 200, W],
    ]);
    expect(map.sequence).toBeGreaterThan(before);
    map.checkValid();
  });
});

describe('allocatedBefore / allocatedFrom (the neighbour walks of ext4_ext_find_goal)', () => {
  /** The walks as loops of extentBefore() and lookup() calls, the way the policy wrote them first. */
  function walkLeft(map: ExtentMap, block: number, stepsMax: number): Extent | undefined {
    let probe = block;
    for (let steps = 0; steps < stepsMax; steps++) {
      const candidate = map.extentBefore(probe);
      if (!candidate || candidate.state !== D) return candidate;
      probe = candidate.startBlock;
    }
    return undefined;
  }

  function walkRight(map: ExtentMap, block: number, stepsMax: number): Extent | undefined {
    let cursor = block;
    for (let steps = 0; steps < stepsMax; steps++) {
      const next = map.lookup(cursor);
      const candidate = next.extent ?? (Number.isFinite(next.holeEndBlock) ? map.lookup(next.holeEndBlock).extent : undefined);
      if (!candidate || candidate.state !== D) return candidate;
      cursor = candidate.startBlock + candidate.blockCount;
    }
    return undefined;
  }

  test('they find what the loops find, including runs of delalloc longer than the step limit', () => {
    const map = new ExtentMap(ext4Limits);
    // Deterministic layout: mostly delalloc runs (never merged: one-block gaps), some allocated extents.
    let phys = 5000;
    for (let block = 0; block < 3000; block += 2) {
      const allocated = (block * 7919) % 13 === 0 || (block > 1000 && block < 1400 && block % 100 === 0);
      if (allocated) map.insert(block, 1, phys, block % 3 === 0 ? U : W);
      else map.insert(block, 1, -1, D);
      phys += 3;
    }
    let found = 0;
    for (let block = 0; block <= 3010; block++) {
      for (const stepsMax of [1, 8, 64]) {
        const left = map.allocatedBefore(block, stepsMax);
        expect({ block, stepsMax, left }).toEqual({ block, stepsMax, left: walkLeft(map, block, stepsMax) });
        const right = map.allocatedFrom(block, stepsMax);
        expect({ block, stepsMax, right }).toEqual({ block, stepsMax, right: walkRight(map, block, stepsMax) });
        if (left !== undefined) found++;
      }
    }
    expect(found).toBeGreaterThan(1000);
    expect(new ExtentMap(ext4Limits).allocatedBefore(10, 64)).toBeUndefined();
    expect(new ExtentMap(ext4Limits).allocatedFrom(10, 64)).toBeUndefined();
  });
});
