/**
 * Inline data in the image (format 1.2): a btrfs replay's small files keep
 * their bytes in the checkpoint, the superblock says so (INLINE_DATA), the
 * bytes round-trip, verify compares them, inspect shows an inline extent,
 * and damaged inline records are refused.
 */
import * as path from 'node:path';
import { decodeMetadata, encodeMetadata } from '../../src/image/codec.js';
import { IMAGE_FLAG_INLINE_DATA } from '../../src/image/format.js';
import { fsckImage } from '../../src/image/fsck.js';
import { ImageFile, verifyImage } from '../../src/image/index.js';
import type { ImageMetadata } from '../../src/image/types.js';
import { metadataProblem } from '../../src/image/validate.js';
import { layoutFromPersisted } from '../../src/report/layout.js';
import { replay } from '../../src/replay/replay.js';
import { readXio } from '../../src/trace/xio.js';
import { CORPUS_DIR } from '../conformance/corpus.js';
import { makeTempDir, removeTempDir } from './helpers.js';

let dir = '';
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => removeTempDir(dir));

async function btrfsImage(): Promise<{ file: string; meta: ImageMetadata }> {
  const file = path.join(dir, 'small.img');
  const image = ImageFile.create(file, { blockSize: 4096, deviceSize: 1 << 30, policy: 'btrfs', seed: 1 }, { force: false });
  const ops = readXio(path.join(CORPUS_DIR, 'cases/21-many-small-files.xio'));
  const outcome = await replay(ops, { policy: 'btrfs', blockSize: 4096, deviceSize: 1 << 30, seed: 1, traceName: '21', finalSync: true, deterministic: true, device: image });
  image.commit(outcome.metadata);
  image.close();
  return { file, meta: outcome.metadata };
}

test('a btrfs replay of small files: inline bytes in the checkpoint, the flag set, verify and fsck clean', async () => {
  const { file, meta } = await btrfsImage();
  const inline = meta.inodes.filter((inode) => inode.inline !== undefined);
  expect(inline.length).toBeGreaterThan(0);
  for (const inode of inline) {
    expect(inode.inline!.bytes!.length).toBe(inode.inline!.lengthBytes);
    expect(inode.inline!.lengthBytes).toBeLessThanOrEqual(2048);
  }
  const image = ImageFile.open(file);
  expect(image.superblock.flags & IMAGE_FLAG_INLINE_DATA).toBe(IMAGE_FLAG_INLINE_DATA);
  const read = image.readMetadata();
  expect(read.inodes.filter((inode) => inode.inline !== undefined).map((inode) => [inode.path, inode.inline!.lengthBytes])).toEqual(inline.map((inode) => [inode.path, inode.inline!.lengthBytes]));
  const report = verifyImage(image, read);
  image.close();
  expect(report.mismatches).toEqual([]);
  expect(fsckImage(file).ok).toBe(true);
  const layout = layoutFromPersisted(inline[0]!, 4096);
  expect(layout.extents[0]).toMatchObject({ logical: 0, physical: 0, flags: ['inline', 'last'] });
});

test('verify compares the inline bytes: a wrong byte is a mismatch at its offset', async () => {
  const { file, meta } = await btrfsImage();
  const image = ImageFile.open(file);
  const read = image.readMetadata();
  const victim = read.inodes.find((inode) => inode.inline !== undefined)!;
  victim.inline!.bytes![5] = victim.inline!.bytes![5]! ^ 0xff;
  const report = verifyImage(image, read);
  image.close();
  expect(report.ok).toBe(false);
  expect(report.mismatches[0]).toMatchObject({ path: victim.path, offset: 5 });
  expect(report.mismatches[0]!.reason).toContain('inline data differs');
  expect(meta.inodes.length).toBeGreaterThan(0);
});

test('codec: inline records round-trip, with or without bytes; broken ones are refused', () => {
  const meta: ImageMetadata = {
    policy: 'btrfs', policyParams: {}, blockSize: 4096, deviceSize: 1 << 24, seed: 1, reserved: [], refcounts: [], trace: 't', opsApplied: 1,
    inodes: [
      { ino: 257, path: 'a', kind: 'file', size: 3, extents: [], content: [{ offset: 0, length: 3, source: { kind: 'fill', byte: 7 } }], inline: { lengthBytes: 3, bytes: new Uint8Array([7, 7, 7]) } },
      { ino: 258, path: 'b', kind: 'file', size: 100, extents: [], content: [], inline: { lengthBytes: 100 } },
      { ino: 259, path: 'c', kind: 'file', size: 0, extents: [], content: [] },
    ],
  };
  const decoded = decodeMetadata(encodeMetadata(meta));
  expect(decoded.inodes[0]!.inline).toEqual({ lengthBytes: 3, bytes: new Uint8Array([7, 7, 7]) });
  expect(decoded.inodes[1]!.inline).toEqual({ lengthBytes: 100 });
  expect(decoded.inodes[2]!.inline).toBeUndefined();
  expect(metadataProblem(decoded)).toBeUndefined();
  const mapped = { ...meta, inodes: [{ ...meta.inodes[0]!, extents: [{ logical: 0, physical: 9, length: 1, unwritten: false }] }] };
  expect(metadataProblem(mapped)).toContain('an extent maps bytes the inline data holds');
  const short = { ...meta, inodes: [{ ...meta.inodes[0]!, inline: { lengthBytes: 4, bytes: new Uint8Array(3) } }] };
  expect(metadataProblem(short)).toContain('inline data holds 3 bytes, its length says 4');
});
