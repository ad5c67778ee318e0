/**
 * The btrfs policy through the VFS on the corpus geometry (1 GiB, 4 KiB
 * sectors): copy-on-write of overwrites, bookend accounting
 * (btrfs_drop_extents keeps a partly overwritten extent whole until its last
 * reference goes), inline small files, FIEMAP merging, prealloc written in
 * place (run_delalloc_nocow), EOPNOTSUPP for collapse/insert, the buffered
 * fallback of O_DIRECT (btrfs_direct_write) and the NODATASUM direct path,
 * reflink references and shared flags, and btrfs_reserve_extent's ENOSPC
 * halving.
 */
import { btrfsState, type BtrfsPolicy } from '../../src/fs/btrfs/policy.js';
import { ItemKind } from '../../src/fs/btrfs/extents.js';
import { IomapType } from '../../src/iomap/types.js';
import { Errno } from '../../src/util/errno.js';
import type { Handle } from '../../src/vfs/vfs.js';
import { errnoOf, makeHarness, openFlags, readAll, type Harness } from '../engine/harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BLOCK = 4096;
/** First block of the mkfs data chunk (13 MiB). */
const DATA_START = 3328;

function setup(deviceSize = GiB): { h: Harness; policy: BtrfsPolicy } {
  const h = makeHarness('btrfs', BLOCK, deviceSize);
  return { h, policy: h.vfs.policy as BtrfsPolicy };
}

/** The FIEMAP rows of a file as [logical block, blocks, physical block, type, shared]. */
function layout(h: Harness, handle: Handle): [number, number, number, IomapType, boolean][] {
  return h.vfs.fiemap(handle.inode).map((extent) => [extent.logical / BLOCK, Math.ceil(extent.length / BLOCK), extent.physical / BLOCK, extent.type, extent.shared]);
}

function diskExtent(policy: BtrfsPolicy, start: number) {
  return policy.diskExtents.get(start);
}

describe('copy-on-write and bookends', () => {
  test('an overwrite goes to a new extent; the old one stays allocated whole until its last piece goes', () => {
    const { h, policy } = setup();
    const f = h.vfs.open('f', openFlags());
    h.vfs.write(f, 0, MiB, 0x11);
    h.vfs.fsync(f);
    expect(layout(h, f)).toEqual([[0, 256, DATA_START, IomapType.Mapped, false]]);
    const original = diskExtent(policy, DATA_START)!;
    const usedBefore = h.ctx.freeSpace.freeBlocks;

    // Overwrite the middle: two bookends keep the whole 1 MiB extent; the new data is elsewhere.
    h.vfs.write(f, 256 * KiB, 64 * KiB, 0x22);
    h.vfs.fsync(f);
    const rows = layout(h, f);
    expect(rows.map((row) => [row[0], row[1]])).toEqual([[0, 64], [64, 16], [80, 176]]);
    expect(rows[0]![2]).toBe(DATA_START);
    expect(rows[1]![2]).not.toBe(DATA_START + 64);
    expect(rows[2]![2]).toBe(DATA_START + 80);
    expect(original.refCount).toBe(2);
    expect(h.ctx.freeSpace.freeBlocks).toBe(usedBefore - 16);
    expect(policy.allocatedBlocks(f.inode)).toBe(256); // st_blocks counts the items, not the bookend waste
    h.vfs.checkValid();

    // Overwrite everything: the old extent loses its last reference, pinned until the commit, then free.
    h.vfs.write(f, 0, MiB, 0x33);
    h.vfs.fsync(f);
    expect(diskExtent(policy, DATA_START)).toBeUndefined();
    expect(policy.alloc.pinnedBlocks).toBeGreaterThanOrEqual(256);
    h.vfs.syncAll();
    expect(policy.alloc.pinnedBlocks).toBe(0);
    expect(h.ctx.freeSpace.isFree(DATA_START, 256)).toBe(true);
    h.vfs.checkValid();
    expect(readAll(h, f).every((byte) => byte === 0x33)).toBe(true);
  });

  test('the image reports the unreferenced middle of a bookended extent as used (metadataRuns)', () => {
    const { h, policy } = setup();
    const f = h.vfs.open('f', openFlags());
    h.vfs.write(f, 0, MiB, 0x11);
    h.vfs.fsync(f);
    h.vfs.write(f, 256 * KiB, 64 * KiB, 0x22);
    h.vfs.fsync(f);
    expect(policy.metadataRuns()).toEqual([{ start: DATA_START + 64, length: 16 }]);
  });

  test('a partial-block overwrite reads the rest of the block from the old extent', () => {
    const { h } = setup();
    const f = h.vfs.open('f', openFlags());
    h.vfs.write(f, 0, 8 * KiB, 0x41);
    h.vfs.fsync(f);
    h.vfs.remount();
    const g = h.vfs.open('f', openFlags());
    h.vfs.write(g, 100, 10, 0x42);
    h.vfs.fsync(g);
    const data = readAll(h, g);
    expect(data[99]).toBe(0x41);
    expect(data[100]).toBe(0x42);
    expect(data[110]).toBe(0x41);
    expect(layout(h, g)[0]![2]).not.toBe(DATA_START);
  });
});

