/**
 * An ordered map of disjoint half-open intervals [start, end) to values: O(log n)
 * lookup, insert, split and merge. The extent maps (blocks) and content maps
 * (bytes) are built on it.
 *
 * Storage is a two-level B+ tree: a sorted list of leaves, each holding up to
 * LEAF_MAX intervals in arrays of numbers (starts, ends, merge keys) beside an
 * array of values. A lookup binary-searches the leaves by their first start, then the
 * leaf. Nothing is allocated per lookup; positions found by `locate` are kept
 * in two scratch fields of the map (leafIndex, entryIndex) and used at once.
 */
import { assert } from './assert.js';

export interface IntervalEntry<V> {
  start: number;
  end: number;
  value: V;
}

/** How values behave when an interval is cut or joined. */
export interface IntervalTraits<V> {
  /** The value of the part of interval (start, value) that begins at `cutAt`. */
  sliceValue(value: V, start: number, cutAt: number): V;
  /** Whether [leftStart,leftEnd)=left and [leftEnd,rightEnd)=right may become one interval. */
  canMerge(left: V, leftStart: number, leftEnd: number, right: V, rightEnd: number): boolean;
  /**
   * Optional: a number per value such that values that may merge have equal
   * keys. Kept beside the bounds, it spares canMerge calls (and loading the
   * neighbour's value) for neighbours that cannot merge.
   */
  mergeKey?(value: V): number;
  /** Optional: a small class number (0..classCount-1) per value; the map keeps a count of intervals per class. */
  classOf?(value: V): number;
  classCount?: number;
}

/** `count` zeros (a packed array of numbers). */
function zeros(count: number): number[] {
  const array: number[] = [];
  for (let index = 0; index < count; index++) array.push(0);
  return array;
}

/** Intervals per leaf at most; a leaf that fills up splits in two halves. */
const LEAF_MAX = 128;
/** A leaf left with fewer intervals than this joins a neighbour when both fit in one leaf. */
const LEAF_MIN = LEAF_MAX / 4;
/** First capacity of a leaf: small maps (one per inode fork) stay small; capacity doubles up to LEAF_MAX. */
const LEAF_CAPACITY_FIRST = 4;

/**
 * Up to LEAF_MAX sorted, disjoint intervals: entries [0, count) of the arrays
 * are live. The bounds and keys are plain number arrays, on the JS heap beside
 * the leaf (a typed array of this size keeps its bytes in a separate
 * allocation off the heap): a lookup touches fewer memory pages, and a new
 * leaf costs no ArrayBuffer.
 */
class Leaf<V> {
  count = 0;
  starts: number[];
  ends: number[];
  /** traits.mergeKey of each value (0 without the trait: then they stay 0 and are never moved). */
  keys: number[];
  values: V[] = [];

  constructor(
    capacity: number,
    private readonly keyed: boolean,
  ) {
    this.starts = zeros(capacity);
    this.ends = zeros(capacity);
    this.keys = zeros(capacity);
  }

  /** Makes room for `needed` entries (at most LEAF_MAX). */
  reserve(needed: number): void {
    if (needed <= this.starts.length) return;
    const capacity = Math.min(LEAF_MAX, Math.max(needed, this.starts.length * 2));
    for (let at = this.starts.length; at < capacity; at++) {
      this.starts.push(0);
      this.ends.push(0);
      this.keys.push(0);
    }
  }

  /** Copies entries [from, to) of `source` (bounds and keys) to this leaf from entry `at` on (room reserved). */
  copyBoundsFrom(source: Leaf<V>, from: number, to: number, at: number): void {
    for (let index = from, into = at; index < to; index++, into++) {
      this.starts[into] = source.starts[index]!;
      this.ends[into] = source.ends[index]!;
    }
    if (this.keyed) for (let index = from, into = at; index < to; index++, into++) this.keys[into] = source.keys[index]!;
  }

  /** Opens a slot at `index` (entries from it move right by one). */
  openSlot(index: number): void {
    this.reserve(this.count + 1);
    const count = this.count;
    const { starts, ends, keys, values } = this;
    // By hand: for the short moves of a leaf, a loop costs less than copyWithin() and splice() calls.
    values.push(undefined as V);
    for (let at = count; at > index; at--) {
      starts[at] = starts[at - 1]!;
      ends[at] = ends[at - 1]!;
      values[at] = values[at - 1]!;
    }
    if (this.keyed) for (let at = count; at > index; at--) keys[at] = keys[at - 1]!;
    this.count = count + 1;
  }

