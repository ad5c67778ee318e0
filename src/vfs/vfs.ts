/**
 * The VFS layer: the namespace (paths, directories), open file handles,
 * ->write_iter dispatch between buffered and direct I/O, O_SYNC/O_DSYNC,
 * fsync/sync ordering (inodes written back in the order they were dirtied),
 * truncate, fallocate, mmap stores, reflink and copy_file_range, unmount.
 * It implements FsHost for the policy.
 */
import { iomapBufferedRead, iomapFileBufferedWrite, iomapPageMkwrite, iomapZeroRange } from '../iomap/buffered.js';
import { iomapDioRead } from '../iomap/direct.js';
import { iomapFiemap, type FiemapExtent } from '../iomap/fiemap.js';
import { iomapSeekData, iomapSeekHole } from '../iomap/seek.js';
import { contentOf, copyFromSource, type WriteSource } from '../iomap/source.js';
import { iomapWritepages } from '../iomap/writeback.js';
import { PAGE_SIZE, PageAccounting } from '../pagecache/pagecache.js';
import type { FsHost, FsPolicy, MetadataCommitReason } from '../fs/types.js';
import type { FallocMode, OpenFlags } from '../trace/types.js';
import { assert } from '../util/assert.js';
import { Errno, ErrnoError } from '../util/errno.js';
import type { FsContext } from './context.js';
import { Inode, type InodeKind } from './inode.js';

/** An open file description. */
export interface Handle {
  readonly inode: Inode;
  path: string;
  readonly flags: OpenFlags;
  readonly writable: boolean;
  /** f_pos. */
  pos: number;
  closed: boolean;
}

/** Outcome of a write(2): bytes written and how (direct, buffered fallback). */
export interface WriteResult {
  written: number;
  direct: number;
  fallback: number;
}

const ROOT = '';

/** Page-cache limits: background writeback above the dirty limit, reclaim of clean pages above the cache limit. */
export interface PageCacheLimits {
  /** dirty_background_bytes: the flusher writes back the oldest dirty inodes above this. */
  dirtyBytes: number;
  /** Memory for cached pages, dirty included: clean pages are reclaimed above this. */
  cacheBytes: number;
}

export const DEFAULT_PAGE_CACHE_LIMITS: Readonly<PageCacheLimits> = Object.freeze({
  dirtyBytes: 64 * 1024 * 1024,
  cacheBytes: 128 * 1024 * 1024,
});

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? ROOT : path.slice(0, slash);
}

export class Vfs implements FsHost {
  private readonly inodes = new Map<number, Inode>();
  private readonly names = new Map<string, Inode>();
  private readonly dirInodes = new Map<string, number>([[ROOT, 2]]);
  /** Inodes with dirty pages, in the order they were first dirtied (the b_dirty list). */
  private readonly dirtyInodes = new Set<Inode>();
  private writeSeq = 0;
  readonly accounting: PageAccounting;
  private readonly dirtyLimitPages: number;
  private readonly cacheLimitPages: number;
  /** Times the dirty limit started background writeback, and clean pages reclaimed. */
  backgroundWritebacks = 0;
  pagesReclaimed = 0;

  constructor(
    readonly ctx: FsContext,
    readonly policy: FsPolicy,
    limits: PageCacheLimits = DEFAULT_PAGE_CACHE_LIMITS,
  ) {
    this.accounting = new PageAccounting(ctx.dataless);
    this.dirtyLimitPages = Math.max(16, Math.floor(limits.dirtyBytes / PAGE_SIZE));
    this.cacheLimitPages = Math.max(this.dirtyLimitPages, Math.floor(limits.cacheBytes / PAGE_SIZE));
  }

  /**
   * balance_dirty_pages + the flusher's background writeback: above the dirty
   * limit, write back the oldest dirtied inodes until half of it remains;
   * above the cache limit, reclaim clean pages (oldest inodes first).
   */
  balancePages(): void {
    if (this.accounting.dirtyPages > this.dirtyLimitPages) {
      this.backgroundWritebacks++;
      for (const inode of [...this.dirtyInodes]) {
        this.writebackRange(inode, 0, Number.MAX_SAFE_INTEGER);
        if (this.accounting.dirtyPages <= this.dirtyLimitPages / 2) break;
      }
    }
    if (this.accounting.pages > this.cacheLimitPages) {
      const target = Math.floor((this.cacheLimitPages * 3) / 4);
      for (const inode of this.inodes.values()) {
        this.pagesReclaimed += inode.pages.dropClean();
        if (this.accounting.pages <= target) break;
      }
    }
  }

