/**
 * Writeback (iomap_writepages, fs/iomap/buffered-io.c + ioend.c): map runs
 * of dirty blocks with the fs's map_blocks, gather them into ioends, write
 * the bytes to the device and complete each ioend (unwritten conversion,
 * CoW remap, on-disk size) through the fs.
 */
import { assert } from '../util/assert.js';
import { Errno } from '../util/errno.js';
import { PAGE_SIZE, forEachPageSpan } from '../pagecache/pagecache.js';
import type { FsContext } from '../vfs/context.js';
import type { Inode } from '../vfs/inode.js';
import type { Ioend, WritebackOps } from './ops.js';
import { IomapFlag, IomapType, iomapEnd, type Iomap } from './types.js';

/** IOEND_BATCH_SIZE: folios per ioend at most. */
const IOEND_MAX_BYTES = 4096 * PAGE_SIZE;

/** Where a lazy page's bytes are generated for its device write (devices copy what they are given). */
const pageScratch = new Uint8Array(PAGE_SIZE);

/**
 * Takes the dirty pages in [startIndex, endIndex) for writeback (their dirty
 * bits are cleared first, as folio_clear_dirty_for_io does) and collects their
 * dirty block runs into `runs` as [start, end) byte pairs (block aligned,
 * ascending), zeroing the part of the EOF page past i_size. A page wholly past
 * EOF is skipped: its dirty bits just go.
 */
function collectDirtyRuns(ctx: FsContext, inode: Inode, startIndex: number, endIndex: number, runs: number[]): void {
  const blockSize = ctx.blockSize;
  const isize = inode.size;
  const cache = inode.pages;
  cache.takeDirty(startIndex, endIndex, (index, dirty) => {
    const pageStart = index * PAGE_SIZE;
    if (pageStart >= isize) return;
    if (pageStart + PAGE_SIZE > isize) cache.bytes(index).fill(0, isize - pageStart); // folio straddling EOF
    const blockLimit = Math.ceil(Math.min(PAGE_SIZE, isize - pageStart) / blockSize);
    for (let block = 0; block < blockLimit; block++) {
      if ((dirty & (1 << block)) === 0) continue;
      const start = pageStart + block * blockSize;
      if (runs.length > 0 && runs[runs.length - 1] === start) runs[runs.length - 1] = start + blockSize;
      else runs.push(start, start + blockSize);
    }
  });
}

/** Writes file bytes [pos, pos+length) from the page cache to the device at addr, block by block. */
function submitBytes(ctx: FsContext, inode: Inode, pos: number, length: number, addr: number): void {
  if (!ctx.dataless) {
    forEachPageSpan(pos, length, (index, from, bytes, done) => {
      const cache = inode.pages;
      if (!cache.has(index)) assert(false, 'writeback: dirty page vanished', { index });
      // A lazy page's bytes are generated for the device write (by the device when it can), the page left as it is.
      const lazy = from === 0 && bytes === PAGE_SIZE ? cache.lazyOf(index) : undefined;
      if (lazy !== undefined && (lazy.kind === 'gen' || lazy.kind === 'fill') && ctx.device.writeGenerated?.(addr + done, PAGE_SIZE, lazy, cache.lazyOffsetOf(index)) === true) return;
      const bytesOf = lazy !== undefined ? cache.bytesVia(index, pageScratch) : cache.bytes(index).subarray(from, from + bytes);
      ctx.device.write(addr + done, bytesOf);
    });
  }
  ctx.stats.deviceBytesWritten += length;
  inode.deviceBytesWritten += length;
  ctx.io.submit({ direction: 'write', cause: 'writeback', addrBytes: addr, lengthBytes: length });
  inode.diskContent.copyFrom(inode.content, pos, pos, length);
}

class IoendBuilder {
  current: Ioend | undefined;
  completed = 0;
  /** The one ioend object, filled anew for each ioend: completion reads it and keeps nothing. */
  private readonly ioend: Ioend = { offset: 0, length: 0, addr: 0, unwritten: false, shared: false, error: 0 };

  constructor(
    private readonly inode: Inode,
    private readonly ops: WritebackOps,
    private readonly ctx: FsContext,
  ) {}