  /** Drops entries [from, to). */
  deleteSpan(from: number, to: number): void {
    const count = this.count;
    const { starts, ends, keys, values } = this;
    const removed = to - from;
    for (let at = from; at + removed < count; at++) {
      starts[at] = starts[at + removed]!;
      ends[at] = ends[at + removed]!;
      values[at] = values[at + removed]!;
    }
    if (this.keyed) for (let at = from; at + removed < count; at++) keys[at] = keys[at + removed]!;
    values.length = count - removed;
    this.count = count - removed;
  }
}

export class IntervalMap<V> {
  private leaves: Leaf<V>[] = [];
  /**
   * firsts[i] is leaves[i].starts[0]: the leaf level of a lookup searches this
   * one flat array (a few cache lines) instead of reaching into every leaf it
   * probes. Updated where a leaf's first interval changes; rebuilt when leaves
   * come or go (rare: a split or join per tens of inserts).
   */
  private firsts = new Float64Array(8);
  private count = 0;
  /** Scratch position set by locate(): entry `entryIndex` of leaf `leafIndex` (-1: before every interval). */
  private leafIndex = 0;
  private entryIndex = -1;
  /** Intervals per class (traits.classOf), kept as intervals come and go. */
  private readonly classCounts: Int32Array;

  constructor(private readonly traits: IntervalTraits<V>) {
    this.classCounts = new Int32Array(traits.classOf ? (traits.classCount ?? 1) : 0);
  }

  /** Number of intervals whose value is of class `valueClass`. O(1). */
  countOfClass(valueClass: number): number {
    return this.classCounts[valueClass] ?? 0;
  }

  private keyOf(value: V): number {
    return this.traits.mergeKey === undefined ? 0 : this.traits.mergeKey(value);
  }

  private counted(value: V, delta: number): void {
    if (this.traits.classOf) this.classCounts[this.traits.classOf(value)]! += delta;
  }

  /** Number of intervals. O(1). */
  get size(): number {
    return this.count;
  }

  // ---- positions -----------------------------------------------------------

  /**
   * Sets (leafIndex, entryIndex) to the last interval whose start is <= point;
   * entryIndex -1 (leafIndex 0) when there is none. Returns whether there is one. O(log n).
   */
  private locate(point: number): boolean {
    const leaves = this.leaves;
    const firsts = this.firsts;
    if (leaves.length === 0 || firsts[0]! > point) {
      this.leafIndex = 0;
      this.entryIndex = -1;
      return false;
    }
    // Most lookups land in the leaf of the one before (the same extent, or its neighbour): try it first.
    let low = this.leafIndex;
    const leafCount = leaves.length;
    if (low >= leafCount || firsts[low]! > point || (low + 1 < leafCount && firsts[low + 1]! <= point)) {
      low = 0;
      let high = leafCount - 1;
      while (low < high) {
        const middle = (low + high + 1) >>> 1;
        if (firsts[middle]! <= point) low = middle;
        else high = middle - 1;
      }
    }
    const leaf = leaves[low]!;
    const starts = leaf.starts;
    const count = leaf.count;
    // Runs of calls at one point (a writeback maps, allocates and converts the same block): the entry of the
    // call before, or the one after it, is checked before searching the leaf.
    if (low === this.leafIndex) {
      const hint = this.entryIndex;
      if (hint >= 0 && hint < count && starts[hint]! <= point) {
        if (hint + 1 >= count || starts[hint + 1]! > point) {
          this.entryIndex = hint;
          return true;
        }
        if (hint + 2 >= count || starts[hint + 2]! > point) {
          this.entryIndex = hint + 1;
          return true;
        }
      }
    }
    // The leaf's starts lie in [firsts[low], next leaf's first): a guess in proportion to where the point falls,
    // then a short walk, reads a cache line or two where a binary search over the leaf reads five.
    let first = 0;
    let last = count - 1;
    if (low + 1 < leafCount && count > 8) {
      const from = firsts[low]!;
      const guess = Math.min(last, Math.floor(((point - from) * count) / (firsts[low + 1]! - from)));
      if (starts[guess]! <= point) {
        first = guess;
        for (let steps = 0; steps < 4 && first < last && starts[first + 1]! <= point; steps++) first++;
        if (first === last || starts[first + 1]! > point) last = first;
      } else {
        last = guess - 1;
        for (let steps = 0; steps < 4 && last > 0 && starts[last]! > point; steps++) last--;
        if (starts[last]! <= point) first = last;
      }
    }
    while (first < last) {
      const middle = (first + last + 1) >>> 1;
      if (starts[middle]! <= point) first = middle;
      else last = middle - 1;
    }
    this.leafIndex = low;
    this.entryIndex = first;
    return true;
  }

