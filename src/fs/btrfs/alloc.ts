/**
 * The btrfs data extent allocator: block groups (one per data chunk) with
 * their free-space entries indexed by offset and by size (free-space-cache.c
 * free_space_offset / free_space_bytes), size classes (block-group.c
 * btrfs_calc_block_group_size_class) and find_free_extent's passes:
 *  - a hint inside a block group of the right class: the first free entry
 *    containing or after the hint that fits, allocated from its start;
 *  - otherwise every block group in list order, starting at the group's
 *    start, which means the largest free entry (use_bytes_index);
 *  - classes: matching first, then groups without a class, then a new chunk
 *    (LOOP_ALLOC_CHUNK), then any class (LOOP_WRONG_SIZE_CLASS).
 * btrfs_reserve_extent halves a request that does not fit (bounded by the
 * largest free entry) down to the minimum. Freed extents stay pinned until
 * the transaction commits (btrfs_finish_extent_commit unpins them).
 */
import type { FreeSpace } from '../../alloc/freespace.js';
import type { BlockRun } from '../../image/types.js';
import { assert } from '../../util/assert.js';
import { BTree } from '../../util/btree.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { BtrfsGeometry } from './geometry.js';

export enum SizeClass {
  None = 0,
  Small = 1,
  Medium = 2,
  Large = 3,
}

const SMALL_CLASS_MAX_BYTES = 128 * 1024;
const MEDIUM_CLASS_MAX_BYTES = 8 * 1024 * 1024;
/** Size keys pack (length, start) into one number: starts below 2^32 blocks. */
const START_SPAN = 2 ** 32;

/** btrfs_calc_block_group_size_class. */
export function sizeClassOf(bytes: number): SizeClass {
  if (bytes <= SMALL_CLASS_MAX_BYTES) return SizeClass.Small;
  if (bytes <= MEDIUM_CLASS_MAX_BYTES) return SizeClass.Medium;
  return SizeClass.Large;
}

/** One data block group: [start, start+length) blocks and its free entries. */
export class BlockGroup {
  sizeClass = SizeClass.None;
  /** Free entries by offset: start -> end. */
  private readonly byOffset = new BTree<number, number>();
  /** Free entries by size: length * 2^32 + (2^32 - 1 - start), so the maximum key is the largest, lowest entry. */
  private readonly bySize = new BTree<number, number>();
  freeBlocks = 0;

  constructor(
    readonly start: number,
    readonly length: number,
  ) {}

  get end(): number {
    return this.start + this.length;
  }

  private sizeKey(start: number, end: number): number {
    return (end - start) * START_SPAN + (START_SPAN - 1 - start);
  }

  private link(start: number, end: number): void {
    this.byOffset.set(start, end);
    this.bySize.set(this.sizeKey(start, end), start);
  }

  private unlink(start: number, end: number): void {
    this.byOffset.delete(start);
    this.bySize.delete(this.sizeKey(start, end));
  }

  /** __btrfs_add_free_space with merging of touching entries. */
  addFree(start: number, count: number): void {
    assert(count > 0 && start >= this.start && start + count <= this.end, 'btrfs block group: free outside the group', { start, count });
    let newStart = start;
    let newEnd = start + count;
    const left = this.byOffset.getPairOrNextLower(start);
    if (left && left[1] > start) assert(false, 'btrfs block group: double free', { start, count, left });
    const right = this.byOffset.getPairOrNextHigher(start);
    if (right) assert(right[0] >= newEnd, 'btrfs block group: double free', { start, count, right });
    if (left && left[1] === start) {
      newStart = left[0];
      this.unlink(left[0], left[1]);
    }
    if (right && right[0] === newEnd) {
      newEnd = right[1];
      this.unlink(right[0], right[1]);
    }
    this.link(newStart, newEnd);
    this.freeBlocks += count;
  }

  /** Takes [start, start+count) out of the free entry that holds it. */
  take(start: number, count: number): void {
    const entry = this.byOffset.getPairOrNextLower(start);
    assert(entry && entry[1] >= start + count, 'btrfs block group: allocation over used space', { start, count });
    const [entryStart, entryEnd] = entry;
    this.unlink(entryStart, entryEnd);
    if (entryStart < start) this.link(entryStart, start);
    if (start + count < entryEnd) this.link(start + count, entryEnd);
    this.freeBlocks -= count;
  }