  /** iomap_can_add_to_ioend: same type, shared state and status, file and disk contiguous, under the batch size. */
  add(pos: number, length: number, addr: number, unwritten: boolean, shared: boolean, error = 0): void {
    while (length > 0) {
      const current = this.current;
      const joins =
        current !== undefined &&
        current.unwritten === unwritten &&
        current.shared === shared &&
        (current.error ?? 0) === error &&
        current.offset + current.length === pos &&
        current.addr + current.length === addr &&
        current.length < IOEND_MAX_BYTES;
      if (!joins) {
        this.finish();
        const ioend = this.ioend;
        ioend.offset = pos;
        ioend.length = 0;
        ioend.addr = addr;
        ioend.unwritten = unwritten;
        ioend.shared = shared;
        ioend.error = error;
        this.current = ioend;
      }
      const ioend = this.current!;
      const taken = Math.min(length, IOEND_MAX_BYTES - ioend.length);
      ioend.length += taken;
      pos += taken;
      addr += taken;
      length -= taken;
    }
  }

  /** Completes the current ioend (ioend size clamped to in-memory EOF). */
  finish(): void {
    const ioend = this.current;
    if (!ioend) return;
    this.current = undefined;
    this.ops.ioendCompletion(this.inode, ioend);
    this.ctx.stats.writebackIoends++;
    this.completed++;
  }
}

/**
 * Writes back the dirty pages of `inode` in [startByte, endByte). Returns
 * bytes written to the device. O(dirty pages + mappings).
 */
export function iomapWritepages(ctx: FsContext, inode: Inode, ops: WritebackOps, startByte = 0, endByte = Number.MAX_SAFE_INTEGER): number {
  if (inode.pages.dirtyCount === 0) return 0;
  const startIndex = Math.floor(startByte / PAGE_SIZE);
  const endIndex = endByte >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.ceil(endByte / PAGE_SIZE);
  const runs: number[] = [];
  collectDirtyRuns(ctx, inode, startIndex, endIndex, runs);
  const ioends = new IoendBuilder(inode, ops, ctx);
  let written = 0;
  let map: Iomap | undefined;
  let failed: { start: number; end: number; unwritten: boolean }[] | undefined;
  for (let at = 0; at < runs.length; at += 2) {
    let pos = runs[at]!;
    const runEnd = runs[at + 1]!;
    while (pos < runEnd) {
      if (!map || pos < map.offset || pos >= iomapEnd(map)) {
        map = ops.mapBlocks(inode, pos, runEnd - pos);
        if (!(map.offset <= pos && iomapEnd(map) > pos)) assert(false, 'map_blocks did not cover pos', { map, pos });
        assert(map.type !== IomapType.Delalloc, 'map_blocks returned delalloc', map);
      }
      const length = Math.min(runEnd, iomapEnd(map)) - pos;
      if (map.type !== IomapType.Hole) {
        const addr = map.addr + (pos - map.offset);
        const unwritten = map.type === IomapType.Unwritten;
        if (ctx.faults?.ioFails('write', addr, length, ctx.blockSize, ctx.stats.deviceBytesWritten)) {
          // The bio fails: nothing reaches the device, the ioend completes with the error.
          ioends.add(pos, length, addr, unwritten, (map.flags & IomapFlag.Shared) !== 0, Errno.EIO);
          (failed ??= []).push({ start: pos, end: pos + length, unwritten });
        } else {
          submitBytes(ctx, inode, pos, length, addr);
          ioends.add(pos, length, addr, unwritten, (map.flags & IomapFlag.Shared) !== 0);
          written += length;
        }
      }
      pos += length;
    }
  }
  ioends.finish();
  if (failed !== undefined) writebackFailed(ctx, inode, failed);
  return written;
}

/**
 * Writeback of `ranges` failed with EIO: the error is recorded on the file
 * (mapping_set_error; the next fsync returns it) and the data is lost. The
 * kernel keeps the clean folios until reclaim; here they go at once, so what
 * a read returns is what the device holds (unwritten blocks stay unwritten:
 * zeroes, never stale data).
 */
function writebackFailed(ctx: FsContext, inode: Inode, ranges: { start: number; end: number; unwritten: boolean }[]): void {
  inode.wbError = Errno.EIO;
  let lost = 0;
  let unwritten = false;
  for (const range of ranges) {
    lost += range.end - range.start;
    unwritten ||= range.unwritten;
    inode.content.copyFrom(inode.diskContent, range.start, range.start, range.end - range.start);
    inode.pages.drop(Math.floor(range.start / PAGE_SIZE), Math.ceil(range.end / PAGE_SIZE));
  }
  ctx.recovery?.path('error-recorded', { lost });
  if (unwritten) ctx.recovery?.path('unwritten-kept');
}
