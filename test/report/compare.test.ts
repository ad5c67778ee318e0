/**
 * The comparison model and its renderers (iomapsim compare): per-file
 * figures from layouts, the union of files across policies, totals, JSON
 * key order and nulls, the text table.
 */
import { buildComparison, fileStats } from '../../src/report/compare.js';
import { renderComparison, shortBytes } from '../../src/report/comparetext.js';
import { comparisonToJson } from '../../src/report/json.js';
import type { FileLayout, ReplayResult } from '../../src/report/model.js';

function result(policy: string, files: FileLayout[], overrides: Partial<ReplayResult['stats']> = {}): ReplayResult {
  return {
    schemaVersion: 1,
    tool: 'iomapsim',
    trace: 't.xio',
    policy,
    blockSize: 4096,
    deviceSize: 1 << 30,
    seed: 7,
    files,
    dirs: [],
    snapshots: [],
    errors: policy === 'ext4' ? [{ at: 't.xio:3', op: 'reflink', errno: 'EOPNOTSUPP', message: 'Operation not supported' }] : [],
    tracedFailures: [],
    stats: {
      ops: {}, opsTotal: 3, opsFailed: policy === 'ext4' ? 1 : 0, opsIgnored: {}, assumed: {}, bytesWritten: 8192, bytesRead: 0,
      deviceBytesWritten: 12288, deviceBytesRead: 0, files: files.length, extents: 0, blocksAllocated: 0, blocksFree: 1000, ...overrides,
    },
  };
}

const fragmented: FileLayout = {
  path: 'a', ino: 12, size: 5 * 4096, allocatedBlocks: 12,
  extents: [
    { logical: 0, physical: 100, length: 2, flags: [] },
    { logical: 2, physical: 102, length: 1, flags: ['shared'] }, // physically continues the first: same fragment
    { logical: 4, physical: 300, length: 1, flags: ['unwritten'] },
    { logical: 5, physical: 301, length: 7, flags: ['unwritten', 'last'] }, // past EOF (block 5 on), also unwritten
  ],
  io: { deviceBytesWritten: 8192, cowBlocks: 1 },
};

describe('fileStats', () => {
  test('fragments join physically contiguous extents; prealloc counts unwritten and past-EOF blocks once', () => {
    expect(fileStats(fragmented, 4096)).toEqual({
      size: 5 * 4096, extents: 4, fragments: 2, allocatedBlocks: 12, deviceBytesWritten: 8192, cowBlocks: 1, preallocBlocks: 8, sharedBlocks: 1,
    });
  });

  test('blocks past EOF are preallocation, delalloc ones too; delalloc and inline extents are not fragments', () => {
    const file: FileLayout = {
      path: 'b', ino: 13, size: 100, allocatedBlocks: 16,
      extents: [
        { logical: 0, physical: 0, length: 1, flags: ['inline'] },
        { logical: 1, physical: 0, length: 1, flags: ['delalloc'] },
        { logical: 2, physical: 50, length: 14, flags: ['last'] },
      ],
    };
    const stats = fileStats(file, 4096);
    expect(stats.fragments).toBe(1);
    expect(stats.preallocBlocks).toBe(15); // the delalloc block 1 is past EOF too (XFS reserves speculative preallocation as delalloc)
    expect(stats.deviceBytesWritten).toBe(0);
  });
});

describe('buildComparison', () => {
  const other: FileLayout = { path: 'c', ino: 14, size: 4096, allocatedBlocks: 1, extents: [{ logical: 0, physical: 9, length: 1, flags: ['last'] }] };
  const comparison = buildComparison([result('ext4', [fragmented]), result('xfs', [other, fragmented], { bytesWritten: 0 })]);

  test('files are the union across policies, sorted, null where a policy has no such file', () => {
    expect(comparison.policies).toEqual(['ext4', 'xfs']);
    expect(comparison.files.map((file) => file.path)).toEqual(['a', 'c']);
    expect(comparison.files[1]!.byPolicy['ext4']).toBeNull();
    expect(comparison.files[1]!.byPolicy['xfs']!.extents).toBe(1);
  });

  test('totals add up the files; write amplification only when something was written', () => {
    expect(comparison.totals['ext4']).toMatchObject({ files: 1, extents: 4, fragments: 2, allocatedBlocks: 12, cowBlocks: 1, preallocBlocks: 8, opsFailed: 1, writeAmplification: 1.5 });
    expect(comparison.totals['xfs']).toMatchObject({ files: 2, extents: 5, fragments: 3, allocatedBlocks: 13 });
    expect(comparison.totals['xfs']!.writeAmplification).toBeUndefined();
  });

  test('JSON: documented key order, policies in the order compared, nulls kept', () => {
    const json = comparisonToJson(comparison);
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['schemaVersion', 'tool', 'trace', 'blockSize', 'deviceSize', 'seed', 'policies', 'files', 'totals', 'errors']);
    expect(json).toContain('"ext4": null');
    expect(Object.keys((parsed['totals'] as Record<string, unknown>))).toEqual(['ext4', 'xfs']);
    expect(json.endsWith('}\n')).toBe(true);
    expect(comparisonToJson(comparison)).toBe(json);
  });

  test('text: a table per file with a row per policy, totals, and the failed ops', () => {
    const text = renderComparison(comparison);
    expect(text).toContain('compare: t.xio under ext4, xfs');
    expect(text).toMatch(/\nc\n {2}policy .*extents.*\n {2}ext4 {4}\(no such file\)\n {2}xfs /);
    expect(text).toMatch(/totals\n {2}policy {2}files/);
    expect(text).toContain('ext4: 1 op failed\n  t.xio:3: reflink: Operation not supported (EOPNOTSUPP)');
  });

  test('needs a result', () => {
    expect(() => buildComparison([])).toThrow();
  });
});

test('shortBytes', () => {
  expect(shortBytes(512)).toBe('512');
  expect(shortBytes(12288)).toBe('12.0K');
  expect(shortBytes(1536 * 1024)).toBe('1.5M');
});
