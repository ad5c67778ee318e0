/**
 * The strace decoder: StraceRecords in, TraceOps out. Owns everything that
 * spans lines: `<unfinished ...>`/`<... resumed>` pairs, the clock, the
 * per-process fd tables and mappings, working directories, and the handle
 * ids it hands out (one per open file description, from 3, never reused).
 *
 * Ops carry no `pid`: handle ids are unique across processes, so the replay
 * keys them by id alone (a dup'ed fd or a thread's fd maps to the same id).
 */
import { TraceError, type SourcePos } from '../../util/errors.js';
import type { OpenFlags, TraceOp, TracedResult } from '../types.js';
import { AT_FDCWD, CallArgs, type FdArg } from './args.js';
import { callHandlers, fdCreators, unsupportedCalls } from './calls.js';
import { FdTables, FileMappings, ignoreReasonOf, kindOfPath, stripDeleted, type FdKind, type FdSlot, type OpenFile } from './fdstate.js';
import { decodeEscapes, parseCallText, parseStraceLine, type Locate, type StraceCall, type StraceRecord } from './syntax.js';

/** The first handle id handed out (0-2 look like stdio in reports otherwise). */
export const straceFirstHandle = 3;
/** Known directories kept for classifying opens; the set is cleared when it grows past this. */
const knownDirsMax = 65_536;
const DAY_US = 86_400_000_000;
/** The pid key of lines without a pid prefix. */
const NO_PID = 0;

/** A complete call with everything a handler needs. */
export interface CallContext {
  args: CallArgs;
  call: StraceCall;
  pid: number;
  /** Source position and time of the op(s) this call produces. */
  base: { src: SourcePos; timeUs?: number };
  /** The traced outcome; undefined for `= ?`. */
  traced: TracedResult | undefined;
  /** The call returned an error (`= -1 ENOSPC (...)`). */
  failed: boolean;
}

interface PendingCall {
  name: string;
  argsText: string;
  argsOffset: number;
  line: number;
}

interface PendingLink {
  pid: number;
  from: string;
  to: string;
  base: CallContext['base'];
  traced: TracedResult | undefined;
}

export class StraceDecoder {
  readonly tables = new FdTables();
  readonly mappings = new FileMappings();
  private readonly cwdByPid = new Map<number, string>();
  private lastCwd: string | undefined;
  private readonly knownDirs = new Set<string>();
  /** Open files of kind 'file', to follow renames. */
  private readonly liveFiles = new Set<OpenFile>();
  private readonly pending = new Map<number, PendingCall>();
  private readonly attached = new Set<number>();
  private readonly live = new Set<number>();
  private pendingLink: PendingLink | undefined;
  private nextHandle = straceFirstHandle;
  private firstClockUs: number | undefined;
  private lastClockUs = 0;
  private dayOffsetUs = 0;
  private out: TraceOp[] = [];

  /** @param file the trace's display name, used in every `src` and error. */
  constructor(readonly file: string) {}

  /**
   * Feeds physical line `line` (1-based, in order); returns the ops it
   * completes. Throws TraceError for a malformed line, before changing any
   * state for syntax errors (so a caller may skip the line).
   */
  feedLine(text: string, line: number): TraceOp[] {
    const record = parseStraceLine(text, this.file, line);
    this.out = [];
    this.feedRecord(record, line);
    return this.out;
  }

  /** Ops for what is still pending at the end of the trace (unfinished calls, a held link). */
  finish(): TraceOp[] {
    this.out = [];
    this.flushLink();
    for (const [, pending] of this.pending) this.ignore({ src: { file: this.file, line: pending.line } }, 'unfinished', pending.name);
    this.pending.clear();
    return this.out;
  }

  private feedRecord(record: StraceRecord, line: number): void {
    if (record.kind === 'note') return this.noteAttach(parseAttachNote(record));
    const pid = this.pidOf(record.pid);
    const timeUs = this.timeOf(record.clockUs);
    const base = (column: number): CallContext['base'] => withTime({ src: { file: this.file, line, column } }, timeUs);
    switch (record.kind) {
      case 'exit':
        this.flushLink();
        return this.exitProcess(pid, base(1));
      case 'signal':
        return;
      case 'unfinished':
        this.pending.set(pid, { name: record.name, argsText: record.argsText, argsOffset: record.argsOffset, line });
        return;
      case 'resumed':
        return this.resume(pid, record, line, timeUs);
      case 'call': {
        const locate: Locate = (offset) => ({ file: this.file, line, column: offset + 1 });
        return this.dispatch(pid, record.call, locate, base(record.callOffset + 1));
      }
    }
  }

  private noteAttach(pid: number | undefined): void {
    if (pid !== undefined) this.attached.add(pid);
  }

