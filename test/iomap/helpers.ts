/**
 * Hand-built contexts, inodes and ops tables for testing the iomap core
 * without a filesystem policy: each test states exactly which mappings the
 * "filesystem" returns.
 */
import { MemDevice } from '../../src/device/blockdev.js';

import type { IomapOps } from '../../src/iomap/ops.js';
import { IOMAP_NULL_ADDR, IomapType, type Iomap, type IomapPair } from '../../src/iomap/types.js';

import type { FsContext } from '../../src/vfs/context.js';
import { makeContext } from '../engine/harness.js';
import { Inode } from '../../src/vfs/inode.js';

export { POISON } from '../engine/harness.js';

export interface CoreHarness {
  ctx: FsContext;
  device: MemDevice;
  inode: Inode;
}

/** A context on a poisoned MemDevice (16 MiB by default) and one empty file inode. */
export function makeCore(blockSize = 4096, deviceSize = 16 * 1024 * 1024): CoreHarness {
  const { ctx, device } = makeContext(blockSize, deviceSize);
  const inode = new Inode(12, 'file', blockSize, { maxWritten: 1 << 20, maxUnwritten: 1 << 20, maxDelalloc: 1 << 20 });
  return { ctx, device, inode };
}

export function mapping(type: IomapType, offset: number, length: number, addr = IOMAP_NULL_ADDR, flags = 0): Iomap {
  return { offset, length, addr, type, flags };
}

/** A begin call as the core made it. */
export interface BeginCall {
  pos: number;
  length: number;
  flags: number;
}

/** An end call as the core made it. */
export interface EndCall {
  pos: number;
  length: number;
  written: number;
  flags: number;
}

/** Ops whose begin answers with `answer(pos, length, flags, callIndex)` and that record every call. */
export function recordingOps(answer: (pos: number, length: number, flags: number, call: number) => IomapPair | Iomap) {
  const begins: BeginCall[] = [];
  const ends: EndCall[] = [];
  const ops: IomapOps = {
    iomapBegin(_inode, pos, length, flags) {
      const result = answer(pos, length, flags, begins.length);
      begins.push({ pos, length, flags });
      return 'iomap' in result ? result : { iomap: result };
    },
    iomapEnd(_inode, pos, length, written, flags) {
      ends.push({ pos, length, written, flags });
    },
  };
  return { ops, begins, ends };
}

/** Writes `length` bytes of `byte` on the device at `addr`. */
export function fillDevice(device: MemDevice, addr: number, length: number, byte: number): void {
  device.write(addr, new Uint8Array(length).fill(byte));
}

export function readDevice(device: MemDevice, addr: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  device.read(addr, out);
  return out;
}

/** Every byte of `bytes` equals `byte`. */
export function allEqual(bytes: Uint8Array, byte: number): boolean {
  return bytes.every((value) => value === byte);
}
