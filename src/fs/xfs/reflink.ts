/**
 * XFS reflink: remap_file_range sharing written extents with per-block
 * refcounts (xfs_reflink_remap_blocks), the CoW fork for writes to shared
 * blocks: delalloc reservations widened to the cowextsize hint for buffered
 * writes (xfs_reflink_reserve_cow via xfs_bmapi_reserve_delalloc), unwritten
 * allocation converted at once for direct writes (xfs_reflink_allocate_cow),
 * the remap into the data fork at I/O completion (xfs_reflink_end_cow) and
 * the cancel of staging extents (xfs_reflink_cancel_cow_range).
 */
import { ExtentState, clipExtent, type Extent } from '../../extent/extentmap.js';
import { IomapFlag, type IomapPair } from '../../iomap/types.js';
import { assert } from '../../util/assert.js';
import type { Inode } from '../../vfs/inode.js';
import type { FsHost } from '../types.js';
import { extsizeAlign } from './prealloc.js';
import { XFS_DEFAULT_COWEXTSIZE_BLOCKS, XFS_LOOP_MAX, cowFork, xfsState, type XfsPolicy } from './policy.js';

/** xfs_reflink_trim_around_shared for a written data extent starting at the block of interest. */
export function sharedRun(policy: XfsPolicy, extent: Extent): { shared: boolean; blockCount: number } {
  if (extent.state !== ExtentState.Written) return { shared: false, blockCount: extent.blockCount };
  const run = policy.refcount.sharedRunAt(extent.physBlock, extent.physBlock + extent.blockCount);
  return { shared: run.shared, blockCount: run.end - extent.physBlock };
}

/** found_cow: iomap = the CoW extent with F_SHARED, srcmap = the data mapping (or the CoW extent trimmed to the data hole). */
export function foundCow(policy: XfsPolicy, inode: Inode, block: number, cowExtent: Extent): IomapPair {
  const data = inode.data.lookup(block);
  const cow = clipExtent(cowExtent, block, cowExtent.startBlock + cowExtent.blockCount);
  if (data.extent) return { iomap: policy.toIomap(cow, IomapFlag.Shared), srcmap: policy.toIomap(data.extent) };
  return { iomap: policy.toIomap(clipExtent(cow, block, Math.min(cow.startBlock + cow.blockCount, data.holeEndBlock)), IomapFlag.Shared) };
}

/** The CoW fork's hole at `block`: where the extent before it ends and where the next one starts. */
function cowHoleAround(inode: Inode, block: number): { previousEnd: number; nextStart: number } {
  const cow = cowFork(inode);
  const before = cow.extentBefore(block);
  return { previousEnd: before ? before.startBlock + before.blockCount : 0, nextStart: cow.lookup(block).holeEndBlock };
}

/** Buffered CoW: a delalloc reservation in the CoW fork over [start, end) widened to the cowextsize hint. Returns the CoW extent at `start`. */
export function reserveCow(policy: XfsPolicy, inode: Inode, start: number, end: number): Extent {
  const { previousEnd, nextStart } = cowHoleAround(inode, start);
  const clippedEnd = Math.min(end, nextStart);
  const [alignStart, alignLength] = extsizeAlign(start, clippedEnd - start, XFS_DEFAULT_COWEXTSIZE_BLOCKS, previousEnd, nextStart);
  assert(alignStart <= start && alignStart + alignLength > start, 'xfs reserve_cow: aligned range misses the write', { start, alignStart, alignLength });
  policy.reserveDelalloc(alignLength);
  cowFork(inode).insert(alignStart, alignLength, -1, ExtentState.Delalloc);
  return cowFork(inode).lookup(start).extent!;
}

/**
 * xfs_reflink_allocate_cow for a direct write of [block, endBlock): an existing CoW extent is
 * used (delalloc allocated, unwritten converted for the I/O range); otherwise a shared run of
 * the data fork gets unwritten CoW blocks widened to the cowextsize hint. Returns the written
 * CoW extent for the I/O, or the data-fork block count to use when nothing there is shared.
 */
