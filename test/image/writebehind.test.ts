/**
 * The write-behind worker of the image's data area: writes land in the
 * order they were submitted (overlapping ones too), across ring wraps, in
 * place (reserve/publish), a failed write surfaces as an error, and an
 * image whose data writes all go through the worker reads, commits,
 * survives a simulated kill and reopens exactly as with synchronous writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ImageFile } from '../../src/image/image.js';
import { fillPayload } from '../../src/image/payload.js';
import { WriteBehind, WriteBehindError } from '../../src/image/writebehind.js';
import { ImageError } from '../../src/util/errors.js';
import { Prng } from '../../src/util/prng.js';
import { baseMetadata, makeTempDir, removeTempDir } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => {
  removeTempDir(dir);
});

/** Bytes that differ from one seed to the next: a fill byte, and the seed in the first and last words. */
function filled(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length).fill((seed * 31 + 7) & 0xff);
  const view = new DataView(bytes.buffer);
  if (length >= 8) {
    view.setUint32(0, seed >>> 0);
    view.setUint32(length - 4, (seed * 2654435761) >>> 0);
  }
  return bytes;
}

/**
 * Runs `body` with a writer over a new file of `size` bytes and a shadow of
 * what the file must hold, then drains, stops the writer and compares.
 */
function checkAgainstShadow(size: number, seed: number, body: (writer: WriteBehind, shadow: Uint8Array, prng: Prng) => void): void {
  const fd = fs.openSync(path.join(dir, `shadow-${seed}.bin`), 'w+');
  const shadow = new Uint8Array(size);
  const writer = new WriteBehind(fd);
  try {
    body(writer, shadow, new Prng(seed));
    writer.drain();
    expect(writer.pending).toBe(0);
  } finally {
    writer.close();
  }
  const onDisk = new Uint8Array(size);
  fs.readSync(fd, onDisk, 0, size, 0);
  fs.closeSync(fd);
  expect(Buffer.compare(onDisk, shadow)).toBe(0);
}

