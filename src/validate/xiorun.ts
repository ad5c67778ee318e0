/**
 * Replays an `.xio` case on a real mount the way the conformance corpus was
 * recorded (../shared/conformance/README.md, "How the truth was recorded"):
 * one `xfs_io ARGS FILE` process per `FILE:` line (its own open ... close,
 * the same `-c` commands), `bash -c` for `!` lines, the directives as their
 * syscalls; `FILE:` and `!` lines pinned to CPU 0 with taskset. The TraceOp
 * stream would lose the grouping of commands into one open file, which is
 * what decides e.g. XFS's close-time trimming, so `.xio` files are run line
 * by line rather than through the syscall replayer (syscalls.ts).
 */
import { mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitShellWords } from '../trace/shlex.js';
import { formatSourcePos, TraceError } from '../util/errors.js';
import { extentRecordsOf, parseXfsIoFiemapTables } from './fiemap.js';
import { runHost } from './host.js';
import type { LoopMount } from './loopmount.js';
import { throwIfInterrupted } from './loopmount.js';
import { countOp, errnoOfMessage, noteOnce, snapshotOf, type KernelRunLog } from './runlog.js';

/** One logical line of an `.xio` file: continuations joined, at its first physical line (1-based). */
export interface XioLine {
  line: number;
  text: string;
}

/** The logical lines of `.xio` text, comments and blanks dropped (the XioParser's line rules). O(text). */
export function xioLogicalLines(content: string): XioLine[] {
  const lines: XioLine[] = [];
  let pending: XioLine | null = null;
  content.split('\n').forEach((raw, index) => {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    let logical: XioLine;
    if (pending !== null) {
      logical = { line: pending.line, text: pending.text + text };
      pending = null;
    } else {
      const trimmed = text.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      logical = { line: index + 1, text };
    }
    if (logical.text.endsWith('\\')) pending = { line: logical.line, text: logical.text.slice(0, -1) };
    else lines.push(logical);
  });
  return lines;
}

/** What a line runner needs. */
export interface XioRunContext {
  mount: LoopMount;
  /** The trace as named in `at` fields ("traces/demo.xio"). */
  traceName: string;
  /** CASE_DIR of `!` lines: the trace's directory. */
  traceDir: string;
  blockSize: number;
  /** Prefix that pins a process to CPU 0 (`taskset -c 0`), or empty when taskset is missing. */
  pin: readonly string[];
  log: KernelRunLog;
}

/** Runs every line in order; a failing line is recorded and the next one runs (as the recorder did). */
export async function runXioLines(lines: readonly XioLine[], context: XioRunContext): Promise<void> {
  const scratch = join(context.mount.workDir, 'scratch');
  mkdirSync(join(scratch, 'home'), { recursive: true });
  mkdirSync(join(scratch, 'artifacts'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CASE_DIR: context.traceDir,
    MNT: context.mount.mountPoint,
    ARTIFACTS: join(scratch, 'artifacts'),
    SCRATCH: scratch,
    FS: context.mount.fs,
    LOOPDEV: context.mount.device,
    HOME: join(scratch, 'home'),
    LC_ALL: 'C',
    TZ: 'UTC',
  };
  for (const line of lines) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfInterrupted();
    runLine(line, context, env);
  }
}

function runLine(line: XioLine, context: XioRunContext, env: NodeJS.ProcessEnv): void {
  const start = line.text.length - line.text.trimStart().length;
  const body = line.text.slice(start);
  if (body.startsWith('@')) {
    runDirective(line, body, context);
    return;
  }
  const at = formatSourcePos({ file: context.traceName, line: line.line });
  if (body.startsWith('!')) {
    countOp(context.log, 'shell');
    const result = runHost([...context.pin, 'bash', '-c', body.slice(1).trim()], { cwd: context.mount.mountPoint, env });
    if (result.status !== 0) {
      context.log.errors.push({ at, op: 'shell', errno: 'EIO', message: `exit status ${result.status}: ${result.stderr.trim().split('\n').pop() ?? ''}` });
    }
    return;
  }
  const colon = body.indexOf(':');
  if (colon <= 0) throw new TraceError({ file: context.traceName, line: line.line }, "not an .xio line (expected 'FILE: ARGS')");
  const path = body.slice(0, colon).trim();
  const args = splitShellWords(body, colon + 1).map((word) => word.value);
  countOp(context.log, 'xfs_io');
  const result = runHost([...context.pin, 'xfs_io', ...args, path], { cwd: context.mount.mountPoint, env });
  recordXfsIoFailure(context.log, at, result.status, result.stderr);
  recordFiemapOutput(context, at, path, result.stdout);
}

