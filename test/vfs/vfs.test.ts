/**
 * VFS lifetime and namespace rules with the ext4 policy: an unlinked inode
 * lives until its last close (iput -> ext4_evict_inode frees its blocks),
 * rename(2) over an existing file drops the old one, and the write(2) entry
 * checks (EBADF on read-only fds, O_APPEND, f_pos, s_maxbytes -> EFBIG),
 * and the page-cache limits (background writeback, reclaim of clean pages).
 */
import { PAGE_SIZE } from '../../src/pagecache/pagecache.js';
import { Errno } from '../../src/util/errno.js';
import { Vfs } from '../../src/vfs/vfs.js';
import { makeHarness, openFlags, readAll, errnoOf } from '../engine/harness.js';

const KiB = 1024;


describe('unlink', () => {
  test('an open file keeps its blocks until the last close', () => {
    const h = makeHarness();
    const free = h.ctx.freeSpace.freeBlocks;
    const one = h.vfs.open('f', openFlags());
    const two = h.vfs.open('f', openFlags({ readOnly: true }));
    // 32 blocks: an inode PA (not the shared locality-group window, which outlives files).
    h.vfs.write(one, 0, 128 * KiB, 0x11);
    h.vfs.fsync(one);
    h.vfs.close(one); // the last writer's close drops the PA: what is left is the file's 32 blocks
    const inUse = free - h.ctx.freeSpace.freeBlocks;
    expect(inUse).toBe(32);
    h.vfs.unlink('f');
    expect(h.vfs.lookup('f')).toBeUndefined();
    expect(free - h.ctx.freeSpace.freeBlocks).toBe(inUse);
    expect(readAll(h, two).every((byte) => byte === 0x11)).toBe(true); // still readable through the open fd
    h.vfs.checkValid();
    h.vfs.close(two);
    expect(h.ctx.freeSpace.freeBlocks).toBe(free);
    h.vfs.checkValid();
  });

  test('unlinking a closed file frees at once, including its delalloc reservation', () => {
    const h = makeHarness();
    const free = h.ctx.freeSpace.freeBlocks;
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 16 * KiB, 0x12);
    h.vfs.close(handle);
    h.vfs.unlink('f');
    expect(h.ctx.freeSpace.freeBlocks).toBe(free);
    h.vfs.checkValid();
    h.vfs.syncAll(); // nothing left to write back for the dead inode
    expect(h.ctx.stats.deviceBytesWritten).toBe(0);
  });

  test('unlink of a missing name is ENOENT', () => {
    const h = makeHarness();
    expect(errnoOf(() => h.vfs.unlink('nope'))).toBe(Errno.ENOENT);
  });
});

describe('rename', () => {
  test('rename over an existing file frees the old one; the new name reads the moved file', () => {
    const h = makeHarness();
    const free = h.ctx.freeSpace.freeBlocks;
    const old = h.vfs.open('target', openFlags());
    h.vfs.write(old, 0, 32 * KiB, 0x21);
    h.vfs.fsync(old);
    h.vfs.close(old);
    const fresh = h.vfs.open('tmp', openFlags());
    h.vfs.write(fresh, 0, 8 * KiB, 0x22);
    h.vfs.fsync(fresh);
    h.vfs.close(fresh);
    const usedBefore = free - h.ctx.freeSpace.freeBlocks;
    h.vfs.rename('tmp', 'target');
    expect(h.vfs.lookup('tmp')).toBeUndefined();
    expect(h.vfs.lookup('target')).toBe(fresh.inode);
    expect(usedBefore - (free - h.ctx.freeSpace.freeBlocks)).toBe(8); // the old 32 KiB file's blocks
    h.vfs.checkValid();
  });

  test('renaming a directory moves the files below it', () => {
    const h = makeHarness();
    h.vfs.mkdir('d');
    const handle = h.vfs.open('d/f', openFlags());
    h.vfs.close(handle);
    h.vfs.rename('d', 'e');
    expect(h.vfs.lookup('e/f')).toBe(handle.inode);
    expect(h.vfs.dirs()).toEqual(['e']);
    expect(errnoOf(() => h.vfs.open('d/g', openFlags()))).toBe(Errno.ENOENT);
  });
});

