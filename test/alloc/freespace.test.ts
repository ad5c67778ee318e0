/**
 * FreeSpace: free runs by block number (ext4 bitmaps as runs, the by-bno
 * free-space btree of XFS). Pins the bookkeeping the allocators use:
 * mark used / free with run merging, double-free detection, aligned fits.
 */
import { FreeSpace } from '../../src/alloc/freespace.js';
import { InvariantError } from '../../src/util/assert.js';
import { Prng } from '../../src/util/prng.js';

function runs(space: FreeSpace): [number, number][] {
  return [...space.freeRuns()];
}

describe('FreeSpace bookkeeping', () => {
  test('markUsed splits a run, free merges it back with both neighbours', () => {
    const space = new FreeSpace(100);
    space.markUsed(10, 5);
    space.markUsed(20, 5);
    expect(runs(space)).toEqual([
      [0, 10],
      [15, 5],
      [25, 75],
    ]);
    expect(space.freeBlocks).toBe(90);
    space.free(10, 5);
    expect(runs(space)).toEqual([
      [0, 20],
      [25, 75],
    ]);
    space.free(20, 5);
    expect(runs(space)).toEqual([[0, 100]]);
    expect(space.freeBlocks).toBe(100);
    space.checkValid();
  });

  test('isFree and freeLengthAt', () => {
    const space = new FreeSpace(100);
    space.markUsed(50, 10);
    expect(space.isFree(40, 10)).toBe(true);
    expect(space.isFree(40, 11)).toBe(false);
    expect(space.isFree(55, 1)).toBe(false);
    expect(space.freeLengthAt(45)).toBe(5);
    expect(space.freeLengthAt(50)).toBe(0);
    expect(space.freeLengthAt(60)).toBe(40);
  });

  test('marking used blocks used again is a bug', () => {
    const space = new FreeSpace(100);
    space.markUsed(10, 10);
    expect(() => space.markUsed(15, 2)).toThrow(InvariantError);
    expect(() => space.markUsed(5, 10)).toThrow(InvariantError);
    expect(() => space.markUsed(95, 10)).toThrow(InvariantError);
  });

  test('a double free (whole or overlapping) is a bug', () => {
    const space = new FreeSpace(100);
    space.markUsed(10, 10);
    space.free(10, 5);
    expect(() => space.free(10, 5)).toThrow(/double free/);
    expect(() => space.free(12, 5)).toThrow(/double free/);
    expect(() => space.free(30, 1)).toThrow(/double free/);
    expect(space.freeBlocks).toBe(95);
    space.checkValid();
  });
});

describe('FreeSpace.findFit', () => {
  test('first fit from a block, skipping runs that are too short', () => {
    const space = new FreeSpace(1000);
    space.markUsed(0, 10);
    space.markUsed(13, 87); // free: [10,13) [100,1000)
    expect(space.findFit(0, 3)).toBe(10);
    expect(space.findFit(0, 4)).toBe(100);
    expect(space.findFit(11, 2)).toBe(11);
    expect(space.findFit(11, 3)).toBe(100);
    expect(space.findFit(150, 10)).toBe(150);
  });

  test('alignment is relative to alignBase', () => {
    const space = new FreeSpace(1000);
    space.markUsed(0, 129);
    expect(space.findFit(0, 16, 1000, 16)).toBe(144);
    expect(space.findFit(0, 16, 1000, 16, 1)).toBe(129);
    expect(space.findFit(0, 512, 1000, 512)).toBe(-1);
  });

  test('limitBlock bounds the fit', () => {
    const space = new FreeSpace(1000);
    space.markUsed(0, 100);
    expect(space.findFit(0, 50, 150)).toBe(100);
    expect(space.findFit(0, 51, 150)).toBe(-1);
    expect(space.findFit(0, 1, 100)).toBe(-1);
  });

  test('longestRun finds the longest free run in a window, clipped', () => {
    const space = new FreeSpace(1000);
    space.markUsed(0, 10);
    space.markUsed(30, 10); // free: [10,30) [40,1000)
    expect(space.longestRun(0, 35)).toEqual([10, 20]);
    expect(space.longestRun(0)).toEqual([40, 960]);
    expect(space.longestRun(20, 30)).toEqual([20, 10]);
    space.markUsed(40, 960);
    space.markUsed(10, 20);
    expect(space.longestRun(0)).toEqual([-1, 0]);
  });
});

describe('FreeSpace.checkValid', () => {
  test('detects a free count that does not add up', () => {
    const space = new FreeSpace(100);
    space.markUsed(0, 10);
    (space as unknown as { freeCount: number }).freeCount = 91;
    expect(() => space.checkValid()).toThrow(/does not add up/);
  });

  test('detects touching runs', () => {
    const space = new FreeSpace(100);
    space.markUsed(10, 10);
    (space as unknown as { runs: { set(start: number, end: number): void } }).runs.set(0, 10);
    (space as unknown as { runs: { set(start: number, end: number): void } }).runs.set(10, 20);
    expect(() => space.checkValid()).toThrow(/overlap or touch/);
  });
});

/** The same questions answered by brute force over a bitmap. */
class BitmapModel {
  readonly used: Uint8Array;

  constructor(readonly total: number) {
    this.used = new Uint8Array(total);
  }

  isFree(start: number, count: number): boolean {
    for (let b = start; b < start + count; b++) if (this.used[b]) return false;
    return true;
  }

  findFit(from: number, count: number, limit: number, align: number, alignBase: number): number {
    // A candidate must lie in the free run that contains it, starting at or after `from`.
    for (let candidate = from; candidate + count <= limit; candidate++) {
      if (align > 1 && (candidate - alignBase) % align !== 0) continue;
      if (this.isFree(candidate, count)) return candidate;
    }
    return -1;
  }
}

describe('FreeSpace against a bitmap (seeded)', () => {
  test('random mark/free sequences: findFit, isFree and counts agree; checkValid after every step', () => {
    // 131_072 blocks: a power of two, so allocations reach the index's last bucket and the device end.
    const total = 131_072;
    const space = new FreeSpace(total);
    const model = new BitmapModel(total);
    const prng = new Prng(20261121);
    const allocations: [number, number][] = [];
    for (let step = 0; step < 400; step++) {
      if (allocations.length > 0 && prng.nextInt(3) === 0) {
        const [start, count] = allocations.splice(prng.nextInt(allocations.length), 1)[0]!;
        space.free(start, count);
        model.used.fill(0, start, start + count);
      } else {
        const count = 1 + prng.nextInt(3000);
        const from = prng.nextInt(total);
        const start = space.findFit(from, count);
        expect(start).toBe(model.findFit(from, count, total, 1, 0));
        if (start >= 0) {
          space.markUsed(start, count);
          model.used.fill(1, start, start + count);
          allocations.push([start, count]);
        }
      }
      const from = prng.nextInt(total);
      const count = 1 + prng.nextInt(600);
      const align = [1, 16, 512][prng.nextInt(3)]!;
      const limit = Math.min(total, from + prng.nextInt(20_000));
      expect(space.findFit(from, count, limit, align, 0)).toBe(model.findFit(from, count, limit, align, 0));
      expect(space.freeBlocks).toBe(total - model.used.reduce((sum, bit) => sum + bit, 0));
      space.checkValid();
    }
  });
});
