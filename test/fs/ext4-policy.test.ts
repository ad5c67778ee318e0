/**
 * The ext4 policy through the VFS: delalloc reservations (ext4_da_reserve_space),
 * direct I/O allocation (ext4_iomap_alloc: unwritten inside EOF, written at or
 * past it; ext4_iomap_end's -ENOTBLK and ext4_dio_write_iter's buffered
 * fallback), auto_da_alloc (EXT4_STATE_DA_ALLOC_CLOSE), ext4_release_file's
 * PA discard, fallocate argument rules (ext4_collapse_range/ext4_insert_range/
 * ext4_punch_hole) and remap_file_range.
 */
import { ExtentState } from '../../src/extent/extentmap.js';
import { ext4State, type Ext4Policy } from '../../src/fs/ext4/policy.js';
import type { IomapPair } from '../../src/iomap/types.js';
import { IomapOp, IomapType } from '../../src/iomap/types.js';
import { Errno, ErrnoError } from '../../src/util/errno.js';
import { makeHarness, openFlags, readAll, type Harness, errnoOf } from '../engine/harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;


function policyOf(h: Harness): Ext4Policy {
  return h.vfs.policy as Ext4Policy;
}

/** Records the type and flags of every mapping the direct ops hand out. */
function recordDirectMappings(h: Harness): IomapPair[] {
  const ops = policyOf(h).directOps;
  const original = ops.iomapBegin;
  const seen: IomapPair[] = [];
  ops.iomapBegin = (inode, pos, length, flags) => {
    const pair = original(inode, pos, length, flags);
    seen.push({ iomap: { ...pair.iomap } });
    return pair;
  };
  return seen;
}

describe('delalloc reservations and ENOSPC', () => {
  test('a write that cannot be reserved on a full device fails with ENOSPC and leaks nothing', () => {
    // Exactly 32 MiB: the device's last block gets allocated too (FreeSpace's run index at the device end).
    const h = makeHarness('ext4', 4096, 32 * MiB);
    const handle = h.vfs.open('f', openFlags());
    const available = policyOf(h).availableBlocks();
    h.vfs.write(handle, 0, available * 4096, 0x11); // takes every free block
    expect(policyOf(h).availableBlocks()).toBe(0);
    expect(errnoOf(() => h.vfs.write(handle, available * 4096, 4096, 0x12))).toBe(Errno.ENOSPC);
    expect(handle.inode.size).toBe(available * 4096);
    h.vfs.checkValid();
    h.vfs.fsync(handle);
    h.vfs.checkValid();
    expect(handle.inode.data.countBlocks(ExtentState.Delalloc)).toBe(0);
  });

  test('a buffered write larger than the free space comes back short, not failed (ext4_da_reserve_space per block)', () => {
    const h = makeHarness('ext4', 4096, 32 * MiB);
    const handle = h.vfs.open('f', openFlags());
    const available = policyOf(h).availableBlocks();
    const result = h.vfs.write(handle, 0, (available + 100) * 4096, 0x15);
    expect(result.written).toBe(available * 4096);
    expect(handle.inode.size).toBe(available * 4096);
    h.vfs.fsync(handle);
    h.vfs.checkValid();
  });

  test('a buffered write reserves one block per hole block and overwrites reserve nothing', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    const before = policyOf(h).availableBlocks();
    h.vfs.write(handle, 100, 8192, 0x13); // touches blocks 0..2
    expect(before - policyOf(h).availableBlocks()).toBe(3);
    h.vfs.write(handle, 0, 4096, 0x14);
    expect(before - policyOf(h).availableBlocks()).toBe(3);
    h.vfs.checkValid();
  });
});

