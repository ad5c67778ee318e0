/**
 * The replay driver: builds the simulated device, free space, policy and
 * VFS, applies each TraceOp (fd table, errors recorded per op as the
 * traced program would have seen them), then the final sync, and returns the
 * result model and the image metadata.
 */
import { performance } from 'node:perf_hooks';
import { FreeSpace } from '../alloc/freespace.js';
import { MemDevice } from '../device/blockdev.js';
import { CountingIoSink, type IoSink } from '../device/iosink.js';
import { opIoInfo } from '../device/model/attribution.js';
import { DeviceSimulator } from '../device/model/sim.js';
import { CrashSignal, FaultInjector, RecoveryRecorder } from '../fault/injector.js';
import { checkFaultInvariants } from '../fault/invariants.js';
import type { FaultSpec } from '../fault/types.js';
import { describeInodeState } from '../fs/recovery.js';
import { createPolicy } from '../fs/registry.js';
import { spaceUsage } from '../image/summary.js';
import type { BlockRun, ImageMetadata } from '../image/types.js';
import { RESULT_SCHEMA_VERSION, type OpErrorRecord, type RecoveryEvent, type RecoveryPath, type RecoveryReport, type ReplayResult } from '../report/model.js';
import { isOpBatchSource, type TraceOp } from '../trace/types.js';
import { formatSourcePos, UsageError } from '../util/errors.js';
import { ErrnoError, errnoName } from '../util/errno.js';
import { Prng } from '../util/prng.js';
import { blockShiftOf, EngineStats, type FsContext } from '../vfs/context.js';
import { Vfs } from '../vfs/vfs.js';
import { applyOp, copyFromOutsideRoot, countIgnored, fdKey, onIgnoredFd, openFlagsOf, outsideRoot, type ReplayState } from './apply.js';
import { sharedRefcounts } from '../image/refcounts.js';
import { fileLayouts, persistedInodes } from './layouts.js';
import type { ReplayOptions, ReplayOutcome, ReplayProgress } from './types.js';

export const TOOL_NAME = 'iomapsim';

function checkOptions(options: ReplayOptions): void {
  const { blockSize, deviceSize } = options;
  if (![512, 1024, 2048, 4096].includes(blockSize)) throw new UsageError(`block size ${blockSize} is not supported (expected 512, 1024, 2048 or 4096)`);
  if (!Number.isInteger(deviceSize) || deviceSize <= 0 || deviceSize % blockSize !== 0) {
    throw new UsageError(`device size ${deviceSize} is not a positive multiple of the block size ${blockSize}`);
  }
  if (deviceSize < 16 * 1024 * 1024) throw new UsageError(`device size ${deviceSize} is too small (at least 16 MiB)`);
}

/** The device model of the run (options.deviceModel), if any. */
function createTiming(options: ReplayOptions): DeviceSimulator | undefined {
  if (options.deviceModel === undefined) return undefined;
  const timing: { timeScale?: number; iodepth?: number } = {};
  if (options.timeScale !== undefined) timing.timeScale = options.timeScale;
  if (options.iodepth !== undefined) timing.iodepth = options.iodepth;
  return new DeviceSimulator({ spec: options.deviceModel, deviceBytes: options.deviceSize, seed: options.seed, ...timing });
}

/** Requests go to the device model and to a sink the caller gave, if both. */
function ioSinkOf(options: ReplayOptions, timing: DeviceSimulator | undefined): IoSink {
  const given = options.io;
  if (timing === undefined) return given ?? new CountingIoSink();
  if (given === undefined) return timing;
  return { submit: (request) => (timing.submit(request), given.submit(request)) };
}

/** A sink that kills the process (CrashSignal) once device writes reach a crash@bytes fault's count. */
function crashingSink(inner: IoSink, faults: FaultInjector, spec: FaultSpec): IoSink {
  let written = 0;
  const limit = spec.afterDeviceBytes ?? 0;
  return {
    submit: (request) => {
      inner.submit(request);
      if (request.direction !== 'write') return;
      written += request.lengthBytes;
      if (written >= limit) {
        faults.crashed(spec);
        throw new CrashSignal(spec, true);
      }
    },
  };
}

