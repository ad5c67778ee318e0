/**
 * blkparse default text output (blktrace 1.2, `%D %2c %8s %5T.%9t %5p %2a %3d`
 * then the action's payload), replayed as fio's and btreplay's replays do:
 * only Q (queued) events become ops; every other action (G, I, D, C, M, P,
 * U, X, ...) is checked for a well-formed prefix and dropped. A device
 * `MAJ,MIN` is replayed into the file `dev-MAJ,MIN.img` (see blockfile.ts).
 *
 * RWBS (blkparse_fmt.c fill_rwbs): an optional leading F (PREFLUSH) ->
 * fsync before the data; the operation W/R/D/N; then F (FUA), A, S, M, E.
 * W -> write (dsync when S or FUA), R -> read, D -> fallocate punch, N (no
 * data) -> nothing. Sectors are 512 bytes; timestamps (s.ns) become µs.
 * The per-CPU/total summary at the end of the output is skipped; blank
 * lines and `#` comment lines (not written by blkparse) are allowed.
 */
import type { SourcePos } from '../util/errors.js';
import { TraceError } from '../util/errors.js';
import { BlockDeviceFiles, sectorBytes } from './blockfile.js';
import { readTraceLines, type TraceLineParser, type TraceReadOptions } from './skipbad.js';
import type { TraceOp, TraceSource } from './types.js';
import { parseDecimalDigits } from './digits.js';

/** One typical line, for detection messages. */
export const blkparseExampleLine = '  8,0    1        1     0.000000000  6331  Q  WS 327680 + 8192 [fio]';

/** blkparse action codes (blkparse_fmt.c); only Q is replayed. */
const knownActions = new Set(['Q', 'G', 'I', 'D', 'C', 'M', 'F', 'P', 'U', 'UT', 'T', 'S', 'X', 'A', 'B', 'R', 'm', 'N']);
const actionList = 'Q, G, I, D, C, M, F, P, U, UT, T, S, X, A, B, R, m';

const lineHint = 'the blkparse reader reads blkparse default output (no -f/-F formats); --skip-bad skips bad lines';

/** What the RWBS letters of a Q event ask for. */
export interface Rwbs {
  preflush: boolean;
  op: 'write' | 'read' | 'discard' | 'none';
  fua: boolean;
  sync: boolean;
}

/**
 * Parses RWBS letters (fill_rwbs: [F] W|R|D|N [F] [A] [S] [M], E after D for
 * secure erase). Returns null when the letters are not in that grammar.
 */
export function parseRwbs(text: string): Rwbs | null {
  let index = 0;
  const rwbs: Rwbs = { preflush: false, op: 'none', fua: false, sync: false };
  if (text[0] === 'F' && text.length > 1 && 'WRDN'.includes(text[1]!)) {
    rwbs.preflush = true;
    index = 1;
  }
  const opLetter = text[index];
  if (opLetter === 'W') rwbs.op = 'write';
  else if (opLetter === 'R') rwbs.op = 'read';
  else if (opLetter === 'D') rwbs.op = 'discard';
  else if (opLetter === 'F' && text.length === 1) rwbs.preflush = true; // the kernel's own "F": a flush request
  else if (opLetter !== 'N') return null;
  index++;
  if (rwbs.op === 'discard' && text[index] === 'E') index++; // secure erase: still a discard
  if (text[index] === 'F') {
    rwbs.fua = true;
    index++;
  }
  if (text[index] === 'A') index++; // readahead
  if (text[index] === 'S') {
    rwbs.sync = true;
    index++;
  }
  if (text[index] === 'M') index++; // metadata
  return index === text.length ? rwbs : null;
}

/** Most fields a line is split into: 7 common ones, `SECTOR + COUNT`, and the start of `[process]`. */
const fieldsMax = 11;

/** Blank-separated fields of one line as [start, end) offsets, reused from line to line (no allocation per field). */
class LineFields {
  readonly starts = new Int32Array(fieldsMax);
  readonly ends = new Int32Array(fieldsMax);
  count = 0;
  text = '';

