/**
 * What each traced syscall means for the simulated file system: one handler
 * per syscall name. Handlers decode all their arguments before touching the
 * decoder's state, so a TraceError leaves the state as it was.
 */
import type { TraceOp } from '../types.js';
import { fallocModeOf, iovecBytes, openFlagsOf, structField, whenceOf, type FdArg } from './args.js';
import type { CallContext, StraceDecoder } from './decoder.js';
import { ignoreReasonOf, kindOfPath, stripDeleted, type FdKind } from './fdstate.js';
import { parseNumber } from './syntax.js';

export type CallHandler = (decoder: StraceDecoder, context: CallContext) => void;

/** Calls that return a new fd of a non-file kind (when `-y` does not say otherwise). */
export const fdCreators: ReadonlyMap<string, FdKind> = new Map<string, FdKind>([
  ['socket', 'socket'],
  ['accept', 'socket'],
  ['accept4', 'socket'],
  ['eventfd', 'anon'],
  ['eventfd2', 'anon'],
  ['epoll_create', 'anon'],
  ['epoll_create1', 'anon'],
  ['timerfd_create', 'anon'],
  ['signalfd', 'anon'],
  ['signalfd4', 'anon'],
  ['inotify_init', 'anon'],
  ['inotify_init1', 'anon'],
  ['fanotify_init', 'anon'],
  ['memfd_create', 'anon'],
  ['userfaultfd', 'anon'],
  ['perf_event_open', 'anon'],
  ['pidfd_open', 'anon'],
  ['io_uring_setup', 'anon'],
]);

/** Calls that change file data or names in ways the TraceOp stream cannot express (counted as 'unsupported'). */
export const unsupportedCalls: ReadonlySet<string> = new Set([
  'io_submit',
  'io_uring_enter',
  'splice',
  'vmsplice',
  'tee',
  'symlink',
  'symlinkat',
  'rmdir',
  'mknod',
  'mknodat',
  'mremap',
  'open_by_handle_at',
  'process_vm_writev',
  'mmap2',
  '_llseek',
]);

// ---- open / close / dup ---------------------------------------------------------

function onOpen(variant: 'open' | 'openat' | 'openat2' | 'creat'): CallHandler {
  const pathIndex = variant === 'openat' || variant === 'openat2' ? 1 : 0;
  return (decoder, context) => {
    const { args, call } = context;
    const dirfd = pathIndex === 1 ? args.fd(0) : undefined;
    const path = args.path(pathIndex);
    let names: Set<string>;
    if (variant === 'creat') names = new Set(['O_CREAT', 'O_WRONLY', 'O_TRUNC']);
    else if (variant === 'openat2') names = new Set((structField(args.text(2), 'flags') ?? 'O_RDONLY').split('|'));
    else names = args.count > pathIndex + 1 ? args.flags(pathIndex + 1) : new Set(['O_RDONLY']);
    // Resolving also learns the working directory from an `AT_FDCWD</cwd>` decoration.
    const resolved = decoder.resolvePath(context.pid, dirfd, path);
    if (context.failed || call.result.value === null) return decoder.ignore(context.base, 'failed-open', call.name);
    const fullPath = call.result.decoration !== undefined ? stripDeleted(call.result.decoration) : resolved;
    let kind: FdKind = kindOfPath(fullPath);
    if (names.has('O_PATH')) kind = 'path-only';
    else if (names.has('O_TMPFILE')) kind = 'tmpfile';
    else if (names.has('O_DIRECTORY') || decoder.isKnownDir(fullPath)) kind = 'dir';
    decoder.installNew(context, call.result.value, kind, fullPath, names.has('O_CLOEXEC'), openFlagsOf(names));
  };
}

