/**
 * Trace format detection and the table of readers. A format is an entry in
 * `traceReaders`: its extensions, a sniffer over the first lines, an
 * example line for error messages, and its streaming reader. Adding a
 * format (strace, blkparse, fio iolog, MSR CSV) = one reader file + one
 * entry here + its name in `TraceFormat` (types.ts).
 */
import { stat } from 'node:fs/promises';
import { TraceError } from '../util/errors.js';
import { blkparseExampleLine, readBlkparse, sniffBlkparse } from './blkparse.js';
import { blockCsvSpecs, readBlockCsv, sniffBlockCsv } from './blockcsv.js';
import { csvColumns, readCsv } from './csv.js';
import { fioExampleLine, readFio, sniffFio } from './fio.js';
import { isGzipPath, peekLines } from './lines.js';
import { readCsvSkippingBad, readXioSkippingBad, type BadLineLog, type TraceReadOptions } from './skipbad.js';
import { readStrace, sniffStrace, straceExampleLine } from './strace.js';
import type { TraceFormat, TraceSource } from './types.js';
import { readXio } from './xio.js';

/** One trace format as detection and `openTrace` see it. */
export interface TraceReaderEntry {
  format: TraceFormat;
  /** File name extensions (lower case, with the dot), checked after stripping `.gz`. */
  extensions: readonly string[];
  /** One typical line, shown when detection fails. */
  exampleLine: string;
  /** True when the first significant (non-blank, non-comment) lines look like this format. */
  sniff: (lines: readonly string[]) => boolean;
  /** The streaming reader; readers with `skipsBadLines` honour `options.badLines`. */
  read: (path: string, displayName: string, options?: TraceReadOptions) => TraceSource;
  /** Whether `read` can skip malformed lines (--skip-bad). */
  skipsBadLines?: boolean;
  /** Block-device trace: each device is replayed into one file (blockfile.ts; --device, --device-file). */
  blockDevice?: boolean;
}

/** Lines read for sniffing; comment headers longer than this defeat detection (name the format instead). */
export const sniffLineCount = 64;

const csvHeader = csvColumns.join(',');

/** The registered formats, in sniffing order. */
export const traceReaders: readonly TraceReaderEntry[] = [
  {
    format: 'xio',
    extensions: ['.xio'],
    exampleLine: 'data.bin: -f -c "pwrite -S 0x51 0 64k" -c "fsync"',
    sniff: sniffXio,
    read: (path, displayName, options) => (options?.badLines === undefined ? readXio(path, displayName) : readXioSkippingBad(path, displayName, options)),
    skipsBadLines: true,
  },
  {
    format: 'csv',
    extensions: ['.csv'],
    exampleLine: csvHeader,
    sniff: (lines) => lines.length > 0 && lines[0]!.replace(/\s+/g, '') === csvHeader,
    read: (path, displayName, options) => (options?.badLines === undefined ? readCsv(path, displayName) : readCsvSkippingBad(path, displayName, options)),
    skipsBadLines: true,
  },
  {
    format: 'strace',
    // Samples named *.txt are detected by sniffing (-o style, stderr style, or lines without a pid).
    extensions: ['.strace'],
    exampleLine: straceExampleLine,
    sniff: sniffStrace,
    read: (path, displayName, options) => readStrace(path, displayName, options),
    skipsBadLines: true,
  },
  {
    format: 'blkparse',
    extensions: [],
    exampleLine: blkparseExampleLine,
    sniff: sniffBlkparse,
    read: (path, displayName, options) => readBlkparse(path, displayName, options),
    skipsBadLines: true,
    blockDevice: true,
  },
  {
    format: 'fio',
    extensions: [],
    exampleLine: fioExampleLine,
    sniff: sniffFio,
    read: (path, displayName, options) => readFio(path, displayName, options),
    skipsBadLines: true,
  },
  ...(['msr', 'alibaba', 'tencent'] as const).map(
    (format): TraceReaderEntry => ({
      format,
      // Shared with our own CSV: detection sniffs among the formats claiming '.csv'.
      extensions: ['.csv'],
      exampleLine: blockCsvSpecs[format].exampleLine,
      sniff: (lines) => sniffBlockCsv(format, lines),
      read: (path, displayName, options) => readBlockCsv(format, path, displayName, options),
      skipsBadLines: true,
      blockDevice: true,
    }),
  ),
];

/** xio: `FILE: -opt...` (a name without blanks, a colon, then an option or nothing), an `@directive` or a `! shell` line. */
function sniffXio(lines: readonly string[]): boolean {
  if (lines.length === 0) return false;
  const line = lines[0]!.trim();
  if (line.startsWith('@')) return /^@[a-z_]+(\s|$)/.test(line);
  if (line.startsWith('! ')) return true;
  const colon = line.indexOf(':');
  if (colon <= 0 || /\s/.test(line.slice(0, colon))) return false;
  const rest = line.slice(colon + 1).trim();
  return rest === '' || rest.startsWith('-');
}

