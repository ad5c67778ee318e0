/**
 * Space accounting of an image, what `inspect` prints in its header: how many
 * device blocks are reserved, used by file data (shared blocks counted once)
 * and free, and how fragmented free space is (like `xfs_db freesp`).
 */
import { assert } from '../util/assert.js';
import type { ImageFile } from './image.js';
import type { ImageMetadata } from './types.js';

export interface ImageSummary {
  blockSize: number;
  deviceSize: number;
  deviceBlocks: number;
  policy: string;
  policyParams: Record<string, string | number | boolean>;
  seed: number;
  /** Checkpoint generation of the superblock in use. */
  generation: number;
  files: number;
  dirs: number;
  /** File data extents, all files. */
  extents: number;
  blocksReserved: number;
  /** Device blocks holding file data (written or unwritten extents), shared blocks counted once. */
  blocksUsed: number;
  /** Blocks neither reserved nor used: deviceBlocks - reserved - used for a consistent layout. */
  blocksFree: number;
  /** Maximal runs of free blocks. */
  freeExtents: number;
  /** Blocks in the longest free run (0 when the device is full). */
  largestFreeExtent: number;
  trace: string;
  opsApplied: number;
  formatVersion: number;
  /** Present, and true, only when the image holds metadata only (replayed with --no-data): no file data in its data area. */
  metadataOnly?: true;
}

/** Per-segment result of a coverage sweep. */
export type CoverageVisitor = (startBlock: number, endBlock: number, depth: number) => void;

/**
 * Sweeps intervals [starts[i], ends[i]) over [0, limitBlock) and calls
 * `visit` for every maximal segment of constant coverage depth, depth-0 gaps
 * included. Sorts `starts` and `ends` in place. O(n log n).
 */
export function sweepCoverage(starts: Float64Array, ends: Float64Array, limitBlock: number, visit: CoverageVisitor, alreadySorted = false): void {
  assert(starts.length === ends.length, 'coverage sweep needs as many ends as starts');
  if (!alreadySorted) {
    starts.sort();
    ends.sort();
  }
  let startIndex = 0;
  let endIndex = 0;
  let depth = 0;
  let position = 0;
  const count = starts.length;
  while (endIndex < count) {
    const nextStart = startIndex < count ? (starts[startIndex] as number) : Number.POSITIVE_INFINITY;
    const nextEnd = ends[endIndex] as number;
    // Ends first at equal positions, so touching runs leave no zero-length overlap.
    const next = nextStart < nextEnd ? nextStart : nextEnd;
    if (next > position) {
      visit(position, next, depth);
      position = next;
    }
    if (nextEnd <= nextStart) {
      depth--;
      endIndex++;
    } else {
      depth++;
      startIndex++;
    }
    if (depth < 0) assert(false, 'coverage sweep went below zero: an interval ends before it starts');
  }
  if (limitBlock > position) visit(position, limitBlock, 0);
}

/** File data runs as sorted start and end columns, without a run object per extent. O(n log n). */
function dataColumns(meta: ImageMetadata): { starts: Float64Array; ends: Float64Array } {
  let count = 0;
  for (const inode of meta.inodes) count += inode.extents.length;
  const starts = new Float64Array(count);
  const ends = new Float64Array(count);
  let index = 0;
  for (const inode of meta.inodes) {
    for (const extent of inode.extents) {
      starts[index] = extent.physical;
      ends[index] = extent.physical + extent.length;
      index++;
    }
  }
  // Files laid out in device order (the common case) need no sort.
  if (!isAscending(starts)) starts.sort();
  if (!isAscending(ends)) ends.sort();
  return { starts, ends };
}

function isAscending(column: Float64Array): boolean {
  for (let index = 1; index < column.length; index++) if (column[index - 1]! > column[index]!) return false;
  return true;
}

/** Merges sorted `column` with the sorted values of `extra`. O(n + m). */
function mergeSorted(column: Float64Array, extra: readonly number[]): Float64Array {
  const out = new Float64Array(column.length + extra.length);
  let i = 0;
  let j = 0;
  for (let k = 0; k < out.length; k++) {
    if (j >= extra.length || (i < column.length && column[i]! <= extra[j]!)) out[k] = column[i++]!;
    else out[k] = extra[j++]!;
  }
  return out;
}

/** How the device's blocks divide between file data, fs metadata and free space. */
export interface SpaceUsage {
  blocksUsed: number;
  blocksFree: number;
  freeExtents: number;
  largestFreeExtent: number;
}

/**
 * Space usage of a layout: blocksFree and the free runs come from the
 * complement of reserved ∪ used, so an inconsistent layout (data in reserved
 * blocks) cannot produce negative free space; shared blocks count once.
 * O(n log n) in extents.
 */
export function spaceUsage(meta: ImageMetadata): SpaceUsage {
  const deviceBlocks = Math.floor(meta.deviceSize / meta.blockSize);
  const data = dataColumns(meta);
  let blocksUsed = 0;
  sweepCoverage(data.starts, data.ends, deviceBlocks, (start, end, depth) => {
    if (depth > 0) blocksUsed += end - start;
  }, true);
  let blocksFree = 0;
  let freeExtents = 0;
  let largestFreeExtent = 0;
  const reservedStarts = meta.reserved.map((run) => run.start).sort((a, b) => a - b);
  const reservedEnds = meta.reserved.map((run) => run.start + run.length).sort((a, b) => a - b);
  sweepCoverage(mergeSorted(data.starts, reservedStarts), mergeSorted(data.ends, reservedEnds), deviceBlocks, (start, end, depth) => {
    if (depth > 0 || start >= deviceBlocks) return;
    const length = Math.min(end, deviceBlocks) - start;
    blocksFree += length;
    freeExtents++;
    largestFreeExtent = Math.max(largestFreeExtent, length);
  }, true);
  return { blocksUsed, blocksFree, freeExtents, largestFreeExtent };
}

/** Summarizes `meta` as stored in `image`. O(n log n) in extents. */
export function summarizeImage(image: ImageFile, meta: ImageMetadata): ImageSummary {
  const deviceBlocks = Math.floor(meta.deviceSize / meta.blockSize);
  const { blocksUsed, blocksFree, freeExtents, largestFreeExtent } = spaceUsage(meta);
  let files = 0;
  let extents = 0;
  for (const inode of meta.inodes) extents += inode.extents.length;
  for (const inode of meta.inodes) if (inode.kind === 'file') files++;
  const summary: ImageSummary = {
    blockSize: meta.blockSize,
    deviceSize: meta.deviceSize,
    deviceBlocks,
    policy: meta.policy,
    policyParams: { ...meta.policyParams },
    seed: meta.seed,
    generation: image.superblock.generation,
    files,
    dirs: meta.inodes.length - files,
    extents,
    blocksReserved: meta.reserved.reduce((sum, run) => sum + run.length, 0),
    blocksUsed,
    blocksFree,
    freeExtents,
    largestFreeExtent,
    trace: meta.trace,
    opsApplied: meta.opsApplied,
    formatVersion: image.superblock.formatVersion,
  };
  if (image.metadataOnly) summary.metadataOnly = true;
  return summary;
}
