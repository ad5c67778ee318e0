/**
 * Direct I/O (iomap_dio_rw, iomap_dio_bio_iter, iomap_dio_zero) through the
 * ext4 policy on a poisoned device, plus the core alone with hand-written
 * mappings. Pins: -EINVAL off the 512-byte sector; sub-block zeroing around
 * a DIO into new or unwritten blocks (the bytes around it read zero, never
 * stale poison); HOLE/UNWRITTEN reads give zeroes without device reads; a
 * read at or past EOF returns 0; the cache over the range is flushed and
 * invalidated first.
 */
import { iomapDioRead, iomapDioWrite, type DioHost } from '../../src/iomap/direct.js';
import type { DioCompletion, DioOps } from '../../src/iomap/ops.js';
import { IomapFlag, IomapOp, IomapType } from '../../src/iomap/types.js';
import { Errno } from '../../src/util/errno.js';
import { POISON, makeHarness, openFlags, readAll, errnoOf } from '../engine/harness.js';
import { allEqual, fillDevice, makeCore, mapping, readDevice, recordingOps } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;


describe('alignment', () => {
  test.each([
    ['offset', 100, 512],
    ['length', 512, 100],
  ])('a direct write with an unaligned %s fails with EINVAL and changes nothing', (_what, offset, length) => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    expect(errnoOf(() => h.vfs.write(handle, offset, length, 0x41))).toBe(Errno.EINVAL);
    expect(handle.inode.size).toBe(0);
    expect(handle.inode.data.extentCount).toBe(0);
    h.vfs.checkValid();
  });

  test('a direct read off the sector fails with EINVAL', () => {
    const h = makeHarness();
    const writer = h.vfs.open('f', openFlags());
    h.vfs.write(writer, 0, 8192, 0x41);
    const reader = h.vfs.open('f', openFlags({ direct: true, readOnly: true }));
    expect(errnoOf(() => h.vfs.read(reader, 256, 512))).toBe(Errno.EINVAL);
  });
});

describe('sub-block zeroing (iomap_dio_zero) through ext4', () => {
  test('a 512-byte DIO into a hole inside EOF: the rest of the block is zero on the device, not stale', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    h.vfs.truncate(handle.inode, 64 * KiB);
    expect(h.vfs.write(handle, 8 * KiB + 512, 512, 0x5a).direct).toBe(512);
    const extent = handle.inode.data.extentAt(2)!;
    const block = readDevice(h.device, extent.physBlock * 4096, 4096);
    expect(allEqual(block.subarray(0, 512), 0)).toBe(true);
    expect(allEqual(block.subarray(512, 1024), 0x5a)).toBe(true);
    expect(allEqual(block.subarray(1024), 0)).toBe(true);
    expect(block.includes(POISON)).toBe(false);
    h.vfs.checkValid();
  });

  test('a 512-byte DIO appending to an empty file zeroes the tail of its block', () => {
    const h = makeHarness();
    const handle = h.vfs.open('f', openFlags({ direct: true }));
    h.vfs.write(handle, 0, 512, 0x5b);
    expect(handle.inode.size).toBe(512);
    const extent = handle.inode.data.extentAt(0)!;
    const block = readDevice(h.device, extent.physBlock * 4096, 4096);
    expect(allEqual(block.subarray(0, 512), 0x5b)).toBe(true);
    expect(allEqual(block.subarray(512), 0)).toBe(true);
  });

  test('core alone: UNWRITTEN zeroes head and tail and completes with the unwritten flag', () => {
    const { ctx, inode, device } = makeCore();
    inode.size = 64 * KiB;
    const { ops } = recordingOps(() => mapping(IomapType.Unwritten, 0, 64 * KiB, MiB));
    const completions: DioCompletion[] = [];
    const dioOps: DioOps = { endIo: (_inode, completion) => completions.push(completion) };
    const host: DioHost = { flushAndInvalidate: () => undefined };
    const result = iomapDioWrite(ctx, host, inode, 4096 + 1024, 1024, { kind: 'fill', byte: 0x77 }, ops, dioOps);
    expect(result).toEqual({ done: 1024, errno: 0 });
    const block = readDevice(device, MiB + 4096, 4096);
    expect(allEqual(block.subarray(0, 1024), 0)).toBe(true);
    expect(allEqual(block.subarray(1024, 2048), 0x77)).toBe(true);
    expect(allEqual(block.subarray(2048), 0)).toBe(true);
    expect(ctx.stats.deviceZeroBytes).toBe(3072);
    expect(completions).toEqual([{ pos: 5120, size: 1024, unwritten: true, cow: false }]);
  });

  test('core alone: a plain MAPPED overwrite inside EOF zeroes nothing around the data', () => {
    const { ctx, inode, device } = makeCore();
    inode.size = 64 * KiB;
    fillDevice(device, MiB, 8192, 0x10);
    const { ops, begins } = recordingOps(() => mapping(IomapType.Mapped, 0, 64 * KiB, MiB));
    const dioOps: DioOps = { endIo: () => undefined };
    iomapDioWrite(ctx, { flushAndInvalidate: () => undefined }, inode, 4096 + 1024, 1024, { kind: 'fill', byte: 0x77 }, ops, dioOps);
    const block = readDevice(device, MiB + 4096, 4096);
    expect(allEqual(block.subarray(0, 1024), 0x10)).toBe(true);
    expect(allEqual(block.subarray(2048), 0x10)).toBe(true);
    expect(ctx.stats.deviceZeroBytes).toBe(0);
    expect(begins[0]!.flags).toBe(IomapOp.Write | IomapOp.Direct);
  });

  test('core alone: a DIO write answered with a HOLE is an EIO, with no completion', () => {
    const { ctx, inode } = makeCore();
    const { ops } = recordingOps(() => mapping(IomapType.Hole, 0, 64 * KiB));
    let completions = 0;
    const result = iomapDioWrite(ctx, { flushAndInvalidate: () => undefined }, inode, 0, 4096, { kind: 'zero' }, ops, { endIo: () => completions++ });
    expect(result).toEqual({ done: 0, errno: Errno.EIO });
    expect(completions).toBe(0);
  });
});