/** The trace formats' names, for --format and messages. */
export function traceFormatNames(): TraceFormat[] {
  return traceReaders.map((entry) => entry.format);
}

function readerFor(format: TraceFormat): TraceReaderEntry {
  const entry = traceReaders.find((candidate) => candidate.format === format);
  if (entry === undefined) {
    throw new TraceError(undefined, `unknown trace format '${format}' (expected one of ${traceFormatNames().join(', ')})`);
  }
  return entry;
}

/** The name without `.gz`, lower case, for extension matching. */
function formatStem(path: string): string {
  const lower = path.toLowerCase();
  return isGzipPath(lower) ? lower.slice(0, -3) : lower;
}

/** First lines that are neither blank nor `#` comments (every format here uses `#` comments). */
function significantLines(lines: readonly string[]): string[] {
  return lines.filter((line) => {
    const trimmed = line.trim();
    return trimmed !== '' && !trimmed.startsWith('#');
  });
}

/** How detection chose: by the file name's extension, or by sniffing the content. */
export type DetectedBy = 'extension' | 'content';

/**
 * The format of the trace at `path`: by extension first (`.xio`, `.csv`,
 * each optionally `.gz`), else by sniffing its first lines. An extension
 * several formats claim (`.csv`: ours, MSR, Alibaba, Tencent) is settled by
 * sniffing among them; when none matches, the first claimant wins (its
 * reader then says what is wrong).
 *
 * @param displayName the name used in errors (default `path`).
 * @throws TraceError when nothing matches, listing each format with an example line.
 */
export async function detectFormat(path: string, displayName: string = path): Promise<TraceFormat> {
  return (await detectTraceFormat(path, displayName)).format;
}

/** detectFormat, also saying how it chose (the CLI reports content-sniffed choices). */
export async function detectTraceFormat(path: string, displayName: string = path): Promise<{ format: TraceFormat; detectedBy: DetectedBy }> {
  const stem = formatStem(path);
  const claimants = traceReaders.filter((entry) => entry.extensions.some((extension) => stem.endsWith(extension)));
  if (claimants.length === 1) return { format: claimants[0]!.format, detectedBy: 'extension' };
  const lines = significantLines(await peekLines(path, sniffLineCount, displayName));
  if (claimants.length > 1) {
    const sniffed = claimants.find((entry) => entry.sniff(lines)) ?? claimants[0]!;
    return { format: sniffed.format, detectedBy: sniffed === claimants[0] ? 'extension' : 'content' };
  }
  for (const entry of traceReaders) {
    if (entry.sniff(lines)) return { format: entry.format, detectedBy: 'content' };
  }
  const formats = traceReaders.map((entry) => `${entry.format} (e.g. '${entry.exampleLine.trim()}')`).join('; ');
  throw new TraceError(
    undefined,
    `${displayName}: unknown trace format (expected one of: ${formats})`,
    `name the format with --format ${traceFormatNames().join('|')}, or use a .xio/.csv extension`,
  );
}

export interface OpenTraceOptions {
  /** 'auto' (default) detects; a format name forces that reader. */
  format?: 'auto' | TraceFormat;
  /** Name shown in `src.file` and errors (default: the path as given). */
  displayName?: string;
  /** Skip malformed lines into this log (readers with `skipsBadLines`; see readerSkipsBadLines). */
  badLines?: BadLineLog;
}

/** Whether `format`'s reader can skip malformed lines. */
export function readerSkipsBadLines(format: TraceFormat): boolean {
  return readerFor(format).skipsBadLines === true;
}

/** Whether `format` is a block-device trace (one file per device; --device applies). */
export function isBlockDeviceFormat(format: TraceFormat): boolean {
  return readerFor(format).blockDevice === true;
}

/**
 * Opens a trace: checks that the file exists, detects (or takes) its
 * format, and returns the op stream (nothing is parsed until iterated).
 *
 * @throws TraceError for a missing file, a directory, or an unknown format.
 */
export async function openTrace(
  path: string,
  options: OpenTraceOptions = {},
): Promise<{ format: TraceFormat; ops: TraceSource; detectedBy?: DetectedBy }> {
  const displayName = options.displayName ?? path;
  await checkTraceFile(path, displayName);
  const requested = options.format ?? 'auto';
  const readOptions: TraceReadOptions = options.badLines === undefined ? {} : { badLines: options.badLines };
  if (requested !== 'auto') {
    const format = readerFor(requested).format;
    return { format, ops: readerFor(format).read(path, displayName, readOptions) };
  }
  const { format, detectedBy } = await detectTraceFormat(path, displayName);
  return { format, detectedBy, ops: readerFor(format).read(path, displayName, readOptions) };
}

async function checkTraceFile(path: string, displayName: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new TraceError(undefined, `${displayName}: no such file`, 'check the trace path');
    }
    throw error;
  }
  if (!isFile) throw new TraceError(undefined, `${displayName}: not a regular file`, 'name a trace file');
}
