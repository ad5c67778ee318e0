/**
 * "iomapsim CSV v1": our own trace format (docs/trace-csv.md), one op per
 * row, designed so that every TraceOp kind round-trips through
 * `formatCsvOp` and `readCsv`. Streamed line by line; records with quotes
 * are parsed by csv-parse (see CsvRecordSplitter). Strict: every error
 * names `file:line:field` (the column is the 1-based field number) and
 * says what was expected.
 */
import { parse as parseCsvSync } from 'csv-parse/sync';
import { assert, InvariantError } from '../util/assert.js';
import type { SourcePos } from '../util/errors.js';
import { TraceError } from '../util/errors.js';
import { lineLengthMaxChars, readLineBatches } from './lines.js';
import type { FallocMode, MmapWriteOp, OpenFlags, SeekOp, TraceOp, WriteOp } from './types.js';

/** The column names, in order. The header row must be exactly this. */
export const csvColumns = ['time_us', 'handle', 'op', 'path', 'offset', 'length', 'flags', 'arg'] as const;
const csvHeaderLine = csvColumns.join(',');

/** fd numbers for named and implicit (per-path) handles start here, clear of numeric handles (kept as fds). */
export const csvGeneratedFdBase = 1_000_000;

const FIELD_TIME = 0;
const FIELD_HANDLE = 1;
const FIELD_OP = 2;
const FIELD_PATH = 3;
const FIELD_OFFSET = 4;
const FIELD_LENGTH = 5;
const FIELD_FLAGS = 6;
const FIELD_ARG = 7;

/** What an op needs in the handle/path columns. */
type Target = 'file' | 'path' | 'none';

interface CsvOpSpec {
  target: Target;
  /** Flag names accepted in the flags column. */
  flags: readonly string[];
  build: (row: CsvRow, fd: number) => TraceOp;
}

const openFlagNames: Record<string, keyof OpenFlags> = {
  create: 'create',
  trunc: 'truncate',
  direct: 'direct',
  sync: 'sync',
  dsync: 'dsync',
  append: 'append',
  rdonly: 'readOnly',
};
const seekWhences: readonly SeekOp['whence'][] = ['set', 'cur', 'end', 'data', 'hole'];
const fallocOps: Record<string, FallocMode> = {
  falloc: 'allocate',
  punch: 'punch',
  zero: 'zero',
  collapse: 'collapse',
  insert: 'insert',
  unshare: 'unshare',
};

/** One data row being turned into an op: fields, position, and typed accessors that fail with a column. */
class CsvRow {
  constructor(
    readonly fields: string[],
    readonly src: SourcePos,
    readonly timeUs: number | undefined,
  ) {}

  field(index: number): string {
    return this.fields[index] ?? '';
  }

  fail(index: number, what: string, hint?: string): never {
    throw new TraceError({ ...this.src, column: index + 1 }, what, hint);
  }

  /** A byte count or offset; `signed` allows a leading '-' (seek). */
  bytes(index: number, signed = false): number {
    const text = this.field(index);
    const value = parseCsvNumber(text, signed);
    if (value === null) {
      const what = text === '' ? `missing ${csvColumns[index]}` : `bad ${csvColumns[index]} '${text}'`;
      this.fail(index, `${what} for ${this.field(FIELD_OP)} (expected bytes: 4096, 0x1000, 4k, 1m)`);
    }
    return value;
  }

  optionalBytes(index: number): number | null {
    return this.field(index) === '' ? null : this.bytes(index);
  }

  required(index: number, expected: string): string {
    const text = this.field(index);
    if (text === '') this.fail(index, `missing ${csvColumns[index]} for ${this.field(FIELD_OP)} (expected ${expected})`);
    return text;
  }

  hasFlag(name: string): boolean {
    const flags = this.field(FIELD_FLAGS);
    return flags !== '' && flags.split('|').includes(name);
  }

  fill(): number | undefined {
    const text = this.field(FIELD_ARG);
    if (text === '') return undefined;
    const value = parseCsvNumber(text, false);
    if (value === null || value > 255) this.fail(FIELD_ARG, `bad fill byte '${text}' (expected 0x00..0xff)`);
    return value;
  }