describe('inline extents', () => {
  test('a file of at most 2048 bytes is stored inline at writeback; 2049 bytes get a block', () => {
    const { h, policy } = setup();
    const small = h.vfs.open('small', openFlags());
    const large = h.vfs.open('large', openFlags());
    h.vfs.write(small, 0, 2048, 0x51);
    h.vfs.write(large, 0, 2049, 0x52);
    expect(layout(h, small)).toEqual([[0, 1, 0, IomapType.Delalloc, false]]);
    h.vfs.syncAll();
    expect(layout(h, small)).toEqual([[0, 1, 0, IomapType.Inline, false]]);
    expect(layout(h, large)[0]![3]).toBe(IomapType.Mapped);
    expect(btrfsState(small.inode).items.find(0)!.value.kind).toBe(ItemKind.Inline);
    // Nothing of the inline file is in the data area, and it reads back after a remount (buffered and direct).
    expect(small.inode.data.extentCount).toBe(0);
    h.vfs.remount();
    const again = h.vfs.open('small', openFlags({ readOnly: true }));
    expect(readAll(h, again)).toEqual(new Uint8Array(2048).fill(0x51));
    const direct = h.vfs.open('small', openFlags({ readOnly: true, direct: true }));
    expect(readAll(h, direct)).toEqual(new Uint8Array(2048).fill(0x51));
    // A partial write into an inline file keeps the other bytes.
    const writer = h.vfs.open('small', openFlags());
    h.vfs.write(writer, 10, 5, 0x53);
    h.vfs.fsync(writer);
    const bytes = readAll(h, writer);
    expect([bytes[9], bytes[10], bytes[15], bytes.length]).toEqual([0x51, 0x53, 0x51, 2048]);
    expect(policy.allocatedBlocks(writer.inode)).toBe(1);
    h.vfs.checkValid();
  });
});

describe('FIEMAP', () => {
  test('separately allocated neighbours that are contiguous on disk merge into one extent', () => {
    const { h } = setup();
    const f = h.vfs.open('f', openFlags());
    for (let i = 0; i < 4; i++) {
      h.vfs.write(f, i * 16 * KiB, 16 * KiB, 0x60 + i);
      h.vfs.fsync(f);
    }
    expect(btrfsState(f.inode).items.size).toBe(4);
    expect(layout(h, f)).toEqual([[0, 16, DATA_START, IomapType.Mapped, false]]);
  });

  test('prealloc is unwritten and written in place; dirty data over prealloc is delalloc until writeback', () => {
    const { h } = setup();
    const f = h.vfs.open('f', openFlags());
    h.vfs.fallocate(f, 'allocate', 0, 64 * KiB, true);
    expect(layout(h, f)).toEqual([[0, 16, DATA_START, IomapType.Unwritten, false]]);
    h.vfs.write(f, 16 * KiB, 8 * KiB, 0x71);
    expect(layout(h, f).map((row) => row[3])).toEqual([IomapType.Unwritten, IomapType.Delalloc, IomapType.Unwritten]);
    h.vfs.fsync(f);
    expect(layout(h, f)).toEqual([
      [0, 4, DATA_START, IomapType.Unwritten, false],
      [4, 2, DATA_START + 4, IomapType.Mapped, false],
      [6, 10, DATA_START + 6, IomapType.Unwritten, false],
    ]);
    h.vfs.checkValid();
  });
});