  // ---- namespace -----------------------------------------------------------

  lookup(path: string): Inode | undefined {
    return this.names.get(path);
  }

  private requireParent(path: string): number {
    const parentIno = this.dirInodes.get(parentOf(path));
    if (parentIno === undefined) throw new ErrnoError(Errno.ENOENT, `parent directory of '${path}'`);
    return parentIno;
  }

  private createInode(kind: InodeKind, parentIno: number): Inode {
    const ino = this.policy.allocIno(kind, parentIno);
    const inode = new Inode(ino, kind, this.ctx.blockSize, this.policy.extentLimits, this.accounting, this.ctx.dataless);
    inode.pages.onDirty = () => this.dirtyInodes.add(inode);
    this.policy.initInode(inode, parentIno);
    this.inodes.set(ino, inode);
    return inode;
  }

  mkdir(path: string): void {
    const parentIno = this.requireParent(path);
    if (this.dirInodes.has(path) || this.names.has(path)) throw new ErrnoError(Errno.EEXIST, `mkdir '${path}'`);
    const inode = this.createInode('dir', parentIno);
    this.dirInodes.set(path, inode.ino);
  }

  /** open(2). Throws ENOENT / EISDIR. */
  open(path: string, flags: OpenFlags): Handle {
    if (this.dirInodes.has(path)) throw new ErrnoError(Errno.EISDIR, `open '${path}'`);
    let inode = this.names.get(path);
    if (!inode) {
      if (!flags.create) throw new ErrnoError(Errno.ENOENT, `open '${path}'`);
      inode = this.createInode('file', this.requireParent(path));
      this.names.set(path, inode);
    }
    const writable = !flags.readOnly;
    inode.openCount++;
    if (writable) inode.writerCount++;
    const handle: Handle = { inode, path, flags, writable, pos: 0, closed: false };
    if (flags.truncate && writable) this.truncate(inode, 0);
    return handle;
  }

  close(handle: Handle): void {
    assert(!handle.closed, 'close of a closed handle', { path: handle.path });
    handle.closed = true;
    const inode = handle.inode;
    inode.openCount--;
    if (handle.writable) inode.writerCount--;
    this.policy.release(this, inode, handle.writable);
    if (inode.openCount === 0 && inode.nlink === 0) this.destroy(inode);
  }

  unlink(path: string): void {
    const inode = this.names.get(path);
    if (!inode) throw new ErrnoError(Errno.ENOENT, `unlink '${path}'`);
    this.names.delete(path);
    inode.nlink = 0;
    if (inode.openCount === 0) this.destroy(inode);
  }

  /** rename(2): files replace an existing target; directories move their subtree. */
  rename(from: string, to: string): void {
    this.requireParent(to);
    const inode = this.names.get(from);
    if (inode) {
      if (this.dirInodes.has(to)) throw new ErrnoError(Errno.EISDIR, `rename onto directory '${to}'`);
      if (this.names.has(to) && this.names.get(to) !== inode) this.unlink(to);
      this.names.delete(from);
      this.names.set(to, inode);
      return;
    }
    if (!this.dirInodes.has(from)) throw new ErrnoError(Errno.ENOENT, `rename '${from}'`);
    const prefix = `${from}/`;
    for (const [path, ino] of [...this.dirInodes]) {
      if (path === from || path.startsWith(prefix)) {
        this.dirInodes.delete(path);
        this.dirInodes.set(to + path.slice(from.length), ino);
      }
    }
    for (const [path, file] of [...this.names]) {
      if (path.startsWith(prefix)) {
        this.names.delete(path);
        this.names.set(to + path.slice(from.length), file);
      }
    }
  }

  private destroy(inode: Inode): void {
    this.policy.freeInode(this, inode);
    inode.pages.clear();
    this.dirtyInodes.delete(inode);
    this.inodes.delete(inode.ino);
  }

  // ---- data ----------------------------------------------------------------

  private sourceFor(inode: Inode, fill: number | undefined): WriteSource {
    return fill !== undefined ? { kind: 'fill', byte: fill } : { kind: 'gen', ino: inode.ino, seq: ++this.writeSeq };
  }

