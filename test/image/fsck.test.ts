/**
 * fsck: clean images, damaged slots and checkpoints, a lost last commit,
 * sharing without refcounts and wrong refcounts, foreign files; and it never
 * throws on random bit flips and truncations (exit 0, 1 or 2 only).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../src/cli/main.js';
import { fsckImage } from '../../src/image/fsck.js';
import { encodeMetadata } from '../../src/image/codec.js';
import { encodeCheckpoint } from '../../src/image/format.js';
import { chooseCheckpointOffset, ImageFile } from '../../src/image/image.js';
import type { ImageMetadata } from '../../src/image/types.js';
import { Prng } from '../../src/util/prng.js';
import { baseMetadata, makeTempDir, removeTempDir, syntheticMetadata } from './helpers.js';

let dir = '';
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => removeTempDir(dir));

function writeImage(name: string, ...metas: ImageMetadata[]): string {
  const file = path.join(dir, name);
  const first = metas[0]!;
  const image = ImageFile.create(file, { blockSize: first.blockSize, deviceSize: first.deviceSize, policy: first.policy, seed: first.seed }, { force: false });
  for (const meta of metas) image.commit(meta);
  image.close();
  return file;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), cwd: dir });
  return { code, stdout, stderr };
}

/** Flips one bit of the file at `offset`. */
function flipBit(file: string, offset: number, bit: number): void {
  const fd = fs.openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, offset);
  byte[0] = byte[0]! ^ (1 << bit);
  fs.writeSync(fd, byte, 0, 1, offset);
  fs.closeSync(fd);
}