  /** Moves the scratch position to the next interval; false (position unchanged) at the end. */
  private stepForward(): boolean {
    const leaf = this.leaves[this.leafIndex];
    if (leaf === undefined) return false;
    if (this.entryIndex + 1 < leaf.count) {
      this.entryIndex++;
      return true;
    }
    if (this.leafIndex + 1 >= this.leaves.length) return false;
    this.leafIndex++;
    this.entryIndex = 0;
    return true;
  }

  /** Moves the scratch position to the previous interval; false (position unchanged) at the start. */
  private stepBack(): boolean {
    if (this.entryIndex > 0) {
      this.entryIndex--;
      return true;
    }
    if (this.leafIndex === 0) return false;
    this.leafIndex--;
    this.entryIndex = this.leaves[this.leafIndex]!.count - 1;
    return true;
  }

  /** The interval at the scratch position, as a new entry. */
  private entryHere(): IntervalEntry<V> {
    const leaf = this.leaves[this.leafIndex]!;
    const index = this.entryIndex;
    return { start: leaf.starts[index]!, end: leaf.ends[index]!, value: leaf.values[index]! };
  }

  /** Copies the interval at the scratch position into `into`. */
  private copyHere(into: IntervalEntry<V>): void {
    const leaf = this.leaves[this.leafIndex]!;
    const index = this.entryIndex;
    into.start = leaf.starts[index]!;
    into.end = leaf.ends[index]!;
    into.value = leaf.values[index]!;
  }

  /**
   * Sets the scratch position to the first interval that ends after `point`
   * (contains it or starts after it). Returns false when there is none.
   */
  private locateFrom(point: number): boolean {
    if (this.locate(point)) {
      const leaf = this.leaves[this.leafIndex]!;
      if (leaf.ends[this.entryIndex]! > point) return true;
      return this.stepForward();
    }
    if (this.leaves.length === 0) return false;
    this.entryIndex = 0;
    return true;
  }

  // ---- structure -------------------------------------------------------------

  /** firsts again from every leaf (the first leaf, a cleared map). O(leaves). */
  private rebuildFirsts(): void {
    const leaves = this.leaves;
    if (this.firsts.length < leaves.length) this.firsts = new Float64Array(Math.max(leaves.length, this.firsts.length * 2));
    for (let index = 0; index < leaves.length; index++) this.firsts[index] = leaves[index]!.count > 0 ? leaves[index]!.starts[0]! : 0;
  }

  /**
   * Leaf `at` was just inserted (the ones after it moved right by one): firsts
   * follows with one memmove, reading no other leaf (a rebuild would load every
   * leaf's first start, one cache miss each, on every split).
   */
  private leafInserted(at: number): void {
    const count = this.leaves.length;
    if (this.firsts.length < count) {
      const firsts = new Float64Array(Math.max(count, this.firsts.length * 2));
      firsts.set(this.firsts.subarray(0, count - 1));
      this.firsts = firsts;
    }
    this.firsts.copyWithin(at + 1, at, count - 1);
    this.firsts[at] = this.leaves[at]!.starts[0]!;
  }

  /** Leaves [at, at + removed) were just removed: firsts follows with one memmove. */
  private leavesRemoved(at: number, removed: number): void {
    this.firsts.copyWithin(at, at + removed, this.leaves.length + removed);
  }

  /** The first interval of leaf `at` changed (it is not empty). */
  private firstChanged(at: number): void {
    this.firsts[at] = this.leaves[at]!.starts[0]!;
  }