/** The fault injector of a run with a plan (an empty plan still turns recovery recording on). */
function createFaults(options: ReplayOptions, recorder: RecoveryRecorder): FaultInjector | undefined {
  if (options.faults === undefined) return undefined;
  return new FaultInjector(options.faults, options.seed, recorder);
}

/** Sets up the simulated filesystem for a run. */
export function createState(options: ReplayOptions): ReplayState {
  checkOptions(options);
  const deviceBlocks = options.deviceSize / options.blockSize;
  const timing = createTiming(options);
  const recorder = new RecoveryRecorder();
  const faults = createFaults(options, recorder);
  let io = ioSinkOf(options, timing);
  const crashSpec = faults?.crashAtBytes();
  if (faults !== undefined && crashSpec !== undefined) io = crashingSink(io, faults, crashSpec);
  const ctx: FsContext = {
    blockSize: options.blockSize,
    blockShift: blockShiftOf(options.blockSize),
    device: options.device ?? new MemDevice(options.deviceSize),
    freeSpace: new FreeSpace(deviceBlocks),
    stats: new EngineStats(),
    prng: new Prng(options.seed),
    io,
    dataless: options.dataless ?? false,
    recovery: recorder,
    ...(faults === undefined ? {} : { faults }),
  };
  const policy = createPolicy(options.policy, { ctx, deviceBlocks });
  return {
    options,
    ctx,
    policy,
    vfs: new Vfs(ctx, policy),
    handles: new Map(),
    opCounts: {},
    opsTotal: 0,
    errors: [],
    snapshots: [],
    bytesWritten: 0,
    bytesRead: 0,
    ignored: {},
    assumed: {},
    ignoredFds: new Set(),
    tracedFailures: [],
    recorder,
    recoveryEvents: [],
    recoveryEventsDropped: 0,
    invariantChecks: 0,
    ...(faults === undefined ? {} : { faults }),
    ...(timing === undefined ? {} : { timing }),
  };
}

/** Records an op that failed with an errno (the replay goes on). */
function recordError(state: ReplayState, op: TraceOp, errno: number, message: string, path?: string): void {
  const record: OpErrorRecord = { at: formatSourcePos({ file: op.src.file, line: op.src.line }), op: op.kind, errno: errnoName(errno), message };
  if (path !== undefined) record.path = path;
  state.errors.push(record);
}

/**
 * Applies one op; errno failures are recorded, anything else propagates. A
 * crash fault throws CrashSignal (before the op, or from inside it once its
 * device-byte count is reached). After an op during which the fs committed,
 * the image checkpoints (options.onCheckpoint).
 */
export function step(state: ReplayState, op: TraceOp): void {
  const crash = state.faults?.beginOp(state.opsTotal + 1);
  if (crash !== undefined) throw new CrashSignal(crash, false);
  const commitsBefore = state.vfs.commits;
  const bytesWrittenBefore = state.bytesWritten;
  const errorsBefore = state.errors.length;
  try {
    applyStep(state, op);
  } finally {
    state.faults?.endOp();
  }
  if (state.faults !== undefined) noteRecovery(state, op, state.bytesWritten - bytesWrittenBefore, state.errors.length > errorsBefore ? state.errors[state.errors.length - 1]!.errno : undefined);
  else state.recorder.take();
  if (state.vfs.commits !== commitsBefore && state.options.onCheckpoint !== undefined) {
    const generation = state.options.onCheckpoint(buildMetadata(state));
    state.lastCheckpoint = { generation, opsApplied: state.opsTotal };
  }
}

