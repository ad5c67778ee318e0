/**
 * ext4 mballoc placement on the corpus's 1 GiB geometry (expected block
 * numbers are the real kernel's, from the conformance truth). Pins
 * ext4_mb_group_or_file (locality-group vs inode preallocation),
 * ext4_mb_normalize_request's windows, the merge-goal try and the stream
 * fallback of ext4_mb_regular_allocator, and NOPREALLOC for closed files.
 */
import { ExtentState, type Extent } from '../../src/extent/extentmap.js';
import { InodePaList, type InodePa } from '../../src/fs/ext4/mballoc.js';
import { ext4State } from '../../src/fs/ext4/policy.js';
import { InvariantError } from '../../src/util/assert.js';
import { Prng } from '../../src/util/prng.js';
import { makeHarness, openFlags, type Harness } from '../engine/harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function gib(): Harness {
  return makeHarness('ext4', 4096, GiB);
}

function extents(h: Harness, path: string): [number, number, number, ExtentState][] {
  const inode = h.vfs.lookup(path)!;
  return [...inode.data.all()].map((e: Extent) => [e.startBlock, e.blockCount, e.physBlock, e.state]);
}

const W = ExtentState.Written;

describe('locality-group preallocation (files of <= 16 blocks)', () => {
  test('small files pack into one 512-block window at 33280, the first 512-aligned free run of group 1', () => {
    const h = gib();
    const a = h.vfs.open('a', openFlags());
    h.vfs.write(a, 0, 8 * KiB, 0x61);
    h.vfs.fsync(a);
    const b = h.vfs.open('b', openFlags());
    h.vfs.write(b, 0, 12 * KiB, 0x62);
    h.vfs.fsync(b);
    expect(extents(h, 'a')).toEqual([[0, 2, 33280, W]]);
    expect(extents(h, 'b')).toEqual([[0, 3, 33282, W]]);
    // The rest of the window stays held (not free) for the next small file.
    expect(h.ctx.freeSpace.isFree(33285, 1)).toBe(false);
    h.vfs.checkValid();
  });

  test('appends past 16 blocks leave the window: the merge goal is held by the window, so the stream goes to group 0 (4247)', () => {
    // Corpus case 06-append-reopen-12k: 12 KiB appends, each in its own open/close, fsync every 5th.
    const h = gib();
    for (let i = 0; i < 10; i++) {
      const handle = h.vfs.open('reopen.log', openFlags());
      h.vfs.write(handle, i * 12 * KiB, 12 * KiB, 0x6a + i);
      if (i % 5 === 4) h.vfs.fsync(handle);
      h.vfs.close(handle);
    }
    expect(extents(h, 'reopen.log')).toEqual([
      [0, 15, 33280, W],
      [15, 15, 4247, W],
    ]);
    h.vfs.checkValid();
  });
});

describe('inode preallocation with normalisation', () => {
  test('a 1.5 MiB fsynced file is one 384-block extent at 33280 (2 MiB window); the rest of the window is an inode PA', () => {
    const h = gib();
    const handle = h.vfs.open('data.bin', openFlags());
    h.vfs.write(handle, 0, 1536 * KiB, 0x41);
    h.vfs.fsync(handle);
    expect(extents(h, 'data.bin')).toEqual([[0, 384, 33280, W]]);
    const pas = ext4State(handle.inode).pas;
    expect([...pas.values()].map((pa) => [pa.logicalStart, pa.physStart, pa.length])).toEqual([[0, 33280, 512]]);
    expect(h.ctx.freeSpace.isFree(33664, 1)).toBe(false); // held by the PA
    h.vfs.close(handle); // last writer, no delalloc: the PA goes
    expect(pas.size).toBe(0);
    expect(h.ctx.freeSpace.freeLengthAt(33664)).toBeGreaterThanOrEqual(128);
    h.vfs.checkValid();
  });

  test('later appends inside the window are served from the inode PA (contiguous, one extent)', () => {
    const h = gib();
    const handle = h.vfs.open('grow.bin', openFlags());
    h.vfs.write(handle, 0, 1536 * KiB, 0x41);
    h.vfs.fsync(handle);
    h.vfs.write(handle, 1536 * KiB, 256 * KiB, 0x42);
    h.vfs.fsync(handle);
    expect(extents(h, 'grow.bin')).toEqual([[0, 448, 33280, W]]);
  });
});

describe('NOPREALLOC for closed files ending at EOF', () => {
  test('a 25-block file closed before writeback gets first fit from group 1 (32897), no PA', () => {
    const h = gib();
    const handle = h.vfs.open('closed.bin', openFlags());
    h.vfs.write(handle, 0, 100 * KiB, 0x51);
    h.vfs.close(handle);
    h.vfs.syncAll();
    expect(extents(h, 'closed.bin')).toEqual([[0, 25, 32897, W]]);
    expect(ext4State(h.vfs.lookup('closed.bin')!).pas.size).toBe(0);
    h.vfs.checkValid();
  });

  test('the same file still open at writeback gets a normalised 128 KiB inode PA instead', () => {
    const h = gib();
    const handle = h.vfs.open('open.bin', openFlags());
    h.vfs.write(handle, 0, 100 * KiB, 0x51);
    h.vfs.syncAll();
    const pas = ext4State(handle.inode).pas;
    expect([...pas.values()].map((pa) => [pa.logicalStart, pa.length])).toEqual([[0, 32]]);
    expect(extents(h, 'open.bin')).toEqual([[0, 25, [...pas.values()][0]!.physStart, W]]);
    expect([...pas.values()][0]!.physStart).not.toBe(32897);
  });
});

describe('InodePaList.consume', () => {
  test('marks the blocks handed out, against a per-block shadow, refuses a block twice, and drops the PA when it is used up', () => {
    const random = new Prng(7);
    for (let round = 0; round < 20; round++) {
      const list = new InodePaList();
      const length = 50 + random.nextInt(200);
      const pa: InodePa = { logicalStart: 1000, physStart: 90_000, length, taken: new Uint8Array(length), consumedBlocks: 0 };
      list.add(pa);
      const taken = new Array<boolean>(length).fill(false);
      let left = length;
      while (left > 0) {
        // A free run at a random place, of random length.
        let at = random.nextInt(length);
        while (taken[at]) at = (at + 1) % length;
        let count = 1 + random.nextInt(8);
        for (let k = 1; k < count; k++) {
          if (at + k >= length || taken[at + k]) {
            count = k;
            break;
          }
        }
        list.consume(pa, pa.logicalStart + at, count);
        for (let k = 0; k < count; k++) taken[at + k] = true;
        left -= count;
        expect([...pa.taken]).toEqual(taken.map((block) => (block ? 1 : 0)));
        if (left > 0) expect(() => list.consume(pa, pa.logicalStart + at, 1)).toThrow(InvariantError);
        expect(pa.consumedBlocks).toBe(length - left);
        expect(list.unconsumed).toBe(left);
      }
      expect(list.size).toBe(0);
    }
  });
});
