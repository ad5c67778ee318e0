/**
 * The in-memory inode: size, forks, page cache and expected content. What a
 * policy keeps privately rides in `fsPrivate` (like an fs's inode container).
 */
import { ExtentMap, type ExtentLimits } from '../extent/extentmap.js';
import { InodePages, PageAccounting } from '../pagecache/pagecache.js';
import { ContentMap } from './content.js';

export type InodeKind = 'file' | 'dir';

export class Inode {
  /** i_size in bytes (in-memory size). */
  size = 0;
  /** i_disksize: the size the on-disk inode records (advances at writeback/DIO completion). */
  diskSize = 0;
  /** The data fork. */
  readonly data: ExtentMap;
  /** The CoW fork, for policies that have one (XFS). */
  cow: ExtentMap | undefined;
  readonly pages: InodePages;
  /** What the file holds as the user wrote it (the page cache's view). */
  readonly content: ContentMap;
  /** What reached the device (writeback, direct I/O): the content a crash or unmount without sync leaves. */
  readonly diskContent: ContentMap;
  /** Open file handles on this inode, and how many of them can write. */
  openCount = 0;
  writerCount = 0;
  /** Hard links from the namespace; an unlinked inode lives until its last close. */
  nlink = 1;
  /** Bytes this file's writeback, direct writes and sub-block zeroing sent to the device. */
  deviceBytesWritten = 0;
  /**
   * Blocks written out of place over data the file already held on disk: the
   * policy counts them when it remaps a copy-on-write (XFS end_cow, btrfs
   * ordered-extent completion replacing an existing extent).
   */
  cowBlocks = 0;
  /** A writeback error not yet reported (mapping_set_error): the next fsync returns it and clears it. */
  wbError = 0;
  /** Set when fallocate made unwritten space (XFS_DIFLAG_PREALLOC). */
  preallocFlag = false;
  /** Policy-private state. */
  fsPrivate: unknown;

  constructor(
    readonly ino: number,
    readonly kind: InodeKind,
    blockSize: number,
    limits: ExtentLimits,
    accounting?: PageAccounting,
    dataless = false,
  ) {
    this.content = new ContentMap(!dataless);
    this.diskContent = new ContentMap(!dataless);
    this.data = new ExtentMap(limits);
    this.pages = new InodePages(blockSize, accounting);
  }
}