describe('WriteBehind', () => {
  it('writes overlapping records in submission order, across many ring wraps', () => {
    const size = 8 << 20;
    checkAgainstShadow(size, 7, (writer, shadow, prng) => {
      // ~100 MiB through a 32 MiB ring: lengths from 1 byte to 1 MiB at random (often overlapping) offsets.
      let total = 0;
      for (let index = 0; total < 100 << 20; index++) {
        const length = 1 + prng.nextInt(prng.nextInt(4) === 0 ? 1 << 20 : 8192);
        const position = prng.nextInt(size - length);
        const bytes = filled(Math.min(length, 4096), index);
        const src = new Uint8Array(length);
        for (let at = 0; at < length; at += bytes.length) src.set(bytes.subarray(0, Math.min(bytes.length, length - at)), at);
        if (index % 2 === 0) writer.submit(position, src);
        else {
          writer.reserve(Math.max(length, 64)).set(src);
          writer.publish(position, length);
        }
        shadow.set(src, position);
        total += length;
      }
    });
  });

  it('makes generated and fill records with the payload rule, in order with byte records, joined or not', () => {
    const size = 4 << 20;
    checkAgainstShadow(size, 11, (writer, shadow, prng) => {
      let position = 0;
      for (let index = 0; index < 3000; index++) {
        // Mostly runs of contiguous records (the worker joins them), sometimes a jump back over earlier ones.
        const length = prng.nextInt(3) === 0 ? 1 + prng.nextInt(5000) : 4096;
        if (prng.nextInt(8) === 0 || position + length > size) position = prng.nextInt(size - length);
        const expected = new Uint8Array(length);
        const choice = prng.nextInt(3);
        if (choice === 0) {
          const source = { kind: 'gen' as const, ino: 12 + prng.nextInt(3), seq: 1 + prng.nextInt(1 << 30) };
          const sourceOffset = prng.nextInt(2) === 0 ? position : prng.nextInt(1 << 30);
          fillPayload(expected, source.ino, source.seq, sourceOffset);
          writer.submitGenerated(position, length, source, sourceOffset);
        } else if (choice === 1) {
          const byte = prng.nextInt(256);
          expected.fill(byte);
          writer.submitGenerated(position, length, { kind: 'fill', byte }, 0);
        } else {
          expected.set(filled(length, index));
          writer.submit(position, expected);
        }
        shadow.set(expected, position);
        position += length;
      }
    });
  });

  it('reports a write the file refused (read-only descriptor) on the next drain, with its code', () => {
    const file = path.join(dir, 'ro.bin');
    fs.writeFileSync(file, 'x');
    const fd = fs.openSync(file, 'r');
    const writer = new WriteBehind(fd);
    try {
      writer.submit(0, new Uint8Array(4096));
      let caught: unknown;
      try {
        writer.drain();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(WriteBehindError);
      expect((caught as WriteBehindError).code).toBe('EBADF');
      // Later submissions fail at once.
      expect(() => writer.submit(0, new Uint8Array(1))).toThrow(WriteBehindError);
    } finally {
      writer.close();
      fs.closeSync(fd);
    }
  });
});

describe('an image whose data writes go through the worker', () => {
  const blockSize = 4096;
  const deviceSize = 64 << 20;
  const blocks = deviceSize / blockSize;

  function writeRandomBlocks(image: ImageFile, shadow: Uint8Array, seed: number, count: number): void {
    const prng = new Prng(seed);
    for (let index = 0; index < count; index++) {
      // Runs of 1-4 contiguous blocks (gathered), at random places (mostly not contiguous with the last).
      const run = 1 + prng.nextInt(4);
      const block = prng.nextInt(blocks - run);
      for (let b = block; b < block + run; b++) {
        const bytes = filled(blockSize, seed * 100000 + index * 8 + (b - block));
        image.write(b * blockSize, bytes);
        shadow.set(bytes, b * blockSize);
      }
    }
  }

  function readAll(image: ImageFile): Uint8Array {
    const out = new Uint8Array(deviceSize);
    image.read(0, out);
    return out;
  }

  it('reads back, commits and reopens with exactly what was written', () => {
    const file = path.join(dir, 'wb.img');
    const shadow = new Uint8Array(deviceSize);
    const image = ImageFile.create(file, { blockSize, deviceSize, policy: 'ext4', seed: 1 }, { force: false });
    image.writeBehindAfterWrites = 0;
    writeRandomBlocks(image, shadow, 1, 3000);
    // A read in the middle sees every write before it (the queue drains first).
    expect(Buffer.compare(readAll(image), shadow)).toBe(0);
    writeRandomBlocks(image, shadow, 2, 3000);
    image.commit(baseMetadata(blockSize, deviceSize));
    image.close();
    const reopened = ImageFile.open(file);
    try {
      expect(Buffer.compare(readAll(reopened), shadow)).toBe(0);
    } finally {
      reopened.close();
    }
  });

  it('a killed run (abandon) reopens at its checkpoint: overwrites of checkpointed blocks are undone', () => {
    const file = path.join(dir, 'kill.img');
    const checkpointed = new Uint8Array(deviceSize);
    const image = ImageFile.create(file, { blockSize, deviceSize, policy: 'ext4', seed: 1 }, { force: false });
    image.writeBehindAfterWrites = 0;
    // Every block written and held by the checkpoint as written data, so later overwrites save before-images.
    for (let block = 0; block < blocks; block++) {
      const bytes = filled(blockSize, block);
      image.write(block * blockSize, bytes);
      checkpointed.set(bytes, block * blockSize);
    }
    const meta = baseMetadata(blockSize, deviceSize);
    meta.reserved = [];
    meta.inodes = [
      {
        ino: 12,
        path: 'all.bin',
        kind: 'file',
        size: deviceSize,
        extents: [{ logical: 0, physical: 0, length: blocks, unwritten: false }],
        content: [],
      },
    ];
    image.commit(meta);
    const later = new Uint8Array(checkpointed);
    writeRandomBlocks(image, later, 3, 300);
    image.abandon();
    const reopened = ImageFile.open(file);
    try {
      expect(reopened.warnings.join(' ')).toMatch(/undo log/);
      expect(Buffer.compare(readAll(reopened), checkpointed)).toBe(0);
    } finally {
      reopened.close();
    }
  });

  it('generated writes are queued as descriptions once the worker runs (before that the caller writes the bytes)', () => {
    const file = path.join(dir, 'gen.img');
    const image = ImageFile.create(file, { blockSize, deviceSize, policy: 'ext4', seed: 1 }, { force: false });
    const source = { kind: 'gen' as const, ino: 12, seq: 7 };
    expect(image.writeGenerated(0, blockSize, source, 0)).toBe(false);
    image.writeBehindAfterWrites = 0;
    image.write(0, filled(blockSize, 1));
    image.write(4 * blockSize, filled(blockSize, 2)); // flushes the first: the worker starts
    const shadow = new Uint8Array(deviceSize);
    shadow.set(filled(blockSize, 1), 0);
    shadow.set(filled(blockSize, 2), 4 * blockSize);
    // Over the gathered write at block 4 (it must land first), then a contiguous run of three.
    for (const block of [4, 5, 6, 7]) {
      expect(image.writeGenerated(block * blockSize, blockSize, source, block * blockSize)).toBe(true);
      fillPayload(shadow.subarray(block * blockSize, (block + 1) * blockSize), source.ino, source.seq, block * blockSize);
    }
    expect(Buffer.compare(readAll(image), shadow)).toBe(0);
    image.close();
  });

  it('a write the worker cannot make fails the next commit with an image I/O error', () => {
    const file = path.join(dir, 'fail.img');
    const image = ImageFile.create(file, { blockSize, deviceSize, policy: 'ext4', seed: 1 }, { force: false });
    image.writeBehindAfterWrites = 0;
    // An address past what the file system allows for the file: the worker's pwrite fails (EFBIG/EINVAL).
    const fd = (image as unknown as { fd: number }).fd;
    const writer = (image as unknown as { writeBehind: WriteBehind | undefined });
    image.write(0, new Uint8Array(blockSize));
    image.write(8 * blockSize, new Uint8Array(blockSize)); // flushes the first: the worker starts
    expect(writer.writeBehind).toBeDefined();
    writer.writeBehind!.submit(2 ** 62, new Uint8Array(16));
    expect(fd).toBeGreaterThan(0);
    expect(() => image.commit(baseMetadata(blockSize, deviceSize))).toThrow(ImageError);
    image.abandon();
  });
});
