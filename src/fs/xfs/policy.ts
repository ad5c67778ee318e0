/**
 * The XFS mapping policy: delalloc with speculative post-EOF preallocation
 * for buffered writes (xfs_buffered_write_iomap_begin, xfs_iomap_prealloc_size),
 * whole-record allocation of delalloc as unwritten at writeback
 * (xfs_bmapi_convert_delalloc) converted at I/O completion, unwritten
 * direct-I/O allocation (xfs_direct_write_iomap_begin), the allocator of
 * src/fs/xfs/alloc.ts, post-EOF trimming on the first writable close and at
 * eviction (xfs_free_eofblocks), and reflink with a CoW fork and refcounts
 * (src/fs/xfs/reflink.ts). Records hold at most 2^21 - 1 blocks.
 */
import { ExtentMap, ExtentState, clipExtent, type Extent } from '../../extent/extentmap.js';
import type { BlockRun } from '../../image/types.js';
import type { DioCompletion, IomapOps, Ioend, WritebackOps } from '../../iomap/ops.js';
import type { WriteSource } from '../../iomap/source.js';
import { IomapFlag, IomapOp, IomapType, type Iomap, type IomapPair } from '../../iomap/types.js';
import { PAGE_SIZE } from '../../pagecache/pagecache.js';
import type { FallocMode } from '../../trace/types.js';
import { assert } from '../../util/assert.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { FsContext } from '../../vfs/context.js';
import type { Inode, InodeKind } from '../../vfs/inode.js';
import { convertUnwrittenRange, extentIomap, holeIomap } from '../mapping.js';
import { injectEnospc, isEnospc, punchDataDelalloc, releaseShortWriteDelalloc } from '../recovery.js';
import { POLICY_INTERFACE_VERSION, type DirectWriteResult, type FsHost, type FsPolicy, type MetadataCommitReason, type PolicyOptions } from '../types.js';
import { BusyExtents, XfsAllocator } from './alloc.js';
import { xfsDirectBegin, xfsDirectWrite } from './dio.js';
import { xfsFallocate } from './fallocate.js';
import { inodeBlock, xfsGeometry, type XfsGeometry } from './geometry.js';
import { XfsInodeAllocator } from './inodes.js';
import { XFS_MAX_EXTENT_BLOCKS, xfsPreallocBlocks } from './prealloc.js';
import { RefcountMap } from './refcount.js';
import { cancelCowRange, endCow, foundCow, reserveCow, sharedRun, xfsReflink } from './reflink.js';

/** XFS_ALLOCSIZE default: 64 KiB of speculative preallocation at least. */
export const XFS_DEFAULT_ALLOCSIZE_BYTES = 64 * 1024;
/** Default CoW extent size hint (XFS_DEFAULT_COWEXTSZ_HINT). */
export const XFS_DEFAULT_COWEXTSIZE_BLOCKS = 32;
/** New mappings of buffered and direct writes cover at most 1024 pages. */
export const XFS_MAX_MAPPING_BYTES = 1024 * PAGE_SIZE;
/**
 * Extent records the data fork of a new file holds in the inode (16 bytes
 * each): the kernel (6.18, checked with xfs_db on the corpus mkfs) creates
 * regular files with an attr fork at forkoff 24, leaving 24 * 8 = 192 of the
 * 336 literal bytes to the data fork. The 13th record converts the fork to a
 * bmbt (case 24: 21 records, st_blocks 513 = 512 data + 1 bmbt block).
 */
const XFS_INODE_EXTENT_RECORDS = 12;
/** Header of a long-format btree block (v5, with CRC) and the size of one record / key+pointer. */
const XFS_BTREE_LBLOCK_CRC_BYTES = 72;
const XFS_BMBT_RECORD_BYTES = 16;
/** Key/pointer pairs the in-inode bmbt root holds. */
const XFS_BMDR_ROOT_POINTERS = 20;
/** Bounds on loops over extents and allocation pieces. */
export const XFS_LOOP_MAX = 1 << 22;

export type Fork = 'data' | 'cow';

export interface XfsInodeState {
  /** XFS_EOFBLOCKS_RELEASED: post-EOF blocks were trimmed at a close already. */
  eofblocksReleased: boolean;
  /** XFS_ITRUNCATED: truncated down since the last close. */
  truncated: boolean;
  /** XFS_DIFLAG2_REFLINK: the inode may share blocks (CoW checks apply). */
  reflink: boolean;
  /** Device blocks of the data fork's bmbt once it outgrows the inode. */
  bmbtBlocks: number[];
}

export function xfsState(inode: Inode): XfsInodeState {
  return inode.fsPrivate as XfsInodeState;
}

export function cowFork(inode: Inode): ExtentMap {
  assert(inode.cow !== undefined, 'xfs inode without a CoW fork', { ino: inode.ino });
  return inode.cow;
}

