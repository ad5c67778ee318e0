/**
 * `inspect --verify`: reads every file back through its extents and compares
 * it with the content the payload rule predicts (src/image/payload.ts), then
 * checks the layout's structure: extents inside the device, clear of reserved
 * blocks, and blocks shared between extents only where refcounts allow it.
 * Like a TigerBeetle storage checker, it reports instead of stopping.
 */
import { assert } from '../util/assert.js';
import type { ImageFile } from './image.js';
import { expectedContent } from './payload.js';
import type { BlockRun, ImageMetadata, PersistedExtent, PersistedInode, RefcountRun } from './types.js';

export interface VerifyMismatch {
  /** File path, or "(image)" for a problem of the whole image. */
  path: string;
  /** File byte offset and length of the range concerned. */
  offset: number;
  length: number;
  reason: string;
}

export interface VerifyReport {
  /** Files whose content was checked (files whose structure was checked, for a metadata-only image). */
  files: number;
  /** Content bytes compared (0 for a metadata-only image). */
  bytesChecked: number;
  /**
   * Present, and false, only for a metadata-only image (replayed with
   * --no-data): the structure was checked, file contents were not (there are
   * none to check). `ok` then speaks for the structure alone.
   */
  contentChecked?: false;
  mismatches: VerifyMismatch[];
  ok: boolean;
}

export interface VerifyOptions {
  /** Stop after this many mismatches (default 100). */
  maxMismatches?: number;
}

/** Bytes compared per step: bounds memory whatever the file size. */
const VERIFY_CHUNK_BYTES = 1 << 20;
const MAX_MISMATCHES_DEFAULT = 100;

/** What kind of check found a mismatch; only mismatches of one kind merge. */
type MismatchKind = 'image' | 'structure' | 'hole' | 'unwritten' | 'written' | 'inline';

/** Accumulates mismatches, merging a range into the previous one of its kind that it directly follows. */
class MismatchLog {
  readonly mismatches: VerifyMismatch[] = [];
  private lastKind: MismatchKind | undefined;

  constructor(private readonly limit: number) {}

  get full(): boolean {
    return this.mismatches.length >= this.limit;
  }

  add(kind: MismatchKind, mismatch: VerifyMismatch): void {
    const last = this.mismatches[this.mismatches.length - 1];
    if (last !== undefined && kind === this.lastKind && kind !== 'structure' && last.path === mismatch.path && last.offset + last.length === mismatch.offset) {
      last.length += mismatch.length;
      return;
    }
    if (this.full) return;
    this.mismatches.push(mismatch);
    this.lastKind = kind;
  }
}

/** One piece of a file's mapping: a hole, an unwritten extent, a written one, or inline data (from offset 0). */
interface MappingSegment {
  offsetBytes: number;
  endBytes: number;
  /** Device byte address of offsetBytes for written extents, else -1. */
  addrBytes: number;
  kind: 'hole' | 'unwritten' | 'written' | 'inline';
}

/**
 * Verifies `meta` against the data in `image`; for a metadata-only image
 * (`image.metadataOnly`) only the structure, with `contentChecked: false`. Memory is bounded by a 1 MiB
 * chunk; time is O(total file bytes + extents log extents).
 */
export function verifyImage(image: ImageFile, meta: ImageMetadata, opts: VerifyOptions = {}): VerifyReport {
  const maxMismatches = opts.maxMismatches ?? MAX_MISMATCHES_DEFAULT;
  assert(Number.isInteger(maxMismatches) && maxMismatches > 0, 'maxMismatches must be a positive integer', { maxMismatches });
  const log = new MismatchLog(maxMismatches);
  if (meta.blockSize !== image.superblock.blockSize || meta.deviceSize !== image.superblock.deviceSize) {
    log.add('image', { path: '(image)', offset: 0, length: 0, reason: `metadata geometry (${meta.blockSize}-byte blocks, ${meta.deviceSize} bytes) differs from the superblock (${image.superblock.blockSize}, ${image.superblock.deviceSize})` });
    return { files: 0, bytesChecked: 0, mismatches: log.mismatches, ok: false };
  }
  checkStructure(meta, log);
  if (image.metadataOnly) return structureOnlyReport(meta, log);
  let files = 0;
  let bytesChecked = 0;
  for (const inode of meta.inodes) {
    if (inode.kind !== 'file' || log.full) continue;
    files++;
    bytesChecked += verifyFileContent(image, meta.blockSize, inode, log);
  }
  return { files, bytesChecked, mismatches: log.mismatches, ok: log.mismatches.length === 0 };
}

/** The report of a metadata-only image: structural checks only, no content compared. */
function structureOnlyReport(meta: ImageMetadata, log: MismatchLog): VerifyReport {
  let files = 0;
  for (const inode of meta.inodes) if (inode.kind === 'file') files++;
  return { files, bytesChecked: 0, contentChecked: false, mismatches: log.mismatches, ok: log.mismatches.length === 0 };
}

