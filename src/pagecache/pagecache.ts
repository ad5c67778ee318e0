/**
 * The page cache of one inode: 4 KiB pages (folios of one page) holding real
 * bytes, with per-block uptodate and dirty bits when the block is smaller
 * than the page (the iomap_folio_state "ifs" of fs/iomap/buffered-io.c).
 */
import { copyFromSource, type WriteSource } from '../iomap/source.js';
import { assert } from '../util/assert.js';
import { radixSortPairs } from '../util/radixsort.js';

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/**
 * One cached page. Its bytes are `data`; a page written whole from a
 * generated or fill source is not filled in until something looks at them
 * (`lazy`: data is the source's bytes for file offset lazyOffset onwards):
 * writeback generates them straight into the device write, and an
 * overwrite before that never generates them at all.
 */
export class Page {
  // Declared, then set in the constructor in one fixed order: one object shape, no field definitions per page.
  /** The page's index in its file (set by the cache: a reclaimed page is recycled under a new index). */
  declare index: number;
  /** The page's memory (its bytes are `data`, which fills in a lazy page first). */
  declare readonly buffer: Uint8Array;
  /** Bit i: block i of the page is uptodate. */
  declare uptodate: number;
  /** Bit i: block i of the page is dirty. */
  declare dirty: number;
  /** The source the whole page's bytes come from, not filled into `buffer` yet. */
  declare lazy: WriteSource | undefined;
  /** The file offset whose source bytes the page holds (the page's own offset unless it was moved). */
  declare lazyOffset: number;
  /** Where the page sits in its inode's dirty list (-1: not dirty). */
  declare dirtySlot: number;

  constructor(index: number, buffer: Uint8Array) {
    this.buffer = buffer;
    this.reset(index);
  }

  /** Makes this an empty page (nothing uptodate, dirty or lazy) at `index`: a new page, or a recycled one. */
  reset(index: number): void {
    this.index = index;
    this.uptodate = 0;
    this.dirty = 0;
    this.lazy = undefined;
    this.lazyOffset = 0;
    this.dirtySlot = -1;
  }

  /** The page's bytes (a lazy page is filled in first). */
  get data(): Uint8Array {
    if (this.lazy !== undefined) {
      copyFromSource(this.buffer, this.lazy, this.lazyOffset);
      this.lazy = undefined;
    }
    return this.buffer;
  }

  /** The whole page now holds `source`'s bytes for file offset `fileOffset` onwards (filled in when looked at). */
  setLazy(source: WriteSource, fileOffset: number): void {
    this.lazy = source;
    this.lazyOffset = fileOffset;
  }

  /** The page's bytes, a lazy page's generated into `scratch` (PAGE_SIZE bytes) instead of the page. */
  bytesVia(scratch: Uint8Array): Uint8Array {
    if (this.lazy === undefined) return this.buffer;
    copyFromSource(scratch, this.lazy, this.lazyOffset);
    return scratch;
  }
}

/** Sources whose bytes a page can hold lazily: a pure function of the file offset. */
export function isLazySource(source: WriteSource): boolean {
  return source.kind === 'gen' || source.kind === 'fill';
}

/**
 * Walks [pos, pos+length) page by page: visit(pageIndex, offsetInPage, bytes, doneBefore).
 * O(pages).
 */
export function forEachPageSpan(pos: number, length: number, visit: (index: number, from: number, bytes: number, done: number) => void): void {
  let done = 0;
  while (done < length) {
    const at = pos + done;
    const index = Math.floor(at / PAGE_SIZE);
    const from = at - index * PAGE_SIZE;
    const bytes = Math.min(PAGE_SIZE - from, length - done);
    visit(index, from, bytes, done);
    done += bytes;
  }
}

/** Bit mask of blocks [fromBlock, toBlock) inside a page. */
export function blockMask(fromBlock: number, toBlock: number): number {
  if (toBlock <= fromBlock) return 0;
  return ((1 << (toBlock - fromBlock)) - 1) << fromBlock;
}

/** Pages and dirty pages across every inode: what balance_dirty_pages and reclaim look at. */
export class PageAccounting {
  pages = 0;
  dirtyPages = 0;
  /** Dataless runs share one scratch buffer among all pages: their bytes are never looked at. */
  private readonly scratch: Uint8Array | undefined;

  constructor(dataless = false) {
    this.scratch = dataless ? new Uint8Array(PAGE_SIZE) : undefined;
  }
  /** Buffers of dropped pages, reused by new ones (their bytes are never read before being filled). */
  private readonly pool: Uint8Array[] = [];
  // As many as the default page-cache limit holds (128 MiB): reclaim drops a clean inode's pages all at once, and
  // buffers kept here are reused by the pages that follow instead of being allocated again (and collected).
  private static readonly POOL_MAX = 32768;

