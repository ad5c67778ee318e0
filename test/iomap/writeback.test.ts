/**
 * Writeback (iomap_writepages / iomap_writepage_map / iomap_add_to_ioend)
 * with a hand-written map_blocks. Pins: ioends break on an unwritten/written
 * change and on file or disk discontiguity; the
 * part of the EOF folio past i_size is zeroed before it goes to disk; folios
 * wholly past EOF are skipped; dirty bits are cleared; HOLE answers skip.
 */
import type { Ioend, WritebackOps } from '../../src/iomap/ops.js';
import { IomapType, type Iomap } from '../../src/iomap/types.js';
import { iomapWritepages } from '../../src/iomap/writeback.js';
import { PAGE_SIZE } from '../../src/pagecache/pagecache.js';
import { InvariantError } from '../../src/util/assert.js';
import type { Inode } from '../../src/vfs/inode.js';
import { POISON, allEqual, makeCore, mapping, readDevice } from './helpers.js';

const MiB = 1024 * 1024;

/** Dirties whole pages [first, end) with `byte` (as a buffered write would). */
function dirtyPages(inode: Inode, first: number, end: number, byte: number): void {
  for (let index = first; index < end; index++) {
    const page = inode.pages.grab(index);
    page.data.fill(byte);
    page.uptodate = inode.pages.fullMask;
    inode.pages.markDirty(page.index, inode.pages.fullMask);
  }
}

function recordingWriteback(map: (pos: number, dirtyLength: number) => Iomap) {
  const ioends: Ioend[] = [];
  const mapCalls: [number, number][] = [];
  const ops: WritebackOps = {
    mapBlocks: (_inode, pos, dirtyLength) => {
      mapCalls.push([pos, dirtyLength]);
      return map(pos, dirtyLength);
    },
    ioendCompletion: (_inode, ioend) => ioends.push({ ...ioend }),
  };
  return { ops, ioends, mapCalls };
}

describe('ioend boundaries', () => {
  test('one contiguous run of 4097 pages makes two ioends: 4096 folios at most (IOEND_BATCH_SIZE)', () => {
    const { ctx, inode } = makeCore(4096, 64 * MiB);
    inode.size = 4097 * PAGE_SIZE;
    dirtyPages(inode, 0, 4097, 0x35);
    const { ops, ioends } = recordingWriteback(() => mapping(IomapType.Mapped, 0, 4097 * PAGE_SIZE, MiB));
    iomapWritepages(ctx, inode, ops);
    expect(ioends.map((ioend) => ioend.length / PAGE_SIZE)).toEqual([4096, 1]);
    expect(ioends[1]!.addr).toBe(MiB + 4096 * PAGE_SIZE);
  });

  test('two mappings contiguous in the file and on disk share an ioend', () => {
    const { ctx, inode } = makeCore();
    inode.size = 2 * PAGE_SIZE;
    dirtyPages(inode, 0, 2, 0x36);
    const { ops, ioends, mapCalls } = recordingWriteback((pos) => mapping(IomapType.Mapped, pos, PAGE_SIZE, MiB + pos));
    iomapWritepages(ctx, inode, ops);
    expect(mapCalls).toHaveLength(2);
    expect(ioends).toEqual([{ offset: 0, length: 2 * PAGE_SIZE, addr: MiB, unwritten: false, shared: false, error: 0 }]);
  });

  test('an unwritten -> written change starts a new ioend even when the disk is contiguous', () => {
    const { ctx, inode, device } = makeCore();
    inode.size = 4 * PAGE_SIZE;
    dirtyPages(inode, 0, 4, 0x31);
    const { ops, ioends } = recordingWriteback((pos) =>
      pos < 2 * PAGE_SIZE ? mapping(IomapType.Unwritten, 0, 2 * PAGE_SIZE, MiB) : mapping(IomapType.Mapped, 2 * PAGE_SIZE, 2 * PAGE_SIZE, MiB + 2 * PAGE_SIZE),
    );
    expect(iomapWritepages(ctx, inode, ops)).toBe(4 * PAGE_SIZE);
    expect(ioends).toEqual([
      { offset: 0, length: 2 * PAGE_SIZE, addr: MiB, unwritten: true, shared: false, error: 0 },
      { offset: 2 * PAGE_SIZE, length: 2 * PAGE_SIZE, addr: MiB + 2 * PAGE_SIZE, unwritten: false, shared: false, error: 0 },
    ]);
    expect(allEqual(readDevice(device, MiB, 4 * PAGE_SIZE), 0x31)).toBe(true);
    expect(ctx.stats.writebackIoends).toBe(2);
  });

  test('a physical discontiguity starts a new ioend', () => {
    const { ctx, inode, device } = makeCore();
    inode.size = 2 * PAGE_SIZE;
    dirtyPages(inode, 0, 2, 0x32);
    const { ops, ioends } = recordingWriteback((pos) =>
      pos < PAGE_SIZE ? mapping(IomapType.Mapped, 0, PAGE_SIZE, MiB) : mapping(IomapType.Mapped, PAGE_SIZE, PAGE_SIZE, 3 * MiB),
    );
    iomapWritepages(ctx, inode, ops);
    expect(ioends.map((ioend) => [ioend.offset, ioend.addr])).toEqual([
      [0, MiB],
      [PAGE_SIZE, 3 * MiB],
    ]);
    expect(allEqual(readDevice(device, 3 * MiB, PAGE_SIZE), 0x32)).toBe(true);
  });

  test('dirty runs in one mapping join one ioend; a clean page in between (file gap) splits it', () => {
    const { ctx, inode } = makeCore();
    inode.size = 8 * PAGE_SIZE;
    dirtyPages(inode, 0, 3, 1);
    dirtyPages(inode, 4, 6, 2);
    const { ops, ioends, mapCalls } = recordingWriteback(() => mapping(IomapType.Mapped, 0, 8 * PAGE_SIZE, MiB));
    iomapWritepages(ctx, inode, ops);
    expect(mapCalls).toEqual([[0, 3 * PAGE_SIZE]]); // one mapping served both runs
    expect(ioends.map((ioend) => [ioend.offset, ioend.length])).toEqual([
      [0, 3 * PAGE_SIZE],
      [4 * PAGE_SIZE, 2 * PAGE_SIZE],
    ]);
  });
});

