/**
 * The btrfs mapping policy: copy-on-write file extent items over
 * reference-counted disk extents (src/fs/btrfs/extents.ts).
 *  - Buffered writes are delalloc (dirty pages); nothing is allocated until
 *    writeback, where cow_file_range allocates a new extent for every dirty
 *    range (cut at 128 MiB) or stores a small file inline, and
 *    run_delalloc_nocow writes prealloc (and NODATACOW) extents in place.
 *  - Overwritten parts of an extent are dropped from the items
 *    (btrfs_drop_extents); the disk extent stays allocated whole until its
 *    last reference goes (bookends), then is pinned until the transaction
 *    commits.
 *  - O_DIRECT falls back to buffered + flush + invalidate for inodes with
 *    checksums (the default) and unaligned writes (btrfs_direct_write); the
 *    NODATASUM path allocates a new extent per request.
 *  - fallocate: allocate / punch / zero (src/fs/btrfs/fallocate.ts); collapse,
 *    insert and unshare are EOPNOTSUPP. Reflink clones items.
 *  - FIEMAP is btrfs's own (src/fs/btrfs/report.ts).
 */
import type { BlockRun } from '../../image/types.js';
import { iomapDioWrite } from '../../iomap/direct.js';
import type { DioCompletion, IomapOps, Ioend, WritebackOps } from '../../iomap/ops.js';
import { contentOf, type WriteSource } from '../../iomap/source.js';
import { IomapFlag, IomapOp, IomapType, makeHole, type Iomap, type IomapPair } from '../../iomap/types.js';
import { PAGE_SIZE } from '../../pagecache/pagecache.js';
import type { FallocMode } from '../../trace/types.js';
import { assert } from '../../util/assert.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { IntervalMap } from '../../util/intervalmap.js';
import type { FsContext } from '../../vfs/context.js';
import type { Inode, InodeKind } from '../../vfs/inode.js';
import { POLICY_INTERFACE_VERSION, type DirectWriteResult, type FsHost, type FsPolicy, type MetadataCommitReason, type PolicyOptions } from '../types.js';
import { BtrfsAllocator } from './alloc.js';
import { backrefKey, dropItems, insertItem, isShared, ItemKind, itemPhys, makeItemMap, mirrorToDataFork, setItemKind, type DiskExtent, type Item, type ItemValue } from './extents.js';
import { btrfsFallocate } from './fallocate.js';
import { btrfsGeometry, type BtrfsGeometry } from './geometry.js';
import { dirtyRunEnd, isBlockDirty, itemIomap, nextDirtyBlock, readMapping, reportMapping } from './report.js';
import { BtrfsTransaction } from './transaction.js';
import { injectEnospc, releaseShortWriteDelalloc, takeWritebackError } from '../recovery.js';

/** BTRFS_MAX_EXTENT_SIZE: delalloc ranges are cut here. */
export const BTRFS_MAX_EXTENT_BYTES = 128 * 1024 * 1024;
/** BTRFS_DEFAULT_MAX_INLINE. */
export const BTRFS_MAX_INLINE_BYTES = 2048;
/** BTRFS_FIRST_FREE_OBJECTID: the first inode number after the subvolume root (256). */
const BTRFS_FIRST_FREE_INO = 257;
/** btrfs_csum_size for crc32c. */
export const BTRFS_CSUM_BYTES = 4;
/** MAX_LFS_FILESIZE on 64-bit. */
const BTRFS_MAX_FILE_BYTES = Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % (1024 * 1024));

export interface BtrfsInodeState {
  items: IntervalMap<ItemValue>;
  /** BTRFS_INODE_NODATACOW (chattr +C); implies NODATASUM. */
  nodatacow: boolean;
  /** BTRFS_INODE_NODATASUM: direct writes go direct. */
  nodatasum: boolean;
  /** cow_file_range's alloc_hint across one delalloc range: the file block the last allocation ended at and its disk block. */
  continuation: { fileBlock: number; physBlock: number } | undefined;
  /** BTRFS_INODE_FLUSH_ON_CLOSE: set by a truncate to 0. */
  flushOnClose: boolean;
  /** A size raised past a dirty, zeroed EOF block: the on-disk size follows once that block is written. */
  pendingDiskSize: { block: number; size: number; held: number } | undefined;
}

export function btrfsState(inode: Inode): BtrfsInodeState {
  return inode.fsPrivate as BtrfsInodeState;
}

export class BtrfsPolicy implements FsPolicy {
  readonly name = 'btrfs';
  readonly interfaceVersion = POLICY_INTERFACE_VERSION;
  readonly capabilities = { reflink: true, collapseInsert: false, unshare: false };
  readonly extentLimits = { maxWritten: Number.MAX_SAFE_INTEGER, maxUnwritten: Number.MAX_SAFE_INTEGER, maxDelalloc: Number.MAX_SAFE_INTEGER };
  readonly maxFileBytes = BTRFS_MAX_FILE_BYTES;
  readonly reserved: BlockRun[];
  readonly params: Record<string, string | number | boolean>;
  readonly geometry: BtrfsGeometry;
  readonly alloc: BtrfsAllocator;
  readonly transaction: BtrfsTransaction;
  /** Every disk extent by start block. */
  readonly diskExtents = new Map<number, DiskExtent>();
  /** Live inodes (for the ownership check and the image's unreferenced-extent runs). */
  private readonly inodes = new Map<number, Inode>();
  private nextIno = BTRFS_FIRST_FREE_INO;