const onClose: CallHandler = (decoder, context) => {
  const fdArg = context.args.fd(0);
  const slot = decoder.slotOf(context.pid, fdArg);
  if (slot === undefined) return decoder.ignore(context.base, fdArg.decoration === undefined ? 'unknown-fd' : ignoreReasonOfDecoration(fdArg), 'close');
  const released = decoder.tables.close(slot);
  if (slot.file.kind !== 'file') return decoder.ignore(context.base, reasonOf(slot.file.kind), 'close');
  if (released === undefined) return decoder.ignore(context.base, 'shared-handle', 'close');
  decoder.closeReleased(released, context.base, context.traced);
};

/** dup/dup2/dup3/fcntl(F_DUPFD*): the new fd names the same open file (shared offset); no new open. */
function onDup(cloexecOf: (context: CallContext) => boolean): CallHandler {
  return (decoder, context) => {
    const oldArg = context.args.fd(0);
    const cloexec = cloexecOf(context);
    const newFd = context.call.result.value;
    if (context.failed || newFd === null || newFd === oldArg.fd) return decoder.ignore(context.base, 'fd-alias', context.call.name);
    const file = decoder.fileOf(context, oldArg);
    if (file === undefined) return decoder.ignore(context.base, 'unknown-fd', context.call.name);
    const table = decoder.tables.tableOf(context.pid);
    decoder.closeReleased(decoder.tables.install(table, newFd, file, cloexec), context.base);
    decoder.ignore(context.base, 'fd-alias', context.call.name);
  };
}

const onFcntl: CallHandler = (decoder, context) => {
  const command = context.args.text(1);
  if (command === 'F_DUPFD' || command === 'F_DUPFD_CLOEXEC') return onDup(() => command === 'F_DUPFD_CLOEXEC')(decoder, context);
  const fdArg = context.args.fd(0);
  if (command === 'F_SETFD' && !context.failed) {
    const slot = decoder.slotOf(context.pid, fdArg);
    if (slot !== undefined) decoder.tables.setCloexec(slot, context.args.text(2).includes('FD_CLOEXEC'));
  }
  // F_SETFL cannot switch O_DIRECT/O_APPEND of an open handle in the TraceOp stream.
  const changesIo = command === 'F_SETFL' && /O_DIRECT|O_APPEND/.test(context.args.text(2));
  decoder.ignore(context.base, changesIo ? 'unsupported' : 'no-effect', 'fcntl');
};

