/**
 * SEEK_DATA / SEEK_HOLE (fs/iomap/seek.c). Unwritten extents count as data
 * only where the page cache has uptodate blocks.
 */
import { Errno, ErrnoError } from '../util/errno.js';
import { PAGE_SIZE } from '../pagecache/pagecache.js';
import type { Inode } from '../vfs/inode.js';
import { iomapIterate } from './iter.js';
import type { IomapOps } from './ops.js';
import { IomapOp, IomapType } from './types.js';

/** First offset in [pos, end) whose block is (want=true) or is not (want=false) uptodate in the cache; -1 if none. */
function scanUptodate(inode: Inode, pos: number, end: number, blockSize: number, want: boolean): number {
  let at = Math.floor(pos / blockSize) * blockSize;
  while (at < end) {
    const page = inode.pages.get(Math.floor(at / PAGE_SIZE));
    const bit = Math.floor((at % PAGE_SIZE) / blockSize);
    const uptodate = !!page && (page.uptodate & (1 << bit)) !== 0;
    if (uptodate === want) return Math.max(at, pos);
    at += blockSize;
  }
  return -1;
}

/** iomap_seek_data. */
export function iomapSeekData(inode: Inode, pos: number, ops: IomapOps, blockSize: number): number {
  const size = inode.size;
  if (pos < 0 || pos >= size) throw new ErrnoError(Errno.ENXIO, 'SEEK_DATA');
  let found = -1;
  iomapIterate(inode, pos, size - pos, IomapOp.Report, ops, (iter) => {
    const type = iter.iomap.type;
    if (type === IomapType.Hole) return iter.length;
    if (type === IomapType.Unwritten) {
      const at = scanUptodate(inode, iter.pos, iter.pos + iter.length, blockSize, true);
      if (at < 0) return iter.length;
      found = at;
      return 0;
    }
    found = iter.pos;
    return 0;
  });
  if (found < 0) throw new ErrnoError(Errno.ENXIO, 'SEEK_DATA');
  return found;
}

/** iomap_seek_hole. */
export function iomapSeekHole(inode: Inode, pos: number, ops: IomapOps, blockSize: number): number {
  const size = inode.size;
  if (pos < 0 || pos >= size) throw new ErrnoError(Errno.ENXIO, 'SEEK_HOLE');
  let found = -1;
  iomapIterate(inode, pos, size - pos, IomapOp.Report, ops, (iter) => {
    const type = iter.iomap.type;
    if (type === IomapType.Hole) {
      found = iter.pos;
      return 0;
    }
    if (type === IomapType.Unwritten) {
      const at = scanUptodate(inode, iter.pos, iter.pos + iter.length, blockSize, false);
      if (at >= 0) {
        found = at;
        return 0;
      }
    }
    return iter.length;
  });
  return found < 0 ? size : Math.min(found, size);
}