  /** write(2)/pwrite(2): `offset` null writes at f_pos (or EOF with O_APPEND). */
  write(handle: Handle, offset: number | null, length: number, fill: number | undefined, dsync = false): WriteResult {
    if (!handle.writable) throw new ErrnoError(Errno.EBADF, 'write on a read-only handle');
    const inode = handle.inode;
    let pos = offset ?? handle.pos;
    if (handle.flags.append) pos = inode.size;
    if (pos < 0) throw new ErrnoError(Errno.EINVAL, 'write offset');
    if (pos + length > this.policy.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'write past the maximum file size');
    const source = this.sourceFor(inode, fill);
    let result: WriteResult;
    if (handle.flags.direct) {
      const direct = this.policy.directWrite(this, inode, pos, length, source);
      result = { written: direct.direct + direct.buffered, direct: direct.direct, fallback: direct.buffered };
    } else {
      this.policy.bufferedWriteChecks?.(this, inode, pos, length);
      const written = iomapFileBufferedWrite(this.ctx, inode, pos, length, source, this.policy.bufferedOps);
      result = { written, direct: 0, fallback: 0 };
    }
    this.recordContent(inode, pos, result.written, source);
    if (offset === null || handle.flags.append) handle.pos = pos + result.written;
    if (result.written > 0 && (handle.flags.sync || handle.flags.dsync || dsync)) {
      // generic_write_sync: vfs_fsync_range over what was written (O_DSYNC: datasync).
      this.writebackRange(inode, pos, pos + result.written);
      this.commitOrFlush(inode, handle.flags.sync ? 'fsync' : 'fdatasync');
      this.reportWritebackError(inode, 'O_SYNC write');
    }
    this.balancePages();
    return result;
  }

  private recordContent(inode: Inode, pos: number, length: number, source: WriteSource): void {
    // Dataless runs keep no content (the maps are disabled): no record to make.
    if (this.ctx.dataless) return;
    const content = contentOf(source);
    if (content) inode.content.write(pos, length, content);
  }

  /** read(2)/pread(2); returns bytes read. */
  read(handle: Handle, offset: number | null, length: number, dst?: Uint8Array): number {
    const inode = handle.inode;
    const pos = offset ?? handle.pos;
    let done: number;
    if (handle.flags.direct) {
      const result = iomapDioRead(this.ctx, this.dioHost, inode, pos, length, this.policy.directOps, dst);
      if (result.done === 0 && result.errno !== 0) throw new ErrnoError(result.errno, 'direct read');
      done = result.done;
    } else {
      done = iomapBufferedRead(this.ctx, inode, pos, length, this.policy.readOps, dst);
    }
    if (offset === null) handle.pos = pos + done;
    this.balancePages();
    return done;
  }

  /** lseek(2), including SEEK_DATA/SEEK_HOLE. */
  seek(handle: Handle, offset: number, whence: 'set' | 'cur' | 'end' | 'data' | 'hole'): number {
    const inode = handle.inode;
    let pos: number;
    switch (whence) {
      case 'set':
        pos = offset;
        break;
      case 'cur':
        pos = handle.pos + offset;
        break;
      case 'end':
        pos = inode.size + offset;
        break;
      case 'data':
        pos = iomapSeekData(inode, offset, this.policy.readOps, this.ctx.blockSize);
        break;
      case 'hole':
        pos = iomapSeekHole(inode, offset, this.policy.readOps, this.ctx.blockSize);
        break;
    }
    if (pos < 0) throw new ErrnoError(Errno.EINVAL, 'lseek to a negative offset');
    handle.pos = pos;
    return pos;
  }