  /**
   * Pages reclaimed by dropClean, reused (with their buffers) by the pages that
   * follow: a page lives through a writeback cycle or two, long enough for the
   * garbage collector to copy it twice if it were new each time. Only reclaim
   * recycles pages (nothing holds a reclaimed page); the pool and the buffer
   * pool together hold at most POOL_MAX.
   */
  private readonly pagePool: Page[] = [];

  /** A recycled page for `index` (nothing uptodate or dirty), or undefined when the pool is empty. */
  takePage(index: number): Page | undefined {
    const page = this.pagePool.pop();
    page?.reset(index);
    return page;
  }

  /** Takes back a reclaimed page (dropped from its cache, referenced by nothing). */
  givePage(page: Page): void {
    if (this.pagePool.length + this.pool.length < PageAccounting.POOL_MAX) this.pagePool.push(page);
  }

  takeBuffer(): Uint8Array {
    return this.scratch ?? this.pool.pop() ?? this.slabBuffer();
  }

  giveBuffer(buffer: Uint8Array): void {
    if (this.scratch === undefined && this.pool.length + this.pagePool.length < PageAccounting.POOL_MAX) this.pool.push(buffer);
  }

  /** New page buffers come 64 at a time out of one ArrayBuffer: fewer, larger allocations. */
  private slab: Uint8Array[] = [];
  private slabBuffer(): Uint8Array {
    if (this.slab.length === 0) {
      const backing = new ArrayBuffer(64 * PAGE_SIZE);
      for (let i = 63; i >= 0; i--) this.slab.push(new Uint8Array(backing, i * PAGE_SIZE, PAGE_SIZE));
    }
    return this.slab.pop()!;
  }
}

/** dirtyPagesIn radix-sorts page indexes below this (32-bit keys). */
const INDEX_LIMIT = 2 ** 32;

/** The sort buffers of dirtyPagesIn, shared by every inode and grown as needed (a writeback sorts one inode at a time). */
const sortBuffers = { keys: new Uint32Array(0), slots: new Int32Array(0), spareKeys: new Uint32Array(0), spareSlots: new Int32Array(0) };

function sortScratch(count: number): typeof sortBuffers {
  if (sortBuffers.keys.length < count) {
    const size = Math.max(count, sortBuffers.keys.length * 2, 1024);
    sortBuffers.keys = new Uint32Array(size);
    sortBuffers.slots = new Int32Array(size);
    sortBuffers.spareKeys = new Uint32Array(size);
    sortBuffers.spareSlots = new Int32Array(size);
  }
  return sortBuffers;
}

export class InodePages {
  private pages = new Map<number, Page>();
  /**
   * The dirty pages, in no order (each knows its slot: adding and removing
   * one is O(1) with no hashing). A page is here exactly when it has dirty bits.
   */
  private dirtyList: Page[] = [];
  /** dirtyIndexes[slot] is dirtyList[slot].index: sorting a writeback's pages reads no page. */
  private dirtyIndexes = new Float64Array(64);
  readonly blocksPerPage: number;
  readonly fullMask: number;
  /** Called when the first page becomes dirty (the VFS keeps its dirty-inode list with it). */
  onDirty: (() => void) | undefined;

  constructor(
    readonly blockSize: number,
    readonly accounting: PageAccounting = new PageAccounting(),
  ) {
    assert(blockSize >= 512 && blockSize <= PAGE_SIZE && (blockSize & (blockSize - 1)) === 0, 'InodePages: bad block size', { blockSize });
    this.blocksPerPage = PAGE_SIZE / blockSize;
    this.fullMask = blockMask(0, this.blocksPerPage);
  }

  get pageCount(): number {
    return this.pages.size;
  }

  get dirtyCount(): number {
    return this.dirtyList.length;
  }

  private addDirty(page: Page): void {
    const slot = this.dirtyList.length;
    page.dirtySlot = slot;
    this.dirtyList.push(page);
    if (slot >= this.dirtyIndexes.length) {
      const bigger = new Float64Array(this.dirtyIndexes.length * 2);
      bigger.set(this.dirtyIndexes);
      this.dirtyIndexes = bigger;
    }
    this.dirtyIndexes[slot] = page.index;
    this.accounting.dirtyPages++;
  }

  /** Takes a page off the dirty list (the last one fills its slot). */
  private removeDirty(page: Page): void {
    const slot = page.dirtySlot;
    if (slot < 0) return;
    const last = this.dirtyList.pop()!;
    if (last !== page) {
      this.dirtyList[slot] = last;
      this.dirtyIndexes[slot] = last.index;
      last.dirtySlot = slot;
    }
    page.dirtySlot = -1;
    this.accounting.dirtyPages--;
  }

