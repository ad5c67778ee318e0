/**
 * ext4_fallocate (fs/ext4/extents.c): allocate (unwritten), punch hole,
 * zero range (whole blocks made unwritten in place), collapse and insert
 * range. UNSHARE is not supported (EOPNOTSUPP).
 */
import { ExtentState } from '../../extent/extentmap.js';
import { PAGE_SIZE } from '../../pagecache/pagecache.js';
import type { FallocMode } from '../../trace/types.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { Inode } from '../../vfs/inode.js';
import type { FsHost } from '../types.js';
import { EXT4_MAX_UNWRITTEN_BLOCKS, type Ext4Policy } from './policy.js';

/** Dispatches one fallocate mode. Throws ErrnoError. */
export function ext4Fallocate(policy: Ext4Policy, host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void {
  try {
    fallocateMode(policy, host, inode, mode, pos, length, keepSize);
  } finally {
    policy.updateExtentTree(inode);
  }
}

function fallocateMode(policy: Ext4Policy, host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void {
  switch (mode) {
    case 'allocate':
      allocateRange(policy, inode, pos, length);
      if (!keepSize && pos + length > inode.size) setSizeAfterFallocate(inode, pos + length);
      return;
    case 'punch':
      punchHole(policy, host, inode, pos, length);
      return;
    case 'zero':
      zeroRange(policy, host, inode, pos, length, keepSize);
      return;
    case 'collapse':
      collapseRange(policy, host, inode, pos, length);
      return;
    case 'insert':
      insertRange(policy, host, inode, pos, length);
      return;
    case 'unshare':
      throw new ErrnoError(Errno.EOPNOTSUPP, 'fallocate unshare');
  }
}

function setSizeAfterFallocate(inode: Inode, size: number): void {
  inode.size = size;
  if (inode.diskSize < size) inode.diskSize = size;
}

/** ext4_alloc_file_blocks: unwritten extents over the holes of the block range (no normalisation). */
function allocateRange(policy: Ext4Policy, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  let block = Math.floor(pos / blockSize);
  const end = Math.ceil((pos + length) / blockSize);
  let guard = 0;
  while (block < end) {
    guard++;
    if (guard > 1_000_000) throw new Error('ext4 fallocate: no progress');
    const found = inode.data.lookup(block);
    if (found.extent) {
      if (found.extent.state === ExtentState.Delalloc) {
        // ext4_map_blocks allocates delayed blocks as written-to-be (they have dirty data).
        const count = Math.min(found.extent.startBlock + found.extent.blockCount, end) - block;
        policy.allocateBlocks(inode, block, count, ExtentState.Unwritten, true);
        continue;
      }
      block = found.extent.startBlock + found.extent.blockCount;
      continue;
    }
    const count = Math.min(end, found.holeEndBlock, block + EXT4_MAX_UNWRITTEN_BLOCKS) - block;
    const made = policy.allocateBlocks(inode, block, count, ExtentState.Unwritten, true);
    block += made.blockCount;
  }
}

/** ext4_punch_hole: zero the partial edge blocks through the cache, drop the cache, free whole blocks. */
function punchHole(policy: Ext4Policy, host: FsHost, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  if (pos >= inode.size) return;
  // A hole past i_size ends at the end of the page that holds i_size.
  const end = Math.min(pos + length, Math.ceil(inode.size / PAGE_SIZE) * PAGE_SIZE);
  const firstWhole = Math.ceil(pos / blockSize);
  const endWhole = Math.floor(end / blockSize);
  host.writebackRange(inode, pos, end);
  zeroPartialBlocks(policy, host, inode, pos, end);
  host.invalidateRange(inode, firstWhole * blockSize, endWhole * blockSize);
  if (endWhole > firstWhole) policy.freeExtents(inode.data.remove(firstWhole, endWhole - firstWhole));
  policy.discardInodePreallocations(inode);
}

/** ext4_zero_partial_blocks: zero the sub-block head and tail of [pos, end) in the page cache. */
function zeroPartialBlocks(policy: Ext4Policy, host: FsHost, inode: Inode, pos: number, end: number): void {
  const blockSize = policy.ctx.blockSize;
  const headEnd = Math.min(end, Math.ceil(pos / blockSize) * blockSize);
  if (pos % blockSize !== 0) host.zeroRange(inode, pos, headEnd - pos);
  const tailStart = Math.max(headEnd, Math.floor(end / blockSize) * blockSize);
  if (end % blockSize !== 0 && tailStart < end) host.zeroRange(inode, tailStart, end - tailStart);
}

/** ext4_zero_range: whole blocks become unwritten (allocated or converted in place), edges zeroed. */
function zeroRange(policy: Ext4Policy, host: FsHost, inode: Inode, pos: number, length: number, keepSize: boolean): void {
  const blockSize = policy.ctx.blockSize;
  const end = pos + length;
  const firstWhole = Math.ceil(pos / blockSize);
  const endWhole = Math.floor(end / blockSize);
  host.writebackRange(inode, pos, end);
  if (endWhole > firstWhole) {
    host.invalidateRange(inode, firstWhole * blockSize, endWhole * blockSize);
    for (const piece of inode.data.extentsIn(firstWhole, endWhole)) {
      if (piece.state === ExtentState.Written) inode.data.setState(piece.startBlock, piece.blockCount, ExtentState.Unwritten);
    }
    allocateRange(policy, inode, firstWhole * blockSize, (endWhole - firstWhole) * blockSize);
  }
  if (!keepSize && end > inode.size) setSizeAfterFallocate(inode, end);
  zeroPartialBlocks(policy, host, inode, pos, end);
  if (pos % blockSize !== 0 || end % blockSize !== 0) {
    // Partial edge blocks that were holes get allocated (unwritten) so the range reads as zeroes.
    const headBlock = Math.floor(pos / blockSize);
    const tailBlock = Math.floor((end - 1) / blockSize);
    for (const block of new Set([headBlock, tailBlock])) {
      if (block >= firstWhole && block < endWhole) continue;
      if (!inode.data.lookup(block).extent) policy.allocateBlocks(inode, block, 1, ExtentState.Unwritten, true);
    }
  }
}

/** ext4_collapse_range: block-aligned; removes the range and shifts the rest left. */
function collapseRange(policy: Ext4Policy, host: FsHost, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  if (pos % blockSize !== 0 || length % blockSize !== 0) throw new ErrnoError(Errno.EINVAL, 'collapse range not block aligned');
  if (pos + length >= inode.size) throw new ErrnoError(Errno.EINVAL, 'collapse range reaches EOF');
  // filemap_write_and_wait_range + truncate_pagecache(round_down(pos, PAGE_SIZE)): the whole page goes.
  host.writebackRange(inode, pos, Number.MAX_SAFE_INTEGER);
  host.invalidatePages(inode, pos, Number.MAX_SAFE_INTEGER);
  policy.discardInodePreallocations(inode);
  const first = pos / blockSize;
  const count = length / blockSize;
  policy.freeExtents(inode.data.remove(first, count));
  inode.data.shift(first + count, -count);
  inode.size -= length;
  inode.diskSize = Math.min(inode.diskSize, inode.size);
  if (inode.diskSize < inode.size) inode.diskSize = inode.size;
}

/** ext4_insert_range: block-aligned; shifts everything from pos right, leaving a hole. */
function insertRange(policy: Ext4Policy, host: FsHost, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  if (pos % blockSize !== 0 || length % blockSize !== 0) throw new ErrnoError(Errno.EINVAL, 'insert range not block aligned');
  if (pos >= inode.size) throw new ErrnoError(Errno.EINVAL, 'insert range at or past EOF');
  if (inode.size + length > policy.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'insert range');
  // filemap_write_and_wait_range + truncate_pagecache(round_down(pos, PAGE_SIZE)): the whole page goes.
  host.writebackRange(inode, pos, Number.MAX_SAFE_INTEGER);
  host.invalidatePages(inode, pos, Number.MAX_SAFE_INTEGER);
  policy.discardInodePreallocations(inode);
  inode.data.shift(pos / blockSize, length / blockSize);
  inode.size += length;
  inode.diskSize = inode.size;
}