  /** Inserts [start, end) -> value right after the scratch position (entryIndex -1: first), splitting a full leaf. */
  private insertAfterHere(start: number, end: number, value: V): void {
    if (this.leaves.length === 0) this.leaves.push(new Leaf<V>(LEAF_CAPACITY_FIRST, this.traits.mergeKey !== undefined));
    let leaf = this.leaves[this.leafIndex]!;
    let index = this.entryIndex + 1;
    if (leaf.count >= LEAF_MAX) {
      const right = this.splitLeaf(this.leafIndex);
      if (index > leaf.count) {
        index -= leaf.count;
        leaf = right;
        this.leafIndex++;
      }
    }
    leaf.openSlot(index);
    leaf.starts[index] = start;
    leaf.ends[index] = end;
    leaf.keys[index] = this.keyOf(value);
    leaf.values[index] = value;
    this.entryIndex = index;
    this.count++;
    if (this.leaves.length > this.firsts.length || (this.leaves.length === 1 && leaf.count === 1)) this.rebuildFirsts();
    else if (index === 0) this.firstChanged(this.leafIndex);
  }

  /** Moves the upper half of leaf `at` into a new leaf after it; returns the new leaf. */
  private splitLeaf(at: number): Leaf<V> {
    const leaf = this.leaves[at]!;
    const keep = leaf.count >>> 1;
    const moved = leaf.count - keep;
    const right = new Leaf<V>(LEAF_MAX, this.traits.mergeKey !== undefined);
    right.copyBoundsFrom(leaf, keep, leaf.count, 0);
    right.values = leaf.values.splice(keep, moved);
    right.count = moved;
    leaf.count = keep;
    this.leaves.splice(at + 1, 0, right);
    this.leafInserted(at + 1);
    return right;
  }

  /** Deletes entries [from, to) of leaf `at`, then drops or joins the leaf if it became empty or small. */
  private deleteInLeaf(at: number, from: number, to: number): void {
    const leaf = this.leaves[at]!;
    leaf.deleteSpan(from, to);
    this.count -= to - from;
    if (from === 0 && leaf.count > 0) this.firstChanged(at);
    this.rebalance(at);
  }

  /** An empty leaf goes; a small one joins its left (else right) neighbour when they fit in one leaf. */
  private rebalance(at: number): void {
    const leaf = this.leaves[at]!;
    if (leaf.count === 0) {
      this.leaves.splice(at, 1);
      this.leavesRemoved(at, 1);
      return;
    }
    if (leaf.count >= LEAF_MIN) return;
    const leftIndex = at > 0 ? at - 1 : at;
    if (leftIndex + 1 >= this.leaves.length) return;
    const left = this.leaves[leftIndex]!;
    const right = this.leaves[leftIndex + 1]!;
    if (left.count + right.count > LEAF_MAX / 2) return;
    left.reserve(left.count + right.count);
    left.copyBoundsFrom(right, 0, right.count, left.count);
    for (let index = 0; index < right.count; index++) left.values.push(right.values[index]!);
    left.count += right.count;
    this.leaves.splice(leftIndex + 1, 1);
    this.leavesRemoved(leftIndex + 1, 1);
  }

  /** Deletes the interval at the scratch position (the position is no longer valid). */
  private deleteHere(): void {
    this.deleteInLeaf(this.leafIndex, this.entryIndex, this.entryIndex + 1);
  }

  // ---- queries ---------------------------------------------------------------

  /** The interval containing `point`, if any. O(log n). */
  find(point: number): IntervalEntry<V> | undefined {
    if (!this.locate(point)) return undefined;
    if (this.leaves[this.leafIndex]!.ends[this.entryIndex]! <= point) return undefined;
    return this.entryHere();
  }

  /** The first interval that ends after `point` (contains it or starts after it). O(log n). */
  findFrom(point: number): IntervalEntry<V> | undefined {
    return this.locateFrom(point) ? this.entryHere() : undefined;
  }

  /** findFrom() into a caller's scratch entry (no allocation); returns false when there is none. O(log n). */
  findFromInto(point: number, into: IntervalEntry<V>): boolean {
    if (!this.locateFrom(point)) return false;
    this.copyHere(into);
    return true;
  }

