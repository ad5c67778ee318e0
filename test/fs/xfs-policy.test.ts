/**
 * The xfs policy through the VFS: speculative preallocation (xfs_iomap_prealloc_size)
 * and its trimming on the first writable close / at eviction (xfs_free_eofblocks),
 * delalloc -> unwritten at writeback -> written at completion, reflink with the CoW
 * fork for buffered and direct writes (refcounts, remap at completion, no block
 * freed while shared), fallocate modes and ENOSPC behaviour.
 */
import { ExtentState, type Extent } from '../../src/extent/extentmap.js';
import { xfsPreallocBlocks } from '../../src/fs/xfs/prealloc.js';
import { cowFork, type XfsPolicy } from '../../src/fs/xfs/policy.js';
import { Errno } from '../../src/util/errno.js';
import type { Inode } from '../../src/vfs/inode.js';
import { errnoOf, makeHarness, openFlags, readAll, type Harness } from '../engine/harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function policyOf(h: Harness): XfsPolicy {
  return h.vfs.policy as XfsPolicy;
}

function extents(inode: Inode): Extent[] {
  return [...inode.data.all()];
}

function blocksIn(inode: Inode, state: ExtentState): number {
  return inode.data.countBlocks(state);
}

/** Appends `count` writes of `size` bytes through one handle. */
function append(h: Harness, handle: ReturnType<Harness['vfs']['open']>, from: number, size: number, count: number): void {
  for (let index = 0; index < count; index++) h.vfs.write(handle, from + index * size, size, 0x40 + index);
}

describe('xfs_iomap_prealloc_size', () => {
  const base = { blockSize: 4096, allocsizeBlocks: 16, freeBlocks: 200000, dataBlocks: 262144 };
  const written = (startBlock: number, blockCount: number, physBlock: number): Extent => ({ startBlock, blockCount, physBlock, state: ExtentState.Written });

  test('none below allocsize, allocsize after a hole or without a previous extent', () => {
    expect(xfsPreallocBlocks({ ...base, isizeBytes: 60 * KiB, offsetBlock: 15, previous: [written(0, 15, 100)] })).toBe(0);
    expect(xfsPreallocBlocks({ ...base, isizeBytes: 64 * KiB, offsetBlock: 16, previous: [] })).toBe(16);
    expect(xfsPreallocBlocks({ ...base, isizeBytes: 64 * KiB, offsetBlock: 40, previous: [written(0, 16, 100)] })).toBe(16);
  });

  test('twice the contiguous run before the write, rounded down to a power of two', () => {
    // 20 + 28 contiguous blocks (logically and physically): 96 -> 64.
    expect(xfsPreallocBlocks({ ...base, isizeBytes: 192 * KiB, offsetBlock: 48, previous: [written(20, 28, 56), written(0, 20, 36)] })).toBe(64);
    // Not physically contiguous: only the last extent counts (28 -> 56 -> 32).
    expect(xfsPreallocBlocks({ ...base, isizeBytes: 192 * KiB, offsetBlock: 48, previous: [written(20, 28, 56), written(0, 20, 24)] })).toBe(32);
    // A small run still gets allocsize.
    expect(xfsPreallocBlocks({ ...base, isizeBytes: 80 * KiB, offsetBlock: 20, previous: [written(14, 6, 50)] })).toBe(16);
  });

  test('low free space shifts the preallocation down, and it never exceeds the free space', () => {
    const previous = [written(0, 1024, 100)];
    const plenty = xfsPreallocBlocks({ ...base, isizeBytes: 4 * MiB, offsetBlock: 1024, previous });
    expect(plenty).toBe(2048);
    const under3Percent = xfsPreallocBlocks({ ...base, freeBlocks: Math.floor(262144 * 0.025), isizeBytes: 4 * MiB, offsetBlock: 1024, previous });
    expect(under3Percent).toBe(2048 >> 4);
    expect(xfsPreallocBlocks({ ...base, freeBlocks: 100, isizeBytes: 4 * MiB, offsetBlock: 1024, previous })).toBeLessThan(100);
  });

  test('capped below 2^21 blocks', () => {
    const huge = [written(0, 2 ** 20 + 5, 100)];
    const blocks = xfsPreallocBlocks({ ...base, freeBlocks: 2 ** 30, dataBlocks: 2 ** 31, isizeBytes: (2 ** 20 + 5) * 4096, offsetBlock: 2 ** 20 + 5, previous: huge });
    expect(blocks).toBe(2 ** 20);
  });
});

