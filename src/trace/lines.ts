/**
 * Streaming input for the trace readers: bytes (gunzipped when the name ends
 * in `.gz`) and physical lines with 1-based line numbers. Nothing here reads
 * a whole file; memory is bounded by the chunk size plus the longest line.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { assert } from '../util/assert.js';
import { TraceError } from '../util/errors.js';

/** One physical line of a trace file, without its line terminator. */
export interface TraceLine {
  text: string;
  /** 1-based physical line number. */
  line: number;
}

/** Consecutive physical lines: `lines[i]` is line `firstLine + i`. */
export interface TraceLineBatch {
  lines: string[];
  firstLine: number;
}

/** Longest accepted line, in UTF-16 code units; a longer one is a TraceError (a binary file, most likely). */
export const lineLengthMaxChars = 4 * 1024 * 1024;

/** Read size of the file stream; large chunks keep per-chunk overhead low on multi-GB traces. */
const readChunkBytes = 256 * 1024;

/** True when `path` names gzip input (by its extension, case-insensitive). */
export function isGzipPath(path: string): boolean {
  return path.length > 3 && path.slice(-3).toLowerCase() === '.gz';
}

/** The file stream of each trace being read, by path, for traceBytesRead (progress displays only). */
const openFileStreams = new Map<string, ReadStream>();

/**
 * Bytes of the file at `path` read so far by its open trace stream (the
 * compressed bytes for `.gz`, to set against the file size); undefined when
 * no stream of that path is open. For progress displays: never affects a result.
 */
export function traceBytesRead(path: string): number | undefined {
  return openFileStreams.get(path)?.bytesRead;
}

/**
 * Opens `path` as a byte stream, gunzipped when its name ends in `.gz`.
 * Errors surface when the stream is consumed; pass them through
 * `traceInputError` to get a TraceError naming the file.
 */
export function openTraceStream(path: string): Readable {
  const file = createReadStream(path, { highWaterMark: readChunkBytes });
  openFileStreams.set(path, file);
  file.once('close', () => {
    if (openFileStreams.get(path) === file) openFileStreams.delete(path);
  });
  if (!isGzipPath(path)) return file;
  // pipeline() forwards a read error of the file to the gunzip stream.
  return pipeline(file, createGunzip({ chunkSize: readChunkBytes }), () => undefined);
}

/**
 * Maps an I/O or gzip error from reading `displayName` to a one-line
 * TraceError; TraceErrors and anything unrecognised pass through unchanged.
 */
export function traceInputError(error: unknown, displayName: string): unknown {
  if (error instanceof TraceError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') {
    return new TraceError(undefined, `${displayName}: no such file`, 'check the trace path');
  }
  if (code === 'EISDIR') {
    return new TraceError(undefined, `${displayName}: is a directory, not a trace file`, 'name a trace file');
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new TraceError(undefined, `${displayName}: permission denied`, 'make the trace file readable');
  }
  if (typeof code === 'string' && code.startsWith('Z_')) {
    const reason = error instanceof Error ? error.message : String(code);
    return new TraceError(
      undefined,
      `${displayName}: not a valid gzip file (${reason})`,
      'a name ending in .gz must hold gzip data: rename the file or recompress it',
    );
  }
  return error;
}

/**
 * Streams the physical lines of `path` in batches (one batch per decoded
 * chunk), splitting on `\n` and dropping a trailing `\r` and a leading BOM.
 * A final line without terminator is included; an empty file yields nothing.
 *
 * Complexity: O(bytes); memory O(chunk + longest line).
 * @param displayName the name used in error messages (default `path`).
 */
export async function* readLineBatches(path: string, displayName: string = path): AsyncGenerator<TraceLineBatch> {
  const decoder = new StringDecoder('utf8');
  const splitter = new LineSplitter(displayName);
  try {
    for await (const chunk of openTraceStream(path)) {
      const batch = splitter.push(decoder.write(chunk as Buffer));
      if (batch.lines.length > 0) yield batch;
    }
    const tail = splitter.finish(decoder.end());
    if (tail.lines.length > 0) yield tail;
  } catch (error) {
    throw traceInputError(error, displayName);
  }
}

/**
 * Complete physical lines as bytes: `bytes` holds whole lines, each ending in
 * `\n` except, at the end of input, an unterminated last one; the first is
 * line `firstLine`. Lines are still raw: a trailing `\r` and (line 1) a BOM
 * are the reader's to drop (`lineTextBounds`).
 */
export interface ByteLineBatch {
  bytes: Buffer;
  firstLine: number;
}

/**
 * Streams the lines of `path` as bytes, a read chunk at a time (cut after its
 * last `\n`): for readers that parse their common lines straight from the
 * bytes and decode only the others (`Buffer#toString('utf8')` of one line
 * decodes it as the streaming decoder of readLineBatches would, since a `\n`
 * byte never falls inside a UTF-8 sequence).
 *
 * Complexity: O(bytes); memory O(chunk + longest line).
 * @param displayName the name used in error messages (default `path`).
 */
