/**
 * ExtentMap: one fork of an inode (data or CoW), file block -> device block,
 * with the state of each run. Models the extent tree plus extent status cache
 * (ext4) or the in-core extent list (XFS iext). Neighbours merge when
 * logically and physically contiguous, in the same state and within the
 * policy's maximum extent length (ext4_ext_try_to_merge, xfs_bmap_add_extent_*).
 */
import { assert } from '../util/assert.js';
import { IntervalMap, type IntervalEntry } from '../util/intervalmap.js';

export enum ExtentState {
  Written = 0,
  Unwritten = 1,
  /** Reserved, not allocated: physBlock is -1. */
  Delalloc = 2,
}

export interface Extent {
  startBlock: number;
  blockCount: number;
  /** Device block of startBlock; -1 for delalloc. */
  physBlock: number;
  state: ExtentState;
}

/** Maximum extent length in blocks per state (merges never exceed it). */
export interface ExtentLimits {
  maxWritten: number;
  maxUnwritten: number;
  maxDelalloc: number;
}

/**
 * The value of an extent in the interval map, packed into one number so the
 * map stores no object per extent: physBlock * 4 + state (delalloc: -1 * 4 + 2).
 */
type ExtentValue = number;

function packValue(physBlock: number, state: ExtentState): ExtentValue {
  return physBlock * 4 + state;
}

function stateOf(value: ExtentValue): ExtentState {
  return (value & 3) as ExtentState;
}

function physOf(value: ExtentValue): number {
  return (value - (value & 3)) / 4;
}

function makeTraits(limits: ExtentLimits) {
  const maxFor = (state: ExtentState): number =>
    state === ExtentState.Written ? limits.maxWritten : state === ExtentState.Unwritten ? limits.maxUnwritten : limits.maxDelalloc;
  return {
    sliceValue(value: ExtentValue, start: number, cutAt: number): ExtentValue {
      return value < 0 ? value : value + (cutAt - start) * 4;
    },
    classOf: stateOf,
    classCount: 3,
    numericValues: true,
    canMerge(left: ExtentValue, leftStart: number, leftEnd: number, right: ExtentValue, rightEnd: number): boolean {
      const state = stateOf(left);
      if (state !== stateOf(right)) return false;
      if (rightEnd - leftStart > maxFor(state)) return false;
      if (state === ExtentState.Delalloc) return true;
      return left + (leftEnd - leftStart) * 4 === right;
    },
  };
}

function isAllocated(value: ExtentValue): boolean {
  return stateOf(value) !== ExtentState.Delalloc;
}

function toExtent(entry: IntervalEntry<ExtentValue>): Extent {
  return { startBlock: entry.start, blockCount: entry.end - entry.start, physBlock: physOf(entry.value), state: stateOf(entry.value) };
}

/** What lies at a block: an extent, or a hole running to `holeEndBlock` (Infinity when nothing follows). */
export interface BlockMapping {
  extent?: Extent;
  holeEndBlock: number;
}

export class ExtentMap {
  private readonly map: IntervalMap<ExtentValue>;
  /** Scratch entry of lookups (filled, read and dropped within one call). */
  private readonly scratch: IntervalEntry<ExtentValue> = { start: 0, end: 0, value: 0 };
  /** Bumped on every change: the iomap validity cookie of this fork. */
  sequence = 0;

  constructor(readonly limits: ExtentLimits) {
    this.map = new IntervalMap<ExtentValue>(makeTraits(limits));
  }

  /** The longest extent allowed in `state`. */
  maxFor(state: ExtentState): number {
    return state === ExtentState.Written ? this.limits.maxWritten : state === ExtentState.Unwritten ? this.limits.maxUnwritten : this.limits.maxDelalloc;
  }

  get extentCount(): number {
    return this.map.size;
  }

  /** Extents in `state`. O(1). */
  countExtents(state: ExtentState): number {
    return this.map.countOfClass(state);
  }

  /** The extent containing `block`, or the hole there and where it ends. O(log n). */
  lookup(block: number): BlockMapping {
    const extent: Extent = { startBlock: 0, blockCount: 0, physBlock: -1, state: ExtentState.Delalloc };
    const holeEndBlock = this.lookupInto(block, extent);
    return holeEndBlock < 0 ? { extent, holeEndBlock: block } : { holeEndBlock };
  }

