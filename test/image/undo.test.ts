/**
 * The undo log (format 1.3): a run killed between checkpoints (SIGKILL: the
 * file as written so far, gathered writes lost; power loss: an unsynced tail
 * torn) opens at its last checkpoint with that checkpoint's bytes, and
 * `verify` passes; fsck reports the log; clean images stay 1.2-readable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { encodeMetadata } from '../../src/image/codec.js';
import { fsckImage } from '../../src/image/fsck.js';
import { decodeSuperblock, encodeCheckpoint, encodeSuperblock, HEADER_REGION_BYTES, IMAGE_FLAG_UNDO_LOG, IMAGE_FORMAT_MINOR, SLOT_BYTES, SLOT_OFFSETS, type Superblock } from '../../src/image/format.js';
import { chooseCheckpointOffset, ImageFile } from '../../src/image/image.js';
import { expectedContent } from '../../src/image/payload.js';
import type { ImageMetadata } from '../../src/image/types.js';
import { BlockBitmap, encodeUndoRecords, UNDO_HEADER_BYTES, undoLogOffset, undoRecordBytes, writtenBlocks } from '../../src/image/undo.js';
import { verifyImage } from '../../src/image/verify.js';
import { Prng } from '../../src/util/prng.js';
import { makeTempDir, removeTempDir, syntheticMetadata, writeExpectedData } from './helpers.js';

const BLOCK = 4096;

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => {
  removeTempDir(dir);
});

/** Two layouts over the same device (same file and extent counts): the second reuses the first's blocks with other content. */
function layouts(seedA: number, seedB: number): [ImageMetadata, ImageMetadata] {
  const a = syntheticMetadata(seedA, 6, 40, BLOCK);
  const b = syntheticMetadata(seedB, 6, 40, BLOCK);
  expect(b.deviceSize).toBe(a.deviceSize);
  return [a, b];
}

function create(name: string, meta: ImageMetadata): { image: ImageFile; file: string } {
  const file = path.join(dir, name);
  const image = ImageFile.create(file, { blockSize: meta.blockSize, deviceSize: meta.deviceSize, policy: meta.policy, seed: meta.seed }, { force: false });
  return { image, file };
}

/** What a SIGKILL leaves: the file as the process had written it (its gathered writes are in its memory, lost). */
function killedCopy(file: string, name: string): string {
  const copy = path.join(dir, name);
  fs.copyFileSync(file, copy);
  return copy;
}

/** Opens read-only, verifies against `meta` and checks the metadata is that checkpoint's; returns the warnings. */
function expectOpensAt(file: string, meta: ImageMetadata, generation: number): readonly string[] {
  const image = ImageFile.open(file);
  try {
    expect(image.superblock.generation).toBe(generation);
    const read = image.readMetadata();
    expect(read.opsApplied).toBe(meta.opsApplied);
    const report = verifyImage(image, read);
    expect(report.mismatches).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.bytesChecked).toBeGreaterThan(0);
    return image.warnings;
  } finally {
    image.close();
  }
}

/** Verify of the raw file, without the undo log: proves the data area itself was overwritten. */
function rawVerifyFails(file: string, meta: ImageMetadata): boolean {
  const stripped = killedCopy(file, 'stripped.img');
  const fd = fs.openSync(stripped, 'r+');
  for (const offset of SLOT_OFFSETS) {
    const slot = new Uint8Array(SLOT_BYTES);
    fs.readSync(fd, slot, 0, SLOT_BYTES, offset);
    const decoded = decodeSuperblock(slot);
    if (decoded.status !== 'valid') continue;
    fs.writeSync(fd, encodeSuperblock({ ...decoded.superblock, flags: decoded.superblock.flags & ~IMAGE_FLAG_UNDO_LOG }), 0, SLOT_BYTES, offset);
  }
  fs.closeSync(fd);
  const image = ImageFile.open(stripped);
  const ok = verifyImage(image, meta).ok;
  image.close();
  fs.rmSync(stripped);
  return !ok;
}