function applyStep(state: ReplayState, op: TraceOp): void {
  state.opCounts[op.kind] = (state.opCounts[op.kind] ?? 0) + 1;
  state.opsTotal++;
  if (onIgnoredFd(state, op)) {
    const fromOutside = copyFromOutsideRoot(state, op);
    if (!fromOutside) {
      countIgnored(state, 'outside-root');
      return;
    }
    op = fromOutside;
  }
  if (op.kind === 'ignored' || outsideRoot(state, op)) {
    countIgnored(state, op.kind === 'ignored' ? op.reason : 'outside-root');
    return;
  }
  let simErrno: number | undefined;
  const timing = state.timing;
  const writtenBefore = state.bytesWritten;
  const readBefore = state.bytesRead;
  timing?.beginOp(opIoInfo(op, openFlagsOf(state, op)));
  try {
    applyOp(state, op);
    timing?.endOp(state.bytesWritten - writtenBefore, state.bytesRead - readBefore);
  } catch (error) {
    timing?.endOp(state.bytesWritten - writtenBefore, state.bytesRead - readBefore);
    if (!(error instanceof ErrnoError)) throw error;
    simErrno = error.errno;
    recordError(state, op, error.errno, error.message, 'path' in op ? (op as { path: string }).path : undefined);
  }
  if (op.traced?.errno !== undefined) {
    state.tracedFailures.push({
      at: formatSourcePos({ file: op.src.file, line: op.src.line }),
      op: op.kind,
      tracedErrno: op.traced.errno,
      simErrno: simErrno === undefined ? null : errnoName(simErrno),
    });
  }
}

/** Recovery events kept in memory (and in the result); later ones are counted, not kept. */
const RECOVERY_EVENTS_MAX = 10000;

/** What a recovery path means when no fault fired (a natural fallback). */
const NATURAL_FAILURES: Partial<Record<RecoveryPath, string>> = {
  'cow-bounce': 'an unaligned direct write to a reflinked file cannot be done in place (-ENOTBLK)',
  'dio-buffered-fallback': 'the direct write could not map all of its range (-ENOTBLK)',
  'enospc-retry': 'space allocation failed with ENOSPC',
  'short-return': 'the direct write stopped short',
  'nocow-fallback': 'no data space for a copy-on-write',
};

/** Turns the recorder's note of the op that just ran into a RecoveryEvent; faulted ops get the invariant checks. */
function noteRecovery(state: ReplayState, op: TraceOp, bytesWritten: number, errno: string | undefined): void {
  const record = state.recorder.take();
  if (record === undefined) return;
  const at = formatSourcePos({ file: op.src.file, line: op.src.line });
  const handle = 'fd' in op && typeof op.fd === 'number' ? state.handles.get(fdKey(op.pid, op.fd)) : undefined;
  const inode = handle?.inode;
  const natural = record.paths.map((path) => NATURAL_FAILURES[path]).filter((text): text is string => text !== undefined);
  const event: RecoveryEvent = {
    at,
    opIndex: state.opsTotal,
    op: op.kind,
    fault: record.faults.length > 0 ? record.faults.join(' + ') : errno === 'ENOSPC' ? 'device-full' : 'none',
    failed: record.failed.length > 0 ? record.failed.join('; ') : (natural[0] ?? 'nothing failed'),
    paths: record.paths.length > 0 ? record.paths : ['none'],
    bytesRequested: 'length' in op && typeof op.length === 'number' ? op.length : 0,
    bytesWritten,
    bytesRetried: record.bytesRetried,
    bytesPunched: record.bytesPunched,
    bytesKept: record.bytesKept,
    bytesLost: record.bytesLost,
    state: inode !== undefined ? describeInodeState(inode, state.ctx.blockSize) : 'no file',
  };
  if (handle !== undefined) event.path = handle.path;
  if (errno !== undefined) event.errno = errno;
  if (state.recoveryEvents.length < RECOVERY_EVENTS_MAX) state.recoveryEvents.push(event);
  else state.recoveryEventsDropped++;
  if (record.faults.length > 0) {
    state.invariantChecks++;
    checkFaultInvariants(state.vfs, state.ctx, { seed: state.options.seed, at: `${at} (op ${state.opsTotal}, ${op.kind})` }, inode === undefined ? undefined : [inode]);
  }
}