  /** `NAME@OFFSET` or `NAME` (arg of reflink and copy_range); splits at the last '@'. */
  atOffset(expected: string): { name: string; offset: number | null } {
    const text = this.required(FIELD_ARG, expected);
    const at = text.lastIndexOf('@');
    if (at < 0) return { name: text, offset: null };
    const offset = parseCsvNumber(text.slice(at + 1), false);
    if (offset === null || at === 0) this.fail(FIELD_ARG, `bad ${this.field(FIELD_OP)} source '${text}' (expected ${expected})`);
    return { name: text.slice(0, at), offset };
  }

  /** Fields common to every op. */
  base(): { src: SourcePos; timeUs?: number } {
    return this.timeUs === undefined ? { src: this.src } : { src: this.src, timeUs: this.timeUs };
  }
}

const csvOps = new Map<string, CsvOpSpec>([
  ['open', { target: 'file', flags: Object.keys(openFlagNames), build: buildOpen }],
  ['close', { target: 'file', flags: [], build: (row, fd) => ({ kind: 'close', ...row.base(), fd }) }],
  ['write', { target: 'file', flags: ['dsync'], build: buildWrite }],
  ['read', { target: 'file', flags: [], build: (row, fd) => ({ kind: 'read', ...row.base(), fd, offset: row.optionalBytes(FIELD_OFFSET), length: row.bytes(FIELD_LENGTH) }) }],
  ['seek', { target: 'file', flags: [], build: buildSeek }],
  ...Object.keys(fallocOps).map((name): [string, CsvOpSpec] => [name, { target: 'file', flags: ['keep_size'], build: buildFallocate }]),
  ['truncate', { target: 'path', flags: [], build: buildTruncate }],
  ['fsync', { target: 'file', flags: [], build: (row, fd) => ({ kind: 'fsync', ...row.base(), fd, dataOnly: false }) }],
  ['fdatasync', { target: 'file', flags: [], build: (row, fd) => ({ kind: 'fsync', ...row.base(), fd, dataOnly: true }) }],
  ['sync', { target: 'none', flags: [], build: (row) => ({ kind: 'sync', ...row.base(), scope: 'all' }) }],
  ['syncfs', { target: 'none', flags: [], build: (row) => ({ kind: 'sync', ...row.base(), scope: 'fs' }) }],
  ['sync_range', { target: 'file', flags: [], build: (row, fd) => ({ kind: 'syncRange', ...row.base(), fd, offset: row.bytes(FIELD_OFFSET), length: row.bytes(FIELD_LENGTH) }) }],
  ['mwrite', { target: 'file', flags: [], build: buildMmapWrite }],
  ['reflink', { target: 'file', flags: [], build: buildReflink }],
  ['copy_range', { target: 'file', flags: [], build: buildNothing }],
  ['mkdir', { target: 'none', flags: [], build: (row) => ({ kind: 'mkdir', ...row.base(), path: row.required(FIELD_PATH, 'a directory path') }) }],
  ['rename', { target: 'none', flags: [], build: buildRename }],
  ['unlink', { target: 'none', flags: [], build: (row) => ({ kind: 'unlink', ...row.base(), path: row.required(FIELD_PATH, 'the path to remove') }) }],
  ['remount', { target: 'none', flags: [], build: (row) => ({ kind: 'remount', ...row.base() }) }],
  ['drop_caches', { target: 'none', flags: [], build: (row) => ({ kind: 'dropCaches', ...row.base() }) }],
  ['snapshot', { target: 'none', flags: [], build: (row) => ({ kind: 'snapshot', ...row.base(), label: row.required(FIELD_ARG, 'a snapshot label') }) }],
  ['fiemap', { target: 'file', flags: [], build: (row, fd) => ({ kind: 'fiemap', ...row.base(), fd }) }],
  ['ignored', { target: 'none', flags: [], build: buildIgnored }],
]);
const csvOpNameList = [...csvOps.keys()].join(', ');

/** Which of offset/length/arg each op reads; anything else in those columns is an error. */
const usedFields: Record<string, readonly number[]> = {
  open: [],
  write: [FIELD_OFFSET, FIELD_LENGTH, FIELD_ARG],
  read: [FIELD_OFFSET, FIELD_LENGTH],
  seek: [FIELD_OFFSET, FIELD_ARG],
  truncate: [FIELD_LENGTH],
  sync_range: [FIELD_OFFSET, FIELD_LENGTH],
  mwrite: [FIELD_OFFSET, FIELD_LENGTH, FIELD_ARG],
  reflink: [FIELD_OFFSET, FIELD_LENGTH, FIELD_ARG],
  copy_range: [FIELD_OFFSET, FIELD_LENGTH, FIELD_ARG],
  rename: [FIELD_ARG],
  snapshot: [FIELD_ARG],
  ignored: [FIELD_ARG],
  ...Object.fromEntries(Object.keys(fallocOps).map((name) => [name, [FIELD_OFFSET, FIELD_LENGTH]])),
};

