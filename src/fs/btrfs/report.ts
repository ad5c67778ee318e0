/**
 * Mappings btrfs hands out for reads and reports what FIEMAP shows
 * (fs/btrfs/fiemap.c, btrfs's own code, not iomap's): items as they are,
 * prealloc as UNWRITTEN, inline data as INLINE, dirty data not yet written
 * back (EXTENT_DELALLOC in the io tree) in holes and prealloc as DELALLOC,
 * SHARED when another backref references the disk extent, and neighbours
 * that are contiguous logically and physically with equal flags merged.
 */
import { PAGE_SIZE } from '../../pagecache/pagecache.js';
import { IOMAP_NULL_ADDR, IomapFlag, IomapType, makeHole, type Iomap } from '../../iomap/types.js';
import type { IntervalMap } from '../../util/intervalmap.js';
import type { Inode } from '../../vfs/inode.js';
import { isShared, ItemKind, itemPhys, type Item, type ItemValue } from './extents.js';

/** Bound on items merged into one reported extent (each is a separate FIEMAP row in the kernel only when flags differ). */
const MERGE_ITEMS_MAX = 1 << 20;

/** Whether file block `block` is dirty in the page cache. */
export function isBlockDirty(inode: Inode, block: number, blockSize: number): boolean {
  const pos = block * blockSize;
  const page = inode.pages.get(Math.floor(pos / PAGE_SIZE));
  if (!page) return false;
  return (page.dirty & (1 << Math.floor((pos % PAGE_SIZE) / blockSize))) !== 0;
}

/** The first dirty block in [from, limit), or -1. O(dirty pages). */
export function nextDirtyBlock(inode: Inode, from: number, limit: number, blockSize: number): number {
  if (inode.pages.dirtyCount === 0 || limit <= from) return -1;
  const blocksPerPage = Math.max(1, PAGE_SIZE / blockSize);
  const firstIndex = Math.floor((from * blockSize) / PAGE_SIZE);
  const endIndex = Math.ceil((Math.min(limit, Number.MAX_SAFE_INTEGER / blockSize) * blockSize) / PAGE_SIZE);
  for (const index of inode.pages.dirtyIndexesIn(firstIndex, endIndex)) {
    const page = inode.pages.get(index)!;
    for (let bit = 0; bit < blocksPerPage; bit++) {
      const block = index * blocksPerPage + bit;
      if (block >= from && block < limit && (page.dirty & (1 << bit)) !== 0) return block;
    }
  }
  return -1;
}

/** The end of the run of dirty blocks starting at `block` (capped at `limit`). */
export function dirtyRunEnd(inode: Inode, block: number, limit: number, blockSize: number): number {
  let end = block;
  while (end < limit && isBlockDirty(inode, end, blockSize)) end++;
  return end;
}

function typeOf(kind: ItemKind): IomapType {
  if (kind === ItemKind.Prealloc) return IomapType.Unwritten;
  if (kind === ItemKind.Inline) return IomapType.Inline;
  return IomapType.Mapped;
}

/** The iomap of an item (whole item, or [start, end) of it). */
export function itemIomap(item: Item, blockSize: number, start = item.start, end = item.end): Iomap {
  const type = typeOf(item.value.kind);
  const map: Iomap = {
    offset: start * blockSize,
    length: (end - start) * blockSize,
    addr: item.value.disk ? (itemPhys(item) + (start - item.start)) * blockSize : IOMAP_NULL_ADDR,
    type,
    flags: item.value.disk && isShared(item.value.disk) ? IomapFlag.Shared : 0,
  };
  if (type === IomapType.Inline) map.inlineData = item.value.inline?.bytes ?? new Uint8Array(0);
  return map;
}

/** Where the hole at `block` ends: the next item, or undefined when none follows. */
function holeEnd(items: IntervalMap<ItemValue>, block: number): number | undefined {
  const next = items.findFrom(block);
  return next ? next.start : undefined;
}

/** A read mapping (flags 0): the item at pos, or the hole up to the next item. */
export function readMapping(items: IntervalMap<ItemValue>, pos: number, length: number, blockSize: number, maxBytes: number): Iomap {
  const block = Math.floor(pos / blockSize);
  const item = items.find(block);
  if (item) return itemIomap(item, blockSize);
  const end = holeEnd(items, block);
  const endBytes = end === undefined ? Math.max(pos + length, maxBytes) : end * blockSize;
  return makeHole(block * blockSize, Math.max(endBytes - block * blockSize, blockSize));
}

/** The FIEMAP view at `pos`: one merged extent, a delalloc run or a hole. O(merged items + dirty pages). */
export function reportMapping(inode: Inode, items: IntervalMap<ItemValue>, pos: number, blockSize: number, maxBytes: number): Iomap {
  const block = Math.floor(pos / blockSize);
  const item = items.find(block);
  if (!item) {
    const end = holeEnd(items, block) ?? Math.ceil(maxBytes / blockSize);
    const dirtyEnd = dirtyRunEnd(inode, block, end, blockSize);
    if (dirtyEnd > block) return { offset: block * blockSize, length: (dirtyEnd - block) * blockSize, addr: IOMAP_NULL_ADDR, type: IomapType.Delalloc, flags: 0 };
    const dirty = nextDirtyBlock(inode, block, end, blockSize);
    const stop = dirty >= 0 ? dirty : end;
    return makeHole(block * blockSize, Math.max(stop - block, 1) * blockSize);
  }
  if (item.value.kind === ItemKind.Prealloc) {
    // fiemap_process_hole: delalloc inside a prealloc extent is reported as delalloc.
    const dirtyEnd = dirtyRunEnd(inode, block, item.end, blockSize);
    if (dirtyEnd > block) return { offset: block * blockSize, length: (dirtyEnd - block) * blockSize, addr: IOMAP_NULL_ADDR, type: IomapType.Delalloc, flags: 0 };
    const dirty = nextDirtyBlock(inode, block, item.end, blockSize);
    return mergeForward(inode, items, itemIomap(item, blockSize, block, dirty >= 0 ? dirty : item.end), blockSize);
  }
  if (item.value.kind === ItemKind.Inline) return itemIomap(item, blockSize);
  return mergeForward(inode, items, itemIomap(item, blockSize, block, item.end), blockSize);
}

/** emit_fiemap_extent: a following item contiguous in file and disk with equal flags joins the extent. */
function mergeForward(inode: Inode, items: IntervalMap<ItemValue>, map: Iomap, blockSize: number): Iomap {
  for (let merged = 0; merged < MERGE_ITEMS_MAX; merged++) {
    const endBlock = (map.offset + map.length) / blockSize;
    const next = items.find(endBlock);
    if (!next || next.start !== endBlock) break;
    const candidate = itemIomap(next, blockSize);
    if (candidate.type !== map.type || candidate.flags !== map.flags || candidate.addr !== map.addr + map.length) break;
    let length = candidate.length;
    if (next.value.kind === ItemKind.Prealloc) {
      const dirty = nextDirtyBlock(inode, next.start, next.end, blockSize);
      if (dirty === next.start) break;
      if (dirty > 0) length = (dirty - next.start) * blockSize;
    }
    map.length += length;
    if (length < candidate.length) break;
  }
  return map;
}
