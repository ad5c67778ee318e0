/**
 * Buffered I/O actors (fs/iomap/buffered-io.c) with hand-written mappings on
 * a poisoned MemDevice. Pins __iomap_write_begin's read-modify-write rules
 * (iomap_block_needs_zeroing: read only from a MAPPED source without F_NEW
 * inside i_size; runs with a write boundary strictly inside are filled whole),
 * the per-block ifs bits with 1 KiB blocks, iomap_zero_iter's skipping of
 * holes/unwritten extents, and iomap_truncate_page.
 */
import { iomapBufferedRead, iomapFileBufferedWrite, iomapTruncatePage, iomapZeroRange } from '../../src/iomap/buffered.js';
import { IomapFlag, IomapOp, IomapType, type Iomap, type IomapPair } from '../../src/iomap/types.js';
import { PAGE_SIZE } from '../../src/pagecache/pagecache.js';
import { allEqual, fillDevice, makeCore, mapping, recordingOps } from './helpers.js';

const MiB = 1024 * 1024;
const DEVICE_ADDR = 1 * MiB;
const OLD = 0xab;
const NEW = 0x11;

/** One mapping over the first 64 KiB of the file. */
function whole(type: IomapType, flags = 0): Iomap {
  return mapping(type, 0, 64 * 1024, type === IomapType.Mapped || type === IomapType.Unwritten ? DEVICE_ADDR : -1, flags);
}

function setup(blockSize: number, answer: IomapPair | Iomap, isize: number) {
  const core = makeCore(blockSize);
  fillDevice(core.device, DEVICE_ADDR, 64 * 1024, OLD);
  core.device.bytesRead = 0;
  core.inode.size = isize;
  const recorder = recordingOps(() => answer);
  return { ...core, ...recorder };
}

describe('read-modify-write of a partial block (__iomap_write_begin)', () => {
  test('MAPPED, not NEW, inside i_size: the block is read from the device', () => {
    const h = setup(4096, whole(IomapType.Mapped), 8192);
    const written = iomapFileBufferedWrite(h.ctx, h.inode, 10, 100, { kind: 'fill', byte: NEW }, h.ops);
    expect(written).toBe(100);
    expect(h.device.bytesRead).toBe(4096);
    expect(h.ctx.stats.deviceBytesRead).toBe(4096);
    const page = h.inode.pages.get(0)!;
    expect(allEqual(page.data.subarray(0, 10), OLD)).toBe(true);
    expect(allEqual(page.data.subarray(10, 110), NEW)).toBe(true);
    expect(allEqual(page.data.subarray(110), OLD)).toBe(true);
    expect(page.uptodate).toBe(1);
    expect(page.dirty).toBe(1);
    expect(h.inode.size).toBe(8192); // inside i_size: unchanged
  });

  const zeroFilled: [string, Iomap, number][] = [
    ['MAPPED with F_NEW', whole(IomapType.Mapped, IomapFlag.New), 8192],
    ['UNWRITTEN', whole(IomapType.Unwritten), 8192],
    ['DELALLOC', whole(IomapType.Delalloc, IomapFlag.New), 8192],
    ['MAPPED at or past i_size', whole(IomapType.Mapped), 0],
  ];
  test.each(zeroFilled)('%s: zero-filled, nothing read', (_name, map, isize) => {
    const h = setup(4096, map, isize);
    iomapFileBufferedWrite(h.ctx, h.inode, 10, 100, { kind: 'fill', byte: NEW }, h.ops);
    expect(h.device.bytesRead).toBe(0);
    const page = h.inode.pages.get(0)!;
    expect(allEqual(page.data.subarray(0, 10), 0)).toBe(true);
    expect(allEqual(page.data.subarray(110), 0)).toBe(true);
    expect(allEqual(page.data.subarray(10, 110), NEW)).toBe(true);
  });

  test('a whole-page write reads nothing, even over MAPPED data inside i_size', () => {
    const h = setup(4096, whole(IomapType.Mapped), 16384);
    iomapFileBufferedWrite(h.ctx, h.inode, 4096, 4096, { kind: 'fill', byte: NEW }, h.ops);
    expect(h.device.bytesRead).toBe(0);
    expect(h.inode.pages.get(1)!.uptodate).toBe(1);
  });

  test('an uptodate page is not read again', () => {
    const h = setup(4096, whole(IomapType.Mapped), 16384);
    iomapFileBufferedWrite(h.ctx, h.inode, 0, 1, { kind: 'fill', byte: NEW }, h.ops);
    iomapFileBufferedWrite(h.ctx, h.inode, 100, 1, { kind: 'fill', byte: NEW }, h.ops);
    expect(h.device.bytesRead).toBe(4096);
  });

  test('the read source is srcmap, not the destination (CoW)', () => {
    const source = mapping(IomapType.Mapped, 0, 64 * 1024, 2 * MiB);
    const h = setup(4096, { iomap: mapping(IomapType.Delalloc, 0, 64 * 1024, -1, IomapFlag.Shared), srcmap: source }, 8192);
    fillDevice(h.device, 2 * MiB, 4096, 0xcd);
    iomapFileBufferedWrite(h.ctx, h.inode, 10, 100, { kind: 'fill', byte: NEW }, h.ops);
    const page = h.inode.pages.get(0)!;
    expect(page.data[0]).toBe(0xcd);
    expect(page.data[200]).toBe(0xcd);
  });

  test('a write extending i_size moves i_size and sets F_SIZE_CHANGED', () => {
    const map = whole(IomapType.Delalloc, IomapFlag.New);
    const h = setup(4096, map, 100);
    iomapFileBufferedWrite(h.ctx, h.inode, 5000, 10, { kind: 'fill', byte: NEW }, h.ops);
    expect(h.inode.size).toBe(5010);
    expect(map.flags & IomapFlag.SizeChanged).toBe(IomapFlag.SizeChanged);
    expect(h.begins[0]!.flags).toBe(IomapOp.Write);
  });
});

