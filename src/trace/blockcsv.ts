/**
 * Public block-trace CSV formats, each device replayed into one large file
 * (blockfile.ts). With or without a header row; `#` comment lines and blank
 * lines are skipped. Timestamps become µs since the first record (a record
 * older than the first gets 0); records of size 0 produce no op.
 *
 *   msr      MSR Cambridge (SNIA IOTTA 388):
 *            Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime
 *            Windows filetime (100 ns units), Read|Write, bytes -> disk-N.img
 *   alibaba  Alibaba block traces 2020: device_id,opcode,offset,length,timestamp
 *            R|W, bytes, µs -> volume-ID.img
 *   tencent  Tencent CBS (SNIA IOTTA 28064): Timestamp,Offset,Size,IOType,VolumeID
 *            seconds, 512-byte sectors, 0 = read 1 = write -> volume-ID.img
 */
import { assert } from '../util/assert.js';
import type { SourcePos } from '../util/errors.js';
import { TraceError } from '../util/errors.js';
import { BlockDeviceFiles, sectorBytes, type BlockDeviceKind } from './blockfile.js';
import { readTraceLines, type TraceLineParser, type TraceReadOptions } from './skipbad.js';
import type { TraceOp, TraceSource } from './types.js';
import { parseDecimalDigits } from './digits.js';

export type BlockCsvFormat = 'msr' | 'alibaba' | 'tencent';

/** A timestamp as (digits before the last 9, last 9 digits): MSR filetimes exceed 2^53. */
interface SplitInteger {
  high: number;
  low: number;
}

/** One record, format-independent. */
interface BlockRecord {
  deviceId: string;
  op: 'read' | 'write';
  offsetBytes: number;
  lengthBytes: number;
  stamp: SplitInteger;
}

/** A column: its header name and how its value must look. */
interface Column {
  name: string;
  shape: 'stamp' | 'integer' | 'word' | 'rw' | 'readwrite' | 'bit';
}

interface BlockCsvSpec {
  format: BlockCsvFormat;
  kind: BlockDeviceKind;
  columns: readonly Column[];
  /** Timestamp units to µs: multiply, then divide (integer arithmetic, rounded down). */
  usMultiply: number;
  usDivide: number;
  exampleLine: string;
  record: (fields: readonly string[]) => BlockRecord;
}

const splitBase = 1_000_000_000;

/** A decimal integer of any length as a SplitInteger; null when not all digits or when the high part exceeds 2^53. */
function parseSplitInteger(text: string): SplitInteger | null {
  if (text.length === 0 || text.length > 24) return null;
  const cut = Math.max(0, text.length - 9);
  const high = cut === 0 ? 0 : parseDecimalDigits(text, 0, cut);
  const low = parseDecimalDigits(text, cut, text.length);
  if (high === null || low === null) return null;
  return { high, low };
}


function integerOf(text: string): number {
  const value = text.length <= 16 ? parseDecimalDigits(text, 0, text.length) : null;
  assert(value !== null && text.length > 0, 'blockcsv: integer field not checked', { text });
  return value;
}

function stampOf(text: string): SplitInteger {
  const stamp = parseSplitInteger(text);
  assert(stamp !== null, 'blockcsv: timestamp field not checked', { text });
  return stamp;
}

const shapeChecks: Record<Column['shape'], { test: (text: string) => boolean; expected: string }> = {
  stamp: { test: (text) => parseSplitInteger(text) !== null, expected: 'a non-negative integer timestamp' },
  integer: { test: (text) => text.length > 0 && text.length <= 16 && parseDecimalDigits(text, 0, text.length) !== null, expected: 'a non-negative integer' },
  word: { test: (text) => text.length > 0, expected: 'a name' },
  rw: { test: (text) => text === 'R' || text === 'W', expected: 'R or W' },
  readwrite: { test: (text) => /^(read|write)$/i.test(text), expected: 'Read or Write' },
  bit: { test: (text) => text === '0' || text === '1', expected: '0 (read) or 1 (write)' },
};

export const blockCsvSpecs: Record<BlockCsvFormat, BlockCsvSpec> = {
  msr: {
    format: 'msr',
    kind: 'disk',
    columns: [
      { name: 'Timestamp', shape: 'stamp' },
      { name: 'Hostname', shape: 'word' },
      { name: 'DiskNumber', shape: 'integer' },
      { name: 'Type', shape: 'readwrite' },
      { name: 'Offset', shape: 'integer' },
      { name: 'Size', shape: 'integer' },
      { name: 'ResponseTime', shape: 'integer' },
    ],
    usMultiply: 1,
    usDivide: 10,
    exampleLine: '128166372003061629,hm,0,Read,3154152960,4096,64010',
    record: (fields) => ({
      deviceId: fields[2]!,
      op: fields[3]!.toLowerCase() === 'read' ? 'read' : 'write',
      offsetBytes: integerOf(fields[4]!),
      lengthBytes: integerOf(fields[5]!),
      stamp: stampOf(fields[0]!),
    }),
  },
  alibaba: {
    format: 'alibaba',
    kind: 'volume',
    columns: [
      { name: 'device_id', shape: 'integer' },
      { name: 'opcode', shape: 'rw' },
      { name: 'offset', shape: 'integer' },
      { name: 'length', shape: 'integer' },
      { name: 'timestamp', shape: 'stamp' },
    ],
    usMultiply: 1,
    usDivide: 1,
    exampleLine: '0,R,126703661056,4096,1577808000000046',
    record: (fields) => ({
      deviceId: fields[0]!,
      op: fields[1] === 'R' ? 'read' : 'write',
      offsetBytes: integerOf(fields[2]!),
      lengthBytes: integerOf(fields[3]!),
      stamp: stampOf(fields[4]!),
    }),
  },
  tencent: {
    format: 'tencent',
    kind: 'volume',
    columns: [
      { name: 'Timestamp', shape: 'stamp' },
      { name: 'Offset', shape: 'integer' },
      { name: 'Size', shape: 'integer' },
      { name: 'IOType', shape: 'bit' },
      { name: 'VolumeID', shape: 'integer' },
    ],
    usMultiply: 1_000_000,
    usDivide: 1,
    exampleLine: '1538323199,105352008,584,1,1576',
    record: (fields) => ({
      deviceId: fields[4]!,
      op: fields[3] === '0' ? 'read' : 'write',
      offsetBytes: integerOf(fields[1]!) * sectorBytes,
      lengthBytes: integerOf(fields[2]!) * sectorBytes,
      stamp: stampOf(fields[0]!),
    }),
  },
};

