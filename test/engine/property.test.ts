/**
 * Property test: random operation sequences on the ext4 policy against a
 * shadow byte model. After every op the invariants hold (extents sorted and
 * disjoint, every device block has exactly one owner, free space adds up,
 * delalloc reservations add up); reads (buffered, direct, after remount)
 * return exactly what the model holds.
 */
import fc from 'fast-check';
import { expectedContent } from '../../src/image/payload.js';
import { persistedInodes } from '../../src/replay/layouts.js';
import type { FallocMode } from '../../src/trace/types.js';
import { ErrnoError } from '../../src/util/errno.js';
import type { PageCacheLimits } from '../../src/vfs/vfs.js';
import { makeHarness, openFlags, readAll, type Harness } from './harness.js';

const FILE_SPAN = 192 * 1024;

type Op =
  | { kind: 'write'; offset: number; length: number; fill: number; direct: boolean }
  | { kind: 'mmap'; offset: number; length: number; fill: number }
  | { kind: 'truncate'; size: number }
  | { kind: 'falloc'; mode: FallocMode; offset: number; length: number; keepSize: boolean }
  | { kind: 'fsync' }
  | { kind: 'remount' }
  | { kind: 'read' };

const sectorAligned = (max: number) => fc.integer({ min: 0, max: max / 512 }).map((n) => n * 512);

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), offset: fc.integer({ min: 0, max: FILE_SPAN }), length: fc.integer({ min: 1, max: 40000 }), fill: fc.integer({ min: 1, max: 255 }), direct: fc.constant(false) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('write' as const), offset: sectorAligned(FILE_SPAN), length: sectorAligned(32768).map((n) => n + 512), fill: fc.integer({ min: 1, max: 255 }), direct: fc.constant(true) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mmap' as const), offset: fc.integer({ min: 0, max: FILE_SPAN }), length: fc.integer({ min: 1, max: 9000 }), fill: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), size: fc.integer({ min: 0, max: FILE_SPAN }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('falloc' as const),
      mode: fc.constantFrom<FallocMode>('allocate', 'punch', 'zero', 'collapse', 'insert'),
      offset: fc.integer({ min: 0, max: FILE_SPAN }),
      length: fc.integer({ min: 1, max: 50000 }),
      keepSize: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'fsync' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'remount' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'read' as const }) },
);

/** The shadow: file bytes and size, nothing else. */
class Shadow {
  bytes = new Uint8Array(4 * FILE_SPAN);
  size = 0;

  write(offset: number, length: number, fill: number): void {
    this.bytes.fill(fill, offset, offset + length);
    this.size = Math.max(this.size, offset + length);
  }

  truncate(size: number): void {
    if (size < this.size) this.bytes.fill(0, size, this.size);
    this.size = size;
  }

  zero(offset: number, end: number): void {
    this.bytes.fill(0, offset, Math.min(end, this.size));
  }

  collapse(offset: number, length: number): void {
    this.bytes.copyWithin(offset, offset + length, this.size);
    this.bytes.fill(0, this.size - length, this.size);
    this.size -= length;
  }

  insert(offset: number, length: number): void {
    this.bytes.copyWithin(offset + length, offset, this.size);
    this.bytes.fill(0, offset, offset + length);
    this.size += length;
  }
}

function applyFalloc(h: Harness, handle: ReturnType<Harness['vfs']['open']>, shadow: Shadow, op: Extract<Op, { kind: 'falloc' }>, blockSize: number): void {
  let { offset, length } = op;
  if (op.mode === 'collapse' || op.mode === 'insert') {
    offset = Math.floor(offset / blockSize) * blockSize;
    length = Math.ceil(length / blockSize) * blockSize;
  }
  try {
    h.vfs.fallocate(handle, op.mode, offset, length, op.keepSize || op.mode === 'punch');
  } catch (error) {
    if (error instanceof ErrnoError) {
      // EINVAL for collapse/insert at or past EOF: the kernel refuses too, nothing changed.
      expect(['collapse', 'insert']).toContain(op.mode);
      return;
    }
    throw error;
  }
  if (op.mode === 'punch') shadow.zero(offset, offset + length);
  else if (op.mode === 'zero') {
    shadow.zero(offset, offset + length);
    if (!op.keepSize) shadow.size = Math.max(shadow.size, offset + length);
  } else if (op.mode === 'allocate') {
    if (!op.keepSize) shadow.size = Math.max(shadow.size, offset + length);
  } else if (op.mode === 'collapse') shadow.collapse(offset, length);
  else if (op.mode === 'insert') shadow.insert(offset, length);
}

