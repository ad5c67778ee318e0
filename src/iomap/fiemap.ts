/**
 * FIEMAP (fs/iomap/fiemap.c): one extent per non-hole mapping of a REPORT
 * walk, the last one flagged LAST. The walk covers the whole possible file
 * (s_maxbytes), so post-EOF extents are reported.
 */
import type { Inode } from '../vfs/inode.js';
import { iomapIterate } from './iter.js';
import type { IomapOps } from './ops.js';
import { IomapFlag, IomapOp, IomapType } from './types.js';

/** One fiemap extent in bytes (struct fiemap_extent). */
export interface FiemapExtent {
  logical: number;
  /** 0 for delalloc and inline. */
  physical: number;
  length: number;
  type: IomapType;
  shared: boolean;
  merged: boolean;
  last: boolean;
}

/** Maps a file for FIEMAP. Throws ErrnoError if the fs fails before the first extent. O(mappings). */
export function iomapFiemap(inode: Inode, ops: IomapOps, maxBytes: number): FiemapExtent[] {
  const extents: FiemapExtent[] = [];
  iomapIterate(inode, 0, maxBytes, IomapOp.Report, ops, (iter) => {
    const map = iter.iomap;
    if (map.type !== IomapType.Hole) {
      const physical = map.type === IomapType.Delalloc || map.type === IomapType.Inline ? 0 : map.addr + (iter.pos - map.offset);
      extents.push({
        logical: iter.pos,
        physical,
        length: iter.length,
        type: map.type,
        shared: (map.flags & IomapFlag.Shared) !== 0,
        merged: (map.flags & IomapFlag.Merged) !== 0,
        last: false,
      });
    }
    return iter.length;
  });
  if (extents.length > 0) extents[extents.length - 1]!.last = true;
  return extents;
}
