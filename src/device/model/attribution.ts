/**
 * Which device work an op waits for, and what it copies: the link between a
 * TraceOp and the requests it submits. Buffered writes only dirty pages
 * (writeback they trigger runs in the background); fsync, sync, O_SYNC and
 * O_DSYNC writes, sync_file_range, fallocate (which writes back the range
 * first) and direct I/O (which flushes the cache over its range) wait for
 * their writeback. Read misses, direct I/O, journal writes and flushes are
 * always waited for (sim.ts).
 */
import type { OpenFlags, TraceOp } from '../../trace/types.js';
import type { OpIoInfo } from './sim.js';

/** Op kinds whose writeback the caller waits for (filemap_write_and_wait_range and friends). */
const WAITING_KINDS: ReadonlySet<string> = new Set(['fsync', 'sync', 'syncRange', 'fallocate', 'remount', 'dropCaches', 'fiemap']);

/** Bytes an op copies through the page cache, given the open flags of its file (undefined when unknown). */
function copyBytesOf(op: TraceOp, flags: OpenFlags | undefined): number {
  switch (op.kind) {
    case 'write':
    case 'read':
      return flags?.direct === true ? 0 : op.length;
    case 'mmapWrite':
      return op.length;
    case 'copyRange':
      // Read from the source's cache, written into the target's.
      return 2 * op.length;
    default:
      return 0;
  }
}

/**
 * The timing view of `op`; `flags` are the open flags of the file it acts on
 * (undefined for ops on no file or an unknown fd). O(1).
 */
export function opIoInfo(op: TraceOp, flags: OpenFlags | undefined): OpIoInfo {
  let waitsForWriteback = WAITING_KINDS.has(op.kind);
  if (op.kind === 'write') waitsForWriteback = flags !== undefined && (flags.direct || flags.sync || flags.dsync || op.dsync === true);
  if (op.kind === 'read') waitsForWriteback = flags?.direct === true;
  const info: OpIoInfo = { kind: op.kind, waitsForWriteback, copyBytes: copyBytesOf(op, flags) };
  if (op.timeUs !== undefined) info.timeUs = op.timeUs;
  if (op.pid !== undefined) info.pid = op.pid;
  return info;
}