/** The recovery section of the result: present when the run had a fault plan. */
function recoveryReport(state: ReplayState): RecoveryReport | undefined {
  const faults = state.faults;
  if (faults === undefined) return undefined;
  const byPath: Partial<Record<RecoveryPath, number>> = {};
  const totals = { bytesRetried: 0, bytesPunched: 0, bytesKept: 0, bytesLost: 0 };
  for (const event of state.recoveryEvents) {
    for (const path of event.paths) byPath[path] = (byPath[path] ?? 0) + 1;
    totals.bytesRetried += event.bytesRetried;
    totals.bytesPunched += event.bytesPunched;
    totals.bytesKept += event.bytesKept;
    totals.bytesLost += event.bytesLost;
  }
  const sortedByPath: Partial<Record<RecoveryPath, number>> = {};
  for (const path of Object.keys(byPath).sort() as RecoveryPath[]) sortedByPath[path] = byPath[path]!;
  const report: RecoveryReport = { planned: faults.planned, injected: faults.injected, events: state.recoveryEvents, byPath: sortedByPath, totals, invariantChecks: state.invariantChecks };
  if (state.recoveryEventsDropped > 0) report.eventsNotListed = state.recoveryEventsDropped;
  return report;
}

/** Closes what the traced processes left open (process exit) and performs the final sync (not after an interrupt). */
export function finish(state: ReplayState, interrupted = false): void {
  const body = (): void => {
    for (const [key, handle] of [...state.handles]) {
      state.handles.delete(key);
      state.lastHandle = undefined;
      if (!handle.closed) state.vfs.close(handle);
    }
    if (state.options.finalSync && !interrupted) state.vfs.syncAll();
  };
  // The device model times it as one internal op (not counted per op).
  if (state.timing) state.timing.runInternal('finish', body);
  else body();
}

/** The result model of a finished run. */
export function buildResult(state: ReplayState, seconds: number | undefined, metadata: ImageMetadata = buildMetadata(state)): ReplayResult {
  const { options, ctx, vfs } = state;
  const files = fileLayouts(vfs, ctx.blockSize, true);
  let extents = 0;
  for (const file of files) extents += file.extents.length;
  // As the image holds it (after unmount): preallocations are memory state, their blocks are free.
  const space = spaceUsage(metadata);
  const result: ReplayResult = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    tool: TOOL_NAME,
    trace: options.traceName,
    policy: state.policy.name,
    blockSize: ctx.blockSize,
    deviceSize: options.deviceSize,
    seed: options.seed,
    files,
    dirs: vfs.dirs(),
    snapshots: state.snapshots,
    errors: state.errors,
    tracedFailures: state.tracedFailures,
    stats: {
      ops: sortedCounts(state.opCounts),
      opsTotal: state.opsTotal,
      opsFailed: state.errors.length,
      opsIgnored: sortedCounts(state.ignored),
      assumed: sortedCounts(state.assumed),
      bytesWritten: state.bytesWritten,
      bytesRead: state.bytesRead,
      deviceBytesWritten: ctx.stats.deviceBytesWritten,
      metadataBytesWritten: ctx.stats.metadataBytesWritten,
      checksumBytes: ctx.stats.checksumBytes,
      deviceBytesRead: ctx.stats.deviceBytesRead,
      files: files.length,
      extents,
      blocksAllocated: space.blocksUsed,
      blocksFree: space.blocksFree,
    },
  };
  const recovery = recoveryReport(state);
  if (recovery !== undefined) result.recovery = recovery;
  if (state.timing) {
    const { pageCacheHits, pageCacheMisses } = ctx.stats;
    result.deviceStats = state.timing.deviceStats({ userBytesWritten: state.bytesWritten, pageCacheHits, pageCacheMisses, files });
  }
  if (seconds !== undefined && !options.deterministic) {
    result.stats.replaySeconds = Math.round(seconds * 1e6) / 1e6;
    result.stats.opsPerSecond = seconds > 0 ? Math.round(state.opsTotal / seconds) : state.opsTotal;
  }
  return result;
}

function sortedCounts(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(counts).sort()) out[key] = counts[key]!;
  return out;
}

