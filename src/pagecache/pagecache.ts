/**
 * The page cache of one inode: 4 KiB pages (folios of one page) holding real
 * bytes, with per-block uptodate and dirty bits when the block is smaller
 * than the page (the iomap_folio_state "ifs" of fs/iomap/buffered-io.c).
 *
 * Like the kernel's xarray of folios, the cache is a table indexed by page
 * index, not a set of objects: a page's state (present, uptodate and dirty
 * bits, its place in the dirty list) is two 32-bit words in a chunk of 64
 * pages. Bytes are kept apart, only in runs that keep data (PageBytes); a
 * dataless run holds no per-page object at all.
 */
import { copyFromSource, type WriteSource } from '../iomap/source.js';
import { assert } from '../util/assert.js';
import { radixSortPairs } from '../util/radixsort.js';

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/**
 * Pages [0, LOW_MAX_PAGES) (the first 4 GiB of a file) are one flat table,
 * grown by doubling from LOW_FIRST_PAGES: a page's state is one load away.
 * Pages past it go in chunks of CHUNK_PAGES (256 KiB of file), by number in a Map.
 */
const LOW_MAX_PAGES = 1 << 20;
const LOW_FIRST_PAGES = 64;
const CHUNK_PAGES = 64;
/** State word: the page is in the cache. */
const PRESENT = 1 << 16;
/** State word: bits 0-7 are the uptodate blocks, bits 8-15 the dirty ones. */
const UPTODATE_BITS = 0xff;
const DIRTY_SHIFT = 8;
const DIRTY_BITS = 0xff << DIRTY_SHIFT;

/**
 * The bytes of one cached page (runs that keep data only). A page written
 * whole from a generated or fill source is not filled in until something
 * looks at its bytes (`lazy`: they are the source's bytes for file offset
 * lazyOffset onwards): writeback generates them straight into the device
 * write, and an overwrite before that never generates them at all.
 */
class PageBytes {
  lazy: WriteSource | undefined = undefined;
  lazyOffset = 0;
  constructor(readonly buffer: Uint8Array) {}

  /** The page's bytes (a lazy page is filled in first). */
  filled(): Uint8Array {
    if (this.lazy !== undefined) {
      copyFromSource(this.buffer, this.lazy, this.lazyOffset);
      this.lazy = undefined;
    }
    return this.buffer;
  }
}

/** Consecutive pages of one inode's cache: the flat table of its first pages, or a chunk of CHUNK_PAGES past them. */
class PageChunk {
  /** Words 2i and 2i+1: page first+i's state (PRESENT | dirty << 8 | uptodate; 0: absent) and its dirty-list slot (-1: clean). */
  readonly table: Int32Array;
  /** Pages present. */
  present = 0;
  /** The index of its first page. */
  first = 0;
  /** Where the chunk sits in its cache's chunk list. */
  listSlot = -1;
  /** Each present page's bytes, in runs that keep data. */
  bytes: (PageBytes | undefined)[] | undefined = undefined;

  constructor(readonly pages: number) {
    this.table = new Int32Array(2 * pages);
  }
}

/**
 * A view of one page of an InodePages, for code away from the hot paths and
 * for tests: every field reads (and writes) the cache's table. The hot paths
 * (buffered write and read, writeback) use the cache's index methods.
 */
export class Page {
  constructor(
    private readonly cache: InodePages,
    readonly index: number,
  ) {}

  /** Bit i: block i of the page is uptodate. Setting replaces the bits. */
  get uptodate(): number {
    return this.cache.uptodateOf(this.index);
  }
  set uptodate(mask: number) {
    this.cache.setUptodateBits(this.index, mask);
  }

  /** Bit i: block i of the page is dirty. Setting replaces the bits alone (markDirty/clearDirty keep the dirty list). */
  get dirty(): number {
    return this.cache.dirtyOf(this.index);
  }
  set dirty(mask: number) {
    this.cache.setDirtyBitsOnly(this.index, mask);
  }

  /** The page's bytes (a lazy page is filled in first). */
  get data(): Uint8Array {
    return this.cache.bytes(this.index);
  }

