/**
 * The ext4 mapping policy: ext4_da_* delayed allocation for buffered writes,
 * writeback that allocates unwritten extents and converts them at I/O
 * completion (dioread_nolock), ext4_iomap_begin/ext4_iomap_alloc for direct
 * I/O with the buffered fallback of ext4_dio_write_iter, ext4_setattr size
 * changes, fallocate modes (src/fs/ext4/fallocate.ts) and mballoc
 * (src/fs/ext4/mballoc.ts). Extents hold at most 32768 written / 32767
 * unwritten blocks.
 */
import { JournalLog } from '../../device/model/journal.js';
import { ExtentState, type Extent } from '../../extent/extentmap.js';
import type { BlockRun } from '../../image/types.js';
import { iomapDioWrite } from '../../iomap/direct.js';
import type { DioCompletion, IomapOps, Ioend, WritebackOps } from '../../iomap/ops.js';
import { contentOf, type WriteSource } from '../../iomap/source.js';
import { IomapFlag, IomapOp, IomapType, type Iomap, type IomapPair } from '../../iomap/types.js';
import type { FallocMode } from '../../trace/types.js';
import { assert } from '../../util/assert.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { FsContext } from '../../vfs/context.js';
import type { Inode, InodeKind } from '../../vfs/inode.js';
import { convertUnwrittenRange, extentIomap, holeIomap } from '../mapping.js';
import { injectEnospc, punchDataDelalloc, releaseShortWriteDelalloc, retryAfterEnospc, takeWritebackError, withEnospcRetry } from '../recovery.js';
import { POLICY_INTERFACE_VERSION, type DirectWriteResult, type FsHost, type FsPolicy, type MetadataCommitReason, type PolicyOptions } from '../types.js';
import { ext4Fallocate } from './fallocate.js';
import { EXT4_FLEX_BG_SIZE, ext4Geometry, type Ext4Geometry } from './geometry.js';
import { Ext4Mballoc, InodePaList } from './mballoc.js';

export const EXT4_MAX_WRITTEN_BLOCKS = 32768;
export const EXT4_MAX_UNWRITTEN_BLOCKS = 32767;
/** DIO_MAX_BLOCKS: ext4_iomap_alloc maps at most this many blocks per call. */
const EXT4_DIO_MAX_BLOCKS = 4096;
/** ext4_should_retry_alloc: retries of an allocation that met ENOSPC while free clusters remain. */
const EXT4_ENOSPC_RETRIES = 3;
/** MAX_WRITEPAGES_EXTENT_LEN: writeback maps at most this many blocks at once. */
const EXT4_WRITEBACK_MAX_BLOCKS = 2048;
/** EXT4_FIRST_INO: inodes 1-10 are reserved, 11 is lost+found. */
const EXT4_FIRST_FILE_INO = 12;
/** Extents held in the inode itself before an extent-tree block is needed. */
const EXT4_INODE_EXTENTS = 4;
/** Header of an extent-tree block (struct ext4_extent_header) and the size of one entry. */
const EXT4_EXTENT_HEADER_BYTES = 12;
const EXT4_EXTENT_ENTRY_BYTES = 12;
/** On-disk inode size (mke2fs default) and group descriptor size (64bit feature). */
const EXT4_INODE_BYTES = 256;
const EXT4_GROUP_DESC_BYTES = 64;
/** How many extents the goal and neighbour searches look at on either side. */
const NEIGHBOUR_STEPS_MAX = 64;

/** Blocks an extent tree of `extents` leaf entries needs beyond the inode's own 4 slots. */
export function extentTreeBlocks(extents: number, blockSize: number): number {
  if (extents <= EXT4_INODE_EXTENTS) return 0;
  const perBlock = Math.floor((blockSize - EXT4_EXTENT_HEADER_BYTES) / EXT4_EXTENT_ENTRY_BYTES);
  let blocks = 0;
  let level = Math.ceil(extents / perBlock);
  // Each level's blocks are indexed by the level above, until the inode's slots can hold them.
  for (let depth = 0; depth < 5; depth++) {
    blocks += level;
    if (level <= EXT4_INODE_EXTENTS) break;
    level = Math.ceil(level / perBlock);
  }
  return blocks;
}

export interface Ext4InodeState {
  pas: InodePaList;
  /** Device blocks of the inode's extent tree (index and leaf blocks) once it outgrows the inode. */
  treeBlocks: number[];
  /** EXT4_STATE_DA_ALLOC_CLOSE: flush delalloc on close (auto_da_alloc after truncate). */
  daAllocClose: boolean;
}