  private isDirtyAt(index: number): boolean {
    const page = this.pages.get(index);
    return page !== undefined && page.dirtySlot >= 0;
  }

  get(index: number): Page | undefined {
    return this.pages.get(index);
  }

  /** The page at `index`, created empty (nothing uptodate) if absent (filemap_grab_folio). */
  grab(index: number): Page {
    let page = this.pages.get(index);
    if (!page) {
      // A recycled buffer holds old bytes: nothing reads a block before it is uptodate.
      page = this.accounting.takePage(index) ?? new Page(index, this.accounting.takeBuffer());
      this.pages.set(index, page);
      this.accounting.pages++;
    }
    return page;
  }

  isUptodate(page: Page): boolean {
    return page.uptodate === this.fullMask;
  }

  /** Marks blocks dirty (ifs_set_range_dirty) and the page dirty. */
  markDirty(page: Page, mask: number): void {
    if ((mask & ~this.fullMask) !== 0) assert(false, 'InodePages.markDirty: mask outside page', { mask });
    if (mask === 0) return;
    // A page is in the dirty set exactly when it has dirty bits (checkValid), so no set lookup is needed.
    const wasClean = page.dirty === 0;
    page.dirty |= mask;
    if (wasClean) {
      // The VFS lists an inode while it has dirty pages: it only needs telling when the first one appears.
      const firstDirty = this.dirtyList.length === 0;
      this.addDirty(page);
      if (firstDirty) this.onDirty?.();
    }
  }

  /** Clears the dirty bits of a page (writeback took it). */
  clearDirty(page: Page): void {
    page.dirty = 0;
    this.removeDirty(page);
  }

  /**
   * Clears the dirty bits of `pages` (what a writeback took), skipping any
   * that left the cache meanwhile. When they are every dirty page, the dirty
   * set is emptied at once.
   */
  clearDirtyPages(pages: readonly Page[]): void {
    // `pages` are distinct: when they are all still here, dirty, and as many as the dirty set, they are the dirty set.
    let all = pages.length === this.dirtyList.length;
    if (all) {
      // A page still on the dirty list is still in the cache (dropping a page takes it off).
      for (const page of pages) {
        if (page.dirtySlot < 0 || this.dirtyList[page.dirtySlot] !== page) {
          all = false;
          break;
        }
      }
    }
    if (!all) {
      for (const page of pages) if (this.pages.get(page.index) === page) this.clearDirty(page);
      return;
    }
    for (const page of pages) {
      page.dirty = 0;
      page.dirtySlot = -1;
    }
    this.accounting.dirtyPages -= this.dirtyList.length;
    this.dirtyList.length = 0;
  }

  /** Dirty page indexes in [startIndex, endIndex), ascending. */
  dirtyIndexesIn(startIndex: number, endIndex: number): number[] {
    return this.dirtyPagesIn(startIndex, endIndex).map((page) => page.index);
  }

  /** Dirty pages in [startIndex, endIndex), by index ascending (what a writeback takes). */
  dirtyPagesIn(startIndex: number, endIndex: number): Page[] {
    const dirty = this.dirtyList;
    if (endIndex - startIndex <= dirty.length) {
      // A range smaller than the dirty set (a sync write's range): probe it in order.
      const out: Page[] = [];
      for (let index = startIndex; index < endIndex; index++) {
        const page = this.pages.get(index);
        if (page !== undefined && page.dirtySlot >= 0) out.push(page);
      }
      return out;
    }
    // Indexes below 2^32 (files under 16 TiB): a radix sort of (index, slot) pairs gives the pages themselves.
    const indexes = this.dirtyIndexes;
    const scratch = sortScratch(dirty.length);
    let count = 0;
    let small = true;
    for (let slot = 0; slot < dirty.length; slot++) {
      const index = indexes[slot]!;
      if (index < startIndex || index >= endIndex) continue;
      if (index >= INDEX_LIMIT) {
        small = false;
        break;
      }
      scratch.keys[count] = index;
      scratch.slots[count] = slot;
      count++;
    }
    if (small) {
      const sorted = radixSortPairs(scratch.keys, scratch.slots, scratch.spareKeys, scratch.spareSlots, count);
      const out = new Array<Page>(count);
      for (let at = 0; at < count; at++) out[at] = dirty[sorted.values[at]!]!;
      return out;
    }
    // Larger indexes: sorted as numbers in a typed array (much cheaper than Array.sort with a comparator), then looked up.
    const keys = new Float64Array(dirty.length);
    count = 0;
    for (let slot = 0; slot < dirty.length; slot++) {
      const index = indexes[slot]!;
      if (index >= startIndex && index < endIndex) keys[count++] = index;
    }
    const sorted = keys.subarray(0, count).sort();
    const out = new Array<Page>(count);
    for (let at = 0; at < count; at++) out[at] = this.pages.get(sorted[at]!)!;
    return out;
  }

