/**
 * Statistics of a timed run: per op kind and overall latency histograms,
 * bytes, a throughput series per simulated second (bounded: past
 * SERIES_POINTS_MAX buckets, buckets double in width and pairs fold), and
 * the assembly of ReplayResult.deviceStats.
 */
import type { DeviceStats, FileLayout, LatencyStats, ThroughputPoint } from '../../report/model.js';
import { assert } from '../../util/assert.js';
import { LatencyHistogram } from '../histogram.js';
import type { IoCause } from '../iosink.js';
import type { BlockLayerCounters } from './merge.js';
import type { DeviceModelSpec } from './params.js';

/** Most points in the throughput series; a longer run gets coarser buckets. */
export const SERIES_POINTS_MAX = 10_000;

/** Causes write amplification is split by (always present in the output, 0 when unused). */
export const WRITE_CAUSES: readonly IoCause[] = ['cow', 'direct', 'journal', 'metadata', 'writeback', 'zeroing'];

const US_PER_SECOND = 1e6;

/** Rounds to `digits` decimals (stable JSON; the model's precision is far coarser). */
function rounded(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

class KindStats {
  readonly histogram = new LatencyHistogram();
  bytes = 0;
}

/** The series: per bucket of `bucketSeconds`, ops, bytes and latency sums. */
class ThroughputSeries {
  bucketSeconds = 1;
  private ops: number[] = [];
  private bytesWritten: number[] = [];
  private bytesRead: number[] = [];
  private latencySumUs: number[] = [];

  add(endUs: number, latencyUs: number, written: number, read: number): void {
    let index = Math.floor(endUs / US_PER_SECOND / this.bucketSeconds);
    for (let folds = 0; index >= SERIES_POINTS_MAX; folds++) {
      assert(folds < 64, 'series: runaway folding', { endUs });
      this.fold();
      index = Math.floor(index / 2);
    }
    while (this.ops.length <= index) {
      this.ops.push(0);
      this.bytesWritten.push(0);
      this.bytesRead.push(0);
      this.latencySumUs.push(0);
    }
    this.ops[index]! += 1;
    this.bytesWritten[index]! += written;
    this.bytesRead[index]! += read;
    this.latencySumUs[index]! += latencyUs;
  }

  /** Doubles the bucket width: bucket i of the new series is buckets 2i and 2i+1 of the old one. */
  private fold(): void {
    const pairs = (values: number[]): number[] => {
      const out: number[] = [];
      for (let index = 0; index < values.length; index += 2) out.push(values[index]! + (values[index + 1] ?? 0));
      return out;
    };
    this.ops = pairs(this.ops);
    this.bytesWritten = pairs(this.bytesWritten);
    this.bytesRead = pairs(this.bytesRead);
    this.latencySumUs = pairs(this.latencySumUs);
    this.bucketSeconds *= 2;
  }

  points(): ThroughputPoint[] {
    return this.ops.map((ops, index) => ({
      second: index * this.bucketSeconds,
      ops,
      bytesWritten: this.bytesWritten[index]!,
      bytesRead: this.bytesRead[index]!,
      meanLatencyUs: ops === 0 ? 0 : rounded(this.latencySumUs[index]! / ops, 3),
    }));
  }
}

/** Latencies and bytes per op kind, overall, and over time. */
export class OpStatsTable {
  readonly kinds = new Map<string, KindStats>();
  readonly overall = new KindStats();
  readonly series = new ThroughputSeries();

  record(kind: string, latencyUs: number, endUs: number, bytesWritten: number, bytesRead: number): void {
    let stats = this.kinds.get(kind);
    if (stats === undefined) {
      stats = new KindStats();
      this.kinds.set(kind, stats);
    }
    for (const target of [stats, this.overall]) {
      target.histogram.record(latencyUs);
      target.bytes += bytesWritten + bytesRead;
    }
    this.series.add(endUs, latencyUs, bytesWritten, bytesRead);
  }
}

function latencyStats(stats: KindStats, simulatedSeconds: number): LatencyStats {
  const histogram = stats.histogram;
  const perSecond = (value: number): number => (simulatedSeconds > 0 ? value / simulatedSeconds : 0);
  return {
    count: histogram.count,
    bytes: stats.bytes,
    iops: rounded(perSecond(histogram.count), 3),
    mbPerSecond: rounded(perSecond(stats.bytes) / 1e6, 3),
    meanUs: rounded(histogram.meanUs(), 3),
    p50Us: rounded(histogram.percentileUs(0.5), 3),
    p90Us: rounded(histogram.percentileUs(0.9), 3),
    p99Us: rounded(histogram.percentileUs(0.99), 3),
    p999Us: rounded(histogram.percentileUs(0.999), 3),
    maxUs: rounded(histogram.maxUs(), 3),
  };
}

/** What the replay knows that the simulator does not. */
export interface DeviceStatsInput {
  /** Bytes the trace wrote. */
  userBytesWritten: number;
  pageCacheHits: number;
  pageCacheMisses: number;
  files: readonly FileLayout[];
}

export interface DeviceStatsParts {
  spec: DeviceModelSpec;
  /** iodepth (closed loop) or timeScale (open loop), reported with the parameters. */
  runOptions: Record<string, number>;
  loop: 'open' | 'closed';
  simulatedUs: number;
  table: OpStatsTable;
  writeBytesByCause: ReadonlyMap<IoCause, number>;
  requests: BlockLayerCounters;
  input: DeviceStatsInput;
}

function fragmentationOf(files: readonly FileLayout[]): DeviceStats['fragmentation'] {
  let extents = 0;
  let blocks = 0;
  for (const file of files) {
    extents += file.extents.length;
    for (const extent of file.extents) blocks += extent.length;
  }
  return {
    files: files.length,
    extents,
    extentsPerFile: files.length === 0 ? 0 : rounded(extents / files.length, 4),
    averageExtentBlocks: extents === 0 ? 0 : rounded(blocks / extents, 4),
  };
}

function writeAmplificationOf(parts: DeviceStatsParts): DeviceStats['writeAmplification'] {
  const byCause: Record<string, number> = {};
  let deviceBytesWritten = 0;
  const causes = [...new Set([...WRITE_CAUSES, ...parts.writeBytesByCause.keys()])].sort();
  for (const cause of causes) {
    const bytes = parts.writeBytesByCause.get(cause) ?? 0;
    byCause[cause] = bytes;
    deviceBytesWritten += bytes;
  }
  const user = parts.input.userBytesWritten;
  return { userBytesWritten: user, deviceBytesWritten, ratio: user === 0 ? 0 : rounded(deviceBytesWritten / user, 4), byCause };
}

/** Assembles DeviceStats (keys of map-like objects sorted). O(op kinds x histogram buckets + series). */
export function buildDeviceStats(parts: DeviceStatsParts): DeviceStats {
  const simulatedSeconds = parts.simulatedUs / US_PER_SECOND;
  const perOp: Record<string, LatencyStats> = {};
  for (const kind of [...parts.table.kinds.keys()].sort()) perOp[kind] = latencyStats(parts.table.kinds.get(kind)!, simulatedSeconds);
  const allParams: Record<string, number> = { ...parts.spec.params, ...parts.runOptions };
  const params: Record<string, number> = {};
  for (const key of Object.keys(allParams).sort()) params[key] = allParams[key]!;
  const { pageCacheHits: hits, pageCacheMisses: misses } = parts.input;
  return {
    model: parts.spec.name,
    params,
    loop: parts.loop,
    simulatedSeconds: rounded(simulatedSeconds, 9),
    overall: latencyStats(parts.table.overall, simulatedSeconds),
    perOp,
    pageCache: { hits, misses, hitRatio: hits + misses === 0 ? 0 : rounded(hits / (hits + misses), 4) },
    writeAmplification: writeAmplificationOf(parts),
    requests: { ...parts.requests },
    fragmentation: fragmentationOf(parts.input.files),
    series: parts.table.series.points(),
  };
}
