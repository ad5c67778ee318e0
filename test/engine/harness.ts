/**
 * A small harness to drive the VFS + policy directly in tests, with a
 * poisoned in-memory device so stale (never written) blocks are noticed.
 */
import { FreeSpace } from '../../src/alloc/freespace.js';
import { MemDevice } from '../../src/device/blockdev.js';
import { CountingIoSink } from '../../src/device/iosink.js';
import { createPolicy } from '../../src/fs/registry.js';
import { defaultOpenFlags, type OpenFlags } from '../../src/trace/types.js';
import { ErrnoError } from '../../src/util/errno.js';
import { Prng } from '../../src/util/prng.js';
import { EngineStats, blockShiftOf, type FsContext } from '../../src/vfs/context.js';
import { Vfs, type Handle, type PageCacheLimits } from '../../src/vfs/vfs.js';

export const POISON = 0xee;

export interface Harness {
  vfs: Vfs;
  ctx: FsContext;
  device: MemDevice;
}

/** An FsContext on a poisoned MemDevice: never-written blocks read as POISON. */
export function makeContext(blockSize: number, deviceSize: number): { ctx: FsContext; device: MemDevice } {
  const device = new MemDevice(deviceSize, POISON);
  const ctx: FsContext = {
    blockSize,
    blockShift: blockShiftOf(blockSize),
    device,
    freeSpace: new FreeSpace(deviceSize / blockSize),
    stats: new EngineStats(),
    prng: new Prng(1),
    io: new CountingIoSink(),
    dataless: false,
  };
  return { ctx, device };
}

export function makeHarness(policy = 'ext4', blockSize = 4096, deviceSize = 64 * 1024 * 1024, limits?: PageCacheLimits): Harness {
  const { ctx, device } = makeContext(blockSize, deviceSize);
  const fsPolicy = createPolicy(policy, { ctx, deviceBlocks: deviceSize / blockSize });
  return { vfs: new Vfs(ctx, fsPolicy, limits), ctx, device };
}

export function openFlags(overrides: Partial<OpenFlags> = {}): OpenFlags {
  return { ...defaultOpenFlags, create: true, ...overrides };
}

/** Reads the whole file through `handle` (buffered or direct). */
export function readAll(harness: Harness, handle: Handle): Uint8Array {
  const size = handle.inode.size;
  const span = handle.flags.direct ? Math.ceil(size / 512) * 512 : size;
  const dst = new Uint8Array(span);
  const done = harness.vfs.read(handle, 0, span, dst);
  return dst.subarray(0, Math.min(done, size));
}

/** The errno an action fails with (undefined when it succeeds); other exceptions propagate. */
export function errnoOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof ErrnoError) return error.errno;
    throw error;
  }
  return undefined;
}