export class XfsPolicy implements FsPolicy {
  readonly name = 'xfs';
  readonly interfaceVersion = POLICY_INTERFACE_VERSION;
  readonly capabilities = { reflink: true, collapseInsert: true, unshare: true };
  readonly extentLimits = { maxWritten: XFS_MAX_EXTENT_BLOCKS, maxUnwritten: XFS_MAX_EXTENT_BLOCKS, maxDelalloc: XFS_MAX_EXTENT_BLOCKS };
  readonly maxFileBytes: number;
  readonly reserved: BlockRun[];
  readonly params: Record<string, string | number | boolean>;
  readonly geometry: XfsGeometry;
  readonly allocator: XfsAllocator;
  readonly refcount = new RefcountMap();
  readonly inodeAllocator: XfsInodeAllocator;
  readonly allocsizeBlocks: number;
  /** Blocks the allocator never hands to delalloc reservations (m_alloc_set_aside + the reserve pool). */
  readonly setAsideBlocks: number;
  /** Delalloc blocks reserved in data and CoW forks (i_delayed_blks summed). */
  private delallocReserved = 0;
  /** Live inodes, for the ENOSPC retry that trims every inode's post-EOF space (xfs_blockgc_free_space). */
  private readonly live = new Map<number, Inode>();
  private readonly inodesWithBmbt = new Set<Inode>();

  readonly bufferedOps: IomapOps = {
    iomapBegin: (inode, pos, length, flags) => this.bufferedBegin(inode, pos, length, flags),
    iomapEnd: (inode, pos, length, written, flags, iomap) => this.bufferedEnd(inode, pos, length, written, flags, iomap),
  };
  readonly readOps: IomapOps = { iomapBegin: (inode, pos, length, flags) => ({ iomap: this.reportMapping(inode, pos, length, flags) }) };
  readonly directOps: IomapOps = { iomapBegin: (inode, pos, length, flags) => xfsDirectBegin(this, inode, pos, length, flags) };
  readonly writeback: WritebackOps = {
    mapBlocks: (inode, pos, dirtyLength) => this.mapBlocks(inode, pos, dirtyLength),
    ioendCompletion: (inode, ioend) => this.ioendCompletion(inode, ioend),
    discardFolio: (inode, pos) => this.punchDelalloc(inode, inode.data, Math.floor(pos / this.ctx.blockSize), Math.ceil((pos + 1) / PAGE_SIZE) * (PAGE_SIZE / this.ctx.blockSize)),
  };
  readonly dio = { endIo: (inode: Inode, completion: DioCompletion) => this.dioEndIo(inode, completion) };

