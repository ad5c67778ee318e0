/**
 * The fio iolog parser as it was before the allocation-free word splitting
 * (regex words): the reference the fuzz test in fio-fuzz.test.ts compares against.
 *
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
import type { SourcePos } from '../../src/util/errors.js';
import { TraceError } from '../../src/util/errors.js';
import type { TraceLineParser } from '../../src/trace/skipbad.js';
import { createOpenFlags, type TraceOp } from '../../src/trace/types.js';

/** First fd of the iolog's files (0-2 are stdio). */
const fioFirstFd = 3;

const headerPattern = /^fio version (\d+) iolog$/;
const fileActions = new Set(['add', 'open', 'close']);
const ioActions = new Set(['read', 'write', 'sync', 'datasync', 'trim', 'wait']);
const actionList = 'add, open, close, read, write, sync, datasync, trim, wait';
const lineHint = 'fio iologs are what fio --write_iolog writes (versions 2 and 3); --skip-bad skips bad lines';

interface FioFile {
  fd: number;
  open: boolean;
}

interface Word {
  text: string;
  start: number;
}

const openFlags = createOpenFlags;

function splitWords(text: string): Word[] {
  const words: Word[] = [];
  const pattern = /\S+/g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) words.push({ text: match[0], start: match.index });
  return words;
}

function parseDecimal(text: string): number | null {
  if (text.length === 0 || text.length > 16) return null;
  let value = 0;
  for (let index = 0; index < text.length; index++) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return null;
    value = value * 10 + digit;
  }
  return Number.isSafeInteger(value) ? value : null;
}

/** The fio iolog reader's state: version, files by name, the v2 clock. */
export class ReferenceFioIologParser implements TraceLineParser {
  private version = 0;
  private readonly files = new Map<string, FioFile>();
  private nextFd = fioFirstFd;
  private clockUs = 0;
  private lastLine = 0;

  /** @param file the trace's display name, used in every `src` and error. */
  constructor(readonly file: string) {}

  parseLine(text: string, line: number, out: TraceOp[]): void {
    this.lastLine = line;
    const words = splitWords(text);
    // Blank lines and '#' comments (fio writes neither; hand-written logs use them) carry nothing.
    if (words.length === 0 || words[0]!.text.charCodeAt(0) === 35) return;
    if (this.version === 0) {
      this.header(text.trim(), line);
      return;
    }
    const timed = this.version === 3;
    const minimum = timed ? 3 : 2;
    if (words.length < minimum) {
      const shape = timed ? 'TIMESTAMP FILE ACTION [OFFSET LENGTH]' : 'FILE ACTION [OFFSET LENGTH]';
      this.fail(line, text.length, `${words.length} fields (expected '${shape}' in a version ${this.version} iolog)`);
    }
    let timeUs = this.clockUs;
    if (timed) {
      const stamp = parseDecimal(words[0]!.text);
      if (stamp === null) this.fail(line, words[0]!.start, `bad timestamp '${words[0]!.text}' (expected microseconds since the job start)`);
      timeUs = stamp;
    }
    const [name, action, ...operands] = timed ? words.slice(1) : words;
    const src: SourcePos = { file: this.file, line, column: name!.start + 1 };
    if (fileActions.has(action!.text)) {
      if (operands.length > 0) this.fail(line, operands[0]!.start, `'${action!.text}' takes no operands (expected '${name!.text} ${action!.text}')`);
      this.fileAction(name!.text, action!.text, src, timeUs, out);
    } else {
      if (!ioActions.has(action!.text)) this.fail(line, action!.start, `unknown action '${action!.text}' (expected one of ${actionList})`);
      this.ioAction(name!.text, action!, operands, src, timeUs, out);
    }
    // v3: the clock follows the timestamps (the closes at the end take the last one).
    if (timed) this.clockUs = Math.max(this.clockUs, timeUs);
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

  private ioAction(name: string, action: Word, operands: Word[], src: SourcePos, timeUs: number, out: TraceOp[]): void {
    const isSync = action.text === 'sync' || action.text === 'datasync';
    if (operands.length !== 2 && !(isSync && operands.length === 0)) {
      const at = operands.length > 2 ? operands[2]!.start : action.start + action.text.length;
      this.fail(src.line, at, `'${action.text}' takes OFFSET LENGTH, got ${operands.length} operand${operands.length === 1 ? '' : 's'} (expected '${name} ${action.text} 4096 4096')`);
    }
    const offset = operands.length === 0 ? 0 : this.bytes(operands[0]!, src.line, 'offset');
    const length = operands.length === 0 ? 0 : this.bytes(operands[1]!, src.line, 'length');
    if (action.text === 'wait') {
      // fio's v2 wait: OFFSET is ms since the job start (v3 logs carry timestamps instead).
      if (this.version === 2) this.clockUs = Math.max(this.clockUs, offset * 1000);
      return;
    }
    const file = this.files.get(name);
    if (file === undefined) this.fail(src.line, src.column! - 1, `I/O on file '${name}' before its 'add' (expected '${name} add' first)`);
    if (!file.open) {
      file.open = true;
      out.push({ kind: 'open', src, timeUs, fd: file.fd, path: name, flags: { ...openFlags } });
    }
    const base = { src, timeUs, fd: file.fd };
    if (action.text === 'read') out.push({ kind: 'read', ...base, offset, length });
    else if (action.text === 'write') out.push({ kind: 'write', ...base, offset, length });
    else if (action.text === 'trim') out.push({ kind: 'fallocate', ...base, mode: 'punch', keepSize: true, offset, length });
    else out.push({ kind: 'fsync', ...base, dataOnly: action.text === 'datasync' });
  }

  private bytes(word: Word, line: number, what: string): number {
    const value = parseDecimal(word.text);
    if (value === null) this.fail(line, word.start, `bad ${what} '${word.text}' (expected a byte count, a non-negative integer)`);
    return value;
  }

  private fail(line: number, index: number, what: string): never {
    throw new TraceError({ file: this.file, line, column: index + 1 }, what, lineHint);
  }
}
