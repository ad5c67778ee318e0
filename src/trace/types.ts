/**
 * The TraceOp stream: every trace format parses into these records, and the
 * replay driver (src/replay) consumes them without knowing the format.
 *
 * Files are named by path relative to the trace root, and by `fd`: a
 * per-trace handle number assigned by the parser (xio: one per `FILE:` line;
 * strace: the traced process's fd, made unique with `pid`). Offsets and
 * lengths are bytes. Parsers apply no replay options (scaling, skipping).
 */
import type { SourcePos } from '../util/errors.js';

/** open(2) flags that change what the simulator does. */
export interface OpenFlags {
  create: boolean;
  truncate: boolean;
  direct: boolean;
  /** O_SYNC: every write is followed by a full fsync of the written range. */
  sync: boolean;
  /** O_DSYNC: every write is followed by fdatasync semantics. */
  dsync: boolean;
  append: boolean;
  readOnly: boolean;
}

/** fallocate(2) modes, as the kernel spells them. */
export type FallocMode = 'allocate' | 'punch' | 'zero' | 'collapse' | 'insert' | 'unshare';

interface OpBase {
  /** Where the op came from, for error messages ("trace.xio:12:5"). */
  src: SourcePos;
  /** Trace timestamp in microseconds since the trace start, when the format has one. */
  timeUs?: number;
  /** Process id in the trace (strace, blkparse), when known. */
  pid?: number;
  /** What the traced call returned, when the trace records it (strace): the replay reports divergences. */
  traced?: TracedResult;
}

/** The traced call's outcome: bytes/value returned, or the errno name it failed with. */
export interface TracedResult {
  returned?: number;
  errno?: string;
}

export interface OpenOp extends OpBase {
  kind: 'open';
  fd: number;
  path: string;
  flags: OpenFlags;
}
export interface CloseOp extends OpBase {
  kind: 'close';
  fd: number;
}
export interface WriteOp extends OpBase {
  kind: 'write';
  fd: number;
  /** Byte offset; `null` writes at the handle's current position (write(2)). */
  offset: number | null;
  length: number;
  /** Fill byte (xfs_io -S); undefined: the deterministic payload rule (docs/image-format.md). */
  fill?: number;
  /** Per-call flags (pwritev2 RWF_DSYNC etc.); open flags still apply. */
  dsync?: boolean;
}
export interface ReadOp extends OpBase {
  kind: 'read';
  fd: number;
  offset: number | null;
  length: number;
}
export interface SeekOp extends OpBase {
  kind: 'seek';
  fd: number;
  offset: number;
  whence: 'set' | 'cur' | 'end' | 'data' | 'hole';
}
export interface FallocateOp extends OpBase {
  kind: 'fallocate';
  fd: number;
  mode: FallocMode;
  /** FALLOC_FL_KEEP_SIZE (implied for punch). */
  keepSize: boolean;
  offset: number;
  length: number;
}
export interface TruncateOp extends OpBase {
  kind: 'truncate';
  /** ftruncate(fd) when fd is set, else truncate(path). */
  fd?: number;
  path?: string;
  size: number;
}
export interface FsyncOp extends OpBase {
  kind: 'fsync';
  fd: number;
  /** fdatasync(2) instead of fsync(2). */
  dataOnly: boolean;
}
/** sync(2) (`scope: 'all'`) or syncfs(2) (`scope: 'fs'`); the simulator has one fs, so both write back everything. */
export interface SyncOp extends OpBase {
  kind: 'sync';
  scope: 'all' | 'fs';
}
/** sync_file_range / msync(MS_SYNC) of a range: write back and wait. */
export interface SyncRangeOp extends OpBase {
  kind: 'syncRange';
  fd: number;
  offset: number;
  length: number;
}
/** Stores through a shared writable mapping: page_mkwrite of each page touched, then the copy. */
export interface MmapWriteOp extends OpBase {
  kind: 'mmapWrite';
  fd: number;
  offset: number;
  length: number;
  fill?: number;
}
/** FICLONE (whole file, `length` 0 and offsets 0) or FICLONERANGE. */
export interface ReflinkOp extends OpBase {
  kind: 'reflink';
  fd: number;
  srcPath: string;
  srcOffset: number;
  dstOffset: number;
  /** 0 means "the whole source file" (FICLONE, or FICLONERANGE with len 0). */
  length: number;
}
/** copy_file_range(2). */
export interface CopyRangeOp extends OpBase {
  kind: 'copyRange';
  srcFd: number;
  fd: number;
  srcOffset: number | null;
  dstOffset: number | null;
  length: number;
}
export interface MkdirOp extends OpBase {
  kind: 'mkdir';
  path: string;
}
export interface RenameOp extends OpBase {
  kind: 'rename';
  from: string;
  to: string;
}
export interface UnlinkOp extends OpBase {
  kind: 'unlink';
  path: string;
}
/** Unmount + mount: write back everything, evict every inode (drops XFS post-EOF preallocation), drop the page cache. */
export interface RemountOp extends OpBase {
  kind: 'remount';
}
/** sync; echo 3 > drop_caches. */
export interface DropCachesOp extends OpBase {
  kind: 'dropCaches';
}
/** Record every file's layout now, without syncing (fiemap without FIEMAP_FLAG_SYNC). */
export interface SnapshotOp extends OpBase {
  kind: 'snapshot';
  label: string;
}
/** fiemap with FIEMAP_FLAG_SYNC on an open file (xfs_io `fiemap`): writes the file back, records its layout. */
export interface FiemapOp extends OpBase {
  kind: 'fiemap';
  fd: number;
}

