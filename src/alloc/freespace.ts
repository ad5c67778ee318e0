/**
 * Free space of the simulated device: the free extents by block number (the
 * by-bno view of XFS's free-space btrees, or ext4's bitmaps as runs), on a
 * B+ tree. Allocation policy lives in the filesystem policies; this module
 * only answers "is it free", "where is the next fit" and does the bookkeeping.
 */
import { assert } from '../util/assert.js';
import { BTree } from '../util/btree.js';

export class FreeSpace {
  /** start block -> end block (exclusive) of each free run; runs never touch. */
  private readonly runs = new BTree<number, number>();
  private freeCount = 0;

  constructor(readonly totalBlocks: number) {
    this.runs.set(0, totalBlocks);
    this.freeCount = totalBlocks;
  }

  get freeBlocks(): number {
    return this.freeCount;
  }

  get freeRunCount(): number {
    return this.runs.size;
  }

  /** Whether all of [start, start+count) is free. O(log n). */
  isFree(start: number, count: number): boolean {
    const run = this.runs.getPairOrNextLower(start);
    return !!run && run[1] >= start + count;
  }

  /** Free blocks from `start` up to the first used block (0 when `start` is used). */
  freeLengthAt(start: number): number {
    const run = this.runs.getPairOrNextLower(start);
    return run && run[1] > start ? run[1] - start : 0;
  }

  /** Marks [start, start+count) used; it must be free. O(log n). */
  markUsed(start: number, count: number): void {
    assert(count > 0 && start >= 0 && start + count <= this.totalBlocks, 'FreeSpace.markUsed: out of range', { start, count });
    const run = this.runs.getPairOrNextLower(start);
    assert(run && run[1] >= start + count, 'FreeSpace.markUsed: blocks already in use', { start, count });
    const [runStart, runEnd] = run;
    this.runs.delete(runStart);
    if (runStart < start) this.runs.set(runStart, start);
    if (start + count < runEnd) this.runs.set(start + count, runEnd);
    this.freeCount -= count;
  }

  /** Frees [start, start+count); every block must be in use (a double free is a bug). O(log n). */
  free(start: number, count: number): void {
    assert(count > 0 && start >= 0 && start + count <= this.totalBlocks, 'FreeSpace.free: out of range', { start, count });
    const left = this.runs.getPairOrNextLower(start);
    assert(!left || left[1] <= start, 'FreeSpace.free: double free', { start, count, left });
    const right = this.runs.getPairOrNextHigher(start);
    assert(!right || right[0] >= start + count, 'FreeSpace.free: double free', { start, count, right });
    let newStart = start;
    let newEnd = start + count;
    if (left && left[1] === start) {
      newStart = left[0];
      this.runs.delete(left[0]);
    }
    if (right && right[0] === newEnd) {
      newEnd = right[1];
      this.runs.delete(right[0]);
    }
    this.runs.set(newStart, newEnd);
    this.freeCount += count;
  }

  /**
   * First position >= fromBlock (and < limitBlock) where `count` free blocks
   * start, aligned to `align` blocks (relative to `alignBase`). -1 if none. O(k log n).
   */
  findFit(fromBlock: number, count: number, limitBlock = this.totalBlocks, align = 1, alignBase = 0): number {
    const first = this.runs.getPairOrNextLower(fromBlock);
    let cursor = first && first[1] > fromBlock ? first[0] : fromBlock;
    for (;;) {
      const run = this.runs.getPairOrNextHigher(cursor);
      if (!run || run[0] >= limitBlock) return -1;
      let candidate = Math.max(run[0], fromBlock);
      if (align > 1) candidate = alignBase + Math.ceil((candidate - alignBase) / align) * align;
      if (candidate + count <= Math.min(run[1], limitBlock)) return candidate;
      cursor = run[1];
    }
  }

  /** The longest free run starting at or after fromBlock and before limitBlock: [start, length], length 0 if none. */
  longestRun(fromBlock: number, limitBlock = this.totalBlocks): [number, number] {
    let best: [number, number] = [-1, 0];
    const first = this.runs.getPairOrNextLower(fromBlock);
    const low = first && first[1] > fromBlock ? first[0] : fromBlock;
    this.runs.forRange(low, limitBlock, false, (start, end) => {
      const clippedStart = Math.max(start, fromBlock);
      const length = Math.min(end, limitBlock) - clippedStart;
      if (length > best[1]) best = [clippedStart, length];
    });
    return best;
  }

  /** Free runs in order, as [start, length]. */
  *freeRuns(): IterableIterator<[number, number]> {
    for (const [start, end] of this.runs.entries()) yield [start, end - start];
  }

  /** Runs sorted, disjoint, non-touching; the count adds up. O(n). */
  checkValid(): void {
    let previousEnd = -1;
    let total = 0;
    for (const [start, end] of this.runs.entries()) {
      assert(end > start, 'FreeSpace: empty run', { start, end });
      assert(start > previousEnd, 'FreeSpace: runs overlap or touch', { start, previousEnd });
      previousEnd = end;
      total += end - start;
    }
    assert(total === this.freeCount, 'FreeSpace: free count does not add up', { total, freeCount: this.freeCount });
  }
}