  constructor(readonly ctx: FsContext, deviceBlocks: number) {
    this.geometry = xfsGeometry(ctx.blockSize, deviceBlocks);
    this.reserved = this.geometry.reserved;
    for (const run of this.reserved) ctx.freeSpace.markUsed(run.start, run.length);
    this.allocator = new XfsAllocator(ctx.freeSpace, this.geometry, new BusyExtents());
    this.inodeAllocator = new XfsInodeAllocator(this.geometry, this.allocator);
    this.allocsizeBlocks = Math.max(1, XFS_DEFAULT_ALLOCSIZE_BYTES / ctx.blockSize);
    this.setAsideBlocks = 8 * this.geometry.agCount + Math.min(Math.floor(this.geometry.blocksCount / 20), 8192);
    // s_maxbytes: 2^63 - 1 on 64-bit, beyond what a JS number addresses exactly; 8 EiB - 1 block in blocks fits.
    this.maxFileBytes = Math.min(Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % ctx.blockSize), 2 ** 53 - ctx.blockSize);
    this.params = {
      agBlocks: this.geometry.agBlocks,
      agCount: this.geometry.agCount,
      logStart: this.geometry.logStart,
      logBlocks: this.geometry.logBlocks,
      allocsizeBytes: XFS_DEFAULT_ALLOCSIZE_BYTES,
      cowExtsizeBlocks: XFS_DEFAULT_COWEXTSIZE_BLOCKS,
      reflink: true,
    };
  }

  allocIno(kind: InodeKind, parentIno: number): number {
    return this.inodeAllocator.allocate(kind === 'dir', parentIno);
  }

  initInode(inode: Inode): void {
    inode.fsPrivate = { eofblocksReleased: false, truncated: false, reflink: false, bmbtBlocks: [] } satisfies XfsInodeState;
    inode.cow = new ExtentMap(this.extentLimits);
    this.live.set(inode.ino, inode);
  }

  /** A log force (fsync, fdatasync, sync): busy extents may be reused. The VFS flushes the cache itself. */
  commitMetadata(_host: FsHost, _inode: Inode | undefined, _reason: MetadataCommitReason): boolean {
    this.allocator.busy.clear();
    return false;
  }

  // ---- mappings ---------------------------------------------------------

  /** xfs_bmbt_to_iomap for a whole record. */
  toIomap(extent: Extent, flags = 0): Iomap {
    return extentIomap(extent, this.ctx.blockSize, flags);
  }

  /** A hole from `block` to `holeEndBlock` (or the maximum file size). */
  holeMapping(block: number, holeEndBlock: number): Iomap {
    return holeIomap(block, holeEndBlock, this.ctx.blockSize, this.maxFileBytes);
  }

  /** xfs_read_iomap_begin: the data fork only; REPORT trims at shared boundaries and flags the shared part. */
  reportMapping(inode: Inode, pos: number, _length: number, flags: number): Iomap {
    const block = Math.floor(pos / this.ctx.blockSize);
    const found = inode.data.lookup(block);
    if (!found.extent) return this.holeMapping(block, found.holeEndBlock);
    const extent = found.extent;
    if ((flags & IomapOp.Report) === 0 || extent.state !== ExtentState.Written || this.refcount.size === 0) return this.toIomap(extent);
    const clipped = clipExtent(extent, block, extent.startBlock + extent.blockCount);
    const run = sharedRun(this, clipped);
    return this.toIomap({ ...clipped, blockCount: run.blockCount }, run.shared ? IomapFlag.Shared : 0);
  }

  // ---- delalloc reservations ----------------------------------------------

  /** Blocks new delalloc reservations may take (fdblocks less the set-aside). */
  availableBlocks(): number {
    return this.ctx.freeSpace.freeBlocks - this.delallocReserved - this.setAsideBlocks;
  }

  reserveDelalloc(count: number): void {
    if (count > this.availableBlocks()) throw new ErrnoError(Errno.ENOSPC, 'xfs delalloc reservation');
    this.delallocReserved += count;
  }

  releaseDelalloc(count: number): void {
    this.delallocReserved -= count;
    assert(this.delallocReserved >= 0, 'xfs: delalloc reservation count went negative', { count });
  }

  /** Removes the delalloc records of `fork` in [startBlock, endBlock) and gives their reservation back. */
  punchDelalloc(_inode: Inode, fork: ExtentMap, startBlock: number, endBlock: number): void {
    if (endBlock <= startBlock) return;
    for (const piece of fork.extentsIn(startBlock, endBlock)) {
      if (piece.state !== ExtentState.Delalloc) continue;
      fork.remove(piece.startBlock, piece.blockCount);
      this.releaseDelalloc(piece.blockCount);
    }
  }

  /** Unmaps [startBlock, endBlock) of the data fork: delalloc released, real blocks lose a reference (freed at 0). */
  unmapData(inode: Inode, startBlock: number, endBlock: number): void {
    if (endBlock <= startBlock) return;
    for (const piece of inode.data.remove(startBlock, endBlock - startBlock)) this.dropExtent(piece);
    this.updateBmbt(inode);
  }

  /** Gives back what one removed data-fork extent held. */
  dropExtent(piece: Extent): void {
    if (piece.state === ExtentState.Delalloc) {
      this.releaseDelalloc(piece.blockCount);
      return;
    }
    for (const run of this.refcount.decrease(piece.physBlock, piece.blockCount)) this.freeBlocks(run.start, run.length);
  }

  freeBlocks(start: number, count: number): void {
    this.allocator.freeBlocks(start, count);
    this.ctx.stats.blocksFreed += count;
  }

  // ---- allocation -------------------------------------------------------

  /** ISVALID of xfs_bmap_adjacent: `block` lies in the AG of `reference`. */
  private sameAg(block: number, reference: number): boolean {
    return block >= 0 && block < this.geometry.blocksCount && this.allocator.agOf(block) === this.allocator.agOf(reference);
  }

  /**
   * xfs_bmap_adjacent: at EOF, the end of the previous real extent plus the gap; elsewhere
   * the better of that (gap <= 4 x length) and the next extent's start less the gap;
   * otherwise the inode's own block.
   */
  allocTarget(inode: Inode, fork: ExtentMap, block: number, count: number, eof: boolean, nextExtent: Extent | undefined): number {
    const fallback = inodeBlock(this.geometry, inode.ino);
    const prev = fork.extentBefore(block);
    const prevReal = prev && prev.state !== ExtentState.Delalloc && prev.startBlock + prev.blockCount <= block ? prev : undefined;
    if (eof) {
      if (!prevReal) return fallback;
      const prevEnd = prevReal.physBlock + prevReal.blockCount;
      if (!this.sameAg(prevEnd, prevReal.physBlock)) return fallback;
      const adjusted = prevEnd + (block - (prevReal.startBlock + prevReal.blockCount));
      return this.sameAg(adjusted, prevReal.physBlock) ? adjusted : prevEnd;
    }
    let prevBlock: number | undefined;
    let prevDiff = 0;
    if (prevReal && this.sameAg(prevReal.physBlock + prevReal.blockCount, prevReal.physBlock)) {
      prevBlock = prevReal.physBlock + prevReal.blockCount;
      prevDiff = block - (prevReal.startBlock + prevReal.blockCount);
      if (prevDiff <= 4 * count && this.sameAg(prevBlock + prevDiff, prevReal.physBlock)) prevBlock += prevDiff;
      else prevDiff += prevDiff;
    }
    let gotBlock: number | undefined;
    let gotDiff = 0;
    if (nextExtent && nextExtent.state !== ExtentState.Delalloc) {
      gotDiff = nextExtent.startBlock - block;
      const adjust = gotDiff;
      gotBlock = nextExtent.physBlock;
      if (gotDiff <= 4 * count && this.sameAg(gotBlock - gotDiff, gotBlock)) gotBlock -= adjust;
      else if (this.sameAg(gotBlock - count, gotBlock)) {
        gotBlock -= count;
        gotDiff += adjust - count;
      } else gotDiff += adjust;
    }
    if (prevBlock !== undefined && gotBlock !== undefined) return prevDiff <= gotDiff ? prevBlock : gotBlock;
    return prevBlock ?? gotBlock ?? fallback;
  }

  /**
   * xfs_bmapi_allocate: real blocks for [block, +count) of `fork` in `state`; the range
   * is a hole or (wasdel) the start of a delalloc record. May allocate fewer blocks
   * when free space is fragmented. Returns the extent made. Throws ENOSPC.
   */
  allocateExtent(inode: Inode, fork: ExtentMap, block: number, count: number, state: ExtentState, wasdel: boolean): Extent {
    assert(count > 0, 'xfs allocate: empty request', { block, count });
    const lookupEnd = fork.lookup(block + count);
    const after = lookupEnd.extent ?? (Number.isFinite(lookupEnd.holeEndBlock) ? fork.lookup(lookupEnd.holeEndBlock).extent : undefined);
    const eof = !wasdel && !after;
    const next = wasdel ? undefined : after;
    const target = this.allocTarget(inode, fork, block, count, eof, next);
    const wanted = Math.min(count, XFS_MAX_EXTENT_BLOCKS);
    const result = this.allocator.allocate({ targetBlock: target, maxlen: wanted, minlen: 1, userdata: true });
    if (!result) throw new ErrnoError(Errno.ENOSPC, 'xfs block allocation');
    const removed = fork.replace(block, result.blockCount, result.physBlock, state);
    for (const piece of removed) {
      assert(piece.state === ExtentState.Delalloc, 'xfs: allocation over allocated blocks', piece);
      this.releaseDelalloc(piece.blockCount);
    }
    this.ctx.stats.blocksAllocated += result.blockCount;
    if (fork === inode.data) this.updateBmbt(inode);
    return { startBlock: block, blockCount: result.blockCount, physBlock: result.physBlock, state };
  }

  /**
   * xfs_bmapi_convert_delalloc: allocate the delalloc record of `fork` holding `block`
   * as unwritten, piece by piece from its start until `block` is covered. Returns the
   * real extent holding `block`.
   */
  convertDelalloc(inode: Inode, fork: ExtentMap, block: number): Extent {
    for (let round = 0; round < XFS_LOOP_MAX; round++) {
      const record = fork.lookup(block).extent;
      assert(record, 'xfs convert_delalloc: no extent at block', { block });
      if (record.state !== ExtentState.Delalloc) return record;
      const made = this.allocateExtent(inode, fork, record.startBlock, record.blockCount, ExtentState.Unwritten, true);
      if (made.startBlock + made.blockCount > block) return fork.lookup(block).extent!;
    }
    assert(false, 'xfs convert_delalloc: no progress', { block });
    throw new Error('unreachable');
  }

  // ---- buffered writes ------------------------------------------------------

  /** xfs_file_write_checks: a write starting past EOF first zeroes [EOF, pos). */
  bufferedWriteChecks(host: FsHost, inode: Inode, pos: number): void {
    if (pos > inode.size) host.zeroRange(inode, inode.size, pos - inode.size);
  }

  /** xfs_buffered_write_iomap_begin (see §3.2): data fork, CoW fork, delalloc with EOF preallocation. */
  private bufferedBegin(inode: Inode, pos: number, length: number, flags: number): IomapPair {
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    let endBlock = Math.ceil((pos + length) / blockSize);
    const found = inode.data.lookup(block);
    const dataExtent = found.extent;
    if ((flags & IomapOp.Unshare) !== 0 && !dataExtent) return { iomap: this.holeMapping(block, found.holeEndBlock) };
    if ((flags & IomapOp.Zero) !== 0) {
      const eofBlock = Math.ceil(inode.size / blockSize);
      if (dataExtent?.state === ExtentState.Delalloc && block >= eofBlock) {
        // Zeroing never leaves delalloc past EOF for later writeback to expose: allocate it unwritten.
        return { iomap: this.toIomap(this.convertDelalloc(inode, inode.data, block)) };
      }
      if (block < eofBlock && endBlock > eofBlock) endBlock = eofBlock;
      if (!dataExtent) return { iomap: this.holeMapping(block, found.holeEndBlock) };
      if (dataExtent.state === ExtentState.Delalloc && block < eofBlock) {
        return { iomap: this.toIomap(clipExtent(dataExtent, dataExtent.startBlock, Math.max(eofBlock, block + 1))) };
      }
    }
    const state = xfsState(inode);
    if (state.reflink) {
      const cowExtent = cowFork(inode).lookup(block).extent;
      if (cowExtent) return foundCow(this, inode, block, cowExtent);
    }
    if (dataExtent) {
      if (!state.reflink || ((flags & IomapOp.Zero) !== 0 && dataExtent.state !== ExtentState.Written)) return { iomap: this.toIomap(dataExtent) };
      const trimmed = clipExtent(dataExtent, block, Math.max(endBlock, block + 1));
      const run = sharedRun(this, trimmed);
      if (!run.shared) return { iomap: this.toIomap({ ...trimmed, blockCount: run.blockCount }) };
      // Fork all the shared blocks from the write offset to the end of the shared run.
      const cowExtent = reserveCow(this, inode, block, block + run.blockCount);
      return foundCow(this, inode, block, cowExtent);
    }
    return { iomap: this.reserveDataDelalloc(inode, pos, length, found.holeEndBlock) };
  }

  /** A delalloc reservation over the data-fork hole at pos (capped at 1024 pages), plus EOF preallocation. */
  private reserveDataDelalloc(inode: Inode, pos: number, length: number, holeEndBlock: number): Iomap {
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    const count = Math.min(length, XFS_MAX_MAPPING_BYTES);
    const endBlock = Math.min(Math.ceil((pos + count) / blockSize), holeEndBlock);
    const eof = !Number.isFinite(holeEndBlock);
    let prealloc = 0;
    if (eof && pos + count > inode.size) prealloc = this.preallocBlocks(inode, pos, count, block, endBlock);
    let reserveBlocks = Math.min(endBlock - block + prealloc, XFS_MAX_EXTENT_BLOCKS);
    try {
      injectEnospc(this.ctx, 'xfs delalloc reservation');
      this.reserveDelalloc(reserveBlocks);
    } catch (error) {
      if (!isEnospc(error)) throw error;
      // Retry without preallocation, then once more after trimming every inode's post-EOF space.
      this.ctx.recovery?.path('enospc-retry');
      reserveBlocks = Math.min(endBlock - block, XFS_MAX_EXTENT_BLOCKS);
      if (reserveBlocks > this.availableBlocks()) this.blockgcFreeSpace(inode);
      injectEnospc(this.ctx, 'xfs delalloc reservation (retry after trimming post-EOF space)');
      this.reserveDelalloc(reserveBlocks);
    }
    inode.data.insert(block, reserveBlocks, -1, ExtentState.Delalloc);
    return this.toIomap({ startBlock: block, blockCount: reserveBlocks, physBlock: -1, state: ExtentState.Delalloc }, IomapFlag.New);
  }

  /** Speculative preallocation past the write's end block (xfs_iomap_prealloc_size and the reservation end rounding). */
  private preallocBlocks(inode: Inode, pos: number, count: number, block: number, endBlock: number): number {
    const blockSize = this.ctx.blockSize;
    const previous = (function* (fork: ExtentMap): Generator<Extent> {
      let probe = block;
      for (let steps = 0; steps < XFS_LOOP_MAX; steps++) {
        const extent = fork.extentBefore(probe);
        if (!extent) return;
        yield extent;
        probe = extent.startBlock;
      }
    })(inode.data);
    const preallocBlocks = xfsPreallocBlocks({
      isizeBytes: inode.size,
      blockSize,
      allocsizeBlocks: this.allocsizeBlocks,
      offsetBlock: block,
      previous,
      freeBlocks: this.availableBlocks(),
      dataBlocks: this.geometry.blocksCount,
    });
    if (preallocBlocks === 0) return 0;
    const allocsizeBytes = this.allocsizeBlocks * blockSize;
    const alignedEnd = Math.floor((pos + count - 1) / allocsizeBytes) * allocsizeBytes;
    const preallocEnd = Math.min(Math.floor(alignedEnd / blockSize) + preallocBlocks, Math.floor(this.maxFileBytes / blockSize));
    return Math.max(0, preallocEnd - endBlock);
  }

  /** xfs_blockgc_free_space after ENOSPC: trim the post-EOF space of every other inode. */
  private blockgcFreeSpace(except: Inode): void {
    for (const inode of this.live.values()) {
      if (inode !== except && inode.kind === 'file' && this.canFreeEofblocks(inode)) this.freeEofblocks(inode);
    }
  }

  /**
   * xfs_buffered_write_iomap_end: after a short write, punch the new delalloc of the
   * requested span that no dirty cache covers, and all of it at or past EOF.
   */
  private bufferedEnd(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): void {
    if (iomap.type !== IomapType.Delalloc || (iomap.flags & IomapFlag.New) === 0 || (flags & IomapOp.Zero) !== 0) return;
    releaseShortWriteDelalloc(this.ctx, inode, pos, length, written, 'delalloc-punch', punchDataDelalloc(inode, (block) => this.punchDelalloc(inode, inode.data, block, block + 1)));
  }

  // ---- writeback --------------------------------------------------------

  /** xfs_map_blocks: the CoW fork wins; delalloc is allocated (whole record, unwritten). */
  private mapBlocks(inode: Inode, pos: number, dirtyLength: number): Iomap {
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    const dirtyEnd = Math.ceil((pos + dirtyLength) / blockSize);
    const cow = cowFork(inode);
    const cowFound = cow.lookup(block);
    if (cowFound.extent) {
      let extent = cowFound.extent;
      if (extent.state === ExtentState.Delalloc) extent = this.convertDelalloc(inode, cow, block);
      // xfs_reflink_convert_cow: the blocks about to be written become real before submission.
      const end = Math.min(extent.startBlock + extent.blockCount, dirtyEnd);
      if (extent.state === ExtentState.Unwritten) cow.setState(block, end - block, ExtentState.Written);
      return this.toIomap(clipExtent(cow.lookup(block).extent!, block, end), IomapFlag.Shared);
    }
    let extent = inode.data.lookup(block).extent;
    if (!extent) {
      // Dirty cache over a hole (no reservation made it): reserve and allocate now.
      const count = Math.max(1, Math.min(dirtyEnd, inode.data.lookup(block).holeEndBlock, cowFound.holeEndBlock) - block);
      this.reserveDelalloc(count);
      inode.data.insert(block, count, -1, ExtentState.Delalloc);
      extent = inode.data.lookup(block).extent!;
    }
    if (extent.state === ExtentState.Delalloc) extent = this.convertDelalloc(inode, inode.data, block);
    const limit = Math.min(extent.startBlock + extent.blockCount, cowFound.holeEndBlock);
    return this.toIomap(clipExtent(extent, extent.startBlock, limit));
  }

  /** xfs_end_ioend: CoW remap or unwritten conversion, then the on-disk size. */
  private ioendCompletion(inode: Inode, ioend: Ioend): void {
    if (ioend.error) {
      // xfs_end_ioend with an error: CoW staging blocks are cancelled, unwritten extents stay unwritten, no size update.
      const blockSize = this.ctx.blockSize;
      if (ioend.shared) cancelCowRange(this, inode, Math.floor(ioend.offset / blockSize), Math.ceil((ioend.offset + ioend.length) / blockSize));
      return;
    }
    if (ioend.shared) endCow(this, inode, ioend.offset, ioend.length);
    else if (ioend.unwritten) this.convertUnwritten(inode, ioend.offset, ioend.length);
    const end = Math.min(ioend.offset + ioend.length, inode.size);
    if (end > inode.diskSize) inode.diskSize = end;
  }

  /** xfs_iomap_write_unwritten: the blocks of [pos, pos+length) become written. */
  convertUnwritten(inode: Inode, pos: number, length: number): void {
    this.ctx.stats.unwrittenConversions += convertUnwrittenRange(inode.data, this.ctx.blockSize, pos, length);
    this.updateBmbt(inode);
  }

  // ---- direct I/O -------------------------------------------------------

  /** xfs_dio_write_end_io: CoW remap, unwritten conversion (the core moves the sizes). */
  private dioEndIo(inode: Inode, completion: DioCompletion): void {
    if (completion.cow) endCow(this, inode, completion.pos, completion.size);
    if (completion.unwritten) this.convertUnwritten(inode, completion.pos, completion.size);
  }

  directWrite(host: FsHost, inode: Inode, pos: number, length: number, source: WriteSource): DirectWriteResult {
    return xfsDirectWrite(this, host, inode, pos, length, source);
  }

  // ---- size, fallocate, reflink, lifetime ----------------------------------

  fallocate(host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void {
    xfsFallocate(this, host, inode, mode, pos, length, keepSize);
  }

  /** xfs_setattr_size: zero to the new size (growing) or truncate_page + xfs_itruncate_extents (shrinking). */
  setSize(host: FsHost, inode: Inode, newSize: number): void {
    const blockSize = this.ctx.blockSize;
    if (newSize > this.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'xfs truncate');
    const oldSize = inode.size;
    if (newSize > oldSize) {
      const didZeroing = oldSize % blockSize !== 0 && inode.data.lookup(Math.floor(oldSize / blockSize)).extent !== undefined;
      host.zeroRange(inode, oldSize, newSize - oldSize);
      if (didZeroing) host.writebackRange(inode, inode.diskSize, newSize);
      inode.size = newSize;
      inode.diskSize = newSize;
      return;
    }
    if (newSize < oldSize && newSize % blockSize !== 0) {
      const tailStart = Math.floor(newSize / blockSize) * blockSize;
      const tailEnd = Math.min(oldSize, tailStart + blockSize);
      const tail = inode.data.lookup(tailStart / blockSize).extent;
      // iomap_truncate_page zeroes a written or delalloc block; then i_disk_size..newsize is written back.
      const didZeroing = tail !== undefined && tail.state !== ExtentState.Unwritten;
      host.zeroRange(inode, newSize, tailEnd - newSize);
      if (didZeroing && inode.diskSize < newSize) host.writebackRange(inode, inode.diskSize, newSize);
      // The zeroed tail of a written EOF block goes to disk with the size change, so the block never shows stale bytes.
      if (inode.data.lookup(tailStart / blockSize).extent?.state === ExtentState.Written) host.writebackRange(inode, newSize, tailEnd);
    }
    if (newSize < oldSize) xfsState(inode).truncated = true;
    inode.size = newSize;
    inode.diskSize = newSize;
    host.invalidateRange(inode, newSize, Number.MAX_SAFE_INTEGER);
    const firstBlock = Math.ceil(newSize / blockSize);
    this.unmapData(inode, firstBlock, Number.MAX_SAFE_INTEGER);
    cancelCowRange(this, inode, firstBlock, Number.MAX_SAFE_INTEGER);
  }

  reflink(host: FsHost, source: Inode, target: Inode, srcOffset: number, dstOffset: number, length: number): void {
    xfsReflink(this, host, source, target, srcOffset, dstOffset, length);
  }

  /** xfs_can_free_eofblocks. */
  canFreeEofblocks(inode: Inode): boolean {
    const delayed = inode.data.countExtents(ExtentState.Delalloc) + cowFork(inode).extentCount;
    if (inode.size === 0 && inode.pages.pageCount === 0 && delayed === 0) return false;
    if (inode.preallocFlag && delayed === 0) return false;
    const endBlock = Math.ceil(inode.size / this.ctx.blockSize);
    return delayed > 0 || inode.data.lookup(endBlock).extent !== undefined || Number.isFinite(inode.data.lookup(endBlock).holeEndBlock);
  }

  /** xfs_free_eofblocks: everything past the EOF block goes (only delalloc for PREALLOC files), with the CoW fork there. */
  freeEofblocks(inode: Inode): void {
    const endBlock = Math.ceil(inode.size / this.ctx.blockSize);
    if (inode.preallocFlag) {
      this.punchDelalloc(inode, inode.data, endBlock, Number.MAX_SAFE_INTEGER);
      return;
    }
    this.unmapData(inode, endBlock, Number.MAX_SAFE_INTEGER);
    cancelCowRange(this, inode, endBlock, Number.MAX_SAFE_INTEGER);
  }

  /** xfs_file_release: flush after a truncate; trim post-EOF space on the first writable close. */
  release(host: FsHost, inode: Inode, wasWriter: boolean): void {
    const state = xfsState(inode);
    if (state.truncated) {
      state.truncated = false;
      state.eofblocksReleased = false;
      if (inode.data.countExtents(ExtentState.Delalloc) > 0) host.writebackRange(inode, 0, Number.MAX_SAFE_INTEGER);
    }
    if (inode.nlink > 0 && wasWriter && !state.eofblocksReleased && this.canFreeEofblocks(inode)) {
      state.eofblocksReleased = true;
      this.freeEofblocks(inode);
    }
  }

  /** xfs_inactive on unmount: post-EOF space and every CoW reservation go; the in-core flags are forgotten. */
  evict(_host: FsHost, inode: Inode): void {
    if (inode.kind !== 'file') return;
    if (this.canFreeEofblocks(inode)) this.freeEofblocks(inode);
    // Delalloc without cached pages cannot survive the inode.
    this.punchDelalloc(inode, inode.data, 0, Number.MAX_SAFE_INTEGER);
    cancelCowRange(this, inode, 0, Number.MAX_SAFE_INTEGER);
    const state = xfsState(inode);
    state.eofblocksReleased = false;
    state.truncated = false;
    this.inodeAllocator.resetRotor();
  }

  freeInode(_host: FsHost, inode: Inode): void {
    this.unmapData(inode, 0, Number.MAX_SAFE_INTEGER);
    cancelCowRange(this, inode, 0, Number.MAX_SAFE_INTEGER);
    this.live.delete(inode.ino);
  }

  /** st_blocks: data fork (delalloc included), the CoW fork, and the bmbt blocks. */
  allocatedBlocks(inode: Inode): number {
    return inode.data.countBlocks() + cowFork(inode).countBlocks() + xfsState(inode).bmbtBlocks.length;
  }

  /** Blocks the data fork's bmbt needs: none while the inode holds every record, then leaves and index levels. */
  bmbtBlocksNeeded(records: number): number {
    if (records <= XFS_INODE_EXTENT_RECORDS) return 0;
    const perBlock = Math.floor((this.ctx.blockSize - XFS_BTREE_LBLOCK_CRC_BYTES) / XFS_BMBT_RECORD_BYTES);
    let blocks = 0;
    let level = Math.ceil(records / perBlock);
    for (let depth = 0; depth < 8; depth++) {
      blocks += level;
      if (level <= XFS_BMDR_ROOT_POINTERS) break;
      level = Math.ceil(level / perBlock);
    }
    return blocks;
  }

  /** xfs_bmap_extents_to_btree / btree_to_extents: bmbt blocks follow the real record count, allocated near the inode. */
  updateBmbt(inode: Inode): void {
    const state = xfsState(inode);
    const records = inode.data.extentCount - inode.data.countExtents(ExtentState.Delalloc);
    const needed = this.bmbtBlocksNeeded(records);
    while (state.bmbtBlocks.length > needed) this.freeBlocks(state.bmbtBlocks.pop()!, 1);
    while (state.bmbtBlocks.length < needed) {
      const result = this.allocator.allocate({ targetBlock: inodeBlock(this.geometry, inode.ino), maxlen: 1, minlen: 1, userdata: false });
      if (!result) break; // no room for the btree block: the kernel would fail the transaction; we keep going
      state.bmbtBlocks.push(result.physBlock);
    }
    if (state.bmbtBlocks.length > 0) this.inodesWithBmbt.add(inode);
    else this.inodesWithBmbt.delete(inode);
  }

  /** Inode chunks and bmbt blocks, as runs. */
  metadataRuns(): BlockRun[] {
    const blocks: BlockRun[] = [...this.inodeAllocator.chunkRuns];
    for (const inode of this.inodesWithBmbt) for (const block of xfsState(inode).bmbtBlocks) blocks.push({ start: block, length: 1 });
    blocks.sort((a, b) => a.start - b.start);
    const runs: BlockRun[] = [];
    for (const run of blocks) {
      const last = runs[runs.length - 1];
      if (last && last.start + last.length === run.start) last.length += run.length;
      else runs.push({ ...run });
    }
    return runs;
  }

  checkValid(inodes: Iterable<Inode>): void {
    checkXfsSpace(this, inodes, this.delallocReserved);
  }
}