/** copy_range needs two handles, so CsvTraceBuilder builds it; its table entry only carries the checks. */
function buildNothing(): never {
  throw new InvariantError('copy_range rows are built by CsvTraceBuilder.buildCopyRange');
}

function buildOpen(row: CsvRow, fd: number): TraceOp {
  const flags: OpenFlags = { create: false, truncate: false, direct: false, sync: false, dsync: false, append: false, readOnly: false };
  const text = row.field(FIELD_FLAGS);
  if (text !== '') for (const name of text.split('|')) flags[openFlagNames[name]!] = true;
  return { kind: 'open', ...row.base(), fd, path: row.required(FIELD_PATH, 'the path to open'), flags };
}

function buildWrite(row: CsvRow, fd: number): TraceOp {
  const op: WriteOp = { kind: 'write', ...row.base(), fd, offset: row.optionalBytes(FIELD_OFFSET), length: row.bytes(FIELD_LENGTH) };
  const fill = row.fill();
  if (fill !== undefined) op.fill = fill;
  if (row.hasFlag('dsync')) op.dsync = true;
  return op;
}

function buildSeek(row: CsvRow, fd: number): TraceOp {
  const text = row.field(FIELD_ARG);
  const whence = (text === '' ? 'set' : text) as SeekOp['whence'];
  if (!seekWhences.includes(whence)) row.fail(FIELD_ARG, `bad whence '${text}' (expected one of ${seekWhences.join(', ')})`);
  return { kind: 'seek', ...row.base(), fd, offset: row.bytes(FIELD_OFFSET, true), whence };
}

function buildFallocate(row: CsvRow, fd: number): TraceOp {
  const mode = fallocOps[row.field(FIELD_OP)]!;
  // PUNCH_HOLE is only valid with KEEP_SIZE, so punch implies it.
  const keepSize = mode === 'punch' || row.hasFlag('keep_size');
  return { kind: 'fallocate', ...row.base(), fd, mode, keepSize, offset: row.bytes(FIELD_OFFSET), length: row.bytes(FIELD_LENGTH) };
}

function buildTruncate(row: CsvRow, fd: number): TraceOp {
  const size = row.bytes(FIELD_LENGTH);
  if (fd >= 0) return { kind: 'truncate', ...row.base(), fd, size };
  return { kind: 'truncate', ...row.base(), path: row.field(FIELD_PATH), size };
}

function buildMmapWrite(row: CsvRow, fd: number): TraceOp {
  const op: MmapWriteOp = { kind: 'mmapWrite', ...row.base(), fd, offset: row.bytes(FIELD_OFFSET), length: row.bytes(FIELD_LENGTH) };
  const fill = row.fill();
  if (fill !== undefined) op.fill = fill;
  return op;
}

function buildReflink(row: CsvRow, fd: number): TraceOp {
  const source = row.atOffset('SRC_PATH@SRC_OFFSET, e.g. base.img@0');
  const dstOffset = row.optionalBytes(FIELD_OFFSET) ?? 0;
  const length = row.optionalBytes(FIELD_LENGTH) ?? 0;
  return { kind: 'reflink', ...row.base(), fd, srcPath: source.name, srcOffset: source.offset ?? 0, dstOffset, length };
}

/** `ignored` rows (what formatCsvOp writes for IgnoredOp): arg `CALL:REASON`, split at the first ':'. */
function buildIgnored(row: CsvRow): TraceOp {
  const text = row.required(FIELD_ARG, 'CALL:REASON, e.g. ioctl:unsupported');
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) row.fail(FIELD_ARG, `bad ignored record '${text}' (expected CALL:REASON, e.g. ioctl:unsupported)`);
  return { kind: 'ignored', ...row.base(), call: text.slice(0, colon), reason: text.slice(colon + 1) };
}

function buildRename(row: CsvRow): TraceOp {
  const from = row.required(FIELD_PATH, 'the old path');
  const to = row.required(FIELD_ARG, 'the new path');
  return { kind: 'rename', ...row.base(), from, to };
}