  /**
   * The pid key of a record. Stderr-style logs drop the `[pid N]` prefix
   * while only one tracee runs: such lines belong to the one live pid, or
   * (before any prefix appeared) to key 0, which the first prefixed pid that
   * strace did not report as attached (the original tracee) takes over.
   */
  private pidOf(pid: number | undefined): number {
    if (pid === undefined) {
      if (this.live.size === 1) return [...this.live][0]!;
      return NO_PID;
    }
    if (!this.live.has(pid)) {
      this.live.add(pid);
      if (!this.attached.has(pid) && !this.tables.hasTable(pid) && this.tables.hasTable(NO_PID)) {
        this.tables.adopt(pid, this.tables.tableOf(NO_PID));
        this.tables.exit(NO_PID);
        const cwd = this.cwdByPid.get(NO_PID);
        if (cwd !== undefined) this.cwdByPid.set(pid, cwd);
      }
    }
    return pid;
  }

  /** Microseconds since the first timestamp; `-tt` clocks wrap at midnight. */
  private timeOf(clockUs: number | undefined): number | undefined {
    if (clockUs === undefined) return undefined;
    if (this.firstClockUs === undefined) this.firstClockUs = clockUs;
    if (clockUs < DAY_US && clockUs + DAY_US / 2 < this.lastClockUs) this.dayOffsetUs += DAY_US;
    this.lastClockUs = clockUs;
    return clockUs + this.dayOffsetUs - this.firstClockUs;
  }

  /** Joins `<... name resumed>` with its `<unfinished ...>` start; the ops sit at the resumed line. */
  private resume(pid: number, record: Extract<StraceRecord, { kind: 'resumed' }>, line: number, timeUs: number | undefined): void {
    const start = this.pending.get(pid);
    const column = record.restOffset - `<... ${record.name} resumed>`.length + 1;
    const base = withTime({ src: { file: this.file, line, column } }, timeUs);
    if (start === undefined || start.name !== record.name) {
      // The start was before the trace (strace -p) or under another name: nothing to join.
      this.ignore(base, 'orphan-resumed', record.name);
      return;
    }
    const head = `${start.name}(${start.argsText}`;
    if (record.restText.endsWith('<unfinished ...>')) {
      start.argsText += record.restText.slice(0, -'<unfinished ...>'.length);
      return;
    }
    this.pending.delete(pid);
    const locate: Locate = (offset) =>
      offset < head.length
        ? { file: this.file, line: start.line, column: start.argsOffset + (offset - start.name.length - 1) + 1 }
        : { file: this.file, line, column: record.restOffset + (offset - head.length) + 1 };
    this.dispatch(pid, parseCallText(head + record.restText, 0, locate), locate, base);
  }

  private dispatch(pid: number, call: StraceCall, locate: Locate, base: CallContext['base']): void {
    const { result } = call;
    // A negative return is a failure even when strace names no errno (`= -1 (errno 512)`).
    const failed = result.value !== null && (result.errno !== undefined || result.value < 0);
    const traced: TracedResult | undefined =
      result.value === null ? undefined : failed ? { errno: result.errno ?? 'EUNKNOWN' } : { returned: result.value };
    const context: CallContext = { args: new CallArgs(call, locate), call, pid, base, traced, failed };
    // Any `AT_FDCWD</dir>` argument tells the working directory, whatever the call.
    const first = call.args[0]?.text;
    if (first !== undefined && first.startsWith('AT_FDCWD<') && first.endsWith('>')) this.setCwd(pid, stripDeleted(decodeEscapes(first.slice(9, -1))));
    if (this.pendingLink !== undefined) {
      if (this.linkBecomesRename(context)) return;
      this.flushLink();
    }
    if (result.value === null && call.name !== 'exit_group' && call.name !== 'exit' && call.name !== 'execve') {
      return this.ignore(base, 'interrupted', call.name);
    }
    const handler = callHandlers.get(call.name);
    if (handler !== undefined) return handler(this, context);
    const creatorKind = fdCreators.get(call.name);
    if (creatorKind !== undefined && !failed && result.value !== null && result.value >= 0) {
      this.installNew(context, result.value, result.decoration === undefined ? creatorKind : kindOfPath(stripDeleted(result.decoration)), result.decoration ?? '', false);
      return;
    }
    this.ignore(base, unsupportedCalls.has(call.name) ? 'unsupported' : 'no-effect', call.name);
  }

  // ---- emitting -------------------------------------------------------------

  emit(op: TraceOp): void {
    this.out.push(op);
  }

  /** An `ignored` op (carries no `traced`: the replay would count a failed ignored call as a divergence). */
  ignore(base: CallContext['base'], reason: string, call: string): void {
    this.out.push({ kind: 'ignored', ...base, reason, call });
  }