describe('direct I/O allocation (ext4_iomap_alloc)', () => {
  test('into a hole inside EOF: unwritten + NEW, converted to written at completion', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    h.vfs.truncate(handle.inode, 64 * KiB);
    const seen = recordDirectMappings(h);
    h.vfs.write(handle, 16 * KiB, 8 * KiB, 0x21);
    expect(seen.map((pair) => pair.iomap.type)).toEqual([IomapType.Unwritten]);
    expect(h.ctx.stats.unwrittenConversions).toBe(1);
    expect([...handle.inode.data.all()].map((e) => [e.startBlock, e.blockCount, e.state])).toEqual([[4, 2, ExtentState.Written]]);
    h.vfs.checkValid();
  });

  test('at or past EOF: written + NEW, nothing to convert, i_size follows', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    const seen = recordDirectMappings(h);
    h.vfs.write(handle, 0, 8 * KiB, 0x22);
    h.vfs.write(handle, 64 * KiB, 4 * KiB, 0x23);
    expect(seen.map((pair) => pair.iomap.type)).toEqual([IomapType.Mapped, IomapType.Mapped]);
    expect(h.ctx.stats.unwrittenConversions).toBe(0);
    expect(handle.inode.size).toBe(68 * KiB);
    expect(handle.inode.diskSize).toBe(68 * KiB);
  });

  test('over written blocks inside EOF: the existing extent, no allocation', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    h.vfs.write(handle, 0, 16 * KiB, 0x24);
    const allocated = h.ctx.stats.blocksAllocated;
    const seen = recordDirectMappings(h);
    h.vfs.write(handle, 4 * KiB, 4 * KiB, 0x25);
    expect(seen.map((pair) => pair.iomap.type)).toEqual([IomapType.Mapped]);
    expect(h.ctx.stats.blocksAllocated).toBe(allocated);
  });

  test('ext4_iomap_end: a direct write mapping that wrote nothing is -ENOTBLK; reads and progress are fine', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    const ops = policyOf(h).directOps;
    const map = { offset: 0, length: 4096, addr: 0, type: IomapType.Mapped, flags: 0 };
    const flags = IomapOp.Write | IomapOp.Direct;
    expect(errnoOf(() => ops.iomapEnd!(handle.inode, 0, 4096, 0, flags, map))).toBe(Errno.ENOTBLK);
    expect(errnoOf(() => ops.iomapEnd!(handle.inode, 0, 4096, 512, flags, map))).toBeUndefined();
    expect(errnoOf(() => ops.iomapEnd!(handle.inode, 0, 4096, 0, IomapOp.Direct, map))).toBeUndefined();
  });
});

describe('ext4_dio_write_iter: -ENOTBLK falls back to buffered I/O for the rest', () => {
  /** Makes the direct begin refuse (-ENOTBLK, as for an indirect file's hole) from `refuseFrom` on. */
  function refuseFrom(h: Harness, refuseFromPos: number): void {
    const ops = policyOf(h).directOps;
    const original = ops.iomapBegin;
    ops.iomapBegin = (inode, pos, length, flags) => {
      if (pos >= refuseFromPos) throw new ErrnoError(Errno.ENOTBLK, 'test: mapping refused');
      return original(inode, pos, Math.min(length, refuseFromPos - pos), flags);
    };
  }

  test('the bytes after a partial DIO are written buffered, then flushed and invalidated', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    refuseFrom(h, 4096);
    const result = h.vfs.write(handle, 0, 12 * KiB, 0x31);
    expect(result).toEqual({ written: 12 * KiB, direct: 4 * KiB, fallback: 8 * KiB });
    expect(h.ctx.stats.dioFallbackBytes).toBe(8 * KiB);
    expect(handle.inode.pages.pageCount).toBe(0); // invalidated after the flush
    expect(handle.inode.data.countBlocks(ExtentState.Delalloc)).toBe(0); // flushed
    expect(handle.inode.size).toBe(12 * KiB);
    const data = readAll(h, h.vfs.open('f', openFlags({ readOnly: true })));
    expect(data.every((byte) => byte === 0x31)).toBe(true);
    h.vfs.checkValid();
  });

  test('a DIO refused at its first mapping goes wholly buffered', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    refuseFrom(h, 0);
    expect(h.vfs.write(handle, 0, 8 * KiB, 0x32)).toEqual({ written: 8 * KiB, direct: 0, fallback: 8 * KiB });
    h.vfs.checkValid();
  });

  test('other errors are not a fallback: EIO with nothing done is thrown', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    const ops = policyOf(h).directOps;
    ops.iomapBegin = () => {
      throw new ErrnoError(Errno.EIO, 'test');
    };
    expect(errnoOf(() => h.vfs.write(handle, 0, 4096, 0x33))).toBe(Errno.EIO);
    expect(h.ctx.stats.dioFallbackBytes).toBe(0);
  });
});

describe('auto_da_alloc', () => {
  function rewrite(truncate: boolean) {
    const h = makeHarness();
    const first = h.vfs.open('cfg', openFlags());
    h.vfs.write(first, 0, 8 * KiB, 0x41);
    h.vfs.fsync(first);
    h.vfs.close(first);
    const again = h.vfs.open('cfg', openFlags({ truncate }));
    h.vfs.write(again, 0, 8 * KiB, 0x42);
    h.vfs.close(again);
    return { h, inode: again.inode };
  }

  test('truncate to 0, rewrite, close: the new data is written back at close', () => {
    const { h, inode } = rewrite(true);
    expect(inode.data.countBlocks(ExtentState.Delalloc)).toBe(0);
    expect(inode.pages.dirtyCount).toBe(0);
    expect(inode.data.countBlocks(ExtentState.Written)).toBe(2);
    h.vfs.checkValid();
  });

  test('without the truncate, close leaves the dirty data for later writeback', () => {
    const { inode } = rewrite(false);
    expect(inode.pages.dirtyCount).toBe(2);
  });
});