  /**
   * lookup() without allocating: when an extent contains `block` it is copied
   * into `into` and -1 returned; else the end of the hole at `block` is
   * returned (Infinity when nothing follows). O(log n).
   */
  lookupInto(block: number, into: Extent): number {
    const entry = this.scratch;
    if (!this.map.findFromInto(block, entry)) return Infinity;
    if (entry.start > block) return entry.start;
    into.startBlock = entry.start;
    into.blockCount = entry.end - entry.start;
    into.physBlock = physOf(entry.value);
    into.state = stateOf(entry.value);
    return -1;
  }

  /** The extent containing `block`, clipped to start there. */
  extentAt(block: number): Extent | undefined {
    const entry = this.map.find(block);
    if (!entry) return undefined;
    const extent = toExtent(entry);
    return clipExtent(extent, block, extent.startBlock + extent.blockCount);
  }

  /** The last extent starting before `block` (the left neighbour). */
  extentBefore(block: number): Extent | undefined {
    const entry = this.scratch;
    return this.map.findBeforeInto(block, entry) ? toExtent(entry) : undefined;
  }

  /**
   * The nearest allocated (not delalloc) extent starting before `block`, looking
   * at most `stepsMax` extents to the left; undefined when there is none within
   * reach. What a loop of extentBefore() calls skipping delalloc finds (ext4_ext_find_goal). O(log n + stepsMax).
   */
  allocatedBefore(block: number, stepsMax: number): Extent | undefined {
    const entry = this.scratch;
    return this.map.findBeforeWhere(block, stepsMax, isAllocated, entry) ? toExtent(entry) : undefined;
  }

  /**
   * The nearest allocated (not delalloc) extent ending after `block` (containing
   * it or to its right), looking at most `stepsMax` extents; undefined when there
   * is none within reach. O(log n + stepsMax).
   */
  allocatedFrom(block: number, stepsMax: number): Extent | undefined {
    const entry = this.scratch;
    return this.map.findFromWhere(block, stepsMax, isAllocated, entry) ? toExtent(entry) : undefined;
  }

  /** Extents overlapping [startBlock, endBlock), clipped to it. O(log n + k). */
  extentsIn(startBlock: number, endBlock: number): Extent[] {
    return this.map.collect(startBlock, endBlock).map(toExtent);
  }

  *all(): IterableIterator<Extent> {
    for (const entry of this.map.entries()) yield toExtent(entry);
  }

  /** The end block of the last extent (0 when empty). */
  lastBlock(): number {
    const last = this.scratch;
    return this.map.findBeforeInto(Number.MAX_SAFE_INTEGER, last) ? last.end : 0;
  }

  /** Maps [startBlock, +count) that must be a hole now. Merges with neighbours. */
  insert(startBlock: number, blockCount: number, physBlock: number, state: ExtentState): void {
    if (!(blockCount > 0)) assert(false, 'ExtentMap.insert: empty extent', { startBlock, blockCount });
    if ((state === ExtentState.Delalloc) !== (physBlock < 0)) assert(false, 'ExtentMap.insert: address/state mismatch', { physBlock, state });
    if (!(blockCount <= this.maxFor(state))) assert(false, 'ExtentMap.insert: extent longer than the policy allows', { blockCount, state });
    const inserted = this.map.insertIntoHole(startBlock, startBlock + blockCount, packValue(physBlock, state));
    if (!(inserted)) assert(false, 'ExtentMap.insert: range is not a hole', { startBlock, blockCount });
    this.sequence++;
  }

  /**
   * Maps [startBlock, +count) to a new extent, replacing whatever was there (the
   * delalloc reservation an allocation takes over); returns the pieces replaced.
   * remove() then insert() in one pass: an exact overwrite of one extent moves nothing.
   */
  replace(startBlock: number, blockCount: number, physBlock: number, state: ExtentState): Extent[] {
    if (!(blockCount > 0)) assert(false, 'ExtentMap.replace: empty extent', { startBlock, blockCount });
    if ((state === ExtentState.Delalloc) !== (physBlock < 0)) assert(false, 'ExtentMap.replace: address/state mismatch', { physBlock, state });
    if (!(blockCount <= this.maxFor(state))) assert(false, 'ExtentMap.replace: extent longer than the policy allows', { blockCount, state });
    const removed = this.map.set(startBlock, startBlock + blockCount, packValue(physBlock, state)).map(toExtent);
    this.sequence++;
    return removed;
  }

