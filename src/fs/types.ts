/**
 * The mapping-policy interface every filesystem model implements (one object
 * per run, made by a registered factory). The iomap core sees only the ops
 * tables; the VFS calls the fs-level hooks (write_iter for O_DIRECT,
 * fallocate, setattr size, remap_file_range, release, evict).
 */
import type { ExtentLimits } from '../extent/extentmap.js';
import type { BlockRun } from '../image/types.js';
import type { DioOps, IomapOps, WritebackOps } from '../iomap/ops.js';
import type { WriteSource } from '../iomap/source.js';
import type { FallocMode } from '../trace/types.js';
import type { FsContext } from '../vfs/context.js';
import type { Inode, InodeKind } from '../vfs/inode.js';

/** Interface version a policy declares; the registry refuses others. */
export const POLICY_INTERFACE_VERSION = 1;

export interface PolicyCapabilities {
  reflink: boolean;
  collapseInsert: boolean;
  unshare: boolean;
}

/** What the VFS offers a policy (page-cache flush/invalidate and buffered I/O helpers). */
export interface FsHost {
  readonly ctx: FsContext;
  /** filemap_write_and_wait_range over [start, end). */
  writebackRange(inode: Inode, start: number, end: number): void;
  /** truncate_pagecache_range: drop whole cached pages in [start, end) and zero the range in partial ones. */
  invalidateRange(inode: Inode, start: number, end: number): void;
  /** invalidate_inode_pages2_range: drop every page overlapping [start, end) (after writeback). */
  invalidatePages(inode: Inode, start: number, end: number): void;
  /** iomap_zero_range through the policy's buffered ops. */
  zeroRange(inode: Inode, pos: number, length: number): void;
  /** A buffered write through the page cache (the DIO fallback path). */
  bufferedWrite(inode: Inode, pos: number, length: number, source: WriteSource): number;
}

/** How a direct write went: bytes written directly, bytes that fell back to buffered I/O, and the errno if short. */
export interface DirectWriteResult {
  direct: number;
  buffered: number;
  errno: number;
}

export interface FsPolicy {
  readonly name: string;
  readonly interfaceVersion: number;
  readonly capabilities: PolicyCapabilities;
  readonly extentLimits: ExtentLimits;
  /** s_maxbytes. */
  readonly maxFileBytes: number;
  /** Device blocks the filesystem keeps for itself. */
  readonly reserved: BlockRun[];
  /** Geometry and tunables, recorded in the image. */
  readonly params: Record<string, string | number | boolean>;

  /** Inode number for a new file or directory in `parentIno`. */
  allocIno(kind: InodeKind, parentIno: number): number;
  /** Called once a new inode exists (policy-private state). */
  initInode(inode: Inode, parentIno: number): void;

  /** Buffered write, page fault and zeroing (iomap_ops of the page-cache path). */
  readonly bufferedOps: IomapOps;
  /** Reads, FIEMAP and seek (REPORT). */
  readonly readOps: IomapOps;
  /** Direct I/O. */
  readonly directOps: IomapOps;
  readonly writeback: WritebackOps;
  readonly dio: DioOps;

  /** The fs's O_DIRECT write_iter (alignment rules, fallbacks). */
  directWrite(host: FsHost, inode: Inode, pos: number, length: number, source: WriteSource): DirectWriteResult;
  /**
   * Optional: the fs's checks before a buffered write of [pos, pos+length) (xfs_file_write_checks:
   * zero the range between the old EOF and pos). Called by the VFS before the page-cache write.
   */
  bufferedWriteChecks?(host: FsHost, inode: Inode, pos: number, length: number): void;
  /** fallocate(2). Throws ErrnoError (EOPNOTSUPP, EINVAL, ENOSPC). */
  fallocate(host: FsHost, inode: Inode, mode: FallocMode, pos: number, length: number, keepSize: boolean): void;
  /** Truncate to `newSize` (the setattr path): zero the partial block, free blocks past it. */
  setSize(host: FsHost, inode: Inode, newSize: number): void;
  /** remap_file_range (FICLONE/FICLONERANGE). Throws ErrnoError EOPNOTSUPP where unsupported. */
  reflink(host: FsHost, source: Inode, target: Inode, srcOffset: number, dstOffset: number, length: number): void;
  /** ->release of a file handle; `wasWriter` when the handle could write. */
  release(host: FsHost, inode: Inode, wasWriter: boolean): void;
  /** Eviction from memory (unmount, drop of the last reference): drop in-memory reservations. */
  evict(host: FsHost, inode: Inode): void;
  /** Frees every block of an inode that is being deleted. */
  freeInode(host: FsHost, inode: Inode): void;
  /** Device blocks of per-file metadata (extent-tree blocks): fs metadata in the image, not free. */
  metadataRuns?(): BlockRun[];
  /**
   * Optional: the file's data held inline in the fs's metadata (btrfs inline
   * extents) from offset 0, not in any data extent: its length and, unless the
   * run keeps no data, its bytes. Undefined when the file has none.
   */
  inlineData?(inode: Inode): { lengthBytes: number; bytes: Uint8Array | undefined } | undefined;
  /** Blocks allocated to the inode (st_blocks in fs blocks): data, past-EOF and reservations that count. */
  allocatedBlocks(inode: Inode): number;
  /** Policy-wide invariants (free space adds up against every inode's extents). */
  checkValid(inodes: Iterable<Inode>): void;
  /**
   * Optional: after the data writeback of fsync (`inode`), fdatasync, O_SYNC/O_DSYNC
   * writes or sync(2) (`inode` undefined), report the metadata/journal writes the fs
   * makes durable (a jbd2 commit) through ctx.io. Returns true when it did and ended
   * them with a cache flush; false when there was nothing to commit (the VFS then
   * flushes the cache itself). It must not write device data or change an
   * existing layout; it may release what a commit releases in the kernel (XFS
   * busy extents, btrfs pinned extents become reusable), which affects where
   * later allocations land.
   */
  commitMetadata?(host: FsHost, inode: Inode | undefined, reason: MetadataCommitReason): boolean;
}

/** Why the VFS asks the policy for a metadata commit. */
export type MetadataCommitReason = 'fsync' | 'fdatasync' | 'sync';

/** Options a policy factory receives. */
export interface PolicyOptions {
  ctx: FsContext;
  deviceBlocks: number;
}

export type PolicyFactory = (options: PolicyOptions) => FsPolicy;
