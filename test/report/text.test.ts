/**
 * The filefrag -v renderer against real filefrag output: each expected block
 * below is copied verbatim (trailing blanks included) from
 * shared/samples/extent_layouts_filefrag_fiemap_bmap.txt (e2fsprogs 1.47.0,
 * kernel 6.18), and the FileLayout is the same layout typed in as the model.
 */
import { describe, expect, test } from '@jest/globals';
import type { ExtentRecord, FileLayout } from '../../src/report/model.js';
import {
  formatBytes,
  plainStyle,
  renderFileLayout,
  renderFileLayouts,
  renderInspect,
  renderReplayOneLine,
  renderReplaySummary,
  TEXT_ERRORS_MAX,
} from '../../src/report/text.js';
import { ext4FragLayout, sampleResult, sampleSummary, sampleVerify } from './fixtures.js';

function file(path: string, size: number, extents: ExtentRecord[]): FileLayout {
  const allocatedBlocks = extents.reduce((sum, extent) => sum + extent.length, 0);
  return { path, ino: 20, size, allocatedBlocks, extents };
}

function joined(lines: string[]): string {
  return lines.map((line) => `${line}\n`).join('');
}

describe('renderFileLayout matches filefrag -v', () => {
  test('ext4 frag.bin: holes, expected column, unwritten, last,eof, fragment count', () => {
    const expected = [
      'Filesystem type is: ef53',
      'File size of /mnt/iom_ext4/layout/frag.bin is 4202496 (1026 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..      15:      39424..     39439:     16:            ',
      '   1:       64..      95:      39488..     39519:     32:            ',
      '   2:      256..     256:      33024..     33024:      1:      39680:',
      '   3:      257..     319:      33025..     33087:     63:             unwritten',
      '   4:     1024..    1025:      39936..     39937:      2:      33792: last,eof',
      '/mnt/iom_ext4/layout/frag.bin: 3 extents found',
    ];
    expect(renderFileLayout(ext4FragLayout(), 4096, { policy: 'ext4' })).toBe(joined(expected));
  });

  test('ext4 a.bin: every extent discontiguous', () => {
    const layout = file('/mnt/iom_ext4/layout/a.bin', 524288, [
      { logical: 0, physical: 33350, length: 16, flags: [] },
      { logical: 16, physical: 32912, length: 16, flags: [] },
      { logical: 32, physical: 39456, length: 32, flags: [] },
      { logical: 64, physical: 33088, length: 64, flags: ['last'] },
    ]);
    const expected = [
      'Filesystem type is: ef53',
      'File size of /mnt/iom_ext4/layout/a.bin is 524288 (128 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..      15:      33350..     33365:     16:            ',
      '   1:       16..      31:      32912..     32927:     16:      33366:',
      '   2:       32..      63:      39456..     39487:     32:      32928:',
      '   3:       64..     127:      33088..     33151:     64:      39488: last,eof',
      '/mnt/iom_ext4/layout/a.bin: 4 extents found',
    ];
    expect(renderFileLayout(layout, 4096)).toBe(joined(expected));
  });

  test('ext4 tiny.txt: singular block and extent', () => {
    const layout = file('/mnt/iom_ext4/layout/tiny.txt', 4, [{ logical: 0, physical: 33857, length: 1, flags: ['last'] }]);
    const expected = [
      'Filesystem type is: ef53',
      'File size of /mnt/iom_ext4/layout/tiny.txt is 4 (1 block of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..       0:      33857..     33857:      1:             last,eof',
      '/mnt/iom_ext4/layout/tiny.txt: 1 extent found',
    ];
    expect(renderFileLayout(layout, 4096)).toBe(joined(expected));
  });

  test('ext4 delalloc2.bin: delalloc shows unknown_loc, 0..0 and length 0', () => {
    const layout = file('/mnt/iom_ext4/layout/delalloc2.bin', 12288, [
      { logical: 0, physical: 0, length: 3, flags: ['delalloc', 'last'] },
    ]);
    const expected = [
      'Filesystem type is: ef53',
      'File size of /mnt/iom_ext4/layout/delalloc2.bin is 12288 (3 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..       2:          0..         0:      0:             last,unknown_loc,delalloc,eof',
      '/mnt/iom_ext4/layout/delalloc2.bin: 1 extent found',
    ];
    expect(renderFileLayout(layout, 4096)).toBe(joined(expected));
  });

  test('several delalloc extents: no expected column, but each counts as a fragment', () => {
    const layout = file('d', 3146528, [
      { logical: 0, physical: 0, length: 4, flags: ['delalloc'] },
      { logical: 256, physical: 0, length: 8, flags: ['delalloc'] },
      { logical: 768, physical: 0, length: 1, flags: ['delalloc', 'last'] },
    ]);
    const rows = renderFileLayout(layout, 4096, { filesystemHeader: false }).split('\n');
    expect(rows[3]).toBe('   1:      256..     263:          0..         0:      0:             unknown_loc,delalloc');
    expect(rows[4]).toBe('   2:      768..     768:          0..         0:      0:             last,unknown_loc,delalloc,eof');
    expect(rows[5]).toBe('d: 3 extents found');
  });

  test('ext4 frag.bin in 1024-byte blocks (filefrag -k -v)', () => {
    const layout = file('/mnt/iom_ext4/layout/frag.bin', 4202496, [
      { logical: 0, physical: 157696, length: 64, flags: [] },
      { logical: 256, physical: 157952, length: 128, flags: [] },
      { logical: 1024, physical: 132096, length: 4, flags: [] },
      { logical: 1028, physical: 132100, length: 252, flags: ['unwritten'] },
      { logical: 4096, physical: 159744, length: 8, flags: ['last'] },
    ]);
    const expected = [
      'Filesystem type is: ef53',
      'File size of /mnt/iom_ext4/layout/frag.bin is 4202496 (4104 blocks of 1024 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..      63:     157696..    157759:     64:            ',
      '   1:      256..     383:     157952..    158079:    128:            ',
      '   2:     1024..    1027:     132096..    132099:      4:     158720:',
      '   3:     1028..    1279:     132100..    132351:    252:             unwritten',
      '   4:     4096..    4103:     159744..    159751:      8:     135168: last,eof',
      '/mnt/iom_ext4/layout/frag.bin: 3 extents found',
    ];
    expect(renderFileLayout(layout, 1024)).toBe(joined(expected));
  });

  test('xfs frag.bin: shared and unwritten, post-EOF extent, xfs magic', () => {
    const layout = file('/mnt/iom_xfs/layout/frag.bin', 4202496, [
      { logical: 0, physical: 32904, length: 16, flags: ['shared'] },
      { logical: 64, physical: 32856, length: 32, flags: ['shared'] },
      { logical: 96, physical: 32888, length: 16, flags: ['unwritten'] },
      { logical: 256, physical: 32792, length: 1, flags: ['shared'] },
      { logical: 257, physical: 32793, length: 63, flags: ['unwritten'] },
      { logical: 1024, physical: 32920, length: 2, flags: ['shared'] },
      { logical: 1026, physical: 32922, length: 14, flags: ['unwritten', 'last'] },
    ]);
    const expected = [
      'Filesystem type is: 58465342',
      'File size of /mnt/iom_xfs/layout/frag.bin is 4202496 (1026 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..      15:      32904..     32919:     16:             shared',
      '   1:       64..      95:      32856..     32887:     32:      32968: shared',
      '   2:       96..     111:      32888..     32903:     16:             unwritten',
      '   3:      256..     256:      32792..     32792:      1:      33048: shared',
      '   4:      257..     319:      32793..     32855:     63:             unwritten',
      '   5:     1024..    1025:      32920..     32921:      2:      33560: shared,eof',
      '   6:     1026..    1039:      32922..     32935:     14:             last,unwritten,eof',
      '/mnt/iom_xfs/layout/frag.bin: 4 extents found',
    ];
    expect(renderFileLayout(layout, 4096, { policy: 'xfs' })).toBe(joined(expected));
  });

  test('btrfs a.bin: encoded extents, 8 fragments', () => {
    const extents: ExtentRecord[] = [];
    for (let index = 0; index < 8; index++) {
      extents.push({ logical: index * 16, physical: 15666 + index * 2, length: 16, flags: index === 7 ? ['encoded', 'last'] : ['encoded'] });
    }
    const layout = file('/mnt/iom_btrfs/layout/a.bin', 524288, extents);
    const expected = [
      'Filesystem type is: 9123683e',
      'File size of /mnt/iom_btrfs/layout/a.bin is 524288 (128 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..      15:      15666..     15681:     16:             encoded',
      '   1:       16..      31:      15668..     15683:     16:      15682: encoded',
      '   2:       32..      47:      15670..     15685:     16:      15684: encoded',
      '   3:       48..      63:      15672..     15687:     16:      15686: encoded',
      '   4:       64..      79:      15674..     15689:     16:      15688: encoded',
      '   5:       80..      95:      15676..     15691:     16:      15690: encoded',
      '   6:       96..     111:      15678..     15693:     16:      15692: encoded',
      '   7:      112..     127:      15680..     15695:     16:      15694: last,encoded,eof',
      '/mnt/iom_btrfs/layout/a.bin: 8 extents found',
    ];
    expect(renderFileLayout(layout, 4096, { policy: 'btrfs' })).toBe(joined(expected));
  });

  test('btrfs tiny.txt: inline extents are shown in bytes', () => {
    const layout = file('/mnt/iom_btrfs/layout/tiny.txt', 4, [{ logical: 0, physical: 0, length: 1, flags: ['inline', 'last'] }]);
    const expected = [
      'Filesystem type is: 9123683e',
      'File size of /mnt/iom_btrfs/layout/tiny.txt is 4 (1 block of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..    4095:          0..      4095:   4096:             last,not_aligned,inline,eof',
      '/mnt/iom_btrfs/layout/tiny.txt: 1 extent found',
    ];
    expect(renderFileLayout(layout, 4096, { policy: 'btrfs' })).toBe(joined(expected));
  });

  test('an empty file has no table and 0 extents, as filefrag prints it', () => {
    expect(renderFileLayout(file('empty', 0, []), 4096, { filesystemHeader: false })).toBe(
      joined(['File size of empty is 0 (0 blocks of 4096 bytes)', 'empty: 0 extents found']),
    );
  });

  test('a first extent past a leading hole gets an expected value and counts (filefrag_fiemap rule)', () => {
    const text = renderFileLayout(file('late', 65536, [{ logical: 10, physical: 500, length: 6, flags: ['last'] }]), 4096, {
      filesystemHeader: false,
    });
    expect(text.split('\n')[2]).toBe('   0:       10..      15:        500..       505:      6:         10: last,eof');
    expect(text).toContain('late: 1 extent found');
  });

  test('extents beyond EOF (fallocate keep-size) are all eof; extents before it are not', () => {
    const text = renderFileLayout(
      file('k', 4096, [
        { logical: 0, physical: 100, length: 1, flags: [] },
        { logical: 1, physical: 101, length: 3, flags: ['unwritten', 'last'] },
      ]),
      4096,
      { filesystemHeader: false },
    );
    const rows = text.split('\n');
    expect(rows[2]!.endsWith('      1:             eof')).toBe(true);
    expect(rows[3]!.endsWith('      3:             last,unwritten,eof')).toBe(true);
  });

  test('columns widen for huge devices and files like filefrag', () => {
    const layout = file('big', 4096 * 2e9, [{ logical: 1_999_999_999, physical: 123_456_789_012, length: 1, flags: ['last'] }]);
    const text = renderFileLayout(layout, 4096, { deviceBlocks: 1e12, filesystemHeader: false });
    const rows = text.split('\n');
    // logical width ulong_log10(2e9) = 9 → 21 columns; physical ulong_log10(1e12) = 12 → 27 and 13.
    expect(rows[1]).toBe(' ext:       logical_offset:            physical_offset: length:     expected: flags:');
    expect(rows[2]).toBe('   0: 1999999999..1999999999: 123456789012..123456789012:      1:   1999999999: last,eof');
  });

  test('renderFileLayouts prints the filesystem line once, like filefrag -v a b', () => {
    const text = renderFileLayouts([ext4FragLayout('x'), ext4FragLayout('y')], 4096);
    expect(text.match(/Filesystem type is/g)).toHaveLength(1);
    expect(text).toContain('x: 3 extents found\nFile size of y is');
  });
});