/**
 * A CSV number: decimal or 0x hex, optional k/m/g/t suffix (KiB...), any
 * case; with `signed`, an optional leading '-'. Null when malformed or
 * beyond 2^53. No regex: this runs several times per row.
 */
export function parseCsvNumber(text: string, signed: boolean): number | null {
  let start = 0;
  let sign = 1;
  if (signed && text.length > 1 && text.charCodeAt(0) === 45) {
    sign = -1;
    start = 1;
  }
  let end = text.length;
  let multiplier = 1;
  const last = text.charCodeAt(end - 1) | 0x20;
  if (last === 107) multiplier = 1024; // k
  else if (last === 109) multiplier = 1024 ** 2; // m
  else if (last === 103) multiplier = 1024 ** 3; // g
  else if (last === 116) multiplier = 1024 ** 4; // t
  if (multiplier !== 1) end--;
  let radix = 10;
  if (end - start > 2 && text.charCodeAt(start) === 48 && (text.charCodeAt(start + 1) | 0x20) === 120) {
    radix = 16;
    start += 2;
  }
  if (start >= end) return null;
  let value = 0;
  for (let index = start; index < end; index++) {
    const code = text.charCodeAt(index);
    let digit = code - 48;
    if (digit < 0 || digit > 9) digit = radix === 16 && (code | 0x20) >= 97 && (code | 0x20) <= 102 ? (code | 0x20) - 87 : -1;
    if (digit < 0) return null;
    value = value * radix + digit;
  }
  value *= multiplier;
  return Number.isSafeInteger(value) ? sign * value : null;
}

/**
 * Turns CSV records into ops: checks the header, resolves handles (named,
 * numeric, implicit per-path), emits implicit open/close ops.
 */
export class CsvTraceBuilder {
  private headerSeen = false;
  /** Named (non-numeric) handles currently open -> fd. */
  private readonly namedHandles = new Map<string, number>();
  /** Implicit per-path handles currently open -> fd, in open order. */
  private readonly implicitHandles = new Map<string, number>();
  private nextGeneratedFd = csvGeneratedFdBase;
  private lastLine = 0;
  private lastTimeUs: number | undefined;

  constructor(readonly file: string) {}

  /** Consumes one record (`line`: its first physical line); returns the ops it produces. */
  record(fields: string[], line: number): TraceOp[] {
    this.lastLine = line;
    if (!this.headerSeen) {
      this.checkHeader(fields, line);
      return [];
    }
    const src: SourcePos = { file: this.file, line };
    if (fields.length > csvColumns.length) {
      throw new TraceError({ ...src, column: csvColumns.length + 1 }, `${fields.length} fields, at most ${csvColumns.length} allowed (expected ${csvHeaderLine})`, 'quote fields that contain commas');
    }
    const timeUs = this.parseTime(fields, src);
    if (timeUs !== undefined) this.lastTimeUs = timeUs;
    const row: CsvRow = new CsvRow(fields, src, timeUs);
    const name = row.field(FIELD_OP);
    const spec = csvOps.get(name);
    if (spec === undefined) {
      row.fail(FIELD_OP, name === '' ? `missing op (expected one of ${csvOpNameList})` : `unknown op '${name}' (expected one of ${csvOpNameList})`);
    }
    checkFlags(row, spec.flags);
    checkUnusedFields(row, usedFields[name] ?? []);
    return this.dispatch(row, name, spec);
  }

  /** Ends the trace: closes the implicit handles still open. Errors if the header never came. */
  finish(): TraceOp[] {
    if (!this.headerSeen) {
      throw new TraceError({ file: this.file, line: Math.max(1, this.lastLine) }, `missing header: the file has no rows (expected '${csvHeaderLine}')`);
    }
    const src: SourcePos = { file: this.file, line: this.lastLine };
    return this.closeImplicit(src, this.lastTimeUs, () => true);
  }

  private checkHeader(fields: string[], line: number): void {
    const matches = fields.length === csvColumns.length && fields.every((field, index) => field === csvColumns[index]);
    if (!matches) {
      throw new TraceError(
        { file: this.file, line },
        `missing header (expected '${csvHeaderLine}' as the first line that is not a comment)`,
        'add the header line; see docs/trace-csv.md',
      );
    }
    this.headerSeen = true;
  }

