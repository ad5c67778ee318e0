import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ImageFile } from '../../src/image/image.js';
import { expectedContent } from '../../src/image/payload.js';
import { summarizeImage, sweepCoverage } from '../../src/image/summary.js';
import type { ImageMetadata } from '../../src/image/types.js';
import { verifyImage } from '../../src/image/verify.js';
import { baseMetadata, makeTempDir, removeTempDir, syntheticMetadata, writeExpectedData } from './helpers.js';

const BLOCK = 4096;
let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => {
  removeTempDir(dir);
});

function imageWith(meta: ImageMetadata, writeData = true): ImageFile {
  const image = ImageFile.create(path.join(dir, 'v.img'), { blockSize: meta.blockSize, deviceSize: meta.deviceSize, policy: meta.policy, seed: meta.seed }, { force: false });
  if (writeData) writeExpectedData(image, meta);
  image.commit(meta);
  return image;
}

/** One 3-block file with a 1 MiB + 64 KiB neighbour (so verification crosses 1 MiB chunks), on a 4 MiB device. */
function smallLayout(): ImageMetadata {
  const meta = baseMetadata(BLOCK, 4 << 20);
  meta.inodes = [
    { ino: 2, path: 'd', kind: 'dir', size: 0, extents: [], content: [] },
    { ino: 10, path: 'd/a', kind: 'file', size: 3 * BLOCK - 100, extents: [{ logical: 0, physical: 10, length: 3, unwritten: false }],
      content: [{ offset: 0, length: 3 * BLOCK - 100, source: { kind: 'gen', ino: 10, seq: 1, shift: 0 } }] },
    { ino: 11, path: 'big', kind: 'file', size: 272 * BLOCK, extents: [{ logical: 0, physical: 100, length: 272, unwritten: false }],
      content: [{ offset: 0, length: 272 * BLOCK, source: { kind: 'gen', ino: 11, seq: 4, shift: 0 } }] },
  ];
  return meta;
}

describe('verifyImage', () => {
  it('passes on a correctly written synthetic image', () => {
    const meta = syntheticMetadata(21, 12, 40, BLOCK);
    const image = imageWith(meta);
    const report = verifyImage(image, image.readMetadata());
    image.close();
    const files = meta.inodes.filter((inode) => inode.kind === 'file');
    expect(report.mismatches).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.files).toBe(files.length);
    expect(report.bytesChecked).toBe(files.reduce((sum, inode) => sum + inode.size, 0));
  });

  it('reports the altered byte range when a data block is changed', () => {
    const meta = smallLayout();
    const image = imageWith(meta);
    // Corrupt bytes 5000..5009 of d/a (block 1 of the extent at physical 10).
    const garbage = expectedContent(meta.inodes[1]!.content, 5000, 10).map((b) => b ^ 0x5a);
    image.write(10 * BLOCK + 5000, garbage);
    const report = verifyImage(image, meta);
    image.close();
    expect(report.ok).toBe(false);
    expect(report.mismatches).toHaveLength(1);
    expect(report.mismatches[0]).toMatchObject({ path: 'd/a', offset: 5000, length: 10 });
    expect(report.mismatches[0]!.reason).toMatch(/data differs.*device byte 45960/);
  });

  it('spans chunk boundaries in one mismatch and merges adjacent extents', () => {
    const meta = smallLayout();
    // Split "big" into two extents that meet at file byte 1 MiB + 4096.
    meta.inodes[2]!.extents = [
      { logical: 0, physical: 100, length: 257, unwritten: false },
      { logical: 257, physical: 357, length: 15, unwritten: false },
    ];
    const image = imageWith(meta);
    const start = (1 << 20) - 10;
    const end = 257 * BLOCK + 20;
    image.write(100 * BLOCK + start, expectedContent(meta.inodes[2]!.content, start, end - start).map((b) => b ^ 0xff));
    const report = verifyImage(image, meta);
    image.close();
    expect(report.mismatches).toEqual([expect.objectContaining({ path: 'big', offset: start, length: end - start })]);
  });

  it('reports content the layout cannot hold: data expected in a hole or an unwritten extent', () => {
    const meta = smallLayout();
    const image = imageWith(meta);
    const changed = structuredClone(meta);
    changed.inodes[1]!.extents = [{ logical: 0, physical: 10, length: 1, unwritten: false }, { logical: 2, physical: 12, length: 1, unwritten: true }];
    const report = verifyImage(image, changed);
    image.close();
    expect(report.mismatches.map((m) => [m.offset, m.reason.split(' ')[0]])).toEqual([
      [BLOCK, 'hole'],
      [2 * BLOCK, 'unwritten'],
    ]);
  });

  it('finds structural problems: reserved blocks and unshared overlap, but accepts refcounted sharing', () => {
    const meta = smallLayout();
    meta.reserved = [{ start: 0, length: 11 }];
    // d/b shares d/a's blocks 11..12.
    meta.inodes.push({ ino: 12, path: 'd/b', kind: 'file', size: 2 * BLOCK, extents: [{ logical: 0, physical: 11, length: 2, unwritten: false }],
      content: [{ offset: 0, length: 2 * BLOCK, source: { kind: 'gen', ino: 10, seq: 1, shift: BLOCK } }] });
    const image = imageWith(meta);
    const report = verifyImage(image, meta);
    expect(report.mismatches.map((m) => [m.path, m.offset, m.length])).toEqual([
      ['d/a', 0, BLOCK],
      ['d/b', 0, 2 * BLOCK],
    ]);
    expect(report.mismatches[0]!.reason).toMatch(/reserved device blocks 10\.\.10/);
    expect(report.mismatches[1]!.reason).toMatch(/shares device blocks 11\.\.12 with "d\/a" but block 11 has refcount 1/);
    const shared = { ...meta, reserved: [{ start: 0, length: 10 }], refcounts: [{ start: 11, length: 2, refcount: 2 }] };
    expect(verifyImage(image, shared)).toMatchObject({ ok: true, mismatches: [] });
    const refcountOne = { ...shared, refcounts: [{ start: 11, length: 2, refcount: 1 }] };
    expect(verifyImage(image, refcountOne).mismatches.map((m) => m.reason)).toEqual([expect.stringMatching(/block 11 has refcount 1$/)]);
    const halfShared = { ...shared, refcounts: [{ start: 11, length: 1, refcount: 3 }] };
    expect(verifyImage(image, halfShared).mismatches.map((m) => m.reason)).toEqual([expect.stringMatching(/block 12 has refcount 1$/)]);
    image.close();
  });

  it('stops at maxMismatches', () => {
    const meta = syntheticMetadata(8, 10, 10, BLOCK);
    const image = imageWith(meta, false);
    const report = verifyImage(image, meta, { maxMismatches: 3 });
    image.close();
    expect(report.ok).toBe(false);
    expect(report.mismatches).toHaveLength(3);
  });
});