describe('fallocate modes', () => {
  test('collapse and insert range fail with EOPNOTSUPP and change nothing', () => {
    const { h } = setup();
    const f = h.vfs.open('f', openFlags());
    h.vfs.write(f, 0, 256 * KiB, 0x31);
    h.vfs.fsync(f);
    const before = layout(h, f);
    expect(errnoOf(() => h.vfs.fallocate(f, 'collapse', 64 * KiB, 64 * KiB, false))).toBe(Errno.EOPNOTSUPP);
    expect(errnoOf(() => h.vfs.fallocate(f, 'insert', 64 * KiB, 64 * KiB, false))).toBe(Errno.EOPNOTSUPP);
    expect(layout(h, f)).toEqual(before);
    expect(f.inode.size).toBe(256 * KiB);
  });
});

describe('direct I/O', () => {
  test('O_DIRECT on a checksummed inode is buffered, written back and invalidated, per write', () => {
    const { h } = setup();
    const f = h.vfs.open('f', openFlags({ direct: true }));
    const result = h.vfs.write(f, 64 * KiB, 32 * KiB, 0x48);
    expect(result).toEqual({ written: 32 * KiB, direct: 0, fallback: 32 * KiB });
    expect(f.inode.pages.pageCount).toBe(0);
    expect(layout(h, f)).toEqual([[16, 8, DATA_START, IomapType.Mapped, false]]);
    expect(h.ctx.stats.dioFallbackBytes).toBe(32 * KiB);
  });

  test('a NODATASUM inode writes aligned requests directly: a new extent per request, in place over prealloc', () => {
    const { h } = setup();
    const f = h.vfs.open('f', openFlags({ direct: true }));
    btrfsState(f.inode).nodatasum = true;
    expect(h.vfs.write(f, 0, 16 * KiB, 0x11)).toEqual({ written: 16 * KiB, direct: 16 * KiB, fallback: 0 });
    const first = layout(h, f)[0]!;
    expect(first[3]).toBe(IomapType.Mapped);
    h.vfs.write(f, 0, 16 * KiB, 0x12);
    expect(layout(h, f)[0]![2]).not.toBe(first[2]); // overwrite: a new extent
    h.vfs.fallocate(f, 'allocate', 64 * KiB, 64 * KiB, false);
    const prealloc = layout(h, f).find((row) => row[0] === 16)!;
    h.vfs.write(f, 64 * KiB, 8 * KiB, 0x13);
    const written = layout(h, f).find((row) => row[0] === 16)!;
    expect([written[2], written[3]]).toEqual([prealloc[2], IomapType.Mapped]); // in place
    // Unaligned requests still go through the page cache.
    expect(h.vfs.write(f, 512, 512, 0x14)).toEqual({ written: 512, direct: 0, fallback: 512 });
    expect(readAll(h, f)[512]).toBe(0x14);
    h.vfs.checkValid();
  });
});

describe('reflink', () => {
  test('clones reference the same extents (shared), CoW unshares only the written range, extents stay until the last reference', () => {
    const { h, policy } = setup();
    const src = h.vfs.open('src', openFlags());
    h.vfs.write(src, 0, 256 * KiB, 0x72);
    h.vfs.fsync(src);
    const dst = h.vfs.open('dst', openFlags());
    h.vfs.reflink(dst, 'src', 0, 0, 0);
    const extent = diskExtent(policy, DATA_START)!;
    expect(extent.refCount).toBe(2);
    expect(layout(h, dst)).toEqual([[0, 64, DATA_START, IomapType.Mapped, true]]);
    expect(layout(h, src)).toEqual([[0, 64, DATA_START, IomapType.Mapped, true]]);

    h.vfs.write(dst, 32 * KiB, 100, 0x63); // a partial block: the rest comes from the shared extent
    h.vfs.fsync(dst);
    const rows = layout(h, dst);
    expect(rows.map((row) => [row[0], row[1], row[4]])).toEqual([[0, 8, true], [8, 1, false], [9, 55, true]]);
    const data = readAll(h, dst);
    expect([data[32 * KiB - 1], data[32 * KiB], data[32 * KiB + 100]]).toEqual([0x72, 0x63, 0x72]);
    expect(readAll(h, src).every((byte) => byte === 0x72)).toBe(true);

    h.vfs.close(src);
    h.vfs.unlink('src');
    expect(diskExtent(policy, DATA_START)).toBe(extent); // dst still references it
    expect(layout(h, dst).every((row) => !row[4])).toBe(true); // no longer shared
    h.vfs.close(dst);
    h.vfs.unlink('dst');
    expect(diskExtent(policy, DATA_START)).toBeUndefined();
    h.vfs.checkValid();
  });
});