export function allocateCowForDirect(policy: XfsPolicy, inode: Inode, block: number, endBlock: number): { cow?: Extent; dataBlocks: number } {
  const cow = cowFork(inode);
  const found = cow.lookup(block);
  let extent = found.extent;
  if (!extent) {
    const data = inode.data.lookup(block).extent;
    if (!data) return { dataBlocks: Math.min(endBlock, found.holeEndBlock) - block };
    const trimmed = clipExtent(data, block, Math.min(endBlock, found.holeEndBlock, data.startBlock + data.blockCount));
    const run = sharedRun(policy, trimmed);
    if (!run.shared) return { dataBlocks: run.blockCount };
    const { previousEnd, nextStart } = cowHoleAround(inode, block);
    const [alignStart, alignLength] = extsizeAlign(block, run.blockCount, XFS_DEFAULT_COWEXTSIZE_BLOCKS, previousEnd, nextStart);
    const alignEnd = alignStart + alignLength;
    let cursor = alignStart;
    for (let round = 0; round < XFS_LOOP_MAX && cursor < alignEnd; round++) {
      cursor += policy.allocateExtent(inode, cow, cursor, alignEnd - cursor, ExtentState.Unwritten, false).blockCount;
    }
    extent = cow.lookup(block).extent!;
  }
  if (extent.state === ExtentState.Delalloc) extent = policy.convertDelalloc(inode, cow, block);
  const end = Math.min(extent.startBlock + extent.blockCount, endBlock);
  if (extent.state === ExtentState.Unwritten) cow.setState(block, end - block, ExtentState.Written);
  return { cow: clipExtent(cow.lookup(block).extent!, block, end), dataBlocks: end - block };
}

/** xfs_reflink_end_cow: written CoW blocks of the range replace the data fork's mapping; the old blocks lose a reference. */
export function endCow(policy: XfsPolicy, inode: Inode, pos: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  const start = Math.floor(pos / blockSize);
  const end = Math.ceil((pos + length) / blockSize);
  const cow = cowFork(inode);
  for (const piece of cow.extentsIn(start, end)) {
    if (piece.state !== ExtentState.Written) continue;
    cow.remove(piece.startBlock, piece.blockCount);
    policy.unmapData(inode, piece.startBlock, piece.startBlock + piece.blockCount);
    inode.data.insert(piece.startBlock, piece.blockCount, piece.physBlock, ExtentState.Written);
    inode.cowBlocks += piece.blockCount;
  }
  policy.updateBmbt(inode);
}

/** xfs_reflink_cancel_cow_range: staging extents and reservations of [start, end) go. */
export function cancelCowRange(policy: XfsPolicy, inode: Inode, start: number, end: number): void {
  const cow = cowFork(inode);
  if (cow.extentCount === 0 || end <= start) return;
  for (const piece of cow.remove(start, end - start)) {
    if (piece.state === ExtentState.Delalloc) policy.releaseDelalloc(piece.blockCount);
    else policy.freeBlocks(piece.physBlock, piece.blockCount);
  }
}

/**
 * xfs_reflink_remap_blocks: the target's range is unmapped, then every written extent of the
 * source range is mapped there and its blocks gain a reference; unwritten extents and holes
 * leave holes. Both inodes become reflink inodes. The VFS checked and flushed the ranges.
 */
export function xfsReflink(policy: XfsPolicy, _host: FsHost, source: Inode, target: Inode, srcOffset: number, dstOffset: number, length: number): void {
  const blockSize = policy.ctx.blockSize;
  const srcStart = srcOffset / blockSize;
  const dstStart = dstOffset / blockSize;
  const count = Math.ceil(length / blockSize);
  if (count <= 0) return;
  const pieces = source.data.extentsIn(srcStart, srcStart + count).filter((piece) => piece.state === ExtentState.Written);
  policy.unmapData(target, dstStart, dstStart + count);
  for (const piece of pieces) {
    policy.refcount.increase(piece.physBlock, piece.blockCount);
    target.data.insert(dstStart + (piece.startBlock - srcStart), piece.blockCount, piece.physBlock, ExtentState.Written);
  }
  policy.updateBmbt(target);
  xfsState(source).reflink = true;
  xfsState(target).reflink = true;
}