describe('summarizeImage', () => {
  it('counts reserved, used (shared once) and free blocks and free runs', () => {
    const meta = baseMetadata(BLOCK, 100 * BLOCK);
    meta.reserved = [{ start: 0, length: 4 }, { start: 50, length: 2 }];
    meta.refcounts = [{ start: 10, length: 5, refcount: 2 }];
    meta.inodes = [
      { ino: 2, path: 'd', kind: 'dir', size: 0, extents: [], content: [] },
      { ino: 3, path: 'd/a', kind: 'file', size: 20 * BLOCK, extents: [
        { logical: 0, physical: 10, length: 10, unwritten: false },
        { logical: 10, physical: 30, length: 5, unwritten: true },
      ], content: [] },
      { ino: 4, path: 'd/b', kind: 'file', size: 5 * BLOCK, extents: [{ logical: 0, physical: 10, length: 5, unwritten: false }], content: [] },
    ];
    const image = imageWith(meta, false);
    const summary = summarizeImage(image, image.readMetadata());
    image.close();
    // Used: 10..19 and 30..34 = 15 blocks; free runs: 4..9, 20..29, 35..49, 52..99.
    expect(summary).toMatchObject({
      deviceBlocks: 100, generation: 1, files: 2, dirs: 1, extents: 3,
      blocksReserved: 6, blocksUsed: 15, blocksFree: 79, freeExtents: 4, largestFreeExtent: 48,
      policy: 'ext4', seed: 42, trace: 'sample.xio', formatVersion: 1,
    });
    expect(summary.blocksFree).toBe(summary.deviceBlocks - summary.blocksReserved - summary.blocksUsed);
  });

  it('agrees with a per-block count on a synthetic layout', () => {
    const meta = syntheticMetadata(33, 20, 50, BLOCK);
    const image = imageWith(meta, false);
    const summary = summarizeImage(image, meta);
    image.close();
    const deviceBlocks = meta.deviceSize / BLOCK;
    const state = new Uint8Array(deviceBlocks);
    for (const run of meta.reserved) state.fill(1, run.start, run.start + run.length);
    for (const inode of meta.inodes) for (const e of inode.extents) state.fill(2, e.physical, e.physical + e.length);
    let freeRuns = 0;
    let longest = 0;
    let current = 0;
    for (let block = 0; block < deviceBlocks; block++) {
      if (state[block] === 0) {
        if (current === 0) freeRuns++;
        current++;
        longest = Math.max(longest, current);
      } else current = 0;
    }
    expect(summary.blocksUsed).toBe(state.filter((s) => s === 2).length);
    expect(summary.blocksFree).toBe(state.filter((s) => s === 0).length);
    expect(summary.freeExtents).toBe(freeRuns);
    expect(summary.largestFreeExtent).toBe(longest);
  });

  it('sweeps empty and touching runs', () => {
    const segments: number[][] = [];
    sweepCoverage(new Float64Array([5, 0]), new Float64Array([10, 5]), 12, (s, e, d) => segments.push([s, e, d]));
    expect(segments).toEqual([[0, 5, 1], [5, 10, 1], [10, 12, 0]]);
    const empty: number[][] = [];
    sweepCoverage(new Float64Array(0), new Float64Array(0), 7, (s, e, d) => empty.push([s, e, d]));
    expect(empty).toEqual([[0, 7, 0]]);
  });
});