  private parseTime(fields: string[], src: SourcePos): number | undefined {
    const text = fields[FIELD_TIME] ?? '';
    if (text === '') return undefined;
    let value = 0;
    for (let index = 0; index < text.length; index++) {
      const digit = text.charCodeAt(index) - 48;
      if (digit < 0 || digit > 9) {
        throw new TraceError({ ...src, column: FIELD_TIME + 1 }, `bad time_us '${text}' (expected microseconds since the trace start, e.g. 1500)`);
      }
      value = value * 10 + digit;
    }
    if (!Number.isSafeInteger(value)) {
      throw new TraceError({ ...src, column: FIELD_TIME + 1 }, `time_us '${text}' is too large (expected at most ${Number.MAX_SAFE_INTEGER})`);
    }
    return value;
  }

  private dispatch(row: CsvRow, name: string, spec: CsvOpSpec): TraceOp[] {
    const handle = row.field(FIELD_HANDLE);
    const path = row.field(FIELD_PATH);
    if (spec.target === 'none' || (spec.target === 'path' && handle === '')) {
      if (handle !== '') row.fail(FIELD_HANDLE, `${name} takes no handle (expected an empty handle field)`);
      if (spec.target === 'path' && path === '') row.fail(FIELD_PATH, `${name} needs a handle or a path (expected one of them)`);
      const closes = this.closesBefore(row, name);
      const op = spec.build(row, -1);
      return closes.length === 0 ? [op] : [...closes, op];
    }
    if (handle !== '' && path !== '' && name !== 'open') {
      row.fail(FIELD_PATH, `${name} has both a handle and a path (expected only one of them)`);
    }
    if (name === 'open') return [this.openNamed(row, handle)];
    if (name === 'close') return [this.closeNamed(row, handle)];
    const ops: TraceOp[] = [];
    const fd = handle !== '' ? this.resolve(row, handle, FIELD_HANDLE) : this.implicitFd(row, path, ops);
    ops.push(name === 'copy_range' ? this.buildCopyRange(row, fd) : spec.build(row, fd));
    return ops;
  }

  private openNamed(row: CsvRow, handle: string): TraceOp {
    if (handle === '') row.fail(FIELD_HANDLE, "open needs a handle name (expected e.g. 'h1' or '3')");
    checkHandleName(row, handle);
    const numeric = numericHandle(handle);
    if (numeric !== null) return buildOpen(row, numeric);
    if (this.namedHandles.has(handle)) row.fail(FIELD_HANDLE, `handle '${handle}' is already open (expected a close row before reopening it)`);
    const fd = this.nextGeneratedFd++;
    this.namedHandles.set(handle, fd);
    return buildOpen(row, fd);
  }

  private closeNamed(row: CsvRow, handle: string): TraceOp {
    if (handle === '') row.fail(FIELD_HANDLE, 'close needs a handle (expected the handle of an open row)');
    const fd = this.resolve(row, handle, FIELD_HANDLE);
    this.namedHandles.delete(handle);
    return { kind: 'close', ...row.base(), fd };
  }

  /** Numeric handles are fds as they are; named ones must be open. */
  private resolve(row: CsvRow, handle: string, fieldIndex: number): number {
    const numeric = numericHandle(handle);
    if (numeric !== null) return numeric;
    const fd = this.namedHandles.get(handle);
    if (fd === undefined) row.fail(fieldIndex, `handle '${handle}' is not open (expected an open row for it first)`);
    return fd;
  }

  /** The implicit handle of `path`, opened (with create) on first use; its open op goes to `ops`. */
  private implicitFd(row: CsvRow, path: string, ops: TraceOp[]): number {
    if (path === '') row.fail(FIELD_HANDLE, `${row.field(FIELD_OP)} needs a handle or a path (expected one of them)`);
    const existing = this.implicitHandles.get(path);
    if (existing !== undefined) return existing;
    const fd = this.nextGeneratedFd++;
    this.implicitHandles.set(path, fd);
    const flags: OpenFlags = { create: true, truncate: false, direct: false, sync: false, dsync: false, append: false, readOnly: false };
    ops.push({ kind: 'open', ...row.base(), fd, path, flags });
    return fd;
  }

  /** unlink/rename change what a path names, remount needs no open files: close the implicit handles involved first. */
  private closesBefore(row: CsvRow, name: string): TraceOp[] {
    if (name === 'remount') return this.closeImplicit(row.src, row.timeUs, () => true);
    if (name !== 'unlink' && name !== 'rename') return [];
    const paths = name === 'rename' ? [row.field(FIELD_PATH), row.field(FIELD_ARG)] : [row.field(FIELD_PATH)];
    return this.closeImplicit(row.src, row.timeUs, (path) => paths.includes(path));
  }

