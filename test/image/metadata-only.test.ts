/**
 * Metadata-only images (`replay --no-data`, format 1.1): the superblock flag
 * survives commits and reopening, data writes are refused, older readers
 * (flags known = 0) refuse the image, summary says so, and verify checks the
 * structure only (and still finds structural damage).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeSuperblock, IMAGE_FLAG_METADATA_ONLY, IMAGE_FLAGS_KNOWN, IMAGE_FORMAT_MINOR, SLOT_BYTES, SLOT_OFFSETS } from '../../src/image/format.js';
import { ImageFile } from '../../src/image/image.js';
import { summarizeImage } from '../../src/image/summary.js';
import type { ImageMetadata } from '../../src/image/types.js';
import { verifyImage } from '../../src/image/verify.js';
import { InvariantError } from '../../src/util/assert.js';
import { makeTempDir, removeTempDir, syntheticMetadata, writeExpectedData } from './helpers.js';

const BLOCK = 4096;
let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => {
  removeTempDir(dir);
});

function create(name: string, meta: ImageMetadata, metadataOnly: boolean): ImageFile {
  return ImageFile.create(path.join(dir, name), { blockSize: meta.blockSize, deviceSize: meta.deviceSize, policy: meta.policy, seed: meta.seed, metadataOnly }, { force: false });
}

/** The flags word of the slot holding generation `generation`, read straight from the file. */
function slotFlags(file: string, generation: number): number {
  const bytes = fs.readFileSync(file);
  for (const offset of SLOT_OFFSETS) {
    const decoded = decodeSuperblock(bytes.subarray(offset, offset + SLOT_BYTES));
    if (decoded.status === 'valid' && decoded.superblock.generation === generation) return decoded.superblock.flags;
  }
  throw new Error(`no valid slot with generation ${generation}`);
}

describe('metadata-only flag', () => {
  it('is written by create, kept by every commit, and read back by open', () => {
    const meta = syntheticMetadata(5, 3, 20, BLOCK);
    const image = create('m.img', meta, true);
    expect(image.metadataOnly).toBe(true);
    image.commit(meta);
    image.commit({ ...meta, opsApplied: meta.opsApplied + 1 });
    image.close();
    const file = path.join(dir, 'm.img');
    expect(slotFlags(file, 1) & IMAGE_FLAG_METADATA_ONLY).toBe(IMAGE_FLAG_METADATA_ONLY);
    expect(slotFlags(file, 2) & IMAGE_FLAG_METADATA_ONLY).toBe(IMAGE_FLAG_METADATA_ONLY);
    const reopened = ImageFile.open(file);
    expect(reopened.metadataOnly).toBe(true);
    expect(reopened.superblock.formatMinor).toBe(IMAGE_FORMAT_MINOR);
    expect(reopened.readMetadata().opsApplied).toBe(meta.opsApplied + 1);
    reopened.close();
  });

  it('is clear on an ordinary image, whose flags stay 0 so 1.0 readers still open it', () => {
    const meta = syntheticMetadata(6, 2, 10, BLOCK);
    const image = create('d.img', meta, false);
    image.commit(meta);
    image.close();
    expect(slotFlags(path.join(dir, 'd.img'), 1)).toBe(0);
    const reopened = ImageFile.open(path.join(dir, 'd.img'));
    expect(reopened.metadataOnly).toBe(false);
    reopened.close();
  });

  it('is the only flag set, and one this reader knows (a 1.0 reader, knowing none, refuses the image as version)', () => {
    const meta = syntheticMetadata(7, 1, 4, BLOCK);
    const image = create('old.img', meta, true);
    image.commit(meta);
    image.close();
    expect(slotFlags(path.join(dir, 'old.img'), 1)).toBe(IMAGE_FLAG_METADATA_ONLY);
    expect(IMAGE_FLAGS_KNOWN & IMAGE_FLAG_METADATA_ONLY).toBe(IMAGE_FLAG_METADATA_ONLY);
  });

  it('refuses data writes (the replay must use a NullDevice)', () => {
    const meta = syntheticMetadata(8, 1, 4, BLOCK);
    const image = create('w.img', meta, true);
    expect(() => image.write(0, new Uint8Array(BLOCK))).toThrow(InvariantError);
    expect(image.bytesWritten).toBe(0);
    image.close();
  });
});

describe('summary and verify of a metadata-only image', () => {
  it('summary says metadataOnly; an ordinary image has no such key', () => {
    const meta = syntheticMetadata(9, 3, 12, BLOCK);
    const bare = create('b.img', meta, true);
    bare.commit(meta);
    const full = create('f.img', meta, false);
    writeExpectedData(full, meta);
    full.commit(meta);
    const bareSummary = summarizeImage(bare, meta);
    const fullSummary = summarizeImage(full, meta);
    expect(bareSummary.metadataOnly).toBe(true);
    expect('metadataOnly' in fullSummary).toBe(false);
    expect({ ...bareSummary, metadataOnly: undefined }).toEqual({ ...fullSummary, metadataOnly: undefined });
    bare.close();
    full.close();
  });

  it('checks structure only: ok, no bytes compared, contentChecked false', () => {
    const meta = syntheticMetadata(10, 4, 16, BLOCK);
    const image = create('v.img', meta, true);
    image.commit(meta);
    const report = verifyImage(image, meta);
    expect(report.ok).toBe(true);
    expect(report.contentChecked).toBe(false);
    expect(report.bytesChecked).toBe(0);
    expect(report.files).toBe(meta.inodes.filter((inode) => inode.kind === 'file').length);
    image.close();
  });

  it('the same layout with data but nothing written fails content verification, so structure-only is what hides it', () => {
    const meta = syntheticMetadata(11, 2, 8, BLOCK);
    const image = create('n.img', meta, false);
    image.commit(meta);
    const report = verifyImage(image, meta);
    expect(report.ok).toBe(false);
    expect(report.contentChecked).toBeUndefined();
    image.close();
  });

  it('still reports structural damage (an extent over reserved blocks)', () => {
    const meta = syntheticMetadata(12, 2, 8, BLOCK);
    const file = meta.inodes.find((inode) => inode.kind === 'file')!;
    meta.reserved = [{ start: file.extents[0]!.physical, length: 1 }];
    const image = create('r.img', meta, true);
    image.commit(meta);
    const report = verifyImage(image, meta);
    expect(report.ok).toBe(false);
    expect(report.contentChecked).toBe(false);
    expect(report.mismatches[0]!.reason).toMatch(/reserved device blocks/);
    image.close();
  });
});