  /** The `close` of a file whose last reference went away (no-op for other kinds). */
  closeReleased(file: OpenFile | undefined, base: CallContext['base'], traced?: TracedResult): void {
    if (file === undefined || file.kind !== 'file') return;
    this.liveFiles.delete(file);
    this.out.push(traced === undefined ? { kind: 'close', ...base, fd: file.handle } : { kind: 'close', ...base, fd: file.handle, traced });
  }

  // ---- fds -------------------------------------------------------------------

  /**
   * A new open file at `fd` of the caller's table: an `open` op for regular
   * files, an `ignored` op for the rest. Replaces (and closes) a stale entry.
   */
  installNew(context: CallContext, fd: number, kind: FdKind, path: string, cloexec: boolean, flags?: OpenFlags, announce = true): OpenFile {
    const file: OpenFile = { kind, handle: kind === 'file' ? this.nextHandle++ : 0, path, refs: 0 };
    if (kind === 'file') {
      this.liveFiles.add(file);
      const op: TraceOp = { kind: 'open', ...context.base, fd: file.handle, path, flags: flags ?? inheritedFlags() };
      if (context.traced !== undefined && flags !== undefined) op.traced = context.traced;
      this.emit(op);
    } else if (announce) {
      this.ignore(context.base, ignoreReasonOf(kind), context.call.name);
    }
    const table = this.tables.tableOf(context.pid);
    this.closeReleased(this.tables.install(table, fd, file, cloexec), context.base);
    return file;
  }

  /** The slot of an fd argument (with the sharing fallback), or undefined. */
  slotOf(pid: number, fdArg: FdArg): FdSlot | undefined {
    if (fdArg.fd < 0) return undefined;
    const decoration = fdArg.decoration === undefined ? undefined : stripDeleted(fdArg.decoration);
    return this.tables.find(pid, fdArg.fd, decoration);
  }

  /**
   * The open file behind an fd argument. An fd nobody opened in the trace
   * but decorated by `-y` was inherited (stdio, a shell redirection): it is
   * installed from its decoration, with an `open` (create, no truncate) for a
   * regular file. Undefined when unknown and undecorated.
   */
  fileOf(context: CallContext, fdArg: FdArg): OpenFile | undefined {
    const slot = this.slotOf(context.pid, fdArg);
    if (slot !== undefined) return slot.file;
    // strace decorates only open fds, but an EBADF call certainly had none to inherit.
    if (fdArg.decoration === undefined || fdArg.fd < 0 || context.traced?.errno === 'EBADF') return undefined;
    const path = stripDeleted(fdArg.decoration);
    const kind = this.knownDirs.has(path) ? 'dir' : kindOfPath(path);
    const file: OpenFile = { kind, handle: kind === 'file' ? this.nextHandle++ : 0, path, refs: 0 };
    if (kind === 'file') {
      this.liveFiles.add(file);
      this.emit({ kind: 'open', ...context.base, fd: file.handle, path, flags: inheritedFlags() });
    }
    this.tables.install(this.tables.tableOf(context.pid), fdArg.fd, file, false);
    return file;
  }

  /**
   * Runs `emitOp` with the handle of a regular file behind `fdArg`; for other
   * kinds (pipe, socket, device, directory ...) or unknown fds, an `ignored` op.
   */
  withFile(context: CallContext, fdArg: FdArg, emitOp: (handle: number, file: OpenFile) => void): void {
    const file = this.fileOf(context, fdArg);
    if (file === undefined) return this.ignore(context.base, 'unknown-fd', context.call.name);
    if (file.kind !== 'file') return this.ignore(context.base, ignoreReasonOf(file.kind), context.call.name);
    emitOp(file.handle, file);
  }

  exitProcess(pid: number, base: CallContext['base']): void {
    const start = this.pending.get(pid);
    if (start !== undefined) {
      this.ignore({ ...base, src: { file: this.file, line: start.line } }, 'unfinished', start.name);
      this.pending.delete(pid);
    }
    this.live.delete(pid);
    this.attached.delete(pid);
    this.cwdByPid.delete(pid);
    for (const file of this.mappings.exit(pid)) this.closeReleased(file, base);
    for (const file of this.tables.exit(pid)) this.closeReleased(file, base);
  }

  /** execve succeeded: close-on-exec fds close and the address space (with its mappings) is replaced. */
  execProcess(pid: number, base: CallContext['base']): void {
    for (const file of this.mappings.exit(pid)) this.closeReleased(file, base);
    for (const file of this.tables.exec(pid)) this.closeReleased(file, base);
  }