  /** The last interval that starts before `point`. O(log n). */
  findBefore(point: number): IntervalEntry<V> | undefined {
    if (!this.locate(point)) return undefined;
    if (this.leaves[this.leafIndex]!.starts[this.entryIndex]! === point && !this.stepBack()) return undefined;
    return this.entryHere();
  }

  /** findBefore() into a caller's scratch entry (no allocation); returns false when there is none. O(log n). */
  findBeforeInto(point: number, into: IntervalEntry<V>): boolean {
    if (!this.locate(point)) return false;
    if (this.leaves[this.leafIndex]!.starts[this.entryIndex]! === point && !this.stepBack()) return false;
    this.copyHere(into);
    return true;
  }

  /**
   * Walks left from the last interval starting before `point` over at most
   * `stepsMax` intervals, to the first whose value `accept` takes; copies it into
   * `into`. Returns false when there is none within reach. O(log n + stepsMax).
   */
  findBeforeWhere(point: number, stepsMax: number, accept: (value: V) => boolean, into: IntervalEntry<V>): boolean {
    if (!this.locate(point)) return false;
    if (this.leaves[this.leafIndex]!.starts[this.entryIndex]! === point && !this.stepBack()) return false;
    for (let steps = 0; steps < stepsMax; steps++) {
      if (accept(this.leaves[this.leafIndex]!.values[this.entryIndex]!)) {
        this.copyHere(into);
        return true;
      }
      if (!this.stepBack()) return false;
    }
    return false;
  }

  /**
   * Walks right from the first interval that ends after `point` over at most
   * `stepsMax` intervals, to the first whose value `accept` takes; copies it into
   * `into`. Returns false when there is none within reach. O(log n + stepsMax).
   */
  findFromWhere(point: number, stepsMax: number, accept: (value: V) => boolean, into: IntervalEntry<V>): boolean {
    if (!this.locateFrom(point)) return false;
    for (let steps = 0; steps < stepsMax; steps++) {
      if (accept(this.leaves[this.leafIndex]!.values[this.entryIndex]!)) {
        this.copyHere(into);
        return true;
      }
      if (!this.stepForward()) return false;
    }
    return false;
  }

  /** Visits intervals overlapping [start, end) in order (unclipped); the interval containing `start` always. O(log n + k). */
  forEachOverlap(start: number, end: number, visit: (entry: IntervalEntry<V>) => void): void {
    if (!this.locateFrom(start)) return;
    let leafIndex = this.leafIndex;
    let index = this.entryIndex;
    const leaves = this.leaves;
    let leaf = leaves[leafIndex]!;
    // The first one contains start, or starts after it (then it must start before end).
    if (leaf.starts[index]! > start && leaf.starts[index]! >= end) return;
    for (;;) {
      visit({ start: leaf.starts[index]!, end: leaf.ends[index]!, value: leaf.values[index]! });
      index++;
      if (index >= leaf.count) {
        leafIndex++;
        if (leafIndex >= leaves.length) return;
        leaf = leaves[leafIndex]!;
        index = 0;
      }
      if (leaf.starts[index]! >= end) return;
    }
  }

  /** All intervals in order. */
  *entries(): IterableIterator<IntervalEntry<V>> {
    for (const leaf of this.leaves) {
      for (let index = 0; index < leaf.count; index++) yield { start: leaf.starts[index]!, end: leaf.ends[index]!, value: leaf.values[index]! };
    }
  }

  /** Intervals overlapping [start, end), clipped to it. */
  collect(start: number, end: number): IntervalEntry<V>[] {
    const out: IntervalEntry<V>[] = [];
    this.forEachOverlap(start, end, (entry) => {
      if (entry.start < start) {
        entry.value = this.traits.sliceValue(entry.value, entry.start, start);
        entry.start = start;
      }
      if (entry.end > end) entry.end = end;
      out.push(entry);
    });
    return out;
  }

  // ---- changes ---------------------------------------------------------------

  /** Cuts any interval that straddles `point` into two. O(log n). */
  private splitAt(point: number): void {
    if (!this.locate(point)) return;
    const leaf = this.leaves[this.leafIndex]!;
    const index = this.entryIndex;
    const start = leaf.starts[index]!;
    const end = leaf.ends[index]!;
    if (start === point || end <= point) return;
    const rightValue = this.traits.sliceValue(leaf.values[index]!, start, point);
    leaf.ends[index] = point;
    this.insertAfterHere(point, end, rightValue);
    this.counted(rightValue, 1);
  }

