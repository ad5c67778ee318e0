import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { encodeMetadata } from '../../src/image/codec.js';
import { encodeCheckpoint, HEADER_REGION_BYTES, SLOT_OFFSETS } from '../../src/image/format.js';
import { chooseCheckpointOffset, ImageFile, isIomapsimImage } from '../../src/image/image.js';
import { InvariantError } from '../../src/util/assert.js';
import { ImageError } from '../../src/util/errors.js';
import { Prng } from '../../src/util/prng.js';
import { baseMetadata, flipByte, makeTempDir, removeTempDir, syntheticMetadata } from './helpers.js';

const MiB = 1 << 20;

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => {
  removeTempDir(dir);
});

function imagePath(name = 'run.img'): string {
  return path.join(dir, name);
}

function createImage(file: string, deviceSize = 8 * MiB, blockSize = 4096): ImageFile {
  return ImageFile.create(file, { blockSize, deviceSize, policy: 'ext4', seed: 42 }, { force: false });
}

/** Runs fn and returns the ImageError it throws (failing the test on any other outcome). */
function imageErrorOf(fn: () => unknown): ImageError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ImageError) return error;
    throw error;
  }
  throw new Error('expected an ImageError, nothing was thrown');
}

describe('ImageFile create/open', () => {
  it('creates a sparse image of full size with generation 0 and empty metadata', () => {
    const file = imagePath();
    const image = createImage(file, 1024 * MiB);
    expect(image.sizeBytes).toBe(1024 * MiB);
    expect(image.superblock.generation).toBe(0);
    expect(image.superblock.dataOffset).toBe(HEADER_REGION_BYTES);
    image.close();
    const stat = fs.statSync(file);
    expect(stat.size).toBe(HEADER_REGION_BYTES + 1024 * MiB);
    expect(stat.blocks * 512).toBeLessThan(1 * MiB);
    const reopened = ImageFile.open(file);
    const meta = reopened.readMetadata();
    expect(meta.inodes).toEqual([]);
    expect(meta.blockSize).toBe(4096);
    expect(meta.deviceSize).toBe(1024 * MiB);
    expect(meta.policy).toBe('ext4');
    expect(meta.seed).toBe(42);
    reopened.close();
    expect(isIomapsimImage(file)).toBe(true);
  });

  it('round-trips committed metadata and keeps data at device addresses', () => {
    const file = imagePath();
    const image = createImage(file);
    const meta = syntheticMetadata(7, 5, 20, 4096);
    expect(meta.deviceSize).toBeLessThanOrEqual(8 * MiB);
    const meta8 = { ...meta, deviceSize: 8 * MiB };
    const block = new Uint8Array(4096).map((_, i) => (i * 7 + 3) & 0xff);
    image.write(5 * 4096, block);
    image.write(8 * MiB - 10, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    image.commit(meta8);
    expect(image.superblock.generation).toBe(1);
    expect(image.bytesWritten).toBe(4096 + 10);
    image.close();

    const reopened = ImageFile.open(file);
    expect(reopened.superblock.generation).toBe(1);
    expect(reopened.warnings).toEqual([]);
    expect(reopened.readMetadata()).toEqual(meta8);
    const readBack = new Uint8Array(4096);
    reopened.read(5 * 4096, readBack);
    expect(readBack).toEqual(block);
    const tail = new Uint8Array(10);
    reopened.read(8 * MiB - 10, tail);
    expect(Array.from(tail)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const never = new Uint8Array(100).fill(9);
    reopened.read(3 * MiB, never);
    expect(never.every((b) => b === 0)).toBe(true);
    expect(reopened.bytesRead).toBe(4096 + 10 + 100);
    reopened.close();
    // The data area is at dataOffset + address in the real file.
    const raw = Buffer.alloc(4096);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, raw, 0, 4096, HEADER_REGION_BYTES + 5 * 4096);
    fs.closeSync(fd);
    expect(new Uint8Array(raw)).toEqual(block);
  });

  it('round-trips a 200k-extent layout exactly, across several generations', () => {
    const file = imagePath();
    const meta = syntheticMetadata(1234, 200, 1000, 4096);
    const image = ImageFile.create(file, { blockSize: 4096, deviceSize: meta.deviceSize, policy: 'ext4', seed: 1234 }, { force: false });
    image.commit(meta);
    const second = { ...meta, opsApplied: meta.opsApplied + 1, inodes: meta.inodes.slice(0, 150) };
    image.commit(second);
    image.close();
    const reopened = ImageFile.open(file);
    expect(reopened.superblock.generation).toBe(2);
    const started = performance.now();
    const read = reopened.readMetadata();
    const elapsedMs = performance.now() - started;
    // jest's deep equality is slow on 10^5 objects; the JSON text is an exact comparison for this data.
    expect(JSON.stringify(read)).toBe(JSON.stringify(second));
    expect(read.inodes.reduce((sum, inode) => sum + inode.extents.length, 0)).toBe(149 * 1000);
    expect(elapsedMs).toBeLessThan(5000);
    reopened.close();
  });

  it('refuses writes and commits on a read-only image, and I/O past the device', () => {
    const file = imagePath();
    createImage(file).close();
    const image = ImageFile.open(file);
    expect(() => image.write(0, new Uint8Array(1))).toThrow(InvariantError);
    expect(() => image.commit(baseMetadata(4096, 8 * MiB))).toThrow(InvariantError);
    expect(() => image.read(8 * MiB - 1, new Uint8Array(2))).toThrow(InvariantError);
    image.close();
    const writable = ImageFile.open(file, { writable: true });
    expect(() => writable.commit(baseMetadata(4096, 4 * MiB))).toThrow(/device size/);
    writable.commit(baseMetadata(4096, 8 * MiB));
    expect(writable.superblock.generation).toBe(1);
    writable.close();
  });

  it('writes each generation to the other slot and never overlaps the live checkpoint', () => {
    const file = imagePath();
    const image = createImage(file, 256 * MiB);
    const prng = new Prng(99);
    let previous = image.superblock;
    const lengths: number[] = [];
    for (let generation = 1; generation <= 12; generation++) {
      const meta = syntheticMetadata(generation, 1 + (prng.nextU32() % 30), 1 + (prng.nextU32() % 200), 4096);
      image.commit({ ...meta, deviceSize: 256 * MiB });
      const current = image.superblock;
      expect(current.generation).toBe(generation);
      expect(image.slotName).toBe(generation % 2 === 1 ? 'B' : 'A');
      if (previous.generation > 0) {
        const disjoint = current.checkpointOffset >= previous.checkpointOffset + previous.checkpointLength || current.checkpointOffset + current.checkpointLength <= previous.checkpointOffset;
        expect(disjoint).toBe(true);
      }
      // The metadata area stays within three times the largest of the last three records (plus alignment).
      lengths.push(current.checkpointLength);
      const largest = Math.max(...lengths.slice(-3));
      expect(fs.statSync(file).size - current.metaOffset).toBeLessThanOrEqual(3 * largest + 3 * 4096);
      previous = current;
    }
    image.close();
  });
});

describe('ImageFile.create refusals', () => {
  it('refuses to overwrite a foreign file without force and replaces it with force', () => {
    const file = imagePath('precious.txt');
    fs.writeFileSync(file, 'my thesis\n');
    const error = imageErrorOf(() => createImage(file));
    expect(error.kind).toBe('exists');
    expect(error.message).toContain('precious.txt');
    expect(error.hint).toMatch(/--force/);
    expect(fs.readFileSync(file, 'utf8')).toBe('my thesis\n');
    const image = ImageFile.create(file, { blockSize: 4096, deviceSize: MiB, policy: 'xfs', seed: 1 }, { force: true });
    image.close();
    expect(isIomapsimImage(file)).toBe(true);
    expect(ImageFile.open(file).superblock.policy).toBe('xfs');
  });

  it('replaces an existing iomapsim image without force', () => {
    const file = imagePath();
    const first = createImage(file);
    first.commit(baseMetadata(4096, 8 * MiB));
    first.close();
    const second = ImageFile.create(file, { blockSize: 1024, deviceSize: MiB, policy: 'btrfs', seed: 5 }, { force: false });
    second.close();
    const reopened = ImageFile.open(file);
    expect(reopened.superblock.generation).toBe(0);
    expect(reopened.superblock.blockSize).toBe(1024);
    reopened.close();
    expect(fs.readdirSync(dir)).toEqual(['run.img']);
  });

  it('reports a directory or an unwritable path as io', () => {
    expect(imageErrorOf(() => createImage(dir)).kind).toBe('io');
    expect(imageErrorOf(() => createImage(path.join(dir, 'no', 'such', 'dir', 'x.img'))).kind).toBe('io');
    expect(isIomapsimImage(dir)).toBe(false);
    expect(isIomapsimImage(path.join(dir, 'missing.img'))).toBe(false);
  });
});

describe('ImageFile.open errors', () => {
  it('reports a missing file', () => {
    const error = imageErrorOf(() => ImageFile.open(imagePath('nope.img')));
    expect(error.kind).toBe('missing');
    expect(error.hint).toBeDefined();
  });

  it('reports random bytes and an empty file as foreign', () => {
    const prng = new Prng(3);
    const file = imagePath('random.bin');
    fs.writeFileSync(file, Uint8Array.from({ length: 200000 }, () => prng.nextU32() & 0xff));
    expect(isIomapsimImage(file)).toBe(false);
    expect(imageErrorOf(() => ImageFile.open(file)).kind).toBe('foreign');
    const empty = imagePath('empty');
    fs.writeFileSync(empty, '');
    expect(imageErrorOf(() => ImageFile.open(empty)).kind).toBe('foreign');
    expect(imageErrorOf(() => ImageFile.open(dir)).kind).toBe('io');
  });

  it('reports a truncated image as corrupt', () => {
    const file = imagePath();
    const image = createImage(file);
    image.commit({ ...syntheticMetadata(5, 3, 10, 4096), deviceSize: 8 * MiB });
    image.close();
    fs.truncateSync(file, 4 * MiB);
    const error = imageErrorOf(() => ImageFile.open(file));
    expect(error.kind).toBe('corrupt');
    expect(error.message).toMatch(/truncated/);
    fs.truncateSync(file, 100);
    expect(imageErrorOf(() => ImageFile.open(file)).kind).toBe('corrupt');
  });

  /** Rewrites slot A's u32 at `field` and re-seals its crc, as a newer writer would. */
  function resealSlotA(file: string, field: number, value: number): void {
    const slot = fs.readFileSync(file).subarray(0, 512);
    slot.writeUInt32LE(value, field);
    slot.writeUInt32LE(crc32(slot.subarray(0, 508)), 508);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, slot, 0, 512, SLOT_OFFSETS[0]);
    fs.closeSync(fd);
  }

  it('reports a newer format version as version', () => {
    const file = imagePath();
    const image = createImage(file);
    image.commit(baseMetadata(4096, 8 * MiB));
    image.close();
    resealSlotA(file, 8, 2);
    const error = imageErrorOf(() => ImageFile.open(file));
    expect(error.kind).toBe('version');
    expect(error.message).toMatch(/version 2 is newer/);
    expect(error.hint).toMatch(/upgrade/);
  });

  it('treats a version field torn without a matching crc as a damaged slot, not a newer image', () => {
    const file = imagePath();
    const image = createImage(file);
    image.commit(baseMetadata(4096, 8 * MiB));
    image.close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0x07, 0x00, 0x00, 0x00]), 0, 4, SLOT_OFFSETS[1] + 8);
    fs.closeSync(fd);
    const reopened = ImageFile.open(file);
    expect(reopened.superblock.generation).toBe(0);
    expect(reopened.warnings.join()).toMatch(/slot B ignored: crc mismatch/);
    reopened.close();
  });

  it('reports unknown incompatible feature flags as version', () => {
    const file = imagePath();
    createImage(file).close();
    // Bit 0 is IMAGE_FLAG_METADATA_ONLY since format 1.1, bit 1 IMAGE_FLAG_INLINE_DATA since 1.2, bit 2 IMAGE_FLAG_UNDO_LOG since 1.3; bit 3 is still unknown.
    resealSlotA(file, 16, 0x8 | 0x1);
    const error = imageErrorOf(() => ImageFile.open(file));
    expect(error.kind).toBe('version');
    expect(error.message).toMatch(/features \(flags 0x9\)/);
  });
});