export async function* readByteLineBatches(path: string, displayName: string = path): AsyncGenerator<ByteLineBatch> {
  let pending: Buffer | undefined;
  let nextLine = 1;
  try {
    for await (const chunk of openTraceStream(path)) {
      const bytes = chunk as Buffer;
      const lastNewline = bytes.lastIndexOf(10);
      if (lastNewline < 0) {
        pending = pending === undefined ? Buffer.from(bytes) : Buffer.concat([pending, bytes]);
        checkPendingLength(pending, nextLine, displayName);
        continue;
      }
      const lines = pending === undefined ? bytes.subarray(0, lastNewline + 1) : Buffer.concat([pending, bytes.subarray(0, lastNewline + 1)]);
      pending = lastNewline + 1 < bytes.length ? Buffer.from(bytes.subarray(lastNewline + 1)) : undefined;
      const firstLine = nextLine;
      for (let at = lines.indexOf(10); at >= 0; at = lines.indexOf(10, at + 1)) nextLine++;
      if (pending !== undefined) checkPendingLength(pending, nextLine, displayName);
      yield { bytes: lines, firstLine };
    }
    if (pending !== undefined && pending.length > 0) yield { bytes: pending, firstLine: nextLine };
  } catch (error) {
    throw traceInputError(error, displayName);
  }
}

/** LineSplitter's limit on the unterminated tail, for bytes: UTF-16 units never outnumber UTF-8 bytes. */
function checkPendingLength(pending: Buffer, line: number, displayName: string): void {
  if (pending.length > lineLengthMaxChars && pending.toString('utf8').length > lineLengthMaxChars) failLineTooLong(displayName, line);
}

/**
 * The text of the line at bytes[start, end) (`end` at its `\n` or the end of
 * the batch) without a trailing `\r` and, on line 1, a BOM, as LineSplitter
 * cleans it: sets lineBounds[0..1]. Throws TraceError for a line over
 * lineLengthMaxChars.
 */
export function lineTextBounds(bytes: Uint8Array, start: number, end: number, line: number, displayName: string, bounds: Int32Array): void {
  if (end > start && bytes[end - 1] === 13) end--; // CRLF
  if (line === 1 && end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) start += 3; // BOM
  if (end - start > lineLengthMaxChars && Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8').length > lineLengthMaxChars) {
    failLineTooLong(displayName, line);
  }
  bounds[0] = start;
  bounds[1] = end;
}

function failLineTooLong(displayName: string, line: number): never {
  throw new TraceError(
    { file: displayName, line },
    `line longer than ${lineLengthMaxChars} characters`,
    'is this a binary file? name the trace format with --format, or check the file',
  );
}

/**
 * Streams the physical lines of `path` one at a time as `{ text, line }`.
 * Same rules as `readLineBatches`, which is cheaper for hot loops.
 */
export async function* readLines(path: string, displayName: string = path): AsyncGenerator<TraceLine> {
  for await (const batch of readLineBatches(path, displayName)) {
    for (let index = 0; index < batch.lines.length; index++) {
      yield { text: batch.lines[index]!, line: batch.firstLine + index };
    }
  }
}

/**
 * The first `count` physical lines of `path` (fewer when the file is
 * shorter), for format detection. Stops reading as soon as it has them.
 */
export async function peekLines(path: string, count: number, displayName: string = path): Promise<string[]> {
  assert(Number.isInteger(count) && count >= 0, 'peekLines: count must be a non-negative integer', { count });
  const lines: string[] = [];
  if (count === 0) return lines;
  for await (const batch of readLineBatches(path, displayName)) {
    for (const text of batch.lines) {
      lines.push(text);
      if (lines.length === count) return lines;
    }
  }
  return lines;
}

/** Incremental `\n` splitter over decoded text; keeps the unterminated tail between pushes. */
export class LineSplitter {
  private pending = '';
  private nextLine = 1;

  constructor(private readonly displayName: string) {}

  /** Splits `text` appended to the pending tail; returns the completed lines. */
  push(text: string): TraceLineBatch {
    const lines: string[] = [];
    const firstLine = this.nextLine;
    const data = this.pending.length === 0 ? text : this.pending + text;
    let start = 0;
    for (;;) {
      const end = data.indexOf('\n', start);
      if (end < 0) break;
      lines.push(this.cleanLine(data, start, end, firstLine + lines.length));
      start = end + 1;
    }
    this.pending = start === 0 ? data : data.slice(start);
    this.nextLine = firstLine + lines.length;
    if (this.pending.length > lineLengthMaxChars) this.failTooLong(this.nextLine);
    return { lines, firstLine };
  }

  /** Flushes the last line when the input did not end with `\n`. */
  finish(text: string): TraceLineBatch {
    const batch = text.length > 0 ? this.push(text) : { lines: [], firstLine: this.nextLine };
    if (this.pending.length > 0) {
      batch.lines.push(this.cleanLine(this.pending, 0, this.pending.length, this.nextLine));
      this.pending = '';
      this.nextLine++;
    }
    return batch;
  }

  private cleanLine(data: string, start: number, end: number, line: number): string {
    if (end > start && data.charCodeAt(end - 1) === 13) end--; // CRLF
    if (line === 1 && end > start && data.charCodeAt(start) === 0xfeff) start++; // BOM
    if (end - start > lineLengthMaxChars) this.failTooLong(line);
    return data.slice(start, end);
  }

  private failTooLong(line: number): never {
    failLineTooLong(this.displayName, line);
  }
}
