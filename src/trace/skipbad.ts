/**
 * Line-at-a-time trace reading with an optional "skip bad lines" mode
 * (`--skip-bad`). A reader is a `TraceLineParser`: it parses one physical
 * line and throws TraceError when the line is malformed, leaving its state
 * as it was, so the driver can drop the line and go on. Without a
 * `BadLineLog` the first bad line ends the read (strict, the default);
 * with one, each bad line becomes an `ignored` op with reason 'bad-line'
 * (counted by the replay in stats.opsIgnored) and its message is logged.
 */
import { assert } from '../util/assert.js';
import { TraceError, type SourcePos } from '../util/errors.js';
import { CsvRecordSplitter, CsvTraceBuilder } from './csv.js';
import { readLineBatches } from './lines.js';
import type { IgnoredOp, TraceOp } from './types.js';
import { XioParser } from './xio.js';

/** The ignored-op reason of a skipped line. */
export const badLineReason = 'bad-line';

/** How many messages a BadLineLog keeps (the CLI prints them). */
export const badLineMessagesMax = 5;

/** A reader over physical lines; parse functions are strict and leave state unchanged when they throw. */
export interface TraceLineParser {
  /**
   * Parses physical line `line` (1-based, consecutive) and appends its ops
   * to `out`. Throws TraceError, with the line's position, on a bad line.
   */
  parseLine(text: string, line: number, out: TraceOp[]): void;
  /** End of input: appends the final ops (closes of files still open). May throw TraceError. */
  finish(out: TraceOp[]): void;
}

/** Options every reader takes; none of them is a replay option. */
export interface TraceReadOptions {
  /** When set, malformed lines are skipped and recorded here instead of ending the read. */
  badLines?: BadLineLog;
}

/** The skipped lines of one read: how many, and the first few messages (`file:line:col: what`). */
export class BadLineLog {
  count = 0;
  readonly messages: string[] = [];

  /** Records one skipped line. O(1). */
  record(error: TraceError): void {
    this.count++;
    if (this.messages.length < badLineMessagesMax) this.messages.push(error.message);
  }
}

/** The op that stands for a skipped line. */
export function badLineOp(error: TraceError, fallback: SourcePos): IgnoredOp {
  const src = error.pos ?? fallback;
  return { kind: 'ignored', src, reason: badLineReason, call: 'line' };
}

/**
 * Streams the ops `parser` makes of the lines of `path` (plain or `.gz`).
 * Strict unless `options.badLines` is given (see the module comment).
 * Errors that are not TraceErrors (bugs, I/O) always propagate.
 *
 * Complexity: O(input); memory O(longest line + ops of one line).
 */
export async function* readTraceLines(
  path: string,
  displayName: string,
  parser: TraceLineParser,
  options: TraceReadOptions = {},
): AsyncGenerator<TraceOp> {
  const badLines = options.badLines;
  const out: TraceOp[] = [];
  for await (const batch of readLineBatches(path, displayName)) {
    const { lines, firstLine } = batch;
    for (let index = 0; index < lines.length; index++) {
      if (badLines === undefined) {
        parser.parseLine(lines[index]!, firstLine + index, out);
      } else {
        parseSkipping(parser, lines[index]!, firstLine + index, out, badLines, displayName);
      }
    }
    // One yield per batch of lines keeps the generator overhead off the per-line path.
    for (let opIndex = 0; opIndex < out.length; opIndex++) yield out[opIndex]!;
    out.length = 0;
  }
  parser.finish(out);
  yield* out;
}

function parseSkipping(parser: TraceLineParser, text: string, line: number, out: TraceOp[], badLines: BadLineLog, file: string): void {
  const before = out.length;
  try {
    parser.parseLine(text, line, out);
  } catch (error) {
    if (!(error instanceof TraceError)) throw error;
    // A parser may have appended ops before it failed: the whole line goes.
    out.length = before;
    badLines.record(error);
    out.push(badLineOp(error, { file, line }));
  }
  assert(out.length >= before, 'parseSkipping: ops vanished', { line });
}

/** The xio reader as a TraceLineParser (its ops are gathered per line, so a bad line leaves none behind). */
class XioLineParser implements TraceLineParser {
  private readonly parser: XioParser;

  constructor(file: string) {
    this.parser = new XioParser(file);
  }

  parseLine(text: string, line: number, out: TraceOp[]): void {
    for (const op of this.parser.feedLine(text, line)) out.push(op);
  }

  finish(): void {
    this.parser.finish();
  }
}

/** The iomapsim CSV reader as a TraceLineParser (one record per line; quoted records may span lines). */
class CsvLineParser implements TraceLineParser {
  private readonly splitter: CsvRecordSplitter;
  private readonly builder: CsvTraceBuilder;

  constructor(file: string) {
    this.splitter = new CsvRecordSplitter(file);
    this.builder = new CsvTraceBuilder(file);
  }

  parseLine(text: string, line: number, out: TraceOp[]): void {
    const fields = this.splitter.feed(text, line);
    if (fields === null) return;
    for (const op of this.builder.record(fields, this.splitter.recordLine)) out.push(op);
  }

  finish(out: TraceOp[]): void {
    this.splitter.finish();
    for (const op of this.builder.finish()) out.push(op);
  }
}

/** readXio that skips bad lines into `options.badLines` (strict without it). */
export function readXioSkippingBad(path: string, displayName: string, options: TraceReadOptions): AsyncGenerator<TraceOp> {
  return readTraceLines(path, displayName, new XioLineParser(displayName), options);
}

/** readCsv that skips bad records into `options.badLines` (strict without it). */
export function readCsvSkippingBad(path: string, displayName: string, options: TraceReadOptions): AsyncGenerator<TraceOp> {
  return readTraceLines(path, displayName, new CsvLineParser(displayName), options);
}