function slotFlags(file: string): number[] {
  const bytes = fs.readFileSync(file).subarray(0, 2 * SLOT_BYTES);
  return SLOT_OFFSETS.map((offset) => {
    const decoded = decodeSuperblock(bytes.subarray(offset, offset + SLOT_BYTES));
    return decoded.status === 'valid' ? decoded.superblock.flags : -1;
  });
}

/** Forces the gathered writes into the file (a read flushes them). */
function flush(image: ImageFile): void {
  image.read(0, new Uint8Array(1));
}

describe('BlockBitmap', () => {
  it('setRange, clear, has and anyIn agree with a set of blocks', () => {
    const prng = new Prng(5);
    const blocks = 1000;
    const bitmap = new BlockBitmap(blocks);
    const shadow = new Set<number>();
    for (let step = 0; step < 400; step++) {
      const start = prng.nextU32() % blocks;
      const count = prng.nextU32() % Math.min(200, blocks - start + 1);
      if (step % 3 === 0) {
        for (let i = 0; i < count; i++) {
          bitmap.clear(start + i);
          shadow.delete(start + i);
        }
      } else {
        bitmap.setRange(start, count);
        for (let i = 0; i < count; i++) shadow.add(start + i);
      }
      const probeStart = prng.nextU32() % blocks;
      const probeEnd = probeStart + (prng.nextU32() % (blocks - probeStart + 1));
      let any = false;
      for (let block = probeStart; block < probeEnd; block++) any ||= shadow.has(block);
      expect(bitmap.anyIn(probeStart, probeEnd)).toBe(any);
    }
    for (let block = 0; block < blocks; block++) expect(bitmap.has(block)).toBe(shadow.has(block));
  });

  it('writtenBlocks holds the written extents only', () => {
    const meta = syntheticMetadata(3, 3, 12, BLOCK);
    const bitmap = writtenBlocks(meta);
    for (const inode of meta.inodes) {
      for (const extent of inode.extents) {
        for (let i = 0; i < extent.length; i++) expect(bitmap.has(extent.physical + i)).toBe(!extent.unwritten);
      }
    }
    expect(bitmap.has(0)).toBe(false);
  });
});