  /** Whether any page in [startIndex, endIndex) is dirty. */
  hasDirtyIn(startIndex: number, endIndex: number): boolean {
    if (this.dirtyList.length === 0) return false;
    if (endIndex - startIndex < this.dirtyList.length) {
      for (let i = startIndex; i < endIndex; i++) if (this.isDirtyAt(i)) return true;
      return false;
    }
    for (const page of this.dirtyList) if (page.index >= startIndex && page.index < endIndex) return true;
    return false;
  }

  /** Drops pages in [startIndex, endIndex), dirty or not (truncate_inode_pages_range). */
  drop(startIndex: number, endIndex: number): void {
    if (endIndex - startIndex <= this.pages.size) {
      for (let i = startIndex; i < endIndex; i++) this.dropOne(i);
      return;
    }
    for (const index of [...this.pages.keys()]) if (index >= startIndex && index < endIndex) this.dropOne(index);
  }

  private dropOne(index: number): void {
    const page = this.pages.get(index);
    if (!page) return;
    this.pages.delete(index);
    this.accounting.giveBuffer(page.buffer);
    this.accounting.pages--;
    this.removeDirty(page);
  }

  /** Drops clean pages only (invalidate_mapping_pages); returns how many were dropped. They are recycled. */
  dropClean(): number {
    const dropped = this.pages.size - this.dirtyList.length;
    if (dropped === 0) return 0;
    const accounting = this.accounting;
    if (this.dirtyList.length * 4 < this.pages.size) {
      // Mostly clean (reclaim after a writeback): the dirty pages alone make the new index.
      for (const page of this.pages.values()) if (page.dirtySlot < 0) accounting.givePage(page);
      const kept = new Map<number, Page>();
      for (const page of this.dirtyList) kept.set(page.index, page);
      this.pages = kept;
    } else {
      for (const [index, page] of this.pages) {
        if (page.dirtySlot >= 0) continue;
        this.pages.delete(index);
        accounting.givePage(page);
      }
    }
    accounting.pages -= dropped;
    return dropped;
  }

  /** Moves every page at or after fromIndex by deltaPages (collapse/insert range), keeping buffers and dirty state. */
  shiftPages(fromIndex: number, deltaPages: number): void {
    const moved = [...this.pages.values()].filter((page) => page.index >= fromIndex);
    for (const page of moved) {
      this.pages.delete(page.index);
      this.removeDirty(page);
    }
    for (const page of moved) {
      const next = new Page(page.index + deltaPages, page.buffer);
      next.uptodate = page.uptodate;
      next.dirty = page.dirty;
      // A lazy page keeps its bytes: the source offset stays, only the page's place changes.
      if (page.lazy !== undefined) next.setLazy(page.lazy, page.lazyOffset);
      if (this.pages.has(next.index)) assert(false, 'InodePages.shiftPages: pages collide', { index: next.index });
      this.pages.set(next.index, next);
      if (next.dirty) this.addDirty(next);
    }
  }

  clear(): void {
    this.accounting.pages -= this.pages.size;
    this.accounting.dirtyPages -= this.dirtyList.length;
    for (const page of this.dirtyList) page.dirtySlot = -1;
    this.pages.clear();
    this.dirtyList = [];
  }

  /** Dirty set matches dirty bits; bits stay within the page. O(pages). */
  checkValid(): void {
    for (const [slot, page] of this.dirtyList.entries()) {
      if (page.dirtySlot !== slot || this.pages.get(page.index) !== page || this.dirtyIndexes[slot] !== page.index) assert(false, 'InodePages: dirty list out of sync', { slot, index: page.index });
    }
    for (const [index, page] of this.pages) {
      assert(page.index === index, 'InodePages: page index mismatch', { index });
      assert((page.uptodate & ~this.fullMask) === 0 && (page.dirty & ~this.fullMask) === 0, 'InodePages: bits outside page', { index });
      const listed = page.dirtySlot >= 0 && this.dirtyList[page.dirtySlot] === page;
      if ((page.dirty !== 0) !== listed) assert(false, 'InodePages: dirty set out of sync', { index, dirty: page.dirty, slot: page.dirtySlot });
      assert((page.dirty & ~page.uptodate) === 0, 'InodePages: dirty block not uptodate', { index, page: { u: page.uptodate, d: page.dirty } });
    }
  }
}