describe('data space reclaim (btrfs_reserve_data_bytes, data_flush_states)', () => {
  test('a write that finds the data space held by pinned extents commits the transaction instead of failing with ENOSPC', () => {
    const { h, policy } = setup(128 * MiB);
    const f = h.vfs.open('f', openFlags());
    const size = Math.floor((policy.alloc.availableBlocks() * 0.4 * BLOCK) / MiB) * MiB;
    h.vfs.write(f, 0, size, 0x11);
    h.vfs.fsync(f);
    h.vfs.write(f, 0, size, 0x22);
    h.vfs.fsync(f); // the tree log: no commit, the first copy stays pinned
    expect(policy.alloc.pinnedBlocks).toBe(size / BLOCK);
    // Another file takes the rest of the free space.
    const g = h.vfs.open('g', openFlags());
    h.vfs.write(g, 0, policy.alloc.availableBlocks() * BLOCK, 0x33);
    h.vfs.fsync(g);
    expect(policy.alloc.availableBlocks()).toBe(0);
    const commits = policy.transaction.commits;

    // FLUSH_DELALLOC_FULL, then COMMIT_TRANS: the pinned first copy of f is free again, and the write fits.
    const k = h.vfs.open('k', openFlags());
    expect(h.vfs.write(k, 0, MiB, 0x44).written).toBe(MiB);
    expect(policy.transaction.commits).toBe(commits + 1);
    expect(policy.alloc.pinnedBlocks).toBe(0);
    h.vfs.syncAll();
    h.vfs.checkValid();
    expect(readAll(h, f).every((byte) => byte === 0x22)).toBe(true);
    expect(readAll(h, k).every((byte) => byte === 0x44)).toBe(true);
  });

  test('with nothing pinned and nothing to flush, a full device still fails the write with ENOSPC', () => {
    const { h, policy } = setup(128 * MiB);
    const f = h.vfs.open('f', openFlags());
    const size = policy.alloc.availableBlocks() * BLOCK;
    h.vfs.write(f, 0, size, 0x11);
    h.vfs.syncAll();
    const g = h.vfs.open('g', openFlags());
    const commits = policy.transaction.commits;
    expect(errnoOf(() => h.vfs.write(g, 0, MiB, 0x22))).toBe(Errno.ENOSPC);
    expect(policy.transaction.commits).toBe(commits); // nothing was pinned: no commit
    h.vfs.checkValid();
  });
});

describe('allocation', () => {
  test('ENOSPC halves the request down to what the largest free space holds', () => {
    const { policy } = setup(64 * MiB);
    const group = policy.alloc.groups[0]!;
    // Fragment the data area: allocate it all in 4-block pieces, then free every other piece.
    const pieces: number[] = [];
    for (;;) {
      try {
        pieces.push(policy.alloc.reserve(4, 4, 0, BLOCK).start);
      } catch {
        break;
      }
    }
    pieces.filter((_, index) => index % 2 === 0).forEach((start) => policy.alloc.pin(start, 4));
    policy.alloc.unpinAll();
    expect(group.largestFree()).toBe(4);
    const got = policy.alloc.reserve(64, 1, 0, BLOCK);
    expect(got.count).toBe(4); // 64 -> min(32, largest 4) = 4
    expect(errnoOf(() => policy.alloc.reserve(64, 64, 0, BLOCK))).toBe(Errno.ENOSPC);
  });

  test('small and large allocations go to block groups of their own size class', () => {
    const { h } = setup();
    const big = h.vfs.open('big', openFlags());
    h.vfs.write(big, 0, 3 * MiB, 0x44);
    h.vfs.fsync(big);
    const small = h.vfs.open('small', openFlags());
    h.vfs.write(small, 0, 16 * KiB, 0x45);
    h.vfs.fsync(small);
    expect(layout(h, big)[0]![2]).toBe(DATA_START);
    // A new 112 MiB chunk after the first data chunk; its largest free entry starts past the 64 MiB super mirror.
    expect(layout(h, small)[0]![2]).toBe(16400);
  });
});
