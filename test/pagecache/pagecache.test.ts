/**
 * InodePages: the page cache of one inode with per-block uptodate/dirty bits
 * (struct iomap_folio_state: ifs_set_range_uptodate / ifs_set_range_dirty),
 * the dirty index (PAGECACHE_TAG_DIRTY), truncate_inode_pages_range (drop)
 * and invalidate_mapping_pages (dropClean).
 */
import { InodePages, PAGE_SIZE, PageAccounting, blockMask } from '../../src/pagecache/pagecache.js';
import { InvariantError } from '../../src/util/assert.js';

describe('blockMask', () => {
  test('bits [from, to) of a page', () => {
    expect(blockMask(0, 4)).toBe(0b1111);
    expect(blockMask(1, 3)).toBe(0b0110);
    expect(blockMask(2, 2)).toBe(0);
    expect(blockMask(3, 1)).toBe(0);
  });
});

describe('InodePages with 1 KiB blocks', () => {
  test('four blocks per page; the page is uptodate only when every block is', () => {
    const pages = new InodePages(1024);
    expect(pages.blocksPerPage).toBe(4);
    expect(pages.fullMask).toBe(0b1111);
    const page = pages.grab(3);
    expect(page.data.length).toBe(PAGE_SIZE);
    expect(pages.grab(3).data).toBe(page.data);
    page.uptodate = 0b0111;
    expect(pages.isUptodate(page.index)).toBe(false);
    page.uptodate = 0b1111;
    expect(pages.isUptodate(page.index)).toBe(true);
  });

  test('markDirty sets exactly the given block bits and tracks the dirty page once', () => {
    const pages = new InodePages(1024);
    let dirtied = 0;
    pages.onDirty = () => dirtied++;
    const page = pages.grab(0);
    page.uptodate = 0b1111;
    pages.markDirty(page.index, 0b0010);
    expect(page.dirty).toBe(0b0010);
    pages.markDirty(page.index, 0b1000);
    expect(page.dirty).toBe(0b1010);
    expect(pages.dirtyCount).toBe(1);
    expect(dirtied).toBe(1); // the callback fires on the clean -> dirty transition only
    pages.markDirty(page.index, 0);
    expect(dirtied).toBe(1);
    pages.checkValid();
  });

  test('markDirty outside the page is a bug', () => {
    const pages = new InodePages(1024);
    expect(() => pages.markDirty(pages.grab(0).index, 0b10000)).toThrow(InvariantError);
  });

  test('clearDirty clears bits and the index; onDirty fires again on the next dirtying', () => {
    const pages = new InodePages(1024);
    let dirtied = 0;
    pages.onDirty = () => dirtied++;
    const page = pages.grab(5);
    page.uptodate = 0b1111;
    pages.markDirty(page.index, 0b0001);
    pages.clearDirty(page.index);
    expect(page.dirty).toBe(0);
    expect(pages.dirtyCount).toBe(0);
    expect(pages.hasDirtyIn(0, 10)).toBe(false);
    pages.markDirty(page.index, 0b0001);
    expect(dirtied).toBe(2);
  });

  test('dirtyIndexesIn is sorted and bounded; hasDirtyIn agrees on small and large ranges', () => {
    const pages = new InodePages(1024);
    for (const index of [9, 2, 5, 100]) {
      const page = pages.grab(index);
      page.uptodate = 0b1111;
      pages.markDirty(page.index, 0b0001);
    }
    pages.grab(3); // clean page
    expect(pages.dirtyIndexesIn(0, 10)).toEqual([2, 5, 9]);
    expect(pages.dirtyIndexesIn(3, 5)).toEqual([]);
    expect(pages.hasDirtyIn(3, 5)).toBe(false);
    expect(pages.hasDirtyIn(3, 6)).toBe(true);
    expect(pages.hasDirtyIn(10, 1_000_000)).toBe(true);
    expect(pages.hasDirtyIn(101, 1_000_000)).toBe(false);
  });

  test('dirtyIndexesSorted sorts by radix below 2^32 and as numbers past it; pages past 4 GiB of file live in chunks', () => {
    const pages = new InodePages(4096);
    const wanted = [7, 2 ** 32 + 5, 0, 2 ** 31, 3, 2 ** 40, 2 ** 20 + 1];
    for (const index of wanted) {
      pages.grabIndex(index);
      pages.addUptodate(index, 1);
      pages.markDirty(index, 1);
    }
    pages.grab(1); // clean
    const sorted = [...wanted].sort((a, b) => a - b);
    expect(Array.from(pages.dirtyIndexesSorted(0, Number.MAX_SAFE_INTEGER))).toEqual(sorted);
    for (const index of wanted) expect(pages.dirtyOf(index)).toBe(1);
    // Below 2^32 the keys pack (index, slot); the slot order is not the index order.
    expect(pages.dirtyIndexesIn(0, 2 ** 32)).toEqual([0, 3, 7, 2 ** 20 + 1, 2 ** 31]);
    expect(pages.dirtyIndexesIn(2, 2 ** 32)).toEqual([3, 7, 2 ** 20 + 1, 2 ** 31]);
    expect(pages.dirtyIndexesIn(2, 8)).toEqual([3, 7]); // the probing path
    pages.checkValid();
    const taken: [number, number][] = [];
    pages.takeDirty(0, Number.MAX_SAFE_INTEGER, (index, dirty) => taken.push([index, dirty]));
    expect(taken).toEqual(sorted.map((index) => [index, 1]));
    expect([pages.dirtyCount, pages.pageCount]).toEqual([0, 8]);
    expect(pages.dropClean()).toBe(8);
    pages.checkValid();
  });

  test.each([
    ['a few pages of a large table: the sorted dirty list', 1000],
    ['pages dense in the flat table: one pass over it', 0],
  ])('takeDirty visits the dirty pages of a range in order with their blocks and clears them (%s)', (_name, far) => {
    const pages = new InodePages(1024);
    let dirtied = 0;
    pages.onDirty = () => dirtied++;
    const wanted: [number, number][] = [
      [9, 0b0011],
      [1, 0b1000],
      [4, 0b0001],
      [far + 30, 0b0100],
    ];
    for (const [index, mask] of wanted) {
      pages.grabIndex(index);
      pages.addUptodate(index, 0b1111);
      pages.markDirty(index, mask);
    }
    pages.grabIndex(2); // clean
    const taken: [number, number][] = [];
    pages.takeDirty(2, 10, (index, dirty) => taken.push([index, dirty]));
    expect(taken).toEqual([
      [4, 0b0001],
      [9, 0b0011],
    ]);
    expect(pages.dirtyIndexesIn(0, Number.MAX_SAFE_INTEGER)).toEqual([1, far + 30]);
    pages.checkValid();
    taken.length = 0;
    pages.takeDirty(0, Number.MAX_SAFE_INTEGER, (index, dirty) => taken.push([index, dirty]));
    expect(taken).toEqual([
      [1, 0b1000],
      [far + 30, 0b0100],
    ]);
    expect([pages.dirtyCount, pages.accounting.dirtyPages, pages.pageCount]).toEqual([0, 0, 5]);
    expect(pages.uptodateOf(9)).toBe(0b1111); // taking dirt leaves the data
    pages.checkValid();
    // Dirty again: the list starts afresh and tells the VFS again.
    pages.markDirty(9, 0b0001);
    expect([pages.dirtyIndexesIn(0, 100), dirtied]).toEqual([[9], 2]);
    pages.checkValid();
  });

  test('the flat table grows as pages further in are cached, keeping what it holds', () => {
    const pages = new InodePages(1024);
    const page = pages.grab(2);
    page.uptodate = 0b1111;
    page.data[5] = 0x42;
    pages.markDirty(2, 0b0100);
    for (const index of [63, 64, 1000, 300_000]) pages.grabIndex(index);
    expect(pages.dirtyOf(2)).toBe(0b0100);
    expect(pages.uptodateOf(2)).toBe(0b1111);
    expect(pages.bytes(2)[5]).toBe(0x42);
    expect(pages.has(1000)).toBe(true);
    expect(pages.has(999)).toBe(false);
    expect(pages.pageCount).toBe(5);
    pages.checkValid();
  });

  test('a page missing from the table cannot be marked', () => {
    const pages = new InodePages(4096);
    expect(() => pages.markDirty(9, 1)).toThrow(InvariantError);
    expect(pages.get(9)).toBeUndefined();
    expect([pages.uptodateOf(9), pages.dirtyOf(9), pages.isUptodate(9)]).toEqual([0, 0, false]);
  });

  test('drop removes pages (dirty or not) in the range and forgets their dirty state', () => {
    const pages = new InodePages(1024);
    for (const index of [0, 1, 2, 3]) {
      const page = pages.grab(index);
      page.uptodate = 0b1111;
      pages.markDirty(page.index, 0b1111);
    }
    pages.drop(1, 3);
    expect(pages.pageCount).toBe(2);
    expect(pages.get(1)).toBeUndefined();
    expect(pages.dirtyIndexesIn(0, 10)).toEqual([0, 3]);
    pages.drop(0, Number.MAX_SAFE_INTEGER); // the sparse path
    expect(pages.pageCount).toBe(0);
    expect(pages.dirtyCount).toBe(0);
    pages.checkValid();
  });

  test.each([
    ['with data', false],
    ['dataless (no buffers to give back)', true],
  ])('dropClean keeps dirty pages (%s)', (_name, dataless) => {
    const accounting = new PageAccounting(dataless);
    const pages = new InodePages(1024, accounting);
    const dirty = pages.grab(0);
    dirty.uptodate = 0b1111;
    pages.markDirty(dirty.index, 0b0100);
    pages.grab(1).uptodate = 0b1111;
    pages.grab(2);
    const alsoDirty = pages.grab(7);
    alsoDirty.uptodate = 0b1111;
    pages.markDirty(alsoDirty.index, 0b0001);
    expect(pages.dropClean()).toBe(2);
    expect(pages.pageCount).toBe(2);
    expect(accounting.pages).toBe(2);
    expect(pages.get(0)?.dirty).toBe(0b0100);
    expect(pages.get(7)?.dirty).toBe(0b0001);
    expect(pages.get(1)).toBeUndefined();
    expect(pages.dropClean()).toBe(0);
    pages.checkValid();
  });

  test.each([
    ['with data', false],
    ['dataless', true],
  ])('reclaimed pages come back empty under their new index, reusing the bytes of dropped ones (%s)', (_name, dataless) => {
    const accounting = new PageAccounting(dataless);
    const pages = new InodePages(1024, accounting);
    const clean = pages.grab(3);
    clean.uptodate = 0b1111;
    clean.setLazy({ kind: 'fill', byte: 7 }, 3 * PAGE_SIZE);
    const buffer = clean.buffer;
    // Mostly dirty, then mostly clean: both ways of reclaiming recycle.
    for (const index of [10, 11, 12, 13, 14]) {
      const page = pages.grab(index);
      page.uptodate = 0b1111;
      pages.markDirty(page.index, 0b1111);
    }
    expect(pages.dropClean()).toBe(1);
    const reused = pages.grab(40);
    expect(reused.buffer).toBe(buffer); // dataless: the one scratch buffer
    expect([reused.index, reused.uptodate, reused.dirty, reused.lazy]).toEqual([40, 0, 0, undefined]);
    expect(pages.get(3)).toBeUndefined();
    expect(pages.get(40)?.index).toBe(40);
    pages.takeDirty(0, 100, () => undefined);
    expect(pages.dropClean()).toBe(6);
    expect(pages.pageCount).toBe(0);
    const again = pages.grab(9);
    expect([again.index, again.uptodate, again.dirty]).toEqual([9, 0, 0]);
    expect(accounting.pages).toBe(1);
    pages.checkValid();
  });

  test('shiftPages moves pages and their dirty state (collapse/insert)', () => {
    const pages = new InodePages(1024);
    const page = pages.grab(4);
    page.uptodate = 0b1111;
    page.data[0] = 0x5a;
    pages.markDirty(page.index, 0b0001);
    pages.grab(1).uptodate = 0b1111;
    pages.shiftPages(2, 3);
    expect(pages.get(4)).toBeUndefined();
    expect(pages.get(7)?.data[0]).toBe(0x5a);
    expect(pages.get(1)).toBeDefined();
    expect(pages.dirtyIndexesIn(0, 100)).toEqual([7]);
    pages.checkValid();
  });

  test('checkValid catches a dirty block that is not uptodate and a stale dirty index', () => {
    const pages = new InodePages(1024);
    const page = pages.grab(0);
    page.uptodate = 0b0001;
    pages.markDirty(page.index, 0b0010);
    expect(() => pages.checkValid()).toThrow(/dirty block not uptodate/);
    const other = new InodePages(1024);
    const clean = other.grab(0);
    clean.uptodate = 0b1111;
    clean.dirty = 0b0001; // dirty bits set without markDirty: the index does not know
    expect(() => other.checkValid()).toThrow(/dirty set out of sync/);
  });

  test('block sizes must be powers of two between 512 and the page size', () => {
    expect(() => new InodePages(3000)).toThrow(InvariantError);
    expect(() => new InodePages(8192)).toThrow(InvariantError);
    expect(new InodePages(512).fullMask).toBe(0xff);
  });
});

