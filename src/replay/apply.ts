/**
 * One TraceOp applied to the simulated fs: the syscall layer of the replay.
 * Failures are ErrnoErrors (recorded by the driver); a trace that uses an fd
 * it never opened is EBADF, as the kernel would answer.
 */
import type { DeviceSimulator } from '../device/model/sim.js';
import type { FsPolicy } from '../fs/types.js';
import type { FaultInjector, RecoveryRecorder } from '../fault/injector.js';
import type { OpErrorRecord, RecoveryEvent, SnapshotRecord, TracedFailureRecord } from '../report/model.js';
import { createOpenFlags, type OpenFlags, type TraceOp } from '../trace/types.js';
import { formatSourcePos } from '../util/errors.js';
import { Errno, ErrnoError } from '../util/errno.js';
import type { FsContext } from '../vfs/context.js';
import type { Handle, Vfs } from '../vfs/vfs.js';
import { mapTracePath } from './fdtable.js';
import { fileLayouts, fileLayout } from './layouts.js';
import type { ReplayOptions } from './types.js';

export interface ReplayState {
  options: ReplayOptions;
  ctx: FsContext;
  policy: FsPolicy;
  vfs: Vfs;
  /** "pid:fd" -> handle. */
  handles: Map<string, Handle>;
  /** The handle the last fd lookup found (cleared whenever `handles` changes). */
  lastHandle?: { pid: number | undefined; fd: number; handle: Handle };
  opCounts: Record<string, number>;
  opsTotal: number;
  errors: OpErrorRecord[];
  tracedFailures: TracedFailureRecord[];
  snapshots: SnapshotRecord[];
  bytesWritten: number;
  bytesRead: number;
  /** Ignored trace records by reason. */
  ignored: Record<string, number>;
  /** Files and directories the trace assumed existed before it started, created empty on first use. */
  assumed: Record<string, number>;
  /** "pid:fd" of opens whose path lies outside --root: later calls on them are ignored. */
  ignoredFds: Set<string>;
  /** The device model timing the ops (--device), when one was chosen. */
  timing?: DeviceSimulator;
  /** Where the core and policies note recovery steps (ctx.recovery). */
  recorder: RecoveryRecorder;
  /** The fault plan's decisions (ctx.faults), when a plan was given. */
  faults?: FaultInjector;
  /** Failures met and how they were recovered, in op order (capped: see recoveryEventsDropped). */
  recoveryEvents: RecoveryEvent[];
  recoveryEventsDropped: number;
  /** Invariant checks run after faulted ops. */
  invariantChecks: number;
  /** The last image checkpoint taken at a sync point (ReplayOptions.onCheckpoint). */
  lastCheckpoint?: { generation: number; opsApplied: number };
}

export function fdKey(pid: number | undefined, fd: number): string {
  return `${pid ?? 0}:${fd}`;
}

/** The open flags of the file `op` acts on (its fd), if it is open: what the device model needs to time it. */
export function openFlagsOf(state: ReplayState, op: TraceOp): OpenFlags | undefined {
  if (!('fd' in op) || typeof op.fd !== 'number') return undefined;
  return state.handles.get(fdKey(op.pid, op.fd))?.flags;
}

function handleOf(state: ReplayState, pid: number | undefined, fd: number): Handle {
  // Runs of ops on one fd (most traces): the last answer stands until an open or close changes the table.
  const last = state.lastHandle;
  if (last !== undefined && last.fd === fd && last.pid === pid) return last.handle;
  const handle = state.handles.get(fdKey(pid, fd));
  if (!handle) throw new ErrnoError(Errno.EBADF, `fd ${fd} is not open`);
  state.lastHandle = { pid, fd, handle };
  return handle;
}

function pathOf(state: ReplayState, tracePath: string): string {
  const path = mapTracePath(tracePath, state.options.root);
  if (path === undefined || path === '') throw new ErrnoError(Errno.ENOENT, `'${tracePath}' is outside the replay root`);
  return path;
}

/**
 * An open the trace records as successful found its file, or at least its
 * directory: what existed before tracing started is created empty on first use
 * (directories with mkdir -p, files as empty files) and counted in stats.assumed.
 */
function assumePreexisting(state: ReplayState, path: string, flags: OpenFlags): OpenFlags {
  const { vfs } = state;
  assumeParents(state, path);
  if (flags.create || vfs.lookup(path) || vfs.isDir(path)) return flags;
  state.assumed['file'] = (state.assumed['file'] ?? 0) + 1;
  return { ...flags, create: true };
}