export function ext4State(inode: Inode): Ext4InodeState {
  return inode.fsPrivate as Ext4InodeState;
}

export class Ext4Policy implements FsPolicy {
  readonly name = 'ext4';
  readonly interfaceVersion = POLICY_INTERFACE_VERSION;
  readonly capabilities = { reflink: false, collapseInsert: true, unshare: false };
  readonly extentLimits = { maxWritten: EXT4_MAX_WRITTEN_BLOCKS, maxUnwritten: EXT4_MAX_UNWRITTEN_BLOCKS, maxDelalloc: Number.MAX_SAFE_INTEGER };
  readonly maxFileBytes: number;
  readonly reserved: BlockRun[];
  readonly params: Record<string, string | number | boolean>;
  readonly geometry: Ext4Geometry;
  readonly mballoc: Ext4Mballoc;
  private nextIno = EXT4_FIRST_FILE_INO;
  /** Delalloc blocks reserved (i_reserved_data_blocks summed over inodes). */
  private delallocReserved = 0;
  private readonly inodesWithPas = new Set<Ext4InodeState>();
  private readonly inodesWithTrees = new Set<Ext4InodeState>();
  /** jbd2's log (absent without a journal): commits are reported as requests, never written as data. */
  private readonly journal: JournalLog | undefined;
  /** The running transaction: metadata blocks dirtied since the last commit, other than inode-table blocks. */
  private readonly txBlocks = new Set<string>();
  /** Inodes changed in the running transaction; true when the change is one fdatasync must commit (not only timestamps). */
  private readonly txInodes = new Map<number, boolean>();
  /** Journal keys of block bitmaps and group descriptors by group, made once (allocation journals them every time). */
  private readonly bitmapKeys: string[] = [];
  private readonly descriptorKeys: string[] = [];
  /** Journal key of each extent-tree leaf block, made once. */
  private readonly extentKeys = new Map<number, string>();
  /** Scratch extent of lookups on the hot paths (read within the call that filled it). */
  private readonly scratchExtent: Extent = { startBlock: 0, blockCount: 0, physBlock: -1, state: ExtentState.Delalloc };

  readonly bufferedOps: IomapOps = {
    iomapBegin: (inode, pos, length, flags) => {
      try {
        return this.bufferedBegin(inode, pos, length, flags);
      } catch (error) {
        // ext4_da_write_begin: ENOSPC is retried while ext4_should_retry_alloc allows.
        return retryAfterEnospc(this.ctx, error, EXT4_ENOSPC_RETRIES, () => this.availableBlocks() > 0, () => this.bufferedBegin(inode, pos, length, flags));
      }
    },
    iomapEnd: (inode, pos, length, written, flags, iomap) => this.bufferedEnd(inode, pos, length, written, flags, iomap),
  };
  readonly readOps: IomapOps = { iomapBegin: (inode, pos, length) => ({ iomap: this.reportMapping(inode, pos, length) }) };
  readonly directOps: IomapOps = {
    iomapBegin: (inode, pos, length, flags) => this.directBegin(inode, pos, length, flags),
    iomapEnd: (_inode, _pos, _length, written, flags) => {
      // ext4_iomap_end: a direct write that wrote nothing falls back to buffered I/O.
      if ((flags & IomapOp.Write) !== 0 && written === 0) throw new ErrnoError(Errno.ENOTBLK, 'ext4 direct write');
    },
  };
  readonly writeback: WritebackOps = {
    mapBlocks: (inode, pos, dirtyLength) => this.mapBlocks(inode, pos, dirtyLength),
    ioendCompletion: (inode, ioend) => this.ioendCompletion(inode, ioend),
  };
  readonly dio = { endIo: (inode: Inode, completion: DioCompletion) => this.dioEndIo(inode, completion) };

  constructor(readonly ctx: FsContext, deviceBlocks: number) {
    this.geometry = ext4Geometry(ctx.blockSize, deviceBlocks);
    this.reserved = this.geometry.reserved;
    for (const run of this.reserved) ctx.freeSpace.markUsed(run.start, run.length);
    this.mballoc = new Ext4Mballoc(ctx.freeSpace, this.geometry);
    // s_maxbytes for extent files: 2^32 - 1 logical blocks.
    this.maxFileBytes = (2 ** 32 - 1) * ctx.blockSize;
    this.params = {
      blocksPerGroup: this.geometry.blocksPerGroup,
      groups: this.geometry.groupCount,
      flexBgSize: EXT4_FLEX_BG_SIZE,
      journalBlocks: this.geometry.journalBlocks,
      journalStart: this.geometry.journalStart,
      delalloc: true,
      dioreadNolock: true,
    };
    const { journalStart, journalBlocks, blockSize } = this.geometry;
    this.journal = journalBlocks >= 4 ? new JournalLog(ctx.io, { startBlock: journalStart, blockCount: journalBlocks, blockSize }) : undefined;
  }