  readonly bufferedOps: IomapOps = {
    iomapBegin: (inode, pos, length, flags) => this.bufferedBegin(inode, pos, length, flags),
    iomapEnd: (inode, pos, length, written, flags, iomap) => this.bufferedEnd(inode, pos, length, written, flags, iomap),
  };
  readonly readOps: IomapOps = { iomapBegin: (inode, pos, length, flags) => ({ iomap: this.readBegin(inode, pos, length, flags) }) };
  readonly directOps: IomapOps = { iomapBegin: (inode, pos, length, flags) => this.directBegin(inode, pos, length, flags) };
  readonly writeback: WritebackOps = {
    mapBlocks: (inode, pos, dirtyLength) => this.mapBlocks(inode, pos, dirtyLength),
    ioendCompletion: (inode, ioend) => this.ioendCompletion(inode, ioend),
  };
  readonly dio = { endIo: (inode: Inode, completion: DioCompletion) => this.dioEndIo(inode, completion) };

  constructor(readonly ctx: FsContext, deviceBlocks: number) {
    this.geometry = btrfsGeometry(ctx.blockSize, deviceBlocks);
    this.reserved = this.geometry.reserved;
    for (const run of this.reserved) ctx.freeSpace.markUsed(run.start, run.length);
    this.alloc = new BtrfsAllocator(ctx.freeSpace, this.geometry);
    this.transaction = new BtrfsTransaction(ctx, this.geometry);
    this.params = {
      sectorSize: ctx.blockSize,
      nodeSize: this.geometry.nodeBytes,
      dataProfile: 'single',
      metadataProfile: 'single',
      firstDataChunk: this.geometry.firstDataChunk.start,
      dataChunkBlocks: this.geometry.dataChunkBlocks,
      maxInline: BTRFS_MAX_INLINE_BYTES,
      noHoles: true,
    };
  }

  allocIno(_kind: InodeKind, _parentIno: number): number {
    return this.nextIno++;
  }

  initInode(inode: Inode, parentIno: number): void {
    inode.fsPrivate = { items: makeItemMap(), nodatacow: false, nodatasum: false, continuation: undefined, flushOnClose: false, pendingDiskSize: undefined } satisfies BtrfsInodeState;
    this.inodes.set(inode.ino, inode);
    this.transaction.dirtyInode(inode.ino);
    this.transaction.dirtyInode(parentIno);
  }

  // ---- item changes -------------------------------------------------------

  /** btrfs_drop_extents over [start, end) blocks; extents left without a reference are pinned. */
  dropRange(inode: Inode, start: number, end: number): void {
    const state = btrfsState(inode);
    for (const disk of dropItems(state.items, inode.ino, start, end)) this.releaseExtent(disk);
    mirrorToDataFork(inode, state.items, start, end);
    this.transaction.dirtyInode(inode.ino);
  }

  /** The last reference went: the extent is freed at the next commit (pinned until then). */
  private releaseExtent(disk: DiskExtent): void {
    assert(disk.refCount === 0, 'btrfs: releasing a referenced extent', { start: disk.start });
    this.diskExtents.delete(disk.start);
    this.alloc.pin(disk.start, disk.blocks);
    this.ctx.stats.blocksFreed += disk.blocks;
    this.transaction.dirtyExtent(disk.start);
  }

  /** A new disk extent of `reservation` and an item of `kind` mapping file blocks [fileBlock, +count) to it. */
  private placeExtent(inode: Inode, fileBlock: number, start: number, count: number, kind: ItemKind): void {
    const disk: DiskExtent = { start, blocks: count, refs: new Map(), refCount: 0 };
    this.diskExtents.set(start, disk);
    const state = btrfsState(inode);
    this.dropRange(inode, fileBlock, fileBlock + count);
    insertItem(state.items, inode.ino, fileBlock, fileBlock + count, { kind, disk, offset: 0, inline: undefined });
    mirrorToDataFork(inode, state.items, fileBlock, fileBlock + count);
    this.ctx.stats.blocksAllocated += count;
    this.transaction.dirtyExtent(start);
  }

  /** Hint of cow_file_range (btrfs_get_extent_allocation_hint): the extent at the block, else the file's first extent. */
  private allocationHint(inode: Inode, block: number): number {
    const state = btrfsState(inode);
    if (state.continuation && state.continuation.fileBlock === block) return state.continuation.physBlock;
    const here = state.items.find(block);
    if (here?.value.disk) return itemPhys(here);
    for (const item of state.items.entries()) if (item.value.disk) return itemPhys(item);
    return 0;
  }

