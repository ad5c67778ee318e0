/**
 * The `.xio` case format of the conformance corpus
 * (../shared/conformance/README.md, "Case syntax"): one command per line,
 * `FILE: ARGS` (one xfs_io process), `@directive ARGS`, `! SHELL`, `#`
 * comments, `\` continuations. Pure and strict: no replay semantics, no file
 * system checks; every op carries its `file:line:column`.
 */
import type { SourcePos } from '../util/errors.js';
import { TraceError } from '../util/errors.js';
import { readLineBatches } from './lines.js';
import { ShellSyntaxError, splitShellWords, type ShellWord } from './shlex.js';
import type { TraceOp } from './types.js';
import { parseXfsIoLine } from './xfsio.js';

/** The first fd number a trace hands out (0-2 are stdio, as in a real process). */
export const xioFirstFd = 3;

const CHAR_SPACE = 32;
const CHAR_TAB = 9;
const CHAR_HASH = 35;
const CHAR_AT = 64;
const CHAR_BANG = 33;
const CHAR_BACKSLASH = 92;

/**
 * Incremental `.xio` parser: feed physical lines in order, then call
 * `finish()`. Keeps the fd counter, the notional clock (sum of `@sleep`s)
 * and a pending continuation line between calls.
 */
export class XioParser {
  private nextFd = xioFirstFd;
  private clockUs = 0;
  private pendingText: string | null = null;
  private pendingLine = 0;

  /** @param file the trace's display name, used in every `src` and error. */
  constructor(readonly file: string) {}

  /**
   * Feeds physical line `line` (1-based, consecutive) and returns the ops of
   * the logical line it completes (none for comments, blanks, and lines
   * ending in `\`). Throws TraceError on a bad line.
   */
  feedLine(text: string, line: number): Iterable<TraceOp> {
    let logical = text;
    let logicalLine = line;
    if (this.pendingText !== null) {
      logical = this.pendingText + text;
      logicalLine = this.pendingLine;
      this.pendingText = null;
    } else if (isCommentOrBlank(text)) {
      return noOps;
    }
    if (logical.length > 0 && logical.charCodeAt(logical.length - 1) === CHAR_BACKSLASH) {
      // Shell-style continuation: the backslash-newline pair disappears.
      this.pendingText = logical.slice(0, -1);
      this.pendingLine = logicalLine;
      return noOps;
    }
    return this.parseLogicalLine(logical, logicalLine);
  }

  /** Ends the input: a continuation still open is an error. */
  finish(): void {
    if (this.pendingText === null) return;
    throw new TraceError(
      { file: this.file, line: this.pendingLine },
      'the last line ends in a backslash but no line follows (expected a continuation line)',
      'remove the trailing backslash',
    );
  }

  private parseLogicalLine(text: string, line: number): Iterable<TraceOp> {
    const start = firstNonBlank(text);
    const first = text.charCodeAt(start);
    if (first === CHAR_AT) return this.parseDirective(text, line, start);
    if (first === CHAR_BANG) {
      throw new TraceError(
        { file: this.file, line, column: start + 1 },
        "shell lines ('! COMMAND') cannot be replayed (expected 'FILE: ARGS' or '@directive')",
        "replay the program's strace capture instead (captured/FS/trace.strace)",
      );
    }
    const colon = text.indexOf(':', start);
    const path = colon < 0 ? '' : text.slice(start, colon).trim();
    if (colon < 0 || path.length === 0) {
      throw new TraceError(
        { file: this.file, line, column: start + 1 },
        "not an .xio line (expected 'FILE: ARGS', '@directive ARGS', '! SHELL' or '# comment')",
        'example: data.bin: -f -c "pwrite -S 0x51 0 64k" -c "fsync"',
      );
    }
    const args = this.splitWords(text, colon + 1, line);
    const fd = this.nextFd++;
    return parseXfsIoLine({ file: this.file, line, text, path, args, fd, timeUs: this.clockUs });
  }

  private splitWords(text: string, from: number, line: number): ShellWord[] {
    try {
      return splitShellWords(text, from);
    } catch (error) {
      if (!(error instanceof ShellSyntaxError)) throw error;
      throw new TraceError(
        { file: this.file, line, column: error.index + 1 },
        `${error.message} (expected shell quoting, as in -c "pwrite 0 4k")`,
      );
    }
  }

  private parseDirective(text: string, line: number, start: number): Iterable<TraceOp> {
    let nameEnd = start + 1;
    while (nameEnd < text.length && !isBlank(text.charCodeAt(nameEnd))) nameEnd++;
    const name = text.slice(start + 1, nameEnd);
    const directive = directives.get(name);
    const src: SourcePos = { file: this.file, line, column: start + 1 };
    if (directive === undefined) {
      throw new TraceError(src, `unknown directive '@${name}' (expected one of ${directiveNameList})`);
    }
    const args = this.splitWords(text, nameEnd, line);
    if (directive.arity >= 0 && args.length !== directive.arity) {
      // Too many: point at the first extra word; too few: at the end of the line, where one is missing.
      const at = args.length > directive.arity ? args[directive.arity]!.start : text.trimEnd().length;
      throw new TraceError(
        { file: this.file, line, column: at + 1 },
        `@${name} takes ${directive.arity} argument${directive.arity === 1 ? '' : 's'}, got ${args.length} (expected ${directive.usage})`,
      );
    }
    if (name === 'sleep') {
      this.clockUs += parseSleepUs(args[0]!, { file: this.file, line, column: args[0]!.start + 1 });
      return noOps;
    }
    const op = directive.make(src, this.clockUs, args.map((word) => word.value));
    return op === null ? noOps : [op];
  }
}