describe('crash consistency', () => {
  /** Image with generations 1 and 2 committed; returns their metadata. */
  function twoGenerations(file: string): { first: ReturnType<typeof syntheticMetadata>; second: ReturnType<typeof syntheticMetadata> } {
    const first = { ...syntheticMetadata(11, 4, 30, 4096), deviceSize: 8 * MiB };
    const second = { ...syntheticMetadata(12, 6, 40, 4096), deviceSize: 8 * MiB };
    const image = createImage(file);
    image.commit(first);
    image.commit(second);
    image.close();
    return { first, second };
  }

  it('falls back to the previous generation when the newest slot is corrupt', () => {
    const file = imagePath();
    const { first } = twoGenerations(file);
    // Generation 2 went to slot A (generation 1 to B).
    const slotA = ImageFile.open(file);
    expect(slotA.slotName).toBe('A');
    slotA.close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(100, 0x55), 0, 100, SLOT_OFFSETS[0] + 200);
    fs.closeSync(fd);
    const image = ImageFile.open(file, { writable: true });
    expect(image.superblock.generation).toBe(1);
    expect(image.slotName).toBe('B');
    expect(image.warnings.join()).toMatch(/slot A ignored: crc mismatch/);
    expect(image.readMetadata()).toEqual(first);
    // Committing from the fallback overwrites the broken slot.
    image.commit(first);
    expect(image.superblock.generation).toBe(2);
    image.close();
    const healed = ImageFile.open(file);
    expect(healed.warnings).toEqual([]);
    expect(healed.readMetadata()).toEqual(first);
    healed.close();
  });

  it('falls back when the newest checkpoint is corrupt', () => {
    const file = imagePath();
    const { first } = twoGenerations(file);
    const probe = ImageFile.open(file);
    const sb = probe.superblock;
    probe.close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xde, 0xad]), 0, 2, sb.checkpointOffset + Math.floor(sb.checkpointLength / 2));
    fs.closeSync(fd);
    const image = ImageFile.open(file);
    expect(image.superblock.generation).toBe(1);
    expect(image.warnings.join()).toMatch(/generation 2.*checkpoint crc mismatch/);
    expect(image.readMetadata()).toEqual(first);
    image.close();
  });

  it('opens at the last complete checkpoint when a commit is torn at any point', () => {
    const file = imagePath();
    const { second } = twoGenerations(file);
    const pristine = fs.readFileSync(file);
    const probe = ImageFile.open(file);
    const current = probe.superblock;
    probe.close();
    const third = { ...syntheticMetadata(13, 9, 50, 4096), deviceSize: 8 * MiB };
    const record = encodeCheckpoint(3, encodeMetadata(third));
    const offset = chooseCheckpointOffset(current, record.length);
    // Kill the commit after a prefix of the checkpoint record reached the file (the slot write never happened).
    for (const fraction of [0, 0.01, 0.5, 0.99, 1]) {
      fs.writeFileSync(file, pristine);
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, record, 0, Math.floor(record.length * fraction), offset);
      fs.closeSync(fd);
      const image = ImageFile.open(file);
      expect(image.superblock.generation).toBe(2);
      expect(image.readMetadata()).toEqual(second);
      image.close();
    }
  });

  it('throws nothing but ImageError for any flipped byte, and opens a committed state otherwise', () => {
    const file = imagePath();
    const { first, second } = twoGenerations(file);
    const pristine = fs.readFileSync(file);
    const probe = ImageFile.open(file);
    const sb = probe.superblock;
    probe.close();
    const offsets: number[] = [];
    for (let i = 0; i < 512; i += 3) offsets.push(SLOT_OFFSETS[0] + i, SLOT_OFFSETS[1] + i);
    const prng = new Prng(17);
    for (let i = 0; i < 60; i++) offsets.push(sb.checkpointOffset + (prng.nextU32() % sb.checkpointLength));
    let fellBack = 0;
    for (const offset of offsets) {
      flipByte(file, offset);
      let image: ImageFile | undefined;
      try {
        image = ImageFile.open(file);
        const meta = image.readMetadata();
        if (image.superblock.generation === 2) expect(meta).toEqual(second);
        else {
          expect(image.superblock.generation).toBe(1);
          expect(meta).toEqual(first);
          fellBack++;
        }
      } catch (error) {
        expect(error).toBeInstanceOf(ImageError);
      } finally {
        image?.close();
        flipByte(file, offset);
      }
    }
    expect(fellBack).toBeGreaterThan(0);
    expect(fs.readFileSync(file).equals(pristine)).toBe(true);
  });

  it('reports corrupt when both slots are damaged', () => {
    const file = imagePath();
    twoGenerations(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, SLOT_OFFSETS[0] + 24);
    fs.writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, SLOT_OFFSETS[1] + 24);
    fs.closeSync(fd);
    const error = imageErrorOf(() => ImageFile.open(file));
    expect(error.kind).toBe('corrupt');
    expect(error.message).toMatch(/slot A.*slot B/);
  });
});