  /**
   * Removes the intervals that start in [start, end) (after splitAt(start) and
   * splitAt(end) these are exactly those overlapping it), appending them to `out` when given.
   */
  private removeSpan(start: number, end: number, out: IntervalEntry<V>[] | undefined): void {
    // A leaf at a time: deleting may drop or join leaves, so each round locates afresh.
    while (this.locateFrom(start)) {
      const leafIndex = this.leafIndex;
      const from = this.entryIndex;
      const wholeEnd = from === 0 ? this.wholeLeavesBefore(leafIndex, end) : leafIndex;
      if (wholeEnd > leafIndex) {
        // Leaves wholly inside the range go in one splice (a truncate of a large file).
        for (let index = leafIndex; index < wholeEnd; index++) this.takeEntries(this.leaves[index]!, 0, this.leaves[index]!.count, out);
        this.leaves.splice(leafIndex, wholeEnd - leafIndex);
        this.leavesRemoved(leafIndex, wholeEnd - leafIndex);
        continue;
      }
      const leaf = this.leaves[leafIndex]!;
      let to = from;
      while (to < leaf.count && leaf.starts[to]! < end) to++;
      if (to === from) return;
      this.takeEntries(leaf, from, to, out);
      leaf.deleteSpan(from, to);
      if (from === 0 && leaf.count > 0) this.firstChanged(leafIndex);
      this.rebalance(leafIndex);
    }
  }

  /** The end of the run of leaves from `leafIndex` whose every interval starts before `end`. */
  private wholeLeavesBefore(leafIndex: number, end: number): number {
    let index = leafIndex;
    while (index < this.leaves.length) {
      const leaf = this.leaves[index]!;
      if (leaf.starts[leaf.count - 1]! >= end) break;
      index++;
    }
    return index;
  }

  /** Uncounts entries [from, to) of `leaf` (leaving them in place) and appends them to `out` when given. */
  private takeEntries(leaf: Leaf<V>, from: number, to: number, out: IntervalEntry<V>[] | undefined): void {
    for (let index = from; index < to; index++) {
      const value = leaf.values[index]!;
      if (out !== undefined) out.push({ start: leaf.starts[index]!, end: leaf.ends[index]!, value });
      this.counted(value, -1);
    }
    this.count -= to - from;
  }

  /** Removes [start, end) and returns what was there (clipped), in order. O(log n + k). */
  remove(start: number, end: number): IntervalEntry<V>[] {
    if (!(end >= start)) assert(false, 'IntervalMap.remove: end before start', { start, end });
    if (end === start) return [];
    this.splitAt(start);
    this.splitAt(end);
    const removed: IntervalEntry<V>[] = [];
    this.removeSpan(start, end, removed);
    return removed;
  }

  /** remove() without gathering what was removed. O(log n + k). */
  erase(start: number, end: number): void {
    if (!(end >= start)) assert(false, 'IntervalMap.erase: end before start', { start, end });
    if (end === start) return;
    this.splitAt(start);
    this.splitAt(end);
    this.removeSpan(start, end, undefined);
  }

  /** Sets [start, end) to `value`, replacing what was there, and merges with neighbours. Returns what it replaced. */
  set(start: number, end: number, value: V): IntervalEntry<V>[] {
    if (!(end > start)) assert(false, 'IntervalMap.set: empty interval', { start, end });
    if (this.locateExactly(start, end)) {
      const leaf = this.leaves[this.leafIndex]!;
      const removed = [{ start, end, value: leaf.values[this.entryIndex]! }];
      this.replaceHere(value);
      return removed;
    }
    const removed = this.remove(start, end);
    this.insertAndMerge(start, end, value);
    return removed;
  }

  /** Whether an interval is exactly [start, end) (the scratch position is then on it). O(log n). */
  private locateExactly(start: number, end: number): boolean {
    return this.locate(start) && this.leaves[this.leafIndex]!.starts[this.entryIndex] === start && this.leaves[this.leafIndex]!.ends[this.entryIndex] === end;
  }