const onPipe: CallHandler = (decoder, context) => {
  const fds = /^\[(\d+)(?:<[^>]*>)?, (\d+)/.exec(context.args.text(context.call.name === 'socketpair' ? 3 : 0));
  if (context.failed || fds === null) return decoder.ignore(context.base, 'no-effect', context.call.name);
  const kind: FdKind = context.call.name === 'socketpair' ? 'socket' : 'pipe';
  // One ignored op per line: the second fd is installed silently.
  decoder.installNew(context, Number(fds[1]), kind, `${kind}:`, false, undefined, true);
  decoder.installNew(context, Number(fds[2]), kind, `${kind}:`, false, undefined, false);
};

/** close_range(first, last, flags): every fd in [first, last] closes (CLOSE_RANGE_CLOEXEC: marks them instead). */
const onCloseRange: CallHandler = (decoder, context) => {
  const first = context.args.int(0);
  const lastText = context.args.text(1);
  const last = /^(~0U?|4294967295|-1)$/.test(lastText) ? Number.MAX_SAFE_INTEGER : context.args.int(1);
  const cloexecOnly = context.args.text(2).includes('CLOSE_RANGE_CLOEXEC');
  if (!context.failed) {
    const table = decoder.tables.tableOf(context.pid);
    for (const fd of [...table.fds.keys()].filter((candidate) => candidate >= first && candidate <= last)) {
      const slot = { table, fd, file: table.fds.get(fd)!.file };
      if (cloexecOnly) decoder.tables.setCloexec(slot, true);
      else decoder.closeReleased(decoder.tables.close(slot), context.base, context.traced);
    }
  }
  decoder.ignore(context.base, 'no-effect', 'close_range');
};

// ---- data ------------------------------------------------------------------------

/** write/pwrite64/writev/pwritev/pwritev2: length = bytes returned (short writes), else what was asked. */
function onWrite(shape: 'plain' | 'vector', offsetIndex: number | null, flagsIndex: number | null): CallHandler {
  return (decoder, context) => {
    const { args } = context;
    const fdArg = args.fd(0);
    const requested = shape === 'plain' ? args.int(2) : iovecBytes(args.text(1));
    let offset = offsetIndex === null ? null : args.int(offsetIndex);
    if (offset === -1 && flagsIndex !== null) offset = null; // pwritev2 offset -1: the file position
    const dsync = flagsIndex !== null && /RWF_D?SYNC/.test(args.text(flagsIndex));
    const length = context.failed ? requested : context.call.result.value!;
    decoder.withFile(context, fdArg, (fd) => {
      if (length === 0) return decoder.ignore(context.base, 'zero-length', context.call.name);
      const op: TraceOp = { kind: 'write', ...context.base, fd, offset, length, ...(dsync ? { dsync } : {}) };
      emitTraced(decoder, context, op);
    });
  };
}

/** read/pread64/readv/preadv/preadv2: length = bytes returned. */
function onRead(shape: 'plain' | 'vector', offsetIndex: number | null): CallHandler {
  return (decoder, context) => {
    const { args } = context;
    const fdArg = args.fd(0);
    const requested = shape === 'plain' ? args.int(2) : iovecBytes(args.text(1));
    let offset = offsetIndex === null ? null : args.int(offsetIndex);
    if (offset === -1) offset = null;
    const length = context.failed ? requested : context.call.result.value!;
    decoder.withFile(context, fdArg, (fd) => {
      if (length === 0) return decoder.ignore(context.base, 'zero-length', context.call.name);
      emitTraced(decoder, context, { kind: 'read', ...context.base, fd, offset, length });
    });
  };
}

const onLseek: CallHandler = (decoder, context) => {
  const fdArg = context.args.fd(0);
  const offset = context.args.int(1);
  const whence = whenceOf(context.args.text(2));
  if (whence === null) return context.args.fail(2, 'SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA or SEEK_HOLE');
  decoder.withFile(context, fdArg, (fd) => emitTraced(decoder, context, { kind: 'seek', ...context.base, fd, offset, whence }));
};

const onFallocate: CallHandler = (decoder, context) => {
  const fdArg = context.args.fd(0);
  const mode = fallocModeOf(context.args.flags(1));
  if (mode === null) return context.args.fail(1, 'FALLOC_FL_* flags (KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE) or 0');
  const offset = context.args.int(2);
  const length = context.args.int(3);
  decoder.withFile(context, fdArg, (fd) => emitTraced(decoder, context, { kind: 'fallocate', ...context.base, fd, ...mode, offset, length }));
};

const onFtruncate: CallHandler = (decoder, context) => {
  const fdArg = context.args.fd(0);
  const size = context.args.int(1);
  decoder.withFile(context, fdArg, (fd) => emitTraced(decoder, context, { kind: 'truncate', ...context.base, fd, size }));
};

const onTruncate: CallHandler = (decoder, context) => {
  const path = decoder.resolvePath(context.pid, undefined, context.args.path(0));
  const size = context.args.int(1);
  if (pseudoPath(path)) return decoder.ignore(context.base, reasonOf(kindOfPath(path)), 'truncate');
  emitTraced(decoder, context, { kind: 'truncate', ...context.base, path, size });
};

function onFsync(dataOnly: boolean): CallHandler {
  return (decoder, context) => {
    const fdArg = context.args.fd(0);
    decoder.withFile(context, fdArg, (fd) => emitTraced(decoder, context, { kind: 'fsync', ...context.base, fd, dataOnly }));
  };
}

function onSync(scope: 'all' | 'fs'): CallHandler {
  return (decoder, context) => emitTraced(decoder, context, { kind: 'sync', ...context.base, scope });
}

/** sync_file_range(fd, off, n, flags) / sync_file_range2(fd, flags, off, n): only SYNC_FILE_RANGE_WRITE starts writeback. */
function onSyncFileRange(flagsIndex: number, offsetIndex: number): CallHandler {
  return (decoder, context) => {
    const fdArg = context.args.fd(0);
    const offset = context.args.int(offsetIndex);
    const length = context.args.int(offsetIndex + 1);
    if (!context.args.text(flagsIndex).includes('SYNC_FILE_RANGE_WRITE')) return decoder.ignore(context.base, 'no-effect', context.call.name);
    decoder.withFile(context, fdArg, (fd) => emitTraced(decoder, context, { kind: 'syncRange', ...context.base, fd, offset, length }));
  };
}

// ---- copies and clones --------------------------------------------------------------

/** copy_file_range(in, off_in, out, off_out, len, flags) and sendfile(out, in, offset, count). */
function onCopy(shape: 'copy_file_range' | 'sendfile'): CallHandler {
  return (decoder, context) => {
    const { args } = context;
    const copy = shape === 'copy_file_range';
    const srcArg = args.fd(copy ? 0 : 1);
    const dstArg = args.fd(copy ? 2 : 0);
    const srcOffset = args.intOrNull(copy ? 1 : 2);
    const dstOffset = copy ? args.intOrNull(3) : null;
    const requested = args.int(copy ? 4 : 3);
    const length = context.failed ? requested : context.call.result.value!;
    const source = decoder.fileOf(context, srcArg);
    if (source === undefined || source.kind !== 'file') return decoder.ignore(context.base, source === undefined ? 'unknown-fd' : reasonOf(source.kind), context.call.name);
    decoder.withFile(context, dstArg, (fd) => {
      if (length === 0) return decoder.ignore(context.base, 'zero-length', context.call.name);
      emitTraced(decoder, context, { kind: 'copyRange', ...context.base, srcFd: source.handle, fd, srcOffset, dstOffset, length });
    });
  };
}

/** ioctl: FICLONE / FICLONERANGE -> reflink; FS_IOC_FIEMAP with FIEMAP_FLAG_SYNC -> fiemap; the rest has no effect. */
const onIoctl: CallHandler = (decoder, context) => {
  const fdArg = context.args.fd(0);
  const request = context.args.text(1);
  const argument = context.args.text(2);
  if (/\bFICLONERANGE\b/.test(request)) {
    const srcText = structField(argument, 'src_fd');
    const srcArg = srcText === undefined ? undefined : fdArgOf(srcText);
    const numbers = ['src_offset', 'src_length', 'dest_offset'].map((field) => structField(argument, field));
    if (srcArg === undefined || numbers.some((value) => value === undefined || !/^\d+$/.test(value))) {
      return context.args.fail(2, '{src_fd=N, src_offset=N, src_length=N, dest_offset=N}');
    }
    const [srcOffset, length, dstOffset] = numbers.map((value) => parseNumber(value!)) as [number, number, number];
    return reflink(decoder, context, fdArg, srcArg, srcOffset, dstOffset, length);
  }
  if (/\bFICLONE\b/.test(request)) {
    const srcArg = fdArgOf(argument);
    if (srcArg === undefined) return context.args.fail(2, 'the source fd');
    return reflink(decoder, context, fdArg, srcArg, 0, 0, 0);
  }
  if (/\bFS_IOC_FIEMAP\b/.test(request) && (argument.split('=>')[0] ?? '').includes('FIEMAP_FLAG_SYNC')) {
    return decoder.withFile(context, fdArg, (fd) => emitTraced(decoder, context, { kind: 'fiemap', ...context.base, fd }));
  }
  decoder.ignore(context.base, 'no-effect', 'ioctl');
};

function reflink(decoder: StraceDecoder, context: CallContext, dstArg: FdArg, srcArg: FdArg, srcOffset: number, dstOffset: number, length: number): void {
  const source = decoder.fileOf(context, srcArg);
  if (source === undefined || source.kind !== 'file') return decoder.ignore(context.base, source === undefined ? 'unknown-fd' : reasonOf(source.kind), 'ioctl');
  decoder.withFile(context, dstArg, (fd) =>
    emitTraced(decoder, context, { kind: 'reflink', ...context.base, fd, srcPath: source.path, srcOffset, dstOffset, length }),
  );
}

// ---- mappings ------------------------------------------------------------------------

/** mmap(addr, len, prot, flags, fd, off): MAP_SHARED + PROT_WRITE file mappings are remembered for msync. */
const onMmap: CallHandler = (decoder, context) => {
  const { args } = context;
  const length = args.int(1);
  const prot = args.text(2);
  const flags = args.text(3);
  const fdArg = args.fd(4);
  const fileOffset = args.int(5);
  const address = context.call.result.value;
  const sharedWritable = /\bMAP_SHARED(_VALIDATE)?\b/.test(flags) && prot.includes('PROT_WRITE');
  if (context.failed || address === null || fdArg.fd < 0 || !sharedWritable) return decoder.ignore(context.base, 'no-effect', 'mmap');
  if (flags.includes('MAP_FIXED')) for (const file of decoder.mappings.remove(context.pid, address, length)) decoder.closeReleased(file, context.base);
  const file = decoder.fileOf(context, fdArg);
  if (file !== undefined && file.kind === 'file') decoder.mappings.add(context.pid, { startAddress: address, lengthBytes: length, fileOffset, file });
  decoder.ignore(context.base, 'no-effect', 'mmap');
};

const onMunmap: CallHandler = (decoder, context) => {
  const address = context.args.int(0);
  const length = context.args.int(1);
  if (!context.failed) for (const file of decoder.mappings.remove(context.pid, address, length)) decoder.closeReleased(file, context.base);
  decoder.ignore(context.base, 'no-effect', 'munmap');
};

/**
 * msync(addr, len, flags): stores through a mapping are invisible to strace,
 * so the synced range of a shared writable file mapping is modelled as
 * written (`mmapWrite`), then written back (`syncRange`) for MS_SYNC.
 */
const onMsync: CallHandler = (decoder, context) => {
  const address = context.args.int(0);
  const length = context.args.int(1);
  const flags = context.args.text(2);
  const ranges = decoder.mappings.find(context.pid, address, length);
  if (ranges.length === 0 || flags === 'MS_INVALIDATE') return decoder.ignore(context.base, 'no-effect', 'msync');
  for (const range of ranges) {
    const fields = { ...context.base, fd: range.file.handle, offset: range.offset, length: range.length };
    emitTraced(decoder, context, { kind: 'mmapWrite', ...fields });
    if (flags.includes('MS_SYNC')) emitTraced(decoder, context, { kind: 'syncRange', ...fields });
  }
};

// ---- names ---------------------------------------------------------------------------

/** Handlers of path calls: `dirfdIndex` null for the non-*at variants. */
function pathArg(decoder: StraceDecoder, context: CallContext, dirfdIndex: number | null): string {
  const dirfd = dirfdIndex === null ? undefined : context.args.fd(dirfdIndex);
  return decoder.resolvePath(context.pid, dirfd, context.args.path(dirfdIndex === null ? 0 : dirfdIndex + 1));
}

function onRename(dirfds: boolean): CallHandler {
  return (decoder, context) => {
    const from = pathArg(decoder, context, dirfds ? 0 : null);
    const to = dirfds ? pathArg(decoder, context, 2) : decoder.resolvePath(context.pid, undefined, context.args.path(1));
    if (context.call.name === 'renameat2' && context.args.text(4).includes('RENAME_EXCHANGE')) return decoder.ignore(context.base, 'unsupported', 'renameat2');
    emitTraced(decoder, context, { kind: 'rename', ...context.base, from, to });
    if (!context.failed) decoder.renamed(from, to);
  };
}

function onUnlink(dirfd: boolean): CallHandler {
  return (decoder, context) => {
    const path = pathArg(decoder, context, dirfd ? 0 : null);
    if (dirfd && context.args.text(2).includes('AT_REMOVEDIR')) return decoder.ignore(context.base, 'unsupported', 'unlinkat');
    if (pseudoPath(path)) return decoder.ignore(context.base, reasonOf(kindOfPath(path)), context.call.name);
    emitTraced(decoder, context, { kind: 'unlink', ...context.base, path });
  };
}

function onMkdir(dirfd: boolean): CallHandler {
  return (decoder, context) => {
    const path = pathArg(decoder, context, dirfd ? 0 : null);
    emitTraced(decoder, context, { kind: 'mkdir', ...context.base, path });
    if (!context.failed) decoder.addKnownDir(path);
  };
}

/** link/linkat: held until the next call; an unlink of the old name right after makes it a rename (git's object writes). */
function onLink(dirfds: boolean): CallHandler {
  return (decoder, context) => {
    const from = pathArg(decoder, context, dirfds ? 0 : null);
    const to = dirfds ? pathArg(decoder, context, 2) : decoder.resolvePath(context.pid, undefined, context.args.path(1));
    if (context.failed) return decoder.ignore(context.base, 'unsupported', context.call.name);
    decoder.holdLink({ pid: context.pid, from, to, base: context.base, traced: context.traced });
  };
}

// ---- processes and directories ----------------------------------------------------------

const onChdir: CallHandler = (decoder, context) => {
  const path = decoder.resolvePath(context.pid, undefined, context.args.path(0));
  if (!context.failed) decoder.setCwd(context.pid, path);
  decoder.ignore(context.base, 'no-effect', 'chdir');
};

const onFchdir: CallHandler = (decoder, context) => {
  const fdArg = context.args.fd(0);
  const path = fdArg.decoration !== undefined ? stripDeleted(fdArg.decoration) : decoder.slotOf(context.pid, fdArg)?.file.path;
  if (!context.failed && path !== undefined) decoder.setCwd(context.pid, path);
  decoder.ignore(context.base, 'no-effect', 'fchdir');
};

const onGetcwd: CallHandler = (decoder, context) => {
  if (!context.failed) decoder.setCwd(context.pid, context.args.path(0));
  decoder.ignore(context.base, 'no-effect', 'getcwd');
};

/** stat-like calls: a directory in the result teaches the reader that path (opens of it are not files). */
function onStat(dirfdIndex: number | null): CallHandler {
  return (decoder, context) => {
    if (!context.failed && context.call.args.some((arg) => /\b(st_mode|stx_mode)=S_IFDIR\b/.test(arg.text))) {
      const path = context.args.text((dirfdIndex ?? -1) + 1).startsWith('"') ? pathArg(decoder, context, dirfdIndex) : undefined;
      if (path !== undefined && path !== '.' && !path.endsWith('/.')) decoder.addKnownDir(path);
    }
    decoder.ignore(context.base, 'no-effect', context.call.name);
  };
}

const onExecve: CallHandler = (decoder, context) => {
  if (!context.failed && context.call.result.value !== null) decoder.execProcess(context.pid, context.base);
  decoder.ignore(context.base, 'no-effect', context.call.name);
};

/** clone/clone3/fork/vfork: the child shares (CLONE_FILES) or copies the fd table. */
const onClone: CallHandler = (decoder, context) => {
  const child = context.call.result.value;
  if (!context.failed && child !== null && child > 0) {
    const flags = context.call.args.map((arg) => arg.text).join(',');
    if (/\bCLONE_FILES\b/.test(flags)) decoder.tables.adopt(child, decoder.tables.tableOf(context.pid));
    else decoder.tables.copy(context.pid, child);
  }
  decoder.ignore(context.base, 'no-effect', context.call.name);
};

// ---- helpers ------------------------------------------------------------------------------

function emitTraced(decoder: StraceDecoder, context: CallContext, op: TraceOp): void {
  if (context.traced !== undefined) op.traced = context.traced;
  decoder.emit(op);
}

const reasonOf = ignoreReasonOf;

function ignoreReasonOfDecoration(fdArg: FdArg): string {
  const kind = kindOfPath(stripDeleted(fdArg.decoration ?? ''));
  return kind === 'file' ? 'inherited-fd' : reasonOf(kind);
}

/** Paths of pseudo file systems (/dev, /proc, /sys) never reach the simulated fs. */
function pseudoPath(path: string): boolean {
  return kindOfPath(path) !== 'file';
}

/** `3` or `3</path>` inside a struct or as a bare ioctl argument. */
function fdArgOf(text: string): FdArg | undefined {
  const match = /^(-?\d+)(<.*>)?(?:\(deleted\))?$/s.exec(text.trim());
  if (match === null) return undefined;
  return match[2] === undefined ? { fd: Number(match[1]) } : { fd: Number(match[1]), decoration: match[2].slice(1, -1) };
}

/** The handler table: syscall name -> handler. */
export const callHandlers: ReadonlyMap<string, CallHandler> = new Map<string, CallHandler>([
  ['open', onOpen('open')],
  ['openat', onOpen('openat')],
  ['openat2', onOpen('openat2')],
  ['creat', onOpen('creat')],
  ['close', onClose],
  ['dup', onDup(() => false)],
  ['dup2', onDup(() => false)],
  ['dup3', onDup((context) => context.args.text(2).includes('O_CLOEXEC'))],
  ['close_range', onCloseRange],
  ['fcntl', onFcntl],
  ['fcntl64', onFcntl],
  ['pipe', onPipe],
  ['pipe2', onPipe],
  ['socketpair', onPipe],
  ['write', onWrite('plain', null, null)],
  ['pwrite64', onWrite('plain', 3, null)],
  ['pwrite', onWrite('plain', 3, null)],
  ['writev', onWrite('vector', null, null)],
  ['pwritev', onWrite('vector', 3, null)],
  ['pwritev2', onWrite('vector', 3, 4)],
  ['read', onRead('plain', null)],
  ['pread64', onRead('plain', 3)],
  ['pread', onRead('plain', 3)],
  ['readv', onRead('vector', null)],
  ['preadv', onRead('vector', 3)],
  ['preadv2', onRead('vector', 3)],
  ['lseek', onLseek],
  ['fallocate', onFallocate],
  ['ftruncate', onFtruncate],
  ['ftruncate64', onFtruncate],
  ['truncate', onTruncate],
  ['truncate64', onTruncate],
  ['fsync', onFsync(false)],
  ['fdatasync', onFsync(true)],
  ['sync', onSync('all')],
  ['syncfs', onSync('fs')],
  ['sync_file_range', onSyncFileRange(3, 1)],
  ['sync_file_range2', onSyncFileRange(1, 2)],
  ['copy_file_range', onCopy('copy_file_range')],
  ['sendfile', onCopy('sendfile')],
  ['sendfile64', onCopy('sendfile')],
  ['ioctl', onIoctl],
  ['mmap', onMmap],
  ['munmap', onMunmap],
  ['msync', onMsync],
  ['rename', onRename(false)],
  ['renameat', onRename(true)],
  ['renameat2', onRename(true)],
  ['unlink', onUnlink(false)],
  ['unlinkat', onUnlink(true)],
  ['mkdir', onMkdir(false)],
  ['mkdirat', onMkdir(true)],
  ['link', onLink(false)],
  ['linkat', onLink(true)],
  ['chdir', onChdir],
  ['fchdir', onFchdir],
  ['getcwd', onGetcwd],
  ['stat', onStat(null)],
  ['lstat', onStat(null)],
  ['newfstatat', onStat(0)],
  ['fstatat64', onStat(0)],
  ['statx', onStat(0)],
  ['execve', onExecve],
  ['execveat', onExecve],
  ['clone', onClone],
  ['clone3', onClone],
  ['fork', onClone],
  ['vfork', onClone],
]);