describe('fsck', () => {
  test('a committed image is clean; the summary counts what the metadata holds', async () => {
    const meta = syntheticMetadata(3, 4, 6, 4096);
    const file = writeImage('a.img', meta);
    const report = fsckImage(file);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.summary).toMatchObject({ files: 4, dirs: 1, extents: 24, generation: 1, blocksShared: 0 });
    const used = meta.inodes.flatMap((inode) => inode.extents).reduce((sum, extent) => sum + extent.length, 0);
    expect(report.summary!.blocksUsed).toBe(used);
    expect(report.summary!.blocksUsed + report.summary!.blocksReserved + report.summary!.blocksFree).toBe(meta.deviceSize / 4096);
    const { code, stdout } = await cli(['fsck', 'a.img']);
    expect(code).toBe(0);
    expect(stdout).toContain('clean: no problems found');
  });

  test('a freshly created image without a checkpoint is clean (it opens empty)', () => {
    const file = path.join(dir, 'new.img');
    ImageFile.create(file, { blockSize: 4096, deviceSize: 1 << 24, policy: 'xfs', seed: 1 }, { force: false }).close();
    expect(fsckImage(file)).toMatchObject({ ok: true, summary: { generation: 0, files: 0 } });
  });

  test('a damaged newest checkpoint: the image opens one generation back, and fsck says the last commit was lost', async () => {
    const older = syntheticMetadata(1, 2, 3, 4096);
    const newer = { ...older, opsApplied: older.opsApplied + 5 };
    const file = writeImage('b.img', older, newer);
    const image = ImageFile.open(file);
    const inUse = image.superblock;
    image.close();
    flipBit(file, inUse.checkpointOffset + 100, 3);
    const report = fsckImage(file);
    expect(report.ok).toBe(false);
    expect(report.summary!.generation).toBe(1);
    expect(report.problems.map((problem) => problem.problem).join('\n')).toMatch(/crc mismatch[\s\S]*opens at generation 1: the newer generation 2 is damaged/);
    const { code, stdout } = await cli(['fsck', 'b.img', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, isImage: true });
  });

  test('a run killed during a commit (record written over the oldest one, its slot not yet): the old slot is stale, not a problem', () => {
    const first = syntheticMetadata(2, 6, 30, 4096);
    const second = syntheticMetadata(3, 6, 30, 4096);
    const file = writeImage('k.img', first, second);
    const image = ImageFile.open(file);
    const inUse = image.superblock;
    image.close();
    // Generation 1 sits at the start of the metadata area, 2 after it: 3 fits before 2, over 1.
    const record = encodeCheckpoint(3, encodeMetadata({ ...first, opsApplied: 1 }));
    const offset = chooseCheckpointOffset(inUse, record.length);
    expect(offset).toBe(inUse.metaOffset);
    const killed = path.join(dir, 'killed.img');
    fs.copyFileSync(file, killed);
    const fd = fs.openSync(killed, 'r+');
    fs.writeSync(fd, record, 0, record.length, offset);
    fs.closeSync(fd);
    const report = fsckImage(killed);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.summary!.generation).toBe(2);
    expect(report.slots.map((slot) => [slot.status, slot.generation])).toEqual(expect.arrayContaining([['stale', 1], ['ok', 2]]));
    // The same old record damaged with no newer record over it is a problem.
    flipBit(file, inUse.metaOffset + 200, 1);
    const damaged = fsckImage(file);
    expect(damaged.ok).toBe(false);
    expect(damaged.problems[0]!.problem).toMatch(/checkpoint crc mismatch/);
  });

  test('blocks shared without a refcount, and a recorded refcount no extent backs, are problems with their location', () => {
    const meta = baseMetadata(4096, 1 << 24);
    meta.inodes.push(
      { ino: 10, path: 'a', kind: 'file', size: 8192, extents: [{ logical: 0, physical: 100, length: 2, unwritten: false }], content: [] },
      { ino: 11, path: 'b', kind: 'file', size: 8192, extents: [{ logical: 0, physical: 101, length: 2, unwritten: false }], content: [] },
    );
    meta.refcounts = [{ start: 500, length: 1, refcount: 2 }];
    const report = fsckImage(writeImage('c.img', meta));
    expect(report.ok).toBe(false);
    const text = report.problems.map((problem) => `${problem.where}: ${problem.problem}`).join('\n');
    expect(text).toContain('b: shares device blocks 101..101 with "a" but block 101 has refcount 1');
    expect(text).toContain('(refcounts): device blocks 101..101 are mapped by 2 extents, the recorded refcount is absent');
    expect(text).toContain('(refcounts): refcount 2 recorded for device blocks 500..500, which are not mapped that way');
  });

  test('the same sharing with the right refcount is clean', () => {
    const meta = baseMetadata(4096, 1 << 24);
    meta.inodes.push(
      { ino: 10, path: 'a', kind: 'file', size: 8192, extents: [{ logical: 0, physical: 100, length: 2, unwritten: false }], content: [] },
      { ino: 11, path: 'b', kind: 'file', size: 8192, extents: [{ logical: 0, physical: 100, length: 2, unwritten: false }], content: [] },
    );
    meta.refcounts = [{ start: 100, length: 2, refcount: 2 }];
    expect(fsckImage(writeImage('d.img', meta))).toMatchObject({ ok: true, summary: { blocksShared: 2, blocksUsed: 2 } });
  });

  test('not an image: a foreign file, a missing one, a directory (exit 2)', async () => {
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello\n');
    for (const name of ['notes.txt', 'missing.img', '.']) {
      const { code, stdout, stderr } = await cli(['fsck', name]);
      expect(code).toBe(2);
      expect(stdout).toContain('not an iomapsim image');
      expect(stderr).toContain('hint:');
    }
  });

  test('random bit flips and truncations never make it throw; exit codes stay 0, 1 or 2', async () => {
    const meta = syntheticMetadata(9, 3, 5, 4096);
    const pristine = writeImage('p.img', meta, { ...meta, opsApplied: 99 });
    const bytes = fs.readFileSync(pristine);
    const image = ImageFile.open(pristine);
    const { metaOffset } = image.superblock;
    image.close();
    const prng = new Prng(2026);
    const damaged = path.join(dir, 'x.img');
    let flagged = 0;
    for (let round = 0; round < 120; round++) {
      fs.writeFileSync(damaged, bytes);
      if (round % 4 === 3) {
        fs.truncateSync(damaged, prng.nextU32() % bytes.length);
      } else {
        // Flips land in the superblock slots or the checkpoint area, where the metadata lives.
        for (let flips = 1 + (prng.nextU32() % 3); flips > 0; flips--) {
          const inSlots = prng.nextU32() % 2 === 0;
          const offset = inSlots ? prng.nextU32() % 8192 : metaOffset + (prng.nextU32() % (bytes.length - metaOffset));
          flipBit(damaged, offset, prng.nextU32() % 8);
        }
      }
      const report = fsckImage(damaged);
      if (!report.ok) flagged++;
      const { code } = await cli(['fsck', 'x.img']);
      expect([0, 1, 2]).toContain(code);
      expect(code === 0).toBe(report.ok);
    }
    // Damage to checksummed bytes is seen: most rounds are flagged (flips in slot padding are not covered by a checksum).
    expect(flagged).toBeGreaterThan(60);
  });
});
