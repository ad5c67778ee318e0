import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { BodyDecodeError, decodeMetadata, encodeMetadata } from '../../src/image/codec.js';
import { decodeSuperblock, encodeCheckpoint, encodeSuperblock, SLOT_OFFSETS } from '../../src/image/format.js';
import { ImageFile } from '../../src/image/image.js';
import type { ImageMetadata } from '../../src/image/types.js';
import { metadataProblem } from '../../src/image/validate.js';
import { ImageError } from '../../src/util/errors.js';
import { baseMetadata, makeTempDir, removeTempDir, syntheticMetadata } from './helpers.js';

function tricky(): ImageMetadata {
  const meta = baseMetadata(1024, 1 << 30);
  meta.seed = 2 ** 40 + 3;
  meta.trace = 'trâce — ✓.xio';
  meta.policyParams = { agCount: 4, name: 'x"y\\z', strict: false };
  meta.reserved = [{ start: 0, length: 1 }, { start: 2 ** 19, length: 64 }];
  meta.refcounts = [{ start: 100, length: 3, refcount: 2 }, { start: 200, length: 1, refcount: 0xfffffffe }];
  meta.opsApplied = 123456789;
  meta.inodes = [
    { ino: 1, path: '', kind: 'dir', size: 0, extents: [], content: [] },
    { ino: 2 ** 33, path: 'ünïcödé/ファイル', kind: 'file', size: 5000, extents: [
      { logical: 0, physical: 100, length: 3, unwritten: false },
      { logical: 7, physical: (1 << 20) - 1, length: 1, unwritten: true },
    ], content: [
      { offset: 0, length: 10, source: { kind: 'fill', byte: 255 } },
      { offset: 10, length: 5, source: { kind: 'zero' } },
      { offset: 20, length: 3000, source: { kind: 'gen', ino: 2 ** 33, seq: 9, shift: -20 } },
    ] },
    { ino: 3, path: 'empty', kind: 'file', size: 0, extents: [], content: [] },
  ];
  return meta;
}

describe('metadata codec', () => {
  it('round-trips edge values exactly', () => {
    const meta = tricky();
    expect(metadataProblem(meta)).toBeUndefined();
    expect(decodeMetadata(encodeMetadata(meta))).toEqual(meta);
  });

  it('round-trips seeded synthetic layouts', () => {
    for (const seed of [1, 2, 3]) {
      const meta = syntheticMetadata(seed, 1 + seed * 3, 17 * seed, 2048);
      expect(decodeMetadata(encodeMetadata(meta))).toEqual(meta);
    }
  });

  it('rejects every truncation of a body with BodyDecodeError', () => {
    const body = encodeMetadata(tricky());
    for (let length = 0; length < body.length; length++) {
      expect(() => decodeMetadata(body.slice(0, length))).toThrow(BodyDecodeError);
    }
    const longer = new Uint8Array(body.length + 1);
    longer.set(body);
    expect(() => decodeMetadata(longer)).toThrow(/after the end marker/);
  });

  it('never throws anything but BodyDecodeError on mutated bodies', () => {
    const body = encodeMetadata(tricky());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (flips) => {
        const copy = body.slice();
        for (const [index, mask] of flips) copy[index] = copy[index]! ^ mask;
        try {
          const meta = decodeMetadata(copy);
          // Whatever decodes must still be checked: metadataProblem returns a string or undefined, never throws.
          const problem = metadataProblem(meta);
          expect(problem === undefined || typeof problem === 'string').toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(BodyDecodeError);
        }
      }),
      { seed: 20240601, numRuns: 2000 },
    );
  });

  it('decodes a million extents quickly', () => {
    const meta = syntheticMetadata(5, 1000, 1000, 4096);
    const started = performance.now();
    const body = encodeMetadata(meta);
    const decoded = decodeMetadata(body);
    const elapsedMs = performance.now() - started;
    expect(decoded.inodes.length).toBe(1001);
    expect(decoded.inodes[500]!.extents).toEqual(meta.inodes[500]!.extents);
    // The target is well under 2 s on an idle machine; the bound leaves room for a loaded CI runner.
    expect(elapsedMs).toBeLessThan(8000);
  });
});

describe('metadataProblem', () => {
  const cases: Array<[string, (meta: ImageMetadata) => void, RegExp]> = [
    ['unsorted extents', (m) => m.inodes[1]!.extents.reverse(), /overlaps or precedes/],
    ['extent past the device', (m) => { m.inodes[1]!.extents[1]!.physical = (1 << 20); }, /past the device/],
    ['zero-length extent', (m) => { m.inodes[1]!.extents[0]!.length = 0; }, /extent 0/],
    ['fractional block', (m) => { m.inodes[1]!.extents[0]!.physical = 1.5; }, /extent 0/],
    ['overlapping content', (m) => { m.inodes[1]!.content[1]!.offset = 5; }, /content range 1/],
    ['bad fill byte', (m) => { m.inodes[1]!.content[0]!.source = { kind: 'fill', byte: 256 }; }, /fill byte/],
    ['duplicate inode', (m) => { m.inodes[2]!.ino = 1; }, /used twice/],
    ['directory with extents', (m) => { m.inodes[0]!.extents.push({ logical: 0, physical: 5, length: 1, unwritten: false }); }, /directory/],
    ['overlapping reserved runs', (m) => { m.reserved[1]!.start = 0; }, /reserved run 1/],
    ['refcount zero', (m) => { m.refcounts[0]!.refcount = 0; }, /refcount/],
    ['device not a block multiple', (m) => { m.deviceSize += 1; }, /device size/],
    ['long policy name', (m) => { m.policy = 'a-policy-name-longer-than-16'; }, /policy name/],
    ['negative size', (m) => { m.inodes[1]!.size = -1; }, /size/],
  ];
  for (const [name, damage, pattern] of cases) {
    it(`finds ${name}`, () => {
      const meta = tricky();
      damage(meta);
      expect(metadataProblem(meta)).toMatch(pattern);
    });
  }
});

describe('readMetadata validation', () => {
  it('reports a checksummed but invalid checkpoint as corrupt, saying what is wrong', () => {
    const dir = makeTempDir();
    try {
      const file = path.join(dir, 'bad.img');
      const image = ImageFile.create(file, { blockSize: 1024, deviceSize: 1 << 30, policy: 'ext4', seed: 1 }, { force: false });
      const sb = image.superblock;
      image.close();
      // Write, as a buggy writer would, a well-checksummed checkpoint whose extents are out of order.
      const bad = tricky();
      bad.inodes[1]!.extents.reverse();
      const record = encodeCheckpoint(1, encodeMetadata(bad));
      const slot = encodeSuperblock({ ...sb, generation: 1, checkpointOffset: sb.metaOffset, checkpointLength: record.length, checkpointCrc: crc32(record) });
      expect(decodeSuperblock(slot).status).toBe('valid');
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, record, 0, record.length, sb.metaOffset);
      fs.writeSync(fd, slot, 0, slot.length, SLOT_OFFSETS[1]);
      fs.closeSync(fd);
      const reopened = ImageFile.open(file);
      expect(reopened.superblock.generation).toBe(1);
      let caught: unknown;
      try {
        reopened.readMetadata();
      } catch (error) {
        caught = error;
      }
      reopened.close();
      expect(caught).toBeInstanceOf(ImageError);
      expect((caught as ImageError).kind).toBe('corrupt');
      expect((caught as ImageError).message).toMatch(/ünïcödé.*extent 1.*overlaps or precedes/);
    } finally {
      removeTempDir(dir);
    }
  });
});
