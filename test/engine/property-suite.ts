/**
 * The property suite every policy runs: random operation sequences on two
 * files (writes, direct writes, mmap stores, truncate, fallocate, reflink in
 * both directions, fsync, remount) against a shadow byte model. After every
 * op the policy's invariants hold (checkValid: extents sorted and disjoint,
 * every device block one owner unless shared with a matching refcount, free
 * space and reservations add up), and the on-disk view equals the device
 * bytes; reads of both files (buffered, direct, after remount) return exactly
 * what the model holds, so a block freed while still shared, or a CoW that
 * wrote into the source, shows up as a wrong byte.
 */
import fc from 'fast-check';
import { expectedContent } from '../../src/image/payload.js';
import { persistedInodes } from '../../src/replay/layouts.js';
import type { FallocMode } from '../../src/trace/types.js';
import { Errno, ErrnoError } from '../../src/util/errno.js';
import type { Handle, PageCacheLimits } from '../../src/vfs/vfs.js';
import { makeHarness, openFlags, readAll, type Harness } from './harness.js';

const FILE_SPAN = 192 * 1024;
const FILE_NAMES = ['f', 'g'] as const;

type FileIndex = 0 | 1;

type Op =
  | { kind: 'write'; file: FileIndex; offset: number; length: number; fill: number; direct: boolean }
  | { kind: 'mmap'; file: FileIndex; offset: number; length: number; fill: number }
  | { kind: 'truncate'; file: FileIndex; size: number }
  | { kind: 'falloc'; file: FileIndex; mode: FallocMode; offset: number; length: number; keepSize: boolean }
  | { kind: 'reflink'; from: FileIndex; to: FileIndex; srcBlock: number; dstBlock: number; blocks: number; tail: boolean }
  | { kind: 'fsync'; file: FileIndex }
  | { kind: 'remount' }
  | { kind: 'read'; file: FileIndex };

export interface PropertySuiteOptions {
  /** Block sizes to run (each gets `numRuns` sequences). */
  blockSizes: number[];
  numRuns: number;
  /** Sequences with a tiny page cache (background writeback and reclaim); 0 to skip. */
  tinyCacheRuns: number;
  seed: number;
}

const fileIndex = fc.constantFrom<FileIndex>(0, 1);
const sectorAligned = (max: number) => fc.integer({ min: 0, max: max / 512 }).map((n) => n * 512);

function opArbitrary(modes: FallocMode[], blockSize: number): fc.Arbitrary<Op> {
  const spanBlocks = FILE_SPAN / blockSize;
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), file: fileIndex, offset: fc.integer({ min: 0, max: FILE_SPAN }), length: fc.integer({ min: 1, max: 40000 }), fill: fc.integer({ min: 1, max: 255 }), direct: fc.constant(false) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('write' as const), file: fileIndex, offset: sectorAligned(FILE_SPAN), length: sectorAligned(32768).map((n) => n + 512), fill: fc.integer({ min: 1, max: 255 }), direct: fc.constant(true) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('mmap' as const), file: fileIndex, offset: fc.integer({ min: 0, max: FILE_SPAN }), length: fc.integer({ min: 1, max: 9000 }), fill: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), file: fileIndex, size: fc.integer({ min: 0, max: FILE_SPAN }) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('falloc' as const),
        file: fileIndex,
        mode: fc.constantFrom<FallocMode>(...modes),
        offset: fc.integer({ min: 0, max: FILE_SPAN }),
        length: fc.integer({ min: 1, max: 50000 }),
        keepSize: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('reflink' as const),
        from: fileIndex,
        to: fileIndex,
        srcBlock: fc.integer({ min: 0, max: spanBlocks }),
        dstBlock: fc.integer({ min: 0, max: spanBlocks }),
        blocks: fc.integer({ min: 0, max: 24 }),
        tail: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fsync' as const), file: fileIndex }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'remount' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const), file: fileIndex }) },
  );
}

