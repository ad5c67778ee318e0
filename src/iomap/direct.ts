/**
 * Direct I/O (iomap_dio_rw, fs/iomap/direct-io.c): sector alignment, flush
 * and invalidate of the cache over the range, per-mapping bios with
 * sub-block zeroing for new and unwritten blocks, and completion through the
 * fs's end_io (unwritten conversion, CoW remap, size update).
 */
import { Errno, ErrnoError } from '../util/errno.js';
import { PAGE_SIZE } from '../pagecache/pagecache.js';
import type { FsContext } from '../vfs/context.js';
import type { Inode } from '../vfs/inode.js';
import { copyInlineData } from './buffered.js';
import { iomapIterate, type IomapIter } from './iter.js';
import type { DioOps, IomapOps } from './ops.js';
import { contentOf, copyFromSource, type WriteSource } from './source.js';
import { IomapFlag, IomapOp, IomapType } from './types.js';

/** Logical sector size of the simulated device (the loop device's 512 bytes). */
export const SECTOR_SIZE = 512;

/** Flush and invalidate of the cache over a range, provided by the VFS. */
export interface DioHost {
  /** filemap_write_and_wait_range then invalidate_inode_pages2_range over [start, end). */
  flushAndInvalidate(inode: Inode, start: number, end: number): void;
}

export interface DioResult {
  /** Bytes transferred. */
  done: number;
  /** errno that stopped the I/O (0 if none); with done > 0 the caller sees a short count. */
  errno: number;
}

const scratch = { buffer: new Uint8Array(0) };

function scratchBuffer(length: number): Uint8Array {
  if (scratch.buffer.length < length) scratch.buffer = new Uint8Array(Math.max(length, 65536));
  return scratch.buffer.subarray(0, length);
}

function writeZeroes(ctx: FsContext, inode: Inode, addr: number, length: number): void {
  if (length <= 0) return;
  const zeroes = scratchBuffer(length);
  zeroes.fill(0);
  if (!ctx.dataless) ctx.device.write(addr, zeroes);
  ctx.io.submit({ direction: 'write', cause: 'zeroing', addrBytes: addr, lengthBytes: length });
  ctx.stats.deviceBytesWritten += length;
  ctx.stats.deviceZeroBytes += length;
  inode.deviceBytesWritten += length;
}

interface DioWriteState {
  unwritten: boolean;
  cow: boolean;
  /** File position where the block layer stops completing bytes (a short-dio fault; Infinity: never). */
  completeEnd: number;
}

/** iomap_dio_bio_iter for a write: zero sub-block edges of new/unwritten blocks, write the data. */
function dioWriteIter(ctx: FsContext, iter: IomapIter, source: WriteSource, state: DioWriteState): number {
  const { iomap, inode } = iter;
  if (iomap.type === IomapType.Hole || iomap.type === IomapType.Delalloc || iomap.type === IomapType.Inline) {
    throw new ErrnoError(Errno.EIO, 'direct write to an unallocated mapping');
  }
  if (iomap.type === IomapType.Unwritten) state.unwritten = true;
  if (iomap.flags & IomapFlag.Shared) state.cow = true;
  const needZeroout = iomap.type === IomapType.Unwritten || (iomap.flags & IomapFlag.New) !== 0;
  const blockSize = ctx.blockSize;
  const pos = iter.pos;
  if (pos >= state.completeEnd) {
    // The bio was not built: the mapping is not finished, the count so far stands (-ENOTBLK).
    iter.errno = Errno.ENOTBLK;
    return 0;
  }
  const length = Math.min(iter.length, state.completeEnd - pos);
  if (length < iter.length) iter.errno = Errno.ENOTBLK;
  const end = pos + length;
  const addrOf = (filePos: number): number => iomap.addr + (filePos - iomap.offset);
  if (ctx.faults?.ioFails('write', addrOf(pos), length, blockSize, ctx.stats.deviceBytesWritten)) {
    throw new ErrnoError(Errno.EIO, 'direct write: device write error');
  }
  const headPad = pos % blockSize;
  if (needZeroout && headPad !== 0) {
    writeZeroes(ctx, inode, addrOf(pos - headPad), headPad);
    inode.diskContent.zero(pos - headPad, headPad);
  }
  if (!ctx.dataless) {
    const data = scratchBuffer(length);
    copyFromSource(data, source, pos);
    ctx.device.write(addrOf(pos), data);
  }
  ctx.io.submit({ direction: 'write', cause: 'direct', addrBytes: addrOf(pos), lengthBytes: length });
  ctx.stats.deviceBytesWritten += length;
  inode.deviceBytesWritten += length;
  const content = contentOf(source);
  if (content) inode.diskContent.write(pos, length, content);
  const tailPad = end % blockSize;
  if (tailPad !== 0 && (needZeroout || end >= inode.size)) {
    writeZeroes(ctx, inode, addrOf(end), blockSize - tailPad);
    inode.diskContent.zero(end, blockSize - tailPad);
  }
  return length;
}

