/**
 * Writes a TraceOp stream as an `.xio` case (best effort; the reader is
 * xio.ts). An `.xio` line is one xfs_io process (open ... close), so each
 * open..close span of the trace becomes `FILE: FLAGS -c "..." ...` lines:
 * a span continues on a new line (same flags without -t) when another file's
 * op or a directive comes between, or after `xioCommandsPerLineMax`
 * commands. Namespace ops become `@directives`. What xio cannot say
 * (seek, I/O at the current position, copy_file_range, ignored records,
 * names with blanks or ':') becomes a `# skipped: ...` comment line.
 *
 * Known differences on read-back: every write has a fill byte (xfs_io's
 * default 0xcd when the op had none, mwrite's 'X'), timestamps are dropped,
 * and the process boundaries (opens/closes) follow the line structure.
 */
import { assert } from '../util/assert.js';
import type { OpenFlags, TraceOp } from './types.js';

/** Commands per `FILE:` line before it is continued on the next (keeps lines short for the reader). */
export const xioCommandsPerLineMax = 256;

interface Span {
  path: string;
  flags: OpenFlags;
  commands: string[];
  /** Lines already written for this span (the first carries -t). */
  linesWritten: number;
}

/** Open-flag letters of xfs_io, in the order they are written. */
const flagLetters: readonly [keyof OpenFlags, string][] = [
  ['create', 'f'],
  ['truncate', 't'],
  ['direct', 'd'],
  ['sync', 's'],
  ['dsync', 'D'],
  ['append', 'a'],
  ['readOnly', 'r'],
];

