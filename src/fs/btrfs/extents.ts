/**
 * btrfs file extent items and reference-counted disk extents.
 *
 * A file extent item maps file blocks [start, end) to the slice
 * [offset, offset + end - start) of a disk extent (EXTENT_DATA with
 * disk_bytenr/disk_num_bytes/offset/num_bytes), or holds inline data. A
 * disk extent (EXTENT_ITEM) counts its references per backref key (root,
 * inode, file offset - extent offset: struct btrfs_extent_data_ref), so the
 * two bookends btrfs_drop_extents leaves of one item share a key, while a
 * reflink elsewhere adds another key (that is what FIEMAP calls shared).
 * A disk extent is freed only when its last reference goes.
 */
import { ExtentState } from '../../extent/extentmap.js';
import { assert } from '../../util/assert.js';
import { IntervalMap, type IntervalEntry } from '../../util/intervalmap.js';
import type { Inode } from '../../vfs/inode.js';

export enum ItemKind {
  Regular = 0,
  Prealloc = 1,
  Inline = 2,
}

/** An EXTENT_ITEM: `blocks` blocks at device block `start`. */
export interface DiskExtent {
  readonly start: number;
  readonly blocks: number;
  /** Reference count per backref key ("ino:file block of the extent start"). */
  readonly refs: Map<string, number>;
  refCount: number;
}

/** Inline data (BTRFS_FILE_EXTENT_INLINE): the bytes live in the fs tree leaf. */
export interface InlineData {
  /** File bytes [0, lengthBytes); undefined when the run keeps no bytes (dataless). */
  bytes: Uint8Array | undefined;
  lengthBytes: number;
}

export interface ItemValue {
  kind: ItemKind;
  /** Absent for inline items. */
  disk: DiskExtent | undefined;
  /** Blocks into the disk extent where the item starts. */
  offset: number;
  inline: InlineData | undefined;
}

export type Item = IntervalEntry<ItemValue>;

/** The item map of one inode, in file blocks; items never merge (FIEMAP merges when it reports). */
export function makeItemMap(): IntervalMap<ItemValue> {
  return new IntervalMap<ItemValue>({
    sliceValue: (value, start, cutAt) => ({ ...value, offset: value.offset + (cutAt - start) }),
    canMerge: () => false,
  });
}

export function backrefKey(ino: number, itemStart: number, offset: number): string {
  return `${ino}:${itemStart - offset}`;
}

export function addRef(disk: DiskExtent, key: string, count = 1): void {
  disk.refs.set(key, (disk.refs.get(key) ?? 0) + count);
  disk.refCount += count;
}

/** Drops one reference; true when the extent has none left. */
export function dropRef(disk: DiskExtent, key: string): boolean {
  const count = disk.refs.get(key);
  assert(count !== undefined && count > 0, 'btrfs: dropping a reference the extent does not have', { start: disk.start, key });
  if (count === 1) disk.refs.delete(key);
  else disk.refs.set(key, count - 1);
  disk.refCount--;
  return disk.refCount === 0;
}

/** Shared as FIEMAP sees it: referenced under more than one backref key. */
export function isShared(disk: DiskExtent): boolean {
  return disk.refs.size > 1;
}

/** Device block of an item's first block (-1 for inline). */
export function itemPhys(item: Item): number {
  return item.value.disk ? item.value.disk.start + item.value.offset : -1;
}

/**
 * btrfs_drop_extents over file blocks [start, end): items wholly inside go
 * (a reference each), items overlapping an edge shrink, an item strictly
 * around the range splits into two bookends (a reference more). Returns the
 * disk extents whose last reference went. O(log n + k).
 */
export function dropItems(items: IntervalMap<ItemValue>, ino: number, start: number, end: number): DiskExtent[] {
  if (end <= start) return [];
  const unreferenced: DiskExtent[] = [];
  items.forEachOverlap(start, end, (item) => {
    const disk = item.value.disk;
    if (!disk) return;
    const key = backrefKey(ino, item.start, item.value.offset);
    if (item.start < start && item.end > end) addRef(disk, key);
    else if (item.start >= start && item.end <= end && dropRef(disk, key)) unreferenced.push(disk);
  });
  items.remove(start, end);
  return unreferenced;
}

/** Inserts an item over a hole of the map, taking a reference on its disk extent. */
export function insertItem(items: IntervalMap<ItemValue>, ino: number, start: number, end: number, value: ItemValue): void {
  if (value.disk) addRef(value.disk, backrefKey(ino, start, value.offset));
  const inserted = items.insertIntoHole(start, end, value);
  assert(inserted, 'btrfs: item over existing items', { start, end });
}

/**
 * Changes the kind of the items in [start, end) (prealloc written in place,
 * btrfs_mark_extent_written), splitting at the edges; references follow the
 * splits. O(log n + k).
 */
export function setItemKind(items: IntervalMap<ItemValue>, ino: number, start: number, end: number, kind: ItemKind): void {
  const pieces = items.collect(start, end);
  // A piece whose extent drops to no reference here gets it back from its own re-insertion below.
  dropItems(items, ino, start, end);
  for (const piece of pieces) insertItem(items, ino, piece.start, piece.end, { ...piece.value, kind });
}

/** Mirrors the items of [start, end) into the inode's data fork (what the image persists). O(k log n). */
export function mirrorToDataFork(inode: Inode, items: IntervalMap<ItemValue>, start: number, end: number): void {
  if (end <= start) return;
  inode.data.remove(start, end - start);
  for (const item of items.collect(start, end)) {
    if (!item.value.disk) continue;
    const state = item.value.kind === ItemKind.Prealloc ? ExtentState.Unwritten : ExtentState.Written;
    inode.data.insert(item.start, item.end - item.start, itemPhys(item), state);
  }
}
