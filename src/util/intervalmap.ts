/**
 * An ordered map of disjoint half-open intervals [start, end) to values: O(log n)
 * lookup, insert, split and merge. The extent maps (blocks) and content maps
 * (bytes) are built on it.
 *
 * Storage is a two-level B+ tree with flat leaves: every leaf is a row of the
 * map's slabs, typed arrays holding each interval's start and end side by
 * side (and its merge key, and its value when values are numbers; other
 * values sit in one flat array at the same place). A lookup searches the
 * leaves' first starts (one small array), then the leaf's row: no leaf object
 * or per-leaf array is loaded on the way, and the interval's end (and value)
 * is on the cache line of its start. Nothing is allocated per lookup;
 * positions found by `locate` are kept in two scratch fields of the map
 * (leafIndex, entryIndex) and used at once.
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
  /** Optional: the values are numbers (kept in a typed array beside the bounds, not in an array of values). */
  numericValues?: boolean;
}

/** Intervals per leaf at most; a leaf that fills up splits in two halves. */
const LEAF_MAX = 128;
/** A leaf left with fewer intervals than this joins a neighbour when both fit in one leaf. */
const LEAF_MIN = LEAF_MAX / 4;
/** Room of the first leaf: small maps (one per inode fork) stay small; it doubles up to LEAF_MAX while it is the only leaf. */
const STRIDE_FIRST = 4;

export class IntervalMap<V> {
  /** Entries per row of the slabs: STRIDE_FIRST doubling to LEAF_MAX while there is one leaf, then LEAF_MAX. */
  private stride = STRIDE_FIRST;
  /** Rows the slabs have room for, and rows handed out so far. */
  private rowCapacity = 0;
  private rowsUsed = 0;
  /** Entry i of the slabs (row r, entry e: i = r * stride + e): start bounds[2i], end bounds[2i + 1]. */
  private bounds = new Float64Array(0);
  /** traits.mergeKey of entry i (keyed maps only). */
  private keys: Float64Array | undefined;
  /** The value of entry i when values are numbers. */
  private nums: Float64Array | undefined;
  /** The value of entry i otherwise. */
  private vals: V[] = [];
  /** Entries in use in each row. */
  private counts = new Int32Array(0);
  /** Rows given back by leaves that went. */
  private freeRows: number[] = [];
  /** order[l] is the row of leaf l, leaves in key order. */
  private order = new Int32Array(8);
  private leafCount = 0;
  /**
   * firsts[l] is the first start of leaf l: the leaf level of a lookup searches
   * this one flat array (a few cache lines). Updated where a leaf's first
   * interval changes, moved with one memmove when leaves come or go.
   */
  private firsts = new Float64Array(8);
  private count = 0;
  /** Scratch position set by locate(): entry `entryIndex` of leaf `leafIndex` (-1: before every interval). */
  private leafIndex = 0;
  private entryIndex = -1;
  /** Intervals per class (traits.classOf), kept as intervals come and go. */
  private readonly classCounts: Int32Array;
  private readonly keyed: boolean;
  private readonly numeric: boolean;