describe('speculative preallocation: growth, trim on the first close, eviction', () => {
  test('an appender gets delalloc past EOF; writeback makes it unwritten; the first close trims it', () => {
    const h = makeHarness('xfs');
    const handle = h.vfs.open('log', openFlags());
    append(h, handle, 0, 24 * KiB, 6); // 144 KiB
    const inode = handle.inode;
    const eofBlock = Math.ceil(inode.size / 4096);
    expect(inode.data.lastBlock()).toBeGreaterThan(eofBlock);
    expect(blocksIn(inode, ExtentState.Delalloc)).toBe(inode.data.lastBlock());
    h.vfs.fsync(handle);
    expect(blocksIn(inode, ExtentState.Delalloc)).toBe(0);
    expect(inode.data.extentsIn(0, eofBlock).every((extent) => extent.state === ExtentState.Written)).toBe(true);
    expect(inode.data.extentsIn(eofBlock, Number.MAX_SAFE_INTEGER).every((extent) => extent.state === ExtentState.Unwritten)).toBe(true);
    expect(policyOf(h).allocatedBlocks(inode)).toBeGreaterThan(eofBlock);
    h.vfs.checkValid();
    h.vfs.close(handle);
    expect(inode.data.lastBlock()).toBe(eofBlock);
    h.vfs.checkValid();
  });

  test('later closes keep the preallocation (reopen appenders), remount drops it, truncate re-arms the trim', () => {
    const h = makeHarness('xfs');
    for (let round = 0; round < 10; round++) {
      const handle = h.vfs.open('reopen', openFlags());
      h.vfs.write(handle, round * 12 * KiB, 12 * KiB, 0x60 + round);
      h.vfs.close(handle);
    }
    const inode = h.vfs.lookup('reopen')!;
    const eofBlock = Math.ceil(inode.size / 4096);
    expect(inode.data.lastBlock()).toBeGreaterThan(eofBlock);
    // A truncate re-arms the trim: the next writable close removes the post-EOF space.
    const again = h.vfs.open('reopen', openFlags());
    h.vfs.truncate(inode, inode.size - 4096);
    h.vfs.close(again);
    expect(inode.data.lastBlock()).toBe(Math.ceil(inode.size / 4096));
    // That close found nothing past EOF (the truncate had removed it), so the flag stayed clear:
    // the next close that has something to trim trims, and later ones keep.
    const third = h.vfs.open('reopen', openFlags());
    h.vfs.write(third, inode.size, 64 * KiB, 0x70);
    expect(inode.data.lastBlock()).toBeGreaterThan(Math.ceil(inode.size / 4096));
    h.vfs.close(third);
    expect(inode.data.lastBlock()).toBe(Math.ceil(inode.size / 4096));
    const fourth = h.vfs.open('reopen', openFlags());
    h.vfs.write(fourth, inode.size, 64 * KiB, 0x71);
    h.vfs.close(fourth);
    expect(inode.data.lastBlock()).toBeGreaterThan(Math.ceil(inode.size / 4096));
    h.vfs.remount();
    expect(inode.data.lastBlock()).toBe(Math.ceil(inode.size / 4096));
    expect(policyOf(h).allocatedBlocks(inode)).toBe(Math.ceil(inode.size / 4096));
    h.vfs.checkValid();
  });

  test('a read-only close trims nothing', () => {
    const h = makeHarness('xfs');
    const writer = h.vfs.open('f', openFlags());
    append(h, writer, 0, 32 * KiB, 4);
    const inode = writer.inode;
    const reader = h.vfs.open('f', openFlags({ readOnly: true }));
    const before = inode.data.lastBlock();
    h.vfs.close(reader);
    expect(inode.data.lastBlock()).toBe(before);
    expect(before).toBeGreaterThan(Math.ceil(inode.size / 4096));
  });
});