  allocIno(_kind: InodeKind, _parentIno: number): number {
    return this.nextIno++;
  }

  initInode(inode: Inode, parentIno: number): void {
    const state: Ext4InodeState = { pas: new InodePaList(), treeBlocks: [], daAllocClose: false };
    inode.fsPrivate = state;
    // ext4_new_inode + ext4_add_entry: inode bitmap, descriptor, the new inode, the directory block and inode.
    const group = Math.floor((inode.ino - 1) / this.geometry.inodesPerGroup);
    this.txBlocks.add(`inode-bitmap:${group}`).add(`group-desc:${this.descriptorBlockOf(group)}`).add(`dir:${parentIno}`);
    this.journalInode(inode.ino, true);
    this.journalInode(parentIno, true);
  }

  // ---- journal (timing and statistics only) -------------------------------

  private descriptorBlockOf(group: number): number {
    return Math.floor(group / Math.floor(this.ctx.blockSize / EXT4_GROUP_DESC_BYTES));
  }

  /** ext4_mark_inode_dirty: the inode joins the running transaction (`datasync`: more than timestamps changed). */
  private journalInode(ino: number, datasync: boolean): void {
    if (this.txInodes.get(ino) !== true) this.txInodes.set(ino, datasync);
  }

  /** Block bitmaps and group descriptors of the groups a run of device blocks lies in. */
  private journalBitmaps(physBlock: number, blockCount: number): void {
    const first = this.mballoc.groupOf(physBlock);
    const last = this.mballoc.groupOf(physBlock + blockCount - 1);
    for (let group = first; group <= last; group++) {
      const bitmapKey = (this.bitmapKeys[group] ??= `block-bitmap:${group}`);
      const descriptorKey = (this.descriptorKeys[group] ??= `group-desc:${this.descriptorBlockOf(group)}`);
      this.txBlocks.add(bitmapKey).add(descriptorKey);
    }
  }

  /** Distinct inode-table blocks of the inodes in the running transaction. */
  private inodeTableBlocksInTransaction(): number {
    const inodesPerBlock = Math.floor(this.ctx.blockSize / EXT4_INODE_BYTES);
    const blocks = new Set<number>();
    for (const ino of this.txInodes.keys()) blocks.add(Math.floor((ino - 1) / inodesPerBlock));
    return blocks.size;
  }

  /**
   * ext4_sync_file / ext4_sync_fs -> jbd2 commit of the running transaction: a
   * descriptor, every metadata block dirtied since the last commit, PREFLUSH and
   * the FUA commit block. fsync commits when the inode is in the transaction,
   * fdatasync only when more than its timestamps changed, sync when anything did.
   * Returns whether it committed. Only requests are reported (no data written).
   */
  commitMetadata(_host: FsHost, inode: Inode | undefined, reason: MetadataCommitReason): boolean {
    if (this.journal === undefined || (this.txInodes.size === 0 && this.txBlocks.size === 0)) return false;
    const change = inode === undefined ? undefined : this.txInodes.get(inode.ino);
    if (reason === 'fsync' && change === undefined) return false;
    if (reason === 'fdatasync' && change !== true) return false;
    this.journal.commit(this.txBlocks.size + this.inodeTableBlocksInTransaction());
    this.txBlocks.clear();
    this.txInodes.clear();
    return true;
  }

  // ---- mappings ---------------------------------------------------------

  /** An iomap for extent `extent` (file blocks), as ext4_set_iomap builds it. */
  toIomap(extent: Extent, flags = 0): Iomap {
    return extentIomap(extent, this.ctx.blockSize, flags);
  }

  /** ext4_iomap_begin_report / read: the extent or hole at pos, no allocation. */
  reportMapping(inode: Inode, pos: number, length: number): Iomap {
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    const found = inode.data.lookup(block);
    if (found.extent) return this.toIomap(found.extent);
    return holeIomap(block, found.holeEndBlock, blockSize, Math.max(pos + length, this.maxFileBytes));
  }