  /** Stores through a shared writable mapping: fault in, page_mkwrite, copy. Bytes past EOF are not file data. */
  mmapWrite(handle: Handle, offset: number, length: number, fill: number | undefined): void {
    const inode = handle.inode;
    const source = this.sourceFor(inode, fill);
    const end = offset + length;
    for (let index = Math.floor(offset / PAGE_SIZE); index * PAGE_SIZE < end; index++) {
      const pageStart = index * PAGE_SIZE;
      if (pageStart >= inode.size) throw new ErrnoError(Errno.EFAULT, 'store past EOF (SIGBUS)');
      iomapBufferedRead(this.ctx, inode, pageStart, PAGE_SIZE, this.policy.readOps);
      const inEofMask = (1 << Math.ceil(Math.min(PAGE_SIZE, inode.size - pageStart) / this.ctx.blockSize)) - 1;
      if ((inode.pages.dirtyOf(index) & inEofMask) !== inEofMask) iomapPageMkwrite(this.ctx, inode, index, this.policy.bufferedOps);
      // Stores past EOF are never observable: writeback and pagecache_isize_extended zero them.
      const from = Math.max(offset, pageStart);
      const to = Math.min(end, pageStart + PAGE_SIZE, inode.size);
      if (to > from && !this.ctx.dataless) copyFromSource(inode.pages.bytes(index).subarray(from - pageStart, to - pageStart), source, from);
    }
    this.recordContent(inode, offset, Math.max(0, Math.min(end, inode.size) - offset), source);
    this.balancePages();
  }

  fallocate(handle: Handle, mode: FallocMode, offset: number, length: number, keepSize: boolean): void {
    if (!handle.writable) throw new ErrnoError(Errno.EBADF, 'fallocate on a read-only handle');
    // vfs_fallocate: the range is checked before the filesystem sees it.
    if (offset < 0 || length <= 0) throw new ErrnoError(Errno.EINVAL, 'fallocate');
    if (offset + length > this.policy.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'fallocate');
    const inode = handle.inode;
    this.policy.fallocate(this, inode, mode, offset, length, keepSize);
    if (mode === 'punch' || mode === 'zero') {
      inode.content.zero(offset, length);
      // On disk, whole blocks are freed or unwritten now; the partial edges are zeroed in the cache and follow at writeback.
      const blockSize = this.ctx.blockSize;
      const wholeStart = Math.ceil(offset / blockSize) * blockSize;
      const wholeEnd = Math.floor((offset + length) / blockSize) * blockSize;
      inode.diskContent.zero(wholeStart, wholeEnd - wholeStart);
      return;
    }
    for (const content of [inode.content, inode.diskContent]) {
      if (mode === 'collapse') {
        content.zero(offset, length);
        content.shift(offset + length, -length);
      } else if (mode === 'insert') content.shift(offset, length);
    }
  }

  /** truncate(2)/ftruncate(2). */
  truncate(inode: Inode, size: number): void {
    if (size < 0) throw new ErrnoError(Errno.EINVAL, 'truncate to a negative size');
    if (size < inode.size) {
      inode.content.zero(size, Number.MAX_SAFE_INTEGER - size);
      inode.diskContent.zero(size, Number.MAX_SAFE_INTEGER - size);
    }
    this.policy.setSize(this, inode, size);
  }

  /** fsync/fdatasync: write back the whole file and wait, then the policy's metadata commit (or a cache flush). */
  fsync(handle: Handle, dataOnly = false): void {
    this.writebackRange(handle.inode, 0, Number.MAX_SAFE_INTEGER);
    this.commitOrFlush(handle.inode, dataOnly ? 'fdatasync' : 'fsync');
    this.reportWritebackError(handle.inode, 'fsync');
  }

  /** file_check_and_advance_wb_err: a writeback error recorded since the last report fails this call, once. */
  private reportWritebackError(inode: Inode, what: string): void {
    if (inode.wbError === 0) return;
    const errno = inode.wbError;
    inode.wbError = 0;
    throw new ErrnoError(errno, `${what}: an earlier writeback of this file failed`);
  }

  /** sync(2)/syncfs(2): every dirty inode, oldest dirtied first, then the metadata commit (or a cache flush). */
  syncAll(): void {
    for (const inode of [...this.dirtyInodes]) this.writebackRange(inode, 0, Number.MAX_SAFE_INTEGER);
    this.commitOrFlush(undefined, 'sync');
  }

  /** The policy's journal commit ends with its own flush; without one (nothing to commit) the cache is flushed (ext4_sync_file). */
  private commitOrFlush(inode: Inode | undefined, reason: MetadataCommitReason): void {
    const committed = this.policy.commitMetadata?.(this, inode, reason) ?? false;
    if (!committed) this.ctx.io.submit({ direction: 'flush', cause: 'flush', addrBytes: 0, lengthBytes: 0 });
    this.commits++;
  }

  /** Metadata commits so far (fsync, fdatasync, sync, O_SYNC writes): the replay checkpoints the image after an op that made one. */
  commits = 0;