describe('reflink and the CoW fork', () => {
  function sharedSetup(): { h: Harness; src: Inode; clone: Inode } {
    const h = makeHarness('xfs');
    const source = h.vfs.open('src', openFlags());
    h.vfs.write(source, 0, 256 * KiB, 0x72);
    h.vfs.fsync(source);
    h.vfs.close(source);
    const clone = h.vfs.open('clone', openFlags());
    h.vfs.reflink(clone, 'src', 0, 0, 0);
    h.vfs.close(clone);
    return { h, src: h.vfs.lookup('src')!, clone: h.vfs.lookup('clone')! };
  }

  test('FICLONE shares every written block with a refcount of 2; fiemap flags both files shared', () => {
    const { h, src, clone } = sharedSetup();
    const policy = policyOf(h);
    expect(extents(clone).map((extent) => extent.physBlock)).toEqual(extents(src).map((extent) => extent.physBlock));
    for (const extent of extents(src)) expect(policy.refcount.refcountOf(extent.physBlock)).toBe(2);
    expect(h.vfs.fiemap(clone).every((extent) => extent.shared)).toBe(true);
    h.vfs.checkValid();
  });

  test('a buffered write to shared blocks goes to a CoW-fork delalloc reservation widened to 32 blocks, remapped at writeback', () => {
    const { h, src, clone } = sharedSetup();
    const policy = policyOf(h);
    const handle = h.vfs.open('clone', openFlags());
    h.vfs.write(handle, 40 * 4096 + 100, 200, 0x63);
    const cow = [...cowFork(clone).all()];
    expect(cow).toEqual([{ startBlock: 32, blockCount: 32, physBlock: -1, state: ExtentState.Delalloc }]);
    const oldBlock = clone.data.extentAt(40)!.physBlock;
    h.vfs.fsync(handle);
    const newBlock = clone.data.extentAt(40)!;
    expect(newBlock.physBlock).not.toBe(oldBlock);
    expect(newBlock.state).toBe(ExtentState.Written);
    expect(src.data.extentAt(40)!.physBlock).toBe(oldBlock);
    expect(policy.refcount.refcountOf(oldBlock)).toBe(1);
    // The rest of the CoW allocation stays staged (st_blocks above the size) until eviction.
    expect(cowFork(clone).countBlocks(ExtentState.Unwritten)).toBe(31);
    expect(policy.allocatedBlocks(clone)).toBe(64 + 31);
    expect(clone.cowBlocks).toBe(1);
    // Read-modify-write came from the shared source: the bytes around the write are the source's.
    const data = readAll(h, handle);
    expect(data[40 * 4096 + 99]).toBe(0x72);
    expect(data[40 * 4096 + 100]).toBe(0x63);
    expect(data[40 * 4096 + 300]).toBe(0x72);
    h.vfs.checkValid();
    h.vfs.close(handle);
    h.vfs.remount();
    expect(cowFork(clone).extentCount).toBe(0);
    expect(policy.allocatedBlocks(clone)).toBe(64);
    h.vfs.checkValid();
  });

  test('a block-aligned direct write allocates unwritten CoW blocks (cowextsize), converts the I/O range and remaps at end_io', () => {
    const { h, src, clone } = sharedSetup();
    const handle = h.vfs.open('clone', openFlags({ direct: true }));
    const oldBlock = clone.data.extentAt(4)!.physBlock;
    const result = h.vfs.write(handle, 4 * 4096, 2 * 4096, 0x70);
    expect(result.direct).toBe(8192);
    expect(clone.data.extentAt(4)!.physBlock).not.toBe(oldBlock);
    expect(src.data.extentAt(4)!.physBlock).toBe(oldBlock);
    const staged = [...cowFork(clone).all()];
    expect(staged.reduce((sum, extent) => sum + extent.blockCount, 0)).toBe(30);
    expect(staged.every((extent) => extent.state === ExtentState.Unwritten)).toBe(true);
    h.vfs.checkValid();
  });

  test('an unaligned direct write to a reflink inode bounces to the page cache (-ENOTBLK)', () => {
    const { h, clone } = sharedSetup();
    const handle = h.vfs.open('clone', openFlags({ direct: true }));
    const result = h.vfs.write(handle, 512, 1024, 0x71);
    expect(result).toEqual({ written: 1024, direct: 0, fallback: 1024 });
    expect(cowFork(clone).countBlocks(ExtentState.Delalloc)).toBe(32);
    h.vfs.checkValid();
  });

  test('no block is freed while shared: truncating the source keeps the clone intact, the last owner frees', () => {
    const { h, src, clone } = sharedSetup();
    const free = h.ctx.freeSpace.freeBlocks;
    h.vfs.truncate(src, 0);
    expect(h.ctx.freeSpace.freeBlocks).toBe(free);
    h.vfs.checkValid();
    const reader = h.vfs.open('clone', openFlags({ readOnly: true }));
    expect(readAll(h, reader).every((byte) => byte === 0x72)).toBe(true);
    h.vfs.close(reader);
    h.vfs.truncate(clone, 0);
    expect(h.ctx.freeSpace.freeBlocks).toBe(free + 64);
    expect(policyOf(h).refcount.size).toBe(0);
    h.vfs.checkValid();
  });

  test('fallocate UNSHARE gives the range its own blocks', () => {
    const { h, src, clone } = sharedSetup();
    const handle = h.vfs.open('clone', openFlags());
    h.vfs.fallocate(handle, 'unshare', 0, 64 * KiB, true);
    for (let block = 0; block < 16; block++) expect(clone.data.extentAt(block)!.physBlock).not.toBe(src.data.extentAt(block)!.physBlock);
    expect(policyOf(h).refcount.refcountOf(clone.data.extentAt(16)!.physBlock)).toBe(2);
    expect(readAll(h, handle).every((byte) => byte === 0x72)).toBe(true);
    h.vfs.checkValid();
  });
});

