/**
 * The pure parts of validate/record: FIEMAP output parsers, the `.xio`
 * line splitter, block scores, open flags, the embedded mke2fs.conf.
 */
import { constants, existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { compactLayout } from '../../src/cli/validate.js';
import { goldenFileName } from '../../src/cli/record.js';
import type { ExtentRecord } from '../../src/report/model.js';
import { defaultOpenFlags } from '../../src/trace/types.js';
import { fileBlockScores, matchingBlocks } from '../../src/validate/compare.js';
import { extentRecordsOf, fiemapFlagNames, parseFilefrag, parseXfsIoFiemap, parseXfsIoFiemapTables } from '../../src/validate/fiemap.js';
import { MKE2FS_CONF, mkfsSpec } from '../../src/validate/fsparams.js';
import { truthFilesOfLayouts } from '../../src/validate/kernelfiles.js';
import { errnoOfMessage } from '../../src/validate/runlog.js';
import { fallocCommand, openFlagBits } from '../../src/validate/syscalls.js';
import { xioLogicalLines } from '../../src/validate/xiorun.js';

// Real output of xfs_io 6.1 on btrfs (inline file) and ext4 (holes, unwritten).
const XFS_IO_BTRFS = `small:
 EXT: FILE-OFFSET      BLOCK-RANGE      TOTAL FLAGS
   0: [0..7]:          0..7                 8 0x301
`;
const XFS_IO_EXT4 = `big:
 EXT: FILE-OFFSET      BLOCK-RANGE      TOTAL FLAGS
   0: [0..127]:        hole               128
   1: [128..255]:      26752..26879       128   0x0
   2: [256..2047]:     hole              1792
   3: [2048..2175]:    26624..26751       128 0x801
`;
const FILEFRAG_DELALLOC = `Filesystem type is: 9123683e
File size of big is 131072 (256 blocks of 512 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:      128..     255:          0..         0:      0:             unknown_loc,delalloc,eof
   1:     2048..    2175:      26624..     26751:    128:       1920: last,unwritten,eof
big: 2 extents found
`;

describe('FIEMAP parsers', () => {
  test('xfs_io fiemap -v rows keep holes, sectors and flags', () => {
    const rows = parseXfsIoFiemap(XFS_IO_EXT4);
    expect(rows.map((row) => [row.hole, row.logicalStart512, row.length512, row.physicalStart512])).toEqual([
      [true, 0, 128, null],
      [false, 128, 128, 26752],
      [true, 256, 1792, null],
      [false, 2048, 128, 26624],
    ]);
    expect(rows[3]!.flagNames).toEqual(['last', 'unwritten']);
    expect(parseXfsIoFiemap(XFS_IO_BTRFS)[0]!.flagNames).toEqual(['last', 'not_aligned', 'data_inline']);
  });

  test('fiemap tables are found among other xfs_io output (pwrite statistics)', () => {
    const text = `wrote 4096/4096 bytes at offset 0\n4 KiB, 1 ops; 0.0001 sec\n${XFS_IO_EXT4}wrote 1/1 bytes\n${XFS_IO_BTRFS}`;
    expect(parseXfsIoFiemapTables(text).map((table) => table.length)).toEqual([4, 1]);
    expect(parseXfsIoFiemap('empty:\n')).toEqual([]);
  });

  test('filefrag -v -b512 rows carry the kernel flags, not filefrag\'s eof', () => {
    const rows = parseFilefrag(FILEFRAG_DELALLOC);
    expect(rows.map((row) => [row.logicalStart512, row.length512, row.flagNames])).toEqual([
      [128, 128, ['unknown', 'delalloc']],
      [2048, 128, ['last', 'unwritten']],
    ]);
  });

  test('rows become block extents: delalloc and inline without an address, unaligned rows rounded out', () => {
    expect(extentRecordsOf(parseXfsIoFiemap(XFS_IO_EXT4), 4096)).toEqual([
      { logical: 16, physical: 3344, length: 16, flags: [] },
      { logical: 256, physical: 3328, length: 16, flags: ['last', 'unwritten'] },
    ]);
    expect(extentRecordsOf(parseXfsIoFiemap(XFS_IO_BTRFS), 4096)).toEqual([{ logical: 0, physical: 0, length: 1, flags: ['last', 'inline'] }]);
    expect(extentRecordsOf(parseFilefrag(FILEFRAG_DELALLOC), 4096)[0]).toEqual({ logical: 16, physical: 0, length: 16, flags: ['delalloc'] });
    expect(fiemapFlagNames(0x2801)).toEqual(['last', 'unwritten', 'shared']);
  });

  test('a golden layout converts back to truth rows in sectors', () => {
    const truth = truthFilesOfLayouts([{ path: 'a', ino: 12, size: 8192, allocatedBlocks: 2, extents: [{ logical: 1, physical: 100, length: 1, flags: ['inline'] }] }], 4096);
    expect(truth['a']).toEqual({ path: 'a', size: 8192, extentCount: 1, extents: [{ hole: false, logicalStart512: 8, length512: 8, physicalStart512: 800, flagNames: ['data_inline'] }] });
  });
});

describe('scores', () => {
  const data = (logical: number, length: number, physical: number, flags: ExtentRecord['flags'] = []): ExtentRecord => ({ logical, length, physical, flags });

  test('matching blocks count holes, state and shared flag, whatever the physical address', () => {
    const sim = [data(0, 4, 10), data(8, 4, 20, ['unwritten'])];
    const kernel = [data(0, 4, 99), data(8, 2, 20, ['unwritten']), data(10, 2, 22)];
    expect(matchingBlocks(sim, kernel, 16)).toEqual({ blocks: 16, blocksMatching: 14, mappedBlocks: 8, mappedBlocksMatching: 6 });
    expect(matchingBlocks([data(0, 2, 1, ['shared'])], [data(0, 2, 1)], 2).blocksMatching).toBe(0);
  });

  test('a file on one side only matches nowhere', () => {
    const scores = fileBlockScores([{ path: 'x', ino: 1, size: 8192, allocatedBlocks: 2, extents: [data(0, 2, 5)] }], [], 4096);
    expect(scores).toEqual([{ path: 'x', blocks: 2, blocksMatching: 0, mappedBlocks: 2, mappedBlocksMatching: 0 }]);
  });

  test('compact layouts name state and placement', () => {
    expect(compactLayout([data(0, 16, 33280), data(16, 4, 0, ['delalloc']), data(20, 2, 40, ['unwritten', 'shared'])])).toBe('[0+16]@33280 [16+4]:d [20+2]@40:us');
    expect(compactLayout([])).toBe('(empty)');
  });
});

describe('replay helpers', () => {
  test('.xio logical lines: comments dropped, continuations joined at their first line', () => {
    const text = '# header\n\n@mkdir d\nd/f: -f \\\n   -c "pwrite 0 4k"\n  # indented comment\n@sync\n';
    expect(xioLogicalLines(text)).toEqual([
      { line: 3, text: '@mkdir d' },
      { line: 4, text: 'd/f: -f    -c "pwrite 0 4k"' },
      { line: 7, text: '@sync' },
    ]);
  });

  test('open flags map to open(2) bits', () => {
    const O_ACCMODE = 3;
    const bits = openFlagBits({ ...defaultOpenFlags, create: true, direct: true, append: true, dsync: true });
    expect(bits & O_ACCMODE).toBe(constants.O_RDWR);
    for (const flag of [constants.O_CREAT, constants.O_DIRECT, constants.O_APPEND, constants.O_DSYNC]) expect(bits & flag).toBe(flag);
    expect(openFlagBits({ ...defaultOpenFlags, readOnly: true, sync: true }) & (O_ACCMODE | constants.O_SYNC)).toBe(constants.O_RDONLY | constants.O_SYNC);
  });

  test('fallocate modes become xfs_io commands', () => {
    expect(fallocCommand('allocate', true, 0, 786432)).toBe('falloc -k 0 786432');
    expect(fallocCommand('punch', true, 4096, 8192)).toBe('fpunch 4096 8192');
    expect(fallocCommand('zero', false, 0, 4096)).toBe('fzero 0 4096');
    expect(fallocCommand('collapse', false, 0, 4096)).toBe('fcollapse 0 4096');
  });

  test('xfs_io error text maps to errno names', () => {
    expect(errnoOfMessage('XFS_IOC_CLONE_RANGE: Operation not supported')).toBe('EOPNOTSUPP');
    expect(errnoOfMessage('pwrite: No space left on device')).toBe('ENOSPC');
  });

  test('golden names keep the trace extension', () => {
    expect(goldenFileName('traces/demo.xio', 'ext4')).toBe('demo.xio.ext4.json');
    expect(goldenFileName('demo.csv', 'btrfs')).toBe('demo.csv.btrfs.json');
  });
});

describe('mkfs parameters', () => {
  const shared = new URL('../../../shared/conformance/mke2fs.conf', import.meta.url);

  test('the embedded mke2fs.conf is the corpus file byte for byte', () => {
    if (!existsSync(shared)) {
      console.warn('../shared/conformance/mke2fs.conf is absent: the embedded copy is not cross-checked');
      return;
    }
    expect(MKE2FS_CONF).toBe(readFileSync(shared, 'utf8'));
  });

  test('every mkfs names the image once and uses 4096-byte blocks', () => {
    for (const fs of ['ext4', 'xfs', 'btrfs'] as const) {
      const argv = mkfsSpec(fs).argv;
      expect(argv.filter((word) => word === 'IMAGE')).toHaveLength(1);
      expect(argv.join(' ')).toMatch(/-b 4096|-b size=4096|-s 4096/);
    }
  });
});