  /** btrfs_reserve_extent + the item: allocates up to `count` blocks (at least one) for file blocks from `fileBlock`. */
  allocateExtent(inode: Inode, fileBlock: number, count: number, kind: ItemKind, hint: number): { start: number; count: number } {
    const reservation = this.alloc.reserve(count, 1, hint, this.ctx.blockSize);
    this.placeExtent(inode, fileBlock, reservation.start, reservation.count, kind);
    return reservation;
  }

  // ---- mappings -------------------------------------------------------------

  private readBegin(inode: Inode, pos: number, length: number, flags: number): Iomap {
    const items = btrfsState(inode).items;
    if ((flags & IomapOp.Report) !== 0) return reportMapping(inode, items, pos, this.ctx.blockSize, this.maxFileBytes);
    return readMapping(items, pos, length, this.ctx.blockSize, this.maxFileBytes);
  }

  /**
   * btrfs_buffered_write / page_mkwrite: the destination is always delalloc
   * (written out of place at writeback); the old item is the read source for
   * partial blocks. Zeroing (btrfs_truncate_block) goes through the cache only
   * where data is, or dirty data hides a hole.
   */
  private bufferedBegin(inode: Inode, pos: number, length: number, flags: number): IomapPair {
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    const endBlock = Math.max(block + 1, Math.ceil((pos + length) / blockSize));
    const items = btrfsState(inode).items;
    const item = items.find(block);
    this.transaction.dirtyInode(inode.ino);
    if ((flags & IomapOp.Zero) !== 0 && (!item || item.value.kind === ItemKind.Prealloc)) {
      const limit = item ? item.end : (items.findFrom(block)?.start ?? endBlock);
      const dirtyEnd = dirtyRunEnd(inode, block, Math.min(limit, endBlock), blockSize);
      if (dirtyEnd > block) return { iomap: this.delallocMap(block, dirtyEnd, 0) };
      const dirty = nextDirtyBlock(inode, block, Math.min(limit, endBlock), blockSize);
      const stop = dirty >= 0 ? dirty : Math.min(limit, endBlock);
      if (item) return { iomap: itemIomap(item, blockSize, block, Math.max(stop, block + 1)) };
      return { iomap: makeHole(block * blockSize, Math.max(stop - block, 1) * blockSize) };
    }
    if ((flags & IomapOp.Zero) === 0 && this.ctx.faults?.allocationFails('btrfs data space reservation')) {
      // btrfs_check_data_free_space failed: a PREALLOC or NODATACOW range may still be written in place (btrfs_check_nocow_lock).
      if (!this.canNocow(inode, item)) throw new ErrnoError(Errno.ENOSPC, 'btrfs data space reservation (injected)');
      this.ctx.recovery?.path('nocow-fallback');
    }
    if (item) {
      const end = Math.min(item.end, endBlock);
      const srcmap = itemIomap(item, blockSize);
      return { iomap: this.delallocMap(block, end, srcmap.flags & IomapFlag.Shared), srcmap };
    }
    const next = items.findFrom(block);
    const end = Math.min(endBlock, next ? next.start : endBlock);
    this.reserveDelalloc(inode, block, end);
    return { iomap: this.delallocMap(block, end, IomapFlag.New) };
  }

  /**
   * After a short buffered write, the data space reserved for the part not
   * copied goes back at once (btrfs_delalloc_release_space for the unused
   * bytes; seed 002's release in iomap_end). Blocks with dirty data keep theirs.
   */
  private bufferedEnd(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): void {
    if (iomap.type !== IomapType.Delalloc || (flags & IomapOp.Zero) !== 0) return;
    // The reservation is space accounting only (no delalloc records): every block not kept is given back.
    releaseShortWriteDelalloc(this.ctx, inode, pos, length, written, 'reservation-release', () => true);
  }

  private delallocMap(start: number, end: number, flags: number): Iomap {
    const blockSize = this.ctx.blockSize;
    return { offset: start * blockSize, length: (end - start) * blockSize, addr: -1, type: IomapType.Delalloc, flags };
  }

  /** btrfs_check_data_free_space: a write that needs new blocks fails with ENOSPC when none are left. */
  private reserveDelalloc(inode: Inode, start: number, end: number): void {
    if (!this.dataSpaceFits(inode, start, end)) throw new ErrnoError(Errno.ENOSPC, 'btrfs data space reservation');
  }

  /**
   * btrfs_reserve_data_bytes when the reservation does not fit: the data
   * space is reclaimed through data_flush_states before ENOSPC is returned.
   * FLUSH_DELALLOC_FULL writes back every inode's dirty data (its CoW
   * pins the extents it replaces); COMMIT_TRANS commits the transaction,
   * and btrfs_finish_extent_commit returns the pinned extents to free space.
   * (RUN_DELAYED_IPUTS has nothing to do here; ALLOC_CHUNK_FORCE is the
   * chunk allocation the allocator already does on demand.) The reservation
   * in bufferedBegin then decides, as before.
   */
  private reclaimDataSpace(host: FsHost, inode: Inode, pos: number, length: number): void {
    const blockSize = this.ctx.blockSize;
    if (length <= 0 || this.dataSpaceFits(inode, Math.floor(pos / blockSize), Math.ceil((pos + length) / blockSize))) return;
    for (const other of [...this.inodes.values()]) if (other.pages.dirtyCount > 0) host.writebackRange(other, 0, Number.MAX_SAFE_INTEGER);
    if (this.alloc.pinnedBlocks > 0) {
      this.transaction.commit();
      this.alloc.unpinAll();
    }
  }