describe('ext4_release_file: inode PA discard', () => {
  function withPa() {
    const h = makeHarness();
    const one = h.vfs.open('f', openFlags());
    const two = h.vfs.open('f', openFlags());
    h.vfs.write(one, 0, 1536 * KiB, 0x51);
    h.vfs.fsync(one);
    const pas = ext4State(one.inode).pas;
    expect(pas.size).toBe(1);
    return { h, one, two, pas };
  }

  test('only the last writer\'s close discards the PA', () => {
    const { h, one, two, pas } = withPa();
    const free = h.ctx.freeSpace.freeBlocks;
    h.vfs.close(one);
    expect(pas.size).toBe(1);
    h.vfs.close(two);
    expect(pas.size).toBe(0);
    expect(h.ctx.freeSpace.freeBlocks - free).toBe(128);
    h.vfs.checkValid();
  });

  test('the last writer keeps the PA while delalloc is reserved; a read-only close never discards', () => {
    const { h, one, two, pas } = withPa();
    h.vfs.close(two);
    const reader = h.vfs.open('f', openFlags({ readOnly: true }));
    h.vfs.write(one, 1536 * KiB, 4 * KiB, 0x52); // delalloc inside the PA window
    h.vfs.close(one);
    expect(pas.size).toBe(1);
    h.vfs.syncAll(); // the delalloc block is served from the PA
    expect([...one.inode.data.all()].map((e) => [e.startBlock, e.blockCount, e.physBlock])).toEqual([[0, 385, [...pas.values()][0]!.physStart]]);
    h.vfs.close(reader);
    expect(pas.size).toBe(1);
    h.vfs.checkValid();
  });
});

describe('fallocate argument rules', () => {
  function file(sizeBytes: number) {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, sizeBytes, 0x61);
    h.vfs.fsync(handle);
    return { h, handle };
  }

  test('collapse: EINVAL when unaligned or when the range reaches EOF', () => {
    const { h, handle } = file(64 * KiB);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'collapse', 100, 4096, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'collapse', 4096, 100, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'collapse', 60 * KiB, 4 * KiB, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'collapse', 56 * KiB, 4 * KiB, false))).toBeUndefined();
    expect(handle.inode.size).toBe(60 * KiB);
  });

  test('insert: EINVAL when unaligned or at/after EOF', () => {
    const { h, handle } = file(64 * KiB);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'insert', 100, 4096, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'insert', 64 * KiB, 4096, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'insert', 60 * KiB, 4096, false))).toBeUndefined();
    expect(handle.inode.size).toBe(68 * KiB);
    expect(handle.inode.data.lookup(15).extent).toBeUndefined(); // the inserted hole
  });

  test('negative offsets and empty lengths are EINVAL; unshare is EOPNOTSUPP', () => {
    const { h, handle } = file(8 * KiB);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'allocate', -4096, 4096, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'allocate', 0, 0, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'unshare', 0, 4096, false))).toBe(Errno.EOPNOTSUPP);
  });

  test('a punch past EOF stops at the end of the page holding i_size; post-EOF preallocation survives', () => {
    const { h, handle } = file(5000);
    h.vfs.fallocate(handle, 'allocate', 8 * KiB, 24 * KiB, true);
    const free = h.ctx.freeSpace.freeBlocks;
    h.vfs.fallocate(handle, 'punch', 4 * KiB, 1 * MiB, true);
    expect([...handle.inode.data.all()].map((e) => [e.startBlock, e.blockCount, e.state])).toEqual([
      [0, 1, ExtentState.Written],
      [2, 6, ExtentState.Unwritten],
    ]);
    expect(h.ctx.freeSpace.freeBlocks - free).toBe(1);
    expect(handle.inode.size).toBe(5000);
    h.vfs.checkValid();
  });

  test('a punch that starts at or past EOF does nothing', () => {
    const { h, handle } = file(8 * KiB);
    h.vfs.fallocate(handle, 'allocate', 8 * KiB, 8 * KiB, true);
    h.vfs.fallocate(handle, 'punch', 8 * KiB, 8 * KiB, true);
    expect(handle.inode.data.countBlocks(ExtentState.Unwritten)).toBe(2);
  });
});

describe('remap_file_range', () => {
  test('reflink is EOPNOTSUPP on ext4', () => {
    const h = makeHarness();
    const src = h.vfs.open('src', openFlags());
    h.vfs.write(src, 0, 8 * KiB, 0x71);
    const dst = h.vfs.open('dst', openFlags());
    expect(errnoOf(() => h.vfs.reflink(dst, 'src', 0, 0, 0))).toBe(Errno.EOPNOTSUPP);
    expect(dst.inode.size).toBe(0);
    expect(dst.inode.content.rangeCount).toBe(0);
  });
});