/** Directories above `path` that the trace relies on: created (counted) when missing. */
function assumeParents(state: ReplayState, path: string): void {
  const parts = path.split('/');
  for (let depth = 1; depth < parts.length; depth++) {
    const dir = parts.slice(0, depth).join('/');
    if (!state.vfs.isDir(dir)) {
      state.vfs.mkdir(dir);
      state.assumed['dir'] = (state.assumed['dir'] ?? 0) + 1;
    }
  }
}

/** Whether the trace records the op as successful (strace): the replay then assumes what it needed existed. */
function succeededInTrace(op: TraceOp): boolean {
  return op.traced !== undefined && op.traced.errno === undefined;
}

/**
 * mkdir, unlink and rename that succeeded in the trace on names the empty
 * simulated fs lacks: what they touched existed before tracing (parents are
 * created, an unlinked or renamed missing file is assumed empty), counted in stats.assumed.
 */
function applyPathOp(state: ReplayState, op: Extract<TraceOp, { kind: 'mkdir' | 'unlink' | 'rename' }>): void {
  const { vfs } = state;
  const assumed = succeededInTrace(op);
  if (op.kind === 'mkdir') {
    const path = pathOf(state, op.path);
    if (assumed) assumeParents(state, path);
    vfs.mkdir(path);
  } else if (op.kind === 'unlink') {
    const path = pathOf(state, op.path);
    if (assumed && !vfs.lookup(path)) {
      state.assumed['file'] = (state.assumed['file'] ?? 0) + 1;
      return;
    }
    vfs.unlink(path);
  } else {
    const from = pathOf(state, op.from);
    const to = pathOf(state, op.to);
    if (assumed) {
      assumeParents(state, to);
      if (!vfs.lookup(from) && !vfs.isDir(from)) {
        assumeParents(state, from);
        vfs.close(vfs.open(from, { ...createOpenFlags }));
        state.assumed['file'] = (state.assumed['file'] ?? 0) + 1;
      }
    }
    vfs.rename(from, to);
  }
}

export function countIgnored(state: ReplayState, reason: string): void {
  state.ignored[reason] = (state.ignored[reason] ?? 0) + 1;
}

/** The trace fds an op acts on (to skip ops on fds opened outside the root). */
function fdsOf(op: TraceOp): number[] {
  if (op.kind === 'copyRange') return [op.srcFd, op.fd];
  if ('fd' in op && typeof op.fd === 'number') return [op.fd];
  return [];
}

/** Path ops (mkdir, unlink, rename, truncate by path) on paths outside --root are not the fs's: counted, not failed. */
export function outsideRoot(state: ReplayState, op: TraceOp): boolean {
  const root = state.options.root;
  if (root === undefined || root === '') return false;
  switch (op.kind) {
    case 'mkdir':
    case 'unlink':
      return isOutside(op.path, root);
    case 'rename':
      return isOutside(op.from, root) && isOutside(op.to, root);
    case 'truncate':
      return op.fd === undefined && op.path !== undefined && isOutside(op.path, root);
    default:
      return false;
  }
}

function isOutside(path: string, root: string): boolean {
  return mapTracePath(path, root) === undefined;
}

/**
 * copy_file_range from a file outside --root into one inside it (`cp /src/x /mnt/y`):
 * the data comes from outside, so the copy is replayed as a plain write of the same length.
 */
export function copyFromOutsideRoot(state: ReplayState, op: TraceOp): TraceOp | undefined {
  if (op.kind !== 'copyRange') return undefined;
  const srcIgnored = state.ignoredFds.has(fdKey(op.pid, op.srcFd));
  const dstIgnored = state.ignoredFds.has(fdKey(op.pid, op.fd));
  if (!srcIgnored || dstIgnored) return undefined;
  const length = op.traced?.returned ?? op.length;
  return { kind: 'write', fd: op.fd, offset: op.dstOffset, length, src: op.src, pid: op.pid, timeUs: op.timeUs };
}

/** Whether the op acts on an fd whose open was ignored; closes forget the fd. */
export function onIgnoredFd(state: ReplayState, op: TraceOp): boolean {
  if (state.ignoredFds.size === 0) return false;
  const hit = fdsOf(op).some((fd) => state.ignoredFds.has(fdKey(op.pid, fd)));
  if (hit && op.kind === 'close') state.ignoredFds.delete(fdKey(op.pid, op.fd));
  return hit;
}

