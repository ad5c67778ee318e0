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
  /**
   * Short-write and failure recovery: present when the run had a fault plan
   * (--fault, --faults, --fault-rate) or met a failure the fs recovered from.
   */
  recovery?: RecoveryReport;
  /** The run died at a `crash` fault: nothing after it reached the image (which holds its last checkpoint). */
  crashed?: CrashRecord;
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

/**
 * The path the kernel takes after a failure (kernel-behaviour.md section 4):
 *  - `retry-smaller`: a short user copy into a not-uptodate folio counted 0; the chunk was retried shorter (iomap_write_iter).
 *  - `delalloc-punch`: new delalloc the short write did not fill was punched (iomap_write_delalloc_release, seed 004).
 *  - `reservation-release`: the unused part of the space reserved in iomap_begin was given back in iomap_end (btrfs, ext4; seed 002).
 *  - `dio-buffered-fallback`: the rest of a short direct write went through the page cache, then written back and invalidated (ext4, btrfs; seed 001).
 *  - `short-return`: the caller got a short count and nothing finished the rest (XFS direct I/O).
 *  - `cow-bounce`: an unaligned direct write to shared blocks went through the page cache (XFS; seed 003).
 *  - `nocow-fallback`: out of space for CoW, the write went to the PREALLOC/NODATACOW extent in place (btrfs; seed 002).
 *  - `enospc-retry`: the allocation was retried after a commit / dropping preallocations / trimming post-EOF space.
 *  - `unwritten-kept`: a failed direct write or writeback left its unwritten extents unwritten (no stale data).
 *  - `eof-trim`: blocks a failed extending direct write allocated past the new EOF were truncated (ext4).
 *  - `error-recorded`: a writeback error was recorded on the file and returned by the next fsync.
 *  - `none`: nothing recovered; the error went to the caller.
 */
export type RecoveryPath =
  | 'retry-smaller'
  | 'delalloc-punch'
  | 'reservation-release'
  | 'dio-buffered-fallback'
  | 'short-return'
  | 'cow-bounce'
  | 'nocow-fallback'
  | 'enospc-retry'
  | 'unwritten-kept'
  | 'eof-trim'
  | 'error-recorded'
  | 'none';

/** One failure met during the replay and how the simulated fs recovered. Byte counts are 0 when they do not apply. */
export interface RecoveryEvent {
  /** Trace position of the op ("trace.xio:12"). */
  at: string;
  /** 1-based op index (stats.opsTotal when it ran). */
  opIndex: number;
  op: string;
  path?: string;
  /** The fault: a plan entry as written (`short-copy@op=300,bytes=1000`), `random:KIND`, or `device-full` for a real ENOSPC. */
  fault: string;
  /** What failed, one sentence. */
  failed: string;
  /** Recovery paths taken, in order (at least one; `none` alone when nothing recovered). */
  paths: RecoveryPath[];
  /** Bytes the op asked for. */
  bytesRequested: number;
  /** Bytes the op reported done (what the caller saw). */
  bytesWritten: number;
  /** Bytes retried (short-copy retries, DIO remainder sent through the page cache). */
  bytesRetried: number;
  /** Bytes of delalloc reservation punched or released. */
  bytesPunched: number;
  /** Bytes of delalloc kept because dirty cache lies behind them. */
  bytesKept: number;
  /** Bytes of data that will never reach the device (failed writeback or I/O). */
  bytesLost: number;
  /** The errno the caller got, if any. */
  errno?: string;
  /** The state left behind, one sentence (i_size, on-disk size, extents by kind). */
  state: string;
}

export interface RecoveryReport {
  /** The faults planned (as written), in the order given. */
  planned: string[];
  /** Faults that fired (planned or random). */
  injected: number;
  events: RecoveryEvent[];
  /** Events by recovery path (an event with two paths counts under both). */
  byPath: Partial<Record<RecoveryPath, number>>;
  /** Sums over the events. */
  totals: { bytesRetried: number; bytesPunched: number; bytesKept: number; bytesLost: number };
  /** Invariant checks run after faults (each one passed: a violation stops the replay as a bug). */
  invariantChecks: number;
  /** Events beyond the first 10000: counted here only (not listed, not in byPath or totals). */
  eventsNotListed?: number;
}

export interface CrashRecord {
  /** The plan entry that fired. */
  fault: string;
  /** Ops applied before the crash. */
  opsApplied: number;
  /** Image checkpoint generation left (0: none), and the op count it holds. */
  checkpointGeneration?: number;
  checkpointOps?: number;
}