  split(text: string): void {
    this.text = text;
    this.count = 0;
    let position = 0;
    while (this.count < fieldsMax) {
      let code = text.charCodeAt(position);
      while (code === 32 || code === 9) code = text.charCodeAt(++position);
      if (position >= text.length) break;
      this.starts[this.count] = position;
      while (position < text.length && code !== 32 && code !== 9) code = text.charCodeAt(++position);
      this.ends[this.count++] = position;
    }
  }

  field(index: number): string {
    return this.text.slice(this.starts[index]!, this.ends[index]!);
  }

  /** Field `index` as a decimal integer; null when it is not one. */
  decimal(index: number): number | null {
    return parseDecimalDigits(this.text, this.starts[index]!, this.ends[index]!);
  }

  is(index: number, value: string): boolean {
    const start = this.starts[index]!;
    return this.ends[index]! - start === value.length && this.text.startsWith(value, start);
  }
}

/** A decimal integer without sign in text[start, end); null otherwise or beyond 2^53. */

function parseDecimal(text: string): number | null {
  return parseDecimalDigits(text, 0, text.length);
}

/** `SECONDS.NANOSECONDS` (1 to 9 fraction digits) as whole µs; null when malformed. */
export function parseBlkparseTimeUs(text: string): number | null {
  const dot = text.indexOf('.');
  if (dot <= 0 || dot === text.length - 1 || text.length - dot - 1 > 9) return null;
  const seconds = parseDecimal(text.slice(0, dot));
  const fraction = parseDecimal(text.slice(dot + 1));
  if (seconds === null || fraction === null) return null;
  const nanoseconds = fraction * 10 ** (9 - (text.length - dot - 1));
  return seconds * 1_000_000 + Math.floor(nanoseconds / 1000);
}

/** The blkparse reader's state: device files, and whether the summary at the end has begun. */
export class BlkparseParser implements TraceLineParser {
  private readonly files = new BlockDeviceFiles('dev');
  private readonly fields = new LineFields();
  private inSummary = false;
  private lastLine = 0;
  private lastTimeUs: number | undefined;

  /** @param file the trace's display name, used in every `src` and error. */
  constructor(readonly file: string) {}

