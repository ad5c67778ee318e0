/**
 * XFS geometry against mkfs.xfs (xfsprogs 6.1): AG size and count from
 * calc_default_ag_geometry, the log placement, the reserved headers and the
 * root inode chunk, and inode number <-> block conversion. The 1 GiB values
 * are the corpus image's (xfs_db: AG 0 free [10,16) and [24,65536), log at
 * fsb 131078 for 16384 blocks, AG 2 free from 16394).
 */
import { blockToIno, defaultAgGeometry, inodeBlock, xfsGeometry } from '../../src/fs/xfs/geometry.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Free blocks of a geometry: the device minus every reserved run. */
function freeRuns(geometry: ReturnType<typeof xfsGeometry>, deviceBlocks: number): [number, number][] {
  const runs: [number, number][] = [];
  let cursor = 0;
  for (const run of geometry.reserved) {
    if (run.start > cursor) runs.push([cursor, run.start - cursor]);
    cursor = run.start + run.length;
  }
  if (cursor < deviceBlocks) runs.push([cursor, deviceBlocks - cursor]);
  return runs;
}

describe('AG geometry (calc_default_ag_geometry)', () => {
  test.each([
    // [device bytes, AG blocks, AG count] as mkfs.xfs 6.1 makes them with 4 KiB blocks (xfs_db sb).
    [300 * MiB, 19200, 4],
    [512 * MiB, 32768, 4],
    [1 * GiB, 65536, 4],
    [4 * GiB, 262144, 4],
    [100 * GiB, 6553600, 4],
    [1000 * GiB, 65536000, 4],
  ])('%d bytes: %d-block AGs, %d of them', (bytes, agBlocks, agCount) => {
    expect(defaultAgGeometry(4096, bytes / 4096)).toEqual([agBlocks, agCount]);
  });

  test('5 TiB: AGs of the 1 TiB maximum, the partial last AG dropped', () => {
    const geometry = xfsGeometry(4096, (5 * 1024 * GiB) / 4096);
    expect(geometry.agBlocks).toBe(268435455);
    expect(geometry.agCount).toBe(5);
    expect(geometry.blocksCount).toBe(1342177275);
  });
});

describe('the corpus image (1 GiB, 4 KiB blocks)', () => {
  const blocks = GiB / 4096;
  const geometry = xfsGeometry(4096, blocks);

  test('4 AGs of 65536 blocks, a 64 MiB log in AG 2 at block 6', () => {
    expect([geometry.agCount, geometry.agBlocks]).toEqual([4, 65536]);
    expect(geometry.logAgno).toBe(2);
    expect(geometry.logStart).toBe(2 * 65536 + 6);
    expect(geometry.logBlocks).toBe(16384);
  });

  test('free space is what xfs_db reports: AG 0 [10,16) and [24,..), AG 1/3 from 10, AG 2 from 16394', () => {
    expect(freeRuns(geometry, blocks)).toEqual([
      [10, 6],
      [24, 65536 - 24],
      [65536 + 10, 65526],
      [2 * 65536 + 16394, 49142],
      [3 * 65536 + 10, 65526],
    ]);
  });

  test('the root inode is 128 in block 16; new files start at 131', () => {
    expect(geometry.rootChunkBlock).toBe(16);
    expect(blockToIno(geometry, 16)).toBe(128);
    expect(inodeBlock(geometry, 131)).toBe(16);
  });

  test('inode numbers of other AGs (inode64): AG 1 block 16 is 524416, AG 2 block 16400 is 1179776', () => {
    expect(blockToIno(geometry, 65536 + 16)).toBe(524416);
    expect(blockToIno(geometry, 2 * 65536 + 16400)).toBe(1179776);
    expect(inodeBlock(geometry, 1179777)).toBe(2 * 65536 + 16400);
  });
});

describe('small devices (test harness sizes)', () => {
  test.each([
    [4096, (64 * MiB) / 4096],
    [1024, (64 * MiB) / 1024],
    [4096, (32 * MiB) / 4096],
  ])('%d-byte blocks, %d blocks: reserved runs are disjoint, inside the device, and leave room in every AG', (blockSize, blocks) => {
    const geometry = xfsGeometry(blockSize, blocks);
    let cursor = 0;
    for (const run of geometry.reserved) {
      expect(run.start).toBeGreaterThanOrEqual(cursor);
      cursor = run.start + run.length;
    }
    expect(cursor).toBeLessThanOrEqual(blocks);
    const free = freeRuns(geometry, blocks);
    for (let agno = 0; agno < geometry.agCount; agno++) {
      const agStart = agno * geometry.agBlocks;
      expect(free.some(([start, length]) => start >= agStart && start + length <= agStart + geometry.agBlocks)).toBe(true);
    }
  });
});