  /** ext4_da_map_blocks: existing extents as they are; holes get a delalloc reservation (F_NEW). */
  private bufferedBegin(inode: Inode, pos: number, length: number, flags: number): IomapPair {
    this.journalInode(inode.ino, false); // file_update_time
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    const endBlock = Math.ceil((pos + length) / blockSize);
    const found = this.scratchExtent;
    const holeEndBlock = inode.data.lookupInto(block, found);
    if (holeEndBlock < 0) return { iomap: this.toIomap(found) };
    if ((flags & IomapOp.Zero) !== 0) return { iomap: this.reportMapping(inode, pos, length) };
    injectEnospc(this.ctx, 'ext4 delalloc reservation');
    // ext4_da_reserve_space works block by block: reserve what fits, so the write comes back short, not failed.
    const count = Math.min(Math.min(endBlock, holeEndBlock) - block, Math.max(0, this.availableBlocks()));
    this.reserveDelalloc(Math.max(count, 1));
    inode.data.insert(block, count, -1, ExtentState.Delalloc);
    return { iomap: this.toIomap({ startBlock: block, blockCount: count, physBlock: -1, state: ExtentState.Delalloc }, IomapFlag.New) };
  }

  /**
   * After a short buffered write: the delalloc reserved for blocks that got no
   * dirty data goes back (ext4 releases a reservation with the folio that
   * never became dirty; past EOF the failed write is truncated).
   */
  private bufferedEnd(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): void {
    if (iomap.type !== IomapType.Delalloc || (iomap.flags & IomapFlag.New) === 0 || (flags & IomapOp.Zero) !== 0) return;
    releaseShortWriteDelalloc(
      this.ctx,
      inode,
      pos,
      length,
      written,
      'reservation-release',
      punchDataDelalloc(inode, (block) => {
        inode.data.remove(block, 1);
        this.releaseDelalloc(1);
      }),
    );
  }

  /** ext4_da_reserve_space: fail with ENOSPC when the free space cannot back the reservation. */
  private reserveDelalloc(count: number): void {
    if (this.availableBlocks() < count) throw new ErrnoError(Errno.ENOSPC, 'ext4 delalloc reservation');
    this.delallocReserved += count;
  }

  /** Releases delalloc reservations (allocation at writeback, punch, truncate). */
  releaseDelalloc(count: number): void {
    this.delallocReserved -= count;
    if (!(this.delallocReserved >= 0)) assert(false, 'ext4: delalloc reservation count went negative', { count });
  }

  /** Blocks that new reservations may still take. */
  availableBlocks(): number {
    const fast = this.ctx.freeSpace.freeBlocks - this.delallocReserved;
    if (fast > 1024) return fast;
    return fast + this.mballoc.preallocatedFreeBlocks([...this.inodesWithPas].map((state) => state.pas));
  }

  // ---- allocation -------------------------------------------------------

  /** ext4_ext_find_goal: where the nearest allocated extent would continue; else the inode's goal group. */
  private goalFor(inode: Inode, block: number): number {
    // The nearest allocated extent at or left of block, within 64 extents (delalloc ones skipped).
    const left = inode.data.allocatedBefore(block + 1, NEIGHBOUR_STEPS_MAX);
    if (left) return left.physBlock + (block - left.startBlock);
    return this.inodeGoal(inode);
  }

  /** ext4_inode_to_goal_block: regular files start at the second group of their flex group. */
  private inodeGoal(inode: Inode): number {
    const inodeGroup = Math.floor((inode.ino - 1) / this.geometry.inodesPerGroup);
    const goalGroup = Math.min(this.geometry.groupCount - 1, (inodeGroup & ~(EXT4_FLEX_BG_SIZE - 1)) + 1);
    return goalGroup * this.geometry.blocksPerGroup;
  }

  /** Allocated (non-delalloc) neighbours around `block` for normalisation and merge goals. */
  private neighbours(inode: Inode, block: number): { left?: Extent; right?: Extent } {
    // Each side looks at most 64 extents away, skipping delalloc ones.
    const left = inode.data.allocatedBefore(block, NEIGHBOUR_STEPS_MAX);
    const candidate = inode.data.allocatedFrom(block + 1, NEIGHBOUR_STEPS_MAX);
    const right = candidate && candidate.startBlock > block ? candidate : undefined;
    return { left, right };
  }