  /** find_free_space by offset: the entry containing or after `from` that holds `count`; its start, or -1. */
  firstFitFrom(from: number, count: number): number {
    const containing = this.byOffset.getPairOrNextLower(from);
    let found = -1;
    if (containing && containing[1] > from && containing[1] - containing[0] >= count) return containing[0];
    this.byOffset.forRange(from, this.end, false, (start, end) => {
      if (found < 0 && end - start >= count) found = start;
      if (found >= 0) return { break: true };
      return undefined;
    });
    return found;
  }

  /** find_free_space by size: the start of the largest entry if it holds `count`, or -1. */
  largestFit(count: number): number {
    const key = this.bySize.maxKey();
    if (key === undefined) return -1;
    const start = this.bySize.get(key)!;
    return this.byOffset.get(start)! - start >= count ? start : -1;
  }

  /** The largest free entry in blocks. */
  largestFree(): number {
    const key = this.bySize.maxKey();
    return key === undefined ? 0 : Math.floor(key / START_SPAN);
  }

  *freeRuns(): IterableIterator<[number, number]> {
    for (const [start, end] of this.byOffset.entries()) yield [start, end - start];
  }
}

/** Where a reservation landed. */
export interface Reservation {
  start: number;
  count: number;
}

/** Pass of find_free_extent (enum btrfs_loop_type, caching passes folded together). */
enum Loop {
  SameClass = 0,
  UnsetClass = 1,
  AllocChunk = 2,
  WrongClass = 3,
}

export class BtrfsAllocator {
  /** space_info->block_groups[single], in the order they were created. */
  readonly groups: BlockGroup[] = [];
  /** Freed extents waiting for the transaction commit. */
  private pinned: BlockRun[] = [];
  pinnedBlocks = 0;
  chunksAllocated = 0;

  constructor(
    private readonly freeSpace: FreeSpace,
    private readonly geometry: BtrfsGeometry,
  ) {
    this.addGroup(geometry.firstDataChunk.start, geometry.firstDataChunk.length);
  }

  /** Device blocks not (yet) in any chunk that a new chunk could take: from the end of the last chunk. */
  private nextChunkStart(): number {
    const last = this.groups[this.groups.length - 1]!;
    return last.end;
  }

  private addGroup(start: number, length: number): BlockGroup {
    const group = new BlockGroup(start, length);
    let cursor = start;
    // exclude_super_stripes: the mirror's stripe stays out of the group's free space.
    for (const stripe of this.geometry.superStripes) {
      if (stripe.start >= start + length || stripe.start + stripe.length <= start) continue;
      if (stripe.start > cursor) group.addFree(cursor, stripe.start - cursor);
      cursor = Math.max(cursor, stripe.start + stripe.length);
    }
    if (cursor < start + length) group.addFree(cursor, start + length - cursor);
    this.groups.push(group);
    return group;
  }

  /** btrfs_chunk_alloc(DATA): a new chunk after the last one; false when the device is full. */
  private allocChunk(): boolean {
    const start = this.nextChunkStart();
    const length = Math.min(this.geometry.dataChunkBlocks, this.geometry.deviceBlocks - start);
    if (length <= 0) return false;
    this.addGroup(start, length);
    this.chunksAllocated++;
    return true;
  }

  private classAllows(group: BlockGroup, wanted: SizeClass, loop: Loop): boolean {
    if (loop >= Loop.WrongClass) return true;
    if (loop >= Loop.UnsetClass && group.sizeClass === SizeClass.None) return true;
    return group.sizeClass === wanted;
  }

  private groupOf(block: number): BlockGroup | undefined {
    return this.groups.find((group) => block >= group.start && block < group.end);
  }

  /** One find_free_extent: the start of `count` blocks, or -1 with the largest free entry seen. */
  private findFreeExtent(count: number, hintBlock: number, wanted: SizeClass): number {
    const hinted = hintBlock > 0 ? this.groupOf(hintBlock) : undefined;
    let skipUntil = 0;
    if (hinted && this.classAllows(hinted, wanted, Loop.SameClass)) {
      const start = hintBlock === hinted.start ? hinted.largestFit(count) : hinted.firstFitFrom(hintBlock, count);
      if (start >= 0) return this.use(hinted, start, count, wanted, Loop.SameClass);
      // The list walk goes on after the hinted group in this pass.
      skipUntil = this.groups.indexOf(hinted) + 1;
    }
    for (let loop = Loop.SameClass; loop <= Loop.WrongClass; loop++) {
      if (loop === Loop.AllocChunk) {
        if (!this.allocChunk()) continue;
      }
      const from = loop === Loop.SameClass ? skipUntil : 0;
      for (let index = from; index < this.groups.length; index++) {
        const group = this.groups[index]!;
        if (!this.classAllows(group, wanted, loop)) continue;
        const start = group.largestFit(count);
        if (start >= 0) return this.use(group, start, count, wanted, loop);
      }
    }
    return -1;
  }