describe('1 KiB blocks: per-block uptodate and dirty bits', () => {
  test('a 1-byte write dirties exactly one block and reads only that block', () => {
    const h = setup(1024, whole(IomapType.Mapped), 8192);
    iomapFileBufferedWrite(h.ctx, h.inode, 1500, 1, { kind: 'fill', byte: NEW }, h.ops);
    const page = h.inode.pages.get(0)!;
    expect(page.dirty).toBe(0b0010);
    expect(page.uptodate).toBe(0b0010);
    expect(h.device.bytesRead).toBe(1024);
    expect(page.data[1500]).toBe(NEW);
    expect(page.data[1024]).toBe(OLD);
    expect(page.data[2047]).toBe(OLD);
  });

  test('a block-aligned write reads nothing and leaves the other blocks not uptodate', () => {
    const h = setup(1024, whole(IomapType.Mapped), 8192);
    iomapFileBufferedWrite(h.ctx, h.inode, 1024, 1024, { kind: 'fill', byte: NEW }, h.ops);
    const page = h.inode.pages.get(0)!;
    expect(h.device.bytesRead).toBe(0);
    expect(page.uptodate).toBe(0b0010);
    expect(page.dirty).toBe(0b0010);
    expect(h.inode.pages.isUptodate(page.index)).toBe(false);
  });

  test('a boundary strictly inside a run of not-uptodate blocks fills the whole run', () => {
    const h = setup(1024, whole(IomapType.Mapped), 8192);
    // [1024, 3000): blocks 1-2 form one not-uptodate run and 3000 lies inside it.
    iomapFileBufferedWrite(h.ctx, h.inode, 1024, 1976, { kind: 'fill', byte: NEW }, h.ops);
    expect(h.device.bytesRead).toBe(2048);
    const page = h.inode.pages.get(0)!;
    expect(page.uptodate).toBe(0b0110);
    expect(page.dirty).toBe(0b0110);
    expect(page.data[3000]).toBe(OLD);
  });

  test('buffered read zero-fills blocks past i_size instead of reading them', () => {
    const h = setup(1024, whole(IomapType.Mapped), 1500);
    const dst = new Uint8Array(1500);
    expect(iomapBufferedRead(h.ctx, h.inode, 0, 4096, h.ops, dst)).toBe(1500);
    expect(h.device.bytesRead).toBe(2048);
    expect(allEqual(dst, OLD)).toBe(true);
    const page = h.inode.pages.get(0)!;
    expect(page.uptodate).toBe(0b1111);
    expect(allEqual(page.data.subarray(2048), 0)).toBe(true);
    expect(h.begins[0]!.flags).toBe(0);
  });

  test('buffered read of holes and unwritten extents reads nothing; cached pages count as hits', () => {
    for (const type of [IomapType.Hole, IomapType.Unwritten]) {
      const h = setup(4096, whole(type), 8192);
      const dst = new Uint8Array(8192).fill(1);
      iomapBufferedRead(h.ctx, h.inode, 0, 8192, h.ops, dst);
      expect(h.device.bytesRead).toBe(0);
      expect(allEqual(dst, 0)).toBe(true);
      iomapBufferedRead(h.ctx, h.inode, 0, 8192, h.ops, dst);
      expect(h.ctx.stats.pageCacheHits).toBe(2);
    }
  });
});