/** Applies `op`. Throws ErrnoError when the syscall would fail. */
export function applyOp(state: ReplayState, op: TraceOp): void {
  const { vfs } = state;
  switch (op.kind) {
    case 'ignored':
      countIgnored(state, op.reason);
      return;
    case 'open': {
      const path = mapTracePath(op.path, state.options.root);
      if (path === undefined || path === '') {
        // Outside the replay root (libraries, /proc, the program's input): not ours.
        state.ignoredFds.add(fdKey(op.pid, op.fd));
        countIgnored(state, 'outside-root');
        return;
      }
      state.ignoredFds.delete(fdKey(op.pid, op.fd));
      const succeededInTrace = op.traced !== undefined && op.traced.errno === undefined;
      const flags = succeededInTrace ? assumePreexisting(state, path, op.flags) : op.flags;
      const handle = vfs.open(path, flags);
      const previous = state.handles.get(fdKey(op.pid, op.fd));
      if (previous && !previous.closed) vfs.close(previous);
      state.handles.set(fdKey(op.pid, op.fd), handle);
      state.lastHandle = undefined;
      return;
    }
    case 'close': {
      const handle = handleOf(state, op.pid, op.fd);
      state.handles.delete(fdKey(op.pid, op.fd));
      state.lastHandle = undefined;
      vfs.close(handle);
      return;
    }
    case 'write': {
      const result = vfs.write(handleOf(state, op.pid, op.fd), op.offset, op.length, op.fill, op.dsync ?? false);
      state.bytesWritten += result.written;
      return;
    }
    case 'read':
      state.bytesRead += vfs.read(handleOf(state, op.pid, op.fd), op.offset, op.length);
      return;
    case 'seek':
      vfs.seek(handleOf(state, op.pid, op.fd), op.offset, op.whence);
      return;
    case 'fallocate':
      vfs.fallocate(handleOf(state, op.pid, op.fd), op.mode, op.offset, op.length, op.keepSize || op.mode === 'punch');
      return;
    case 'truncate': {
      const inode = op.fd !== undefined ? handleOf(state, op.pid, op.fd).inode : vfs.lookup(pathOf(state, op.path ?? ''));
      if (!inode) throw new ErrnoError(Errno.ENOENT, `truncate '${op.path}'`);
      vfs.truncate(inode, op.size);
      return;
    }
    case 'fsync':
      vfs.fsync(handleOf(state, op.pid, op.fd), op.dataOnly);
      return;
    case 'sync':
      vfs.syncAll();
      return;
    case 'syncRange': {
      const handle = handleOf(state, op.pid, op.fd);
      vfs.writebackRange(handle.inode, op.offset, op.length === 0 ? Number.MAX_SAFE_INTEGER : op.offset + op.length);
      return;
    }
    default:
      applyNamespaceOp(state, op);
  }
}

function applyNamespaceOp(state: ReplayState, op: TraceOp): void {
  const { vfs } = state;
  switch (op.kind) {
    case 'mmapWrite':
      vfs.mmapWrite(handleOf(state, op.pid, op.fd), op.offset, op.length, op.fill);
      state.bytesWritten += op.length;
      return;
    case 'reflink':
      vfs.reflink(handleOf(state, op.pid, op.fd), pathOf(state, op.srcPath), op.srcOffset, op.dstOffset, op.length);
      return;
    case 'copyRange': {
      const written = vfs.copyRange(handleOf(state, op.pid, op.srcFd), handleOf(state, op.pid, op.fd), op.srcOffset, op.dstOffset, op.length);
      state.bytesWritten += written;
      return;
    }
    case 'mkdir':
    case 'rename':
    case 'unlink':
      applyPathOp(state, op);
      return;
    case 'remount':
      vfs.remount();
      return;
    case 'dropCaches':
      vfs.dropCaches();
      return;
    case 'snapshot':
      state.snapshots.push({ label: op.label, source: 'snapshot', at: formatSourcePos({ file: op.src.file, line: op.src.line }), files: fileLayouts(vfs, state.ctx.blockSize) });
      return;
    case 'fiemap': {
      // xfs_io fiemap passes FIEMAP_FLAG_SYNC: the file is written back first.
      const handle = handleOf(state, op.pid, op.fd);
      // filemap_write_and_wait: no journal commit, no cache flush.
      vfs.writebackRange(handle.inode, 0, Number.MAX_SAFE_INTEGER);
      const layout = fileLayout(vfs, handle.path, handle.inode, state.ctx.blockSize);
      state.snapshots.push({ label: `fiemap ${handle.path}`, source: 'fiemap', at: formatSourcePos({ file: op.src.file, line: op.src.line }), files: [layout] });
      return;
    }
    default:
      throw new ErrnoError(Errno.EINVAL, `op '${op.kind}' cannot be replayed`);
  }
}