describe('a run killed after a checkpoint', () => {
  it('opens at the checkpoint with its bytes although live blocks were overwritten in place', () => {
    const [first, second] = layouts(21, 22);
    const { image, file } = create('k.img', first);
    writeExpectedData(image, first);
    expect(image.commit(first)).toBe(1);
    expect(image.undoRecords).toBe(0);
    // The next layout's data lands on the first one's blocks (freed and reused, or overwritten in place).
    writeExpectedData(image, second);
    flush(image);
    expect(image.undoRecords).toBeGreaterThan(0);
    const killed = killedCopy(file, 'killed.img');
    const warnings = expectOpensAt(killed, first, 1);
    expect(warnings).toEqual([`the image was not closed cleanly: ${image.undoRecords} blocks restored from the undo log of generation 1`]);
    expect(rawVerifyFails(killed, first)).toBe(true);
    // The in-use slot says an undo log may be live (a 1.2 reader refuses the image instead of misreading it).
    expect(Math.max(...slotFlags(killed)) & IMAGE_FLAG_UNDO_LOG).toBe(IMAGE_FLAG_UNDO_LOG);
    expect(fsckImage(killed)).toMatchObject({ ok: true, summary: { generation: 1, undoLog: { generation: 1, records: image.undoRecords, blocks: image.undoRecords, tornTail: false } } });
    // The live run goes on and commits: the new checkpoint holds the new bytes, the log is dead.
    expect(image.commit(second)).toBe(2);
    expect(image.undoRecords).toBe(0);
    image.close();
    expect(expectOpensAt(file, second, 2)).toEqual([]);
  });

  it('saves each live block once per generation, and only blocks the checkpoint holds as written data', () => {
    const [first] = layouts(31, 32);
    const { image } = create('once.img', first);
    writeExpectedData(image, first);
    image.commit(first);
    const written = writtenBlocks(first);
    const fileInode = first.inodes.find((inode) => inode.kind === 'file')!;
    const extent = fileInode.extents.find((e) => !e.unwritten)!;
    const junk = new Uint8Array(extent.length * BLOCK).fill(0xee);
    for (let pass = 0; pass < 3; pass++) {
      image.write(extent.physical * BLOCK, junk);
      flush(image);
      expect(image.undoRecords).toBe(extent.length);
    }
    // A free block and an unwritten extent's blocks: nothing to save.
    let free = 0;
    while (written.has(free)) free++;
    image.write(free * BLOCK, new Uint8Array(BLOCK).fill(1));
    const unwritten = first.inodes.flatMap((inode) => inode.extents).find((e) => e.unwritten)!;
    image.write(unwritten.physical * BLOCK, new Uint8Array(BLOCK).fill(2));
    flush(image);
    expect(image.undoRecords).toBe(extent.length);
    image.abandon();
    const reopened = ImageFile.open(image.path);
    const got = new Uint8Array(junk.length);
    reopened.read(extent.physical * BLOCK, got);
    expect(Buffer.from(got).equals(expectedContent(fileInode.content, extent.logical * BLOCK, junk.length))).toBe(true);
    // A block no checkpoint vouches for keeps what was written to it.
    const freeByte = new Uint8Array(1);
    reopened.read(free * BLOCK, freeByte);
    expect(freeByte[0]).toBe(1);
    reopened.close();
  });

  it('abandon() loses the gathered writes, close() does not', () => {
    const [first] = layouts(41, 42);
    const lost = create('lost.img', first);
    lost.image.write(0, new Uint8Array(BLOCK).fill(9));
    lost.image.abandon();
    const kept = create('kept.img', first);
    kept.image.write(0, new Uint8Array(BLOCK).fill(9));
    kept.image.close();
    expect(fs.readFileSync(lost.file)[HEADER_REGION_BYTES]).toBe(0);
    expect(fs.readFileSync(kept.file)[HEADER_REGION_BYTES]).toBe(9);
  });

  it('at random kill points across several checkpoints, every copy opens at its last checkpoint and verifies', () => {
    const prng = new Prng(77);
    const metas = [0, 1, 2, 3, 4].map((i) => ({ ...syntheticMetadata(500 + i, 6, 40, BLOCK), opsApplied: 100 + i }));
    const { image, file } = create('r.img', metas[0]!);
    let committed: ImageMetadata | undefined;
    let generation = 0;
    let kills = 0;
    let restoredKills = 0;
    for (const meta of metas) {
      // Data of the next state, extent by extent, killed at random points in between.
      for (const inode of meta.inodes) {
        for (const extent of inode.extents) {
          if (extent.unwritten) continue;
          image.write(extent.physical * BLOCK, expectedContent(inode.content, extent.logical * BLOCK, extent.length * BLOCK));
          if (committed === undefined || prng.nextU32() % 40 !== 0) continue;
          kills++;
          const warnings = expectOpensAt(killedCopy(file, `kill-${kills}.img`), committed, generation);
          if (warnings.length > 0) restoredKills++;
          fs.rmSync(path.join(dir, `kill-${kills}.img`));
        }
      }
      generation = image.commit(meta);
      committed = meta;
    }
    image.close();
    expect(kills).toBeGreaterThan(5);
    expect(restoredKills).toBeGreaterThan(2);
    expect(expectOpensAt(file, metas[4]!, 5)).toEqual([]);
  });
});

