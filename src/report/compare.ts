/**
 * The side-by-side comparison of one trace replayed under several policies
 * (`iomapsim compare`): per file and per policy the extents, fragments,
 * blocks allocated, bytes sent to the device, copy-on-write blocks and
 * preallocated blocks; per policy totals. Pure: built from ReplayResults,
 * rendered by compare text/JSON renderers (docs/report.md, docs/json-output.md).
 */
import type { FileLayout, OpErrorRecord, ReplayResult } from './model.js';

export const COMPARISON_SCHEMA_VERSION = 1;

/** One file under one policy. */
export interface PolicyFileStats {
  size: number;
  /** FIEMAP extents (as filefrag counts them). */
  extents: number;
  /**
   * Physically contiguous runs of the file's on-disk data: extents that begin
   * where the previous one ended on the device join its run (1 = one piece;
   * 0 = nothing on disk: a hole, delalloc or inline data only).
   */
  fragments: number;
  /** st_blocks in filesystem blocks (past-EOF preallocation included). */
  allocatedBlocks: number;
  /** Bytes of this file's writeback, direct writes and zeroing that reached the device. */
  deviceBytesWritten: number;
  /** Blocks written out of place over data the file already had on disk. */
  cowBlocks: number;
  /** Blocks of unwritten extents and of extents past the EOF block. */
  preallocBlocks: number;
  /** Blocks the file shares with another file (FIEMAP shared). */
  sharedBlocks: number;
}

/** A file path and its stats per policy (null: the file does not exist under that policy). */
export interface ComparisonFileRow {
  path: string;
  byPolicy: Record<string, PolicyFileStats | null>;
}

/** Totals of one policy's run. */
export interface PolicyTotals {
  files: number;
  extents: number;
  fragments: number;
  allocatedBlocks: number;
  blocksFree: number;
  /** Every byte the run sent to the device (data, zeroing; as the replay's stats count them). */
  deviceBytesWritten: number;
  cowBlocks: number;
  preallocBlocks: number;
  sharedBlocks: number;
  opsFailed: number;
  /** Device bytes per user byte written (absent when nothing was written). */
  writeAmplification?: number;
  /** From the device model, when one timed the run. */
  simulatedSeconds?: number;
  mbPerSecond?: number;
}

export interface Comparison {
  schemaVersion: number;
  tool: string;
  trace: string;
  blockSize: number;
  deviceSize: number;
  seed: number;
  policies: string[];
  files: ComparisonFileRow[];
  totals: Record<string, PolicyTotals>;
  /** Ops that failed per policy (e.g. reflink on ext4: EOPNOTSUPP). */
  errors: Record<string, OpErrorRecord[]>;
}

/** The per-file figures of one layout. O(extents). */
export function fileStats(file: FileLayout, blockSize: number): PolicyFileStats {
  const eofBlock = Math.ceil(file.size / blockSize);
  let fragments = 0;
  let runEnd = -1;
  let preallocBlocks = 0;
  let sharedBlocks = 0;
  for (const extent of file.extents) {
    const onDisk = !extent.flags.includes('delalloc') && !extent.flags.includes('inline');
    if (onDisk) {
      if (extent.physical !== runEnd) fragments++;
      runEnd = extent.physical + extent.length;
    }
    const end = extent.logical + extent.length;
    if (extent.flags.includes('unwritten')) preallocBlocks += extent.length;
    else if (end > eofBlock) preallocBlocks += end - Math.max(extent.logical, eofBlock);
    if (extent.flags.includes('shared')) sharedBlocks += extent.length;
  }
  return {
    size: file.size,
    extents: file.extents.length,
    fragments,
    allocatedBlocks: file.allocatedBlocks,
    deviceBytesWritten: file.io?.deviceBytesWritten ?? 0,
    cowBlocks: file.io?.cowBlocks ?? 0,
    preallocBlocks,
    sharedBlocks,
  };
}

function totalsOf(result: ReplayResult, stats: PolicyFileStats[]): PolicyTotals {
  const sum = (key: keyof PolicyFileStats): number => stats.reduce((total, entry) => total + entry[key], 0);
  const totals: PolicyTotals = {
    files: stats.length,
    extents: sum('extents'),
    fragments: sum('fragments'),
    allocatedBlocks: sum('allocatedBlocks'),
    blocksFree: result.stats.blocksFree,
    deviceBytesWritten: result.stats.deviceBytesWritten,
    cowBlocks: sum('cowBlocks'),
    preallocBlocks: sum('preallocBlocks'),
    sharedBlocks: sum('sharedBlocks'),
    opsFailed: result.stats.opsFailed,
  };
  if (result.stats.bytesWritten > 0) totals.writeAmplification = result.stats.deviceBytesWritten / result.stats.bytesWritten;
  if (result.deviceStats !== undefined) {
    totals.simulatedSeconds = result.deviceStats.simulatedSeconds;
    totals.mbPerSecond = result.deviceStats.overall.mbPerSecond;
  }
  return totals;
}

/**
 * Builds the comparison of `results` (one per policy, same trace and
 * geometry, in the order to show). Files are the union of every run's files,
 * sorted by path. O(files × policies + extents).
 */
export function buildComparison(results: readonly ReplayResult[]): Comparison {
  if (results.length === 0) throw new Error('buildComparison needs at least one result');
  const first = results[0]!;
  const policies = results.map((result) => result.policy);
  const paths = new Set<string>();
  for (const result of results) for (const file of result.files) paths.add(file.path);
  const byResult = results.map((result) => new Map(result.files.map((file) => [file.path, fileStats(file, result.blockSize)])));
  const files: ComparisonFileRow[] = [...paths].sort().map((path) => {
    const byPolicy: Record<string, PolicyFileStats | null> = {};
    results.forEach((result, index) => {
      byPolicy[result.policy] = byResult[index]!.get(path) ?? null;
    });
    return { path, byPolicy };
  });
  const totals: Record<string, PolicyTotals> = {};
  const errors: Record<string, OpErrorRecord[]> = {};
  results.forEach((result, index) => {
    totals[result.policy] = totalsOf(result, [...byResult[index]!.values()]);
    errors[result.policy] = result.errors;
  });
  return {
    schemaVersion: COMPARISON_SCHEMA_VERSION,
    tool: first.tool,
    trace: first.trace,
    blockSize: first.blockSize,
    deviceSize: first.deviceSize,
    seed: first.seed,
    policies,
    files,
    totals,
    errors,
  };
}