describe('fallocate', () => {
  test('allocate makes unwritten extents and sets the PREALLOC flag, which keeps real post-EOF blocks at close', () => {
    const h = makeHarness('xfs');
    const handle = h.vfs.open('keep', openFlags());
    h.vfs.fallocate(handle, 'allocate', 0, 256 * KiB, true);
    expect(handle.inode.preallocFlag).toBe(true);
    expect(blocksIn(handle.inode, ExtentState.Unwritten)).toBe(64);
    expect(handle.inode.size).toBe(0);
    h.vfs.close(handle);
    h.vfs.remount();
    expect(blocksIn(handle.inode, ExtentState.Unwritten)).toBe(64);
    h.vfs.checkValid();
  });

  test('punch frees whole blocks and zeroes partial ones; zero range allocates new unwritten blocks', () => {
    const h = makeHarness('xfs');
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 256 * KiB, 0x50);
    h.vfs.fsync(handle);
    const free = h.ctx.freeSpace.freeBlocks;
    h.vfs.fallocate(handle, 'punch', 8 * KiB + 100, 16 * KiB, true);
    expect(handle.inode.data.lookup(3).extent).toBeUndefined();
    expect(handle.inode.data.lookup(2).extent).toBeDefined();
    expect(h.ctx.freeSpace.freeBlocks).toBe(free + 3);
    const before = handle.inode.data.extentAt(40)!.physBlock;
    h.vfs.fallocate(handle, 'zero', 40 * 4096, 8 * 4096, true);
    const zeroed = handle.inode.data.extentAt(40)!;
    expect(zeroed.state).toBe(ExtentState.Unwritten);
    expect(zeroed.physBlock).not.toBe(before);
    const data = readAll(h, handle);
    expect(data[8 * KiB + 99]).toBe(0x50);
    expect(data[8 * KiB + 100]).toBe(0);
    expect(data[40 * 4096]).toBe(0);
    h.vfs.checkValid();
  });

  test('collapse and insert need block alignment and a range inside EOF', () => {
    const h = makeHarness('xfs');
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 64 * KiB, 0x31);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'collapse', 100, 4096, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'collapse', 32 * KiB, 32 * KiB, false))).toBe(Errno.EINVAL);
    expect(errnoOf(() => h.vfs.fallocate(handle, 'insert', 64 * KiB, 4096, false))).toBe(Errno.EINVAL);
    h.vfs.fallocate(handle, 'collapse', 16 * KiB, 16 * KiB, false);
    expect(handle.inode.size).toBe(48 * KiB);
    h.vfs.fallocate(handle, 'insert', 8 * KiB, 8 * KiB, false);
    expect(handle.inode.size).toBe(56 * KiB);
    expect(handle.inode.data.lookup(2).extent).toBeUndefined();
    h.vfs.checkValid();
  });
});

describe('ENOSPC', () => {
  test('preallocation is dropped before a reservation fails; a write that cannot fit fails without leaking', () => {
    const h = makeHarness('xfs', 4096, 64 * MiB);
    const policy = policyOf(h);
    const handle = h.vfs.open('big', openFlags());
    h.vfs.write(handle, 0, 128 * KiB, 0x11);
    const available = policy.availableBlocks();
    // Exactly what is left: the data fits only without speculative preallocation.
    h.vfs.write(handle, 128 * KiB, available * 4096, 0x12);
    expect(policy.availableBlocks()).toBe(0);
    expect(handle.inode.data.lastBlock()).toBe(Math.ceil(handle.inode.size / 4096));
    expect(errnoOf(() => h.vfs.write(handle, handle.inode.size, 4096, 0x13))).toBe(Errno.ENOSPC);
    h.vfs.checkValid();
    h.vfs.fsync(handle);
    expect(blocksIn(handle.inode, ExtentState.Delalloc)).toBe(0);
    h.vfs.checkValid();
  });

  test('the ENOSPC retry trims other inodes\' post-EOF space (blockgc) and then succeeds', () => {
    const h = makeHarness('xfs', 4096, 64 * MiB);
    const policy = policyOf(h);
    const first = h.vfs.open('a', openFlags());
    append(h, first, 0, 64 * KiB, 8); // keeps post-EOF preallocation while open
    const preallocated = first.inode.data.lastBlock() - Math.ceil(first.inode.size / 4096);
    expect(preallocated).toBeGreaterThan(0);
    const second = h.vfs.open('b', openFlags());
    const wanted = policy.availableBlocks() + Math.floor(preallocated / 2);
    h.vfs.write(second, 0, wanted * 4096, 0x22);
    expect(second.inode.size).toBe(wanted * 4096);
    expect(first.inode.data.lastBlock()).toBe(Math.ceil(first.inode.size / 4096));
    h.vfs.checkValid();
  });
});
