/**
 * fio iologs (`write_iolog`, `read_iolog`), versions 2 and 3 (fio iolog.c):
 * a header line `fio version N iolog`, then one action per line:
 *
 *   v2: FILENAME ACTION [OFFSET LENGTH]
 *   v3: TIMESTAMP_US FILENAME ACTION [OFFSET LENGTH]
 *
 * File actions `add` (declares the file), `open`, `close`; I/O actions
 * `read`, `write`, `trim` (-> fallocate punch), `sync` (-> fsync),
 * `datasync` (-> fdatasync), and `wait` (v2: OFFSET is the time since the
 * job start in ms, as fio's replay uses it: the clock advances to it).
 * File names are kept as given (replay --root strips a mount point). I/O on
 * an added file that is not open opens it (fio opens files on demand);
 * files still open at the end are closed. Blank lines and `#` comment lines
 * are skipped (fio itself writes neither).
 */
import type { SourcePos } from '../util/errors.js';
import { TraceError } from '../util/errors.js';
import { readTraceLines, type TraceLineParser, type TraceReadOptions } from './skipbad.js';
import { createOpenFlags, type TraceOp, type TraceSource } from './types.js';
import { parseDecimalBytes, parseDecimalDigits } from './digits.js';

/** One typical line, for detection messages. */
export const fioExampleLine = 'fio version 3 iolog';

/** First fd of the iolog's files (0-2 are stdio). */
export const fioFirstFd = 3;

const headerPattern = /^fio version (\d+) iolog$/;
const actionList = 'add, open, close, read, write, sync, datasync, trim, wait';
const lineHint = 'fio iologs are what fio --write_iolog writes (versions 2 and 3); --skip-bad skips bad lines';

interface FioFile {
  fd: number;
  open: boolean;
}

/** The actions of an iolog line; the first three are file actions. */
const enum Action {
  Add,
  Open,
  Close,
  Read,
  Write,
  Sync,
  Datasync,
  Trim,
  Wait,
  Unknown,
}

const actionNames: readonly string[] = ['add', 'open', 'close', 'read', 'write', 'sync', 'datasync', 'trim', 'wait'];

const openFlags = createOpenFlags;

/** Whitespace as the regex `\s` matches it (the words of a line are the runs of `\S`). */
function isSpace(code: number): boolean {
  if (code <= 32) return code === 32 || (code >= 9 && code <= 13);
  if (code < 160) return false;
  return (
    code === 160 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
    code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff
  );
}

/** The action spelled by text[start, end). */
function actionOf(text: string, start: number, end: number): Action {
  const length = end - start;
  for (let action = Action.Add; action < Action.Unknown; action++) {
    const name = actionNames[action]!;
    if (name.length === length && text.startsWith(name, start)) return action;
  }
  return Action.Unknown;
}

/**
 * The fio iolog reader's state: version, files by name, the v2 clock. Lines
 * are split into words in place (word k is text[wordStarts[k], wordEnds[k])):
 * nothing but the op and its source position is allocated per line.
 */
export class FioIologParser implements TraceLineParser {
  private version = 0;
  private readonly files = new Map<string, FioFile>();
  private nextFd = fioFirstFd;
  private clockUs = 0;
  private lastLine = 0;
  private readonly wordStarts: number[] = [];
  private readonly wordEnds: number[] = [];
  /** The file of the previous I/O line and its name: consecutive lines name the same file. */
  private lastName = '';
  private lastFile: FioFile | undefined;
  /** lastName in UTF-8, for parseLineBytes. */
  private lastNameBytes: Uint8Array = new Uint8Array(0);

  /** @param file the trace's display name, used in every `src` and error. */
  constructor(readonly file: string) {}

  /** Splits `text` into words (runs of non-whitespace); returns how many. */
  private splitWords(text: string): number {
    const length = text.length;
    let count = 0;
    let index = 0;
    for (;;) {
      while (index < length && isSpace(text.charCodeAt(index))) index++;
      if (index >= length) return count;
      this.wordStarts[count] = index;
      while (index < length && !isSpace(text.charCodeAt(index))) index++;
      this.wordEnds[count] = index;
      count++;
    }
  }

  private word(text: string, index: number): string {
    return text.slice(this.wordStarts[index]!, this.wordEnds[index]!);
  }

