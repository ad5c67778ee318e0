/**
 * ext4 geometry as mke2fs lays out the conformance corpus's 1 GiB image
 * (`-b 4096 -I 256 -i 16384 -J size=32`, flex_bg 16, sparse_super,
 * resize_inode). The expected numbers are from dumpe2fs of that image:
 * 8 groups of 32768 blocks; group 0 is free from block 4247; the backup
 * groups 1, 3, 5, 7 keep their first 129 blocks (superblock + 1 GDT block +
 * 127 reserved GDT blocks); the journal fills blocks 131072..139263.
 */
import { ext4Geometry, hasSuperBackup } from '../../src/fs/ext4/geometry.js';

const GIB_BLOCKS = (1024 * 1024 * 1024) / 4096;

describe('ext4Geometry of a 1 GiB image with 4 KiB blocks', () => {
  const geometry = ext4Geometry(4096, GIB_BLOCKS);

  test('8 groups of 32768 blocks', () => {
    expect(geometry.blocksCount).toBe(262144);
    expect(geometry.blocksPerGroup).toBe(32768);
    expect(geometry.groupCount).toBe(8);
    expect(geometry.inodesPerGroup).toBe(8192);
  });

  test('reserved runs match dumpe2fs', () => {
    expect(geometry.reserved).toEqual([
      { start: 0, length: 4247 },
      { start: 32768, length: 129 },
      { start: 98304, length: 129 },
      { start: 131072, length: 8192 },
      { start: 163840, length: 129 },
      { start: 229376, length: 129 },
    ]);
  });

  test('the 32 MiB journal starts at the first block of group 4', () => {
    expect(geometry.journalStart).toBe(131072);
    expect(geometry.journalBlocks).toBe(8192);
    expect(geometry.journalStart + geometry.journalBlocks - 1).toBe(139263);
  });
});

describe('sparse_super backup groups', () => {
  test('0, 1 and powers of 3, 5 and 7', () => {
    const backups = Array.from({ length: 130 }, (_, group) => group).filter(hasSuperBackup);
    expect(backups).toEqual([0, 1, 3, 5, 7, 9, 25, 27, 49, 81, 125]);
  });
});

describe('small devices', () => {
  test('a 32 MiB device is one group with a 1024-block journal; nothing overlaps', () => {
    const geometry = ext4Geometry(4096, 8192);
    expect(geometry.groupCount).toBe(1);
    expect(geometry.journalBlocks).toBe(1024);
    let end = 0;
    for (const run of geometry.reserved) {
      expect(run.start).toBeGreaterThanOrEqual(end);
      end = run.start + run.length;
    }
    expect(end).toBeLessThanOrEqual(8192);
  });
});
