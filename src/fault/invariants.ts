/**
 * The invariants checked after every op a fault touched (issue #5, item 3):
 * the fs's own structure (extents never overlap, free space adds up, no block
 * with two owners unless shared: policy.checkValid), page accounting, no
 * stale data (every written block within the on-disk size reads what was
 * written there; unwritten blocks are never read from the device), and no
 * delalloc reservation inside EOF without dirty data behind it. A violation
 * is a bug: it throws an InvariantError carrying the seed and the op.
 */
import { ExtentState } from '../extent/extentmap.js';
import { expectedContent } from '../image/payload.js';
import { PAGE_SIZE } from '../pagecache/pagecache.js';
import { InvariantError, assert } from '../util/assert.js';
import type { FsContext } from '../vfs/context.js';
import type { Inode } from '../vfs/inode.js';
import type { Vfs } from '../vfs/vfs.js';

/** Bytes compared per device read (bounds memory). */
const CHECK_CHUNK_BYTES = 1 << 20;

/** Where the check ran, for the bug report. */
export interface InvariantContext {
  seed: number;
  /** "trace.xio:12 (op 7, write)". */
  at: string;
}

/**
 * Runs every check over the whole fs; `inodes` (default: every file) limits
 * the data checks, which read the device. Throws InvariantError on a violation.
 */
export function checkFaultInvariants(vfs: Vfs, ctx: FsContext, where: InvariantContext, inodes?: Iterable<Inode>): void {
  try {
    vfs.checkValid();
    for (const inode of inodes ?? vfs.allInodes()) {
      if (inode.kind !== 'file') continue;
      checkDelallocBacked(inode, ctx.blockSize);
      if (!ctx.dataless) checkNoStaleData(inode, ctx);
    }
  } catch (error) {
    if (!(error instanceof InvariantError)) throw error;
    throw new InvariantError(`invariant violated after a fault at ${where.at} (seed ${where.seed}; rerun with the same trace, options and --seed ${where.seed}): ${error.message}`);
  }
}

/** Delalloc inside EOF must have dirty cache behind it (the reservation exists for that data). */
function checkDelallocBacked(inode: Inode, blockSize: number): void {
  const blocksPerPage = PAGE_SIZE / blockSize;
  const eofBlock = Math.ceil(inode.size / blockSize);
  for (const extent of inode.data.extentsIn(0, eofBlock)) {
    if (extent.state !== ExtentState.Delalloc) continue;
    const end = Math.min(extent.startBlock + extent.blockCount, eofBlock);
    for (let block = Math.max(extent.startBlock, 0); block < end; block++) {
      const page = inode.pages.get(Math.floor(block / blocksPerPage));
      const dirty = page !== undefined && (page.dirty & (1 << (block % blocksPerPage))) !== 0;
      assert(dirty, 'delalloc reservation inside EOF without dirty data behind it', { ino: inode.ino, block, size: inode.size });
    }
  }
}

/** Every written block inside the on-disk size holds what the fs wrote there (stale-data exposure = 0). */
function checkNoStaleData(inode: Inode, ctx: FsContext): void {
  const blockSize = ctx.blockSize;
  const ranges = inode.diskContent.ranges();
  const buffer = new Uint8Array(CHECK_CHUNK_BYTES);
  for (const extent of inode.data.all()) {
    if (extent.state !== ExtentState.Written) continue;
    const start = extent.startBlock * blockSize;
    const end = Math.min((extent.startBlock + extent.blockCount) * blockSize, inode.diskSize);
    for (let pos = start; pos < end; pos += CHECK_CHUNK_BYTES) {
      const length = Math.min(CHECK_CHUNK_BYTES, end - pos);
      const got = buffer.subarray(0, length);
      ctx.device.read(extent.physBlock * blockSize + (pos - start), got);
      const want = expectedContent(ranges, pos, length);
      const at = firstDifference(got, want);
      assert(at < 0, 'a written block does not hold what was written there (stale or lost data exposed)', {
        ino: inode.ino,
        offset: pos + at,
        physBlock: extent.physBlock + Math.floor((pos - start + Math.max(at, 0)) / blockSize),
      });
    }
  }
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
