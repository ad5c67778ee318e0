/**
 * The replay driver's interface: a TraceOp stream in, a ReplayResult and the
 * image metadata out. The CLI builds the options; src/replay/replay.ts runs it.
 */
import type { BlockDevice } from '../device/blockdev.js';
import type { IoSink } from '../device/iosink.js';
import type { DeviceModelSpec } from '../device/model/params.js';
import type { ImageMetadata } from '../image/types.js';
import type { ReplayResult } from '../report/model.js';
import type { TraceOp } from '../trace/types.js';
import type { FaultPlan } from '../fault/types.js';

export interface ReplayOptions {
  /** Registered policy name: 'ext4' (xfs and btrfs come later). */
  policy: string;
  /** Filesystem block size in bytes (1024, 2048 or 4096; page size is 4096). */
  blockSize: number;
  /** Simulated device size in bytes (default 1 GiB). */
  deviceSize: number;
  /** Seed of the run's PRNG (printed and kept in the JSON). */
  seed: number;
  /** Name of the trace, as shown in output and recorded in the image. */
  traceName: string;
  /** Prefix stripped from trace paths (e.g. a mount point); paths outside it are ignored and counted. */
  root?: string;
  /** Perform a final `sync` at the end of the trace (default true, as `sync; filefrag` would). */
  finalSync: boolean;
  /** After the final sync, unmount + mount and record the layouts again (ReplayResult.filesAfterRemount). */
  remountAfter?: boolean;
  /** Where data blocks go: the image file, or a MemDevice in tests. Default: a MemDevice. */
  device?: BlockDevice;
  /** Keep no data bytes (layouts and counters only): for runs without an image. */
  dataless?: boolean;
  /** Where block requests are reported (device model); default: a counting sink. */
  io?: IoSink;
  /** Device timing model (docs/device-model.md): times ops and fills result.deviceStats; absent: no timing. */
  deviceModel?: DeviceModelSpec;
  /** Open loop (trace timestamps): arrival = trace time x timeScale (default 1). */
  timeScale?: number;
  /** Closed loop (no timestamps): ops in flight (default 1: each op starts when the previous one ends). */
  iodepth?: number;
  /** Exclude wall-clock speed figures from the result (byte-identical JSON across runs). */
  deterministic?: boolean;
  /** Called every `progressEveryOps` ops (default 4096) and once at the end; it must not change the simulation. */
  onProgress?: (progress: ReplayProgress) => void;
  progressEveryOps?: number;
  /** Aborting stops the replay after the current op: no final sync, the result says `interrupted`. */
  signal?: AbortSignal;
  /** Faults to inject (--fault, --faults, --fault-rate); absent: none. */
  faults?: FaultPlan;
  /**
   * Called after every op during which the fs made its metadata durable
   * (fsync, fdatasync, sync, O_SYNC/O_DSYNC writes, remount) with the state
   * as it is then: the image commits a checkpoint, so a crash later leaves it
   * here. Returns the checkpoint generation written. Not called for the end
   * of the run (the caller commits the final metadata itself).
   */
  onCheckpoint?: (metadata: ImageMetadata) => number;
}

/** A snapshot of a running replay for progress displays. */
export interface ReplayProgress {
  opsDone: number;
  opsFailed: number;
  bytesWritten: number;
  bytesRead: number;
  /** Trace timestamp of the last op (µs), when the trace has them. */
  traceTimeUs: number | undefined;
  files: number;
  done: boolean;
}

export interface ReplayOutcome {
  result: ReplayResult;
  /** The metadata to commit to the image after the data. */
  metadata: ImageMetadata;
}

export type ReplayFunction = (ops: AsyncIterable<TraceOp>, options: ReplayOptions) => Promise<ReplayOutcome>;