  /**
   * FICLONE / FICLONERANGE (length 0: to the source's EOF): vfs_clone_file_range.
   * A policy without reflink fails first (EOPNOTSUPP); otherwise
   * generic_remap_file_range_prep checks and flushes the ranges, the policy
   * remaps, and the target grows to cover the range (xfs_reflink_update_dest).
   * Returns the bytes remapped.
   */
  reflink(handle: Handle, srcPath: string, srcOffset: number, dstOffset: number, length: number): number {
    const source = this.names.get(srcPath);
    if (!source) throw new ErrnoError(Errno.ENOENT, `reflink source '${srcPath}'`);
    const target = handle.inode;
    if (source.kind !== 'file') throw new ErrnoError(Errno.EISDIR, `reflink source '${srcPath}'`);
    if (!this.policy.capabilities.reflink) {
      this.policy.reflink(this, source, target, srcOffset, dstOffset, length);
      throw new ErrnoError(Errno.EOPNOTSUPP, 'remap_file_range');
    }
    const checked = this.remapChecks(source, target, srcOffset, dstOffset, length);
    if (checked.count === 0) return 0;
    // generic_remap_file_range_prep: write back both ranges; the target's cached pages over the range go.
    this.writebackRange(source, srcOffset, srcOffset + checked.blockCount);
    this.writebackRange(target, dstOffset, dstOffset + checked.blockCount);
    this.invalidatePages(target, dstOffset, dstOffset + checked.blockCount);
    this.policy.reflink(this, source, target, srcOffset, dstOffset, checked.count);
    target.content.copyFrom(source.content, srcOffset, dstOffset, checked.blockCount);
    target.diskContent.copyFrom(source.diskContent, srcOffset, dstOffset, checked.blockCount);
    const end = dstOffset + checked.count;
    if (end > target.size) target.size = end;
    if (end > target.diskSize) target.diskSize = end;
    return checked.count;
  }

  /**
   * generic_remap_checks: block-aligned starts, the source range clipped to its
   * EOF, a length that is block aligned unless it reaches the source's EOF, no
   * overlap within one file. `blockCount` is the length rounded up to whole blocks.
   */
  private remapChecks(source: Inode, target: Inode, srcOffset: number, dstOffset: number, length: number): { count: number; blockCount: number } {
    const blockSize = this.ctx.blockSize;
    if (srcOffset % blockSize !== 0 || dstOffset % blockSize !== 0 || srcOffset < 0 || dstOffset < 0 || length < 0) {
      throw new ErrnoError(Errno.EINVAL, 'remap range not block aligned');
    }
    if (length === 0) {
      // FICLONE / a zero length: to the source's EOF.
      if (srcOffset >= source.size) return { count: 0, blockCount: 0 };
      length = source.size - srcOffset;
    }
    if (srcOffset >= source.size) throw new ErrnoError(Errno.EINVAL, 'remap source range past EOF');
    let count = Math.min(length, source.size - srcOffset);
    if (dstOffset + count > this.policy.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'remap target past s_maxbytes');
    let blockCount: number;
    if (srcOffset + count === source.size) {
      blockCount = Math.ceil(source.size / blockSize) * blockSize - srcOffset;
    } else {
      count = Math.floor(count / blockSize) * blockSize;
      blockCount = count;
    }
    if (source === target && dstOffset + blockCount > srcOffset && dstOffset < srcOffset + blockCount) {
      throw new ErrnoError(Errno.EINVAL, 'remap ranges overlap within one file');
    }
    return { count, blockCount };
  }

  /** copy_file_range(2) done as the generic splice copy: read the source, write the target buffered. */
  copyRange(src: Handle, dst: Handle, srcOffset: number | null, dstOffset: number | null, length: number): number {
    const from = srcOffset ?? src.pos;
    const to = dstOffset ?? dst.pos;
    const span = Math.max(0, Math.min(length, src.inode.size - from));
    if (span === 0) return 0;
    const data = new Uint8Array(span);
    iomapBufferedRead(this.ctx, src.inode, from, span, this.policy.readOps, data);
    this.policy.bufferedWriteChecks?.(this, dst.inode, to, span);
    const written = iomapFileBufferedWrite(this.ctx, dst.inode, to, span, { kind: 'buffer', data, fileOffset: to }, this.policy.bufferedOps);
    dst.inode.content.copyFrom(src.inode.content, from, to, written);
    if (srcOffset === null) src.pos = from + written;
    if (dstOffset === null) dst.pos = to + written;
    return written;
  }

