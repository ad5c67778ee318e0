/**
 * The sorted-btree IntervalMap this project used before the leaf-array one (kept as the
 * reference the fuzz test compares against).
 * An ordered map of disjoint half-open intervals [start, end) to values, on a
 * B+ tree keyed by interval start: O(log n) lookup, insert, split and merge.
 * The extent maps (blocks) and content maps (bytes) are built on it.
 */
import { assert } from '../../src/util/assert.js';
import { BTree } from '../../src/util/btree.js';

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
  /** Optional: a small class number (0..classCount-1) per value; the map keeps a count of intervals per class. */
  classOf?(value: V): number;
  classCount?: number;
}

interface Node<V> {
  end: number;
  value: V;
}

export class ReferenceIntervalMap<V> {
  private readonly tree = new BTree<number, Node<V>>();
  /** Intervals per class (traits.classOf), kept as nodes come and go. */
  private readonly classCounts: Int32Array;

  constructor(private readonly traits: IntervalTraits<V>) {
    this.classCounts = new Int32Array(traits.classOf ? (traits.classCount ?? 1) : 0);
  }

  /** Number of intervals whose value is of class `valueClass`. O(1). */
  countOfClass(valueClass: number): number {
    return this.classCounts[valueClass] ?? 0;
  }

  private counted(value: V, delta: number): void {
    if (this.traits.classOf) this.classCounts[this.traits.classOf(value)]! += delta;
  }

  /** Number of intervals. O(1). */
  get size(): number {
    return this.tree.size;
  }

  /** The interval containing `point`, if any. O(log n). */
  find(point: number): IntervalEntry<V> | undefined {
    const pair = this.tree.getPairOrNextLower(point);
    if (!pair || pair[1].end <= point) return undefined;
    return { start: pair[0], end: pair[1].end, value: pair[1].value };
  }

  /** The first interval that ends after `point` (contains it or starts after it). O(log n). */
  findFrom(point: number): IntervalEntry<V> | undefined {
    const containing = this.find(point);
    if (containing) return containing;
    const next = this.tree.nextHigherPair(point);
    return next ? { start: next[0], end: next[1].end, value: next[1].value } : undefined;
  }

  /** The last interval that starts before `point`. O(log n). */
  findBefore(point: number): IntervalEntry<V> | undefined {
    const pair = this.tree.nextLowerPair(point);
    return pair ? { start: pair[0], end: pair[1].end, value: pair[1].value } : undefined;
  }

  /** Visits intervals overlapping [start, end) in order (unclipped). O(log n + k). */
  forEachOverlap(start: number, end: number, visit: (entry: IntervalEntry<V>) => void): void {
    const first = this.find(start);
    if (first) visit(first);
    this.tree.forRange(start, end, false, (key, node) => {
      if (key === start && first) return;
      visit({ start: key, end: node.end, value: node.value });
    });
  }

  /** All intervals in order. */
  *entries(): IterableIterator<IntervalEntry<V>> {
    for (const [start, node] of this.tree.entries()) yield { start, end: node.end, value: node.value };
  }

  /** Intervals overlapping [start, end), clipped to it. */
  collect(start: number, end: number): IntervalEntry<V>[] {
    const out: IntervalEntry<V>[] = [];
    this.forEachOverlap(start, end, (entry) => {
      const clippedStart = Math.max(entry.start, start);
      out.push({
        start: clippedStart,
        end: Math.min(entry.end, end),
        value: clippedStart === entry.start ? entry.value : this.traits.sliceValue(entry.value, entry.start, clippedStart),
      });
    });
    return out;
  }

  /** Cuts any interval that straddles `point` into two. O(log n). */
  private splitAt(point: number): void {
    const pair = this.tree.getPairOrNextLower(point);
    if (!pair) return;
    const [start, node] = pair;
    if (start === point || node.end <= point) return;
    const rightValue = this.traits.sliceValue(node.value, start, point);
    this.tree.set(start, { end: point, value: node.value });
    this.tree.set(point, { end: node.end, value: rightValue });
    this.counted(rightValue, 1);
  }

