/**
 * Buffered I/O through the page cache (fs/iomap/buffered-io.c): write with
 * read-modify-write of partial blocks, read, zero range, truncate_page and
 * page_mkwrite. Actors work page by page on the span of one mapping.
 */
import { assert } from '../util/assert.js';
import { Errno, ErrnoError } from '../util/errno.js';
import { PAGE_SIZE, blockMask, forEachPageSpan, isLazySource } from '../pagecache/pagecache.js';
import type { FsContext } from '../vfs/context.js';
import type { Inode } from '../vfs/inode.js';
import { doneOrThrow, iomapIterate, type IomapIter } from './iter.js';
import type { IomapOps } from './ops.js';
import { copyFromSource, ZERO_SOURCE, type WriteSource } from './source.js';
import { IomapFlag, IomapOp, IomapType, type Iomap } from './types.js';

/** iomap_block_needs_zeroing: fill with zeroes instead of reading the source. */
function blockNeedsZeroing(iter: IomapIter, blockPos: number): boolean {
  const src = iter.srcmap;
  return src.type !== IomapType.Mapped || (src.flags & IomapFlag.New) !== 0 || blockPos >= iter.inode.size;
}

/** iomap_read_inline_data: the bytes of an inline mapping for `dst` at file offset `pos`, zeroes past them. */
export function copyInlineData(map: Iomap, pos: number, dst: Uint8Array): void {
  dst.fill(0);
  const data = map.inlineData;
  if (!data) return;
  const from = pos - map.offset;
  if (from < data.length) dst.set(data.subarray(Math.max(0, from), Math.min(data.length, from + dst.length)), Math.max(0, -from));
}

/** Fills block `block` of page `index` from the source map or with zeroes, and marks it uptodate. */
function fillBlock(ctx: FsContext, iter: IomapIter, index: number, block: number): void {
  const blockSize = ctx.blockSize;
  const offsetInPage = block * blockSize;
  const blockPos = index * PAGE_SIZE + offsetInPage;
  const dst = iter.inode.pages.bytes(index).subarray(offsetInPage, offsetInPage + blockSize);
  if (iter.srcmap.type === IomapType.Inline) {
    // Inline data lives in the fs's metadata: copied, never read from the data area.
    if (!ctx.dataless) copyInlineData(iter.srcmap, blockPos, dst);
  } else if (blockNeedsZeroing(iter, blockPos)) {
    dst.fill(0);
  } else {
    const src = iter.srcmap;
    const addr = src.addr + (blockPos - src.offset);
    // A failed read leaves the block not uptodate and fails the caller (iomap_finish_folio_read with an error).
    if (ctx.faults?.ioFails('read', addr, blockSize, blockSize, ctx.stats.deviceBytesWritten)) throw new ErrnoError(Errno.EIO, 'read: device read error');
    if (!ctx.dataless) ctx.device.read(addr, dst);
    ctx.io.submit({ direction: 'read', cause: 'readmiss', addrBytes: addr, lengthBytes: blockSize });
    ctx.stats.deviceBytesRead += blockSize;
    ctx.stats.pageCacheMisses++;
  }
  iter.inode.pages.addUptodate(index, 1 << block);
}

/**
 * __iomap_write_begin: make the blocks a partial write touches uptodate. Runs of
 * not-uptodate blocks that a write boundary falls strictly inside are filled whole.
 */
function writeBegin(ctx: FsContext, iter: IomapIter, index: number, from: number, to: number): void {
  const pages = iter.inode.pages;
  const uptodate = pages.uptodateOf(index);
  if (uptodate === pages.fullMask) return;
  if (from === 0 && to === PAGE_SIZE && (iter.flags & IomapOp.Unshare) === 0) return;
  const blockSize = ctx.blockSize;
  const firstBlock = Math.floor(from / blockSize);
  const endBlock = Math.ceil(to / blockSize);
  let block = firstBlock;
  while (block < endBlock) {
    if (uptodate & (1 << block)) {
      block++;
      continue;
    }
    let runEnd = block + 1;
    while (runEnd < endBlock && (uptodate & (1 << runEnd)) === 0) runEnd++;
    const runFrom = block * blockSize;
    const runTo = runEnd * blockSize;
    const boundaryInside = (from > runFrom && from < runTo) || (to > runFrom && to < runTo);
    if (boundaryInside || (iter.flags & IomapOp.Unshare) !== 0) {
      for (let b = block; b < runEnd; b++) fillBlock(ctx, iter, index, b);
    }
    block = runEnd;
  }
}