/** iomap_dio_bio_iter for a read: holes and unwritten read as zeroes, delalloc is an error. */
function dioReadIter(ctx: FsContext, iter: IomapIter, dst: Uint8Array | undefined, base: number): number {
  const { iomap } = iter;
  if (iomap.type === IomapType.Delalloc) throw new ErrnoError(Errno.EIO, 'direct read of delalloc');
  const addr = iomap.addr + (iter.pos - iomap.offset);
  if (iomap.type === IomapType.Mapped) {
    if (ctx.faults?.ioFails('read', addr, iter.length, ctx.blockSize, ctx.stats.deviceBytesWritten)) throw new ErrnoError(Errno.EIO, 'direct read: device read error');
    ctx.io.submit({ direction: 'read', cause: 'direct', addrBytes: addr, lengthBytes: iter.length });
    ctx.stats.deviceBytesRead += iter.length;
  }
  if (!dst) return iter.length;
  const out = dst.subarray(iter.pos - base, iter.pos - base + iter.length);
  if (iomap.type === IomapType.Mapped) {
    if (!ctx.dataless) ctx.device.read(addr, out);
  } else if (iomap.type === IomapType.Inline) {
    copyInlineData(iomap, iter.pos, out);
  } else {
    out.fill(0);
  }
  return iter.length;
}

function checkAlignment(pos: number, length: number): void {
  if (pos % SECTOR_SIZE !== 0 || length % SECTOR_SIZE !== 0) {
    throw new ErrnoError(Errno.EINVAL, 'direct I/O not aligned to the logical sector size');
  }
}

/**
 * A direct write of [pos, pos+length). Returns bytes done and the errno that
 * ended it; completion (end_io) runs for the bytes done. Throws EINVAL when
 * misaligned.
 */
export function iomapDioWrite(
  ctx: FsContext,
  host: DioHost,
  inode: Inode,
  pos: number,
  length: number,
  source: WriteSource,
  ops: IomapOps,
  dioOps: DioOps,
  extraFlags = 0,
): DioResult {
  checkAlignment(pos, length);
  if (length === 0) return { done: 0, errno: 0 };
  host.flushAndInvalidate(inode, pos, pos + length);
  const limit = ctx.faults?.dioCompleteLimit(length, SECTOR_SIZE);
  const state: DioWriteState = { unwritten: false, cow: false, completeEnd: limit === undefined ? Infinity : pos + limit };
  const result = iomapIterate(inode, pos, length, IomapOp.Write | IomapOp.Direct | extraFlags, ops, (iter) => dioWriteIter(ctx, iter, source, state));
  if (result.errno !== 0 && result.errno !== Errno.ENOTBLK) {
    // iomap_dio_complete: an error is returned instead of a count; end_io sees the error and converts nothing.
    if (state.unwritten) ctx.recovery?.path('unwritten-kept', { lost: length });
    else ctx.recovery?.bytes({ lost: length });
    inode.pages.drop(Math.floor(pos / PAGE_SIZE), Math.ceil((pos + length) / PAGE_SIZE));
    return { done: 0, errno: result.errno };
  }
  if (result.done > 0) {
    dioOps.endIo(inode, { pos, size: result.done, unwritten: state.unwritten, cow: state.cow });
    if (pos + result.done > inode.size) inode.size = pos + result.done;
    if (pos + result.done > inode.diskSize) inode.diskSize = pos + result.done;
  }
  // Pages instantiated by a racing mmap would be invalidated again here.
  inode.pages.drop(Math.floor(pos / PAGE_SIZE), Math.ceil((pos + length) / PAGE_SIZE));
  return result;
}

/** A direct read of [pos, pos+length) into dst (if given). Returns bytes read (stops at i_size). */
export function iomapDioRead(ctx: FsContext, host: DioHost, inode: Inode, pos: number, length: number, ops: IomapOps, dst?: Uint8Array): DioResult {
  checkAlignment(pos, length);
  if (pos >= inode.size || length === 0) return { done: 0, errno: 0 };
  const readLength = Math.min(length, inode.size - pos);
  host.flushAndInvalidate(inode, pos, pos + readLength);
  const span = Math.ceil(readLength / SECTOR_SIZE) * SECTOR_SIZE;
  const result = iomapIterate(inode, pos, span, IomapOp.Direct, ops, (iter) => dioReadIter(ctx, iter, dst, pos));
  return { done: Math.min(result.done, readLength), errno: result.errno };
}