  /** Whether the data reservation for blocks [start, end) fits: none of them needs a new block, or one is left. */
  private dataSpaceFits(inode: Inode, start: number, end: number): boolean {
    const blockSize = this.ctx.blockSize;
    let needed = 0;
    for (let block = start; block < end && needed === 0; block++) if (!isBlockDirty(inode, block, blockSize)) needed++;
    return needed === 0 || this.alloc.availableBlocks() - this.dirtyBlocksEverywhere() >= needed;
  }

  /** Dirty blocks of every inode: what writeback may still have to allocate. */
  private dirtyBlocksEverywhere(): number {
    let pages = 0;
    for (const inode of this.inodes.values()) pages += inode.pages.dirtyCount;
    return Math.ceil((pages * PAGE_SIZE) / this.ctx.blockSize);
  }

  // ---- writeback ----------------------------------------------------------

  /** Whether run_delalloc_nocow may write the item in place: prealloc or NODATACOW, and not shared. */
  private canNocow(inode: Inode, item: Item | undefined): boolean {
    if (!item?.value.disk || isShared(item.value.disk)) return false;
    return item.value.kind === ItemKind.Prealloc || (btrfsState(inode).nodatacow && item.value.kind === ItemKind.Regular);
  }

  /**
   * The delalloc range at `pos` becomes real: in place over prealloc/NODATACOW
   * items, inline for a small whole file, else a new extent (cow_file_range).
   */
  private mapBlocks(inode: Inode, pos: number, dirtyLength: number): Iomap {
    const blockSize = this.ctx.blockSize;
    const state = btrfsState(inode);
    const block = Math.floor(pos / blockSize);
    const runEnd = block + Math.ceil(dirtyLength / blockSize);
    const item = state.items.find(block);
    if (this.canNocow(inode, item)) {
      const end = Math.min(item!.end, runEnd);
      if (item!.value.kind === ItemKind.Prealloc) {
        setItemKind(state.items, inode.ino, block, end, ItemKind.Regular);
        mirrorToDataFork(inode, state.items, block, end);
      }
      this.transaction.dataWritten(inode.ino, end - block, blockSize, !state.nodatacow);
      return itemIomap(state.items.find(block)!, blockSize, block, end);
    }
    if (block === 0 && this.canInline(inode, runEnd)) return this.storeInline(inode);
    let cowEnd = Math.min(runEnd, block + Math.floor(BTRFS_MAX_EXTENT_BYTES / blockSize));
    // run_delalloc_nocow: the CoW part stops where an extent that can be written in place begins.
    for (const next of state.items.collect(block + 1, cowEnd)) {
      if (this.canNocow(inode, next)) {
        cowEnd = next.start;
        break;
      }
    }
    const overwritten = state.items.collect(block, cowEnd).reduce((sum, piece) => sum + piece.end - piece.start, 0);
    let reservation;
    try {
      reservation = this.allocateExtent(inode, block, cowEnd - block, ItemKind.Regular, this.allocationHint(inode, block));
    } catch (error) {
      if (!(error instanceof ErrnoError)) throw error;
      // A writeback allocation failure: the data of this block is lost (the kernel records the error on the mapping).
      return makeHole(block * blockSize, blockSize);
    }
    state.continuation = { fileBlock: block + reservation.count, physBlock: reservation.start + reservation.count };
    inode.cowBlocks += Math.min(overwritten, reservation.count);
    this.transaction.dataWritten(inode.ino, reservation.count, blockSize, !state.nodatacow);
    return itemIomap(state.items.find(block)!, blockSize, block, block + reservation.count);
  }

  /** can_cow_file_range_inline: offset 0, the whole file within one sector and max_inline, sector == page. */
  private canInline(inode: Inode, runEnd: number): boolean {
    const blockSize = this.ctx.blockSize;
    if (blockSize !== PAGE_SIZE || inode.size === 0 || inode.size > Math.min(BTRFS_MAX_INLINE_BYTES, blockSize)) return false;
    if (runEnd * blockSize < inode.size) return false;
    const item = btrfsState(inode).items.find(0);
    return !item || item.value.kind !== ItemKind.Prealloc;
  }

  /** __cow_file_range_inline: the file's bytes go into an inline item; nothing reaches the data area. */
  private storeInline(inode: Inode): Iomap {
    const blockSize = this.ctx.blockSize;
    const state = btrfsState(inode);
    const lengthBytes = inode.size;
    let bytes: Uint8Array | undefined;
    if (!this.ctx.dataless) {
      const page = inode.pages.get(0);
      assert(page, 'btrfs inline: dirty page 0 vanished');
      bytes = page.data.slice(0, lengthBytes);
    }
    this.dropRange(inode, 0, 1);
    insertItem(state.items, inode.ino, 0, 1, { kind: ItemKind.Inline, disk: undefined, offset: 0, inline: { bytes, lengthBytes } });
    inode.diskContent.copyFrom(inode.content, 0, 0, lengthBytes);
    inode.diskContent.zero(lengthBytes, blockSize - lengthBytes);
    if (inode.diskSize < inode.size) inode.diskSize = inode.size;
    this.transaction.inlineWritten(inode.ino, lengthBytes);
    // The core writes nothing for a hole; the bytes went with the leaf.
    return makeHole(0, blockSize);
  }