/** Marks the blocks touched by [from, to) of a page uptodate and dirty (iomap_write_end). */
function writeEnd(iter: IomapIter, index: number, from: number, to: number, blockSize: number): void {
  const mask = blockMask(Math.floor(from / blockSize), Math.ceil(to / blockSize));
  iter.inode.pages.addUptodate(index, mask);
  iter.inode.pages.markDirty(index, mask);
}

/**
 * iomap_write_iter: copy `source` into the page cache over the iter's span.
 * The user buffer can be read only below file position `readableEnd` (a
 * short-copy fault; Infinity: all of it): a short copy into a folio that is
 * not uptodate counts 0 (__iomap_write_end), the new cache past EOF goes
 * (iomap_write_failed) and the chunk is retried with the bytes that did copy;
 * a chunk with nothing readable ends the write with EFAULT after what was done.
 */
function writeIter(ctx: FsContext, iter: IomapIter, source: WriteSource, readableEnd = Infinity): number {
  const { iomap, inode } = iter;
  assert(iomap.type !== IomapType.Hole || (iter.flags & IomapOp.Zero) !== 0, 'buffered write got a hole mapping', iomap);
  let pos = iter.pos;
  const end = iter.pos + iter.length;
  let chunkLimit = PAGE_SIZE;
  while (pos < end) {
    const index = Math.floor(pos / PAGE_SIZE);
    const pageStart = index * PAGE_SIZE;
    const from = pos - pageStart;
    const bytes = Math.min(PAGE_SIZE - from, end - pos, chunkLimit);
    chunkLimit = PAGE_SIZE;
    if (pos >= readableEnd) {
      // fault_in_iov_iter_readable: nothing of the chunk can be read.
      iter.errno = Errno.EFAULT;
      break;
    }
    const existed = inode.pages.grabIndex(index);
    try {
      writeBegin(ctx, iter, index, from, from + bytes);
    } catch (error) {
      // iomap_write_begin failed (a read error filling the folio): the write ends after what it did.
      if (!(error instanceof ErrnoError)) throw error;
      iter.errno = error.errno;
      break;
    }
    const copied = Math.min(bytes, readableEnd - pos);
    if (copied < bytes && !inode.pages.isUptodate(index)) {
      if (!existed && pageStart >= inode.size && inode.pages.dirtyOf(index) === 0) inode.pages.drop(index, index + 1);
      ctx.recovery?.path('retry-smaller', { retried: copied });
      chunkLimit = copied;
      continue;
    }
    if (ctx.dataless) {
      // Dataless: the bytes are never looked at.
    } else if (copied === PAGE_SIZE && isLazySource(source)) {
      inode.pages.setLazy(index, source, pos); // a whole page from a generated source: filled in when looked at
    } else {
      copyFromSource(inode.pages.bytes(index).subarray(from, from + copied), source, pos);
    }
    writeEnd(iter, index, from, from + copied, ctx.blockSize);
    pos += copied;
    if ((iter.flags & IomapOp.Zero) === 0 && pos > inode.size) {
      inode.size = pos;
      iomap.flags |= IomapFlag.SizeChanged;
    }
  }
  return pos - iter.pos;
}

/**
 * iomap_file_buffered_write: write [pos, pos+length) from `source` through the
 * page cache. Returns bytes written; throws ErrnoError when nothing was written.
 * A short-copy fault (ctx.faults) cuts the user buffer short.
 */
