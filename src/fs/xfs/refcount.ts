/**
 * XFS's reference count btree as an interval map over device blocks: a
 * record exists only where a block is shared (refcount >= 2), like the
 * on-disk refcountbt; a block with no record has one owner
 * (xfs_refcount_increase_extent / xfs_refcount_decrease_extent,
 * xfs_refcount_find_shared).
 */
import { assert } from '../../util/assert.js';
import { IntervalMap } from '../../util/intervalmap.js';

/** A run of device blocks [start, start+length). */
export interface PhysRun {
  start: number;
  length: number;
}

export class RefcountMap {
  private readonly map = new IntervalMap<number>({
    sliceValue: (value) => value,
    canMerge: (left, _leftStart, _leftEnd, right) => left === right,
    numericValues: true,
  });

  /** Records (shared runs). O(1). */
  get size(): number {
    return this.map.size;
  }

  /** References to `block` (1 when it has no record). O(log n). */
  refcountOf(block: number): number {
    return this.map.find(block)?.value ?? 1;
  }

  /**
   * xfs_refcount_find_shared: whether `block` is shared, and how far (exclusive end,
   * capped at `limit`) the same answer holds. O(log n).
   */
  sharedRunAt(block: number, limit: number): { shared: boolean; end: number } {
    const found = this.map.find(block);
    if (found) {
      // Adjacent records of other counts are still shared: the run goes on to the first unshared block.
      let end = found.end;
      for (let next = this.map.findFrom(end); next && next.start === end && end < limit; next = this.map.findFrom(end)) end = next.end;
      return { shared: true, end: Math.min(end, limit) };
    }
    const next = this.map.findFrom(block);
    return { shared: false, end: Math.min(next ? next.start : limit, limit) };
  }

  /** One more owner for every block of [start, +length). O(log n + k). */
  increase(start: number, length: number): void {
    assert(length > 0, 'refcount increase: empty run', { start, length });
    const end = start + length;
    const existing = this.map.collect(start, end);
    let cursor = start;
    const updates: [number, number, number][] = [];
    for (const entry of existing) {
      if (entry.start > cursor) updates.push([cursor, entry.start, 2]);
      updates.push([entry.start, entry.end, entry.value + 1]);
      cursor = entry.end;
    }
    if (cursor < end) updates.push([cursor, end, 2]);
    for (const [from, to, count] of updates) this.map.set(from, to, count);
  }

  /** One owner less for every block of [start, +length); returns the runs nobody owns any more (to free). O(log n + k). */
  decrease(start: number, length: number): PhysRun[] {
    assert(length > 0, 'refcount decrease: empty run', { start, length });
    const end = start + length;
    const existing = this.map.collect(start, end);
    const freed: PhysRun[] = [];
    let cursor = start;
    for (const entry of existing) {
      if (entry.start > cursor) freed.push({ start: cursor, length: entry.start - cursor });
      if (entry.value === 2) this.map.remove(entry.start, entry.end);
      else this.map.set(entry.start, entry.end, entry.value - 1);
      cursor = entry.end;
    }
    if (cursor < end) freed.push({ start: cursor, length: end - cursor });
    return freed;
  }

  /** Every record: [start, length, refcount]. */
  *records(): IterableIterator<[number, number, number]> {
    for (const entry of this.map.entries()) yield [entry.start, entry.end - entry.start, entry.value];
  }

  checkValid(): void {
    this.map.checkValid();
    for (const entry of this.map.entries()) assert(entry.value >= 2, 'refcount record below 2', entry);
  }
}