  /**
   * Gives the interval at the scratch position a new value and merges it with
   * its neighbours: what removing it and inserting [start, end) -> value would
   * do, without moving any entry (an overwrite of exactly one extent or range).
   */
  private replaceHere(value: V): void {
    const leaf = this.leaves[this.leafIndex]!;
    this.counted(leaf.values[this.entryIndex]!, -1);
    leaf.values[this.entryIndex] = value;
    leaf.keys[this.entryIndex] = this.keyOf(value);
    this.counted(value, 1);
    this.mergeHere();
  }

  /** set() without gathering what was replaced. O(log n + k). */
  assign(start: number, end: number, value: V): void {
    if (!(end > start)) assert(false, 'IntervalMap.assign: empty interval', { start, end });
    if (this.locateExactly(start, end)) {
      this.replaceHere(value);
      return;
    }
    this.erase(start, end);
    this.insertAndMerge(start, end, value);
  }

  /** Inserts [start, end) -> value into a hole and merges it with its neighbours. */
  private insertAndMerge(start: number, end: number, value: V): void {
    this.locate(start);
    this.insertAfterHere(start, end, value);
    this.counted(value, 1);
    this.mergeHere();
  }

  /**
   * Maps [start, end), which must be empty, to `value` and merges with neighbours:
   * set() without the removal pass. Returns false (and changes nothing) when anything overlaps. O(log n).
   */
  insertIntoHole(start: number, end: number, value: V): boolean {
    const found = this.locate(start);
    if (found && this.leaves[this.leafIndex]!.ends[this.entryIndex]! > start) return false;
    const leafIndex = this.leafIndex;
    const entryIndex = this.entryIndex;
    if (this.stepForwardFrom(found) && this.leaves[this.leafIndex]!.starts[this.entryIndex]! < end) return false;
    this.leafIndex = leafIndex;
    this.entryIndex = entryIndex;
    this.insertAfterHere(start, end, value);
    this.counted(value, 1);
    this.mergeHere();
    return true;
  }

  /** From the position locate() left (found or not), to the interval after it; false when there is none. */
  private stepForwardFrom(found: boolean): boolean {
    if (found) return this.stepForward();
    if (this.leaves.length === 0) return false;
    this.entryIndex = 0;
    return true;
  }

  /**
   * Merges the interval at the scratch position with mergeable neighbours: first
   * the left one (which then keeps its value), then the right one.
   */
  private mergeHere(): void {
    let leaf = this.leaves[this.leafIndex]!;
    let start = leaf.starts[this.entryIndex]!;
    const end = leaf.ends[this.entryIndex]!;
    let value = leaf.values[this.entryIndex]!;
    // Values that may merge have equal keys (the left one's, if they merge, is the same).
    const key = leaf.keys[this.entryIndex]!;
    if (this.stepBack()) {
      const left = this.leaves[this.leafIndex]!;
      const leftIndex = this.entryIndex;
      const leftStart = left.starts[leftIndex]!;
      const leftValue = left.values[leftIndex]!;
      if (left.ends[leftIndex] === start && left.keys[leftIndex] === key && this.traits.canMerge(leftValue, leftStart, start, value, end)) {
        left.ends[leftIndex] = end;
        this.stepForward();
        this.deleteHere();
        this.counted(value, -1);
        start = leftStart;
        value = leftValue;
        this.locate(start);
      } else {
        this.stepForward();
      }
    }
    leaf = this.leaves[this.leafIndex]!;
    const here = this.entryIndex;
    if (!this.stepForward()) return;
    const right = this.leaves[this.leafIndex]!;
    const rightIndex = this.entryIndex;
    const rightEnd = right.ends[rightIndex]!;
    if (right.starts[rightIndex] !== end || right.keys[rightIndex] !== key || !this.traits.canMerge(value, start, end, right.values[rightIndex]!, rightEnd)) return;
    const rightValue = right.values[rightIndex]!;
    leaf.ends[here] = rightEnd;
    this.deleteHere();
    this.counted(rightValue, -1);
  }

  /** Tries merging the intervals that touch `point` (after external edits). */
  mergeAt(point: number): void {
    if (!this.locate(point)) return;
    if (this.leaves[this.leafIndex]!.ends[this.entryIndex]! <= point) return;
    this.mergeHere();
  }

