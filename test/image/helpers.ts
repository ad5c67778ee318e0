/** Shared fixtures for the image tests: temp dirs, synthetic layouts, a payload-rule writer. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ImageFile } from '../../src/image/image.js';
import { expectedContent } from '../../src/image/payload.js';
import type { ContentRange, ImageMetadata, PersistedExtent, PersistedInode } from '../../src/image/types.js';
import { Prng } from '../../src/util/prng.js';

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iomapsim-image-'));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function baseMetadata(blockSize: number, deviceSize: number): ImageMetadata {
  return {
    policy: 'ext4',
    policyParams: { groups: 8, flexBg: true, journal: 'ordered' },
    blockSize,
    deviceSize,
    seed: 42,
    reserved: [{ start: 0, length: 4 }],
    inodes: [],
    refcounts: [],
    trace: 'sample.xio',
    opsApplied: 0,
  };
}

/**
 * A seeded synthetic layout: `fileCount` files of `extentsPerFile` extents,
 * physically disjoint (each file owns a contiguous physical window), holes
 * between extents, every third extent unwritten, mixed content sources.
 */
export function syntheticMetadata(seed: number, fileCount: number, extentsPerFile: number, blockSize: number): ImageMetadata {
  const prng = new Prng(seed);
  const windowBlocks = extentsPerFile * 8;
  const deviceBlocks = 16 + fileCount * windowBlocks;
  const meta = baseMetadata(blockSize, deviceBlocks * blockSize);
  meta.seed = seed;
  meta.opsApplied = fileCount * extentsPerFile;
  meta.inodes.push({ ino: 2, path: 'dir', kind: 'dir', size: 0, extents: [], content: [] });
  for (let f = 0; f < fileCount; f++) {
    const extents: PersistedExtent[] = [];
    let logical = 0;
    let physical = 16 + f * windowBlocks;
    for (let e = 0; e < extentsPerFile; e++) {
      logical += prng.nextU32() % 3;
      const length = 1 + (prng.nextU32() % 4);
      extents.push({ logical, physical, length, unwritten: e % 3 === 2 });
      logical += length;
      physical += length + (prng.nextU32() % 4);
    }
    const size = logical * blockSize - (prng.nextU32() % blockSize);
    const ino = 100 + f;
    const inode: PersistedInode = { ino, path: `dir/f${f}`, kind: 'file', size, extents, content: contentFor(ino, extents, blockSize, size) };
    meta.inodes.push(inode);
  }
  return meta;
}

/** Content matching the layout: written extents carry data, unwritten ones and holes zero. */
function contentFor(ino: number, extents: PersistedExtent[], blockSize: number, size: number): ContentRange[] {
  const content: ContentRange[] = [];
  extents.forEach((extent, index) => {
    if (extent.unwritten) return;
    const offset = extent.logical * blockSize;
    const length = Math.min(extent.length * blockSize, size - offset);
    if (length <= 0) return;
    const source: ContentRange['source'] = index % 4 === 1 ? { kind: 'fill', byte: 0x40 + (index % 64) } : index % 8 === 3 ? { kind: 'zero' } : { kind: 'gen', ino, seq: index, shift: index % 5 };
    content.push({ offset, length, source });
  });
  return content;
}

/** Writes every written extent's expected bytes to its physical blocks (what a replay would have done). */
export function writeExpectedData(image: ImageFile, meta: ImageMetadata): void {
  for (const inode of meta.inodes) {
    for (const extent of inode.extents) {
      if (extent.unwritten) continue;
      const bytes = expectedContent(inode.content, extent.logical * meta.blockSize, extent.length * meta.blockSize);
      image.write(extent.physical * meta.blockSize, bytes);
    }
  }
}

/** Flips every bit of the byte at `offset` of the file. */
export function flipByte(file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0xff;
    fs.writeSync(fd, byte, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}
