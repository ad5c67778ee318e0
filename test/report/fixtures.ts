/** Hand-made results for renderer and CLI tests (no engine needed). */
import type { ImageSummaryView, VerifyView } from '../../src/report/layout.js';
import type { FileLayout, ReplayResult } from '../../src/report/model.js';

/** ext4 frag.bin from the shared filefrag sample (filefrag -v, 4096-byte blocks). */
export function ext4FragLayout(path = '/mnt/iom_ext4/layout/frag.bin'): FileLayout {
  return {
    path,
    ino: 12,
    size: 4202496,
    allocatedBlocks: 114,
    extents: [
      { logical: 0, physical: 39424, length: 16, flags: [] },
      { logical: 64, physical: 39488, length: 32, flags: [] },
      { logical: 256, physical: 33024, length: 1, flags: [] },
      { logical: 257, physical: 33025, length: 63, flags: ['unwritten'] },
      { logical: 1024, physical: 39936, length: 2, flags: ['last'] },
    ],
  };
}

export function sampleResult(overrides: Partial<ReplayResult> = {}): ReplayResult {
  return {
    schemaVersion: 1,
    tool: 'iomapsim 0.1.0',
    trace: 'demo.xio',
    policy: 'ext4',
    blockSize: 4096,
    deviceSize: 1073741824,
    seed: 3141592653,
    files: [
      ext4FragLayout('frag.bin'),
      {
        path: 'a',
        ino: 13,
        size: 1048576,
        allocatedBlocks: 256,
        extents: [{ logical: 0, physical: 33280, length: 256, flags: ['last', 'unwritten'] }],
      },
    ],
    dirs: ['sub'],
    snapshots: [],
    tracedFailures: [],
    errors: [
      { at: 'demo.xio:12', op: 'fallocate', path: 'a', errno: 'EOPNOTSUPP', message: 'Operation not supported' },
    ],
    stats: {
      ops: { write: 97, open: 10, close: 10, fsync: 3 },
      opsTotal: 120,
      opsFailed: 1,
      opsIgnored: {},
      assumed: {},
      bytesWritten: 4194304,
      bytesRead: 0,
      deviceBytesWritten: 4194304,
      deviceBytesRead: 8192,
      files: 2,
      extents: 6,
      blocksAllocated: 370,
      blocksFree: 261774,
      replaySeconds: 0.0125,
      opsPerSecond: 9600,
    },
    ...overrides,
  };
}

export function sampleSummary(overrides: Partial<ImageSummaryView> = {}): ImageSummaryView {
  return {
    blockSize: 4096,
    deviceSize: 1073741824,
    deviceBlocks: 262144,
    policy: 'ext4',
    policyParams: { groups: 8, flexBgSize: 16 },
    seed: 3141592653,
    generation: 1,
    files: 2,
    dirs: 1,
    extents: 6,
    blocksReserved: 8000,
    blocksUsed: 370,
    blocksFree: 253774,
    freeExtents: 9,
    largestFreeExtent: 200000,
    trace: 'demo.xio',
    opsApplied: 120,
    formatVersion: 1,
    ...overrides,
  };
}

export function sampleVerify(ok: boolean): VerifyView {
  return ok
    ? { files: 2, bytesChecked: 5251072, mismatches: [], ok: true }
    : {
        files: 2,
        bytesChecked: 5251072,
        mismatches: [{ path: 'a', offset: 4096, length: 4096, reason: 'content differs from the payload rule' }],
        ok: false,
      };
}