  parseLine(text: string, line: number, out: TraceOp[]): void {
    this.lastLine = line;
    if (this.inSummary) return;
    const first = text.charCodeAt(0);
    if (first !== 32 && !(first >= 48 && first <= 57)) {
      if (text === '' || first === 35) return; // blank, or a '#' comment (as every format here allows)
      if (/^(CPU\d+|Total) \(/.test(text)) {
        this.inSummary = true;
        return;
      }
      this.fail(line, 0, `not a blkparse event line: '${clip(text)}' (expected 'MAJ,MIN CPU SEQ SECONDS.NS PID ACTION RWBS ...')`);
    }
    const fields = this.fields;
    fields.split(text);
    if (fields.count === 0) return;
    if (fields.count < 7) {
      this.fail(line, text.length, `${fields.count} fields, blkparse events have at least 7 (expected 'MAJ,MIN CPU SEQ SECONDS.NS PID ACTION RWBS ...')`);
    }
    this.checkDevice(line);
    this.number(1, line, 'CPU number');
    this.number(2, line, 'sequence number');
    const timeUs = parseBlkparseTimeUs(fields.field(3));
    if (timeUs === null) this.fail(line, fields.starts[3]!, `bad timestamp '${fields.field(3)}' (expected SECONDS.NANOSECONDS, e.g. 0.000034141)`);
    const pid = this.number(4, line, 'pid');
    if (!fields.is(5, 'Q')) {
      const action = fields.field(5);
      if (!knownActions.has(action)) this.fail(line, fields.starts[5]!, `unknown action '${action}' (expected one of ${actionList})`);
      return;
    }
    this.lastTimeUs = timeUs;
    this.queued(line, pid, timeUs, out);
  }

  finish(out: TraceOp[]): void {
    const src: SourcePos = { file: this.file, line: Math.max(1, this.lastLine) };
    this.files.closeAll(src, this.lastTimeUs, out);
  }

  /** A Q event: `RWBS [comm]` (no data) or `RWBS SECTOR + COUNT [comm]`. */
  private queued(line: number, pid: number, timeUs: number, out: TraceOp[]): void {
    const fields = this.fields;
    const rwbs = parseRwbs(fields.field(6));
    if (rwbs === null) {
      this.fail(line, fields.starts[6]!, `bad RWBS '${fields.field(6)}' (expected [F] then W, R, D or N, then F, A, S, M, e.g. WS or FWFSM)`);
    }
    let offsetBytes = 0;
    let lengthBytes = 0;
    if (fields.count > 7 && fields.text.charCodeAt(fields.starts[7]!) !== 91) {
      if (fields.count < 9 || !fields.is(8, '+')) {
        this.fail(line, fields.count < 9 ? fields.text.length : fields.starts[8]!, "missing '+' after the sector (expected 'SECTOR + COUNT [process]')");
      }
      if (fields.count < 10) this.fail(line, fields.text.length, "missing sector count (expected 'SECTOR + COUNT [process]')");
      offsetBytes = this.number(7, line, 'sector') * sectorBytes;
      lengthBytes = this.number(9, line, 'sector count') * sectorBytes;
      if (fields.count > 10 && fields.text.charCodeAt(fields.starts[10]!) !== 91) {
        this.fail(line, fields.starts[10]!, `unexpected '${fields.field(10)}' after the sector count (expected '[process]')`);
      }
    }
    const hasData = lengthBytes > 0;
    if (!rwbs.preflush && (!hasData || rwbs.op === 'none')) return;
    const src: SourcePos = { file: this.file, line, column: 1 };
    const fd = this.files.fdFor(fields.field(0), pid, src, timeUs, out);
    this.emitQueued(rwbs, { src, timeUs, pid, fd }, offsetBytes, lengthBytes, out);
  }

  private emitQueued(rwbs: Rwbs, base: { src: SourcePos; timeUs: number; pid: number; fd: number }, offset: number, length: number, out: TraceOp[]): void {
    // PREFLUSH: the device cache is flushed before the data is written.
    if (rwbs.preflush) out.push({ kind: 'fsync', ...base, dataOnly: false });
    if (length === 0) return;
    if (rwbs.op === 'write') {
      out.push(rwbs.sync || rwbs.fua ? { kind: 'write', ...base, offset, length, dsync: true } : { kind: 'write', ...base, offset, length });
    } else if (rwbs.op === 'read') {
      out.push({ kind: 'read', ...base, offset, length });
    } else if (rwbs.op === 'discard') {
      out.push({ kind: 'fallocate', ...base, mode: 'punch', keepSize: true, offset, length });
    }
  }

  private checkDevice(line: number): void {
    const { text, starts, ends } = this.fields;
    const start = starts[0]!;
    const end = ends[0]!;
    const comma = text.indexOf(',', start);
    if (comma <= start || comma >= end || parseDecimalDigits(text, start, comma) === null || parseDecimalDigits(text, comma + 1, end) === null) {
      this.fail(line, start, `bad device '${this.fields.field(0)}' (expected MAJOR,MINOR, e.g. 8,0)`);
    }
  }

  private number(index: number, line: number, what: string): number {
    const value = this.fields.decimal(index);
    if (value === null) this.fail(line, this.fields.starts[index]!, `bad ${what} '${this.fields.field(index)}' (expected a non-negative integer)`);
    return value;
  }

  private fail(line: number, index: number, what: string): never {
    throw new TraceError({ file: this.file, line, column: index + 1 }, what, lineHint);
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** True when the first significant lines look like blkparse default output. */
export function sniffBlkparse(lines: readonly string[]): boolean {
  if (lines.length === 0) return false;
  return lines.slice(0, 4).every((text) => /^\s*\d+,\d+\s+\d+\s+\d+\s+\d+\.\d{1,9}\s+\d+\s+[A-Za-z]{1,2}\s/.test(text));
}

/**
 * Streams the ops of blkparse default output (plain or `.gz`).
 *
 * Complexity: O(input); memory O(devices x processes).
 * @throws TraceError on a malformed event line (unless options.badLines skips it).
 */
export function readBlkparse(path: string, displayName: string = path, options: TraceReadOptions = {}): TraceSource {
  return readTraceLines(path, displayName, new BlkparseParser(displayName), options);
}
