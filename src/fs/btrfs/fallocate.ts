/**
 * btrfs_fallocate (fs/btrfs/file.c): only KEEP_SIZE, PUNCH_HOLE and
 * ZERO_RANGE; collapse, insert and unshare are EOPNOTSUPP.
 *  - allocate: flush the range, then prealloc extents (<= 256 MiB each) over
 *    the holes (__btrfs_prealloc_file_range, alloc_hint from 0 then the end
 *    of the last allocation);
 *  - punch (btrfs_punch_hole): zero partial blocks through the cache
 *    (btrfs_truncate_block: they are CoW'd at writeback), drop whole blocks;
 *  - zero (btrfs_zero_range): a range already prealloc is left as it is;
 *    else partial edge blocks with data are zeroed through the cache and the
 *    rest becomes one fresh prealloc extent (existing items dropped).
 */
import type { FallocMode } from '../../trace/types.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { Inode } from '../../vfs/inode.js';
import type { FsHost } from '../types.js';
import { ItemKind } from './extents.js';
import { btrfsState, type BtrfsPolicy } from './policy.js';
import { injectEnospc } from '../recovery.js';

/** BTRFS_MAX_PREALLOC: one prealloc extent covers at most 256 MiB. */
export const BTRFS_MAX_PREALLOC_BYTES = 256 * 1024 * 1024;

/** Dispatches one fallocate mode. Throws ErrnoError (EOPNOTSUPP, EINVAL, EFBIG, ENOSPC). */
export function btrfsFallocate(policy: BtrfsPolicy, host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void {
  if (mode === 'collapse' || mode === 'insert' || mode === 'unshare') throw new ErrnoError(Errno.EOPNOTSUPP, `btrfs fallocate ${mode}`);
  switch (mode) {
    case 'allocate':
      allocateRange(policy, host, inode, pos, length, keepSize);
      return;
    case 'punch':
      punchHole(policy, host, inode, pos, length);
      return;
    case 'zero':
      zeroRange(policy, host, inode, pos, length, keepSize);
      return;
  }
}

function setSizeAfter(policy: BtrfsPolicy, host: FsHost, inode: Inode, end: number, keepSize: boolean): void {
  if (keepSize || end <= inode.size) return;
  policy.expandTo(host, inode, end);
}

/** Hole runs (block ranges without items) of [start, end). */
function holesIn(inode: Inode, start: number, end: number): [number, number][] {
  const holes: [number, number][] = [];
  let cursor = start;
  for (const item of btrfsState(inode).items.collect(start, end)) {
    if (item.start > cursor) holes.push([cursor, item.start]);
    cursor = item.end;
  }
  if (cursor < end) holes.push([cursor, end]);
  return holes;
}

/** btrfs_prealloc_file_range over [start, end) blocks: prealloc extents of at most 256 MiB; returns the next hint. */
function preallocRange(policy: BtrfsPolicy, inode: Inode, start: number, end: number, hint: number): number {
  const maxBlocks = Math.floor(BTRFS_MAX_PREALLOC_BYTES / policy.ctx.blockSize);
  let block = start;
  for (let guard = 0; block < end; guard++) {
    if (guard > 1_000_000) throw new Error('btrfs prealloc: no progress');
    injectEnospc(policy.ctx, 'btrfs fallocate allocation');
    const made = policy.allocateExtent(inode, block, Math.min(end - block, maxBlocks), ItemKind.Prealloc, hint);
    hint = made.start + made.count;
    block += made.count;
  }
  inode.preallocFlag = true;
  return hint;
}

function allocateRange(policy: BtrfsPolicy, host: FsHost, inode: Inode, pos: number, length: number, keepSize: boolean): void {
  const blockSize = policy.ctx.blockSize;
  const start = Math.floor(pos / blockSize);
  const end = Math.ceil((pos + length) / blockSize);
  // btrfs_wait_ordered_range: dirty data in the range is written first.
  host.writebackRange(inode, start * blockSize, end * blockSize);
  const holes = holesIn(inode, start, end);
  const needed = holes.reduce((sum, [from, to]) => sum + to - from, 0);
  if (needed > policy.alloc.availableBlocks()) throw new ErrnoError(Errno.ENOSPC, 'btrfs fallocate');
  let hint = 0;
  for (const [from, to] of holes) hint = preallocRange(policy, inode, from, to, hint);
  setSizeAfter(policy, host, inode, pos + length, keepSize);
}

/** Zeroes [from, to) through the page cache where it lies inside i_size (btrfs_truncate_block). */
function zeroPartial(host: FsHost, inode: Inode, from: number, to: number): void {
  const end = Math.min(to, inode.size);
  if (end > from) host.zeroRange(inode, from, end - from);
}

function punchHole(policy: BtrfsPolicy, host: FsHost, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  const end = pos + length;
  host.writebackRange(inode, pos, end);
  if (pos >= inode.size) return;
  const firstWhole = Math.ceil(pos / blockSize);
  const endWhole = Math.floor(end / blockSize);
  if (firstWhole > endWhole) {
    zeroPartial(host, inode, pos, end); // within one block
    return;
  }
  if (pos % blockSize !== 0) zeroPartial(host, inode, pos, firstWhole * blockSize);
  if (end % blockSize !== 0) zeroPartial(host, inode, endWhole * blockSize, end);
  if (endWhole > firstWhole) {
    host.invalidateRange(inode, firstWhole * blockSize, endWhole * blockSize);
    policy.dropRange(inode, firstWhole, endWhole);
  }
}

function zeroRange(policy: BtrfsPolicy, host: FsHost, inode: Inode, pos: number, length: number, keepSize: boolean): void {
  const blockSize = policy.ctx.blockSize;
  const end = pos + length;
  let start = Math.floor(pos / blockSize);
  let stop = Math.ceil(end / blockSize);
  host.writebackRange(inode, start * blockSize, stop * blockSize);
  const items = btrfsState(inode).items;
  const pieces = items.collect(start, stop);
  const allPrealloc = pieces.length > 0 && pieces.every((piece) => piece.value.kind === ItemKind.Prealloc) && holesIn(inode, start, stop).length === 0;
  if (!allPrealloc) {
    // Edge blocks holding data are zeroed in place through the cache; hole or prealloc edges join the prealloc.
    const head = items.find(start);
    if (pos % blockSize !== 0 && head && head.value.kind !== ItemKind.Prealloc) {
      zeroPartial(host, inode, pos, Math.min(end, (start + 1) * blockSize));
      start++;
    }
    const tail = items.find(stop - 1);
    if (stop > start && end % blockSize !== 0 && tail && tail.value.kind !== ItemKind.Prealloc) {
      zeroPartial(host, inode, Math.max(pos, (stop - 1) * blockSize), end);
      stop--;
    }
    if (stop > start) {
      if (policy.alloc.availableBlocks() < stop - start) throw new ErrnoError(Errno.ENOSPC, 'btrfs zero range');
      host.invalidateRange(inode, start * blockSize, stop * blockSize);
      preallocRange(policy, inode, start, stop, 0);
    }
  }
  setSizeAfter(policy, host, inode, end, keepSize);
}
