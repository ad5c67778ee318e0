/**
 * Speculative post-EOF preallocation (xfs_iomap_prealloc_size) and the
 * extent-size-hint alignment of CoW reservations (xfs_bmap_extsize_align).
 * Pure functions of the extent list and free space.
 */
import { ExtentState, type Extent } from '../../extent/extentmap.js';

/** XFS_MAX_BMBT_EXTLEN: 2^21 - 1 blocks per extent record. */
export const XFS_MAX_EXTENT_BLOCKS = 2 ** 21 - 1;

/** What xfs_iomap_prealloc_size looks at. */
export interface PreallocInput {
  /** XFS_ISIZE in bytes, before this write. */
  isizeBytes: number;
  blockSize: number;
  /** m_allocsize_blocks: 64 KiB by default. */
  allocsizeBlocks: number;
  /** First file block of the write. */
  offsetBlock: number;
  /** The extents before offsetBlock, nearest first (the data fork walked backwards). */
  previous: Iterable<Extent>;
  /** Free data blocks (m_fdblocks) and the fs's data block count (for the 1-5 % low-space thresholds). */
  freeBlocks: number;
  dataBlocks: number;
}

function roundupPowerOfTwo(value: number): number {
  return value <= 1 ? 1 : 2 ** Math.ceil(Math.log2(value));
}

function rounddownPowerOfTwo(value: number): number {
  return 2 ** Math.floor(Math.log2(value));
}

/**
 * Blocks to preallocate past the write: none below allocsize, allocsize after a hole or
 * with no previous extent, else twice the logically and physically contiguous run before
 * the write (the offset itself past half the max extent), throttled by low free space,
 * rounded down to a power of two, capped at the max extent, squashed while it exceeds free
 * space, and never below allocsize. O(contiguous previous extents).
 */
export function xfsPreallocBlocks(input: PreallocInput): number {
  const { allocsizeBlocks, blockSize, offsetBlock } = input;
  if (input.isizeBytes < allocsizeBlocks * blockSize) return 0;
  const iterator = input.previous[Symbol.iterator]();
  const first = iterator.next();
  if (first.done) return allocsizeBlocks;
  let previous = first.value;
  if (previous.startBlock + previous.blockCount < offsetBlock) return allocsizeBlocks;
  let plen = previous.blockCount;
  for (let next = iterator.next(); !next.done; next = iterator.next()) {
    const got = next.value;
    const contiguous =
      got.state !== ExtentState.Delalloc &&
      previous.state !== ExtentState.Delalloc &&
      got.startBlock + got.blockCount === previous.startBlock &&
      got.physBlock + got.blockCount === previous.physBlock;
    if (plen > XFS_MAX_EXTENT_BLOCKS / 2 || !contiguous) break;
    plen += got.blockCount;
    previous = got;
  }
  let allocBlocks = plen * 2;
  if (allocBlocks > XFS_MAX_EXTENT_BLOCKS) allocBlocks = offsetBlock;
  allocBlocks = Math.min(roundupPowerOfTwo(XFS_MAX_EXTENT_BLOCKS), allocBlocks);
  const freeBlocks = Math.max(0, input.freeBlocks);
  const onePercent = Math.floor(input.dataBlocks / 100);
  let shift = 0;
  for (let percent = 5; percent >= 1; percent--) {
    if (freeBlocks < onePercent * percent) shift = shift === 0 ? 2 : shift + 1;
  }
  allocBlocks = Math.floor(allocBlocks / 2 ** shift);
  if (allocBlocks > 0) allocBlocks = rounddownPowerOfTwo(allocBlocks);
  allocBlocks = Math.min(allocBlocks, XFS_MAX_EXTENT_BLOCKS);
  for (let guard = 0; allocBlocks > 0 && allocBlocks >= freeBlocks && guard < 16; guard++) allocBlocks = Math.floor(allocBlocks / 16);
  return Math.max(allocBlocks, allocsizeBlocks);
}

/**
 * xfs_bmap_extsize_align for a delalloc reservation of [offsetBlock, +count): widen it to
 * `extsizeBlocks` boundaries without overlapping the extents around it (`previousEnd`:
 * end of the extent before, `nextStart`: start of the one after, Infinity if none).
 */
export function extsizeAlign(offsetBlock: number, count: number, extsizeBlocks: number, previousEnd: number, nextStart: number): [number, number] {
  const originalEnd = offsetBlock + count;
  let alignOffset = offsetBlock;
  let alignLength = count;
  const headSlack = offsetBlock % extsizeBlocks;
  if (headSlack !== 0) {
    alignLength += headSlack;
    alignOffset -= headSlack;
  }
  const tailSlack = alignLength % extsizeBlocks;
  if (tailSlack !== 0) alignLength += extsizeBlocks - tailSlack;
  while (alignLength > XFS_MAX_EXTENT_BLOCKS) alignLength -= extsizeBlocks;
  if (alignOffset !== offsetBlock && alignOffset < previousEnd) alignOffset = previousEnd;
  if (alignOffset + alignLength !== originalEnd && alignOffset + alignLength > nextStart) {
    alignOffset = nextStart > alignLength ? nextStart - alignLength : 0;
  }
  if (alignOffset !== offsetBlock && alignOffset < previousEnd) alignOffset = previousEnd;
  if (alignOffset + alignLength !== originalEnd && alignOffset + alignLength > nextStart) alignLength = nextStart - alignOffset;
  return [alignOffset, alignLength];
}