  /** Ordered-extent completion: items are in place already; the on-disk size follows. */
  private ioendCompletion(inode: Inode, ioend: Ioend): void {
    const state = btrfsState(inode);
    if (ioend.error) {
      // btrfs_finish_one_ordered with an error: the new file extent is not kept. (The kernel inserts the item only at
      // completion, so the old extent stays; iomapsim inserted it at allocation and drops the range: it reads as a hole.)
      const blockSize = this.ctx.blockSize;
      const start = Math.floor(ioend.offset / blockSize);
      const end = Math.ceil((ioend.offset + ioend.length) / blockSize);
      this.dropRange(inode, start, end);
      inode.diskContent.zero(start * blockSize, (end - start) * blockSize);
      inode.content.zero(start * blockSize, (end - start) * blockSize);
      state.continuation = undefined;
      return;
    }
    let end = Math.min(ioend.offset + ioend.length, inode.size);
    const pending = state.pendingDiskSize;
    const pendingStart = pending ? pending.block * this.ctx.blockSize : 0;
    if (pending && ioend.offset <= pendingStart && ioend.offset + ioend.length > pendingStart) {
      state.pendingDiskSize = undefined;
      end = Math.min(Math.max(end, pending.held, pending.size), inode.size);
    } else if (pending) {
      // The zeroed EOF block is not on disk yet: the on-disk size must not cover its stale tail.
      pending.held = Math.max(pending.held, end);
      end = Math.min(end, pendingStart);
    }
    if (end > inode.diskSize) inode.diskSize = end;
    state.continuation = undefined;
  }

  // ---- direct I/O -------------------------------------------------------------

  /**
   * btrfs_dio_iomap_begin. Reads: holes and prealloc read as holes, inline data
   * is copied. Writes (NODATASUM only): in place over prealloc/NODATACOW, else a
   * new extent for the request, MAPPED.
   */
  private directBegin(inode: Inode, pos: number, length: number, flags: number): IomapPair {
    const blockSize = this.ctx.blockSize;
    const state = btrfsState(inode);
    const block = Math.floor(pos / blockSize);
    const item = state.items.find(block);
    if ((flags & IomapOp.Write) === 0) {
      const map = readMapping(state.items, pos, length, blockSize, this.maxFileBytes);
      if (map.type === IomapType.Unwritten) return { iomap: { ...map, type: IomapType.Hole, addr: -1, flags: 0 } };
      return { iomap: map };
    }
    const endBlock = Math.ceil((pos + length) / blockSize);
    if (this.canNocow(inode, item)) {
      const end = Math.min(item!.end, endBlock);
      if (item!.value.kind === ItemKind.Prealloc) setItemKind(state.items, inode.ino, block, end, ItemKind.Regular);
      mirrorToDataFork(inode, state.items, block, end);
      return { iomap: itemIomap(state.items.find(block)!, blockSize, block, end) };
    }
    if (item?.value.kind === ItemKind.Inline) throw new ErrnoError(Errno.ENOTBLK, 'btrfs direct write over inline data');
    injectEnospc(this.ctx, 'btrfs direct write allocation');
    const made = this.allocateExtent(inode, block, endBlock - block, ItemKind.Regular, this.allocationHint(inode, block));
    this.transaction.dataWritten(inode.ino, made.count, blockSize, false);
    return { iomap: { ...itemIomap(state.items.find(block)!, blockSize, block, block + made.count), flags: IomapFlag.New } };
  }

  private dioEndIo(inode: Inode, completion: DioCompletion): void {
    const end = completion.pos + completion.size;
    if (end > inode.diskSize) inode.diskSize = end;
  }

  /**
   * btrfs_direct_write: with checksums (the default) or an unaligned request,
   * the write is buffered, then the range is written back and its pages
   * invalidated. A NODATASUM inode writes aligned requests directly.
   */
  directWrite(host: FsHost, inode: Inode, pos: number, length: number, source: WriteSource): DirectWriteResult {
    const blockSize = this.ctx.blockSize;
    const aligned = pos % blockSize === 0 && length % blockSize === 0;
    if (btrfsState(inode).nodatasum && aligned) {
      const dioHost = { flushAndInvalidate: (target: Inode, start: number, end: number) => this.flushAndInvalidate(host, target, start, end) };
      const result = iomapDioWrite(this.ctx, dioHost, inode, pos, length, source, this.directOps, this.dio);
      const errno = result.errno === Errno.ENOTBLK ? 0 : result.errno;
      if (errno !== 0 || result.done === length) {
        if (result.done === 0 && errno !== 0) throw new ErrnoError(errno, 'btrfs direct write');
        return { direct: result.done, buffered: 0, errno };
      }
      const content = contentOf(source);
      if (content) inode.content.write(pos, result.done, content);
      const rest = this.bufferedFallback(host, inode, pos + result.done, length - result.done, source);
      this.ctx.recovery?.path('dio-buffered-fallback', { retried: rest });
      return { direct: result.done, buffered: rest, errno: 0 };
    }
    return { direct: 0, buffered: this.bufferedFallback(host, inode, pos, length, source), errno: 0 };
  }