  /** Unmaps [startBlock, +count) and returns the pieces that were mapped there. */
  remove(startBlock: number, blockCount: number): Extent[] {
    const removed = this.map.remove(startBlock, startBlock + blockCount).map(toExtent);
    if (removed.length > 0) this.sequence++;
    return removed;
  }

  /** Changes the state of every mapped block in [startBlock, +count), keeping addresses (unwritten conversion). */
  setState(startBlock: number, blockCount: number, state: ExtentState): void {
    const max = this.maxFor(state);
    const entry = this.scratch;
    if (blockCount <= max && this.map.findFromInto(startBlock, entry) && entry.start === startBlock && entry.end === startBlock + blockCount) {
      // Exactly one record (a completion converting what one allocation made): its state changes in place.
      if (stateOf(entry.value) === ExtentState.Delalloc && state !== ExtentState.Delalloc) assert(false, 'ExtentMap.setState: delalloc has no address', toExtent(entry));
      const physBlock = stateOf(entry.value) === ExtentState.Delalloc ? -1 : physOf(entry.value);
      this.map.assign(startBlock, startBlock + blockCount, packValue(physBlock, state));
      this.sequence++;
      return;
    }
    const pieces = this.map.collect(startBlock, startBlock + blockCount);
    for (const piece of pieces) {
      const pieceState = stateOf(piece.value);
      const piecePhys = physOf(piece.value);
      assert(pieceState !== ExtentState.Delalloc || state === ExtentState.Delalloc, 'ExtentMap.setState: delalloc has no address', toExtent(piece));
      // A record longer than the new state allows is split (32768 written blocks become 32767 + 1 unwritten on ext4).
      for (let start = piece.start; start < piece.end; start += max) {
        const end = Math.min(piece.end, start + max);
        const physBlock = piecePhys < 0 ? -1 : piecePhys + (start - piece.start);
        this.map.assign(start, end, packValue(physBlock, state));
      }
    }
    this.sequence++;
  }

  /** Moves every extent at or after `fromBlock` by `deltaBlocks` (collapse/insert range). */
  shift(fromBlock: number, deltaBlocks: number): void {
    this.map.shiftFrom(fromBlock, deltaBlocks);
    this.sequence++;
  }

  /** Blocks mapped in a given state (or all states). O(n). */
  countBlocks(state?: ExtentState): number {
    let total = 0;
    for (const entry of this.map.entries()) {
      if (state === undefined || stateOf(entry.value) === state) total += entry.end - entry.start;
    }
    return total;
  }

  clear(): void {
    this.map.clear();
    this.sequence++;
  }

  /** Sorted, disjoint, non-empty; delalloc has no address; lengths within limits. O(n). */
  checkValid(): void {
    this.map.checkValid();
    for (const entry of this.map.entries()) {
      const state = stateOf(entry.value);
      const physBlock = physOf(entry.value);
      assert((state === ExtentState.Delalloc) === (physBlock < 0), 'ExtentMap: address/state mismatch', toExtent(entry));
      assert(entry.start >= 0 && Number.isInteger(entry.start) && Number.isInteger(entry.end), 'ExtentMap: bad bounds', entry);
      assert(entry.end - entry.start <= this.maxFor(state), 'ExtentMap: extent longer than the policy allows', entry);
    }
  }
}

export function clipExtent(extent: Extent, startBlock: number, endBlock: number): Extent {
  const start = Math.max(extent.startBlock, startBlock);
  const end = Math.min(extent.startBlock + extent.blockCount, endBlock);
  return {
    startBlock: start,
    blockCount: end - start,
    physBlock: extent.physBlock < 0 ? -1 : extent.physBlock + (start - extent.startBlock),
    state: extent.state,
  };
}