  private use(group: BlockGroup, start: number, count: number, wanted: SizeClass, loop: Loop): number {
    // btrfs_use_block_group_size_class: a group without a class takes the first allocation's;
    // a wrong-class allocation (LOOP_WRONG_SIZE_CLASS) leaves the group's class alone.
    assert(loop === Loop.WrongClass || group.sizeClass === SizeClass.None || group.sizeClass === wanted, 'btrfs: size class', { loop });
    if (group.sizeClass === SizeClass.None) group.sizeClass = wanted;
    group.take(start, count);
    this.freeSpace.markUsed(start, count);
    return start;
  }

  /**
   * btrfs_reserve_extent(num_bytes, min_alloc_size, hint): `count` blocks, halved
   * on ENOSPC (bounded by the largest free entry) down to `minCount`.
   * Throws ErrnoError ENOSPC when not even `minCount` fits.
   */
  reserve(count: number, minCount: number, hintBlock: number, blockSize: number): Reservation {
    let wanted = count;
    for (let attempt = 0; attempt < 64; attempt++) {
      const start = this.findFreeExtent(wanted, hintBlock, sizeClassOf(wanted * blockSize));
      if (start >= 0) return { start, count: wanted };
      if (wanted <= minCount) break;
      const largest = Math.max(0, ...this.groups.map((group) => group.largestFree()));
      wanted = Math.max(minCount, Math.min(Math.floor(wanted / 2), largest));
    }
    throw new ErrnoError(Errno.ENOSPC, 'btrfs_reserve_extent');
  }

  /** Blocks new data could still get: free space in data groups plus the unallocated tail of the device. */
  availableBlocks(): number {
    let free = 0;
    for (const group of this.groups) free += group.freeBlocks;
    const tail = this.geometry.deviceBlocks - this.nextChunkStart();
    let excluded = 0;
    for (const stripe of this.geometry.superStripes) if (stripe.start >= this.nextChunkStart()) excluded += stripe.length;
    return free + Math.max(0, tail - excluded);
  }

  /** An extent whose last reference went: pinned until the transaction commits. */
  pin(start: number, count: number): void {
    this.pinned.push({ start, length: count });
    this.pinnedBlocks += count;
  }

  /** btrfs_finish_extent_commit: pinned extents become free space again. */
  unpinAll(): number {
    const released = this.pinnedBlocks;
    for (const run of this.pinned) {
      const group = this.groupOf(run.start);
      assert(group && run.start + run.length <= group.end, 'btrfs: pinned extent outside a data group', run);
      group.addFree(run.start, run.length);
      this.freeSpace.free(run.start, run.length);
    }
    this.pinned = [];
    this.pinnedBlocks = 0;
    return released;
  }

  pinnedRuns(): BlockRun[] {
    return this.pinned.map((run) => ({ start: run.start, length: run.length }));
  }

  /** Device blocks outside every chunk (and outside the reserved runs): free in FreeSpace, owned by nobody here. */
  unallocatedRuns(): BlockRun[] {
    const start = this.nextChunkStart();
    const runs: BlockRun[] = [];
    let cursor = start;
    for (const stripe of this.geometry.superStripes) {
      if (stripe.start < start) continue;
      if (stripe.start > cursor) runs.push({ start: cursor, length: stripe.start - cursor });
      cursor = stripe.start + stripe.length;
    }
    if (cursor < this.geometry.deviceBlocks) runs.push({ start: cursor, length: this.geometry.deviceBlocks - cursor });
    return runs;
  }

  /** Each group's free entries add up, and lie inside the group. */
  checkValid(): void {
    for (const group of this.groups) {
      let total = 0;
      for (const [start, length] of group.freeRuns()) {
        assert(start >= group.start && start + length <= group.end, 'btrfs: free entry outside its group', { start, length });
        assert(this.freeSpace.isFree(start, length), 'btrfs: group free entry is in use in FreeSpace', { start, length });
        total += length;
      }
      assert(total === group.freeBlocks, 'btrfs: group free count does not add up', { total, counted: group.freeBlocks });
    }
  }
}