function checkRead(h: Harness, buffered: ReturnType<Harness['vfs']['open']>, shadow: Shadow, context: string): void {
  expect(buffered.inode.size).toBe(shadow.size);
  const data = readAll(h, buffered);
  const expected = shadow.bytes.subarray(0, shadow.size);
  if (Buffer.compare(Buffer.from(data), Buffer.from(expected)) !== 0) {
    const at = data.findIndex((byte, i) => byte !== expected[i]);
    throw new Error(`${context}: read-back differs from the model at byte ${at}: got ${data[at]}, want ${expected[at]}`);
  }
  // The content map (what `inspect --verify` checks) agrees with the model too.
  const fromContent = expectedContent(buffered.inode.content.ranges(), 0, shadow.size);
  expect(Buffer.compare(Buffer.from(fromContent), Buffer.from(expected))).toBe(0);
}

/**
 * The on-disk view (what the image keeps, and what a crash leaves): under every
 * written extent the device holds exactly the persisted content; the rest reads zero.
 */
function checkDiskView(h: Harness, context: string): void {
  const blockSize = h.ctx.blockSize;
  for (const inode of persistedInodes(h.vfs, blockSize)) {
    for (const extent of inode.extents) {
      if (extent.unwritten) continue;
      const start = extent.logical * blockSize;
      const end = Math.min((extent.logical + extent.length) * blockSize, inode.size);
      if (end <= start) continue;
      const actual = new Uint8Array(end - start);
      h.device.read(extent.physical * blockSize, actual);
      const expected = expectedContent(inode.content, start, end - start);
      const at = actual.findIndex((byte, i) => byte !== expected[i]);
      if (at >= 0) throw new Error(`${context}: on-disk byte ${start + at} of ${inode.path} is ${actual[at]}, the image would expect ${expected[at]}`);
    }
  }
}

function runSequence(ops: Op[], blockSize: number, limits?: PageCacheLimits): void {
  const h = makeHarness('ext4', blockSize, undefined, limits);
  const shadow = new Shadow();
  let buffered = h.vfs.open('f', openFlags());
  let direct = h.vfs.open('f', openFlags({ direct: true }));
  ops.forEach((op, index) => {
    const context = `op ${index} ${JSON.stringify(op)}`;
    switch (op.kind) {
      case 'write':
        h.vfs.write(op.direct ? direct : buffered, op.offset, op.length, op.fill);
        shadow.write(op.offset, op.length, op.fill);
        break;
      case 'mmap': {
        if (op.offset >= shadow.size) break;
        const length = Math.min(op.length, Math.max(0, Math.ceil(shadow.size / 4096) * 4096 - op.offset));
        h.vfs.mmapWrite(buffered, op.offset, length, op.fill);
        shadow.bytes.fill(op.fill, op.offset, Math.min(op.offset + length, shadow.size));
        break;
      }
      case 'truncate':
        h.vfs.truncate(buffered.inode, op.size);
        shadow.truncate(op.size);
        break;
      case 'falloc':
        applyFalloc(h, buffered, shadow, op, blockSize);
        break;
      case 'fsync':
        h.vfs.fsync(buffered);
        break;
      case 'remount':
        h.vfs.close(buffered);
        h.vfs.close(direct);
        h.vfs.remount();
        buffered = h.vfs.open('f', openFlags());
        direct = h.vfs.open('f', openFlags({ direct: true }));
        break;
      case 'read':
        checkRead(h, buffered, shadow, context);
        break;
    }
    h.vfs.checkValid();
    checkDiskView(h, context);
  });
  checkRead(h, buffered, shadow, 'end');
  h.vfs.close(buffered);
  h.vfs.close(direct);
  h.vfs.syncAll();
  h.vfs.checkValid();
  checkDiskView(h, 'after sync');
  // After a sync the on-disk view is the whole file.
  const [persisted] = persistedInodes(h.vfs, blockSize);
  expect(persisted!.size).toBe(shadow.size);
  expect(Buffer.compare(Buffer.from(expectedContent(persisted!.content, 0, shadow.size)), Buffer.from(shadow.bytes.subarray(0, shadow.size)))).toBe(0);
  h.vfs.remount();
  const again = h.vfs.open('f', openFlags({ readOnly: true }));
  checkRead(h, again, shadow, 'after sync + remount');
  const viaDirect = h.vfs.open('f', openFlags({ readOnly: true, direct: true }));
  const data = readAll(h, viaDirect);
  expect(Buffer.compare(Buffer.from(data), Buffer.from(shadow.bytes.subarray(0, shadow.size)))).toBe(0);
}

describe('ext4 engine against a shadow byte model', () => {
  test.each([4096, 1024])('random op sequences, %i-byte blocks', (blockSize) => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { minLength: 1, maxLength: 30 }), (ops) => runSequence(ops, blockSize)),
      { seed: 20261121 + blockSize, numRuns: 1000 },
    );
  });

  test('random op sequences with a tiny page cache (background writeback and reclaim)', () => {
    const limits: PageCacheLimits = { dirtyBytes: 64 * 1024, cacheBytes: 96 * 1024 };
    fc.assert(
      fc.property(fc.array(opArbitrary, { minLength: 1, maxLength: 30 }), (ops) => runSequence(ops, 4096, limits)),
      { seed: 424242, numRuns: 500 },
    );
  });
});
