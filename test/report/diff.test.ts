/**
 * Expectations: what expectationOf records, how compareExpectations aligns
 * and tolerates, the diff text, and the golden file text round trip.
 */
import { describe, expect, test } from '@jest/globals';
import {
  compareExpectations,
  EXPECT_EXTENT_DIFFS_PER_FILE_MAX,
  type ExpectDifference,
  type Expectation,
  expectationOf,
  formatExpectation,
  renderDifference,
  renderExpectDiff,
  withinTolerance,
} from '../../src/report/diff.js';
import type { DeviceStats, LatencyStats } from '../../src/report/model.js';
import { sampleResult } from './fixtures.js';

const exact = { tolerancePercent: 0, comparePhysical: true };

function latency(p50Us: number, p99Us: number, iops: number): LatencyStats {
  return { count: 10, bytes: 40960, iops, mbPerSecond: 1, meanUs: p50Us, p50Us, p90Us: p99Us, p99Us, p999Us: p99Us, maxUs: p99Us };
}

function deviceStats(): DeviceStats {
  return {
    model: 'ssd',
    params: {},
    loop: 'closed',
    simulatedSeconds: 1,
    overall: latency(80, 900, 12500),
    perOp: {},
    pageCache: { hits: 0, misses: 0, hitRatio: 0 },
    writeAmplification: { userBytesWritten: 1, deviceBytesWritten: 1, ratio: 1, byCause: {} },
    requests: { submitted: 1, merged: 0, dispatched: 1 },
    fragmentation: { files: 1, extents: 1, extentsPerFile: 1, averageExtentBlocks: 1 },
    series: [],
  };
}

function baseline(): Expectation {
  return expectationOf(sampleResult());
}

/** A deep copy to mutate. */
function copy(expectation: Expectation): Expectation {
  return JSON.parse(JSON.stringify(expectation)) as Expectation;
}

describe('expectationOf', () => {
  test('records parameters, files sorted by path, extents without the last flag, failures and stats', () => {
    const result = sampleResult({ trace: 'traces/demo.xio', errors: [{ at: 'traces/demo.xio:12', op: 'fallocate', path: 'a', errno: 'EOPNOTSUPP', message: 'm' }] });
    const expectation = expectationOf(result);
    expect(expectation).toMatchObject({ format: 'iomapsim-expect', formatVersion: 1, policy: 'ext4', blockSize: 4096, deviceSize: 1073741824, seed: 3141592653 });
    expect(expectation.files.map((file) => file.path)).toEqual(['a', 'frag.bin']);
    expect(expectation.files[0]!.extents).toEqual([{ logical: 0, physical: 33280, length: 256, flags: ['unwritten'] }]);
    expect(expectation.files[1]!.extents[4]).toEqual({ logical: 1024, physical: 39936, length: 2, flags: [] });
    // The trace's directory is dropped, so the golden holds wherever the trace is run from.
    expect(expectation.failures).toEqual([{ at: 'demo.xio:12', op: 'fallocate', path: 'a', errno: 'EOPNOTSUPP' }]);
    expect(expectation.stats).toEqual({ opsTotal: 120, bytesWritten: 4194304, deviceBytesWritten: 4194304, extents: 6, blocksAllocated: 370 });
  });

  test('device figures are recorded only when the device model ran', () => {
    const stats = expectationOf(sampleResult({ deviceStats: deviceStats() })).stats;
    expect(stats).toMatchObject({ deviceP50Us: 80, deviceP99Us: 900, deviceIops: 12500 });
    expect('deviceP50Us' in baseline().stats).toBe(false);
  });
});