export function iomapFileBufferedWrite(ctx: FsContext, inode: Inode, pos: number, length: number, source: WriteSource, ops: IomapOps): number {
  if (length === 0) return 0;
  const limit = ctx.faults?.userCopyLimit(length);
  const readableEnd = limit === undefined ? Infinity : pos + limit;
  const result = iomapIterate(inode, pos, length, IomapOp.Write, ops, (iter) => writeIter(ctx, iter, source, readableEnd));
  return doneOrThrow(result, 'buffered write');
}

/** iomap_read_folio_iter: fill the not-uptodate blocks of each page in the span. */
function readIter(ctx: FsContext, iter: IomapIter): number {
  const { inode } = iter;
  const blockSize = ctx.blockSize;
  let pos = iter.pos;
  const end = iter.pos + iter.length;
  while (pos < end) {
    const index = Math.floor(pos / PAGE_SIZE);
    inode.pages.grabIndex(index);
    const pageStart = index * PAGE_SIZE;
    const firstBlock = Math.floor((pos - pageStart) / blockSize);
    const stop = Math.min(end, pageStart + PAGE_SIZE);
    const endBlock = Math.ceil((stop - pageStart) / blockSize);
    for (let block = firstBlock; block < endBlock; block++) {
      if ((inode.pages.uptodateOf(index) & (1 << block)) === 0) fillBlock(ctx, iter, index, block);
    }
    pos = stop;
  }
  return iter.length;
}

/**
 * Buffered read (filemap_read + iomap_readahead): bring [pos, pos+length) into
 * the cache page by page and copy it to `dst` when given. Reads stop at i_size.
 * Returns bytes read. O(pages).
 */
export function iomapBufferedRead(ctx: FsContext, inode: Inode, pos: number, length: number, ops: IomapOps, dst?: Uint8Array): number {
  const end = Math.min(pos + length, inode.size);
  if (end <= pos) return 0;
  const firstIndex = Math.floor(pos / PAGE_SIZE);
  const endIndex = Math.ceil(end / PAGE_SIZE);
  let index = firstIndex;
  while (index < endIndex) {
    if (inode.pages.isUptodate(index)) {
      ctx.stats.pageCacheHits++;
      index++;
      continue;
    }
    let runEnd = index + 1;
    while (runEnd < endIndex) {
      if (inode.pages.isUptodate(runEnd)) break;
      runEnd++;
    }
    const runStart = index * PAGE_SIZE;
    const result = iomapIterate(inode, runStart, (runEnd - index) * PAGE_SIZE, 0, ops, (iter) => readIter(ctx, iter));
    if (result.errno !== 0) throw new ErrnoError(result.errno, 'buffered read');
    index = runEnd;
  }
  if (dst) copyOut(inode, pos, end - pos, dst);
  return end - pos;
}

function copyOut(inode: Inode, pos: number, length: number, dst: Uint8Array): void {
  forEachPageSpan(pos, length, (index, from, bytes, done) => {
    if (!inode.pages.has(index)) assert(false, 'buffered read: page vanished', { index });
    dst.set(inode.pages.bytes(index).subarray(from, from + bytes), done);
  });
}

/** Write-back hook for zero range: flush [start, end) of an inode (filemap_write_and_wait_range). */
export type RangeFlusher = (inode: Inode, start: number, end: number) => void;

/** iomap_zero_iter: skip holes and unwritten extents unless dirty cache hides them; zero the rest through the cache. */
function zeroIter(ctx: FsContext, iter: IomapIter, flush: RangeFlusher): number {
  const src = iter.srcmap;
  if (src.type === IomapType.Hole || src.type === IomapType.Unwritten) {
    const firstIndex = Math.floor(iter.pos / PAGE_SIZE);
    const endIndex = Math.ceil((iter.pos + iter.length) / PAGE_SIZE);
    if (!iter.inode.pages.hasDirtyIn(firstIndex, endIndex)) return iter.length;
    // Dirty cache over unwritten blocks: write it back, then map again (the mapping is stale).
    flush(iter.inode, iter.pos, iter.pos + iter.length);
    iter.iomap.flags |= IomapFlag.Stale;
    return 0;
  }
  const done = writeIter(ctx, iter, ZERO_SOURCE);
  // The cache holds the zeroes now: a flush later in this zero range must copy zeroes to the on-disk view too.
  iter.inode.content.zero(iter.pos, done);
  return done;
}

