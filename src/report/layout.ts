/**
 * The inspect side of the result model: file layouts rebuilt from an image's
 * persisted metadata (so `inspect` shows the same FileLayout shape `replay`
 * prints), and read-only views of the image summary and verify report that
 * the renderers (text.ts, json.ts) consume.
 */
import type { ImageSummary } from '../image/summary.js';
import type { PersistedInode, RefcountRun } from '../image/types.js';
import type { VerifyMismatch, VerifyReport } from '../image/verify.js';
import { assert } from '../util/assert.js';
import type { ExtentFlagName, ExtentRecord, FileLayout } from './model.js';

/** Largest number of extents one file may carry; a bound so every loop over extents is finite. */
export const FILE_EXTENTS_MAX = 1 << 24;

/** What `inspect` shows about an image as a whole (src/image summarizeImage). Blocks are filesystem blocks. */
export type ImageSummaryView = Readonly<ImageSummary>;

/** One byte range whose content on the image differs from what the replay wrote. */
export type VerifyMismatchView = Readonly<VerifyMismatch>;

/** Result of `inspect --verify` (src/image verifyImage). */
export type VerifyView = Readonly<Omit<VerifyReport, 'mismatches'>> & { readonly mismatches: readonly VerifyMismatchView[] };

/**
 * The FileLayout of a persisted inode: one ExtentRecord per persisted extent,
 * flagged `unwritten` as persisted, `shared` when any of its blocks has a
 * refcount above one, and `last` on the final extent (FIEMAP_EXTENT_LAST).
 * allocatedBlocks is the sum of extent lengths. O(extents × refcount runs).
 */
export function layoutFromPersisted(
  inode: PersistedInode,
  blockSize: number,
  refcounts: readonly RefcountRun[] = [],
): FileLayout {
  assert(blockSize > 0 && (blockSize & (blockSize - 1)) === 0, 'block size must be a power of two', { blockSize });
  assert(inode.kind === 'file', 'layouts are for regular files', { path: inode.path, kind: inode.kind });
  assert(inode.extents.length <= FILE_EXTENTS_MAX, 'too many extents', { count: inode.extents.length });
  const sorted = isSortedByLogical(inode.extents) ? inode.extents : [...inode.extents].sort((a, b) => a.logical - b.logical);
  const extents: ExtentRecord[] = new Array<ExtentRecord>(sorted.length);
  let allocatedBlocks = 0;
  let previousEnd = 0;
  for (let index = 0; index < sorted.length; index++) {
    const extent = sorted[index]!;
    assert(extent.length > 0, 'persisted extent must not be empty', { path: inode.path, extent });
    assert(extent.logical >= previousEnd, 'persisted extents must not overlap', { path: inode.path, extent });
    previousEnd = extent.logical + extent.length;
    const mask = (extent.unwritten ? 1 : 0) | (isShared(extent.physical, extent.length, refcounts) ? 2 : 0) | (index === sorted.length - 1 ? 4 : 0);
    extents[index] = { logical: extent.logical, physical: extent.physical, length: extent.length, flags: FLAG_SETS[mask]! };
    allocatedBlocks += extent.length;
  }
  if (inode.inline !== undefined) {
    // FIEMAP reports inline data as one extent at 0 with no location, flagged inline (and last when alone).
    const inlineFlags: ExtentFlagName[] = extents.length === 0 ? ['inline', 'last'] : ['inline'];
    extents.unshift({ logical: 0, physical: 0, length: Math.ceil(inode.inline.lengthBytes / blockSize), flags: inlineFlags });
    allocatedBlocks += Math.ceil(inode.inline.lengthBytes / blockSize);
  }
  return { path: inode.path, ino: inode.ino, size: inode.size, allocatedBlocks, extents };
}

/**
 * The flag lists a persisted extent can have, by mask (1 unwritten, 2 shared,
 * 4 last), shared between records: a million extents need no million arrays.
 * Frozen, so a caller that tries to change one fails loudly.
 */
const FLAG_SETS: readonly ExtentFlagName[][] = Array.from({ length: 8 }, (_, mask) => {
  const flags: ExtentFlagName[] = [];
  if (mask & 1) flags.push('unwritten');
  if (mask & 2) flags.push('shared');
  if (mask & 4) flags.push('last');
  return Object.freeze(flags) as ExtentFlagName[];
});

function isSortedByLogical(extents: readonly PersistedInode['extents'][number][]): boolean {
  for (let index = 1; index < extents.length; index++) if (extents[index]!.logical < extents[index - 1]!.logical) return false;
  return true;
}

/**
 * Whether any block of [startBlock, startBlock + blockCount) lies in a refcount
 * run above one. Runs are sorted and disjoint (metadataProblem): O(log runs).
 */
function isShared(startBlock: number, blockCount: number, refcounts: readonly RefcountRun[]): boolean {
  if (refcounts.length === 0) return false;
  const endBlock = startBlock + blockCount;
  let low = 0;
  let high = refcounts.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const run = refcounts[mid]!;
    if (run.start + run.length <= startBlock) low = mid + 1;
    else high = mid;
  }
  for (let index = low; index < refcounts.length && refcounts[index]!.start < endBlock; index++) {
    if (refcounts[index]!.refcount > 1) return true;
  }
  return false;
}

/** Layouts of every regular file of an image, sorted by path (directories skipped). O(n log n). */
export function layoutsFromPersisted(
  inodes: readonly PersistedInode[],
  blockSize: number,
  refcounts: readonly RefcountRun[] = [],
): FileLayout[] {
  return inodes
    .filter((inode) => inode.kind === 'file')
    .map((inode) => layoutFromPersisted(inode, blockSize, refcounts))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
