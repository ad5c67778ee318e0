/**
 * Failure-recovery helpers the policies share (kernel-behaviour.md section 4):
 * injected ENOSPC at the fs's space checks, the delalloc release after a
 * short buffered write (iomap_write_delalloc_release, seed 004), the retry
 * bound of ext4_should_retry_alloc, and the "state left behind" summary.
 */
import { ExtentState } from '../extent/extentmap.js';
import { PAGE_SIZE } from '../pagecache/pagecache.js';
import type { RecoveryPath } from '../report/model.js';
import { Errno, ErrnoError } from '../util/errno.js';
import type { FsContext } from '../vfs/context.js';
import type { Inode } from '../vfs/inode.js';

/** An injected ENOSPC (enospc fault) at one of the fs's space checks: throws like a real one. */
export function injectEnospc(ctx: FsContext, what: string): void {
  if (ctx.faults?.allocationFails(what)) throw new ErrnoError(Errno.ENOSPC, `${what} (injected)`);
}

/** Whether `error` is an ENOSPC ErrnoError. */
export function isEnospc(error: unknown): boolean {
  return error instanceof ErrnoError && error.errno === Errno.ENOSPC;
}

/**
 * Runs `attempt` and retries it after ENOSPC up to `retries` times while
 * `canRetry()` holds (ext4_should_retry_alloc: free clusters remain). Each
 * retry is noted as `enospc-retry`.
 */
export function withEnospcRetry<T>(ctx: FsContext, retries: number, canRetry: () => boolean, attempt: () => T): T {
  for (let tries = 0; ; tries++) {
    try {
      return attempt();
    } catch (error) {
      if (!isEnospc(error) || tries >= retries || !canRetry()) throw error;
      ctx.recovery?.path('enospc-retry');
    }
  }
}

/**
 * After a short buffered write of `written` of the `length` bytes at `pos`
 * mapped by new delalloc: punch the reserved blocks no dirty cache covers and
 * every one at or past EOF, keep the others (iomap_write_delalloc_release:
 * start after the written bytes, or at pos when none were). `punch(block)`
 * removes one block's reservation and says whether there was one. Notes
 * `path` with the bytes punched and kept.
 */
export function releaseShortWriteDelalloc(
  ctx: FsContext,
  inode: Inode,
  pos: number,
  length: number,
  written: number,
  path: RecoveryPath,
  punch: (block: number) => boolean,
): void {
  if (written >= length) return;
  const blockSize = ctx.blockSize;
  const startBlock = written === 0 ? Math.floor(pos / blockSize) : Math.ceil((pos + written) / blockSize);
  const endBlock = Math.ceil((pos + length) / blockSize);
  const blocksPerPage = PAGE_SIZE / blockSize;
  let punched = 0;
  let kept = 0;
  for (let block = startBlock; block < endBlock; block++) {
    const page = inode.pages.get(Math.floor(block / blocksPerPage));
    const dirty = page !== undefined && (page.dirty & (1 << (block % blocksPerPage))) !== 0;
    if (!dirty || block * blockSize >= inode.size) {
      if (punch(block)) punched++;
    } else {
      kept++;
    }
  }
  if (punched + kept > 0) ctx.recovery?.path(path, { punched: punched * blockSize, kept: kept * blockSize });
}

/**
 * A write_iter that wrote back its own range (the direct-I/O fallbacks) and
 * met a writeback error returns it (filemap_write_and_wait_range): throws the
 * error recorded on the inode, clearing it.
 */
export function takeWritebackError(inode: Inode, what: string): void {
  if (inode.wbError === 0) return;
  const errno = inode.wbError;
  inode.wbError = 0;
  throw new ErrnoError(errno, what);
}

/**
 * The retries of withEnospcRetry after a first attempt already failed with
 * `first` (callers keep the first attempt closure-free on the hot path).
 */
export function retryAfterEnospc<T>(ctx: FsContext, first: unknown, retries: number, canRetry: () => boolean, attempt: () => T): T {
  if (!isEnospc(first)) throw first;
  let last = first;
  for (let tries = 0; tries < retries; tries++) {
    if (!canRetry()) break;
    ctx.recovery?.path('enospc-retry');
    try {
      return attempt();
    } catch (error) {
      if (!isEnospc(error)) throw error;
      last = error;
    }
  }
  throw last;
}

/** A `punch` for releaseShortWriteDelalloc over delalloc records in the data fork: `remove(block)` drops one. */
export function punchDataDelalloc(inode: Inode, remove: (block: number) => void): (block: number) => boolean {
  return (block) => {
    if (inode.data.extentAt(block)?.state !== ExtentState.Delalloc) return false;
    remove(block);
    return true;
  };
}

/** One sentence on what a file is left with: sizes and extents by state. */
export function describeInodeState(inode: Inode, blockSize: number): string {
  const written = inode.data.countBlocks(ExtentState.Written);
  const unwritten = inode.data.countBlocks(ExtentState.Unwritten);
  const delalloc = inode.data.countBlocks(ExtentState.Delalloc);
  const dirtyPages = inode.pages.dirtyCount;
  const parts = [`i_size ${inode.size}`, `on-disk size ${inode.diskSize}`, `${written} written`, `${unwritten} unwritten`, `${delalloc} delalloc blocks`];
  parts.push(`${dirtyPages} dirty page${dirtyPages === 1 ? '' : 's'}`);
  if (blockSize !== 4096) parts.push(`(${blockSize}-byte blocks)`);
  return parts.join(', ');
}