  /**
   * ext4_map_blocks(CREATE): allocate up to `count` blocks at `block` (a hole or
   * delalloc run) in `state`. Returns the extent made. Throws ENOSPC.
   */
  allocateBlocks(inode: Inode, block: number, count: number, state: ExtentState, noNormalize: boolean): Extent {
    const maxCount = state === ExtentState.Unwritten ? EXT4_MAX_UNWRITTEN_BLOCKS : EXT4_MAX_WRITTEN_BLOCKS;
    const wanted = Math.min(count, maxCount);
    let result = this.tryAllocate(inode, block, wanted, noNormalize);
    if (!result) {
      // ext4_mb_discard_preallocations, then retry (ext4_should_retry_alloc).
      this.discardAllPreallocations();
      result = this.tryAllocate(inode, block, wanted, noNormalize);
    }
    if (!result) throw new ErrnoError(Errno.ENOSPC, 'ext4 block allocation');
    const removed = inode.data.replace(block, result.blockCount, result.physBlock, state);
    for (const piece of removed) {
      assert(piece.state === ExtentState.Delalloc, 'ext4: allocation over allocated blocks', piece);
      this.releaseDelalloc(piece.blockCount);
    }
    this.ctx.stats.blocksAllocated += result.blockCount;
    this.journalBitmaps(result.physBlock, result.blockCount);
    this.updateExtentTree(inode);
    return { startBlock: block, blockCount: result.blockCount, physBlock: result.physBlock, state };
  }

  private tryAllocate(inode: Inode, block: number, count: number, noNormalize: boolean) {
    const state = ext4State(inode);
    // A preallocation covering the block serves it before anything else is looked at (ext4_mb_use_preallocated).
    if (state.pas.size > 0) {
      const fromPa = this.mballoc.allocateFromInodePa(state.pas, block, count);
      if (fromPa !== undefined) {
        if (state.pas.size > 0) this.inodesWithPas.add(state);
        return fromPa;
      }
    }
    const { left, right } = this.neighbours(inode, block);
    const result = this.mballoc.allocate({
      ino: inode.ino,
      logical: block,
      count,
      isizeBlocks: Math.ceil(inode.size / this.ctx.blockSize),
      openForWrite: inode.writerCount > 0,
      noNormalize,
      goalPhys: this.goalFor(inode, block),
      leftEnd: left ? { logical: left.startBlock + left.blockCount, physical: left.physBlock + left.blockCount } : undefined,
      rightStart: right ? { logical: right.startBlock, physical: right.physBlock } : undefined,
      pas: state.pas,
      mappedAround: () => ({
        leftEnd: left ? left.startBlock + left.blockCount : 0,
        rightStart: right ? right.startBlock : Number.MAX_SAFE_INTEGER,
      }),
    });
    if (state.pas.size > 0) this.inodesWithPas.add(state);
    return result;
  }

  discardInodePreallocations(inode: Inode): void {
    const state = ext4State(inode);
    this.mballoc.discardInodePas(state.pas);
    this.inodesWithPas.delete(state);
  }

  private discardAllPreallocations(): void {
    for (const state of this.inodesWithPas) this.mballoc.discardInodePas(state.pas);
    this.inodesWithPas.clear();
    this.mballoc.discardGroupPas();
  }

  /** Frees the device blocks of extents removed from a file (ext4_free_blocks); delalloc releases its reservation. */
  freeExtents(extents: Extent[]): void {
    for (const extent of extents) {
      if (extent.state === ExtentState.Delalloc) this.releaseDelalloc(extent.blockCount);
      else {
        this.ctx.freeSpace.free(extent.physBlock, extent.blockCount);
        this.ctx.stats.blocksFreed += extent.blockCount;
        this.journalBitmaps(extent.physBlock, extent.blockCount);
      }
    }
  }

  // ---- writeback --------------------------------------------------------

  /** mpage_map_and_submit_extent: delalloc runs (up to 2048 blocks) become unwritten extents. */
  private mapBlocks(inode: Inode, pos: number, dirtyLength: number): Iomap {
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    const holeEndBlock = inode.data.lookupInto(block, this.scratchExtent);
    const extent = holeEndBlock < 0 ? this.scratchExtent : undefined;
    if (extent && extent.state !== ExtentState.Delalloc) return this.toIomap(extent);
    const runBlocks = Math.ceil(dirtyLength / blockSize);
    const available = extent ? extent.startBlock + extent.blockCount - block : Math.min(holeEndBlock, block + runBlocks) - block;
    const count = Math.max(1, Math.min(available, runBlocks, EXT4_WRITEBACK_MAX_BLOCKS));
    if (!extent) this.reserveDelalloc(count); // a dirty block with no reservation (should not happen): reserve now
    if (!extent) inode.data.insert(block, count, -1, ExtentState.Delalloc);
    const made = this.allocateBlocks(inode, block, count, ExtentState.Unwritten, false);
    return this.toIomap(made, IomapFlag.New);
  }