describe('write(2) entry checks', () => {
  test('EBADF on a read-only handle', () => {
    const h = makeHarness();
    h.vfs.close(h.vfs.open('f', openFlags()));
    const reader = h.vfs.open('f', openFlags({ readOnly: true }));
    expect(errnoOf(() => h.vfs.write(reader, 0, 10, 1))).toBe(Errno.EBADF);
  });

  test('writes at f_pos advance it; O_APPEND writes at EOF whatever the offset', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, null, 100, 1);
    h.vfs.write(handle, null, 50, 2);
    expect(handle.pos).toBe(150);
    const appender = h.vfs.open('f', openFlags({ append: true }));
    h.vfs.write(appender, 0, 10, 3);
    expect(handle.inode.size).toBe(160);
    const data = readAll(h, handle);
    expect([data[0], data[100], data[150]]).toEqual([1, 2, 3]);
  });

  test('EFBIG past s_maxbytes', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags());
    expect(errnoOf(() => h.vfs.write(handle, h.vfs.policy.maxFileBytes, 1, 1))).toBe(Errno.EFBIG);
  });

  test('open of a missing file without O_CREAT is ENOENT; of a directory EISDIR', () => {
    const h = makeHarness();
    h.vfs.mkdir('d');
    expect(errnoOf(() => h.vfs.open('x', openFlags({ create: false })))).toBe(Errno.ENOENT);
    expect(errnoOf(() => h.vfs.open('d', openFlags()))).toBe(Errno.EISDIR);
  });
});

describe('page cache limits (balance_dirty_pages, reclaim)', () => {
  function limited(dirtyPages: number, cachePages: number): { vfs: Vfs; h: ReturnType<typeof makeHarness> } {
    const h = makeHarness();
    const vfs = new Vfs(h.ctx, h.vfs.policy, { dirtyBytes: dirtyPages * PAGE_SIZE, cacheBytes: cachePages * PAGE_SIZE });
    return { vfs, h };
  }

  test('above the dirty limit the oldest dirtied inode is written back first', () => {
    const { vfs } = limited(16, 1024);
    const a = vfs.open('a', openFlags());
    const b = vfs.open('b', openFlags());
    vfs.write(a, 0, 10 * PAGE_SIZE, 0x31);
    vfs.write(b, 0, 6 * PAGE_SIZE, 0x32);
    expect(vfs.backgroundWritebacks).toBe(0); // 16 pages: at the limit, not above
    vfs.write(b, 6 * PAGE_SIZE, PAGE_SIZE, 0x33);
    expect(vfs.backgroundWritebacks).toBe(1);
    expect(a.inode.pages.dirtyCount).toBe(0);
    expect(b.inode.pages.dirtyCount).toBe(7);
    expect(vfs.accounting.dirtyPages).toBe(7);
    vfs.checkValid();
  });

  test('above the cache limit clean pages are reclaimed and dirty ones kept', () => {
    const { vfs } = limited(16, 32);
    const big = vfs.open('big', openFlags());
    vfs.write(big, 0, 40 * PAGE_SIZE, 0x41); // crosses the dirty limit: written back, pages stay clean in the cache
    const small = vfs.open('small', openFlags());
    vfs.write(small, 0, 4 * PAGE_SIZE, 0x42);
    const dst = new Uint8Array(40 * PAGE_SIZE);
    vfs.read(big, 0, 40 * PAGE_SIZE, dst);
    expect(dst.every((byte) => byte === 0x41)).toBe(true);
    expect(vfs.accounting.pages).toBeLessThanOrEqual(32);
    expect(vfs.pagesReclaimed).toBeGreaterThan(0);
    expect(small.inode.pages.dirtyCount).toBe(4);
    vfs.checkValid();
  });

  test('buffers of dropped pages do not leak old bytes into new pages', () => {
    const h = makeHarness('ext4', 1024);
    const handle = h.vfs.open('f', openFlags());
    h.vfs.write(handle, 0, 4 * PAGE_SIZE, 0xaa);
    h.vfs.fsync(handle);
    h.vfs.truncate(handle.inode, 0); // the pages go back to the pool
    h.vfs.write(handle, 1500, 1, 0x01);
    const data = readAll(h, handle);
    expect(data.length).toBe(1501);
    expect(data.subarray(0, 1500).every((byte) => byte === 0)).toBe(true);
    expect(data[1500]).toBe(0x01);
    h.vfs.fsync(handle);
    h.vfs.dropCaches();
    expect(readAll(h, handle).subarray(0, 1500).every((byte) => byte === 0)).toBe(true);
  });
});