  // ---- paths -----------------------------------------------------------------

  /**
   * The absolute path of `path` relative to `dirfd` (AT_FDCWD or undefined:
   * the working directory). `-y` decorations of the dirfd give the base and,
   * for AT_FDCWD, teach the pid's working directory. Without a known base the
   * path stays relative. Paths starting with `$` (anonymised absolute
   * directories such as `$WORK` in the conformance logs) count as absolute.
   */
  resolvePath(pid: number, dirfd: FdArg | undefined, path: string): string {
    let base: string | undefined;
    if (dirfd === undefined || dirfd.fd === AT_FDCWD) {
      if (dirfd?.decoration !== undefined) this.setCwd(pid, stripDeleted(dirfd.decoration));
      base = this.cwdByPid.get(pid) ?? this.lastCwd;
    } else {
      base = dirfd.decoration !== undefined ? stripDeleted(dirfd.decoration) : this.slotOf(pid, dirfd)?.file.path;
      if (base !== undefined) this.addKnownDir(base);
    }
    if (isAbsolute(path) || base === undefined) return normalizePath(path);
    return normalizePath(`${base}/${path}`);
  }

  setCwd(pid: number, path: string): void {
    this.cwdByPid.set(pid, path);
    this.lastCwd = path;
    this.addKnownDir(path);
  }

  addKnownDir(path: string): void {
    if (this.knownDirs.size >= knownDirsMax) this.knownDirs.clear();
    this.knownDirs.add(path);
  }

  isKnownDir(path: string): boolean {
    return this.knownDirs.has(path);
  }

  /** rename(2) moved `from` to `to`: open files under it follow (for reflink sources and -y matching). */
  renamed(from: string, to: string): void {
    for (const file of this.liveFiles) {
      if (file.path === from) file.path = to;
      else if (file.path.startsWith(`${from}/`)) file.path = to + file.path.slice(from.length);
    }
  }

  // ---- link(2) -----------------------------------------------------------------

  /** Holds a successful link(from, to) until the next call: link + unlink(from) is replayed as a rename. */
  holdLink(link: PendingLink): void {
    this.pendingLink = link;
  }

  private linkBecomesRename(context: CallContext): boolean {
    const link = this.pendingLink!;
    const name = context.call.name;
    if (context.pid !== link.pid || context.failed || (name !== 'unlink' && name !== 'unlinkat')) return false;
    const dirfd = name === 'unlinkat' ? context.args.fd(0) : undefined;
    const path = this.resolvePath(context.pid, dirfd, context.args.path(name === 'unlinkat' ? 1 : 0));
    if (path !== link.from || (name === 'unlinkat' && context.args.text(2).includes('AT_REMOVEDIR'))) return false;
    this.pendingLink = undefined;
    const rename: TraceOp = { kind: 'rename', ...link.base, from: link.from, to: link.to };
    if (link.traced !== undefined) rename.traced = link.traced;
    this.emit(rename);
    this.ignore(context.base, 'link-unlink-as-rename', name);
    return true;
  }

  private flushLink(): void {
    if (this.pendingLink === undefined) return;
    this.ignore(this.pendingLink.base, 'unsupported', 'link');
    this.pendingLink = undefined;
  }

  /** A TraceError at the start of the call (for semantic errors found after parsing). */
  error(context: CallContext, what: string, expected: string): TraceError {
    return new TraceError(context.base.src, `${context.call.name}: ${what} (expected ${expected})`, 'check the strace line');
  }
}

function withTime<T extends { src: SourcePos }>(value: T, timeUs: number | undefined): T & { timeUs?: number } {
  return timeUs === undefined ? value : { ...value, timeUs };
}

/** An fd inherited from before the trace: the file existed, so create (no truncate), read-write. */
function inheritedFlags(): OpenFlags {
  return { create: true, truncate: false, direct: false, sync: false, dsync: false, append: false, readOnly: false };
}

/** The pid of `strace: Process 123 attached`, else undefined. */
function parseAttachNote(record: Extract<StraceRecord, { kind: 'note' }>): number | undefined {
  const match = /^strace: Process (\d+) attached/.exec(record.text);
  return match === null ? undefined : Number(match[1]);
}

export function isAbsolute(path: string): boolean {
  return path.startsWith('/') || path.startsWith('$');
}

/** Lexical normalisation: no `.`, `..` or doubled slashes, no trailing slash. */
export function normalizePath(path: string): string {
  const absolute = path.startsWith('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && parts.length > 0 && parts.at(-1) !== '..') parts.pop();
    else if (part !== '..' || !absolute) parts.push(part);
  }
  const joined = parts.join('/');
  return absolute ? `/${joined}` : joined === '' ? '.' : joined;
}