describe('power loss: the unsynced tail of the undo log', () => {
  /**
   * State S0: checkpoint 1, some live blocks overwritten (their undo batch
   * synced, home writes done). Then another batch: what the file holds if
   * power fails after any prefix of that batch reached the disk and before
   * its fsync (so before its home writes): S0 plus a cut of the new records.
   */
  it('a torn or partial last batch is ignored and the image still verifies', () => {
    const [first, second] = layouts(61, 62);
    const { image, file } = create('p.img', first);
    writeExpectedData(image, first);
    image.commit(first);
    const secondFiles = second.inodes.filter((inode) => inode.kind === 'file');
    writeExpectedData(image, { ...second, inodes: secondFiles.slice(0, 3) });
    flush(image);
    const s0 = fs.readFileSync(file);
    const s0Records = image.undoRecords;
    expect(s0Records).toBeGreaterThan(0);
    const recordBytes = undoRecordBytes(BLOCK);
    const logStart = undoLogOffset(image.superblock);
    const syncedEnd = logStart + s0Records * recordBytes;
    writeExpectedData(image, { ...second, inodes: secondFiles.slice(3) });
    flush(image);
    const s2 = fs.readFileSync(file);
    const currentEnd = logStart + image.undoRecords * recordBytes;
    expect(currentEnd).toBeGreaterThan(syncedEnd + 2 * recordBytes);
    image.close();
    const prng = new Prng(8);
    let torn = 0;
    for (let round = 0; round < 25; round++) {
      const cut = syncedEnd + (round === 0 ? 0 : prng.nextU32() % (currentEnd - syncedEnd + 1));
      const state = Buffer.from(s0);
      const tail = s2.subarray(syncedEnd, cut);
      const grown = state.length < cut ? Buffer.concat([state, Buffer.alloc(cut - state.length)]) : state;
      tail.copy(grown, syncedEnd);
      const tornFile = path.join(dir, 'torn.img');
      // The file length at the cut when the log was the end of the file, else S0's.
      fs.writeFileSync(tornFile, state.length <= syncedEnd ? grown.subarray(0, cut) : grown);
      const warnings = expectOpensAt(tornFile, first, 1);
      expect(warnings[0]).toMatch(/^the image was not closed cleanly: \d+ blocks restored from the undo log of generation 1$/);
      const report = fsckImage(tornFile);
      expect(report.ok).toBe(true);
      if (report.summary?.undoLog?.tornTail === true) torn++;
    }
    expect(torn).toBeGreaterThan(5);
  });

  it('a crash between writing the next checkpoint record and its slot opens at the previous one with its undo log', () => {
    const [first, second] = layouts(71, 72);
    const { image, file } = create('c.img', first);
    writeExpectedData(image, first);
    image.commit(first);
    writeExpectedData(image, second);
    flush(image);
    const undoEnd = undoLogOffset(image.superblock) + image.undoRecords * undoRecordBytes(BLOCK);
    const record = encodeCheckpoint(2, encodeMetadata(second));
    const offset = chooseCheckpointOffset(image.superblock, record.length, undoEnd);
    expect(offset >= undoEnd || offset + record.length <= image.superblock.checkpointOffset).toBe(true);
    const killed = killedCopy(file, 'mid-commit.img');
    const fd = fs.openSync(killed, 'r+');
    fs.writeSync(fd, record, 0, record.length, offset);
    fs.closeSync(fd);
    expectOpensAt(killed, first, 1);
    image.close();
  });
});

describe('reopening and closing', () => {
  it('a writable open puts the checkpoint bytes back home, and the run can go on and be killed again', () => {
    const [first, second] = layouts(81, 82);
    const { image, file } = create('w.img', first);
    writeExpectedData(image, first);
    image.commit(first);
    writeExpectedData(image, second);
    image.abandon();
    const reopened = ImageFile.open(file, { writable: true });
    expect(reopened.warnings[0]).toMatch(/not closed cleanly: \d+ blocks restored/);
    // Home blocks now hold the checkpoint's bytes even for a reader that knows no undo log.
    expect(rawVerifyFails(file, first)).toBe(false);
    writeExpectedData(reopened, second);
    flush(reopened);
    expectOpensAt(killedCopy(file, 'again.img'), first, 1);
    expect(reopened.commit(second)).toBe(2);
    reopened.close();
    expect(expectOpensAt(file, second, 2)).toEqual([]);
    expect(slotFlags(file).every((flags) => (flags & IMAGE_FLAG_UNDO_LOG) === 0)).toBe(true);
  });

  it('a clean close leaves no UNDO_LOG flag in either slot (1.2 readers open it), a killed run leaves one', () => {
    const [first, second] = layouts(91, 92);
    const { image, file } = create('clean.img', first);
    writeExpectedData(image, first);
    image.commit(first);
    writeExpectedData(image, second);
    image.commit(second);
    // The slot of generation 2 is clean; the other still says generation 1 had a live log.
    expect(slotFlags(file).filter((flags) => (flags & IMAGE_FLAG_UNDO_LOG) !== 0)).toHaveLength(1);
    image.close();
    expect(slotFlags(file)).toEqual([0, 0]);
    expect(fsckImage(file)).toMatchObject({ ok: true, summary: { generation: 2 } });
    expect(fsckImage(file).summary?.undoLog).toBeUndefined();
  });

  it('reads images of format 1.0, 1.1 and 1.2 (minor versions before the undo log)', () => {
    const [first] = layouts(95, 96);
    const { image, file } = create('old.img', first);
    writeExpectedData(image, first);
    image.commit(first);
    image.close();
    expect(IMAGE_FORMAT_MINOR).toBe(3);
    for (const minor of [0, 1, 2]) {
      const bytes = fs.readFileSync(file);
      for (const offset of SLOT_OFFSETS) {
        const decoded = decodeSuperblock(bytes.subarray(offset, offset + SLOT_BYTES));
        if (decoded.status !== 'valid') continue;
        const old: Superblock = { ...decoded.superblock, formatMinor: minor };
        Buffer.from(encodeSuperblock(old)).copy(bytes, offset);
      }
      const oldFile = path.join(dir, `v1.${minor}.img`);
      fs.writeFileSync(oldFile, bytes);
      expectOpensAt(oldFile, first, 1);
      expect(fsckImage(oldFile).ok).toBe(true);
    }
  });
});