/** A FILE: line failed when xfs_io exited non-zero or wrote to stderr (xfs_io 6.1 exits 0 after e.g. EOPNOTSUPP). */
function recordXfsIoFailure(log: KernelRunLog, at: string, status: number, stderr: string): void {
  const messages = stderr.trim() === '' ? [] : stderr.trim().split('\n');
  if (status === 0 && messages.length === 0) return;
  if (messages.length === 0) messages.push(`exit status ${status}`);
  for (const message of messages.slice(0, 8)) {
    log.errors.push({ at, op: opOfXfsIoMessage(message), errno: errnoOfMessage(message), message: message.trim() });
  }
}

const XFS_IO_COMMAND_OPS: readonly (readonly [RegExp, string])[] = [
  [/^XFS_IOC_CLONE/, 'reflink'],
  [/^(fallocate|falloc|fpunch|fzero|fcollapse|finsert|funshare)\b/, 'fallocate'],
  [/^pwrite/, 'write'],
  [/^pread/, 'read'],
  [/^f?truncate/, 'truncate'],
  [/^f(data)?sync/, 'fsync'],
  [/^(mmap|mwrite|msync|munmap)/, 'mmapWrite'],
  [/^copy_range/, 'copyRange'],
];

function opOfXfsIoMessage(message: string): string {
  const name = message.trim();
  return XFS_IO_COMMAND_OPS.find(([pattern]) => pattern.test(name))?.[1] ?? 'xfs_io';
}

/** `fiemap -v` tables in a FILE: line's output: the layout of a still-open file (snapshot source 'fiemap'). */
function recordFiemapOutput(context: XioRunContext, at: string, path: string, stdout: string): void {
  const tables = parseXfsIoFiemapTables(stdout);
  if (tables.length === 0) return;
  const stats = statSync(join(context.mount.mountPoint, path));
  for (const rows of tables) {
    const layout = { path, ino: stats.ino, size: stats.size, allocatedBlocks: Math.ceil((stats.blocks * 512) / context.blockSize), extents: extentRecordsOf(rows, context.blockSize) };
    context.log.snapshots.push({ label: `fiemap ${path}`, source: 'fiemap', at, files: [layout] });
  }
}

function runDirective(line: XioLine, body: string, context: XioRunContext): void {
  const words = splitShellWords(body, 0).map((word) => word.value);
  const name = words[0]!.slice(1);
  const mountPoint = context.mount.mountPoint;
  const at = formatSourcePos({ file: context.traceName, line: line.line });
  countOp(context.log, name);
  const pathOp = (op: string, apply: () => void): void => {
    try {
      apply();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      context.log.errors.push({ at, op, path: words[1] ?? '', errno: code, message: (error as Error).message });
    }
  };
  switch (name) {
    case 'sync':
      runHost(['sync']);
      return;
    case 'syncfs':
      runHost(['sync', '-f', mountPoint]);
      return;
    case 'drop_caches':
      runHost(['sync']);
      writeFileSync('/proc/sys/vm/drop_caches', '3');
      return;
    case 'remount':
      context.mount.remount();
      return;
    case 'mkdir':
      pathOp('mkdir', () => mkdirSync(join(mountPoint, words[1]!)));
      return;
    case 'rename':
      pathOp('rename', () => renameSync(join(mountPoint, words[1]!), join(mountPoint, words[2]!)));
      return;
    case 'unlink':
      pathOp('unlink', () => unlinkSync(join(mountPoint, words[1]!)));
      return;
    case 'sleep':
      runHost(['sleep', words[1] ?? '0']);
      return;
    case 'snapshot':
      context.log.snapshots.push(snapshotOf(mountPoint, words[1] ?? '', at, context.blockSize));
      return;
    case 'blocktrace':
      noteOnce(context.log, '@blocktrace lines are not recorded by iomapsim (no block trace is taken)');
      return;
    default:
      throw new TraceError({ file: context.traceName, line: line.line }, `unknown directive '@${name}'`);
  }
}