describe('renderReplaySummary', () => {
  test('layouts, then totals with ops by kind, bytes, errors, speed, image and seed', () => {
    const text = renderReplaySummary({ ...sampleResult(), image: 'demo.img' });
    expect(text).toContain(renderFileLayouts(sampleResult().files, 4096, { policy: 'ext4', deviceBlocks: 262144 }));
    expect(text).toContain('ops:     120 (close 10, fsync 3, open 10, write 97), 1 failed\n');
    expect(text).toContain('data:    written 4194304 bytes (4.0 MiB), read 0 bytes\n');
    expect(text).toContain('device:  written 4194304 bytes (4.0 MiB), read 8192 bytes (8.0 KiB)\n');
    expect(text).toContain('files:   2 files, 1 dir, 6 extents\n');
    expect(text).toContain('blocks:  370 allocated, 261774 free\n');
    expect(text).toContain('errors:  1 op failed\n  demo.xio:12: fallocate a: Operation not supported (EOPNOTSUPP)\n');
    expect(text).toContain('seed:    3141592653 (rerun with --seed 3141592653)\n');
    expect(text).toContain('speed:   9600 ops/s (0.013 s wall clock)\n');
    expect(text.endsWith('image:   demo.img\n')).toBe(true);
  });

  test('no speed line without wall-clock figures; "none" without errors; no image line without image', () => {
    const base = sampleResult();
    const stats = { ...base.stats };
    delete stats.replaySeconds;
    delete stats.opsPerSecond;
    const text = renderReplaySummary({ ...base, stats, errors: [] });
    expect(text).not.toContain('speed:');
    expect(text).not.toContain('image:');
    expect(text).toContain('errors:  none\n');
  });

  test('errors beyond the text limit are counted, not listed', () => {
    const errors = Array.from({ length: TEXT_ERRORS_MAX + 5 }, (_, index) => ({
      at: `t.xio:${index + 1}`,
      op: 'write',
      errno: 'ENOSPC',
      message: 'No space left on device',
    }));
    const text = renderReplaySummary(sampleResult({ errors }));
    expect(text).toContain(`t.xio:${TEXT_ERRORS_MAX}: write: No space left on device (ENOSPC)`);
    expect(text).not.toContain(`t.xio:${TEXT_ERRORS_MAX + 1}:`);
    expect(text).toContain('... and 5 more');
  });

  test('snapshots come first, each with its label, then the final layout', () => {
    const snapshot = { label: 'before-sync', source: 'snapshot' as const, at: 'demo.xio:7', files: [ext4FragLayout('snap.bin')] };
    const text = renderReplaySummary(sampleResult({ snapshots: [snapshot] }));
    const snapAt = text.indexOf('--- snapshot before-sync (at demo.xio:7) ---');
    const finalAt = text.indexOf('--- final layout ---');
    expect(snapAt).toBeGreaterThanOrEqual(0);
    expect(finalAt).toBeGreaterThan(text.indexOf('snap.bin: 3 extents found'));
    expect(text.indexOf('frag.bin: 3 extents found')).toBeGreaterThan(finalAt);
    const fiemap = { label: 'fiemap f.bin', source: 'fiemap' as const, at: 'demo.xio:9', files: [ext4FragLayout('f.bin')] };
    expect(renderReplaySummary(sampleResult({ snapshots: [fiemap] }))).toContain('--- fiemap f.bin (at demo.xio:9) ---\n');
  });

  test('style hooks are applied (colour is the CLI\'s choice)', () => {
    const marked = { ...plainStyle, label: (text: string) => `<${text}>`, bad: (text: string) => `!${text}!` };
    const text = renderReplaySummary(sampleResult(), marked);
    expect(text).toContain('<seed:    >3141592653');
    expect(text).toContain('!1 op failed!');
  });

  test('the --quiet line carries ops, files, extents, errors, seed and image', () => {
    expect(renderReplayOneLine({ ...sampleResult(), image: 'demo.img' })).toBe(
      'demo.xio: 120 ops on ext4, 2 files, 6 extents, 1 error, seed 3141592653, image demo.img\n',
    );
  });
});

