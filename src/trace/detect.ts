/**
 * Trace format detection and the table of readers. A format is an entry in
 * `traceReaders`: its extensions, a sniffer over the first lines, an
 * example line for error messages, and its streaming reader. Adding a
 * format (strace, blkparse, fio iolog, MSR CSV) = one reader file + one
 * entry here + its name in `TraceFormat` (types.ts).
 */
import { stat } from 'node:fs/promises';
import { TraceError } from '../util/errors.js';
import { csvColumns, readCsv } from './csv.js';
import { isGzipPath, peekLines } from './lines.js';
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
  read: (path: string, displayName: string) => TraceSource;
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
    read: (path, displayName) => readXio(path, displayName),
  },
  {
    format: 'csv',
    extensions: ['.csv'],
    exampleLine: csvHeader,
    sniff: (lines) => lines.length > 0 && lines[0]!.replace(/\s+/g, '') === csvHeader,
    read: (path, displayName) => readCsv(path, displayName),
  },
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

/**
 * The format of the trace at `path`: by extension first (`.xio`, `.csv`,
 * each optionally `.gz`), else by sniffing its first lines.
 *
 * @param displayName the name used in errors (default `path`).
 * @throws TraceError when nothing matches, listing each format with an example line.
 */
export async function detectFormat(path: string, displayName: string = path): Promise<TraceFormat> {
  const stem = formatStem(path);
  for (const entry of traceReaders) {
    if (entry.extensions.some((extension) => stem.endsWith(extension))) return entry.format;
  }
  const lines = significantLines(await peekLines(path, sniffLineCount, displayName));
  for (const entry of traceReaders) {
    if (entry.sniff(lines)) return entry.format;
  }
  const formats = traceReaders.map((entry) => `${entry.format} (e.g. '${entry.exampleLine}')`).join('; ');
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
): Promise<{ format: TraceFormat; ops: TraceSource }> {
  const displayName = options.displayName ?? path;
  await checkTraceFile(path, displayName);
  const requested = options.format ?? 'auto';
  const format = requested === 'auto' ? await detectFormat(path, displayName) : readerFor(requested).format;
  return { format, ops: readerFor(format).read(path, displayName) };
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