  /** The page's memory, not filled in. */
  get buffer(): Uint8Array {
    return this.cache.buffer(this.index);
  }

  get lazy(): WriteSource | undefined {
    return this.cache.lazyOf(this.index);
  }

  get lazyOffset(): number {
    return this.cache.lazyOffsetOf(this.index);
  }

  setLazy(source: WriteSource, fileOffset: number): void {
    this.cache.setLazy(this.index, source, fileOffset);
  }

  bytesVia(scratch: Uint8Array): Uint8Array {
    return this.cache.bytesVia(this.index, scratch);
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
  /** Dataless runs keep no bytes: every page reads as this one scratch buffer, never looked at. */
  readonly scratch: Uint8Array | undefined;

  constructor(readonly dataless = false) {
    this.scratch = dataless ? new Uint8Array(PAGE_SIZE) : undefined;
  }

  // As many as the default page-cache limit holds (128 MiB): reclaim drops a clean inode's pages all at once, and
  // the bytes kept here are reused by the pages that follow instead of being allocated again (and collected).
  private static readonly POOL_MAX = 32768;
  private static readonly CHUNK_POOL_MAX = 4096;
  /** Bytes of dropped pages (their buffers keep old bytes: nothing reads a block before it is uptodate). */
  private readonly bytesPool: PageBytes[] = [];
  /** Emptied chunks, reused by the chunks that follow. */
  private readonly chunkPool: PageChunk[] = [];

  takeBytes(): PageBytes {
    const bytes = this.bytesPool.pop();
    if (bytes === undefined) return new PageBytes(this.slabBuffer());
    bytes.lazy = undefined;
    bytes.lazyOffset = 0;
    return bytes;
  }

  giveBytes(bytes: PageBytes): void {
    if (this.bytesPool.length < PageAccounting.POOL_MAX) this.bytesPool.push(bytes);
  }

  /** An empty table (every state word 0) of `pages` pages from page `first` on; chunks of CHUNK_PAGES are pooled. */
  takeChunk(first: number, pages = CHUNK_PAGES): PageChunk {
    const chunk = (pages === CHUNK_PAGES ? this.chunkPool.pop() : undefined) ?? new PageChunk(pages);
    chunk.first = first;
    chunk.present = 0;
    if (!this.dataless && chunk.bytes === undefined) chunk.bytes = [];
    return chunk;
  }

  /** Takes back a table with no page present. */
  giveChunk(chunk: PageChunk): void {
    chunk.listSlot = -1;
    if (chunk.pages === CHUNK_PAGES && this.chunkPool.length < PageAccounting.CHUNK_POOL_MAX) this.chunkPool.push(chunk);
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

/** dirtyIndexesSorted radix-sorts page indexes below this (32-bit keys). */
const INDEX_LIMIT = 2 ** 32;

/** The sort buffers of dirtyIndexesSorted, shared by every inode and grown as needed (a writeback sorts one inode at a time). */
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
  /** The flat table of pages [0, low.pages). */
  private low: PageChunk | undefined;
  /** Chunks past LOW_MAX_PAGES, by first page / CHUNK_PAGES. */
  private far: Map<number, PageChunk> | undefined;
  /** Every table, in no order (each knows its slot). */
  private chunkList: PageChunk[] = [];
  /** The far chunk found last: runs of calls about one page look it up once. */
  private lastNumber = -1;
  private lastChunk: PageChunk | undefined;
  private count = 0;
  /**
   * The dirty pages' indexes, in no order: slot i holds one, and the page's
   * table word says which slot (adding and removing one is O(1)). A page is
   * here exactly when it has dirty bits.
   */
  private dirtyIndexes = new Float64Array(64);
  private dirtyLength = 0;
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
    return this.count;
  }

  get dirtyCount(): number {
    return this.dirtyLength;
  }

  // ---- the table -------------------------------------------------------------

  /** The table holding page `index`, if any. */
  private chunkAt(index: number): PageChunk | undefined {
    if (index < LOW_MAX_PAGES) {
      const low = this.low;
      return low !== undefined && index < low.pages ? low : undefined;
    }
    const number = Math.floor(index / CHUNK_PAGES);
    if (number === this.lastNumber) return this.lastChunk;
    const chunk = this.far?.get(number);
    if (chunk !== undefined) {
      this.lastNumber = number;
      this.lastChunk = chunk;
    }
    return chunk;
  }

  /** The table holding page `index`, made (or the flat one grown) if needed. */
  private chunkAtNew(index: number): PageChunk {
    if (index < LOW_MAX_PAGES) {
      const low = this.low;
      return low !== undefined && index < low.pages ? low : this.growLow(index);
    }
    const number = Math.floor(index / CHUNK_PAGES);
    const found = this.chunkAt(index);
    if (found !== undefined) return found;
    const chunk = this.accounting.takeChunk(number * CHUNK_PAGES);
    (this.far ??= new Map()).set(number, chunk);
    this.listChunk(chunk);
    this.lastNumber = number;
    this.lastChunk = chunk;
    return chunk;
  }

  private listChunk(chunk: PageChunk): void {
    chunk.listSlot = this.chunkList.length;
    this.chunkList.push(chunk);
  }

  /** The flat table, doubled until it holds page `index` (copied over). */
  private growLow(index: number): PageChunk {
    const old = this.low;
    let pages = old === undefined ? LOW_FIRST_PAGES : old.pages * 2;
    while (pages <= index) pages *= 2;
    const low = this.accounting.takeChunk(0, Math.min(pages, LOW_MAX_PAGES));
    if (old === undefined) {
      this.listChunk(low);
    } else {
      low.table.set(old.table);
      low.present = old.present;
      if (old.bytes !== undefined) low.bytes = old.bytes;
      low.listSlot = old.listSlot;
      this.chunkList[old.listSlot] = low;
    }
    this.low = low;
    return low;
  }

  /** A table with no page left goes (far chunks back to the pool). */
  private freeChunk(chunk: PageChunk): void {
    if (chunk === this.low) this.low = undefined;
    else this.far!.delete(Math.floor(chunk.first / CHUNK_PAGES));
    const last = this.chunkList.pop()!;
    if (last !== chunk) {
      this.chunkList[chunk.listSlot] = last;
      last.listSlot = chunk.listSlot;
    }
    if (this.lastChunk === chunk) {
      this.lastNumber = -1;
      this.lastChunk = undefined;
    }
    this.accounting.giveChunk(chunk);
  }

  /** The state word of page `index` (0: not cached). */
  private stateOf(index: number): number {
    const chunk = this.chunkAt(index);
    return chunk === undefined ? 0 : chunk.table[2 * (index - chunk.first)]!;
  }

  /** The chunk of a page that must be present. */
  private chunkOfPresent(index: number, what: string): PageChunk {
    const chunk = this.chunkAt(index);
    if (chunk === undefined || (chunk.table[2 * (index - chunk.first)]! & PRESENT) === 0) assert(false, `InodePages.${what}: page not cached`, { index });
    return chunk;
  }

  /** Whether page `index` is cached. */
  has(index: number): boolean {
    return (this.stateOf(index) & PRESENT) !== 0;
  }

  uptodateOf(index: number): number {
    return this.stateOf(index) & UPTODATE_BITS;
  }

  dirtyOf(index: number): number {
    return (this.stateOf(index) & DIRTY_BITS) >> DIRTY_SHIFT;
  }

  /** Every block of page `index` is uptodate (false when it is not cached). */
  isUptodate(index: number): boolean {
    return (this.stateOf(index) & UPTODATE_BITS) === this.fullMask;
  }

  /** A view of page `index`, or undefined when it is not cached. */
  get(index: number): Page | undefined {
    return this.has(index) ? new Page(this, index) : undefined;
  }

  /** Page `index`, created empty if absent (filemap_grab_folio), as a view. */
  grab(index: number): Page {
    this.grabIndex(index);
    return new Page(this, index);
  }

  /** filemap_grab_folio: page `index` is cached, created empty (nothing uptodate) if absent. Returns whether it was there. */
  grabIndex(index: number): boolean {
    const chunk = this.chunkAtNew(index);
    const slot = index - chunk.first;
    const table = chunk.table;
    if ((table[2 * slot]! & PRESENT) !== 0) return true;
    table[2 * slot] = PRESENT;
    table[2 * slot + 1] = -1;
    chunk.present++;
    this.count++;
    this.accounting.pages++;
    // A recycled buffer holds old bytes: nothing reads a block before it is uptodate.
    if (chunk.bytes !== undefined) chunk.bytes[slot] = this.accounting.takeBytes();
    return false;
  }

  /** Blocks `mask` of page `index` become uptodate (ifs_set_range_uptodate). */
  addUptodate(index: number, mask: number): void {
    const chunk = this.chunkOfPresent(index, 'addUptodate');
    chunk.table[2 * (index - chunk.first)]! |= mask & UPTODATE_BITS;
  }

  /** The uptodate bits of page `index` become exactly `mask`. */
  setUptodateBits(index: number, mask: number): void {
    const chunk = this.chunkOfPresent(index, 'setUptodateBits');
    const at = 2 * (index - chunk.first);
    chunk.table[at] = (chunk.table[at]! & ~UPTODATE_BITS) | (mask & UPTODATE_BITS);
  }

  /** The dirty bits alone become `mask`, the dirty list untold (what checkValid must catch). */
  setDirtyBitsOnly(index: number, mask: number): void {
    const chunk = this.chunkOfPresent(index, 'setDirtyBitsOnly');
    const at = 2 * (index - chunk.first);
    chunk.table[at] = (chunk.table[at]! & ~DIRTY_BITS) | ((mask << DIRTY_SHIFT) & DIRTY_BITS);
  }

  /** Marks blocks dirty (ifs_set_range_dirty) and the page dirty. */
  markDirty(index: number, mask: number): void {
    if ((mask & ~this.fullMask) !== 0) assert(false, 'InodePages.markDirty: mask outside page', { mask });
    if (mask === 0) return;
    const chunk = this.chunkOfPresent(index, 'markDirty');
    const at = 2 * (index - chunk.first);
    const state = chunk.table[at]!;
    chunk.table[at] = state | (mask << DIRTY_SHIFT);
    // A page is on the dirty list exactly when it has dirty bits (checkValid), so no list lookup is needed.
    if ((state & DIRTY_BITS) === 0) this.addDirty(chunk, at, index);
  }

  private addDirty(chunk: PageChunk, at: number, index: number): void {
    const slot = this.dirtyLength;
    if (slot >= this.dirtyIndexes.length) {
      const bigger = new Float64Array(this.dirtyIndexes.length * 2);
      bigger.set(this.dirtyIndexes);
      this.dirtyIndexes = bigger;
    }
    this.dirtyIndexes[slot] = index;
    chunk.table[at + 1] = slot;
    this.dirtyLength = slot + 1;
    this.accounting.dirtyPages++;
    // The VFS lists an inode while it has dirty pages: it only needs telling when the first one appears.
    if (slot === 0) this.onDirty?.();
  }

  /** Takes the page at word `at` of `chunk` off the dirty list (the last one fills its slot). */
  private removeDirty(chunk: PageChunk, at: number): void {
    // Only a page with dirty bits is on the list (the slot word of an absent or clean page means nothing).
    if ((chunk.table[at]! & DIRTY_BITS) === 0) return;
    const slot = chunk.table[at + 1]!;
    const lastSlot = --this.dirtyLength;
    if (slot !== lastSlot) {
      const moved = this.dirtyIndexes[lastSlot]!;
      this.dirtyIndexes[slot] = moved;
      const movedChunk = this.chunkAt(moved)!;
      movedChunk.table[2 * (moved - movedChunk.first) + 1] = slot;
    }
    chunk.table[at + 1] = -1;
    this.accounting.dirtyPages--;
  }

  /** Clears the dirty bits of page `index` (writeback took it). */
  clearDirty(index: number): void {
    const chunk = this.chunkAt(index);
    if (chunk === undefined) return;
    const at = 2 * (index - chunk.first);
    this.removeDirty(chunk, at);
    chunk.table[at]! &= ~DIRTY_BITS;
  }

  /**
   * folio_clear_dirty_for_io over [startIndex, endIndex), what a writeback does
   * before it maps anything: every dirty page there is visited in index order
   * with its dirty blocks, which are cleared. When the dirty pages fill a good
   * part of the flat table and the range takes them all, one pass over the
   * table finds and clears them, and the dirty list is emptied at once.
   */
  takeDirty(startIndex: number, endIndex: number, visit: (index: number, dirty: number) => void): void {
    const length = this.dirtyLength;
    if (length === 0) return;
    const low = this.low;
    if (low !== undefined && this.chunkList.length === 1 && startIndex === 0 && endIndex >= low.pages && length * 16 >= low.pages) {
      const table = low.table;
      for (let index = 0; index < low.pages; index++) {
        const state = table[2 * index]!;
        if ((state & DIRTY_BITS) === 0) continue;
        table[2 * index] = state & ~DIRTY_BITS;
        table[2 * index + 1] = -1;
        visit(index, (state & DIRTY_BITS) >> DIRTY_SHIFT);
      }
      this.accounting.dirtyPages -= length;
      this.dirtyLength = 0;
      return;
    }
    const indexes = this.dirtyIndexesSorted(startIndex, endIndex);
    for (let at = 0; at < indexes.length; at++) {
      const index = indexes[at]!;
      const dirty = this.dirtyOf(index);
      this.clearDirty(index);
      visit(index, dirty);
    }
  }

  /** Dirty page indexes in [startIndex, endIndex), ascending. */
  dirtyIndexesIn(startIndex: number, endIndex: number): number[] {
    return Array.from(this.dirtyIndexesSorted(startIndex, endIndex));
  }

  /** Dirty page indexes in [startIndex, endIndex), ascending (what a writeback takes), in a new array. */
  dirtyIndexesSorted(startIndex: number, endIndex: number): Float64Array {
    const length = this.dirtyLength;
    if (endIndex - startIndex <= length) {
      // A range smaller than the dirty list (a sync write's range): probe it in order.
      const found: number[] = [];
      for (let index = startIndex; index < endIndex; index++) if ((this.stateOf(index) & DIRTY_BITS) !== 0) found.push(index);
      return Float64Array.from(found);
    }
    // Indexes below 2^32 (files under 16 TiB): a radix sort of 32-bit keys.
    const indexes = this.dirtyIndexes;
    const scratch = sortScratch(length);
    let count = 0;
    let small = true;
    for (let slot = 0; slot < length; slot++) {
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
      return Float64Array.from(sorted.keys.subarray(0, count));
    }
    // Larger indexes: sorted as numbers in a typed array (much cheaper than Array.sort with a comparator).
    const keys = new Float64Array(length);
    count = 0;
    for (let slot = 0; slot < length; slot++) {
      const index = indexes[slot]!;
      if (index >= startIndex && index < endIndex) keys[count++] = index;
    }
    return keys.subarray(0, count).sort();
  }

  /** Whether any page in [startIndex, endIndex) is dirty. */
  hasDirtyIn(startIndex: number, endIndex: number): boolean {
    const length = this.dirtyLength;
    if (length === 0) return false;
    if (endIndex - startIndex < length) {
      for (let index = startIndex; index < endIndex; index++) if ((this.stateOf(index) & DIRTY_BITS) !== 0) return true;
      return false;
    }
    for (let slot = 0; slot < length; slot++) {
      const index = this.dirtyIndexes[slot]!;
      if (index >= startIndex && index < endIndex) return true;
    }
    return false;
  }

  // ---- bytes -----------------------------------------------------------------

  /** The PageBytes of a cached page (runs that keep data), undefined in a dataless run. */
  private bytesOf(index: number, what: string): PageBytes | undefined {
    const chunk = this.chunkOfPresent(index, what);
    return chunk.bytes?.[index - chunk.first];
  }

  /** The bytes of cached page `index` (a lazy page is filled in first); a dataless run's shared scratch. */
  bytes(index: number): Uint8Array {
    return this.bytesOf(index, 'bytes')?.filled() ?? this.accounting.scratch!;
  }

  /** The memory of cached page `index`, not filled in. */
  buffer(index: number): Uint8Array {
    return this.bytesOf(index, 'buffer')?.buffer ?? this.accounting.scratch!;
  }

  /** The whole page now holds `source`'s bytes for file offset `fileOffset` onwards (filled in when looked at). */
  setLazy(index: number, source: WriteSource, fileOffset: number): void {
    const bytes = this.bytesOf(index, 'setLazy');
    if (bytes === undefined) return; // dataless: no bytes kept
    bytes.lazy = source;
    bytes.lazyOffset = fileOffset;
  }

  /** The source a lazy page's bytes come from (undefined: they are in its buffer). */
  lazyOf(index: number): WriteSource | undefined {
    return this.bytesOf(index, 'lazyOf')?.lazy;
  }

  /** The file offset whose source bytes a lazy page holds (the page's own offset unless it was moved). */
  lazyOffsetOf(index: number): number {
    return this.bytesOf(index, 'lazyOffsetOf')?.lazyOffset ?? 0;
  }

  /** The page's bytes, a lazy page's generated into `scratch` (PAGE_SIZE bytes) instead of the page. */
  bytesVia(index: number, scratch: Uint8Array): Uint8Array {
    const bytes = this.bytesOf(index, 'bytesVia');
    if (bytes === undefined) return this.accounting.scratch!;
    if (bytes.lazy === undefined) return bytes.buffer;
    copyFromSource(scratch, bytes.lazy, bytes.lazyOffset);
    return scratch;
  }

  // ---- dropping ----------------------------------------------------------------

  /** Drops pages in [startIndex, endIndex), dirty or not (truncate_inode_pages_range). */
  drop(startIndex: number, endIndex: number): void {
    if (endIndex - startIndex <= this.count) {
      for (let index = startIndex; index < endIndex; index++) this.dropOne(index);
      return;
    }
    for (const chunk of [...this.chunkList]) {
      const first = chunk.first;
      if (first + chunk.pages <= startIndex || first >= endIndex) continue;
      for (let slot = 0; slot < chunk.pages; slot++) {
        const index = first + slot;
        if (index >= startIndex && index < endIndex && chunk.present > 0) this.dropOne(index);
      }
    }
  }

  private dropOne(index: number): void {
    const chunk = this.chunkAt(index);
    if (chunk === undefined) return;
    const slot = index - chunk.first;
    if ((chunk.table[2 * slot]! & PRESENT) === 0) return;
    this.removeDirty(chunk, 2 * slot);
    this.takeOut(chunk, slot, true);
    this.count--;
    this.accounting.pages--;
    if (chunk.present === 0) this.freeChunk(chunk);
  }

  /** Empties table slot `slot` of `chunk` (its bytes given back to the pool when `recycle`); returns the bytes. */
  private takeOut(chunk: PageChunk, slot: number, recycle: boolean): PageBytes | undefined {
    chunk.table[2 * slot] = 0;
    chunk.table[2 * slot + 1] = -1;
    chunk.present--;
    const bytes = chunk.bytes?.[slot];
    if (bytes !== undefined) {
      chunk.bytes![slot] = undefined;
      if (recycle) this.accounting.giveBytes(bytes);
    }
    return bytes;
  }

  /** Drops clean pages only (invalidate_mapping_pages); returns how many were dropped. Their bytes are recycled. */
  dropClean(): number {
    const dropped = this.count - this.dirtyLength;
    if (dropped === 0) return 0;
    // Backwards: freeing a chunk moves the last one into its slot, and that one was seen already.
    for (let at = this.chunkList.length - 1; at >= 0; at--) {
      const chunk = this.chunkList[at]!;
      const table = chunk.table;
      for (let slot = 0; slot < chunk.pages; slot++) {
        const state = table[2 * slot]!;
        if ((state & PRESENT) !== 0 && (state & DIRTY_BITS) === 0) this.takeOut(chunk, slot, true);
      }
      if (chunk.present === 0) this.freeChunk(chunk);
    }
    this.count -= dropped;
    this.accounting.pages -= dropped;
    return dropped;
  }

  /** Moves every page at or after fromIndex by deltaPages (collapse/insert range), keeping bytes and dirty state. */
  shiftPages(fromIndex: number, deltaPages: number): void {
    const moved: { index: number; state: number; bytes: PageBytes | undefined }[] = [];
    for (const chunk of [...this.chunkList]) {
      for (let slot = 0; slot < chunk.pages; slot++) {
        const index = chunk.first + slot;
        const state = chunk.table[2 * slot]!;
        if ((state & PRESENT) === 0 || index < fromIndex) continue;
        this.removeDirty(chunk, 2 * slot);
        moved.push({ index, state, bytes: this.takeOut(chunk, slot, false) });
      }
      if (chunk.present === 0) this.freeChunk(chunk);
    }
    this.count -= moved.length;
    this.accounting.pages -= moved.length;
    for (const page of moved) {
      const index = page.index + deltaPages;
      if (this.grabIndex(index)) assert(false, 'InodePages.shiftPages: pages collide', { index });
      const chunk = this.chunkAt(index)!;
      const slot = index - chunk.first;
      // A lazy page keeps its bytes: the source offset stays, only the page's place changes.
      if (chunk.bytes !== undefined && page.bytes !== undefined) {
        this.accounting.giveBytes(chunk.bytes[slot]!);
        chunk.bytes[slot] = page.bytes;
      }
      chunk.table[2 * slot] = PRESENT | (page.state & UPTODATE_BITS);
      this.markDirty(index, (page.state & DIRTY_BITS) >> DIRTY_SHIFT);
    }
  }

  clear(): void {
    this.accounting.pages -= this.count;
    this.accounting.dirtyPages -= this.dirtyLength;
    for (const chunk of this.chunkList) {
      for (let slot = 0; slot < chunk.pages; slot++) if ((chunk.table[2 * slot]! & PRESENT) !== 0) this.takeOut(chunk, slot, true);
      this.accounting.giveChunk(chunk);
    }
    this.low = undefined;
    this.far = undefined;
    this.chunkList = [];
    this.lastNumber = -1;
    this.lastChunk = undefined;
    this.count = 0;
    this.dirtyLength = 0;
  }

  /** The table and the dirty list agree; bits stay within the page; dirty blocks are uptodate. O(pages). */
  checkValid(): void {
    let pages = 0;
    let dirty = 0;
    for (const [at, chunk] of this.chunkList.entries()) {
      const first = chunk.first;
      const filed = first < LOW_MAX_PAGES ? this.low : this.far?.get(Math.floor(first / CHUNK_PAGES));
      assert(filed === chunk && chunk.listSlot === at, 'InodePages: chunk index out of sync', { first });
      let present = 0;
      for (let slot = 0; slot < chunk.pages; slot++) {
        const index = first + slot;
        const state = chunk.table[2 * slot]!;
        const dirtySlot = chunk.table[2 * slot + 1]!;
        if ((state & PRESENT) === 0) {
          assert(state === 0 && chunk.bytes?.[slot] === undefined, 'InodePages: state of an absent page', { index, state });
          continue;
        }
        present++;
        const uptodate = state & UPTODATE_BITS;
        const dirtyBits = (state & DIRTY_BITS) >> DIRTY_SHIFT;
        assert((uptodate & ~this.fullMask) === 0 && (dirtyBits & ~this.fullMask) === 0, 'InodePages: bits outside page', { index });
        const listed = dirtySlot >= 0 && dirtySlot < this.dirtyLength && this.dirtyIndexes[dirtySlot] === index;
        if ((dirtyBits !== 0) !== listed) assert(false, 'InodePages: dirty set out of sync', { index, dirty: dirtyBits, slot: dirtySlot });
        assert((dirtyBits & ~uptodate) === 0, 'InodePages: dirty block not uptodate', { index, page: { u: uptodate, d: dirtyBits } });
        assert(chunk.bytes === undefined || chunk.bytes[slot] !== undefined, 'InodePages: page without its bytes', { index });
        if (dirtyBits !== 0) dirty++;
      }
      assert(present === chunk.present && present > 0, 'InodePages: chunk count out of sync', { first, present, counted: chunk.present });
      pages += present;
    }
    assert(pages === this.count && dirty === this.dirtyLength, 'InodePages: counts out of sync', { pages, count: this.count, dirty, listed: this.dirtyLength });
  }
}