  private bufferedFallback(host: FsHost, inode: Inode, pos: number, length: number, source: WriteSource): number {
    this.bufferedWriteChecks(host, inode, pos, length);
    const written = host.bufferedWrite(inode, pos, length, source);
    // The VFS records what the write put in the file after write_iter returns; the flush below needs it now.
    const content = contentOf(source);
    if (content && written > 0) inode.content.write(pos, written, content);
    this.flushAndInvalidate(host, inode, pos, pos + written);
    this.ctx.stats.dioFallbackBytes += written;
    takeWritebackError(inode, 'btrfs direct write: the buffered write failed to write back');
    return written;
  }

  /**
   * btrfs_write_check: a write starting past EOF first zeroes the old EOF
   * block's tail (btrfs_cont_expand). Before that, the data space the write
   * will reserve is made room for when it is short (reclaimDataSpace).
   */
  bufferedWriteChecks(host: FsHost, inode: Inode, pos: number, length: number): void {
    this.reclaimDataSpace(host, inode, pos, length);
    const blockSize = this.ctx.blockSize;
    const oldSize = inode.size;
    if (pos <= oldSize) return;
    this.contExpand(host, inode, pos);
    const block = Math.floor(oldSize / blockSize);
    if (oldSize % blockSize !== 0 && isBlockDirty(inode, block, blockSize)) {
      btrfsState(inode).pendingDiskSize = { block, size: 0, held: 0 };
    }
  }

  flushAndInvalidate(host: FsHost, inode: Inode, start: number, end: number): void {
    host.writebackRange(inode, start, end);
    host.invalidatePages(inode, start, end);
  }

  /**
   * btrfs_cont_expand before a write or size change past EOF: the block
   * holding the old EOF has its tail zeroed through the cache
   * (btrfs_truncate_block), which dirties it when it holds data.
   */
  contExpand(host: FsHost, inode: Inode, newEnd: number): void {
    const blockSize = this.ctx.blockSize;
    const oldSize = inode.size;
    if (oldSize % blockSize === 0 || newEnd <= oldSize) return;
    const tailEnd = Math.min(newEnd, Math.ceil(oldSize / blockSize) * blockSize);
    host.zeroRange(inode, oldSize, tailEnd - oldSize);
  }

  // ---- size, fallocate, reflink, lifetime -------------------------------------