/** What the image keeps of a finished run. */
export function buildMetadata(state: ReplayState): ImageMetadata {
  const { options, ctx, policy, vfs } = state;
  const inodes = persistedInodes(vfs, ctx.blockSize);
  return {
    policy: policy.name,
    policyParams: { ...policy.params },
    blockSize: ctx.blockSize,
    deviceSize: options.deviceSize,
    seed: options.seed,
    reserved: mergeRuns([...policy.reserved, ...(policy.metadataRuns?.() ?? [])]),
    inodes,
    refcounts: sharedRefcounts(inodes),
    trace: options.traceName,
    opsApplied: state.opsTotal,
  };
}

/** Replays a trace. Rejects with UsageError/PolicyError for bad options and TraceError for a bad trace. */
export async function replay(ops: AsyncIterable<TraceOp>, options: ReplayOptions): Promise<ReplayOutcome> {
  const state = createState(options);
  const started = performance.now();
  const every = Math.max(1, options.progressEveryOps ?? 4096);
  let lastTimeUs: number | undefined;
  let interrupted = false;
  let crash: CrashSignal | undefined;
  /** Applies one op; false when the replay stops here (a crash fault or Ctrl-C). */
  const apply = (op: TraceOp): boolean => {
    try {
      step(state, op);
    } catch (error) {
      if (!(error instanceof CrashSignal)) throw error;
      crash = error;
      return false;
    }
    if (op.timeUs !== undefined) lastTimeUs = op.timeUs;
    if (options.onProgress && state.opsTotal % every === 0) options.onProgress(progressOf(state, lastTimeUs, false));
    if (options.signal?.aborted) {
      interrupted = true;
      return false;
    }
    return true;
  };
  if (isOpBatchSource(ops)) {
    // A batch at a time: one promise per batch of lines, not one per op.
    let ended = false;
    try {
      for (;;) {
        const batch = await ops.nextBatch();
        if (batch === undefined) {
          ended = true;
          break;
        }
        let going = true;
        for (let index = 0; going && index < batch.length; index++) going = apply(batch[index]!);
        if (!going) break;
      }
    } finally {
      // As a for-await that stops early (or throws): the source closes, its file too.
      if (!ended) await ops[Symbol.asyncIterator]().return?.(undefined);
    }
  } else {
    for await (const op of ops) if (!apply(op)) break;
  }
  // A dead process closes nothing and syncs nothing.
  if (crash === undefined) finish(state, interrupted);
  options.onProgress?.(progressOf(state, lastTimeUs, true));
  const seconds = (performance.now() - started) / 1000;
  const metadata = buildMetadata(state);
  const result = buildResult(state, seconds, metadata);
  if (interrupted) result.interrupted = true;
  if (crash !== undefined) {
    result.crashed = {
      fault: crash.fault.text,
      opsApplied: crash.midOp ? state.opsTotal - 1 : state.opsTotal,
      checkpointGeneration: state.lastCheckpoint?.generation ?? 0,
      checkpointOps: state.lastCheckpoint?.opsApplied ?? 0,
    };
  }
  if (options.remountAfter && !interrupted && crash === undefined) {
    // What the corpus records as files_after_remount: eviction drops in-memory preallocation.
    state.vfs.remount();
    result.filesAfterRemount = fileLayouts(state.vfs, state.ctx.blockSize);
  }
  return { result, metadata };
}

function progressOf(state: ReplayState, traceTimeUs: number | undefined, done: boolean): ReplayProgress {
  return {
    opsDone: state.opsTotal,
    opsFailed: state.errors.length,
    bytesWritten: state.bytesWritten,
    bytesRead: state.bytesRead,
    traceTimeUs,
    files: state.vfs.files().length,
    done,
  };
}


/** Sorted, touching runs joined: the image wants reserved runs sorted and disjoint. */
function mergeRuns(runs: BlockRun[]): BlockRun[] {
  const sorted = runs.map((run) => ({ ...run })).sort((a, b) => a.start - b.start);
  const out: BlockRun[] = [];
  for (const run of sorted) {
    const last = out[out.length - 1];
    if (last && last.start + last.length >= run.start) last.length = Math.max(last.length, run.start + run.length - last.start);
    else out.push(run);
  }
  return out;
}