describe('gathered data writes', () => {
  /** Seeded writes of 1..3 blocks (runs of contiguous ones, broken by jumps; one bigger than the gather limit). */
  function writeSeeded(image: ImageFile, deviceSize: number, check: (shadow: Uint8Array) => void): Uint8Array {
    const shadow = new Uint8Array(deviceSize);
    const prng = new Prng(99);
    let addr = 0;
    for (let step = 0; step < 600; step++) {
      if (prng.nextU32() % 4 === 0) addr = (prng.nextU32() % (deviceSize / 4096 - 4)) * 4096;
      const length = step === 300 ? 2 * MiB : 4096 * (1 + (prng.nextU32() % 3));
      if (addr + length > deviceSize) addr = 0;
      const src = new Uint8Array(length);
      for (let i = 0; i < length; i += 512) src.fill(1 + (prng.nextU32() % 255), i, i + 512);
      image.write(addr, src);
      shadow.set(src, addr);
      src.fill(0); // the caller may reuse its buffer at once
      addr += length;
      if (step % 97 === 0) check(shadow);
    }
    return shadow;
  }

  it('reads see every write at once, and the file holds them all after close', () => {
    const file = imagePath();
    const deviceSize = 8 * MiB;
    const image = createImage(file, deviceSize);
    const shadow = writeSeeded(image, deviceSize, (expected) => {
      const got = new Uint8Array(deviceSize);
      image.read(0, got);
      expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true);
    });
    expect(image.bytesWritten).toBeGreaterThan(600 * 4096);
    image.close();
    const onDisk = fs.readFileSync(file).subarray(HEADER_REGION_BYTES, HEADER_REGION_BYTES + deviceSize);
    expect(Buffer.from(onDisk).equals(Buffer.from(shadow))).toBe(true);
  });

  it('commit flushes gathered writes before the checkpoint', () => {
    const file = imagePath();
    const image = createImage(file);
    const block = new Uint8Array(4096).fill(0x5a);
    image.write(4096 * 10, block);
    image.write(4096 * 11, block);
    image.commit(baseMetadata(4096, 8 * MiB));
    const onDisk = fs.readFileSync(file).subarray(HEADER_REGION_BYTES + 4096 * 10, HEADER_REGION_BYTES + 4096 * 12);
    expect(onDisk.every((byte) => byte === 0x5a)).toBe(true);
    image.close();
  });
});