describe('compareExpectations', () => {
  test('a run against its own expectation: no differences', () => {
    expect(compareExpectations(baseline(), baseline(), exact)).toEqual([]);
  });

  test('a moved extent is one difference; ignored with comparePhysical false', () => {
    const actual = copy(baseline());
    actual.files[1]!.extents[2]!.physical += 16;
    const diffs = compareExpectations(baseline(), actual, exact);
    expect(diffs).toEqual([{ kind: 'extent', path: 'frag.bin', index: 2, expected: baseline().files[1]!.extents[2], actual: actual.files[1]!.extents[2] }]);
    expect(compareExpectations(baseline(), actual, { tolerancePercent: 0, comparePhysical: false })).toEqual([]);
  });

  test('a flag change is a difference even without physical addresses', () => {
    const actual = copy(baseline());
    actual.files[0]!.extents[0]!.flags = [];
    expect(compareExpectations(baseline(), actual, { tolerancePercent: 0, comparePhysical: false })).toHaveLength(1);
  });

  test('a split extent shows as one changed and one extra extent, not a shift of every later one', () => {
    const actual = copy(baseline());
    const extents = actual.files[1]!.extents;
    // Extent 1 [64+32] becomes [64+16] and [80+16].
    extents.splice(1, 1, { logical: 64, physical: 39488, length: 16, flags: [] }, { logical: 80, physical: 50000, length: 16, flags: [] });
    const diffs = compareExpectations(baseline(), actual, exact);
    expect(diffs.map((diff) => (diff.kind === 'extent' ? [diff.index, diff.actual?.logical] : diff.kind))).toEqual([
      [1, 64],
      [null, 80],
    ]);
  });

  test('missing and extra extents at the end', () => {
    const shorter = copy(baseline());
    shorter.files[1]!.extents.pop();
    const missing = compareExpectations(baseline(), shorter, exact);
    expect(missing).toEqual([{ kind: 'extent', path: 'frag.bin', index: 4, expected: baseline().files[1]!.extents[4], actual: null }]);
    const extra = compareExpectations(shorter, baseline(), exact);
    expect(extra).toEqual([{ kind: 'extent', path: 'frag.bin', index: null, expected: null, actual: baseline().files[1]!.extents[4] }]);
  });

  test('missing, extra and resized files; changed parameters', () => {
    const actual = copy(baseline());
    actual.files[0]!.path = 'b';
    actual.files[1]!.size = 4096;
    actual.blockSize = 1024;
    const kinds = compareExpectations(baseline(), actual, exact).map((diff) => diff.kind);
    expect(kinds).toEqual(['param', 'file-missing', 'size', 'file-extra']);
  });

  test('failed ops: gone, new, and another errno', () => {
    const expected = copy(baseline());
    expected.failures = [
      { at: 'x.xio:3', op: 'write', errno: 'ENOSPC' },
      { at: 'x.xio:5', op: 'fallocate', errno: 'EOPNOTSUPP' },
    ];
    const actual = copy(baseline());
    actual.failures = [
      { at: 'x.xio:5', op: 'fallocate', errno: 'EINVAL' },
      { at: 'x.xio:9', op: 'truncate', errno: 'EFBIG' },
    ];
    const diffs = compareExpectations(expected, actual, exact);
    expect(diffs.map((diff) => renderDifference(diff, 0))).toEqual([
      'failed op no longer fails: x.xio:3 write ENOSPC',
      'failed op x.xio:5 fallocate: expected EOPNOTSUPP, got EINVAL',
      'new failed op: x.xio:9 truncate EFBIG',
    ]);
  });

  test('stats: relative tolerance; a recorded stat the run lacks is a difference, one only the run has is not checked', () => {
    const expected = copy(baseline());
    expected.stats.deviceBytesWritten = 1048576;
    const actual = copy(baseline());
    actual.stats.deviceBytesWritten = 1114112; // +6.25%
    expect(compareExpectations(expected, actual, exact)).toHaveLength(1);
    expect(compareExpectations(expected, actual, { tolerancePercent: 6, comparePhysical: true })).toHaveLength(1);
    expect(compareExpectations(expected, actual, { tolerancePercent: 6.25, comparePhysical: true })).toEqual([]);
    const withDevice = copy(expected);
    withDevice.stats.deviceP99Us = 900;
    expect(compareExpectations(withDevice, expected, exact)).toEqual([{ kind: 'stat', name: 'deviceP99Us', expected: 900, actual: null }]);
    expect(compareExpectations(expected, withDevice, exact)).toEqual([]);
  });

  test('withinTolerance is relative to the expected value and exact at 0', () => {
    expect(withinTolerance(100, 100, 0)).toBe(true);
    expect(withinTolerance(100, 101, 0)).toBe(false);
    expect(withinTolerance(100, 95, 5)).toBe(true);
    expect(withinTolerance(100, 94.9, 5)).toBe(false);
    expect(withinTolerance(0, 1, 1000)).toBe(false);
  });
});

describe('diff text', () => {
  test('an extent and a stat read as the brief says', () => {
    const extent: ExpectDifference = {
      kind: 'extent',
      path: 'data.bin',
      index: 2,
      expected: { logical: 64, physical: 33344, length: 16, flags: ['unwritten'] },
      actual: { logical: 64, physical: 33360, length: 16, flags: [] },
    };
    expect(renderDifference(extent, 0)).toBe('data.bin: extent 2: expected [64+16]@33344 unwritten, got [64+16]@33360');
    const stat: ExpectDifference = { kind: 'stat', name: 'deviceBytesWritten', expected: 1048576, actual: 1114112 };
    expect(renderDifference(stat, 0)).toBe('deviceBytesWritten: expected 1048576, got 1114112 (+6.3% > 0%)');
    expect(renderDifference({ kind: 'stat', name: 'opsTotal', expected: 200, actual: 150 }, 10)).toBe('opsTotal: expected 200, got 150 (-25.0% > 10%)');
  });

  test('header, one indented line per difference, at most EXPECT_EXTENT_DIFFS_PER_FILE_MAX extents per file', () => {
    const diffs: ExpectDifference[] = [];
    for (let index = 0; index < 15; index++) {
      diffs.push({ kind: 'extent', path: 'big.bin', index, expected: { logical: index, physical: 100 + index, length: 1, flags: [] }, actual: null });
    }
    diffs.push({ kind: 'file-missing', file: { path: 'gone.bin', size: 4096, extents: [] } });
    const text = renderExpectDiff(diffs, { goldenName: 'golden/x.json', tolerancePercent: 0 });
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('expectation failed: golden/x.json: 16 differences');
    expect(lines.filter((line) => line.startsWith('  big.bin: extent '))).toHaveLength(EXPECT_EXTENT_DIFFS_PER_FILE_MAX);
    expect(lines).toContain('  big.bin: ... and 5 more extent differences');
    expect(lines[lines.length - 1]).toBe('  missing file: gone.bin (4096 bytes, 0 extents)');
  });
});

describe('golden file text', () => {
  test('parses back to the same expectation; one line per extent', () => {
    const expectation = expectationOf(sampleResult({ deviceStats: deviceStats() }));
    const text = formatExpectation(expectation);
    expect(JSON.parse(text)).toEqual(expectation);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n        { "logical": 257, "physical": 33025, "length": 63, "flags": ["unwritten"] },\n');
    expect(text).toContain('\n    { "at": "demo.xio:12", "op": "fallocate", "path": "a", "errno": "EOPNOTSUPP" }\n');
  });
});