describe('zero range (iomap_zero_iter)', () => {
  test.each([
    ['HOLE', IomapType.Hole],
    ['UNWRITTEN', IomapType.Unwritten],
  ])('%s without dirty cache is skipped: no page, no flush', (_name, type) => {
    const h = setup(4096, whole(type), 65536);
    let flushes = 0;
    iomapZeroRange(h.ctx, h.inode, 100, 9000, h.ops, () => flushes++);
    expect(h.inode.pages.pageCount).toBe(0);
    expect(flushes).toBe(0);
    expect(h.begins[0]!.flags).toBe(IomapOp.Write | IomapOp.Zero);
  });

  test('unwritten under dirty cache: flush, mark stale, remap, then zero through the cache', () => {
    const core = makeCore(4096);
    core.inode.size = 65536;
    let flushed = false;
    const { ops, begins } = recordingOps(() => whole(flushed ? IomapType.Mapped : IomapType.Unwritten));
    const page = core.inode.pages.grab(0);
    page.data.fill(NEW);
    page.uptodate = 1;
    core.inode.pages.markDirty(page.index, 1);
    const ranges: [number, number][] = [];
    iomapZeroRange(core.ctx, core.inode, 100, 200, ops, (_inode, start, end) => {
      ranges.push([start, end]);
      flushed = true;
      core.inode.pages.clearDirty(page.index); // what writeback would do
    });
    expect(ranges).toEqual([[100, 300]]);
    expect(begins.map((call) => call.pos)).toEqual([100, 100]);
    expect(allEqual(page.data.subarray(100, 300), 0)).toBe(true);
    expect(page.data[99]).toBe(NEW);
    expect(page.data[300]).toBe(NEW);
    expect(page.dirty).toBe(1);
  });

  test('mapped data is zeroed through the cache with read-modify-write, and i_size does not move', () => {
    const h = setup(4096, whole(IomapType.Mapped), 4096);
    iomapZeroRange(h.ctx, h.inode, 1000, 6000, h.ops, () => undefined);
    const page = h.inode.pages.get(0)!;
    expect(page.data[999]).toBe(OLD);
    expect(allEqual(page.data.subarray(1000), 0)).toBe(true);
    expect(h.device.bytesRead).toBe(4096); // only the block inside i_size is read; page 1 is past it
    expect(h.inode.pages.get(1)!.dirty).toBe(1);
    expect(h.inode.size).toBe(4096);
  });
});

describe('iomap_truncate_page', () => {
  test('a block-aligned pos zeroes nothing and maps nothing', () => {
    const h = setup(1024, whole(IomapType.Mapped), 8192);
    iomapTruncatePage(h.ctx, h.inode, 2048, h.ops, () => undefined);
    expect(h.begins).toHaveLength(0);
    expect(h.inode.pages.pageCount).toBe(0);
  });

  test('an unaligned pos zeroes to the end of its block only', () => {
    const h = setup(1024, whole(IomapType.Mapped), 8192);
    const page = h.inode.pages.grab(0);
    page.data.fill(0xcc);
    page.uptodate = 0b1111;
    iomapTruncatePage(h.ctx, h.inode, 1500, h.ops, () => undefined);
    expect(h.begins.map((call) => [call.pos, call.length])).toEqual([[1500, 548]]);
    expect(page.data[1499]).toBe(0xcc);
    expect(allEqual(page.data.subarray(1500, 2048), 0)).toBe(true);
    expect(allEqual(page.data.subarray(2048, PAGE_SIZE), 0xcc)).toBe(true);
    expect(page.dirty).toBe(0b0010);
  });
});