  /** ext4_end_io_rsv_work: convert the written range of unwritten extents; advance i_disksize. */
  private ioendCompletion(inode: Inode, ioend: Ioend): void {
    // ext4_finish_bio / ext4_end_io_end with an error: nothing is converted, i_disksize stays.
    if (ioend.error) return;
    if (ioend.unwritten) this.convertUnwritten(inode, ioend.offset, ioend.length);
    const end = Math.min(ioend.offset + ioend.length, inode.size);
    if (end > inode.diskSize) {
      inode.diskSize = end;
      this.journalInode(inode.ino, true); // ext4_update_disksize
    }
  }

  /** ext4_convert_unwritten_extents over a byte range (blocks it touches). */
  convertUnwritten(inode: Inode, pos: number, length: number): void {
    this.ctx.stats.unwrittenConversions += convertUnwrittenRange(inode.data, this.ctx.blockSize, pos, length);
    this.updateExtentTree(inode);
  }

  // ---- direct I/O -------------------------------------------------------

  /** ext4_iomap_begin for direct I/O: overwrite fast path, else ext4_iomap_alloc (<= 4096 blocks). */
  private directBegin(inode: Inode, pos: number, length: number, flags: number): IomapPair {
    if ((flags & IomapOp.Write) === 0) return { iomap: this.reportMapping(inode, pos, length) };
    this.journalInode(inode.ino, false); // file_update_time
    const blockSize = this.ctx.blockSize;
    const block = Math.floor(pos / blockSize);
    const count = Math.min(Math.ceil((pos + length) / blockSize) - block, EXT4_DIO_MAX_BLOCKS);
    const dirty = pos + length > inode.size ? IomapFlag.Dirty : 0;
    const found = inode.data.lookup(block);
    if (found.extent) {
      assert(found.extent.state !== ExtentState.Delalloc, 'ext4 direct write over delalloc after flush', found.extent);
      return { iomap: this.toIomap(found.extent, dirty) };
    }
    const holeCount = Math.min(count, found.holeEndBlock - block);
    // CREATE at or past EOF gives written blocks; IO_CREATE_EXT inside EOF gives unwritten ones.
    const state = block >= Math.ceil(inode.size / blockSize) ? ExtentState.Written : ExtentState.Unwritten;
    // ext4_iomap_alloc: ENOSPC is retried while ext4_should_retry_alloc allows.
    const made = withEnospcRetry(this.ctx, EXT4_ENOSPC_RETRIES, () => this.availableBlocks() > 0, () => {
      injectEnospc(this.ctx, 'ext4 direct write allocation');
      return this.allocateBlocks(inode, block, holeCount, state, false);
    });
    return { iomap: this.toIomap(made, IomapFlag.New | dirty) };
  }

  /** ext4_dio_write_end_io: convert unwritten blocks of the completed range; i_size follows in the core. */
  private dioEndIo(inode: Inode, completion: DioCompletion): void {
    if (completion.unwritten) this.convertUnwritten(inode, completion.pos, completion.size);
  }

  /**
   * ext4_dio_write_iter: direct I/O, then the rest buffered + written back +
   * invalidated (seed 001). A direct write that extended the file and came
   * back short or failed has the blocks it allocated past the new EOF
   * truncated first (ext4_handle_inode_extension: ext4_truncate_failed_write).
   */
  directWrite(host: FsHost, inode: Inode, pos: number, length: number, source: WriteSource): DirectWriteResult {
    const dioHost = { flushAndInvalidate: (target: Inode, start: number, end: number) => this.flushAndInvalidate(host, target, start, end) };
    const sizeBefore = inode.size;
    const result = iomapDioWrite(this.ctx, dioHost, inode, pos, length, source, this.directOps, this.dio);
    if (inode.size !== sizeBefore) this.journalInode(inode.ino, true);
    if (result.done < length && pos + length > sizeBefore) this.truncateFailedWrite(inode);
    const errno = result.errno === Errno.ENOTBLK ? 0 : result.errno;
    if (errno !== 0 || result.done === length) {
      if (result.done === 0 && errno !== 0) throw new ErrnoError(errno, 'ext4 direct write');
      return { direct: result.done, buffered: 0, errno };
    }
    const restPos = pos + result.done;
    // The VFS records what the write put in the file after write_iter returns; the fallback's read-modify-write
    // and the flush below need the direct part and the buffered part now.
    const content = contentOf(source);
    if (content) inode.content.write(pos, result.done, content);
    const buffered = host.bufferedWrite(inode, restPos, length - result.done, source);
    if (content && buffered > 0) inode.content.write(restPos, buffered, content);
    this.flushAndInvalidate(host, inode, restPos, restPos + buffered);
    this.ctx.stats.dioFallbackBytes += buffered;
    takeWritebackError(inode, 'ext4 direct write: the buffered remainder failed to write back');
    this.ctx.recovery?.path('dio-buffered-fallback', { retried: buffered });
    return { direct: result.done, buffered, errno: 0 };
  }