describe('PageAccounting (the global counts balance_dirty_pages and reclaim read)', () => {
  test('pages and dirty pages are counted across inodes sharing one accounting', () => {
    const accounting = new PageAccounting();
    const a = new InodePages(4096, accounting);
    const b = new InodePages(1024, accounting);
    const pa = a.grab(0);
    pa.uptodate = 1;
    a.markDirty(pa.index, 1);
    a.grab(1);
    const pb = b.grab(7);
    pb.uptodate = 0b1111;
    b.markDirty(pb.index, 0b0001);
    b.markDirty(pb.index, 0b0010); // same page: counted once
    expect([accounting.pages, accounting.dirtyPages]).toEqual([3, 2]);
    a.clearDirty(pa.index);
    expect(accounting.dirtyPages).toBe(1);
    expect(a.dropClean()).toBe(2);
    expect(accounting.pages).toBe(1);
    b.drop(0, 100);
    expect([accounting.pages, accounting.dirtyPages]).toEqual([0, 0]);
  });

  test('shiftPages keeps the counts; clear gives them back', () => {
    const accounting = new PageAccounting();
    const pages = new InodePages(4096, accounting);
    for (const index of [0, 1, 2]) {
      const page = pages.grab(index);
      page.uptodate = 1;
      if (index !== 1) pages.markDirty(page.index, 1);
    }
    pages.shiftPages(1, 5);
    expect([accounting.pages, accounting.dirtyPages]).toEqual([3, 2]);
    expect(pages.dirtyIndexesIn(0, 100)).toEqual([0, 7]);
    pages.clear();
    expect([accounting.pages, accounting.dirtyPages]).toEqual([0, 0]);
  });

  test('a recycled buffer comes back not uptodate', () => {
    const accounting = new PageAccounting();
    const pages = new InodePages(4096, accounting);
    const page = pages.grab(0);
    page.data.fill(0xaa);
    page.uptodate = 1;
    pages.drop(0, 1);
    const again = pages.grab(0);
    expect(again.uptodate).toBe(0);
    expect(again.dirty).toBe(0);
  });
});