  parseLine(text: string, line: number, out: TraceOp[]): void {
    this.lastLine = line;
    const count = this.splitWords(text);
    // Blank lines and '#' comments (fio writes neither; hand-written logs use them) carry nothing.
    if (count === 0 || text.charCodeAt(this.wordStarts[0]!) === 35) return;
    if (this.version === 0) {
      this.header(text.trim(), line);
      return;
    }
    const timed = this.version === 3;
    const first = timed ? 1 : 0;
    if (count < first + 2) {
      const shape = timed ? 'TIMESTAMP FILE ACTION [OFFSET LENGTH]' : 'FILE ACTION [OFFSET LENGTH]';
      this.fail(line, text.length, `${count} fields (expected '${shape}' in a version ${this.version} iolog)`);
    }
    let timeUs = this.clockUs;
    if (timed) {
      const stamp = parseDecimalDigits(text, this.wordStarts[0]!, this.wordEnds[0]!);
      if (stamp === null) this.fail(line, this.wordStarts[0]!, `bad timestamp '${this.word(text, 0)}' (expected microseconds since the job start)`);
      timeUs = stamp;
    }
    const src: SourcePos = { file: this.file, line, column: this.wordStarts[first]! + 1 };
    const action = actionOf(text, this.wordStarts[first + 1]!, this.wordEnds[first + 1]!);
    const operands = count - first - 2;
    if (action <= Action.Close) {
      const name = this.word(text, first);
      const actionText = actionNames[action]!;
      if (operands > 0) this.fail(line, this.wordStarts[first + 2]!, `'${actionText}' takes no operands (expected '${name} ${actionText}')`);
      this.fileAction(name, actionText, src, timeUs, out);
    } else {
      if (action === Action.Unknown) this.fail(line, this.wordStarts[first + 1]!, `unknown action '${this.word(text, first + 1)}' (expected one of ${actionList})`);
      this.ioAction(text, first, action, operands, src, timeUs, out);
    }
    // v3: the clock follows the timestamps (the closes at the end take the last one).
    if (timed) this.clockUs = Math.max(this.clockUs, timeUs);
  }

  /**
   * TraceLineParser.parseLineBytes: the line most of a log is made of,
   * `[TIMESTAMP ]FILE write|read OFFSET LENGTH` with single spaces, on the
   * open file of the line before, parsed from its bytes without a string or
   * a split into words. Returns false (nothing done) for any other line,
   * which parseLine then reads (and reports, if bad).
   */
  parseLineBytes(bytes: Uint8Array, start: number, end: number, line: number, out: TraceOp[]): boolean {
    const file = this.lastFile;
    if (file === undefined || !file.open) return false;
    let at = start;
    let timeUs = this.clockUs;
    if (this.version === 3) {
      while (at < end && bytes[at] !== 32) at++;
      const stamp = parseDecimalBytes(bytes, start, at);
      if (stamp < 0) return false;
      timeUs = stamp;
      at++;
    } else if (this.version !== 2) {
      return false;
    }
    const name = this.lastNameBytes;
    const nameStart = at;
    if (at + name.length >= end) return false;
    for (let index = 0; index < name.length; index++) if (bytes[at + index] !== name[index]) return false;
    at += name.length;
    if (bytes[at] !== 32) return false;
    at++;
    let kind: 'write' | 'read';
    // "write " or "read "
    if (bytes[at] === 119 && bytes[at + 1] === 114 && bytes[at + 2] === 105 && bytes[at + 3] === 116 && bytes[at + 4] === 101 && bytes[at + 5] === 32) {
      kind = 'write';
      at += 6;
    } else if (bytes[at] === 114 && bytes[at + 1] === 101 && bytes[at + 2] === 97 && bytes[at + 3] === 100 && bytes[at + 4] === 32) {
      kind = 'read';
      at += 5;
    } else {
      return false;
    }
    if (at > end) return false;
    const offsetStart = at;
    while (at < end && bytes[at] !== 32) at++;
    const offset = parseDecimalBytes(bytes, offsetStart, at);
    if (offset < 0) return false;
    const length = parseDecimalBytes(bytes, at + 1, end);
    if (length < 0) return false;
    this.lastLine = line;
    // Everything before the name is ASCII: its byte offset is its column.
    const src: SourcePos = { file: this.file, line, column: nameStart - start + 1 };
    out.push({ kind, src, timeUs, fd: file.fd, offset, length });
    if (this.version === 3) this.clockUs = Math.max(this.clockUs, timeUs);
    return true;
  }

  finish(out: TraceOp[]): void {
    if (this.version === 0) {
      this.fail(Math.max(1, this.lastLine), 0, `missing header (expected 'fio version 2 iolog' or 'fio version 3 iolog' as the first line)`);
    }
    const src: SourcePos = { file: this.file, line: Math.max(1, this.lastLine) };
    for (const file of this.files.values()) {
      if (!file.open) continue;
      file.open = false;
      out.push({ kind: 'close', src, timeUs: this.clockUs, fd: file.fd });
    }
  }

  private header(text: string, line: number): void {
    const match = headerPattern.exec(text);
    if (match === null) {
      this.fail(line, 0, `missing header: '${text.slice(0, 40)}' (expected 'fio version 2 iolog' or 'fio version 3 iolog')`);
    }
    const version = Number(match[1]);
    if (version !== 2 && version !== 3) {
      throw new TraceError(
        { file: this.file, line, column: 13 },
        `fio iolog version ${version} is not supported (expected version 2 or 3)`,
        'rewrite the log with a current fio (write_iolog writes version 3)',
      );
    }
    this.version = version;
  }