describe('renderInspect', () => {
  test('summary, free space, layouts in filefrag style, verify OK', () => {
    const files = sampleResult().files;
    const text = renderInspect(sampleSummary(), files, sampleVerify(true), plainStyle, 'demo.img');
    expect(text).toContain('image:   demo.img (format version 1, generation 1)\n');
    expect(text).toContain('policy:  ext4 (flexBgSize=16, groups=8)\n');
    expect(text).toContain('device:  1073741824 bytes (1.0 GiB), 262144 blocks of 4096 bytes\n');
    expect(text).toContain('trace:   demo.xio (120 ops applied)\n');
    expect(text).toContain('seed:    3141592653\n');
    expect(text).toContain('blocks:  370 used, 8000 reserved, 253774 free (96.8%)\n');
    expect(text).toContain('free:    9 free extents, largest 200000 blocks\n');
    expect(text).toContain(renderFileLayouts(files, 4096, { policy: 'ext4', deviceBlocks: 262144 }));
    expect(text).toContain('verify:  OK, 2 files, 5251072 bytes (5.0 MiB) checked\n');
  });

  test('verify failures list each mismatching range', () => {
    const text = renderInspect(sampleSummary(), [], sampleVerify(false));
    expect(text).toContain('verify:  FAILED: 1 mismatch, 2 files');
    expect(text).toContain('  a: bytes 4096..8191 (4096 bytes): content differs from the payload rule\n');
  });

  test('no verify section without --verify', () => {
    expect(renderInspect(sampleSummary(), [], undefined)).not.toContain('verify:');
  });
});

test('formatBytes keeps the exact count and adds a binary unit from 1 KiB', () => {
  expect(formatBytes(0)).toBe('0 bytes');
  expect(formatBytes(1023)).toBe('1023 bytes');
  expect(formatBytes(1536)).toBe('1536 bytes (1.5 KiB)');
  expect(formatBytes(1073741824)).toBe('1073741824 bytes (1.0 GiB)');
});
