/**
 * FIEMAP (iomap_fiemap / iomap_to_fiemap) and SEEK_DATA / SEEK_HOLE
 * (iomap_seek_data / iomap_seek_hole, with the unwritten page-cache scan of
 * iomap_seek_hole_iter / iomap_seek_data_iter) through the ext4 policy.
 */
import { IomapType } from '../../src/iomap/types.js';
import { Errno, ErrnoError } from '../../src/util/errno.js';
import { makeHarness, openFlags } from '../engine/harness.js';

const KiB = 1024;

function summary(extents: { logical: number; length: number; type: IomapType; last: boolean; physical: number }[]) {
  return extents.map((extent) => ({ logical: extent.logical, length: extent.length, type: IomapType[extent.type], last: extent.last }));
}

function seekErrno(action: () => number): number | string {
  try {
    return action();
  } catch (error) {
    if (error instanceof ErrnoError) return `errno ${error.errno}`;
    throw error;
  }
}

describe('fiemap', () => {
  test('dirty data before writeback is DELALLOC at physical 0; after fsync it is written, LAST on the final extent', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 8 * KiB, 0x61);
    const before = h.vfs.fiemap(handle.inode);
    expect(summary(before)).toEqual([{ logical: 0, length: 8 * KiB, type: 'Delalloc', last: true }]);
    expect(before[0]!.physical).toBe(0);
    h.vfs.fsync(handle);
    const after = h.vfs.fiemap(handle.inode);
    expect(summary(after)).toEqual([{ logical: 0, length: 8 * KiB, type: 'Mapped', last: true }]);
    expect(after[0]!.physical).toBe(handle.inode.data.extentAt(0)!.physBlock * 4096);
  });

  test('fallocated space is UNWRITTEN', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.fallocate(handle, 'allocate', 0, 16 * KiB, false);
    expect(summary(h.vfs.fiemap(handle.inode))).toEqual([{ logical: 0, length: 16 * KiB, type: 'Unwritten', last: true }]);
  });

  test('post-EOF extents (falloc -k) are reported, only the last one has LAST', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 4 * KiB, 0x62);
    h.vfs.fsync(handle);
    h.vfs.fallocate(handle, 'allocate', 64 * KiB, 32 * KiB, true);
    expect(handle.inode.size).toBe(4 * KiB);
    expect(summary(h.vfs.fiemap(handle.inode))).toEqual([
      { logical: 0, length: 4 * KiB, type: 'Mapped', last: false },
      { logical: 64 * KiB, length: 32 * KiB, type: 'Unwritten', last: true },
    ]);
  });

  test('an empty file has no extents', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.truncate(handle.inode, 1 * KiB * KiB);
    expect(h.vfs.fiemap(handle.inode)).toEqual([]);
  });
});

describe('SEEK_DATA / SEEK_HOLE', () => {
  /** 32 KiB file: hole [0,8K), data [8K,12K), hole [12K,16K), unwritten [16K,24K), hole [24K,32K). */
  function layout() {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.truncate(handle.inode, 32 * KiB);
    h.vfs.write(handle, 8 * KiB, 4 * KiB, 0x71);
    h.vfs.fsync(handle);
    h.vfs.fallocate(handle, 'allocate', 16 * KiB, 8 * KiB, true);
    h.vfs.dropCaches();
    return { h, handle };
  }

  test('holes, data and unwritten extents without cache', () => {
    const { h, handle } = layout();
    expect(h.vfs.seek(handle, 0, 'data')).toBe(8 * KiB);
    expect(h.vfs.seek(handle, 9 * KiB, 'data')).toBe(9 * KiB);
    expect(h.vfs.seek(handle, 8 * KiB, 'hole')).toBe(12 * KiB);
    // Unwritten with nothing uptodate in the cache is a hole, not data.
    expect(h.vfs.seek(handle, 16 * KiB, 'hole')).toBe(16 * KiB);
    expect(seekErrno(() => h.vfs.seek(handle, 12 * KiB, 'data'))).toBe(`errno ${Errno.ENXIO}`);
  });

  test('unwritten extents count as data where the cache has uptodate blocks', () => {
    const { h, handle } = layout();
    h.vfs.write(handle, 20 * KiB, 100, 0x72); // zero-fills the block in the cache, uptodate (still unwritten on disk)
    expect(h.vfs.seek(handle, 12 * KiB, 'data')).toBe(20 * KiB);
    expect(h.vfs.seek(handle, 16 * KiB, 'hole')).toBe(16 * KiB);
    expect(h.vfs.seek(handle, 20 * KiB, 'hole')).toBe(24 * KiB);
  });

  test('delalloc is data', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.truncate(handle.inode, 32 * KiB);
    h.vfs.write(handle, 12 * KiB, 4 * KiB, 0x73);
    expect(h.vfs.seek(handle, 0, 'data')).toBe(12 * KiB);
    expect(h.vfs.seek(handle, 12 * KiB, 'hole')).toBe(16 * KiB);
  });

  test('with no hole before EOF SEEK_HOLE answers i_size, not the end of the block', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 5000, 0x74);
    expect(h.vfs.seek(handle, 0, 'hole')).toBe(5000);
    h.vfs.fsync(handle);
    expect(h.vfs.seek(handle, 100, 'hole')).toBe(5000);
  });

  test('ENXIO at and after EOF, and for negative offsets', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 5000, 0x75);
    for (const whence of ['data', 'hole'] as const) {
      expect(seekErrno(() => h.vfs.seek(handle, 5000, whence))).toBe(`errno ${Errno.ENXIO}`);
      expect(seekErrno(() => h.vfs.seek(handle, 9000, whence))).toBe(`errno ${Errno.ENXIO}`);
      expect(seekErrno(() => h.vfs.seek(handle, -1, whence))).toBe(`errno ${Errno.ENXIO}`);
    }
  });
});