function splitCsvLine(text: string): string[] {
  const fields = text.split(',');
  for (let index = 0; index < fields.length; index++) fields[index] = fields[index]!.trim();
  return fields;
}

function isHeader(spec: BlockCsvSpec, fields: readonly string[]): boolean {
  return fields.length === spec.columns.length && fields.every((field, index) => field.toLowerCase() === spec.columns[index]!.name.toLowerCase());
}

/** Index of the first field that does not have its column's shape, or -1. */
function badFieldIndex(spec: BlockCsvSpec, fields: readonly string[]): number {
  if (fields.length !== spec.columns.length) return fields.length;
  return spec.columns.findIndex((column, index) => !shapeChecks[column.shape].test(fields[index]!));
}

/** Whether `line` is a data row of `spec` (value shapes and column count). */
function isRow(spec: BlockCsvSpec, line: string): boolean {
  return badFieldIndex(spec, splitCsvLine(line)) === -1;
}

/** True when the first significant lines are this format's header and/or rows. */
export function sniffBlockCsv(format: BlockCsvFormat, lines: readonly string[]): boolean {
  const spec = blockCsvSpecs[format];
  const sample = lines.slice(0, 4);
  if (sample.length === 0) return false;
  const rows = isHeader(spec, splitCsvLine(sample[0]!)) ? sample.slice(1) : sample;
  return rows.every((line) => isRow(spec, line));
}

/** The reader of one block CSV format: header, first timestamp, device files. */
export class BlockCsvParser implements TraceLineParser {
  private readonly files: BlockDeviceFiles;
  private firstStamp: SplitInteger | null = null;
  private rowsSeen = false;
  private lastLine = 0;
  private lastTimeUs: number | undefined;

  constructor(
    readonly spec: BlockCsvSpec,
    readonly file: string,
  ) {
    this.files = new BlockDeviceFiles(spec.kind);
  }

  parseLine(text: string, line: number, out: TraceOp[]): void {
    this.lastLine = line;
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = splitCsvLine(text);
    if (!this.rowsSeen && isHeader(this.spec, fields)) {
      this.rowsSeen = true;
      return;
    }
    this.check(text, fields, line);
    this.rowsSeen = true;
    const record = this.spec.record(fields);
    const timeUs = this.timeUsOf(record.stamp);
    this.lastTimeUs = timeUs;
    if (record.lengthBytes === 0) return;
    const src: SourcePos = { file: this.file, line, column: 1 };
    const fd = this.files.fdFor(record.deviceId, undefined, src, timeUs, out);
    out.push({ kind: record.op, src, timeUs, fd, offset: record.offsetBytes, length: record.lengthBytes });
  }

  finish(out: TraceOp[]): void {
    this.files.closeAll({ file: this.file, line: Math.max(1, this.lastLine) }, this.lastTimeUs, out);
  }

  private check(text: string, fields: readonly string[], line: number): void {
    const columns = this.spec.columns;
    const header = columns.map((column) => column.name).join(',');
    const bad = badFieldIndex(this.spec, fields);
    if (bad === -1) return;
    const hint = `a ${this.spec.format} trace has the columns ${header} (with or without that header); --skip-bad skips bad lines`;
    if (fields.length !== columns.length) {
      throw new TraceError({ file: this.file, line, column: 1 }, `${fields.length} fields (expected ${columns.length}: ${header})`, hint);
    }
    const column = columns[bad]!;
    const what = `bad ${column.name} '${fields[bad]}' (expected ${shapeChecks[column.shape].expected})`;
    throw new TraceError({ file: this.file, line, column: columnOfField(text, bad) }, what, hint);
  }

  /** µs since the first record; never negative. */
  private timeUsOf(stamp: SplitInteger): number {
    if (this.firstStamp === null) this.firstStamp = stamp;
    const units = (stamp.high - this.firstStamp.high) * splitBase + (stamp.low - this.firstStamp.low);
    return units <= 0 ? 0 : Math.floor((units * this.spec.usMultiply) / this.spec.usDivide);
  }
}

/** 1-based column where field `index` starts. */
function columnOfField(text: string, index: number): number {
  let at = 0;
  for (let field = 0; field < index; field++) at = text.indexOf(',', at) + 1;
  return at + 1;
}

/**
 * Streams the ops of a block CSV trace (plain or `.gz`) of `format`.
 *
 * Complexity: O(input); memory O(devices).
 * @throws TraceError on a malformed row (unless options.badLines skips it).
 */
export function readBlockCsv(format: BlockCsvFormat, path: string, displayName: string = path, options: TraceReadOptions = {}): TraceSource {
  return readTraceLines(path, displayName, new BlockCsvParser(blockCsvSpecs[format], displayName), options);
}