/** Splits [0, size) of a file into holes and extents (clipped to size), in file order. */
function mappingSegments(inode: PersistedInode, blockSize: number): MappingSegment[] {
  const segments: MappingSegment[] = [];
  let position = 0;
  if (inode.inline !== undefined && inode.size > 0) {
    position = Math.min(inode.inline.lengthBytes, inode.size);
    segments.push({ offsetBytes: 0, endBytes: position, addrBytes: -1, kind: 'inline' });
  }
  for (const extent of inode.extents) {
    if (position >= inode.size) break;
    const start = Math.min(extent.logical * blockSize, inode.size);
    const end = Math.min((extent.logical + extent.length) * blockSize, inode.size);
    if (start > position) segments.push({ offsetBytes: position, endBytes: start, addrBytes: -1, kind: 'hole' });
    if (end > start) {
      const kind = extent.unwritten ? 'unwritten' : 'written';
      segments.push({ offsetBytes: start, endBytes: end, addrBytes: kind === 'written' ? extent.physical * blockSize : -1, kind });
    }
    position = Math.max(position, end);
  }
  if (inode.size > position) segments.push({ offsetBytes: position, endBytes: inode.size, addrBytes: -1, kind: 'hole' });
  return segments;
}

/** Compares one file with its expected content; returns the bytes checked. */
function verifyFileContent(image: ImageFile, blockSize: number, inode: PersistedInode, log: MismatchLog): number {
  let bytesChecked = 0;
  const buffer = new Uint8Array(Math.min(VERIFY_CHUNK_BYTES, Math.max(inode.size, 1)));
  for (const segment of mappingSegments(inode, blockSize)) {
    if (log.full) break;
    bytesChecked += verifySegment(image, inode, segment, buffer, log);
  }
  return bytesChecked;
}

/** Compares one mapping segment chunk by chunk; records the span of differing bytes, if any. */
function verifySegment(image: ImageFile, inode: PersistedInode, segment: MappingSegment, buffer: Uint8Array, log: MismatchLog): number {
  let firstDiff = -1;
  let lastDiff = -1;
  let firstExpected = 0;
  let firstActual = 0;
  for (let position = segment.offsetBytes; position < segment.endBytes; ) {
    const lengthBytes = Math.min(buffer.length, segment.endBytes - position);
    const actual = buffer.subarray(0, lengthBytes);
    if (segment.kind === 'written') image.read(segment.addrBytes + (position - segment.offsetBytes), actual);
    else if (segment.kind === 'inline') readInline(inode, position, actual);
    else actual.fill(0);
    const expected = expectedContent(inode.content, position, lengthBytes);
    if (!Buffer.from(actual.buffer, actual.byteOffset, lengthBytes).equals(expected)) {
      const range = differingSpan(actual, expected);
      if (firstDiff < 0) {
        firstDiff = position + range.first;
        firstExpected = expected[range.first] as number;
        firstActual = actual[range.first] as number;
      }
      lastDiff = position + range.last;
    }
    position += lengthBytes;
  }
  if (firstDiff >= 0) {
    const reason = mismatchReason(segment, firstDiff, firstExpected, firstActual);
    log.add(segment.kind, { path: inode.path, offset: firstDiff, length: lastDiff - firstDiff + 1, reason });
  }
  return segment.endBytes - segment.offsetBytes;
}

/** Inline bytes of the file at `position` (zeroes where none are kept). */
function readInline(inode: PersistedInode, position: number, actual: Uint8Array): void {
  actual.fill(0);
  const bytes = inode.inline?.bytes;
  if (bytes !== undefined && position < bytes.length) actual.set(bytes.subarray(position, Math.min(bytes.length, position + actual.length)));
}

function differingSpan(actual: Uint8Array, expected: Uint8Array): { first: number; last: number } {
  let first = 0;
  while (first < actual.length && actual[first] === expected[first]) first++;
  let last = actual.length - 1;
  while (last > first && actual[last] === expected[last]) last--;
  assert(first < actual.length, 'differingSpan called on equal buffers');
  return { first, last };
}

function mismatchReason(segment: MappingSegment, fileOffset: number, expected: number, actual: number): string {
  const bytes = `expected 0x${hex8(expected)}, found 0x${hex8(actual)} at file offset ${fileOffset}`;
  if (segment.kind === 'hole') return `hole reads as zero but the content expects data (${bytes})`;
  if (segment.kind === 'unwritten') return `unwritten extent reads as zero but the content expects data (${bytes})`;
  if (segment.kind === 'inline') return `inline data differs from the expected content (${bytes})`;
  const addrBytes = segment.addrBytes + (fileOffset - segment.offsetBytes);
  return `data differs from the expected content (${bytes}, device byte ${addrBytes})`;
}