describe('EOF handling and dirty state', () => {
  test('the EOF folio goes to disk with its tail past i_size zeroed', () => {
    const { ctx, inode, device } = makeCore();
    inode.size = PAGE_SIZE + 1000;
    dirtyPages(inode, 0, 2, 0x44); // e.g. an mmap store wrote past EOF in the last page
    const { ops } = recordingWriteback(() => mapping(IomapType.Mapped, 0, 2 * PAGE_SIZE, MiB));
    iomapWritepages(ctx, inode, ops);
    const eofBlock = readDevice(device, MiB + PAGE_SIZE, PAGE_SIZE);
    expect(allEqual(eofBlock.subarray(0, 1000), 0x44)).toBe(true);
    expect(allEqual(eofBlock.subarray(1000), 0)).toBe(true);
  });

  test('with 1 KiB blocks only blocks up to the one holding i_size are written', () => {
    const { ctx, inode, device } = makeCore(1024);
    inode.size = 1500;
    dirtyPages(inode, 0, 1, 0x45);
    const { ops, ioends } = recordingWriteback(() => mapping(IomapType.Mapped, 0, PAGE_SIZE, MiB));
    iomapWritepages(ctx, inode, ops);
    expect(ioends.map((ioend) => ioend.length)).toEqual([2048]);
    expect(allEqual(readDevice(device, MiB + 2048, 2048), POISON)).toBe(true);
    expect(allEqual(readDevice(device, MiB + 1500, 548), 0)).toBe(true);
  });

  test('folios wholly past EOF are skipped and lose their dirty bits', () => {
    const { ctx, inode, device } = makeCore();
    inode.size = PAGE_SIZE;
    dirtyPages(inode, 0, 1, 0x50);
    dirtyPages(inode, 2, 3, 0x51);
    const { ops, mapCalls } = recordingWriteback(() => mapping(IomapType.Mapped, 0, 4 * PAGE_SIZE, MiB));
    expect(iomapWritepages(ctx, inode, ops)).toBe(PAGE_SIZE);
    expect(mapCalls).toEqual([[0, PAGE_SIZE]]);
    expect(allEqual(readDevice(device, MiB + 2 * PAGE_SIZE, PAGE_SIZE), POISON)).toBe(true);
    expect(inode.pages.dirtyCount).toBe(0);
    expect(inode.pages.get(2)!.dirty).toBe(0);
  });

  test('dirty bits are cleared, pages stay cached and uptodate; a second writeback does nothing', () => {
    const { ctx, inode } = makeCore();
    inode.size = 2 * PAGE_SIZE;
    dirtyPages(inode, 0, 2, 0x60);
    const { ops, mapCalls } = recordingWriteback(() => mapping(IomapType.Mapped, 0, 2 * PAGE_SIZE, MiB));
    iomapWritepages(ctx, inode, ops);
    expect(inode.pages.dirtyCount).toBe(0);
    expect(inode.pages.pageCount).toBe(2);
    expect(inode.pages.isUptodate(1)).toBe(true);
    expect(iomapWritepages(ctx, inode, ops)).toBe(0);
    expect(mapCalls).toHaveLength(1);
    inode.pages.checkValid();
  });

  test('the range limits which pages are written', () => {
    const { ctx, inode } = makeCore();
    inode.size = 4 * PAGE_SIZE;
    dirtyPages(inode, 0, 4, 0x61);
    const { ops, ioends } = recordingWriteback(() => mapping(IomapType.Mapped, 0, 4 * PAGE_SIZE, MiB));
    iomapWritepages(ctx, inode, ops, PAGE_SIZE, 3 * PAGE_SIZE - 1);
    expect(ioends.map((ioend) => [ioend.offset, ioend.length])).toEqual([[PAGE_SIZE, 2 * PAGE_SIZE]]);
    expect(inode.pages.dirtyIndexesIn(0, 10)).toEqual([0, 3]);
  });
});

describe('map_blocks answers', () => {
  test('a HOLE answer is skipped: nothing written, no ioend', () => {
    const { ctx, inode, device } = makeCore();
    inode.size = PAGE_SIZE;
    dirtyPages(inode, 0, 1, 0x70);
    const { ops, ioends } = recordingWriteback(() => mapping(IomapType.Hole, 0, PAGE_SIZE));
    expect(iomapWritepages(ctx, inode, ops)).toBe(0);
    expect(ioends).toHaveLength(0);
    expect(device.bytesWritten).toBe(0);
    expect(inode.pages.dirtyCount).toBe(0);
  });

  test('map_blocks must never return DELALLOC', () => {
    const { ctx, inode } = makeCore();
    inode.size = PAGE_SIZE;
    dirtyPages(inode, 0, 1, 0x71);
    const { ops } = recordingWriteback(() => mapping(IomapType.Delalloc, 0, PAGE_SIZE));
    expect(() => iomapWritepages(ctx, inode, ops)).toThrow(InvariantError);
  });
});
