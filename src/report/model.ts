/**
 * The result model of a replay or an inspected image: what renderers (text,
 * JSON) read. Nothing here knows how it is printed. JSON output follows
 * docs/json-output.md; schemaVersion changes when a field changes meaning.
 */

export const RESULT_SCHEMA_VERSION = 1;

/** FIEMAP-style flag names used in layouts. */
export type ExtentFlagName = 'unwritten' | 'delalloc' | 'shared' | 'inline' | 'encoded' | 'last';

/** One extent of a file layout, in filesystem blocks (holes are the gaps). */
export interface ExtentRecord {
  logical: number;
  /** Physical block; 0 for delalloc and inline extents, as FIEMAP reports them. */
  physical: number;
  length: number;
  flags: ExtentFlagName[];
}

export interface FileLayout {
  path: string;
  ino: number;
  size: number;
  /** Blocks allocated to the file (st_blocks in filesystem blocks), past EOF included. */
  allocatedBlocks: number;
  extents: ExtentRecord[];
  /** What the run wrote for this file (final layouts of a replay only; absent in snapshots and inspect). */
  io?: FileIoRecord;
}

/** Per-file write counters of a replay. */
export interface FileIoRecord {
  /** Bytes of this file's writeback, direct writes and sub-block zeroing sent to the device. */
  deviceBytesWritten: number;
  /** Blocks written out of place over data the file already held on disk (copy-on-write). */
  cowBlocks: number;
}

/** A call that failed in the trace: replayed as an attempt; `simErrno` is what the simulation answered (null: it succeeded). */
export interface TracedFailureRecord {
  at: string;
  op: string;
  tracedErrno: string;
  simErrno: string | null;
}

/** An op that failed with an errno during replay (the replay goes on, as the kernel's caller would). */
export interface OpErrorRecord {
  /** "trace.xio:12" */
  at: string;
  op: string;
  path?: string;
  errno: string;
  message: string;
}

export interface ReplayStats {
  ops: Record<string, number>;
  opsTotal: number;
  opsFailed: number;
  /** Trace records not applied, by reason (pipe, socket, outside-root, no-effect, ...). */
  opsIgnored: Record<string, number>;
  /** Files ('file') and directories ('dir') the trace assumed existed before it started: created empty on first use. */
  assumed: Record<string, number>;
  bytesWritten: number;
  bytesRead: number;
  /** Bytes written to the simulated device (data writeback + direct I/O + zeroing). */
  deviceBytesWritten: number;
  /** Metadata (tree) blocks the fs wrote at commits, as requests only (btrfs; 0 where the fs does not report them). */
  metadataBytesWritten?: number;
  /** Data checksums the fs computed for the data it wrote (btrfs: 4 bytes of crc32c per sector; 0 elsewhere). */
  checksumBytes?: number;
  deviceBytesRead: number;
  files: number;
  extents: number;
  /** Blocks in use on the device by file data. */
  blocksAllocated: number;
  blocksFree: number;
  /** Simulator speed (wall clock): not part of the deterministic result; omitted with --deterministic. */
  replaySeconds?: number;
  opsPerSecond?: number;
}

export interface SnapshotRecord {
  label: string;
  /** `snapshot`: an @snapshot directive (FIEMAP without sync); `fiemap`: xfs_io fiemap on an open file (with FIEMAP_FLAG_SYNC). */
  source: 'snapshot' | 'fiemap';
  at: string;
  files: FileLayout[];
}

export interface ReplayResult {
  schemaVersion: number;
  tool: string;
  trace: string;
  policy: string;
  blockSize: number;
  deviceSize: number;
  seed: number;
  files: FileLayout[];
  dirs: string[];
  snapshots: SnapshotRecord[];
  errors: OpErrorRecord[];
  /** Calls the trace records as failed (strace `= -1 ERRNO`), and how the replay fared. */
  tracedFailures: TracedFailureRecord[];
  /** Layouts after an unmount + mount at the end (replay option remountAfter): in-memory preallocation is gone. */
  filesAfterRemount?: FileLayout[];
  /** The replay was stopped (Ctrl-C) before the end of the trace: no final sync ran. */
  interrupted?: boolean;
  /** Throughput, latency and amplification from the device model (absent when no model ran). */
  deviceStats?: DeviceStats;
  stats: ReplayStats;
  image?: string;
}

/** Latency and throughput of a class of operations, latencies in microseconds of simulated time. */
export interface LatencyStats {
  count: number;
  bytes: number;
  iops: number;
  mbPerSecond: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** One simulated second of a replay. */
export interface ThroughputPoint {
  second: number;
  ops: number;
  bytesWritten: number;
  bytesRead: number;
  meanLatencyUs: number;
}

/** What the device model measured (src/device; docs/device-model.md). */
export interface DeviceStats {
  /** 'hdd' | 'ssd' | 'nvme' | 'custom', and the parameters used. */
  model: string;
  params: Record<string, number>;
  /** 'open' (trace timestamps drive arrivals) or 'closed' (iodepth ops in flight). */
  loop: 'open' | 'closed';
  simulatedSeconds: number;
  overall: LatencyStats;
  perOp: Record<string, LatencyStats>;
  pageCache: { hits: number; misses: number; hitRatio: number };
  /** User bytes against device bytes, the latter split by cause (writeback, direct, zeroing, cow, metadata, journal). */
  writeAmplification: { userBytesWritten: number; deviceBytesWritten: number; ratio: number; byCause: Record<string, number> };
  /** Requests after block-layer merging. */
  requests: { submitted: number; merged: number; dispatched: number };
  fragmentation: { files: number; extents: number; extentsPerFile: number; averageExtentBlocks: number };
  series: ThroughputPoint[];
}