/** iomap_zero_range: make [pos, pos+length) read as zeroes without allocating. */
export function iomapZeroRange(ctx: FsContext, inode: Inode, pos: number, length: number, ops: IomapOps, flush: RangeFlusher): void {
  if (length <= 0) return;
  const result = iomapIterate(inode, pos, length, IomapOp.Write | IomapOp.Zero, ops, (iter) => zeroIter(ctx, iter, flush));
  if (result.errno !== 0) throw new ErrnoError(result.errno, 'zero range');
  inode.content.zero(pos, length);
}

/** iomap_truncate_page: zero from pos to the end of its block. Nothing when pos is block aligned. */
export function iomapTruncatePage(ctx: FsContext, inode: Inode, pos: number, ops: IomapOps, flush: RangeFlusher): void {
  const within = pos % ctx.blockSize;
  if (within === 0) return;
  iomapZeroRange(ctx, inode, pos, ctx.blockSize - within, ops, flush);
}

/** iomap_folio_mkwrite_iter: mark every block of the mapped span dirty (and uptodate: the fault read it). */
function mkwriteIter(ctx: FsContext, iter: IomapIter): number {
  const { inode } = iter;
  const index = Math.floor(iter.pos / PAGE_SIZE);
  inode.pages.grabIndex(index);
  const pageStart = index * PAGE_SIZE;
  const mask = blockMask(Math.floor((iter.pos - pageStart) / ctx.blockSize), Math.ceil((iter.pos + iter.length - pageStart) / ctx.blockSize));
  if ((inode.pages.uptodateOf(index) & mask) !== mask) assert(false, 'page_mkwrite on a page that is not uptodate', { index });
  inode.pages.markDirty(index, mask);
  return iter.length;
}

/**
 * iomap_page_mkwrite for page `index`: the fault path already read the page.
 * The fs maps (and reserves) [page start, min(page end, i_size)). Throws EFAULT
 * (SIGBUS) when the page lies wholly past EOF.
 */
export function iomapPageMkwrite(ctx: FsContext, inode: Inode, index: number, ops: IomapOps): void {
  const pageStart = index * PAGE_SIZE;
  if (pageStart >= inode.size) throw new ErrnoError(Errno.EFAULT, 'page_mkwrite past EOF (SIGBUS)');
  const length = Math.min(PAGE_SIZE, inode.size - pageStart);
  const result = iomapIterate(inode, pageStart, length, IomapOp.Write | IomapOp.Fault, ops, (iter) => mkwriteIter(ctx, iter));
  doneOrThrow(result, 'page_mkwrite');
}

/** iomap_file_unshare: read shared blocks from the source map and dirty them (no new data). */
export function iomapFileUnshare(ctx: FsContext, inode: Inode, pos: number, length: number, ops: IomapOps): void {
  const end = Math.min(pos + length, inode.size);
  if (end <= pos) return;
  const result = iomapIterate(inode, pos, end - pos, IomapOp.Write | IomapOp.Unshare, ops, (iter) => {
    if ((iter.iomap.flags & IomapFlag.Shared) === 0 || iter.srcmap.type !== IomapType.Mapped) return iter.length;
    return unshareIter(ctx, iter);
  });
  if (result.errno !== 0) throw new ErrnoError(result.errno, 'unshare');
}

function unshareIter(ctx: FsContext, iter: IomapIter): number {
  let pos = iter.pos;
  const end = iter.pos + iter.length;
  while (pos < end) {
    const index = Math.floor(pos / PAGE_SIZE);
    const from = pos - index * PAGE_SIZE;
    const bytes = Math.min(PAGE_SIZE - from, end - pos);
    iter.inode.pages.grabIndex(index);
    writeBegin(ctx, iter, index, from, from + bytes);
    writeEnd(iter, index, from, from + bytes, ctx.blockSize);
    pos += bytes;
  }
  return iter.length;
}
