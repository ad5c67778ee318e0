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
 * The per-CPU/total summary at the end of the output is skipped.
 */
import type { SourcePos } from '../util/errors.js';
import { TraceError } from '../util/errors.js';
import { BlockDeviceFiles, sectorBytes } from './blockfile.js';
import { readTraceLines, type TraceLineParser, type TraceReadOptions } from './skipbad.js';
import type { TraceOp, TraceSource } from './types.js';

/** One typical line, for detection messages. */
export const blkparseExampleLine = '  8,0    1        1     0.000000000  6331  Q  WS 327680 + 8192 [fio]';

/** blkparse action codes (blkparse_fmt.c); only Q is replayed. */
const knownActions = new Set(['Q', 'G', 'I', 'D', 'C', 'M', 'F', 'P', 'U', 'UT', 'T', 'S', 'X', 'A', 'B', 'R', 'm', 'N']);
const actionList = 'Q, G, I, D, C, M, F, P, U, UT, T, S, X, A, B, R, m';

const lineHint = 'the blkparse reader reads blkparse default output (no -f/-F formats); --skip-bad skips bad lines';

/** A field of a line: its text and where it starts (0-based). */
interface Field {
  text: string;
  start: number;
}

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
  for (const [letter, key] of [['F', 'fua'], ['A', null], ['S', 'sync'], ['M', null]] as const) {
    if (text[index] !== letter) continue;
    if (key !== null) rwbs[key] = true;
    index++;
  }
  return index === text.length ? rwbs : null;
}

/** Splits `text` at blanks, keeping each field's start column. */
function splitFields(text: string, limit: number): Field[] {
  const fields: Field[] = [];
  let position = 0;
  while (fields.length < limit) {
    while (position < text.length && (text.charCodeAt(position) === 32 || text.charCodeAt(position) === 9)) position++;
    if (position >= text.length) break;
    const start = position;
    while (position < text.length && text.charCodeAt(position) !== 32 && text.charCodeAt(position) !== 9) position++;
    fields.push({ text: text.slice(start, position), start });
  }
  return fields;
}

/** A decimal integer without sign; null otherwise or beyond 2^53. */
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
      if (text === '') return;
      if (/^(CPU\d+|Total) \(/.test(text)) {
        this.inSummary = true;
        return;
      }
      this.fail(line, 0, `not a blkparse event line: '${clip(text)}' (expected 'MAJ,MIN CPU SEQ SECONDS.NS PID ACTION RWBS ...')`);
    }
    const fields = splitFields(text, 9);
    if (fields.length === 0) return;
    if (fields.length < 7) {
      this.fail(line, text.length, `${fields.length} fields, blkparse events have at least 7 (expected 'MAJ,MIN CPU SEQ SECONDS.NS PID ACTION RWBS ...')`);
    }
    const deviceId = this.deviceOf(fields[0]!, line);
    this.number(fields[1]!, line, 'CPU number');
    this.number(fields[2]!, line, 'sequence number');
    const timeUs = parseBlkparseTimeUs(fields[3]!.text);
    if (timeUs === null) this.fail(line, fields[3]!.start, `bad timestamp '${fields[3]!.text}' (expected SECONDS.NANOSECONDS, e.g. 0.000034141)`);
    const pid = this.number(fields[4]!, line, 'pid');
    const action = fields[5]!;
    if (!knownActions.has(action.text)) this.fail(line, action.start, `unknown action '${action.text}' (expected one of ${actionList})`);
    if (action.text !== 'Q') return;
    this.lastTimeUs = timeUs;
    this.queued(text, fields, line, { deviceId, pid, timeUs }, out);
  }

  finish(out: TraceOp[]): void {
    const src: SourcePos = { file: this.file, line: Math.max(1, this.lastLine) };
    this.files.closeAll(src, this.lastTimeUs, out);
  }

  /** A Q event: `RWBS [comm]` (no data) or `RWBS SECTOR + COUNT [comm]`. */
  private queued(text: string, fields: Field[], line: number, event: { deviceId: string; pid: number; timeUs: number }, out: TraceOp[]): void {
    const rwbsField = fields[6]!;
    const rwbs = parseRwbs(rwbsField.text);
    if (rwbs === null) {
      this.fail(line, rwbsField.start, `bad RWBS '${rwbsField.text}' (expected [F] then W, R, D or N, then F, A, S, M, e.g. WS or FWFSM)`);
    }
    let offsetBytes = 0;
    let lengthBytes = 0;
    const sectorField = fields[7];
    if (sectorField !== undefined && sectorField.text[0] !== '[') {
      const plus = fields[8];
      if (plus === undefined || plus.text !== '+') this.fail(line, plus?.start ?? text.length, "missing '+' after the sector (expected 'SECTOR + COUNT [process]')");
      const rest = splitFields(text.slice(plus.start + 1), 2);
      const countField = rest[0];
      if (countField === undefined) this.fail(line, text.length, "missing sector count (expected 'SECTOR + COUNT [process]')");
      const countStart = plus.start + 1 + countField.start;
      offsetBytes = this.number(sectorField, line, 'sector') * sectorBytes;
      lengthBytes = this.number({ text: countField.text, start: countStart }, line, 'sector count') * sectorBytes;
      if (rest[1] !== undefined && rest[1].text[0] !== '[') {
        this.fail(line, countStart + rest[1].start - countField.start, `unexpected '${rest[1].text}' after the sector count (expected '[process]')`);
      }
    }
    this.emitQueued(rwbs, { ...event, offsetBytes, lengthBytes, line }, out);
  }

  private emitQueued(
    rwbs: Rwbs,
    event: { deviceId: string; pid: number; timeUs: number; offsetBytes: number; lengthBytes: number; line: number },
    out: TraceOp[],
  ): void {
    const hasData = event.lengthBytes > 0;
    if (!rwbs.preflush && (!hasData || rwbs.op === 'none')) return;
    const src: SourcePos = { file: this.file, line: event.line, column: 1 };
    const fd = this.files.fdFor(event.deviceId, event.pid, src, event.timeUs, out);
    const base = { src, timeUs: event.timeUs, pid: event.pid, fd };
    // PREFLUSH: the device cache is flushed before the data is written.
    if (rwbs.preflush) out.push({ kind: 'fsync', ...base, dataOnly: false });
    if (!hasData) return;
    const { offsetBytes: offset, lengthBytes: length } = event;
    if (rwbs.op === 'write') {
      out.push(rwbs.sync || rwbs.fua ? { kind: 'write', ...base, offset, length, dsync: true } : { kind: 'write', ...base, offset, length });
    } else if (rwbs.op === 'read') {
      out.push({ kind: 'read', ...base, offset, length });
    } else if (rwbs.op === 'discard') {
      out.push({ kind: 'fallocate', ...base, mode: 'punch', keepSize: true, offset, length });
    }
  }

  private deviceOf(field: Field, line: number): string {
    const comma = field.text.indexOf(',');
    if (comma <= 0 || parseDecimal(field.text.slice(0, comma)) === null || parseDecimal(field.text.slice(comma + 1)) === null) {
      this.fail(line, field.start, `bad device '${field.text}' (expected MAJOR,MINOR, e.g. 8,0)`);
    }
    return field.text;
  }

  private number(field: Field, line: number, what: string): number {
    const value = parseDecimal(field.text);
    if (value === null) this.fail(line, field.start, `bad ${what} '${field.text}' (expected a non-negative integer)`);
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