function hex8(value: number): string {
  return value.toString(16).padStart(2, '0');
}

/** One file extent with its owner, for the structural checks. */
interface OwnedExtent {
  inode: PersistedInode;
  extent: PersistedExtent;
}

/**
 * The structural checks alone (what fsck runs): device bounds, reserved
 * overlap, sharing without refcount. At most `maxMismatches`. O(n log n).
 */
export function structureMismatches(meta: ImageMetadata, maxMismatches = MAX_MISMATCHES_DEFAULT): VerifyMismatch[] {
  const log = new MismatchLog(maxMismatches);
  checkStructure(meta, log);
  return log.mismatches;
}

/** Structural checks: device bounds, reserved overlap, sharing without refcount. O(n log n). */
function checkStructure(meta: ImageMetadata, log: MismatchLog): void {
  const deviceBlocks = Math.floor(meta.deviceSize / meta.blockSize);
  const owned: OwnedExtent[] = [];
  for (const inode of meta.inodes) {
    for (const extent of inode.extents) {
      if (extent.physical + extent.length > deviceBlocks) {
        addExtentMismatch(log, meta.blockSize, inode, extent, extent.physical, extent.length, `extent ends at physical block ${extent.physical + extent.length}, past the device (${deviceBlocks} blocks)`);
        continue;
      }
      const reserved = firstOverlap(meta.reserved, extent.physical, extent.physical + extent.length);
      if (reserved !== undefined) {
        const start = Math.max(reserved.start, extent.physical);
        const end = Math.min(reserved.start + reserved.length, extent.physical + extent.length);
        addExtentMismatch(log, meta.blockSize, inode, extent, start, end - start, `extent uses reserved device blocks ${start}..${end - 1}`);
      }
      owned.push({ inode, extent });
    }
  }
  checkSharing(owned, meta, log);
}

/** Extents in physical order; an extent starting inside the furthest-reaching earlier one shares blocks with it. */
function checkSharing(owned: OwnedExtent[], meta: ImageMetadata, log: MismatchLog): void {
  owned.sort((a, b) => a.extent.physical - b.extent.physical);
  let reach: OwnedExtent | undefined;
  for (const item of owned) {
    const start = item.extent.physical;
    const end = start + item.extent.length;
    if (reach !== undefined) {
      const reachEnd = reach.extent.physical + reach.extent.length;
      if (start < reachEnd) {
        const sharedEnd = Math.min(end, reachEnd);
        const uncovered = firstBlockWithoutSharing(meta.refcounts, start, sharedEnd);
        if (uncovered !== undefined) {
          const other = reach.inode.path === item.inode.path ? 'another extent of the same file' : JSON.stringify(reach.inode.path);
          addExtentMismatch(log, meta.blockSize, item.inode, item.extent, start, sharedEnd - start, `shares device blocks ${start}..${sharedEnd - 1} with ${other} but block ${uncovered.block} has refcount ${uncovered.refcount}`);
        }
      }
      if (reachEnd >= end) continue;
    }
    reach = item;
  }
}

/** Records a mismatch for physical blocks [physical, physical + length) of an extent, in file bytes. */
function addExtentMismatch(log: MismatchLog, blockSize: number, inode: PersistedInode, extent: PersistedExtent, physical: number, length: number, reason: string): void {
  const logical = extent.logical + (physical - extent.physical);
  log.add('structure', { path: inode.path, offset: logical * blockSize, length: length * blockSize, reason });
}

/** Index of the first run (sorted, non-overlapping) whose end is after `block`. */
function firstRunEndingAfter(runs: readonly BlockRun[], block: number): number {
  let low = 0;
  let high = runs.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const run = runs[mid] as BlockRun;
    if (run.start + run.length <= block) low = mid + 1;
    else high = mid;
  }
  return low;
}

function firstOverlap(runs: readonly BlockRun[], startBlock: number, endBlock: number): BlockRun | undefined {
  const run = runs[firstRunEndingAfter(runs, startBlock)];
  return run !== undefined && run.start < endBlock ? run : undefined;
}

/** The first block of [startBlock, endBlock) whose refcount is below 2, or undefined when all are shared. */
function firstBlockWithoutSharing(refcounts: readonly RefcountRun[], startBlock: number, endBlock: number): { block: number; refcount: number } | undefined {
  let block = startBlock;
  for (let index = firstRunEndingAfter(refcounts, startBlock); block < endBlock; index++) {
    const run = refcounts[index];
    if (run === undefined || run.start > block) return { block, refcount: 1 };
    if (run.refcount < 2) return { block, refcount: run.refcount };
    block = run.start + run.length;
  }
  return undefined;
}
