/**
 * Free space of the simulated device: the free extents by block number (the
 * by-bno view of XFS's free-space btrees, or ext4's bitmaps as runs), on a
 * B+ tree. Allocation policy lives in the filesystem policies; this module
 * only answers "is it free", "where is the next fit" and does the bookkeeping.
 */
import { assert } from '../util/assert.js';
import { BTree } from '../util/btree.js';

/**
 * The longest free run starting in each fixed-size bucket of blocks, in a
 * max segment tree: "first bucket at or after b whose runs may hold n
 * blocks" in O(log buckets), so first fit does not walk every small run.
 */
class RunIndex {
  readonly bucketBlocks: number;
  private readonly leaves: number;
  private readonly tree: Float64Array;

  constructor(totalBlocks: number) {
    this.bucketBlocks = Math.max(1024, 2 ** Math.ceil(Math.log2(Math.max(1, totalBlocks / 65536))));
    const buckets = Math.max(1, Math.ceil(totalBlocks / this.bucketBlocks));
    this.leaves = 2 ** Math.ceil(Math.log2(buckets));
    this.tree = new Float64Array(2 * this.leaves);
  }

  get(bucket: number): number {
    return this.tree[this.leaves + bucket]!;
  }

  bucketOf(block: number): number {
    return Math.floor(block / this.bucketBlocks);
  }

  set(bucket: number, longest: number): void {
    assert(bucket >= 0 && bucket < this.leaves, 'RunIndex.set: bucket out of range', { bucket, leaves: this.leaves });
    let node = this.leaves + bucket;
    this.tree[node] = longest;
    for (node >>= 1; node >= 1; node >>= 1) this.tree[node] = Math.max(this.tree[2 * node]!, this.tree[2 * node + 1]!);
  }

  /** The first bucket >= `from` whose longest run is at least `count`, or -1. */
  firstAtLeast(from: number, count: number): number {
    if (from >= this.leaves) return -1;
    return this.descend(1, 0, this.leaves, from, count);
  }

  /** The last bucket <= `to` whose longest run is at least `count`, or -1. */
  lastAtMost(to: number, count: number): number {
    if (to < 0) return -1;
    return this.descendLast(1, 0, this.leaves, Math.min(to, this.leaves - 1), count);
  }

  private descendLast(node: number, low: number, high: number, to: number, count: number): number {
    if (low > to || this.tree[node]! < count) return -1;
    if (high - low === 1) return low;
    const mid = (low + high) >>> 1;
    const right = this.descendLast(2 * node + 1, mid, high, to, count);
    return right >= 0 ? right : this.descendLast(2 * node, low, mid, to, count);
  }

  private descend(node: number, low: number, high: number, from: number, count: number): number {
    if (high <= from || this.tree[node]! < count) return -1;
    if (high - low === 1) return low;
    const mid = (low + high) >>> 1;
    const left = this.descend(2 * node, low, mid, from, count);
    return left >= 0 ? left : this.descend(2 * node + 1, mid, high, from, count);
  }
}

/** Returned by a forRange visitor: stop the walk here. */
const STOP = { break: true };

export class FreeSpace {
  /** start block -> end block (exclusive) of each free run; runs never touch. */
  private readonly runs = new BTree<number, number>();
  private freeCount = 0;
  private readonly index: RunIndex;

  constructor(readonly totalBlocks: number) {
    this.runs.set(0, totalBlocks);
    this.freeCount = totalBlocks;
    this.index = new RunIndex(totalBlocks);
    this.reindex(0);
  }

  /** Recomputes the longest run starting in the bucket of `block`. O(runs in the bucket). */
  private reindex(block: number): void {
    if (block >= this.totalBlocks) return;
    const bucket = this.index.bucketOf(block);
    const low = bucket * this.index.bucketBlocks;
    let longest = 0;
    this.runs.forRange(low, low + this.index.bucketBlocks, false, (start, end) => {
      longest = Math.max(longest, end - start);
    });
    this.index.set(bucket, longest);
  }