  /** ext4_truncate_failed_write: blocks past EOF that a failed extending write allocated go. */
  private truncateFailedWrite(inode: Inode): void {
    const firstBlock = Math.ceil(inode.size / this.ctx.blockSize);
    const beyond = inode.data.extentsIn(firstBlock, Number.MAX_SAFE_INTEGER).filter((extent) => extent.state !== ExtentState.Delalloc);
    if (beyond.length === 0) return;
    let blocks = 0;
    for (const extent of beyond) {
      const start = Math.max(extent.startBlock, firstBlock);
      const count = extent.startBlock + extent.blockCount - start;
      blocks += count;
      this.freeExtents(inode.data.remove(start, count));
    }
    this.updateExtentTree(inode);
    this.journalInode(inode.ino, true);
    this.ctx.recovery?.path('eof-trim', { punched: blocks * this.ctx.blockSize });
  }

  flushAndInvalidate(host: FsHost, inode: Inode, start: number, end: number): void {
    host.writebackRange(inode, start, end);
    host.invalidatePages(inode, start, end);
  }

  // ---- size, fallocate, lifetime -----------------------------------------

  fallocate(host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void {
    // ext4_alloc_file_blocks: ENOSPC is retried while ext4_should_retry_alloc allows.
    withEnospcRetry(this.ctx, EXT4_ENOSPC_RETRIES, () => this.availableBlocks() > 0, () => {
      if (mode === 'allocate' || mode === 'zero') injectEnospc(this.ctx, 'ext4 fallocate allocation');
      ext4Fallocate(this, host, inode, mode, pos, length, keepSize);
    });
    this.journalInode(inode.ino, true);
  }

  /** ext4_setattr(ATTR_SIZE): truncate_page + truncate_pagecache + ext4_truncate; growing only sets i_size. */
  setSize(host: FsHost, inode: Inode, newSize: number): void {
    const blockSize = this.ctx.blockSize;
    if (newSize > this.maxFileBytes) throw new ErrnoError(Errno.EFBIG, 'ext4 truncate');
    const oldSize = inode.size;
    this.journalInode(inode.ino, true);
    if (newSize < oldSize) {
      // ext4_block_truncate_page: zero the tail of the new EOF block in the cache. In data=ordered mode that block
      // is ordered data of the truncate's transaction (ext4_jbd2_inode_add_write): on disk before the size commits.
      const tailEnd = Math.min(oldSize, Math.ceil(newSize / blockSize) * blockSize);
      host.zeroRange(inode, newSize, tailEnd - newSize);
      // Only a mapped (written) block is ordered data; a delalloc or unwritten one has nothing stale on disk.
      const tail = tailEnd > newSize ? inode.data.extentAt(Math.floor(newSize / blockSize)) : undefined;
      if (tail?.state === ExtentState.Written) host.writebackRange(inode, newSize, tailEnd);
    }
    // ext4_truncate: truncating to zero arms auto_da_alloc (flush on close).
    if (newSize === 0) ext4State(inode).daAllocClose = true;
    inode.size = newSize;
    // ext4_setattr: i_disksize follows a truncate either way (extending is a metadata-only change).
    inode.diskSize = newSize;
    if (newSize <= oldSize) {
      host.invalidateRange(inode, newSize, Number.MAX_SAFE_INTEGER);
      const firstBlock = Math.ceil(newSize / blockSize);
      this.freeExtents(inode.data.remove(firstBlock, Number.MAX_SAFE_INTEGER - firstBlock));
      this.discardInodePreallocations(inode);
      this.updateExtentTree(inode);
    }
  }

  reflink(): void {
    throw new ErrnoError(Errno.EOPNOTSUPP, 'ext4 remap_file_range');
  }

  /** ext4_release_file: auto_da_alloc flush, and PA discard by the last writer with no delalloc left. */
  release(host: FsHost, inode: Inode, wasWriter: boolean): void {
    const state = ext4State(inode);
    if (state.daAllocClose) {
      state.daAllocClose = false;
      host.writebackRange(inode, 0, Number.MAX_SAFE_INTEGER);
    }
    if (wasWriter && inode.writerCount === 0 && inode.data.countBlocks(ExtentState.Delalloc) === 0) this.discardInodePreallocations(inode);
  }

  /** ext4_evict_inode / clear_inode: preallocations go back. */
  evict(_host: FsHost, inode: Inode): void {
    this.discardInodePreallocations(inode);
  }

  /** Frees every block of a deleted inode. */
  freeInode(_host: FsHost, inode: Inode): void {
    this.txBlocks.add(`inode-bitmap:${Math.floor((inode.ino - 1) / this.geometry.inodesPerGroup)}`);
    this.journalInode(inode.ino, true);
    this.discardInodePreallocations(inode);
    this.freeExtents(inode.data.remove(0, Number.MAX_SAFE_INTEGER));
    this.updateExtentTree(inode);
  }

  /** i_blocks + reserved delalloc (ext4_getattr), plus one extent-tree block past 4 extents. */
  allocatedBlocks(inode: Inode): number {
    return inode.data.countBlocks() + ext4State(inode).treeBlocks.length;
  }

  /**
   * The extent tree's own blocks: none while the inode's 4 slots hold every extent,
   * then leaf blocks of (blocksize-12)/12 entries and index levels above them
   * (ext4_ext_grow_indepth, ext4_ext_split). Blocks come first fit from the
   * inode's goal group (ext4_ext_new_meta_block); they go when no extent is left.
   */
  updateExtentTree(inode: Inode): void {
    const state = ext4State(inode);
    const onDisk = inode.data.extentCount - inode.data.countExtents(ExtentState.Delalloc);
    if (onDisk === 0) {
      for (const block of state.treeBlocks) this.ctx.freeSpace.free(block, 1);
      state.treeBlocks.length = 0;
      this.inodesWithTrees.delete(state);
      return;
    }
    const needed = extentTreeBlocks(onDisk, this.ctx.blockSize);
    const goalGroup = this.mballoc.groupOf(this.inodeGoal(inode));
    while (state.treeBlocks.length < needed) {
      const block = this.mballoc.allocateMeta(goalGroup);
      if (block < 0) break; // no room for the tree block: the kernel would fail the allocation; we keep going
      state.treeBlocks.push(block);
      this.inodesWithTrees.add(state);
    }
    // Journal: the inode, and the leaf an extent change lands in (the last one, where appends go).
    this.journalInode(inode.ino, true);
    if (state.treeBlocks.length > 0) {
      const leaf = state.treeBlocks[state.treeBlocks.length - 1]!;
      let key = this.extentKeys.get(leaf);
      if (key === undefined) this.extentKeys.set(leaf, (key = `extent:${leaf}`));
      this.txBlocks.add(key);
    }
  }

  /** Extent-tree blocks of every inode, as runs (fs metadata for the image). */
  metadataRuns(): BlockRun[] {
    const blocks: number[] = [];
    for (const state of this.inodesWithTrees) blocks.push(...state.treeBlocks);
    blocks.sort((a, b) => a - b);
    const runs: BlockRun[] = [];
    for (const block of blocks) {
      const last = runs[runs.length - 1];
      if (last && last.start + last.length === block) last.length++;
      else runs.push({ start: block, length: 1 });
    }
    return runs;
  }

  /** Every device block is exactly one of: free, fs metadata, file data, held by a preallocation. */
  checkValid(inodes: Iterable<Inode>): void {
    const runs: [number, number, string][] = [];
    for (const run of this.reserved) runs.push([run.start, run.length, 'reserved']);
    for (const [start, length] of this.ctx.freeSpace.freeRuns()) runs.push([start, length, 'free']);
    let delalloc = 0;
    const allPas: InodePaList[] = [];
    for (const inode of inodes) {
      inode.data.checkValid();
      for (const extent of inode.data.all()) {
        if (extent.state === ExtentState.Delalloc) delalloc += extent.blockCount;
        else runs.push([extent.physBlock, extent.blockCount, `ino ${inode.ino}`]);
      }
      allPas.push(ext4State(inode).pas);
    }
    for (const [start, length] of this.mballoc.heldRuns(allPas)) runs.push([start, length, 'prealloc']);
    for (const run of this.metadataRuns()) runs.push([run.start, run.length, 'extent tree']);
    runs.sort((a, b) => a[0] - b[0]);
    let cursor = 0;
    for (const [start, length, owner] of runs) {
      assert(start === cursor, start < cursor ? 'ext4: block with two owners' : 'ext4: leaked blocks (no owner)', { start, length, owner, cursor });
      cursor = start + length;
    }
    assert(cursor === this.geometry.blocksCount, 'ext4: free space does not add up', { cursor, blocks: this.geometry.blocksCount });
    assert(delalloc === this.delallocReserved, 'ext4: delalloc reservations do not add up', { delalloc, reserved: this.delallocReserved });
    this.ctx.freeSpace.checkValid();
  }
}

export function createExt4Policy(options: PolicyOptions): FsPolicy {
  return new Ext4Policy(options.ctx, options.deviceBlocks);
}