  private closeImplicit(src: SourcePos, timeUs: number | undefined, wanted: (path: string) => boolean): TraceOp[] {
    const closes: TraceOp[] = [];
    for (const [path, fd] of this.implicitHandles) {
      if (!wanted(path)) continue;
      closes.push(timeUs === undefined ? { kind: 'close', src, fd } : { kind: 'close', src, timeUs, fd });
      this.implicitHandles.delete(path);
    }
    return closes;
  }

  private buildCopyRange(row: CsvRow, fd: number): TraceOp {
    const source = row.atOffset('SRC_HANDLE@SRC_OFFSET or SRC_HANDLE, e.g. h1@0');
    const srcFd = this.resolve(row, source.name, FIELD_ARG);
    return {
      kind: 'copyRange',
      ...row.base(),
      srcFd,
      fd,
      srcOffset: source.offset,
      dstOffset: row.optionalBytes(FIELD_OFFSET),
      length: row.bytes(FIELD_LENGTH),
    };
  }
}

function numericHandle(handle: string): number | null {
  for (let index = 0; index < handle.length; index++) {
    const code = handle.charCodeAt(index);
    if (code < 48 || code > 57) return null;
  }
  const value = Number(handle);
  return Number.isSafeInteger(value) ? value : null;
}

function checkHandleName(row: CsvRow, handle: string): void {
  if (handle.includes('@')) row.fail(FIELD_HANDLE, `bad handle '${handle}' (expected a name without '@')`);
}

function checkFlags(row: CsvRow, allowed: readonly string[]): void {
  const text = row.field(FIELD_FLAGS);
  if (text === '') return;
  for (const name of text.split('|')) {
    if (allowed.includes(name)) continue;
    const expected = allowed.length === 0 ? 'no flags' : `one of ${allowed.join(', ')}`;
    const hint = name === 'direct' || name === 'sync' ? 'open the file with an explicit handle and put the flag on the open row' : undefined;
    row.fail(FIELD_FLAGS, `bad flag '${name}' for ${row.field(FIELD_OP)} (expected ${expected})`, hint);
  }
}

const optionalFields: readonly number[] = [FIELD_OFFSET, FIELD_LENGTH, FIELD_ARG];

function checkUnusedFields(row: CsvRow, used: readonly number[]): void {
  for (const index of optionalFields) {
    if (row.field(index) !== '' && !used.includes(index)) {
      row.fail(index, `${row.field(FIELD_OP)} takes no ${csvColumns[index]} (expected an empty field)`);
    }
  }
}

/** csv-parse options for records with quotes; the fast path below reproduces them for records without. */
const csvParseOptions = {
  comment: '#',
  comment_no_infix: true,
  skip_empty_lines: true,
  trim: true,
  relax_column_count: true,
} as const;

/**
 * Splits physical lines into CSV records. A line without `"` (nearly all of
 * them) is split on commas and trimmed here, which is what csv-parse does to
 * it; a record with quotes, possibly spanning lines while a quote is open,
 * goes to csv-parse itself. This keeps csv-parse the authority on quoting at
 * a fraction of its per-record cost, and gives each record its first line.
 */
export class CsvRecordSplitter {
  private pendingText: string | null = null;
  private pendingLine = 0;
  /** First physical line of the record `feed` returned last. */
  recordLine = 0;

  constructor(readonly file: string) {}

  /** Feeds one physical line; returns the fields of the record it completes, or null (comment, blank, open quote). */
  feed(text: string, line: number): string[] | null {
    if (this.pendingText !== null) return this.continueQuoted(text);
    const start = skipCsvBlanks(text, 0);
    if (start === text.length || text.charCodeAt(start) === 35) return null; // blank, or a '#' comment
    if (text.indexOf('"') < 0) {
      this.recordLine = line;
      const fields = text.split(',');
      for (let index = 0; index < fields.length; index++) fields[index] = trimCsvField(fields[index]!);
      return fields;
    }
    this.pendingLine = line;
    this.pendingText = '';
    return this.continueQuoted(text);
  }