describe('fsck of an undo log', () => {
  function crashedImage(name: string): { file: string; meta: ImageMetadata; sb: Superblock; records: number } {
    const [first, second] = layouts(101, 102);
    const { image, file } = create(name, first);
    writeExpectedData(image, first);
    image.commit(first);
    writeExpectedData(image, second);
    flush(image);
    const result = { file, meta: first, sb: image.superblock, records: image.undoRecords };
    image.abandon();
    return result;
  }

  it('a valid record for a block the checkpoint does not hold as written data is a problem', () => {
    const { file, meta, sb, records } = crashedImage('bad.img');
    let free = 0;
    const written = writtenBlocks(meta);
    while (written.has(free)) free++;
    const record = new Uint8Array(undoRecordBytes(BLOCK));
    record.fill(0x11, UNDO_HEADER_BYTES);
    encodeUndoRecords(record, sb.generation, [free], BLOCK);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, record, 0, record.length, undoLogOffset(sb) + records * record.length);
    fs.closeSync(fd);
    const report = fsckImage(file);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({ where: '(undo log, generation 1)', problem: `before-image of device block ${free}, which the checkpoint does not hold as written data` });
  });

  it('random bit flips and truncations of an image with a live undo log never make fsck or open throw anything but ImageError', () => {
    const { file } = crashedImage('fuzz.img');
    const pristine = fs.readFileSync(file);
    const prng = new Prng(4040);
    const damaged = path.join(dir, 'damaged.img');
    const metaOffset = ImageFile.open(file).superblock.metaOffset;
    let flagged = 0;
    for (let round = 0; round < 80; round++) {
      const bytes = Buffer.from(pristine);
      let length = bytes.length;
      if (round % 4 === 3) length = metaOffset + (prng.nextU32() % (bytes.length - metaOffset));
      else {
        for (let flips = 1 + (prng.nextU32() % 3); flips > 0; flips--) {
          const offset = prng.nextU32() % 2 === 0 ? prng.nextU32() % 8192 : metaOffset + (prng.nextU32() % (bytes.length - metaOffset));
          bytes[offset] = bytes[offset]! ^ (1 << prng.nextU32() % 8);
        }
      }
      fs.writeFileSync(damaged, bytes.subarray(0, length));
      const report = fsckImage(damaged);
      if (!report.ok) flagged++;
      try {
        const image = ImageFile.open(damaged);
        verifyImage(image, image.readMetadata());
        image.close();
      } catch (error) {
        expect((error as Error).constructor.name).toBe('ImageError');
      }
    }
    // Flips in the undo log read as a torn tail (ignored by design, as a journal ignores a torn transaction), flips in slot padding are not covered.
    expect(flagged).toBeGreaterThan(5);
  });
});
