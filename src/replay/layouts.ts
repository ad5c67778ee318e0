/**
 * Turns the simulated fs into the result model (FIEMAP layouts, as
 * `filefrag`/`xfs_io fiemap` would see them) and into image metadata.
 */
import { ExtentState } from '../extent/extentmap.js';
import type { FiemapExtent } from '../iomap/fiemap.js';
import { IomapType } from '../iomap/types.js';
import type { ContentRange, PersistedInode } from '../image/types.js';
import type { ExtentFlagName, ExtentRecord, FileLayout } from '../report/model.js';
import type { Inode } from '../vfs/inode.js';
import { sameContentSource } from '../vfs/content.js';
import type { Vfs } from '../vfs/vfs.js';

function flagsOf(extent: FiemapExtent): ExtentFlagName[] {
  const flags: ExtentFlagName[] = [];
  if (extent.type === IomapType.Unwritten) flags.push('unwritten');
  if (extent.type === IomapType.Delalloc) flags.push('delalloc');
  if (extent.type === IomapType.Inline) flags.push('inline');
  if (extent.shared) flags.push('shared');
  if (extent.last) flags.push('last');
  return flags;
}

/** One file's FIEMAP layout in filesystem blocks; `withIo` adds the file's write counters. */
export function fileLayout(vfs: Vfs, path: string, inode: Inode, blockSize: number, withIo = false): FileLayout {
  const extents: ExtentRecord[] = vfs.fiemap(inode).map((extent) => ({
    logical: Math.floor(extent.logical / blockSize),
    physical: Math.floor(extent.physical / blockSize),
    length: Math.ceil((extent.logical + extent.length) / blockSize) - Math.floor(extent.logical / blockSize),
    flags: flagsOf(extent),
  }));
  const layout: FileLayout = { path, ino: inode.ino, size: inode.size, allocatedBlocks: vfs.policy.allocatedBlocks(inode), extents };
  if (withIo) layout.io = { deviceBytesWritten: inode.deviceBytesWritten, cowBlocks: inode.cowBlocks };
  return layout;
}

/** Every regular file's layout, sorted by path. */
export function fileLayouts(vfs: Vfs, blockSize: number, withIo = false): FileLayout[] {
  return vfs.files().map(([path, inode]) => fileLayout(vfs, path, inode, blockSize, withIo));
}

/** Files and directories as the image stores them: on-disk extents only (delalloc is memory state). */
export function persistedInodes(vfs: Vfs, blockSize: number): PersistedInode[] {
  const out: PersistedInode[] = [];
  for (const path of vfs.dirs()) {
    out.push({ ino: vfs.dirIno(path)!, path, kind: 'dir', size: 0, extents: [], content: [] });
  }
  for (const [path, inode] of vfs.files()) {
    const extents = [];
    const content: ContentRange[] = [];
    const sizeOnDisk = inode.diskSize;
    // Inline data (kept in the fs's metadata, no extent) is part of the file's on-disk content too.
    const inline = vfs.policy.inlineData?.(inode);
    const inlineEnd = Math.min(inline?.lengthBytes ?? 0, sizeOnDisk);
    if (inlineEnd > 0) content.push(...inode.diskContent.rangesIn(0, inlineEnd));
    for (const extent of inode.data.all()) {
      if (extent.state === ExtentState.Delalloc) continue;
      extents.push({ logical: extent.startBlock, physical: extent.physBlock, length: extent.blockCount, unwritten: extent.state === ExtentState.Unwritten });
      if (extent.state !== ExtentState.Written) continue;
      // Only written blocks return data; what they hold is what reached the device.
      const start = extent.startBlock * blockSize;
      const end = Math.min((extent.startBlock + extent.blockCount) * blockSize, sizeOnDisk);
      if (end > start) content.push(...inode.diskContent.rangesIn(start, end - start));
    }
    const persisted: PersistedInode = { ino: inode.ino, path, kind: 'file', size: sizeOnDisk, extents, content: mergeRanges(content) };
    if (inline !== undefined && inline.lengthBytes > 0) {
      persisted.inline = inline.bytes === undefined ? { lengthBytes: inline.lengthBytes } : { lengthBytes: inline.lengthBytes, bytes: inline.bytes.slice(0, inline.lengthBytes) };
    }
    out.push(persisted);
  }
  return out.sort((a, b) => a.ino - b.ino);
}

/** Joins touching ranges with the same source (extents split them; the image stores them whole). */
function mergeRanges(ranges: ContentRange[]): ContentRange[] {
  const out: ContentRange[] = [];
  for (const range of ranges) {
    const last = out[out.length - 1];
    if (last && last.offset + last.length === range.offset && sameContentSource(last.source, range.source) && JSON.stringify(last.source) === JSON.stringify(range.source)) {
      out[out.length - 1] = { offset: last.offset, length: last.length + range.length, source: last.source };
    } else {
      out.push(range);
    }
  }
  return out;
}
