/**
 * What a kernel run accumulates while it replays a trace on a real mount:
 * failed operations (in the simulator's OpErrorRecord shape, so both sides
 * compare line by line), snapshots, op counts and notes about fidelity.
 */
import type { OpErrorRecord, SnapshotRecord } from '../report/model.js';
import { Errno, errnoMessage, errnoName } from '../util/errno.js';
import { layoutOfKernelFile, readKernelTree } from './kernelfiles.js';

export interface KernelRunLog {
  errors: OpErrorRecord[];
  snapshots: SnapshotRecord[];
  /** Operations by kind (TraceOp kinds; `.xio` runs: xfs_io, shell, and directive names). */
  ops: Record<string, number>;
  opsTotal: number;
  /** Records not applied, by reason (outside-root, pipe, ...). */
  ignored: Record<string, number>;
  bytesWritten: number;
  bytesRead: number;
  /** How the run may differ from the traced program (e.g. a helper process opened a file). */
  notes: string[];
}

export function emptyRunLog(): KernelRunLog {
  return { errors: [], snapshots: [], ops: {}, opsTotal: 0, ignored: {}, bytesWritten: 0, bytesRead: 0, notes: [] };
}

export function countOp(log: KernelRunLog, kind: string): void {
  log.ops[kind] = (log.ops[kind] ?? 0) + 1;
  log.opsTotal++;
}

export function countIgnoredOp(log: KernelRunLog, reason: string): void {
  log.ignored[reason] = (log.ignored[reason] ?? 0) + 1;
}

/** Adds a note once. */
export function noteOnce(log: KernelRunLog, note: string): void {
  if (!log.notes.includes(note)) log.notes.push(note);
}

const errnoByMessage = new Map<string, string>(
  Object.values(Errno).map((value) => [errnoMessage(value), errnoName(value)]),
);

/** The errno name for a strerror text xfs_io printed ("Operation not supported" -> EOPNOTSUPP), or EIO. */
export function errnoOfMessage(text: string): string {
  for (const [message, name] of errnoByMessage) {
    if (text.includes(message)) return name;
  }
  return 'EIO';
}

/** Every file's layout now, without syncing (an `@snapshot`). */
export function snapshotOf(mountPoint: string, label: string, at: string, blockSize: number): SnapshotRecord {
  const tree = readKernelTree(mountPoint, 'nosync');
  return { label, source: 'snapshot', at, files: tree.files.map((file) => layoutOfKernelFile(file, blockSize)) };
}