/** A name usable as FILE in `FILE: ARGS`: no blanks, quotes or ':', not starting like a comment, directive or shell line. */
function isXioFileName(path: string): boolean {
  return path !== '' && !/[\s:"'\\]/.test(path) && !/^[#@!]/.test(path);
}

/** A word for a directive argument (shell-split by the reader): bare when safe, else single-quoted; null when impossible. */
function directiveWord(text: string): string | null {
  if (text === '' || text.includes("'") || text.includes('\n')) return null;
  return /^[\w@%+=,./-]+$/.test(text) ? text : `'${text}'`;
}

function hex(byte: number): string {
  return '0x' + byte.toString(16).padStart(2, '0');
}

/**
 * Streaming `.xio` writer: `write` each op in order, then `finish`. Lines
 * go to `emit` without terminator. Memory O(open files x commands per line).
 */
export class XioWriter {
  private readonly spans = new Map<string, Span>();
  /** The span whose commands are pending (at most one has any). */
  private pending: Span | null = null;
  /** Ops written as `# skipped` comments. */
  skipped = 0;

  constructor(private readonly emit: (line: string) => void) {}

  /** Writes one op (or queues its command on its file's line). */
  write(op: TraceOp): void {
    switch (op.kind) {
      case 'open':
        return this.open(op.pid, op.fd, op.path, op.flags, op);
      case 'close':
        return this.close(op.pid, op.fd);
      case 'sync':
        return this.directive(op.scope === 'all' ? '@sync' : '@syncfs');
      case 'remount':
        return this.directive('@remount');
      case 'dropCaches':
        return this.directive('@drop_caches');
      case 'mkdir':
      case 'unlink':
        return this.directiveWith(op, `@${op.kind}`, [op.path]);
      case 'rename':
        return this.directiveWith(op, '@rename', [op.from, op.to]);
      case 'snapshot':
        return this.directiveWith(op, '@snapshot', [op.label]);
      case 'truncate':
        if (op.fd !== undefined) return this.command(op, [`truncate ${op.size}`]);
        return this.pathTruncate(op, op.path ?? '', op.size);
      default:
        return this.command(op, commandsOf(op));
    }
  }

  /** Writes the lines still pending (spans never closed in the trace). */
  finish(): void {
    this.flushPending();
    this.spans.clear();
  }

  private open(pid: number | undefined, fd: number, path: string, flags: OpenFlags, op: TraceOp): void {
    const key = spanKey(pid, fd);
    const previous = this.spans.get(key);
    if (previous !== undefined) this.endSpan(key, previous);
    if (!isXioFileName(path)) {
      this.skip(op, `open of '${path}': xio file names have no blanks, quotes or ':'`);
      return;
    }
    this.spans.set(key, { path, flags, commands: [], linesWritten: 0 });
  }

  private close(pid: number | undefined, fd: number): void {
    const key = spanKey(pid, fd);
    const span = this.spans.get(key);
    if (span !== undefined) this.endSpan(key, span);
  }

  /** A span ends: its pending commands go out; a span with no line yet still gets one (its open may create or truncate). */
  private endSpan(key: string, span: Span): void {
    if (this.pending !== null && this.pending !== span) this.flushPending();
    if (span.commands.length > 0 || span.linesWritten === 0) this.writeSpanLine(span);
    if (this.pending === span) this.pending = null;
    this.spans.delete(key);
  }

  private command(op: TraceOp, commands: string[] | string): void {
    if (typeof commands === 'string') {
      this.skip(op, commands);
      return;
    }
    const fd = 'fd' in op && typeof op.fd === 'number' ? op.fd : -1;
    const span = this.spans.get(spanKey(op.pid, fd));
    if (span === undefined) {
      this.skip(op, `fd ${fd} is not open in the trace (or its open was skipped)`);
      return;
    }
    if (this.pending !== span) this.flushPending();
    span.commands.push(...commands);
    this.pending = span;
    if (span.commands.length >= xioCommandsPerLineMax) this.flushPending();
  }

  private directive(text: string): void {
    this.flushPending();
    this.emit(text);
  }

  private directiveWith(op: TraceOp, name: string, args: string[]): void {
    const words = args.map(directiveWord);
    if (words.some((word) => word === null)) {
      this.skip(op, `${name} argument with a quote or line break`);
      return;
    }
    this.directive(`${name} ${words.join(' ')}`);
  }

  private pathTruncate(op: TraceOp, path: string, size: number): void {
    if (!isXioFileName(path)) {
      this.skip(op, `truncate of '${path}': xio file names have no blanks, quotes or ':'`);
      return;
    }
    this.directive(`${path}: -c "truncate ${size}"`);
  }

  private flushPending(): void {
    const span = this.pending;
    this.pending = null;
    if (span !== null && span.commands.length > 0) this.writeSpanLine(span);
  }

  private writeSpanLine(span: Span): void {
    let flags = '';
    for (const [name, letter] of flagLetters) {
      // O_TRUNC applies once: a continuation line must not empty the file again.
      if (span.flags[name] && !(name === 'truncate' && span.linesWritten > 0)) flags += letter;
    }
    const words = [`${span.path}:`];
    if (flags !== '') words.push(`-${flags}`);
    for (const command of span.commands) words.push(`-c "${command}"`);
    this.emit(words.join(' '));
    span.commands.length = 0;
    span.linesWritten++;
  }

  private skip(op: TraceOp, why: string): void {
    this.skipped++;
    this.emit(`# skipped: ${describe(op)} (${why})`);
  }
}

function spanKey(pid: number | undefined, fd: number): string {
  return `${pid ?? 0}:${fd}`;
}

/** The xfs_io commands of an fd op, or why there are none. */
function commandsOf(op: TraceOp): string[] | string {
  switch (op.kind) {
    case 'write': {
      if (op.offset === null) return 'write at the current position';
      if (op.length === 0) return 'zero-length write';
      const fill = op.fill === undefined ? '' : ` -S ${hex(op.fill)}`;
      return [`pwrite -b ${op.length}${fill}${op.dsync === true ? ' -D' : ''} ${op.offset} ${op.length}`];
    }
    case 'read':
      if (op.offset === null) return 'read at the current position';
      if (op.length === 0) return 'zero-length read';
      return [`pread -b ${op.length} ${op.offset} ${op.length}`];
    case 'fallocate':
      return [fallocateCommand(op.mode, op.keepSize, op.offset, op.length)];
    case 'fsync':
      return [op.dataOnly ? 'fdatasync' : 'fsync'];
    case 'syncRange':
      if (op.length === 0) return 'sync_file_range to the end of the file';
      return [`mmap -r ${op.offset} ${op.length}`, `msync -s ${op.offset} ${op.length}`, 'munmap'];
    case 'mmapWrite': {
      const fill = op.fill === undefined ? '' : ` -S ${hex(op.fill)}`;
      return [`mmap -rw ${op.offset} ${op.length}`, `mwrite${fill} ${op.offset} ${op.length}`, 'munmap'];
    }
    case 'reflink':
      if (!isXioFileName(op.srcPath)) return `reflink source '${op.srcPath}' has blanks, quotes or ':'`;
      if (op.length === 0 && op.srcOffset === 0 && op.dstOffset === 0) return [`reflink ${op.srcPath}`];
      return [`reflink ${op.srcPath} ${op.srcOffset} ${op.dstOffset} ${op.length}`];
    case 'fiemap':
      return ['fiemap'];
    case 'seek':
      return 'xio has no seek';
    case 'copyRange':
      return 'xio has no copy_file_range';
    case 'ignored':
      return `ignored record, reason ${op.reason}`;
    default:
      assert(false, 'commandsOf: not an fd op', { kind: op.kind });
  }
}

function fallocateCommand(mode: string, keepSize: boolean, offset: number, length: number): string {
  const operands = `${offset} ${length}`;
  switch (mode) {
    case 'allocate':
      return `falloc${keepSize ? ' -k' : ''} ${operands}`;
    case 'punch':
      return `fpunch ${operands}`;
    case 'zero':
      return `fzero${keepSize ? ' -k' : ''} ${operands}`;
    case 'collapse':
      return `fcollapse ${operands}`;
    case 'insert':
      return `finsert ${operands}`;
    default:
      return `funshare ${operands}`;
  }
}

/** `file:line op` for skipped-op comments. */
function describe(op: TraceOp): string {
  const call = op.kind === 'ignored' ? `${op.call}` : op.kind;
  return `${op.src.file}:${op.src.line} ${call}`;
}

/** The comment lines that start a converted `.xio` file. */
export function xioHeaderLines(traceName: string, format: string): string[] {
  return [
    `# converted by iomapsim convert from ${traceName} (${format}); best effort, see docs/trace-formats.md`,
    '# writes without a fill byte use xfs_io\'s default 0xcd; timestamps are dropped',
  ];
}