  private fileAction(name: string, action: string, src: SourcePos, timeUs: number, out: TraceOp[]): void {
    const existing = this.files.get(name);
    if (action === 'add') {
      if (existing === undefined) this.files.set(name, { fd: this.nextFd++, open: false });
      return;
    }
    if (existing === undefined) this.fail(src.line, src.column! - 1, `'${action}' of file '${name}' before its 'add' (expected '${name} add' first)`);
    if (action === 'open') {
      // fio reopens an open file without closing it; one open is enough here.
      if (existing.open) return;
      existing.open = true;
      out.push({ kind: 'open', src, timeUs, fd: existing.fd, path: name, flags: { ...openFlags } });
      return;
    }
    if (!existing.open) return;
    existing.open = false;
    out.push({ kind: 'close', src, timeUs, fd: existing.fd });
  }

  /** The file name in word `index`: the previous I/O line's string when it is the same name (no string made). */
  private fileName(text: string, index: number): string {
    const start = this.wordStarts[index]!;
    const length = this.wordEnds[index]! - start;
    const last = this.lastName;
    if (this.lastFile !== undefined && last.length === length && text.startsWith(last, start)) return last;
    return text.slice(start, start + length);
  }

  /** The I/O action `action` of the line whose file name is word `first` and whose operands follow the action. */
  private ioAction(text: string, first: number, action: Action, operands: number, src: SourcePos, timeUs: number, out: TraceOp[]): void {
    const isSync = action === Action.Sync || action === Action.Datasync;
    if (operands !== 2 && !(isSync && operands === 0)) this.failOperands(text, first, action, operands, src.line);
    const offset = operands === 0 ? 0 : this.bytes(text, first + 2, src.line, 'offset');
    const length = operands === 0 ? 0 : this.bytes(text, first + 3, src.line, 'length');
    if (action === Action.Wait) {
      // fio's v2 wait: OFFSET is ms since the job start (v3 logs carry timestamps instead).
      if (this.version === 2) this.clockUs = Math.max(this.clockUs, offset * 1000);
      return;
    }
    const name = this.fileName(text, first);
    const file = name === this.lastName && this.lastFile !== undefined ? this.lastFile : this.files.get(name);
    if (file === undefined) this.fail(src.line, src.column! - 1, `I/O on file '${name}' before its 'add' (expected '${name} add' first)`);
    if (name !== this.lastName) this.lastNameBytes = Buffer.from(name, 'utf8');
    this.lastName = name;
    this.lastFile = file;
    if (!file.open) {
      file.open = true;
      out.push({ kind: 'open', src, timeUs, fd: file.fd, path: name, flags: { ...openFlags } });
    }
    const fd = file.fd;
    if (action === Action.Read) out.push({ kind: 'read', src, timeUs, fd, offset, length });
    else if (action === Action.Write) out.push({ kind: 'write', src, timeUs, fd, offset, length });
    else if (action === Action.Trim) out.push({ kind: 'fallocate', src, timeUs, fd, mode: 'punch', keepSize: true, offset, length });
    else out.push({ kind: 'fsync', src, timeUs, fd, dataOnly: action === Action.Datasync });
  }

  private failOperands(text: string, first: number, action: Action, operands: number, line: number): never {
    const actionText = actionNames[action]!;
    const at = operands > 2 ? this.wordStarts[first + 4]! : this.wordEnds[first + 1]!;
    const name = this.word(text, first);
    this.fail(line, at, `'${actionText}' takes OFFSET LENGTH, got ${operands} operand${operands === 1 ? '' : 's'} (expected '${name} ${actionText} 4096 4096')`);
  }

  private bytes(text: string, index: number, line: number, what: string): number {
    const value = parseDecimalDigits(text, this.wordStarts[index]!, this.wordEnds[index]!);
    if (value === null) this.fail(line, this.wordStarts[index]!, `bad ${what} '${this.word(text, index)}' (expected a byte count, a non-negative integer)`);
    return value;
  }

  private fail(line: number, index: number, what: string): never {
    throw new TraceError({ file: this.file, line, column: index + 1 }, what, lineHint);
  }
}

/** True when the first significant line is a fio iolog header. */
export function sniffFio(lines: readonly string[]): boolean {
  return lines.length > 0 && headerPattern.test(lines[0]!.trim());
}

/**
 * Streams the ops of a fio iolog v2 or v3 (plain or `.gz`).
 *
 * Complexity: O(input); memory O(files).
 * @throws TraceError on a missing header, an unsupported version or a bad line.
 */
export function readFio(path: string, displayName: string = path, options: TraceReadOptions = {}): TraceSource {
  return readTraceLines(path, displayName, new FioIologParser(displayName), options);
}