describe('direct reads', () => {
  test('holes and unwritten extents read as zeroes without touching the device', () => {
    const h = makeHarness();
    const writer = h.vfs.open('f', openFlags());
    h.vfs.truncate(writer.inode, 16 * KiB);
    h.vfs.fallocate(writer, 'allocate', 4 * KiB, 4 * KiB, false);
    const reader = h.vfs.open('f', openFlags({ direct: true, readOnly: true }));
    const dst = new Uint8Array(16 * KiB).fill(1);
    const readBefore = h.device.bytesRead;
    expect(h.vfs.read(reader, 0, 16 * KiB, dst)).toBe(16 * KiB);
    expect(allEqual(dst, 0)).toBe(true);
    expect(h.device.bytesRead).toBe(readBefore);
  });

  test('a read at or past EOF returns 0; a read across EOF stops at i_size', () => {
    const h = makeHarness();
    const writer = h.vfs.open('f', openFlags());
    h.vfs.write(writer, 0, 5000, 0x21);
    const reader = h.vfs.open('f', openFlags({ direct: true, readOnly: true }));
    expect(h.vfs.read(reader, 8192, 4096)).toBe(0);
    const dst = new Uint8Array(8192);
    expect(h.vfs.read(reader, 0, 8192, dst)).toBe(5000);
    expect(allEqual(dst.subarray(0, 5000), 0x21)).toBe(true);
  });

  test('core alone: a DIO read of DELALLOC is an EIO', () => {
    const { ctx, inode } = makeCore();
    inode.size = 8192;
    const { ops } = recordingOps(() => mapping(IomapType.Delalloc, 0, 8192, -1, IomapFlag.New));
    const result = iomapDioRead(ctx, { flushAndInvalidate: () => undefined }, inode, 0, 4096, ops, new Uint8Array(4096));
    expect(result.errno).toBe(Errno.EIO);
  });
});

describe('the cache over the range is flushed and invalidated', () => {
  test('a direct read sees dirty buffered data (flushed first) and leaves no pages behind', () => {
    const h = makeHarness();
    const writer = h.vfs.open('f', openFlags());
    h.vfs.write(writer, 0, 8192, 0x31);
    const reader = h.vfs.open('f', openFlags({ direct: true, readOnly: true }));
    const dst = new Uint8Array(4096);
    h.vfs.read(reader, 0, 4096, dst);
    expect(allEqual(dst, 0x31)).toBe(true);
    expect(writer.inode.pages.get(0)).toBeUndefined();
  });

  test('a direct write over cached data: the page goes, later buffered reads see the new bytes', () => {
    const h = makeHarness();
    const buffered = h.vfs.open('f', openFlags());
    h.vfs.write(buffered, 0, 8192, 0x41);
    const direct = h.vfs.open('f', openFlags({ direct: true }));
    h.vfs.write(direct, 0, 4096, 0x42);
    expect(buffered.inode.pages.get(0)).toBeUndefined();
    const data = readAll(h, buffered);
    expect(allEqual(data.subarray(0, 4096), 0x42)).toBe(true);
    expect(allEqual(data.subarray(4096), 0x41)).toBe(true);
    h.vfs.checkValid();
  });
});
