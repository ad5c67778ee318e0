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
import { lineTextBounds, readByteLineBatches, readLineBatches, type ByteLineBatch, type TraceLineBatch } from './lines.js';
import type { IgnoredOp, OpBatchSource, TraceOp } from './types.js';
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
  /**
   * Optional fast path: parses the line at bytes[start, end) (cleaned: no
   * `\r`, no BOM) when it is one of the reader's common lines, exactly as
   * parseLine would its text, and returns true; returns false, having done
   * nothing, for any other line (parseLine then gets its text). Never throws.
   * A reader with it is fed bytes, and only its other lines are decoded.
   */
  parseLineBytes?(bytes: Uint8Array, start: number, end: number, line: number, out: TraceOp[]): boolean;
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
export function readTraceLines(path: string, displayName: string, parser: TraceLineParser, options: TraceReadOptions = {}): AsyncGenerator<TraceOp> {
  const batches = parser.parseLineBytes !== undefined ? readByteLineBatches(path, displayName) : readLineBatches(path, displayName);
  return new LineOpStream(batches, displayName, parser, options.badLines);
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * The ops of a stream of line batches, as an async generator would yield
 * them: each batch is parsed whole, then its ops are handed out one by one
 * from an already resolved promise (an async generator function costs
 * about twice as much per op, and replays consume millions). A parse error
 * ends the stream (the line reader is closed) and rejects the next().
 */
class LineOpStream implements AsyncGenerator<TraceOp>, OpBatchSource {
  private readonly out: TraceOp[] = [];
  /** Scratch [start, end) of the line text lineTextBounds found. */
  private readonly bounds = new Int32Array(2);
  private index = 0;
  private ended = false;

  constructor(
    private readonly batches: AsyncGenerator<TraceLineBatch | ByteLineBatch>,
    private readonly displayName: string,
    private readonly parser: TraceLineParser,
    private readonly badLines: BadLineLog | undefined,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TraceOp>> {
    if (this.index < this.out.length) return Promise.resolve({ value: this.out[this.index++]!, done: false });
    return this.refill();
  }

  /**
   * OpBatchSource: the ops not handed out yet, all at once (undefined at the
   * end). The array is reused by the next call: consume it first. One
   * promise per batch instead of one per op.
   */
  async nextBatch(): Promise<readonly TraceOp[] | undefined> {
    if (this.index > 0 && this.index < this.out.length) this.out.splice(0, this.index);
    else if (this.index >= this.out.length) {
      const first = await this.refill();
      if (first.done === true) return undefined;
      // refill handed out the batch's first op: take it back, the batch is returned whole.
      this.index--;
    }
    this.index = this.out.length;
    return this.out;
  }

  /** Parses batches until one gives ops (or the input ends: then the parser's final ops). */
  private async refill(): Promise<IteratorResult<TraceOp>> {
    const out = this.out;
    while (!this.ended) {
      out.length = 0;
      this.index = 0;
      try {
        const batch = await this.batches.next();
        if (batch.done === true) {
          this.ended = true;
          this.parser.finish(out);
        } else {
          this.parseBatch(batch.value);
        }
      } catch (error) {
        await this.close();
        throw error;
      }
      if (out.length > 0) return { value: out[this.index++]!, done: false };
    }
    return DONE;
  }

  private parseBatch(batch: TraceLineBatch | ByteLineBatch): void {
    if ('bytes' in batch) {
      this.parseByteBatch(batch);
      return;
    }
    const { lines, firstLine } = batch;
    const { parser, out, badLines } = this;
    for (let index = 0; index < lines.length; index++) {
      if (badLines === undefined) parser.parseLine(lines[index]!, firstLine + index, out);
      else parseSkipping(parser, lines[index]!, firstLine + index, out, badLines, this.displayName);
    }
  }

  /** The lines of a byte batch: the parser's fast path first, the text of the line for the rest. */
  private parseByteBatch(batch: ByteLineBatch): void {
    const { bytes, firstLine } = batch;
    const { parser, out, badLines, bounds } = this;
    const length = bytes.length;
    let line = firstLine;
    let start = 0;
    while (start < length) {
      let end = bytes.indexOf(10, start);
      if (end < 0) end = length;
      lineTextBounds(bytes, start, end, line, this.displayName, bounds);
      const textStart = bounds[0]!;
      const textEnd = bounds[1]!;
      if (!parser.parseLineBytes!(bytes, textStart, textEnd, line, out)) {
        const text = bytes.toString('utf8', textStart, textEnd);
        if (badLines === undefined) parser.parseLine(text, line, out);
        else parseSkipping(parser, text, line, out, badLines, this.displayName);
      }
      line++;
      start = end + 1;
    }
  }

  /** Ends the stream: no more ops, the line reader (and its file) closed. */
  private async close(): Promise<void> {
    if (this.ended && this.out.length === 0) return;
    this.ended = true;
    this.out.length = 0;
    this.index = 0;
    await this.batches.return(undefined);
  }

  async return(): Promise<IteratorResult<TraceOp>> {
    await this.close();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<TraceOp>> {
    await this.close();
    throw error;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
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
