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
import { createPolicy } from '../fs/registry.js';
import { spaceUsage } from '../image/summary.js';
import type { BlockRun, ImageMetadata } from '../image/types.js';
import { RESULT_SCHEMA_VERSION, type OpErrorRecord, type ReplayResult } from '../report/model.js';
import type { TraceOp } from '../trace/types.js';
import { formatSourcePos, UsageError } from '../util/errors.js';
import { ErrnoError, errnoName } from '../util/errno.js';
import { Prng } from '../util/prng.js';
import { blockShiftOf, EngineStats, type FsContext } from '../vfs/context.js';
import { Vfs } from '../vfs/vfs.js';
import { applyOp, copyFromOutsideRoot, countIgnored, onIgnoredFd, openFlagsOf, outsideRoot, type ReplayState } from './apply.js';
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

/** Sets up the simulated filesystem for a run. */
export function createState(options: ReplayOptions): ReplayState {
  checkOptions(options);
  const deviceBlocks = options.deviceSize / options.blockSize;
  const timing = createTiming(options);
  const ctx: FsContext = {
    blockSize: options.blockSize,
    blockShift: blockShiftOf(options.blockSize),
    device: options.device ?? new MemDevice(options.deviceSize),
    freeSpace: new FreeSpace(deviceBlocks),
    stats: new EngineStats(),
    prng: new Prng(options.seed),
    io: ioSinkOf(options, timing),
    dataless: options.dataless ?? false,
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
    ...(timing === undefined ? {} : { timing }),
  };
}

/** Records an op that failed with an errno (the replay goes on). */
function recordError(state: ReplayState, op: TraceOp, errno: number, message: string, path?: string): void {
  const record: OpErrorRecord = { at: formatSourcePos({ file: op.src.file, line: op.src.line }), op: op.kind, errno: errnoName(errno), message };
  if (path !== undefined) record.path = path;
  state.errors.push(record);
}

/** Applies one op; errno failures are recorded, anything else propagates. */
export function step(state: ReplayState, op: TraceOp): void {
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
  const bytesBefore = { written: state.bytesWritten, read: state.bytesRead };
  timing?.beginOp(opIoInfo(op, openFlagsOf(state, op)));
  try {
    applyOp(state, op);
    timing?.endOp(state.bytesWritten - bytesBefore.written, state.bytesRead - bytesBefore.read);
  } catch (error) {
    timing?.endOp(state.bytesWritten - bytesBefore.written, state.bytesRead - bytesBefore.read);
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

/** Closes what the traced processes left open (process exit) and performs the final sync (not after an interrupt). */
export function finish(state: ReplayState, interrupted = false): void {
  const body = (): void => {
    for (const [key, handle] of [...state.handles]) {
      state.handles.delete(key);
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
  for await (const op of ops) {
    step(state, op);
    if (op.timeUs !== undefined) lastTimeUs = op.timeUs;
    if (options.onProgress && state.opsTotal % every === 0) options.onProgress(progressOf(state, lastTimeUs, false));
    if (options.signal?.aborted) {
      interrupted = true;
      break;
    }
  }
  finish(state, interrupted);
  options.onProgress?.(progressOf(state, lastTimeUs, true));
  const seconds = (performance.now() - started) / 1000;
  const metadata = buildMetadata(state);
  const result = buildResult(state, seconds, metadata);
  if (interrupted) result.interrupted = true;
  if (options.remountAfter && !interrupted) {
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