/** The shadow of one file: its bytes and size, nothing else. Bytes past the size are always zero. */
class Shadow {
  bytes = new Uint8Array(6 * FILE_SPAN);
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

/** The open handles of one file. */
interface Files {
  buffered: Handle[];
  direct: Handle[];
}

function openFiles(h: Harness): Files {
  return {
    buffered: FILE_NAMES.map((name) => h.vfs.open(name, openFlags())),
    direct: FILE_NAMES.map((name) => h.vfs.open(name, openFlags({ direct: true }))),
  };
}

function closeFiles(h: Harness, files: Files): void {
  for (const handle of [...files.buffered, ...files.direct]) h.vfs.close(handle);
}

function applyFalloc(h: Harness, handle: Handle, shadow: Shadow, op: Extract<Op, { kind: 'falloc' }>, blockSize: number): void {
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
      if (!h.vfs.policy.capabilities.collapseInsert) expect(error.errno).toBe(Errno.EOPNOTSUPP);
      else expect(error.errno).toBe(Errno.EINVAL);
      return;
    }
    throw error;
  }
  expect(op.mode === 'collapse' || op.mode === 'insert' ? h.vfs.policy.capabilities.collapseInsert : true).toBe(true);
  if (op.mode === 'punch') shadow.zero(offset, offset + length);
  else if (op.mode === 'zero') {
    shadow.zero(offset, offset + length);
    if (!op.keepSize) shadow.size = Math.max(shadow.size, offset + length);
  } else if (op.mode === 'allocate' || op.mode === 'unshare') {
    if (!op.keepSize) shadow.size = Math.max(shadow.size, offset + length);
  } else if (op.mode === 'collapse') shadow.collapse(offset, length);
  else if (op.mode === 'insert') shadow.insert(offset, length);
}

/**
 * FICLONERANGE from `op.from` to `op.to`: the shadow's own reading of the
 * remap rules (block-aligned starts; the source clipped to its EOF; a length
 * block aligned unless it reaches the source's EOF; no overlap in one file).
 * `tail` asks for the range up to the source's EOF (length 0, as FICLONE).
 */
function applyReflink(h: Harness, files: Files, shadows: Shadow[], op: Extract<Op, { kind: 'reflink' }>, blockSize: number): void {
  const source = shadows[op.from]!;
  const target = shadows[op.to]!;
  const srcOffset = op.srcBlock * blockSize;
  const dstOffset = op.dstBlock * blockSize;
  const length = op.tail ? 0 : op.blocks * blockSize;
  let expected: { count: number; span: number } | number;
  if (!h.vfs.policy.capabilities.reflink) expected = Errno.EOPNOTSUPP;
  else if (length === 0 && srcOffset >= source.size) expected = { count: 0, span: 0 };
  else if (srcOffset >= source.size) expected = Errno.EINVAL;
  else {
    const wanted = length === 0 ? source.size - srcOffset : length;
    const toEof = srcOffset + wanted >= source.size;
    const count = toEof ? source.size - srcOffset : wanted;
    const span = toEof ? Math.ceil(source.size / blockSize) * blockSize - srcOffset : count;
    const overlaps = op.from === op.to && dstOffset + span > srcOffset && dstOffset < srcOffset + span;
    expected = overlaps ? Errno.EINVAL : { count, span };
  }
  let outcome: number | { count: number; span: number };
  try {
    const count = h.vfs.reflink(files.buffered[op.to]!, FILE_NAMES[op.from], srcOffset, dstOffset, length);
    outcome = { count, span: typeof expected === 'number' ? -1 : expected.span };
  } catch (error) {
    if (!(error instanceof ErrnoError)) throw error;
    outcome = error.errno;
  }
  expect(outcome).toEqual(expected);
  if (typeof expected === 'number' || expected.count === 0) return;
  target.bytes.set(source.bytes.slice(srcOffset, srcOffset + expected.span), dstOffset);
  target.size = Math.max(target.size, dstOffset + expected.count);
  // Bytes past the new size read as zero (the source block's tail past its EOF is zero).
  target.bytes.fill(0, target.size, dstOffset + expected.span);
}