  fallocate(host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void {
    btrfsFallocate(this, host, inode, mode, pos, length, keepSize);
    this.transaction.dirtyInode(inode.ino);
  }

  /**
   * btrfs_setsize: growing zeroes the old EOF block's tail (btrfs_cont_expand);
   * shrinking drops the cache past EOF without dirtying the EOF block, writes
   * back from the new EOF block (btrfs_wait_ordered_range) and drops the items past it.
   */
  setSize(host: FsHost, inode: Inode, newSize: number): void {
    const blockSize = this.ctx.blockSize;
    if (newSize > this.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'btrfs truncate');
    const oldSize = inode.size;
    this.transaction.dirtyInode(inode.ino);
    if (newSize > oldSize) {
      this.expandTo(host, inode, newSize);
      return;
    }
    // BTRFS_INODE_FLUSH_ON_CLOSE. The VFS also calls this for O_TRUNC of a file it just created, which the kernel skips (FMODE_CREATED).
    if (newSize === 0 && oldSize > 0) btrfsState(inode).flushOnClose = true;
    btrfsState(inode).pendingDiskSize = undefined;
    inode.size = newSize;
    inode.diskSize = newSize;
    host.invalidateRange(inode, newSize, Number.MAX_SAFE_INTEGER);
    if (newSize < oldSize) host.writebackRange(inode, Math.floor(newSize / blockSize) * blockSize, Number.MAX_SAFE_INTEGER);
    this.truncateItems(inode, newSize);
  }

  /**
   * A size change past EOF (truncate up, fallocate, zero range): the old EOF
   * block's tail is zeroed through the cache, and written out before the new
   * size is on disk (the old bytes past EOF are still in that block on disk).
   */
  expandTo(host: FsHost, inode: Inode, newSize: number): void {
    const blockSize = this.ctx.blockSize;
    const oldSize = inode.size;
    if (newSize <= oldSize) return;
    this.contExpand(host, inode, newSize);
    inode.size = newSize;
    const block = Math.floor(oldSize / blockSize);
    if (oldSize % blockSize !== 0 && isBlockDirty(inode, block, blockSize)) {
      // The on-disk size waits for the zeroed block (btrfs_inode_safe_disk_i_size_write): stale bytes stay hidden.
      btrfsState(inode).pendingDiskSize = { block, size: newSize, held: 0 };
      if (inode.diskSize < block * blockSize) inode.diskSize = Math.min(oldSize, block * blockSize);
      return;
    }
    if (inode.diskSize < newSize) inode.diskSize = newSize;
  }

  /** btrfs_truncate_inode_items: items past the new EOF block go; a straddling item shrinks (its extent stays whole); inline data is cut. */
  private truncateItems(inode: Inode, newSize: number): void {
    const blockSize = this.ctx.blockSize;
    const state = btrfsState(inode);
    const firstBlock = Math.ceil(newSize / blockSize);
    this.dropRange(inode, firstBlock, Number.MAX_SAFE_INTEGER);
    const inline = state.items.find(0);
    if (inline?.value.kind === ItemKind.Inline && inline.value.inline && newSize < inline.value.inline.lengthBytes) {
      const data = inline.value.inline;
      data.lengthBytes = newSize;
      data.bytes = data.bytes?.slice(0, newSize);
    }
  }

  /** btrfs_clone: the target's items over the range are dropped, the source's items are cloned (a reference each). */
  reflink(host: FsHost, source: Inode, target: Inode, srcOffset: number, dstOffset: number, length: number): void {
    const blockSize = this.ctx.blockSize;
    const srcBlock = srcOffset / blockSize;
    const dstBlock = dstOffset / blockSize;
    const blocks = Math.ceil(length / blockSize);
    if (dstOffset > target.size) {
      // btrfs_clone_files: cont_expand the target to the destination, then wait for that writeback.
      const writebackStart = Math.floor(target.size / blockSize) * blockSize;
      this.expandTo(host, target, dstOffset);
      host.writebackRange(target, writebackStart, dstOffset);
    }
    const pieces = btrfsState(source).items.collect(srcBlock, srcBlock + blocks);
    this.dropRange(target, dstBlock, dstBlock + blocks);
    const items = btrfsState(target).items;
    for (const piece of pieces) {
      const start = dstBlock + (piece.start - srcBlock);
      if (piece.value.kind === ItemKind.Inline) {
        this.cloneInline(host, target, piece.value, start, length);
        continue;
      }
      insertItem(items, target.ino, start, start + piece.end - piece.start, { ...piece.value });
      this.transaction.dirtyExtent(piece.value.disk!.start);
    }
    mirrorToDataFork(target, items, dstBlock, dstBlock + blocks);
    this.transaction.dirtyInode(target.ino);
  }

  /** clone_copy_inline_extent: inline data clones to offset 0 of a small file, else is copied through the cache. */
  private cloneInline(host: FsHost, target: Inode, value: ItemValue, startBlock: number, length: number): void {
    const data = value.inline!;
    if (startBlock === 0 && Math.max(target.size, length) <= data.lengthBytes) {
      insertItem(btrfsState(target).items, target.ino, 0, 1, { ...value, inline: { bytes: data.bytes?.slice(), lengthBytes: data.lengthBytes } });
      return;
    }
    const bytes = data.bytes ?? new Uint8Array(data.lengthBytes);
    const pos = startBlock * this.ctx.blockSize;
    host.bufferedWrite(target, pos, Math.min(length, data.lengthBytes), { kind: 'buffer', data: bytes, fileOffset: pos });
  }

  /** btrfs_release_file: a file truncated to 0 is flushed on close. */
  release(host: FsHost, inode: Inode, _wasWriter: boolean): void {
    const state = btrfsState(inode);
    if (!state.flushOnClose) return;
    state.flushOnClose = false;
    host.writebackRange(inode, 0, Number.MAX_SAFE_INTEGER);
  }

  evict(_host: FsHost, inode: Inode): void {
    btrfsState(inode).continuation = undefined;
  }

  freeInode(_host: FsHost, inode: Inode): void {
    this.dropRange(inode, 0, Number.MAX_SAFE_INTEGER);
    btrfsState(inode).items.clear();
    this.inodes.delete(inode.ino);
  }

  /** The file's data held inline in its fs-tree leaf (undefined when none). */
  inlineData(inode: Inode): { lengthBytes: number; bytes: Uint8Array | undefined } | undefined {
    const item = btrfsState(inode).items.find(0);
    if (item?.value.kind !== ItemKind.Inline || item.value.inline === undefined) return undefined;
    return { lengthBytes: item.value.inline.lengthBytes, bytes: item.value.inline.bytes };
  }

  /** st_blocks (btrfs_getattr): bytes of the items, inline bytes, plus new delalloc. */
  allocatedBlocks(inode: Inode): number {
    const blockSize = this.ctx.blockSize;
    const items = btrfsState(inode).items;
    let blocks = 0;
    for (const item of items.entries()) {
      blocks += item.value.kind === ItemKind.Inline ? Math.ceil((item.value.inline?.lengthBytes ?? 0) / blockSize) : item.end - item.start;
    }
    if (inode.pages.dirtyCount > 0) {
      for (const index of inode.pages.dirtyIndexesIn(0, Number.MAX_SAFE_INTEGER)) {
        const first = (index * PAGE_SIZE) / blockSize;
        for (let block = first; block < first + Math.max(1, PAGE_SIZE / blockSize); block++) {
          if (isBlockDirty(inode, block, blockSize) && !items.find(block)) blocks++;
        }
      }
    }
    return blocks;
  }

  // ---- metadata, ownership ----------------------------------------------------

  /** fsync (tree log) or sync (transaction commit): tree blocks and super block writes; a commit unpins freed extents. */
  commitMetadata(_host: FsHost, inode: Inode | undefined, reason: MetadataCommitReason): boolean {
    if (reason === 'sync') {
      this.transaction.commit();
      this.alloc.unpinAll();
      return true;
    }
    return this.transaction.logSync(inode!.ino);
  }

  /** Parts of disk extents no item references (bookends) and pinned extents: used space that is no file's data. */
  metadataRuns(): BlockRun[] {
    const runs: BlockRun[] = this.alloc.pinnedRuns();
    const referenced = new Map<number, BlockRun[]>();
    for (const inode of this.inodes.values()) {
      for (const item of btrfsState(inode).items.entries()) {
        if (!item.value.disk) continue;
        const list = referenced.get(item.value.disk.start) ?? [];
        list.push({ start: itemPhys(item), length: item.end - item.start });
        referenced.set(item.value.disk.start, list);
      }
    }
    for (const disk of this.diskExtents.values()) {
      const covered = (referenced.get(disk.start) ?? []).sort((a, b) => a.start - b.start);
      let cursor = disk.start;
      for (const run of covered) {
        if (run.start > cursor) runs.push({ start: cursor, length: run.start - cursor });
        cursor = Math.max(cursor, run.start + run.length);
      }
      if (cursor < disk.start + disk.blocks) runs.push({ start: cursor, length: disk.start + disk.blocks - cursor });
    }
    return runs.sort((a, b) => a.start - b.start);
  }

  /**
   * Every device block has exactly one owner: reserved, free (in a data group
   * or not yet in a chunk), pinned, or one disk extent, whose references equal
   * the items pointing into it; the data fork mirrors the items.
   */
  checkValid(inodes: Iterable<Inode>): void {
    const counted = new Map<DiskExtent, Map<string, number>>();
    for (const inode of inodes) {
      inode.data.checkValid();
      const items = btrfsState(inode).items;
      items.checkValid();
      let dataBlocks = 0;
      for (const item of items.entries()) {
        const disk = item.value.disk;
        if (!disk) continue;
        assert(this.diskExtents.get(disk.start) === disk, 'btrfs: item points to a freed extent', { ino: inode.ino, item: item.start });
        assert(item.value.offset >= 0 && item.value.offset + item.end - item.start <= disk.blocks, 'btrfs: item outside its extent', { ino: inode.ino, item: item.start });
        const refs = counted.get(disk) ?? new Map<string, number>();
        const key = backrefKey(inode.ino, item.start, item.value.offset);
        refs.set(key, (refs.get(key) ?? 0) + 1);
        counted.set(disk, refs);
        dataBlocks += item.end - item.start;
      }
      assert(inode.data.countBlocks() === dataBlocks, 'btrfs: data fork does not mirror the items', { ino: inode.ino, dataBlocks, fork: inode.data.countBlocks() });
    }
    const runs: [number, number, string][] = [];
    for (const run of this.reserved) runs.push([run.start, run.length, 'reserved']);
    for (const [start, length] of this.ctx.freeSpace.freeRuns()) runs.push([start, length, 'free']);
    for (const run of this.alloc.pinnedRuns()) runs.push([run.start, run.length, 'pinned']);
    for (const disk of this.diskExtents.values()) {
      const refs = counted.get(disk);
      assert(refs !== undefined && disk.refCount > 0, 'btrfs: extent without references is still allocated', { start: disk.start });
      assert(refs.size === disk.refs.size && [...refs].every(([key, count]) => disk.refs.get(key) === count), 'btrfs: extent references do not match the items', { start: disk.start, refs: [...disk.refs], items: [...refs] });
      runs.push([disk.start, disk.blocks, `extent ${disk.start}`]);
    }
    runs.sort((a, b) => a[0] - b[0]);
    let cursor = 0;
    for (const [start, length, owner] of runs) {
      assert(start === cursor, start < cursor ? 'btrfs: block with two owners' : 'btrfs: leaked blocks (no owner)', { start, length, owner, cursor });
      cursor = start + length;
    }
    assert(cursor === this.geometry.deviceBlocks, 'btrfs: device blocks do not add up', { cursor, blocks: this.geometry.deviceBlocks });
    let groupFree = 0;
    for (const group of this.alloc.groups) groupFree += group.freeBlocks;
    const unallocated = this.alloc.unallocatedRuns().reduce((sum, run) => sum + run.length, 0);
    assert(groupFree + unallocated === this.ctx.freeSpace.freeBlocks, 'btrfs: free space is not the groups plus unallocated space', { groupFree, unallocated, free: this.ctx.freeSpace.freeBlocks });
    this.alloc.checkValid();
    this.ctx.freeSpace.checkValid();
  }
}

export function createBtrfsPolicy(options: PolicyOptions): FsPolicy {
  return new BtrfsPolicy(options.ctx, options.deviceBlocks);
}

