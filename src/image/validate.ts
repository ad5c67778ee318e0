/**
 * Self-check of ImageMetadata (sorted-btree's checkValid, TigerBeetle's paired
 * assertions): the writer asserts it before a checkpoint, the reader runs it
 * after decoding one. Cross-file checks (sharing, reserved overlap) belong to
 * verifyImage, so a damaged layout can still be opened and inspected.
 */
import { policyNameFits, isValidBlockSize } from './format.js';
import type { BlockRun, ContentRange, ImageMetadata, PersistedExtent, PersistedInode, RefcountRun } from './types.js';

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function isPositiveCount(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/**
 * What is wrong with `meta` on its own, or undefined when it is well formed.
 * O(total extents + content ranges + runs).
 */
export function metadataProblem(meta: ImageMetadata): string | undefined {
  if (typeof meta.policy !== 'string' || meta.policy.length === 0 || !policyNameFits(meta.policy)) {
    return `policy name ${JSON.stringify(meta.policy)} is empty or longer than 16 bytes`;
  }
  if (!isValidBlockSize(meta.blockSize)) return `block size ${meta.blockSize} is not a power of two in [512, 65536]`;
  if (!isPositiveCount(meta.deviceSize) || meta.deviceSize % meta.blockSize !== 0) {
    return `device size ${meta.deviceSize} is not a positive multiple of the block size`;
  }
  if (!Number.isSafeInteger(meta.seed)) return `seed ${meta.seed} is not an integer`;
  if (typeof meta.trace !== 'string') return 'trace name is not a string';
  if (!isCount(meta.opsApplied)) return `opsApplied ${meta.opsApplied} is not a count`;
  const paramsProblem = policyParamsProblem(meta.policyParams);
  if (paramsProblem !== undefined) return paramsProblem;
  const deviceBlocks = meta.deviceSize / meta.blockSize;
  const reservedProblem = runsProblem('reserved run', meta.reserved, deviceBlocks);
  if (reservedProblem !== undefined) return reservedProblem;
  const refcountProblem = runsProblem('refcount run', meta.refcounts, deviceBlocks);
  if (refcountProblem !== undefined) return refcountProblem;
  for (let i = 0; i < meta.refcounts.length; i++) {
    const refcount = (meta.refcounts[i] as RefcountRun).refcount;
    if (!isPositiveCount(refcount) || refcount > 0xffffffff) return `refcount run ${i}: refcount ${refcount} is not in [1, 2^32)`;
  }
  return inodesProblem(meta.inodes, deviceBlocks, meta.blockSize);
}

function policyParamsProblem(params: ImageMetadata['policyParams']): string | undefined {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return 'policyParams is not an object';
  for (const [key, value] of Object.entries(params)) {
    const ok = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!ok) return `policyParams.${key} is not a string, finite number or boolean`;
  }
  return undefined;
}

/** Runs must be non-empty, sorted by start, non-overlapping, inside the device. */
function runsProblem(what: string, runs: readonly BlockRun[], deviceBlocks: number): string | undefined {
  let previousEnd = 0;
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i] as BlockRun;
    if (!isCount(run.start) || !isPositiveCount(run.length)) return `${what} ${i}: start ${run.start} length ${run.length} is not valid`;
    if (run.start < previousEnd) return `${what} ${i} (start ${run.start}) overlaps or precedes the previous run`;
    if (run.start + run.length > deviceBlocks) return `${what} ${i} ends at block ${run.start + run.length}, past the device (${deviceBlocks} blocks)`;
    previousEnd = run.start + run.length;
  }
  return undefined;
}