  /** Unmount + mount: write everything back, evict every inode, drop the page cache. */
  remount(): void {
    this.syncAll();
    for (const inode of this.inodes.values()) {
      this.policy.evict(this, inode);
      inode.pages.clear();
    }
    this.dirtyInodes.clear();
  }

  /** sync; echo 3 > drop_caches. */
  dropCaches(): void {
    this.syncAll();
    for (const inode of this.inodes.values()) inode.pages.dropClean();
  }

  seekData(inode: Inode, pos: number): number {
    return iomapSeekData(inode, pos, this.policy.readOps, this.ctx.blockSize);
  }

  fiemap(inode: Inode): FiemapExtent[] {
    return iomapFiemap(inode, this.policy.readOps, this.policy.maxFileBytes);
  }

  /** Regular files by path, sorted. */
  files(): [string, Inode][] {
    return [...this.names.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  dirs(): string[] {
    return [...this.dirInodes.keys()].filter((path) => path !== ROOT).sort();
  }

  isDir(path: string): boolean {
    return this.dirInodes.has(path);
  }

  dirIno(path: string): number | undefined {
    return this.dirInodes.get(path);
  }

  allInodes(): Iterable<Inode> {
    return this.inodes.values();
  }

  checkValid(): void {
    let pages = 0;
    let dirtyPages = 0;
    for (const inode of this.inodes.values()) {
      inode.pages.checkValid();
      inode.content.checkValid();
      pages += inode.pages.pageCount;
      dirtyPages += inode.pages.dirtyCount;
    }
    assert(pages === this.accounting.pages && dirtyPages === this.accounting.dirtyPages, 'page accounting does not add up', {
      pages,
      dirtyPages,
      accounted: { ...this.accounting },
    });
    this.policy.checkValid(this.inodes.values());
  }

  // ---- FsHost --------------------------------------------------------------

  private readonly dioHost = {
    flushAndInvalidate: (inode: Inode, start: number, end: number) => {
      this.writebackRange(inode, start, end);
      this.invalidatePages(inode, start, end);
    },
  };

  writebackRange(inode: Inode, start: number, end: number): void {
    iomapWritepages(this.ctx, inode, this.policy.writeback, start, end);
    if (inode.pages.dirtyCount === 0) this.dirtyInodes.delete(inode);
  }

  /** truncate_pagecache_range: whole pages in [start, end) go; partial pages keep their other bytes and have the range zeroed. */
  invalidateRange(inode: Inode, start: number, end: number): void {
    const stop = Math.min(end, Number.MAX_SAFE_INTEGER);
    if (stop <= start) return;
    const firstWhole = Math.ceil(start / PAGE_SIZE);
    const endWhole = stop >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.floor(stop / PAGE_SIZE);
    if (endWhole > firstWhole) inode.pages.drop(firstWhole, endWhole);
    // The pages at either edge that were not dropped whole have the range zeroed in place.
    for (const index of new Set([Math.floor(start / PAGE_SIZE), Math.floor(Math.max(start, stop - 1) / PAGE_SIZE)])) {
      if (!inode.pages.has(index)) continue;
      const pageStart = index * PAGE_SIZE;
      inode.pages.bytes(index).fill(0, Math.max(0, start - pageStart), Math.min(PAGE_SIZE, stop - pageStart));
    }
    if (inode.pages.dirtyCount === 0) this.dirtyInodes.delete(inode);
  }

  /** invalidate_inode_pages2_range: every page overlapping [start, end) goes (callers wrote them back first). */
  invalidatePages(inode: Inode, start: number, end: number): void {
    const endIndex = end >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.ceil(end / PAGE_SIZE);
    inode.pages.drop(Math.floor(start / PAGE_SIZE), endIndex);
    if (inode.pages.dirtyCount === 0) this.dirtyInodes.delete(inode);
  }

  zeroRange(inode: Inode, pos: number, length: number): void {
    iomapZeroRange(this.ctx, inode, pos, length, this.policy.bufferedOps, (target, start, end) => this.writebackRange(target, start, end));
  }

  bufferedWrite(inode: Inode, pos: number, length: number, source: WriteSource): number {
    return iomapFileBufferedWrite(this.ctx, inode, pos, length, source, this.policy.bufferedOps);
  }
}