  constructor(private readonly traits: IntervalTraits<V>) {
    this.classCounts = new Int32Array(traits.classOf ? (traits.classCount ?? 1) : 0);
    this.keyed = traits.mergeKey !== undefined;
    this.numeric = traits.numericValues === true;
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

  // ---- slabs -----------------------------------------------------------------

  /** The slab index of entry `entry` of leaf `leaf`. */
  private slot(leaf: number, entry: number): number {
    return this.order[leaf]! * this.stride + entry;
  }

  /** Entries in leaf `leaf`. */
  private leafSize(leaf: number): number {
    return this.counts[this.order[leaf]!]!;
  }

  private startAt(slot: number): number {
    return this.bounds[2 * slot]!;
  }

  private endAt(slot: number): number {
    return this.bounds[2 * slot + 1]!;
  }

  private valueAt(slot: number): V {
    return this.numeric ? (this.nums![slot] as V) : this.vals[slot]!;
  }

  private keyAt(slot: number): number {
    return this.keyed ? this.keys![slot]! : 0;
  }

  private setValueAt(slot: number, value: V): void {
    if (this.numeric) this.nums![slot] = value as number;
    else this.vals[slot] = value;
    if (this.keyed) this.keys![slot] = this.keyOf(value);
  }

  private writeAt(slot: number, start: number, end: number, value: V): void {
    this.bounds[2 * slot] = start;
    this.bounds[2 * slot + 1] = end;
    this.setValueAt(slot, value);
  }

  /** Copies `n` entries from slab index `from` to slab index `to` (overlapping or not). */
  private moveEntries(from: number, to: number, n: number): void {
    if (n <= 0) return;
    this.bounds.copyWithin(2 * to, 2 * from, 2 * (from + n));
    this.keys?.copyWithin(to, from, from + n);
    if (this.numeric) {
      this.nums!.copyWithin(to, from, from + n);
      return;
    }
    const vals = this.vals;
    if (to < from) for (let at = 0; at < n; at++) vals[to + at] = vals[from + at]!;
    else for (let at = n - 1; at >= 0; at--) vals[to + at] = vals[from + at]!;
  }

  /** Drops the references of values in slab indexes [from, from + n) (nothing to do for numbers). */
  private forgetValues(from: number, n: number): void {
    if (this.numeric) return;
    for (let at = from; at < from + n; at++) this.vals[at] = undefined as V;
  }

  /** Slabs of `rows` rows of `stride` entries, the entries of the rows in use copied over (row r to row r). */
  private reshape(rows: number, stride: number): void {
    const entries = rows * stride;
    const bounds = new Float64Array(2 * entries);
    const keys = this.keyed ? new Float64Array(entries) : undefined;
    const nums = this.numeric ? new Float64Array(entries) : undefined;
    const vals: V[] = [];
    for (let row = 0; row < this.rowsUsed; row++) {
      const n = this.counts[row]!;
      const from = row * this.stride;
      const to = row * stride;
      bounds.set(this.bounds.subarray(2 * from, 2 * (from + n)), 2 * to);
      keys?.set(this.keys!.subarray(from, from + n), to);
      nums?.set(this.nums!.subarray(from, from + n), to);
      if (!this.numeric) for (let at = 0; at < n; at++) vals[to + at] = this.vals[from + at]!;
    }
    const counts = new Int32Array(rows);
    counts.set(this.counts.subarray(0, this.rowsUsed));
    this.bounds = bounds;
    this.keys = keys;
    this.nums = nums;
    this.vals = vals;
    this.counts = counts;
    this.rowCapacity = rows;
    this.stride = stride;
  }

  /** A row for a new leaf (a freed one, or a new one: the slabs double when full). */
  private newRow(): number {
    const free = this.freeRows.pop();
    if (free !== undefined) return free;
    if (this.rowsUsed >= this.rowCapacity) this.reshape(Math.max(1, this.rowCapacity * 2), this.stride);
    this.counts[this.rowsUsed] = 0;
    return this.rowsUsed++;
  }

  // ---- positions -----------------------------------------------------------

  /**
   * Sets (leafIndex, entryIndex) to the last interval whose start is <= point;
   * entryIndex -1 (leafIndex 0) when there is none. Returns whether there is one. O(log n).
   */
  private locate(point: number): boolean {
    const leafCount = this.leafCount;
    const firsts = this.firsts;
    if (leafCount === 0 || firsts[0]! > point) {
      this.leafIndex = 0;
      this.entryIndex = -1;
      return false;
    }
    // Most lookups land in the leaf of the one before (the same extent, or its neighbour): try it first.
    let low = this.leafIndex;
    if (low >= leafCount || firsts[low]! > point || (low + 1 < leafCount && firsts[low + 1]! <= point)) {
      low = 0;
      let high = leafCount - 1;
      while (low < high) {
        const middle = (low + high + 1) >>> 1;
        if (firsts[middle]! <= point) low = middle;
        else high = middle - 1;
      }
    }
    const row = this.order[low]!;
    const count = this.counts[row]!;
    const bounds = this.bounds;
    // Entry e of the leaf: its start is bounds[base2 + 2e].
    const base2 = 2 * row * this.stride;
    // Runs of calls at one point (a writeback maps, allocates and converts the same block): the entry of the
    // call before, or the one after it, is checked before searching the leaf.
    if (low === this.leafIndex) {
      const hint = this.entryIndex;
      if (hint >= 0 && hint < count && bounds[base2 + 2 * hint]! <= point) {
        if (hint + 1 >= count || bounds[base2 + 2 * hint + 2]! > point) {
          this.entryIndex = hint;
          return true;
        }
        if (hint + 2 >= count || bounds[base2 + 2 * hint + 4]! > point) {
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
      if (bounds[base2 + 2 * guess]! <= point) {
        first = guess;
        for (let steps = 0; steps < 4 && first < last && bounds[base2 + 2 * first + 2]! <= point; steps++) first++;
        if (first === last || bounds[base2 + 2 * first + 2]! > point) last = first;
      } else {
        last = guess - 1;
        for (let steps = 0; steps < 4 && last > 0 && bounds[base2 + 2 * last]! > point; steps++) last--;
        if (bounds[base2 + 2 * last]! <= point) first = last;
      }
    }
    while (first < last) {
      const middle = (first + last + 1) >>> 1;
      if (bounds[base2 + 2 * middle]! <= point) first = middle;
      else last = middle - 1;
    }
    this.leafIndex = low;
    this.entryIndex = first;
    return true;
  }

  /** Moves the scratch position to the next interval; false (position unchanged) at the end. */
  private stepForward(): boolean {
    if (this.leafIndex >= this.leafCount) return false;
    if (this.entryIndex + 1 < this.leafSize(this.leafIndex)) {
      this.entryIndex++;
      return true;
    }
    if (this.leafIndex + 1 >= this.leafCount) return false;
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
    this.entryIndex = this.leafSize(this.leafIndex) - 1;
    return true;
  }

  /** The slab index of the scratch position. */
  private here(): number {
    return this.slot(this.leafIndex, this.entryIndex);
  }

  /** The interval at the scratch position, as a new entry. */
  private entryHere(): IntervalEntry<V> {
    const slot = this.here();
    return { start: this.startAt(slot), end: this.endAt(slot), value: this.valueAt(slot) };
  }

  /** Copies the interval at the scratch position into `into`. */
  private copyHere(into: IntervalEntry<V>): void {
    const slot = this.here();
    into.start = this.startAt(slot);
    into.end = this.endAt(slot);
    into.value = this.valueAt(slot);
  }

  /**
   * Sets the scratch position to the first interval that ends after `point`
   * (contains it or starts after it). Returns false when there is none.
   */
  private locateFrom(point: number): boolean {
    if (this.locate(point)) {
      if (this.endAt(this.here()) > point) return true;
      return this.stepForward();
    }
    if (this.leafCount === 0) return false;
    this.entryIndex = 0;
    return true;
  }

  // ---- structure -------------------------------------------------------------

  /** Puts `row` in as leaf `at` (the leaves from `at` on move right by one); firsts follows with one memmove. */
  private leafInserted(at: number, row: number): void {
    const leafCount = this.leafCount + 1;
    if (this.order.length < leafCount) {
      const order = new Int32Array(this.order.length * 2);
      order.set(this.order);
      this.order = order;
      const firsts = new Float64Array(this.firsts.length * 2);
      firsts.set(this.firsts);
      this.firsts = firsts;
    }
    this.order.copyWithin(at + 1, at, leafCount - 1);
    this.firsts.copyWithin(at + 1, at, leafCount - 1);
    this.order[at] = row;
    this.firsts[at] = this.startAt(row * this.stride);
    this.leafCount = leafCount;
  }

  /** Leaves [at, at + removed) go (their rows are freed); order and firsts follow with one memmove each. */
  private leavesRemoved(at: number, removed: number): void {
    for (let leaf = at; leaf < at + removed; leaf++) {
      const row = this.order[leaf]!;
      this.forgetValues(row * this.stride, this.counts[row]!);
      this.counts[row] = 0;
      this.freeRows.push(row);
    }
    this.order.copyWithin(at, at + removed, this.leafCount);
    this.firsts.copyWithin(at, at + removed, this.leafCount);
    this.leafCount -= removed;
  }

  /** The first interval of leaf `at` changed (it is not empty). */
  private firstChanged(at: number): void {
    this.firsts[at] = this.startAt(this.slot(at, 0));
  }

  /** Inserts [start, end) -> value right after the scratch position (entryIndex -1: first), splitting a full leaf. */
  private insertAfterHere(start: number, end: number, value: V): void {
    if (this.leafCount === 0) {
      this.leafInsertedEmpty();
      this.leafIndex = 0;
      this.entryIndex = -1;
    }
    let leaf = this.leafIndex;
    let index = this.entryIndex + 1;
    if (this.leafSize(leaf) >= this.stride) {
      if (this.stride < LEAF_MAX) {
        // The only leaf is full: its room doubles.
        this.reshape(this.rowCapacity, this.stride * 2);
      } else {
        const keep = this.splitLeaf(leaf);
        if (index > keep) {
          index -= keep;
          leaf++;
        }
      }
    }
    const row = this.order[leaf]!;
    const count = this.counts[row]!;
    const base = row * this.stride;
    if (index < count) this.moveEntries(base + index, base + index + 1, count - index);
    this.writeAt(base + index, start, end, value);
    this.counts[row] = count + 1;
    this.leafIndex = leaf;
    this.entryIndex = index;
    this.count++;
    if (index === 0) this.firsts[leaf] = start;
  }

  /** The first leaf of an empty map (its row empty). */
  private leafInsertedEmpty(): void {
    const row = this.newRow();
    this.order[0] = row;
    this.firsts[0] = 0;
    this.leafCount = 1;
  }

  /** Moves the upper half of leaf `at` into a new leaf after it; returns how many entries leaf `at` kept. */
  private splitLeaf(at: number): number {
    const right = this.newRow();
    const row = this.order[at]!;
    const count = this.counts[row]!;
    const keep = count >>> 1;
    const moved = count - keep;
    this.moveEntries(row * this.stride + keep, right * this.stride, moved);
    this.forgetValues(row * this.stride + keep, moved);
    this.counts[row] = keep;
    this.counts[right] = moved;
    this.leafInserted(at + 1, right);
    return keep;
  }

  /** Takes entries [from, to) out of leaf `at` (the map's count is the caller's), then drops or joins the leaf if it became empty or small. */
  private spliceOut(at: number, from: number, to: number): void {
    const row = this.order[at]!;
    const count = this.counts[row]!;
    const base = row * this.stride;
    const removed = to - from;
    this.moveEntries(base + to, base + from, count - to);
    this.forgetValues(base + count - removed, removed);
    this.counts[row] = count - removed;
    if (from === 0 && count > removed) this.firstChanged(at);
    this.rebalance(at);
  }

  /** An empty leaf goes; a small one joins its left (else right) neighbour when they fit in one leaf. */
  private rebalance(at: number): void {
    const count = this.leafSize(at);
    if (count === 0) {
      this.leavesRemoved(at, 1);
      return;
    }
    if (count >= LEAF_MIN) return;
    const leftIndex = at > 0 ? at - 1 : at;
    if (leftIndex + 1 >= this.leafCount) return;
    const leftRow = this.order[leftIndex]!;
    const rightRow = this.order[leftIndex + 1]!;
    const leftCount = this.counts[leftRow]!;
    const rightCount = this.counts[rightRow]!;
    if (leftCount + rightCount > LEAF_MAX / 2) return;
    this.moveEntries(rightRow * this.stride, leftRow * this.stride + leftCount, rightCount);
    this.forgetValues(rightRow * this.stride, rightCount);
    this.counts[leftRow] = leftCount + rightCount;
    this.counts[rightRow] = 0;
    this.leavesRemoved(leftIndex + 1, 1);
  }

  /** Deletes the interval at the scratch position (the position is no longer valid). */
  private deleteHere(): void {
    this.spliceOut(this.leafIndex, this.entryIndex, this.entryIndex + 1);
    this.count--;
  }

  // ---- queries ---------------------------------------------------------------

  /** The interval containing `point`, if any. O(log n). */
  find(point: number): IntervalEntry<V> | undefined {
    if (!this.locate(point)) return undefined;
    if (this.endAt(this.here()) <= point) return undefined;
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
    if (this.startAt(this.here()) === point && !this.stepBack()) return undefined;
    return this.entryHere();
  }

  /** findBefore() into a caller's scratch entry (no allocation); returns false when there is none. O(log n). */
  findBeforeInto(point: number, into: IntervalEntry<V>): boolean {
    if (!this.locate(point)) return false;
    if (this.startAt(this.here()) === point && !this.stepBack()) return false;
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
    if (this.startAt(this.here()) === point && !this.stepBack()) return false;
    for (let steps = 0; steps < stepsMax; steps++) {
      if (accept(this.valueAt(this.here()))) {
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
      if (accept(this.valueAt(this.here()))) {
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
    let leaf = this.leafIndex;
    let index = this.entryIndex;
    let slot = this.slot(leaf, index);
    // The first one contains start, or starts after it (then it must start before end).
    if (this.startAt(slot) > start && this.startAt(slot) >= end) return;
    for (;;) {
      // `visit` may not change the map: the rows stay where they are.
      visit({ start: this.startAt(slot), end: this.endAt(slot), value: this.valueAt(slot) });
      index++;
      if (index >= this.leafSize(leaf)) {
        leaf++;
        if (leaf >= this.leafCount) return;
        index = 0;
      }
      slot = this.slot(leaf, index);
      if (this.startAt(slot) >= end) return;
    }
  }

  /** All intervals in order. */
  *entries(): IterableIterator<IntervalEntry<V>> {
    for (let leaf = 0; leaf < this.leafCount; leaf++) {
      for (let index = 0; index < this.leafSize(leaf); index++) {
        const slot = this.slot(leaf, index);
        yield { start: this.startAt(slot), end: this.endAt(slot), value: this.valueAt(slot) };
      }
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
    const slot = this.here();
    const start = this.startAt(slot);
    const end = this.endAt(slot);
    if (start === point || end <= point) return;
    const rightValue = this.traits.sliceValue(this.valueAt(slot), start, point);
    this.bounds[2 * slot + 1] = point;
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
      const leaf = this.leafIndex;
      const from = this.entryIndex;
      const wholeEnd = from === 0 ? this.wholeLeavesBefore(leaf, end) : leaf;
      if (wholeEnd > leaf) {
        // Leaves wholly inside the range go at once (a truncate of a large file).
        for (let index = leaf; index < wholeEnd; index++) this.takeEntries(index, 0, this.leafSize(index), out);
        this.leavesRemoved(leaf, wholeEnd - leaf);
        continue;
      }
      const count = this.leafSize(leaf);
      let to = from;
      while (to < count && this.startAt(this.slot(leaf, to)) < end) to++;
      if (to === from) return;
      this.takeEntries(leaf, from, to, out);
      this.spliceOut(leaf, from, to);
    }
  }

  /** The end of the run of leaves from `leaf` whose every interval starts before `end`. */
  private wholeLeavesBefore(leaf: number, end: number): number {
    let index = leaf;
    while (index < this.leafCount) {
      if (this.startAt(this.slot(index, this.leafSize(index) - 1)) >= end) break;
      index++;
    }
    return index;
  }

  /** Uncounts entries [from, to) of leaf `leaf` (leaving them in place) and appends them to `out` when given. */
  private takeEntries(leaf: number, from: number, to: number, out: IntervalEntry<V>[] | undefined): void {
    for (let index = from; index < to; index++) {
      const slot = this.slot(leaf, index);
      const value = this.valueAt(slot);
      if (out !== undefined) out.push({ start: this.startAt(slot), end: this.endAt(slot), value });
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
      const removed = [{ start, end, value: this.valueAt(this.here()) }];
      this.replaceHere(value);
      return removed;
    }
    const removed = this.remove(start, end);
    this.insertAndMerge(start, end, value);
    return removed;
  }

  /** Whether an interval is exactly [start, end) (the scratch position is then on it). O(log n). */
  private locateExactly(start: number, end: number): boolean {
    if (!this.locate(start)) return false;
    const slot = this.here();
    return this.startAt(slot) === start && this.endAt(slot) === end;
  }

  /**
   * Gives the interval at the scratch position a new value and merges it with
   * its neighbours: what removing it and inserting [start, end) -> value would
   * do, without moving any entry (an overwrite of exactly one extent or range).
   */
  private replaceHere(value: V): void {
    const slot = this.here();
    this.counted(this.valueAt(slot), -1);
    this.setValueAt(slot, value);
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
    if (found && this.endAt(this.here()) > start) return false;
    const leafIndex = this.leafIndex;
    const entryIndex = this.entryIndex;
    if (this.stepForwardFrom(found) && this.startAt(this.here()) < end) return false;
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
    if (this.leafCount === 0) return false;
    this.entryIndex = 0;
    return true;
  }

  /**
   * Merges the interval at the scratch position with mergeable neighbours: first
   * the left one (which then keeps its value), then the right one.
   */
  private mergeHere(): void {
    const slot = this.here();
    let start = this.startAt(slot);
    const end = this.endAt(slot);
    let value = this.valueAt(slot);
    // Values that may merge have equal keys (the left one's, if they merge, is the same).
    const key = this.keyAt(slot);
    if (this.stepBack()) {
      const left = this.here();
      const leftStart = this.startAt(left);
      const leftValue = this.valueAt(left);
      if (this.endAt(left) === start && this.keyAt(left) === key && this.traits.canMerge(leftValue, leftStart, start, value, end)) {
        this.bounds[2 * left + 1] = end;
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
    const mergedSlot = this.here();
    if (!this.stepForward()) return;
    const right = this.here();
    const rightEnd = this.endAt(right);
    if (this.startAt(right) !== end || this.keyAt(right) !== key || !this.traits.canMerge(value, start, end, this.valueAt(right), rightEnd)) return;
    const rightValue = this.valueAt(right);
    this.bounds[2 * mergedSlot + 1] = rightEnd;
    this.deleteHere();
    this.counted(rightValue, -1);
  }

  /** Tries merging the intervals that touch `point` (after external edits). */
  mergeAt(point: number): void {
    if (!this.locate(point)) return;
    if (this.endAt(this.here()) <= point) return;
    this.mergeHere();
  }

  /** Moves every interval starting at or after `from` by `delta` (collapse/insert range). O(k log n). */
  shiftFrom(from: number, delta: number): void {
    this.splitAt(from);
    const moved: IntervalEntry<V>[] = [];
    // The intervals keep their class: taken out and put back without counting.
    if (this.locateFrom(from)) {
      let leaf = this.leafIndex;
      let index = this.entryIndex;
      if (this.startAt(this.slot(leaf, index)) < from) index++;
      for (; leaf < this.leafCount; leaf++, index = 0) {
        for (; index < this.leafSize(leaf); index++) {
          const slot = this.slot(leaf, index);
          moved.push({ start: this.startAt(slot), end: this.endAt(slot), value: this.valueAt(slot) });
        }
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
    while (this.leafCount > 0) {
      const last = this.leafCount - 1;
      const count = this.leafSize(last);
      let keep = count;
      while (keep > 0 && this.startAt(this.slot(last, keep - 1)) >= from) keep--;
      if (keep === count) return;
      this.count -= count - keep;
      if (keep > 0) {
        this.spliceOut(last, keep, count);
        return;
      }
      this.leavesRemoved(last, 1);
    }
  }

  /** Stores [start, end) -> value under key `start`, replacing an interval with the same start (no merge, no counting). */
  private put(start: number, end: number, value: V): void {
    if (this.locate(start) && this.startAt(this.here()) === start) {
      const slot = this.here();
      this.bounds[2 * slot + 1] = end;
      this.setValueAt(slot, value);
      return;
    }
    this.insertAfterHere(start, end, value);
  }

  clear(): void {
    this.stride = STRIDE_FIRST;
    this.rowCapacity = 0;
    this.rowsUsed = 0;
    this.bounds = new Float64Array(0);
    this.keys = undefined;
    this.nums = undefined;
    this.vals = [];
    this.counts = new Int32Array(0);
    this.freeRows = [];
    this.leafCount = 0;
    this.leafIndex = 0;
    this.entryIndex = -1;
    this.count = 0;
    this.classCounts.fill(0);
  }

  /** Verifies intervals are non-empty, sorted and disjoint, leaves and rows well formed and class counts right. O(n). */
  checkValid(): void {
    let previousEnd = -Infinity;
    let total = 0;
    const counts = new Int32Array(this.classCounts.length);
    const rowsSeen = new Set<number>(this.freeRows);
    assert(rowsSeen.size === this.freeRows.length, 'IntervalMap: a free row listed twice', { free: this.freeRows.length });
    for (let leaf = 0; leaf < this.leafCount; leaf++) {
      const row = this.order[leaf]!;
      const size = this.leafSize(leaf);
      assert(row >= 0 && row < this.rowsUsed && !rowsSeen.has(row), 'IntervalMap: leaf row out of place', { leaf, row });
      rowsSeen.add(row);
      assert(size > 0 && size <= this.stride && this.stride <= LEAF_MAX, 'IntervalMap: bad leaf', { count: size, stride: this.stride });
      assert(this.leafCount === 1 || this.stride === LEAF_MAX, 'IntervalMap: leaves narrower than LEAF_MAX', { stride: this.stride });
      assert(this.firsts[leaf] === this.startAt(this.slot(leaf, 0)), 'IntervalMap: leaf index out of date', { leaf, first: this.firsts[leaf] });
      for (let index = 0; index < size; index++) {
        const slot = this.slot(leaf, index);
        const start = this.startAt(slot);
        const end = this.endAt(slot);
        const value = this.valueAt(slot);
        assert(end > start, 'IntervalMap: empty interval', { start, end });
        assert(start >= previousEnd, 'IntervalMap: overlapping intervals', { start, previousEnd });
        previousEnd = end;
        if (this.traits.classOf) counts[this.traits.classOf(value)]!++;
        if (this.keyAt(slot) !== this.keyOf(value)) assert(false, 'IntervalMap: merge key out of date', { start, key: this.keyAt(slot) });
      }
      total += size;
    }
    assert(rowsSeen.size === this.rowsUsed, 'IntervalMap: rows lost', { seen: rowsSeen.size, used: this.rowsUsed });
    assert(total === this.count, 'IntervalMap: size does not add up', { total, size: this.count });
    for (let i = 0; i < counts.length; i++) {
      assert(counts[i] === this.classCounts[i], 'IntervalMap: class counts do not add up', { class: i, counted: counts[i], kept: this.classCounts[i] });
    }
  }
}