  /** Moves every interval starting at or after `from` by `delta` (collapse/insert range). O(k log n). */
  shiftFrom(from: number, delta: number): void {
    this.splitAt(from);
    const moved: IntervalEntry<V>[] = [];
    // The intervals keep their class: taken out and put back without counting.
    if (this.locateFrom(from)) {
      let leafIndex = this.leafIndex;
      let index = this.entryIndex;
      if (this.leaves[leafIndex]!.starts[index]! < from) index++;
      for (; leafIndex < this.leaves.length; leafIndex++, index = 0) {
        const leaf = this.leaves[leafIndex]!;
        for (; index < leaf.count; index++) moved.push({ start: leaf.starts[index]!, end: leaf.ends[index]!, value: leaf.values[index]! });
      }
    }
    if (moved.length === 0) return;
    this.truncateFrom(from);
    for (const entry of moved) {
      assert(entry.start + delta >= 0, 'IntervalMap.shiftFrom: interval moved below 0', { key: entry.start, delta });
      this.put(entry.start + delta, entry.end + delta, entry.value);
    }
    this.mergeAt(moved[0]!.start + delta);
  }

  /** Drops every interval starting at or after `from`, classes untouched (shiftFrom puts them back). */
  private truncateFrom(from: number): void {
    while (this.leaves.length > 0) {
      const lastIndex = this.leaves.length - 1;
      const leaf = this.leaves[lastIndex]!;
      let keep = leaf.count;
      while (keep > 0 && leaf.starts[keep - 1]! >= from) keep--;
      if (keep === leaf.count) return;
      this.count -= leaf.count - keep;
      leaf.deleteSpan(keep, leaf.count);
      if (keep > 0) {
        this.rebalance(lastIndex);
        return;
      }
      this.leaves.pop();
      this.leavesRemoved(lastIndex, 1);
    }
  }

  /** Stores [start, end) -> value under key `start`, replacing an interval with the same start (no merge, no counting). */
  private put(start: number, end: number, value: V): void {
    if (this.locate(start) && this.leaves[this.leafIndex]!.starts[this.entryIndex] === start) {
      const leaf = this.leaves[this.leafIndex]!;
      leaf.ends[this.entryIndex] = end;
      leaf.values[this.entryIndex] = value;
      leaf.keys[this.entryIndex] = this.keyOf(value);
      return;
    }
    this.insertAfterHere(start, end, value);
  }

  clear(): void {
    this.leaves = [];
    this.rebuildFirsts();
    this.count = 0;
    this.classCounts.fill(0);
  }

  /** Verifies intervals are non-empty, sorted and disjoint, leaves well formed and class counts right. O(n). */
  checkValid(): void {
    let previousEnd = -Infinity;
    let total = 0;
    const counts = new Int32Array(this.classCounts.length);
    for (const [at, leaf] of this.leaves.entries()) {
      assert(this.firsts[at] === leaf.starts[0], 'IntervalMap: leaf index out of date', { at, first: this.firsts[at], start: leaf.starts[0] });
      assert(leaf.count > 0 && leaf.count <= LEAF_MAX && leaf.values.length === leaf.count, 'IntervalMap: bad leaf', { count: leaf.count, values: leaf.values.length });
      for (let index = 0; index < leaf.count; index++) {
        const start = leaf.starts[index]!;
        const end = leaf.ends[index]!;
        assert(end > start, 'IntervalMap: empty interval', { start, end });
        assert(start >= previousEnd, 'IntervalMap: overlapping intervals', { start, previousEnd });
        previousEnd = end;
        if (this.traits.classOf) counts[this.traits.classOf(leaf.values[index]!)]!++;
        if (leaf.keys[index] !== this.keyOf(leaf.values[index]!)) assert(false, 'IntervalMap: merge key out of date', { start, key: leaf.keys[index] });
      }
      total += leaf.count;
    }
    assert(total === this.count, 'IntervalMap: size does not add up', { total, size: this.count });
    for (let i = 0; i < counts.length; i++) {
      assert(counts[i] === this.classCounts[i], 'IntervalMap: class counts do not add up', { class: i, counted: counts[i], kept: this.classCounts[i] });
    }
  }
}