  /** Ends the input: a quote still open is an error. */
  finish(): void {
    if (this.pendingText === null) return;
    throw new TraceError(
      { file: this.file, line: this.pendingLine },
      'bad CSV: a quoted field is not closed before the end of the file (expected a closing ")',
      'double every quote inside a quoted field: "a ""quoted"" word"',
    );
  }

  private continueQuoted(text: string): string[] | null {
    const joined = this.pendingText === '' ? text : this.pendingText + '\n' + text;
    if (joined.length > lineLengthMaxChars) {
      throw new TraceError({ file: this.file, line: this.pendingLine }, `record longer than ${lineLengthMaxChars} characters (expected a closing " sooner)`);
    }
    // RFC 4180 escapes a quote by doubling it, so an odd count means a quoted field is still open.
    let quotes = 0;
    for (let at = joined.indexOf('"'); at >= 0; at = joined.indexOf('"', at + 1)) quotes++;
    if (quotes % 2 === 1) {
      this.pendingText = joined;
      return null;
    }
    this.pendingText = null;
    this.recordLine = this.pendingLine;
    return this.parseQuoted(joined);
  }

  private parseQuoted(text: string): string[] | null {
    let records: string[][];
    try {
      records = parseCsvSync(text, csvParseOptions) as string[][];
    } catch (error) {
      const reason = error instanceof Error ? error.message.replace(/ at line \d+/, '') : String(error);
      throw new TraceError(
        { file: this.file, line: this.recordLine },
        `bad CSV: ${reason} (expected RFC 4180 quoting: "a ""quoted"" field")`,
      );
    }
    if (records.length > 1) {
      throw new TraceError({ file: this.file, line: this.recordLine }, `bad CSV: ${records.length} records where one was expected (expected balanced quotes)`);
    }
    return records.length === 0 ? null : records[0]!;
  }
}

/** Index of the first character at or after `from` that csv-parse's ltrim keeps (it skips space, tab, CR, LF, FF). */
function skipCsvBlanks(text: string, from: number): number {
  let index = from;
  for (; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code !== 32 && code !== 9 && code !== 13 && code !== 10 && code !== 12) break;
  }
  return index;
}

/** csv-parse's `trim` on an unquoted field: its ltrim character set on the left, String#trimEnd on the right. */
function trimCsvField(field: string): string {
  const start = skipCsvBlanks(field, 0);
  return (start === 0 ? field : field.slice(start)).trimEnd();
}

/**
 * Streams the ops of an iomapsim CSV v1 trace (plain or `.gz`).
 *
 * Complexity: O(input); memory O(open handles + longest record).
 * @param displayName the name in `src.file` and errors (default `path`).
 * @throws TraceError for a missing file, a missing header, or a bad row (line and field number).
 */
export async function* readCsv(path: string, displayName: string = path): AsyncGenerator<TraceOp> {
  const builder = new CsvTraceBuilder(displayName);
  const splitter = new CsvRecordSplitter(displayName);
  for await (const batch of readLineBatches(path, displayName)) {
    const { lines, firstLine } = batch;
    for (let index = 0; index < lines.length; index++) {
      const fields = splitter.feed(lines[index]!, firstLine + index);
      if (fields === null) continue;
      const ops = builder.record(fields, splitter.recordLine);
      for (let opIndex = 0; opIndex < ops.length; opIndex++) yield ops[opIndex]!;
    }
  }
  splitter.finish();
  yield* builder.finish();
}

/** The header row of iomapsim CSV v1 (no line terminator). */
export function formatCsvHeader(): string {
  return csvHeaderLine;
}

const fallocOpNames: Record<FallocMode, string> = {
  allocate: 'falloc',
  punch: 'punch',
  zero: 'zero',
  collapse: 'collapse',
  insert: 'insert',
  unshare: 'unshare',
};

/**
 * One op as a CSV row (no line terminator), such that `readCsv` gives the
 * op back (all fields but `src` and `pid`, which CSV does not carry).
 * Every fd-based op gets an explicit handle: `handleName(fd)`, by default
 * the fd number itself (numeric handles are read back as that fd).
 */
export function formatCsvOp(op: TraceOp, handleName: (fd: number) => string = String): string {
  const fields = ['', '', '', '', '', '', '', ''];
  if (op.timeUs !== undefined) fields[FIELD_TIME] = String(op.timeUs);
  fillCsvFields(op, fields, handleName);
  let line = quoteCsvField(fields[0]!);
  for (let index = 1; index < fields.length; index++) line += ',' + quoteCsvField(fields[index]!);
  return line;
}

