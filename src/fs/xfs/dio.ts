/**
 * XFS direct writes: xfs_direct_write_iomap_begin (holes and delalloc
 * allocated unwritten, <= 1024 pages, limited to the hole inside EOF; shared
 * blocks through xfs_reflink_allocate_cow) and xfs_file_dio_write (zeroing
 * from the old EOF, unaligned writes to a reflink inode bounced to the page
 * cache with -ENOTBLK, a partial direct write is a short write).
 */
import { ExtentState, clipExtent } from '../../extent/extentmap.js';
import { iomapDioWrite } from '../../iomap/direct.js';
import type { WriteSource } from '../../iomap/source.js';
import { IomapFlag, IomapOp, type IomapPair } from '../../iomap/types.js';
import { Errno, ErrnoError } from '../../util/errno.js';
import type { Inode } from '../../vfs/inode.js';
import type { DirectWriteResult, FsHost } from '../types.js';
import { XFS_MAX_MAPPING_BYTES, xfsState, type XfsPolicy } from './policy.js';
import { allocateCowForDirect } from './reflink.js';
import { injectEnospc } from '../recovery.js';

/** xfs_direct_write_iomap_begin (reads: the data fork as it is). */
export function xfsDirectBegin(policy: XfsPolicy, inode: Inode, pos: number, length: number, flags: number): IomapPair {
  if ((flags & IomapOp.Write) === 0) return { iomap: policy.reportMapping(inode, pos, length, flags) };
  const blockSize = policy.ctx.blockSize;
  const block = Math.floor(pos / blockSize);
  let endBlock = Math.ceil((pos + length) / blockSize);
  const dirty = pos + length > inode.size ? IomapFlag.Dirty : 0;
  if (xfsState(inode).reflink) {
    const cow = allocateCowForDirect(policy, inode, block, endBlock);
    if (cow.cow) {
      const data = inode.data.lookup(block).extent;
      const iomap = policy.toIomap(cow.cow, IomapFlag.Shared | dirty);
      return data ? { iomap, srcmap: policy.toIomap(data) } : { iomap };
    }
    endBlock = block + Math.max(1, cow.dataBlocks);
  }
  const found = inode.data.lookup(block);
  if (found.extent && found.extent.state !== ExtentState.Delalloc) {
    return { iomap: policy.toIomap(clipExtent(found.extent, found.extent.startBlock, Math.max(endBlock, block + 1)), dirty) };
  }
  if (found.extent) {
    // Delalloc under a direct write (post-EOF preallocation without dirty cache): the whole record becomes unwritten.
    return { iomap: policy.toIomap(policy.convertDelalloc(inode, inode.data, block), IomapFlag.New | dirty) };
  }
  // xfs_iomap_write_direct: unwritten blocks for the hole, at most 1024 pages.
  let allocEnd = Math.min(endBlock, Math.ceil((pos + Math.min(length, XFS_MAX_MAPPING_BYTES)) / blockSize));
  allocEnd = Math.min(allocEnd, found.holeEndBlock);
  // xfs_iomap_write_direct: the transaction's block reservation (an injected ENOSPC fails it).
  injectEnospc(policy.ctx, 'xfs direct write allocation');
  const made = policy.allocateExtent(inode, inode.data, block, Math.max(1, allocEnd - block), ExtentState.Unwritten, false);
  return { iomap: policy.toIomap(made, IomapFlag.New | dirty) };
}

/** xfs_file_dio_write + the -ENOTBLK fallback of xfs_file_write_iter. */
export function xfsDirectWrite(policy: XfsPolicy, host: FsHost, inode: Inode, pos: number, length: number, source: WriteSource): DirectWriteResult {
  const blockSize = policy.ctx.blockSize;
  const blockAligned = pos % blockSize === 0 && length % blockSize === 0;
  if (!blockAligned && xfsState(inode).reflink && pos % 512 === 0 && length % 512 === 0) {
    // Unaligned direct writes to a reflink inode bounce to the page cache (xfs_file_dio_write_unaligned: -ENOTBLK).
    const bounced = bufferedFallback(policy, host, inode, pos, length, source);
    policy.ctx.recovery?.path('cow-bounce', { retried: bounced.buffered });
    return bounced;
  }
  if (pos > inode.size && pos % 512 === 0 && length % 512 === 0) host.zeroRange(inode, inode.size, pos - inode.size);
  const dioHost = {
    flushAndInvalidate: (target: Inode, start: number, end: number) => {
      host.writebackRange(target, start, end);
      host.invalidatePages(target, start, end);
    },
  };
  const result = iomapDioWrite(policy.ctx, dioHost, inode, pos, length, source, policy.directOps, policy.dio);
  if (result.errno === Errno.ENOTBLK && result.done === 0) return bufferedFallback(policy, host, inode, pos, length, source);
  if (result.done === 0 && result.errno !== 0) throw new ErrnoError(result.errno, 'xfs direct write');
  // A partial direct write is a short write: XFS does not finish the rest through the page cache.
  if (result.done < length) policy.ctx.recovery?.path('short-return');
  return { direct: result.done, buffered: 0, errno: result.done === length ? 0 : result.errno };
}

function bufferedFallback(policy: XfsPolicy, host: FsHost, inode: Inode, pos: number, length: number, source: WriteSource): DirectWriteResult {
  policy.bufferedWriteChecks(host, inode, pos);
  const buffered = host.bufferedWrite(inode, pos, length, source);
  policy.ctx.stats.dioFallbackBytes += buffered;
  return { direct: 0, buffered, errno: 0 };
}
