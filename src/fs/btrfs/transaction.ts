/**
 * What btrfs writes besides data, for timing and statistics only (no bytes
 * reach the simulated device, layouts do not change): the running
 * transaction's dirty tree leaves (fs tree, extent tree, csum tree, free
 * space tree) written as 16 KiB nodes into the metadata chunk at commit
 * (btrfs_commit_transaction), then the super block with PREFLUSH|FUA; an
 * fsync writes the inode's log tree leaf and the log root, then the super
 * block (btrfs_sync_log). Data checksums are 4 bytes of crc32c per sector
 * (btrfs_csum_one_bio), stored in csum-tree leaves.
 */
import type { FsContext } from '../../vfs/context.js';
import type { BtrfsGeometry } from './geometry.js';

const CSUM_BYTES_PER_SECTOR = 4;
/** Inodes (inode item + refs + extent items) sharing one fs-tree leaf, roughly. */
const INODES_PER_LEAF = 8;
/** Extent items per extent-tree leaf, roughly (EXTENT_ITEM + inline ref ~ 53 bytes + 25 of item header). */
const EXTENT_ITEMS_PER_LEAF = 200;
/** Super block (primary copy). */
const SUPER_BLOCK_BYTES = 4096;
const SUPER_BLOCK_ADDR = 64 * 1024;

export class BtrfsTransaction {
  private readonly leaves = new Set<string>();
  /** Inodes changed since their last log sync. */
  private readonly loggable = new Set<number>();
  private csumBytesPending = 0;
  /** Next node slot in the metadata chunk (tree blocks are CoW: every write goes to a new node). */
  private nodeCursor = 0;
  commits = 0;
  logSyncs = 0;

  constructor(
    private readonly ctx: FsContext,
    private readonly geometry: BtrfsGeometry,
  ) {}

  dirtyInode(ino: number): void {
    this.leaves.add(`fs:${Math.floor(ino / INODES_PER_LEAF)}`);
    this.loggable.add(ino);
  }

  dirtyExtent(start: number): void {
    this.leaves.add(`extent:${Math.floor(start / EXTENT_ITEMS_PER_LEAF)}`);
    this.leaves.add(`free-space:${Math.floor(start / 32768)}`);
  }

  /** Data of `blocks` blocks written: checksums computed (unless NODATASUM) and the inode's items changed. */
  dataWritten(ino: number, blocks: number, blockSize: number, withChecksums: boolean): void {
    this.dirtyInode(ino);
    if (!withChecksums) return;
    const sectors = Math.ceil((blocks * blockSize) / Math.min(blockSize, 4096));
    const bytes = sectors * CSUM_BYTES_PER_SECTOR;
    this.ctx.stats.checksumBytes += bytes;
    this.csumBytesPending += bytes;
  }

  inlineWritten(ino: number, _lengthBytes: number): void {
    this.dirtyInode(ino);
  }

  private writeNodes(count: number): void {
    const nodeBytes = this.geometry.nodeBytes;
    const blockSize = this.geometry.blockSize;
    const chunkBytes = this.geometry.metadataChunk.length * blockSize;
    const slots = Math.max(1, Math.floor(chunkBytes / nodeBytes));
    for (let i = 0; i < count; i++) {
      const addr = this.geometry.metadataChunk.start * blockSize + (this.nodeCursor % slots) * nodeBytes;
      this.ctx.io.submit({ direction: 'write', cause: 'metadata', addrBytes: addr, lengthBytes: nodeBytes });
      this.ctx.stats.metadataBytesWritten += nodeBytes;
      this.nodeCursor++;
    }
  }

  private writeSuper(): void {
    this.ctx.io.submit({ direction: 'flush', cause: 'flush', addrBytes: 0, lengthBytes: 0 });
    this.ctx.io.submit({ direction: 'write', cause: 'metadata', addrBytes: SUPER_BLOCK_ADDR, lengthBytes: SUPER_BLOCK_BYTES, fua: true });
    this.ctx.stats.metadataBytesWritten += SUPER_BLOCK_BYTES;
  }

  /** btrfs_commit_transaction: every dirty leaf (plus the root tree's) and the super block. */
  commit(): void {
    const csumLeaves = Math.ceil(this.csumBytesPending / this.geometry.nodeBytes);
    const nodes = this.leaves.size + csumLeaves + (this.leaves.size > 0 ? 1 : 0);
    this.writeNodes(nodes);
    this.writeSuper();
    this.leaves.clear();
    this.loggable.clear();
    this.csumBytesPending = 0;
    this.commits++;
  }

  /** btrfs_sync_file via the tree log: false when the inode has nothing to log (the VFS then only flushes). */
  logSync(ino: number): boolean {
    if (!this.loggable.has(ino)) return false;
    this.loggable.delete(ino);
    this.writeNodes(2);
    this.writeSuper();
    this.logSyncs++;
    return true;
  }
}