  /** Removes [start, end) and returns what was there (clipped), in order. O(log n + k). */
  remove(start: number, end: number): IntervalEntry<V>[] {
    assert(end >= start, 'IntervalMap.remove: end before start', { start, end });
    if (end === start) return [];
    this.splitAt(start);
    this.splitAt(end);
    const removed: IntervalEntry<V>[] = [];
    this.tree.forRange(start, end, false, (key, node) => {
      removed.push({ start: key, end: node.end, value: node.value });
    });
    if (removed.length > 0) this.tree.deleteRange(start, end, false);
    for (const entry of removed) this.counted(entry.value, -1);
    return removed;
  }

  /** Sets [start, end) to `value`, replacing what was there, and merges with neighbours. Returns what it replaced. */
  set(start: number, end: number, value: V): IntervalEntry<V>[] {
    assert(end > start, 'IntervalMap.set: empty interval', { start, end });
    const removed = this.remove(start, end);
    this.tree.set(start, { end, value });
    this.counted(value, 1);
    this.mergeAround(start);
    return removed;
  }

  /**
   * Maps [start, end), which must be empty, to `value` and merges with neighbours:
   * set() without the removal pass. Returns false (and changes nothing) when anything overlaps. O(log n).
   */
  insertIntoHole(start: number, end: number, value: V): boolean {
    const before = this.tree.getPairOrNextLower(start);
    if (before && before[1].end > start) return false;
    const after = this.tree.nextHigherPair(start);
    if (after && after[0] < end) return false;
    this.tree.set(start, { end, value });
    this.counted(value, 1);
    this.mergeAround(start);
    return true;
  }

  /** Merges the interval starting at `start` with mergeable neighbours. */
  private mergeAround(start: number): void {
    let key = start;
    let node = this.tree.get(key)!;
    const left = this.tree.nextLowerPair(key);
    if (left && left[1].end === key && this.traits.canMerge(left[1].value, left[0], key, node.value, node.end)) {
      this.tree.delete(key);
      this.counted(node.value, -1);
      key = left[0];
      node = { end: node.end, value: left[1].value };
      this.tree.set(key, node);
    }
    const right = this.tree.nextHigherPair(key);
    if (right && right[0] === node.end && this.traits.canMerge(node.value, key, node.end, right[1].value, right[1].end)) {
      this.tree.delete(right[0]);
      this.counted(right[1].value, -1);
      this.tree.set(key, { end: right[1].end, value: node.value });
    }
  }

  /** Tries merging the intervals that touch `point` (after external edits). */
  mergeAt(point: number): void {
    const entry = this.find(point);
    if (entry) this.mergeAround(entry.start);
  }

  /** Moves every interval starting at or after `from` by `delta` (collapse/insert range). O(k log n). */
  shiftFrom(from: number, delta: number): void {
    this.splitAt(from);
    const moved: [number, Node<V>][] = [];
    this.tree.forRange(from, Number.MAX_SAFE_INTEGER, true, (key, node) => {
      moved.push([key, node]);
    });
    this.tree.deleteRange(from, Number.MAX_SAFE_INTEGER, true);
    for (const [key, node] of moved) {
      assert(key + delta >= 0, 'IntervalMap.shiftFrom: interval moved below 0', { key, delta });
      this.tree.set(key + delta, { end: node.end + delta, value: node.value });
    }
    if (moved.length > 0) this.mergeAt(moved[0]![0] + delta);
  }

  clear(): void {
    this.tree.clear();
    this.classCounts.fill(0);
  }

  /** Verifies intervals are non-empty, sorted and disjoint. O(n). */
  checkValid(): void {
    let previousEnd = -Infinity;
    const counts = new Int32Array(this.classCounts.length);
    for (const [start, node] of this.tree.entries()) {
      assert(node.end > start, 'IntervalMap: empty interval', { start, end: node.end });
      assert(start >= previousEnd, 'IntervalMap: overlapping intervals', { start, previousEnd });
      previousEnd = node.end;
      if (this.traits.classOf) counts[this.traits.classOf(node.value)]!++;
    }
    for (let i = 0; i < counts.length; i++) {
      assert(counts[i] === this.classCounts[i], 'IntervalMap: class counts do not add up', { class: i, counted: counts[i], kept: this.classCounts[i] });
    }
  }
}