function inodesProblem(inodes: readonly PersistedInode[], deviceBlocks: number, blockSize: number): string | undefined {
  const seen = new Set<number>();
  for (const inode of inodes) {
    const where = `inode ${inode.ino} (${JSON.stringify(inode.path)})`;
    if (!isCount(inode.ino)) return `inode number ${inode.ino} is not a count`;
    if (seen.has(inode.ino)) return `${where}: inode number used twice`;
    seen.add(inode.ino);
    if (typeof inode.path !== 'string') return `${where}: path is not a string`;
    if (inode.kind !== 'file' && inode.kind !== 'dir') return `${where}: kind ${JSON.stringify(inode.kind)} is not file or dir`;
    if (!isCount(inode.size)) return `${where}: size ${inode.size} is not a count`;
    if (inode.kind === 'dir' && (inode.extents.length > 0 || inode.content.length > 0)) {
      return `${where}: a directory has extents or content`;
    }
    const extentProblem = extentsProblem(inode.extents, deviceBlocks);
    if (extentProblem !== undefined) return `${where}: ${extentProblem}`;
    const contentProblem = contentRangesProblem(inode.content);
    if (contentProblem !== undefined) return `${where}: ${contentProblem}`;
    const inlineProblem = inode.inline === undefined ? undefined : inlineDataProblem(inode, blockSize);
    if (inlineProblem !== undefined) return `${where}: ${inlineProblem}`;
  }
  return undefined;
}

/** Inline data: a file's, a positive length within one block, bytes (when kept) of that length, no extent over them. */
function inlineDataProblem(inode: PersistedInode, blockSize: number): string | undefined {
  const inline = inode.inline!;
  if (inode.kind !== 'file') return 'a directory has inline data';
  if (!isPositiveCount(inline.lengthBytes) || inline.lengthBytes > blockSize) return `inline length ${inline.lengthBytes} is not in [1, ${blockSize}]`;
  if (inline.bytes !== undefined && inline.bytes.length !== inline.lengthBytes) return `inline data holds ${inline.bytes.length} bytes, its length says ${inline.lengthBytes}`;
  const first = inode.extents[0];
  if (first !== undefined && first.logical * blockSize < inline.lengthBytes) return 'an extent maps bytes the inline data holds';
  return undefined;
}

/** Extents: positive length, sorted by logical block, non-overlapping, inside the device. */
export function extentsProblem(extents: readonly PersistedExtent[], deviceBlocks: number): string | undefined {
  let previousEnd = 0;
  for (let i = 0; i < extents.length; i++) {
    const extent = extents[i] as PersistedExtent;
    if (!isCount(extent.logical) || !isCount(extent.physical) || !isPositiveCount(extent.length)) {
      return `extent ${i}: logical ${extent.logical} physical ${extent.physical} length ${extent.length} is not valid`;
    }
    if (typeof extent.unwritten !== 'boolean') return `extent ${i}: unwritten is not a boolean`;
    if (extent.logical < previousEnd) return `extent ${i} (logical ${extent.logical}) overlaps or precedes extent ${i - 1}`;
    if (extent.physical + extent.length > deviceBlocks) {
      return `extent ${i} ends at physical block ${extent.physical + extent.length}, past the device (${deviceBlocks} blocks)`;
    }
    previousEnd = extent.logical + extent.length;
  }
  return undefined;
}

/** Content ranges: positive length, sorted, non-overlapping, with a valid source. */
function contentRangesProblem(ranges: readonly ContentRange[]): string | undefined {
  let previousEnd = 0;
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i] as ContentRange;
    if (!isCount(range.offset) || !isPositiveCount(range.length)) return `content range ${i}: offset ${range.offset} length ${range.length} is not valid`;
    if (range.offset < previousEnd) return `content range ${i} (offset ${range.offset}) overlaps or precedes range ${i - 1}`;
    previousEnd = range.offset + range.length;
    const source = range.source;
    if (source.kind === 'zero') continue;
    if (source.kind === 'fill') {
      if (!Number.isInteger(source.byte) || source.byte < 0 || source.byte > 255) return `content range ${i}: fill byte ${source.byte} is not in [0, 255]`;
      continue;
    }
    if (source.kind === 'gen') {
      if (!isCount(source.ino) || !isCount(source.seq) || !Number.isSafeInteger(source.shift)) {
        return `content range ${i}: generated source (ino ${source.ino}, seq ${source.seq}, shift ${source.shift}) is not valid`;
      }
      continue;
    }
    return `content range ${i}: unknown source kind`;
  }
  return undefined;
}
