/**
 * xfs_file_fallocate: allocate (unwritten, XFS_DIFLAG_PREALLOC), punch
 * (xfs_free_file_space: whole blocks unmapped, partial blocks zeroed), zero
 * range (punch, then unwritten allocation over the block-rounded range),
 * collapse and insert range (xfs_prepare_shift: post-EOF blocks trimmed,
 * cache flushed from the offset, CoW staging cancelled) and unshare
 * (iomap_file_unshare through the CoW path, then allocate).
 */
import { ExtentState } from '../../extent/extentmap.js';
import { iomapFileUnshare } from '../../iomap/buffered.js';
import { PAGE_SIZE } from '../../pagecache/pagecache.js';
import type { FallocMode } from '../../trace/types.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { Inode } from '../../vfs/inode.js';
import type { FsHost } from '../types.js';
import { XFS_LOOP_MAX, xfsState, type XfsPolicy } from './policy.js';
import { cancelCowRange } from './reflink.js';
import { injectEnospc } from '../recovery.js';

/** Dispatches one fallocate mode. Throws ErrnoError (EINVAL, EFBIG, ENOSPC). */
export function xfsFallocate(policy: XfsPolicy, host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void {
  const end = pos + length;
  const newSize = !keepSize && end > inode.size ? end : 0;
  switch (mode) {
    case 'allocate':
      allocFileSpace(policy, inode, pos, length);
      inode.preallocFlag = true;
      if (newSize > 0) policy.setSize(host, inode, newSize);
      return;
    case 'punch':
      flushUnmapRange(policy, host, inode, pos, length);
      freeFileSpace(policy, host, inode, pos, length);
      return;
    case 'zero': {
      flushUnmapRange(policy, host, inode, pos, length);
      freeFileSpace(policy, host, inode, pos, length);
      const blockSize = policy.ctx.blockSize;
      const start = Math.floor(pos / blockSize) * blockSize;
      allocFileSpace(policy, inode, start, Math.ceil(end / blockSize) * blockSize - start);
      inode.preallocFlag = true;
      if (newSize > 0) policy.setSize(host, inode, newSize);
      return;
    }
    case 'collapse':
      collapseRange(policy, host, inode, pos, length);
      return;
    case 'insert':
      insertRange(policy, host, inode, pos, length);
      return;
    case 'unshare':
      if (xfsState(inode).reflink) {
        iomapFileUnshare(policy.ctx, inode, pos, length, policy.bufferedOps);
        host.writebackRange(inode, pos, end);
      }
      allocFileSpace(policy, inode, pos, length);
      inode.preallocFlag = true;
      if (newSize > 0) policy.setSize(host, inode, newSize);
      return;
  }
}

/** xfs_flush_unmap_range: write back and drop the cache over the range rounded out to pages. */
function flushUnmapRange(policy: XfsPolicy, host: FsHost, inode: Inode, pos: number, length: number): void {
  const rounding = Math.max(PAGE_SIZE, policy.ctx.blockSize);
  const start = Math.floor(pos / rounding) * rounding;
  const end = Math.ceil((pos + length) / rounding) * rounding;
  host.writebackRange(inode, start, end);
  host.invalidateRange(inode, start, end);
}

/** xfs_alloc_file_space: unwritten extents over the holes of the block range; delalloc there is allocated (unwritten). */
function allocFileSpace(policy: XfsPolicy, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  let block = Math.floor(pos / blockSize);
  const end = Math.ceil((pos + length) / blockSize);
  for (let round = 0; block < end; round++) {
    if (round > XFS_LOOP_MAX) throw new Error('xfs fallocate: no progress');
    const found = inode.data.lookup(block);
    if (found.extent) {
      const extent = found.extent.state === ExtentState.Delalloc ? policy.convertDelalloc(inode, inode.data, block) : found.extent;
      block = extent.startBlock + extent.blockCount;
      continue;
    }
    injectEnospc(policy.ctx, 'xfs fallocate allocation');
    const made = policy.allocateExtent(inode, inode.data, block, Math.min(end, found.holeEndBlock) - block, ExtentState.Unwritten, false);
    block += made.blockCount;
  }
}

/** xfs_free_file_space: unmap the whole blocks, then zero what is left of the range inside EOF. */
function freeFileSpace(policy: XfsPolicy, host: FsHost, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  const firstWhole = Math.ceil(pos / blockSize);
  const endWhole = Math.floor((pos + length) / blockSize);
  policy.unmapData(inode, firstWhole, endWhole);
  if (pos >= inode.size) return;
  host.zeroRange(inode, pos, Math.min(pos + length, inode.size) - pos);
}

/** xfs_prepare_shift: trim post-EOF space, flush and drop the cache from the offset, cancel CoW staging. */
function prepareShift(policy: XfsPolicy, host: FsHost, inode: Inode, pos: number): void {
  if (policy.canFreeEofblocks(inode)) policy.freeEofblocks(inode);
  const rounding = Math.max(PAGE_SIZE, policy.ctx.blockSize);
  const start = Math.floor(pos / rounding) * rounding;
  host.writebackRange(inode, start, Number.MAX_SAFE_INTEGER);
  host.invalidatePages(inode, start, Number.MAX_SAFE_INTEGER);
  cancelCowRange(policy, inode, Math.floor(pos / policy.ctx.blockSize), Number.MAX_SAFE_INTEGER);
}

function checkShiftAlignment(policy: XfsPolicy, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  if (pos % blockSize !== 0 || length % blockSize !== 0) throw new ErrnoError(Errno.EINVAL, 'xfs collapse/insert range not block aligned');
}

/** xfs_collapse_file_space: the range goes, everything after it moves left. */
function collapseRange(policy: XfsPolicy, host: FsHost, inode: Inode, pos: number, length: number): void {
  checkShiftAlignment(policy, pos, length);
  if (pos + length >= inode.size) throw new ErrnoError(Errno.EINVAL, 'collapse range reaches EOF');
  prepareShift(policy, host, inode, pos);
  const blockSize = policy.ctx.blockSize;
  const first = pos / blockSize;
  const count = length / blockSize;
  policy.unmapData(inode, first, first + count);
  inode.data.shift(first + count, -count);
  policy.updateBmbt(inode);
  inode.size -= length;
  inode.diskSize = inode.size;
}

/** xfs_insert_file_space: the size grows first (xfs_vn_setattr_size), then everything from pos moves right. */
function insertRange(policy: XfsPolicy, host: FsHost, inode: Inode, pos: number, length: number): void {
  checkShiftAlignment(policy, pos, length);
  if (inode.size + length > policy.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'insert range');
  if (pos >= inode.size) throw new ErrnoError(Errno.EINVAL, 'insert range at or past EOF');
  policy.setSize(host, inode, inode.size + length);
  prepareShift(policy, host, inode, pos);
  const blockSize = policy.ctx.blockSize;
  inode.data.shift(pos / blockSize, length / blockSize);
  policy.updateBmbt(inode);
}
