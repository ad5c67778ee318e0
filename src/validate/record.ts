/**
 * The kernel half of `validate`, and all of `record`: make a fresh real
 * filesystem, replay the trace on it, `sync`, read every file's FIEMAP, then
 * (after an unmount/mount) again, and always unmount and detach. The result
 * is a ReplayResult (same fields as `replay --json`, so a record is usable as
 * a golden) plus what identifies the kernel run.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FileLayout, ReplayResult, ReplayStats } from '../report/model.js';
import { RESULT_SCHEMA_VERSION } from '../report/model.js';
import { detectFormat } from '../trace/detect.js';
import type { TraceFormat, TraceOp } from '../trace/types.js';
import { IMAGE_SIZE_BYTES, KERNEL_BLOCK_SIZE, type KernelFsName } from './fsparams.js';
import { hasProgram, kernelIdentity, runHost, toolVersions } from './host.js';
import { layoutOfKernelFile, readKernelTree, type KernelFile } from './kernelfiles.js';
import { LoopMount, throwIfInterrupted, type MountFacts } from './loopmount.js';
import { emptyRunLog, noteOnce, type KernelRunLog } from './runlog.js';
import { SyscallReplayer } from './syscalls.js';
import { runXioLines, xioLogicalLines } from './xiorun.js';

export const RECORD_TOOL_NAME = 'iomapsim record';

/** How the trace was applied to the kernel: `.xio` lines as xfs_io processes, or the TraceOp stream as syscalls. */
export type KernelReplayMethod = 'xio-lines' | 'syscalls';

/** A kernel run in the shape of `replay --json`, plus what identifies it. */
export interface KernelRecord extends ReplayResult {
  kernel: { release: string; version: string };
  tools: Record<string, string>;
  mkfs: MountFacts['mkfs'];
  mount: { options: string; loopRotational: string; loopLogicalBlockSize: string };
  method: KernelReplayMethod;
  /** The trace format replayed, and the --root stripped from its paths (goldens replay with the same). */
  format: TraceFormat;
  root?: string;
  /** Where the kernel run may differ from the traced program (helper processes, unpinned CPU). */
  notes: string[];
  /** After an unmount + mount (post-EOF and CoW preallocations dropped). */
  filesAfterRemount: FileLayout[];
}

export interface KernelRecordOptions {
  /** Absolute path of the trace. */
  tracePath: string;
  /** The trace as named in output and in `at` fields. */
  traceName: string;
  fs: KernelFsName;
  /** 'auto' detects. */
  format: 'auto' | TraceFormat;
  root?: string;
  /** Opens the trace's op stream (for formats other than xio). */
  openOps: () => Promise<AsyncIterable<TraceOp>>;
}

/** A finished kernel run: the record and the files with their raw FIEMAP rows (512-byte exact, holes included). */
export interface KernelRun {
  record: KernelRecord;
  files: KernelFile[];
}

/**
 * Records the kernel's layouts for one trace on one filesystem. Needs root and
 * loop mounts (KernelRunError otherwise); SIGINT/SIGTERM unwind with
 * KernelRunInterrupted after everything is unmounted and detached.
 */
export async function recordKernel(options: KernelRecordOptions): Promise<KernelRun> {
  const format = options.format === 'auto' ? await detectFormat(options.tracePath, options.traceName) : options.format;
  const log = emptyRunLog();
  const pin = hasProgram('taskset') ? ['taskset', '-c', '0'] : [];
  if (pin.length === 0) noteOnce(log, 'taskset is missing: the run was not pinned to CPU 0 (ext4 small-file placement may vary)');
  const mount = LoopMount.create(options.fs);
  try {
    const method = await replayOnMount(mount, format, options, log, pin);
    throwIfInterrupted();
    runHost(['sync']);
    const tree = readKernelTree(mount.mountPoint, 'sync');
    const facts = mount.facts();
    const blocksFree = statfsSync(mount.mountPoint).bfree;
    mount.remount();
    const afterRemount = readKernelTree(mount.mountPoint, 'sync');
    const record = buildRecord(options, { method, format, log, facts, files: tree.files, dirs: tree.dirs, afterRemount: afterRemount.files, blocksFree });
    return { record, files: tree.files };
  } finally {
    mount.release();
  }
}

async function replayOnMount(mount: LoopMount, format: TraceFormat, options: KernelRecordOptions, log: KernelRunLog, pin: readonly string[]): Promise<KernelReplayMethod> {
  if (format === 'xio') {
    const lines = xioLogicalLines(readFileSync(options.tracePath, 'utf8'));
    await runXioLines(lines, { mount, traceName: options.traceName, traceDir: dirname(options.tracePath), blockSize: KERNEL_BLOCK_SIZE, pin, log });
    return 'xio-lines';
  }
  const replayer = new SyscallReplayer({ mount, blockSize: KERNEL_BLOCK_SIZE, root: options.root, pin, log });
  await replayer.run(await options.openOps());
  return 'syscalls';
}

interface RunFacts {
  method: KernelReplayMethod;
  format: TraceFormat;
  log: KernelRunLog;
  facts: MountFacts;
  files: KernelFile[];
  dirs: string[];
  afterRemount: KernelFile[];
  blocksFree: number;
}

function buildRecord(options: KernelRecordOptions, run: RunFacts): KernelRecord {
  const files = run.files.map((file) => layoutOfKernelFile(file, KERNEL_BLOCK_SIZE));
  const stats: ReplayStats = {
    ops: sortedRecord(run.log.ops),
    opsTotal: run.log.opsTotal,
    opsFailed: run.log.errors.length,
    opsIgnored: sortedRecord(run.log.ignored),
    assumed: {},
    bytesWritten: run.log.bytesWritten,
    bytesRead: run.log.bytesRead,
    // The kernel's device traffic is not measured here.
    deviceBytesWritten: 0,
    deviceBytesRead: 0,
    files: files.length,
    extents: files.reduce((sum, file) => sum + file.extents.length, 0),
    blocksAllocated: files.reduce((sum, file) => sum + file.allocatedBlocks, 0),
    blocksFree: run.blocksFree,
  };
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    tool: RECORD_TOOL_NAME,
    trace: options.traceName,
    policy: options.fs,
    blockSize: KERNEL_BLOCK_SIZE,
    deviceSize: IMAGE_SIZE_BYTES,
    // A kernel run has no seed; 0 keeps the ReplayResult shape.
    seed: 0,
    files,
    dirs: run.dirs,
    snapshots: run.log.snapshots,
    errors: run.log.errors,
    tracedFailures: [],
    stats,
    kernel: kernelIdentity(),
    tools: toolVersions(),
    mkfs: run.facts.mkfs,
    mount: { options: run.facts.mountOptions, loopRotational: run.facts.loopRotational, loopLogicalBlockSize: run.facts.loopLogicalBlockSize },
    method: run.method,
    format: run.format,
    ...(options.root === undefined ? {} : { root: options.root }),
    notes: run.log.notes,
    filesAfterRemount: run.afterRemount.map((file) => layoutOfKernelFile(file, KERNEL_BLOCK_SIZE)),
  };
}

function sortedRecord(record: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}