/**
 * A traced call the replay does not apply but counts: calls on pipes and
 * sockets, syscalls with no effect on file layout, lines a parser skipped.
 */
export interface IgnoredOp extends OpBase {
  kind: 'ignored';
  /** Why: 'pipe', 'socket', 'device', 'no-effect', 'unsupported', 'bad-line' ... */
  reason: string;
  /** The syscall or record name ("write", "ioctl", "Q"). */
  call: string;
}

export type TraceOp =
  | IgnoredOp
  | OpenOp
  | CloseOp
  | WriteOp
  | ReadOp
  | SeekOp
  | FallocateOp
  | TruncateOp
  | FsyncOp
  | SyncOp
  | SyncRangeOp
  | MmapWriteOp
  | ReflinkOp
  | CopyRangeOp
  | MkdirOp
  | RenameOp
  | UnlinkOp
  | RemountOp
  | DropCachesOp
  | SnapshotOp
  | FiemapOp;

export type TraceOpKind = TraceOp['kind'];

export const defaultOpenFlags: Readonly<OpenFlags> = Object.freeze({
  create: false,
  truncate: false,
  direct: false,
  sync: false,
  dsync: false,
  append: false,
  readOnly: false,
});

/** O_CREAT and nothing else: how block traces open the file a device is replayed into. */
export const createOpenFlags: Readonly<OpenFlags> = Object.freeze({ ...defaultOpenFlags, create: true });

/** A parser: an async iterator of ops over one trace file, streaming (no whole-file reads). */
export type TraceSource = AsyncIterable<TraceOp>;

/** Names of the trace formats, for --format and detection. */
export type TraceFormat = 'xio' | 'csv' | 'strace' | 'blkparse' | 'fio' | 'msr' | 'alibaba' | 'tencent';

/**
 * A TraceSource that can also hand out its ops a batch at a time (the line
 * readers): the replay loop then runs each batch synchronously. The array
 * returned is only valid until the next call.
 */
export interface OpBatchSource {
  nextBatch(): Promise<readonly TraceOp[] | undefined>;
}

export function isOpBatchSource(source: unknown): source is OpBatchSource & AsyncIterable<TraceOp> {
  return typeof (source as Partial<OpBatchSource>).nextBatch === 'function';
}