/**
 * Every device block is exactly one of: free, reserved, fs metadata, CoW staging of one
 * inode, or data of N inode mappings where N > 1 only with a refcount record of N (and
 * then written in each). Delalloc reservations add up. O(extents log extents).
 */
function checkXfsSpace(policy: XfsPolicy, inodes: Iterable<Inode>, delallocReserved: number): void {
  const exclusive: [number, number, string][] = [];
  for (const run of policy.reserved) exclusive.push([run.start, run.length, 'reserved']);
  for (const [start, length] of policy.ctx.freeSpace.freeRuns()) exclusive.push([start, length, 'free']);
  for (const run of policy.metadataRuns()) exclusive.push([run.start, run.length, 'metadata']);
  const events: [number, number][] = [];
  let delalloc = 0;
  for (const inode of inodes) {
    inode.data.checkValid();
    const cow = cowFork(inode);
    cow.checkValid();
    for (const extent of inode.data.all()) {
      if (extent.state === ExtentState.Delalloc) {
        delalloc += extent.blockCount;
        continue;
      }
      events.push([extent.physBlock, 1], [extent.physBlock + extent.blockCount, -1]);
      if (extent.state !== ExtentState.Written) {
        assert(policy.refcount.sharedRunAt(extent.physBlock, extent.physBlock + extent.blockCount).end === extent.physBlock + extent.blockCount && policy.refcount.refcountOf(extent.physBlock) === 1, 'xfs: shared unwritten extent', { ino: inode.ino, extent });
      }
    }
    for (const extent of cow.all()) {
      if (extent.state === ExtentState.Delalloc) delalloc += extent.blockCount;
      else exclusive.push([extent.physBlock, extent.blockCount, `cow ${inode.ino}`]);
    }
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  // Sweep the data mappings into coverage segments: one run per owner count.
  const expectedShared: [number, number, number][] = [];
  let depth = 0;
  let segmentStart = 0;
  for (const [at, delta] of events) {
    if (at > segmentStart && depth > 0) {
      exclusive.push([segmentStart, at - segmentStart, `data x${depth}`]);
      if (depth > 1) {
        const last = expectedShared[expectedShared.length - 1];
        if (last && last[0] + last[1] === segmentStart && last[2] === depth) last[1] += at - segmentStart;
        else expectedShared.push([segmentStart, at - segmentStart, depth]);
      }
    }
    depth += delta;
    segmentStart = at;
  }
  const recorded = [...policy.refcount.records()];
  assert(JSON.stringify(recorded) === JSON.stringify(expectedShared), 'xfs: refcounts do not match the sharing of the data forks', {
    recorded: recorded.slice(0, 8),
    expected: expectedShared.slice(0, 8),
  });
  exclusive.sort((a, b) => a[0] - b[0]);
  let cursor = 0;
  for (const [start, length, owner] of exclusive) {
    assert(start === cursor, start < cursor ? 'xfs: block with two owners' : 'xfs: leaked blocks (no owner)', { start, length, owner, cursor });
    cursor = start + length;
  }
  assert(cursor === policy.ctx.freeSpace.totalBlocks, 'xfs: free space does not add up', { cursor, blocks: policy.ctx.freeSpace.totalBlocks });
  assert(delalloc === delallocReserved, 'xfs: delalloc reservations do not add up', { delalloc, reserved: delallocReserved });
  policy.refcount.checkValid();
  policy.ctx.freeSpace.checkValid();
}

export function createXfsPolicy(options: PolicyOptions): FsPolicy {
  return new XfsPolicy(options.ctx, options.deviceBlocks);
}