function checkRead(h: Harness, handle: Handle, shadow: Shadow, context: string): void {
  expect(handle.inode.size).toBe(shadow.size);
  const data = readAll(h, handle);
  const expected = shadow.bytes.subarray(0, shadow.size);
  if (Buffer.compare(Buffer.from(data), Buffer.from(expected)) !== 0) {
    const at = data.findIndex((byte, i) => byte !== expected[i]);
    throw new Error(`${context}: read-back of ${handle.path} differs from the model at byte ${at}: got ${data[at]}, want ${expected[at]}`);
  }
  // The content map (what `inspect --verify` checks) agrees with the model too.
  const fromContent = expectedContent(handle.inode.content.ranges(), 0, shadow.size);
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
      if (extent.unwritten || extent.physical < 0) continue;
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

function applyOp(h: Harness, files: Files, shadows: Shadow[], op: Op, blockSize: number, context: string): Files {
  switch (op.kind) {
    case 'write':
      h.vfs.write(op.direct ? files.direct[op.file]! : files.buffered[op.file]!, op.offset, op.length, op.fill);
      shadows[op.file]!.write(op.offset, op.length, op.fill);
      break;
    case 'mmap': {
      const shadow = shadows[op.file]!;
      if (op.offset >= shadow.size) break;
      const length = Math.min(op.length, Math.max(0, Math.ceil(shadow.size / 4096) * 4096 - op.offset));
      h.vfs.mmapWrite(files.buffered[op.file]!, op.offset, length, op.fill);
      shadow.bytes.fill(op.fill, op.offset, Math.min(op.offset + length, shadow.size));
      break;
    }
    case 'truncate':
      h.vfs.truncate(files.buffered[op.file]!.inode, op.size);
      shadows[op.file]!.truncate(op.size);
      break;
    case 'falloc':
      applyFalloc(h, files.buffered[op.file]!, shadows[op.file]!, op, blockSize);
      break;
    case 'reflink':
      applyReflink(h, files, shadows, op, blockSize);
      break;
    case 'fsync':
      h.vfs.fsync(files.buffered[op.file]!);
      break;
    case 'remount':
      closeFiles(h, files);
      h.vfs.remount();
      return openFiles(h);
    case 'read':
      checkRead(h, files.buffered[op.file]!, shadows[op.file]!, context);
      break;
  }
  return files;
}

function runSequence(policy: string, ops: Op[], blockSize: number, limits?: PageCacheLimits): void {
  const h = makeHarness(policy, blockSize, undefined, limits);
  const shadows = [new Shadow(), new Shadow()];
  let files = openFiles(h);
  ops.forEach((op, index) => {
    const context = `op ${index} ${JSON.stringify(op)}`;
    files = applyOp(h, files, shadows, op, blockSize, context);
    h.vfs.checkValid();
    checkDiskView(h, context);
  });
  for (const file of [0, 1] as const) checkRead(h, files.buffered[file]!, shadows[file]!, 'end');
  closeFiles(h, files);
  h.vfs.syncAll();
  h.vfs.checkValid();
  checkDiskView(h, 'after sync');
  // After a sync the on-disk view is the whole file.
  const persisted = persistedInodes(h.vfs, blockSize).filter((inode) => inode.kind === 'file');
  for (const file of [0, 1] as const) {
    const inode = persisted.find((candidate) => candidate.path === FILE_NAMES[file])!;
    const shadow = shadows[file]!;
    expect(inode.size).toBe(shadow.size);
    expect(Buffer.compare(Buffer.from(expectedContent(inode.content, 0, shadow.size)), Buffer.from(shadow.bytes.subarray(0, shadow.size)))).toBe(0);
  }
  h.vfs.remount();
  h.vfs.checkValid();
  for (const file of [0, 1] as const) {
    const again = h.vfs.open(FILE_NAMES[file], openFlags({ readOnly: true }));
    checkRead(h, again, shadows[file]!, 'after sync + remount');
    const viaDirect = h.vfs.open(FILE_NAMES[file], openFlags({ readOnly: true, direct: true }));
    const data = readAll(h, viaDirect);
    expect(Buffer.compare(Buffer.from(data), Buffer.from(shadows[file]!.bytes.subarray(0, shadows[file]!.size)))).toBe(0);
  }
}

/** The fallocate modes a policy is asked for: every mode; collapse/insert/unshare only get their errno checked where unsupported. */
function fallocModes(policy: string): FallocMode[] {
  const modes: FallocMode[] = ['allocate', 'punch', 'zero', 'collapse', 'insert'];
  const h = makeHarness(policy);
  if (h.vfs.policy.capabilities.unshare) modes.push('unshare');
  return modes;
}

/** Defines the property tests of one policy (call at the top level of a test file). */
export function definePropertySuite(policy: string, options: PropertySuiteOptions): void {
  const modes = fallocModes(policy);
  describe(`${policy} engine against a shadow byte model (two files, reflink in the mix)`, () => {
    test.each(options.blockSizes)('random op sequences, %i-byte blocks', (blockSize) => {
      fc.assert(
        fc.property(fc.array(opArbitrary(modes, blockSize), { minLength: 1, maxLength: 30 }), (ops) => runSequence(policy, ops, blockSize)),
        { seed: options.seed + blockSize, numRuns: options.numRuns },
      );
    });

    if (options.tinyCacheRuns > 0) {
      test('random op sequences with a tiny page cache (background writeback and reclaim)', () => {
        const limits: PageCacheLimits = { dirtyBytes: 64 * 1024, cacheBytes: 96 * 1024 };
        const blockSize = options.blockSizes[0]!;
        fc.assert(
          fc.property(fc.array(opArbitrary(modes, blockSize), { minLength: 1, maxLength: 30 }), (ops) => runSequence(policy, ops, blockSize, limits)),
          { seed: options.seed + 17, numRuns: options.tinyCacheRuns },
        );
      });
    }
  });
}