const noOps: readonly TraceOp[] = Object.freeze([]);

interface Directive {
  /** Number of arguments, or -1 for any. */
  arity: number;
  usage: string;
  make: (src: SourcePos, timeUs: number, args: string[]) => TraceOp | null;
}

const directives = new Map<string, Directive>([
  ['sync', { arity: 0, usage: '@sync', make: (src, timeUs) => ({ kind: 'sync', src, timeUs, scope: 'all' }) }],
  ['syncfs', { arity: 0, usage: '@syncfs', make: (src, timeUs) => ({ kind: 'sync', src, timeUs, scope: 'fs' }) }],
  ['drop_caches', { arity: 0, usage: '@drop_caches', make: (src, timeUs) => ({ kind: 'dropCaches', src, timeUs }) }],
  ['remount', { arity: 0, usage: '@remount', make: (src, timeUs) => ({ kind: 'remount', src, timeUs }) }],
  ['mkdir', { arity: 1, usage: '@mkdir PATH', make: (src, timeUs, [path]) => ({ kind: 'mkdir', src, timeUs, path: path! }) }],
  ['rename', { arity: 2, usage: '@rename SRC DST', make: (src, timeUs, [from, to]) => ({ kind: 'rename', src, timeUs, from: from!, to: to! }) }],
  ['unlink', { arity: 1, usage: '@unlink PATH', make: (src, timeUs, [path]) => ({ kind: 'unlink', src, timeUs, path: path! }) }],
  ['snapshot', { arity: 1, usage: '@snapshot LABEL', make: (src, timeUs, [label]) => ({ kind: 'snapshot', src, timeUs, label: label! }) }],
  ['sleep', { arity: 1, usage: '@sleep SECONDS', make: () => null }],
  // Block-layer recording in the real runner; nothing to replay.
  ['blocktrace', { arity: -1, usage: '@blocktrace start|stop NAME', make: () => null }],
]);

const directiveNameList = [...directives.keys()].map((name) => `@${name}`).join(', ');

/** GNU sleep's NUMBER[smhd] (decimal fractions allowed), in microseconds. */
function parseSleepUs(word: ShellWord, src: SourcePos): number {
  const text = word.value;
  const unitSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const unit = unitSeconds[text.slice(-1)];
  const numberText = unit === undefined ? text : text.slice(0, -1);
  const seconds = numberText.length > 0 && /^(\d+\.?\d*|\.\d+)$/.test(numberText) ? Number(numberText) : NaN;
  if (!Number.isFinite(seconds)) {
    throw new TraceError(src, `bad sleep duration '${text}' (expected seconds like 5, 0.5 or 2m)`);
  }
  return Math.round(seconds * (unit ?? 1) * 1e6);
}

function isBlank(code: number): boolean {
  return code === CHAR_SPACE || code === CHAR_TAB;
}

function firstNonBlank(text: string): number {
  let index = 0;
  while (index < text.length && isBlank(text.charCodeAt(index))) index++;
  return index;
}

function isCommentOrBlank(text: string): boolean {
  const start = firstNonBlank(text);
  return start === text.length || text.charCodeAt(start) === CHAR_HASH;
}

/**
 * Streams the ops of a `.xio` trace (plain or `.gz`). Each `FILE:` line
 * yields `open` (fd 3, 4, ... in order, never reused), its commands' ops,
 * `close`. `timeUs` on every op is the sum of the `@sleep`s before it.
 *
 * Complexity: O(input + ops); memory O(longest line).
 * @param displayName the name in `src.file` and errors (default `path`).
 * @throws TraceError for a missing file, a bad line (with line and column), or a `!` line.
 */
export async function* readXio(path: string, displayName: string = path): AsyncGenerator<TraceOp> {
  const parser = new XioParser(displayName);
  for await (const batch of readLineBatches(path, displayName)) {
    const { lines, firstLine } = batch;
    for (let index = 0; index < lines.length; index++) {
      yield* parser.feedLine(lines[index]!, firstLine + index);
    }
  }
  parser.finish();
}

/** Parses `.xio` text held in memory (tests, short snippets): same rules as readXio. */
export function parseXioText(text: string, displayName = 'trace.xio'): TraceOp[] {
  const parser = new XioParser(displayName);
  const ops: TraceOp[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, index) => {
    for (const op of parser.feedLine(line.endsWith('\r') ? line.slice(0, -1) : line, index + 1)) ops.push(op);
  });
  parser.finish();
  return ops;
}