/** Sets op, handle, path, offset, length, flags and arg for one op (the inverse of the builders above). */
function fillCsvFields(op: TraceOp, fields: string[], handleName: (fd: number) => string): void {
  const set = (opName: string, handle: string, path = '', offset = '', length = '', flags = '', arg = ''): void => {
    fields[FIELD_OP] = opName;
    fields[FIELD_HANDLE] = handle;
    fields[FIELD_PATH] = path;
    fields[FIELD_OFFSET] = offset;
    fields[FIELD_LENGTH] = length;
    fields[FIELD_FLAGS] = flags;
    fields[FIELD_ARG] = arg;
  };
  const number = (value: number | null): string => (value === null ? '' : String(value));
  const fill = (value: number | undefined): string => (value === undefined ? '' : formatFillByte(value));
  switch (op.kind) {
    case 'open': {
      const names = Object.keys(openFlagNames).filter((name) => op.flags[openFlagNames[name]!]);
      return set('open', handleName(op.fd), op.path, '', '', names.join('|'));
    }
    case 'close':
      return set('close', handleName(op.fd));
    case 'write':
      return set('write', handleName(op.fd), '', number(op.offset), String(op.length), op.dsync ? 'dsync' : '', fill(op.fill));
    case 'read':
      return set('read', handleName(op.fd), '', number(op.offset), String(op.length));
    case 'seek':
      return set('seek', handleName(op.fd), '', String(op.offset), '', '', op.whence);
    case 'fallocate':
      return set(fallocOpNames[op.mode], handleName(op.fd), '', String(op.offset), String(op.length), op.keepSize ? 'keep_size' : '');
    case 'truncate':
      if (op.fd !== undefined) return set('truncate', handleName(op.fd), '', '', String(op.size));
      return set('truncate', '', op.path ?? '', '', String(op.size));
    case 'fsync':
      return set(op.dataOnly ? 'fdatasync' : 'fsync', handleName(op.fd));
    case 'sync':
      return set(op.scope === 'all' ? 'sync' : 'syncfs', '');
    case 'syncRange':
      return set('sync_range', handleName(op.fd), '', String(op.offset), String(op.length));
    case 'mmapWrite':
      return set('mwrite', handleName(op.fd), '', String(op.offset), String(op.length), '', fill(op.fill));
    case 'reflink':
      return set('reflink', handleName(op.fd), '', String(op.dstOffset), String(op.length), '', `${op.srcPath}@${op.srcOffset}`);
    case 'copyRange': {
      const source = op.srcOffset === null ? handleName(op.srcFd) : `${handleName(op.srcFd)}@${op.srcOffset}`;
      return set('copy_range', handleName(op.fd), '', number(op.dstOffset), String(op.length), '', source);
    }
    case 'mkdir':
      return set('mkdir', '', op.path);
    case 'rename':
      return set('rename', '', op.from, '', '', '', op.to);
    case 'unlink':
      return set('unlink', '', op.path);
    case 'remount':
      return set('remount', '');
    case 'dropCaches':
      return set('drop_caches', '');
    case 'snapshot':
      return set('snapshot', '', '', '', '', '', op.label);
    case 'fiemap':
      return set('fiemap', handleName(op.fd));
    case 'ignored':
      return set('ignored', '', '', '', '', '', `${op.call}:${op.reason}`);
    default: {
      const unknown: never = op;
      assert(false, 'formatCsvOp: unknown op kind', unknown);
    }
  }
}

function formatFillByte(value: number): string {
  assert(Number.isInteger(value) && value >= 0 && value <= 255, 'fill byte out of range', { value });
  return '0x' + value.toString(16).padStart(2, '0');
}

/**
 * RFC 4180 quoting when a field would not read back as itself: separators,
 * quotes, line breaks, and blanks at either end (the reader trims). A '#'
 * needs none: rows start with time_us or a comma, so no row reads as a comment.
 */
function quoteCsvField(field: string): string {
  if (field === '') return field;
  let needsQuotes = /^\s|\s$/.test(field);
  for (let index = 0; index < field.length && !needsQuotes; index++) {
    const code = field.charCodeAt(index);
    needsQuotes = code === 44 || code === 34 || code === 10 || code === 13;
  }
  return needsQuotes ? '"' + field.replaceAll('"', '""') + '"' : field;
}