  private reindexAround(start: number, end: number): void {
    this.reindex(start);
    if (this.index.bucketOf(end) !== this.index.bucketOf(start)) this.reindex(end);
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
    this.reindexAround(runStart, start + count);
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
    const mergedRight = right && right[0] === newEnd ? right[0] : undefined;
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
    this.reindexAround(newStart, mergedRight ?? newStart);
  }

  /**
   * First position >= fromBlock (and < limitBlock) where `count` free blocks
   * start, aligned to `align` blocks (relative to `alignBase`). -1 if none. O(k log n).
   */
  findFit(fromBlock: number, count: number, limitBlock = this.totalBlocks, align = 1, alignBase = 0): number {
    // The run that contains fromBlock starts before it: try it first.
    const first = this.runs.getPairOrNextLower(fromBlock);
    if (first && first[1] > fromBlock) {
      const found = this.fitInRun(first[0], first[1], fromBlock, count, limitBlock, align, alignBase);
      if (found !== -1) return found;
    }
    let bucket = this.index.bucketOf(fromBlock);
    for (;;) {
      bucket = this.index.firstAtLeast(bucket, count);
      if (bucket < 0) return -1;
      const low = bucket * this.index.bucketBlocks;
      if (low >= limitBlock) return -1;
      let found = -1;
      // The first run that fits ends the walk: a bucket of a fragmented device holds thousands.
      this.runs.forRange(Math.max(low, fromBlock), low + this.index.bucketBlocks, false, (start, end) => {
        if (start >= limitBlock) return STOP;
        found = this.fitInRun(start, end, fromBlock, count, limitBlock, align, alignBase);
        return found >= 0 ? STOP : undefined;
      });
      if (found >= 0) return found;
      bucket++;
    }
  }

  /** The free run holding `block`, as [start, end), or undefined when the block is in use. O(log n). */
  runAt(block: number): [number, number] | undefined {
    const run = this.runs.getPairOrNextLower(block);
    return run && run[1] > block ? [run[0], run[1]] : undefined;
  }

  /**
   * The free run with the greatest start among those that end at or before
   * `limitBlock` and hold `count` blocks from `lowBlock` on (a run reaching
   * below lowBlock counts from there), as [start, end]; undefined if none.
   * first fit walking down: O(log n) per bucket of runs looked at.
   */
  lastFitBefore(limitBlock: number, count: number, lowBlock = 0): [number, number] | undefined {
    const fits = (start: number, end: number): boolean => end <= limitBlock && end - Math.max(start, lowBlock) >= count;
    const lowBucket = this.index.bucketOf(lowBlock);
    let bucket = this.index.bucketOf(Math.max(0, limitBlock - 1));
    while (bucket >= lowBucket) {
      bucket = this.index.lastAtMost(bucket, count);
      if (bucket < lowBucket) break;
      const low = bucket * this.index.bucketBlocks;
      let found: [number, number] | undefined;
      this.runs.forRange(low, Math.min(low + this.index.bucketBlocks, limitBlock), false, (start, end) => {
        if (fits(start, end)) found = [start, end];
      });
      if (found) return found;
      bucket--;
    }
    // A run starting in a bucket below lowBlock's can still reach above it.
    const reaching = this.runAt(lowBlock);
    return reaching && this.index.bucketOf(reaching[0]) < lowBucket && fits(reaching[0], reaching[1]) ? reaching : undefined;
  }

  /** Where `count` aligned blocks fit in free run [start, end) at or after fromBlock and before limitBlock, or -1. */
  private fitInRun(start: number, end: number, fromBlock: number, count: number, limitBlock: number, align: number, alignBase: number): number {
    let candidate = Math.max(start, fromBlock);
    if (align > 1) candidate = alignBase + Math.ceil((candidate - alignBase) / align) * align;
    return candidate + count <= Math.min(end, limitBlock) ? candidate : -1;
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
    for (let bucket = 0; bucket * this.index.bucketBlocks < this.totalBlocks; bucket++) {
      let longest = 0;
      const low = bucket * this.index.bucketBlocks;
      this.runs.forRange(low, low + this.index.bucketBlocks, false, (start, end) => {
        longest = Math.max(longest, end - start);
      });
      assert(this.index.get(bucket) === longest, 'FreeSpace: run index is stale', { bucket, longest, indexed: this.index.get(bucket) });
    }
  }
}
