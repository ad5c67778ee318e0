/**
 * Text renderers: pure functions from the result model to strings. File
 * layouts are printed the way `filefrag -v` (e2fsprogs 1.47, misc/filefrag.c
 * print_extent_info) prints FIEMAP output, so a simulated layout can be put
 * next to a real one line by line. Nothing here writes to a stream.
 */
import type {
  CrashRecord,
  DeviceStats,
  ExtentFlagName,
  ExtentRecord,
  FileLayout,
  LatencyStats,
  OpErrorRecord,
  RecoveryEvent,
  RecoveryPath,
  RecoveryReport,
  ReplayResult,
  ReplayStats,
} from './model.js';
import type { ImageSummaryView, VerifyView } from './layout.js';
import { assert } from '../util/assert.js';
import { LineChunks } from './linechunks.js';

/** Colouring hooks; the CLI passes chalk-backed ones, everything defaults to plain text. */
export interface TextStyle {
  label(text: string): string;
  good(text: string): string;
  bad(text: string): string;
  dim(text: string): string;
}

export const plainStyle: TextStyle = {
  label: (text) => text,
  good: (text) => text,
  bad: (text) => text,
  dim: (text) => text,
};

export interface FileLayoutTextOptions {
  /** Policy name, for the "Filesystem type is:" line (statfs f_type of the real filesystem). */
  policy?: string;
  /** Print the "Filesystem type is:" line (filefrag prints it once per device). Default true. */
  filesystemHeader?: boolean;
  /** Device size in blocks: widens the physical columns as filefrag does for huge devices. */
  deviceBlocks?: number;
}

/** Errors listed in text output before "... and N more" (the JSON keeps all of them). */
export const TEXT_ERRORS_MAX = 20;

const FILEFRAG_LOGICAL_WIDTH_MIN = 8;
const FILEFRAG_PHYSICAL_WIDTH_MIN = 10;

/** statfs(2) f_type of each policy's real filesystem, as filefrag prints it (hex, no 0x). */
const FILESYSTEM_MAGIC: Readonly<Record<string, string>> = {
  ext4: 'ef53',
  xfs: '58465342',
  btrfs: '9123683e',
};

/** filefrag's flag words for each model flag, in filefrag's print order. */
const FILEFRAG_FLAG_WORDS: readonly (readonly [ExtentFlagName, string])[] = [
  ['last', 'last'],
  ['delalloc', 'unknown_loc,delalloc'],
  ['encoded', 'encoded'],
  ['inline', 'not_aligned,inline'],
  ['unwritten', 'unwritten'],
  ['shared', 'shared'],
];

/** ulong_log10 of filefrag: the number of decimal digits minus one (0 for 0..9). */
function log10Floor(value: number): number {
  let digits = 0;
  let rest = Math.floor(value / 10);
  while (rest > 0) {
    digits++;
    rest = Math.floor(rest / 10);
  }
  return digits;
}

/** Flag words of a flag list (extents share their lists), each with its comma: made once per list. */
const flagWordsCache = new WeakMap<readonly ExtentFlagName[], [string, string]>();

function flagWords(flags: readonly ExtentFlagName[], atEof: boolean): string {
  let cached = flagWordsCache.get(flags);
  if (cached === undefined) {
    let words = '';
    for (const [name, text] of FILEFRAG_FLAG_WORDS) if (flags.includes(name)) words += `${text},`;
    cached = [words, `${words}eof,`];
    flagWordsCache.set(flags, cached);
  }
  return atEof ? cached[1] : cached[0];
}

/** Runs of spaces by length, made once. */
const blankRuns: string[] = [];

function blanks(count: number): string {
  return (blankRuns[count] ??= ' '.repeat(count));
}

function padLeft(value: number | string, width: number): string {
  return String(value).padStart(width, ' ');
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** The `filefrag -v` column header for the given column widths. */
function filefragHeader(logicalWidth: number, physicalWidth: number): string {
  const logical = padLeft('logical_offset:', logicalWidth * 2 + 3);
  const physical = padLeft('physical_offset:', physicalWidth * 2 + 3);
  const expected = padLeft('expected:', physicalWidth + 1);
  return ` ext: ${logical} ${physical} length: ${expected} flags:`;
}

/** The flags column of a row with no `expected` value: made once per flag list, EOF-ness and width. */
const plainFlagColumns = new WeakMap<readonly ExtentFlagName[], string[]>();

/** One `filefrag -v` row (print_extent_info): blocks, or bytes for inline extents as filefrag does. */
function writeFilefragRow(
  out: LineChunks,
  index: number,
  extent: ExtentRecord,
  expectedBlock: number,
  atEof: boolean,
  blockSize: number,
  widths: { logical: number; physical: number },
): void {
  const inline = extent.flags.includes('inline');
  const unit = inline ? blockSize : 1;
  const logicalStart = extent.logical * unit;
  const lastOffset = extent.length * unit - 1;
  const unknownLocation = extent.flags.includes('delalloc');
  // filefrag shows an extent with no location (delalloc) as 0..0 with length 0.
  const physicalStart = unknownLocation ? 0 : extent.physical * unit;
  const physicalEnd = unknownLocation ? 0 : physicalStart + lastOffset;
  const lengthShown = unknownLocation ? 0 : extent.length * unit;
  // An extent with no location has no meaningful "expected" block: filefrag leaves the column blank.
  const showExpected = expectedBlock !== 0 && !unknownLocation;
  out.padded(index, 4);
  out.ascii(': ');
  out.padded(logicalStart, widths.logical);
  out.ascii('..');
  out.padded(logicalStart + lastOffset, widths.logical);
  out.ascii(': ');
  out.padded(physicalStart, widths.physical);
  out.ascii('..');
  out.padded(physicalEnd, widths.physical);
  out.ascii(': ');
  out.padded(lengthShown, 6);
  out.ascii(': ');
  out.ascii(flagColumn(extent.flags, atEof, showExpected ? expectedBlock : undefined, widths.physical));
}

/** The `expected` and flags columns; filefrag drops their last character unconditionally ("Remove trailing comma"). */
function flagColumn(flags: readonly ExtentFlagName[], atEof: boolean, expectedBlock: number | undefined, physicalWidth: number): string {
  if (expectedBlock !== undefined) return `${padLeft(expectedBlock, physicalWidth)}: ${flagWords(flags, atEof)}`.slice(0, -1);
  let byWidth = plainFlagColumns.get(flags);
  if (byWidth === undefined) plainFlagColumns.set(flags, (byWidth = []));
  const key = physicalWidth * 2 + (atEof ? 1 : 0);
  return (byWidth[key] ??= `${blanks(physicalWidth + 2)}${flagWords(flags, atEof)}`.slice(0, -1));
}

/**
 * Renders one file's layout exactly as `filefrag -v FILE` prints it: the
 * "File size of" line, the extent table with the `expected` column where an
 * extent does not continue the previous one physically, flags such as
 * `unwritten,last,eof`, and "FILE: N extents found", where N counts physical
 * discontinuities the way filefrag_fiemap does. Every line ends in "\n". O(extents).
 */
export function renderFileLayout(file: FileLayout, blockSize: number, options: FileLayoutTextOptions = {}): string {
  const chunks: string[] = [];
  writeFileLayout(file, blockSize, options, (chunk) => chunks.push(chunk));
  return chunks.join('');
}

/** renderFileLayout's text handed to `emit` in pieces (a file of millions of extents never becomes one string). */
export function writeFileLayout(file: FileLayout, blockSize: number, options: FileLayoutTextOptions, emit: (chunk: string) => void): void {
  assert(blockSize > 0, 'block size must be positive', { blockSize });
  const out = new LineChunks(emit);
  const lines = {
    push(line: string): void {
      out.text(line);
      out.endLine();
    },
  };
  if (options.filesystemHeader ?? true) {
    const policy = options.policy ?? 'ext4';
    lines.push(`Filesystem type is: ${FILESYSTEM_MAGIC[policy] ?? policy}`);
  }
  const fileBlocks = Math.ceil(file.size / blockSize);
  lines.push(`File size of ${file.path} is ${file.size} (${fileBlocks} block${fileBlocks === 1 ? '' : 's'} of ${blockSize} bytes)`);
  const widths = {
    logical: Math.max(FILEFRAG_LOGICAL_WIDTH_MIN, log10Floor(fileBlocks)),
    physical: Math.max(FILEFRAG_PHYSICAL_WIDTH_MIN, log10Floor(options.deviceBlocks ?? 0)),
  };
  if (file.extents.length > 0) lines.push(filefragHeader(widths.logical, widths.physical));
  let fragments = 0;
  let previous: ExtentRecord = { logical: 0, physical: 0, length: 0, flags: [] };
  file.extents.forEach((extent, index) => {
    // filefrag_fiemap: a new fragment unless the extent continues the previous one
    // either at the same logical distance or right after it (skipping a hole).
    const expectedDense = previous.physical + previous.length;
    let expected = previous.physical + extent.logical - previous.logical;
    if (extent.logical !== 0 && extent.physical !== expected && extent.physical !== expectedDense) {
      fragments++;
    } else {
      expected = 0;
      if (fragments === 0) fragments = 1;
    }
    const atEof = (extent.logical + extent.length) * blockSize >= file.size;
    writeFilefragRow(out, index, extent, expected, atEof, blockSize, widths);
    out.endLine();
    previous = extent;
  });
  lines.push(`${file.path}: ${fragments === 1 ? '1 extent' : `${fragments} extents`} found`);
  out.flush();
}

/** Renders several layouts like `filefrag -v a b c`: the filesystem line once, then each file. */
export function renderFileLayouts(files: readonly FileLayout[], blockSize: number, options: FileLayoutTextOptions = {}): string {
  const chunks: string[] = [];
  writeFileLayouts(files, blockSize, options, (chunk) => chunks.push(chunk));
  return chunks.join('');
}

/** renderFileLayouts's text handed to `emit` in pieces. */
export function writeFileLayouts(files: readonly FileLayout[], blockSize: number, options: FileLayoutTextOptions, emit: (chunk: string) => void): void {
  files.forEach((file, index) => writeFileLayout(file, blockSize, { ...options, filesystemHeader: index === 0 && (options.filesystemHeader ?? true) }, emit));
}

/** "4194304 bytes (4.0 MiB)": exact bytes, then a binary-unit rounding for the eye. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let value = bytes;
  let unitIndex = -1;
  while (value >= 1024 && unitIndex < units.length - 1) {
    value /= 1024;
    unitIndex++;
  }
  return `${bytes} bytes (${value.toFixed(1)} ${units[unitIndex]})`;
}

function labelled(style: TextStyle, label: string, value: string): string {
  return `${style.label(`${label}:`.padEnd(9))}${value}\n`;
}

function renderOpsLine(stats: ReplayStats): string {
  const kinds = Object.keys(stats.ops).sort();
  const byKind = kinds.map((kind) => `${kind} ${stats.ops[kind]}`).join(', ');
  const failed = stats.opsFailed > 0 ? `, ${stats.opsFailed} failed` : '';
  return `${stats.opsTotal}${byKind ? ` (${byKind})` : ''}${failed}`;
}

/** "trace.xio:12: fallocate a: Operation not supported (EOPNOTSUPP)". */
export function renderOpError(error: OpErrorRecord): string {
  const target = error.path === undefined ? error.op : `${error.op} ${error.path}`;
  return `${error.at}: ${target}: ${error.message} (${error.errno})`;
}

function renderErrors(errors: readonly OpErrorRecord[], style: TextStyle): string {
  if (errors.length === 0) return labelled(style, 'errors', 'none');
  let text = labelled(style, 'errors', style.bad(`${errors.length} op${errors.length === 1 ? '' : 's'} failed`));
  for (const error of errors.slice(0, TEXT_ERRORS_MAX)) text += `  ${renderOpError(error)}\n`;
  if (errors.length > TEXT_ERRORS_MAX) text += style.dim(`  ... and ${errors.length - TEXT_ERRORS_MAX} more (all are in --json output)\n`);
  return text;
}

/** The totals block of a replay: trace, policy, seed, op counts, bytes, space, errors, speed, image. */
export function renderReplayTotals(result: ReplayResult, style: TextStyle = plainStyle): string {
  const stats = result.stats;
  let text = result.crashed === undefined ? '' : labelled(style, 'crashed', style.bad(describeCrash(result.crashed)));
  text += labelled(style, 'trace', result.trace);
  text += labelled(style, 'policy', `${result.policy}, block size ${result.blockSize}, device ${formatBytes(result.deviceSize)}`);
  text += labelled(style, 'seed', `${result.seed} (rerun with --seed ${result.seed})`);
  text += labelled(style, 'ops', renderOpsLine(stats));
  text += labelled(style, 'data', `written ${formatBytes(stats.bytesWritten)}, read ${formatBytes(stats.bytesRead)}`);
  const metadata = (stats.metadataBytesWritten ?? 0) > 0 || (stats.checksumBytes ?? 0) > 0 ? `; metadata ${formatBytes(stats.metadataBytesWritten ?? 0)}, checksums ${formatBytes(stats.checksumBytes ?? 0)}` : '';
  text += labelled(style, 'device', `written ${formatBytes(stats.deviceBytesWritten)}, read ${formatBytes(stats.deviceBytesRead)}${metadata}`);
  text += labelled(style, 'files', `${plural(stats.files, 'file')}, ${plural(result.dirs.length, 'dir')}, ${plural(stats.extents, 'extent')}`);
  text += labelled(style, 'blocks', `${stats.blocksAllocated} allocated, ${stats.blocksFree} free`);
  text += renderErrors(result.errors, style);
  if (stats.opsPerSecond !== undefined && stats.replaySeconds !== undefined) {
    text += labelled(style, 'speed', `${Math.round(stats.opsPerSecond)} ops/s (${stats.replaySeconds.toFixed(3)} s wall clock)`);
  }
  if (result.image !== undefined) text += labelled(style, 'image', result.image);
  return text;
}

/**
 * The text report of a replay: every snapshot's layouts (when the trace took
 * any), the final layouts in `filefrag -v` style, then the totals.
 */
export function renderReplaySummary(result: ReplayResult, style: TextStyle = plainStyle): string {
  const options: FileLayoutTextOptions = { policy: result.policy, deviceBlocks: Math.floor(result.deviceSize / result.blockSize) };
  // A crashed run is said first, before layouts that may run for pages, and again in the totals.
  let text = result.crashed === undefined ? '' : style.bad(`CRASHED: ${describeCrash(result.crashed)}`) + '\n\n';
  for (const snapshot of result.snapshots) {
    const title = snapshot.source === 'snapshot' ? `snapshot ${snapshot.label}` : snapshot.label;
    text += style.dim(`--- ${title} (at ${snapshot.at}) ---`) + '\n';
    text += renderFileLayouts(snapshot.files, result.blockSize, options);
    text += '\n';
  }
  if (result.snapshots.length > 0) text += style.dim('--- final layout ---') + '\n';
  if (result.files.length > 0) text += renderFileLayouts(result.files, result.blockSize, options) + '\n';
  text += renderReplayTotals(result, style);
  if (result.recovery !== undefined) text += '\n' + renderRecovery(result.recovery, style);
  if (result.deviceStats !== undefined) text += '\n' + renderDeviceStats(result.deviceStats, style);
  return text;
}

// ---- short-write recovery ---------------------------------------------------

/** Recovery events listed in text output before "... and N more" (--fault-rate can make thousands; the JSON keeps all). */
export const TEXT_RECOVERY_EVENTS_MAX = 50;

/** Planned faults named in the section's header line before "and N more". */
const TEXT_PLANNED_FAULTS_MAX = 10;

/** Recovery paths in the order of RecoveryPath's documentation (kernel-behaviour.md section 4), for "by path". */
const RECOVERY_PATH_ORDER: readonly RecoveryPath[] = [
  'retry-smaller', 'delalloc-punch', 'reservation-release', 'dio-buffered-fallback', 'short-return', 'cow-bounce',
  'nocow-fallback', 'enospc-retry', 'unwritten-kept', 'eof-trim', 'error-recorded', 'none',
];

/** "the process died at crash@op=5000 after 4999 ops; nothing after it reached the image (checkpoint generation 3, 4800 ops)". */
export function describeCrash(crashed: CrashRecord): string {
  const generation = crashed.checkpointGeneration;
  let image = '';
  if (generation === 0) image = ' (the image holds no checkpoint of this run)';
  else if (generation !== undefined) {
    const ops = crashed.checkpointOps === undefined ? '' : `, ${plural(crashed.checkpointOps, 'op')}`;
    image = ` (the image holds checkpoint generation ${generation}${ops})`;
  }
  return `the process died at ${crashed.fault} after ${plural(crashed.opsApplied, 'op')}; nothing after it reached the image${image}`;
}

const RECOVERY_COLUMNS = ['op', 'at', 'call', 'fault', 'paths', 'written/req', 'retried', 'punched', 'kept', 'lost'] as const;
/** Columns aligned left (text); the others are numbers, aligned right. */
const RECOVERY_TEXT_COLUMNS: ReadonlySet<string> = new Set(['at', 'call', 'fault', 'paths']);

function recoveryCells(event: RecoveryEvent): string[] {
  return [
    String(event.opIndex),
    event.at,
    event.path === undefined ? event.op : `${event.op} ${event.path}`,
    event.fault,
    event.paths.join(','),
    `${event.bytesWritten}/${event.bytesRequested}`,
    String(event.bytesRetried),
    String(event.bytesPunched),
    String(event.bytesKept),
    String(event.bytesLost),
  ];
}

/** The event table: a header, then per event a row of cells and two indented lines (what failed, the state left). */
function renderRecoveryEvents(events: readonly RecoveryEvent[], style: TextStyle): string {
  const rows = events.map(recoveryCells);
  const widths = RECOVERY_COLUMNS.map((column, index) => Math.max(column.length, ...rows.map((row) => row[index]!.length)));
  const line = (cells: readonly string[]): string =>
    `  ${cells.map((cell, index) => (RECOVERY_TEXT_COLUMNS.has(RECOVERY_COLUMNS[index]!) ? cell.padEnd(widths[index]!) : padLeft(cell, widths[index]!))).join('  ')}`.trimEnd() + '\n';
  let text = style.dim(line(RECOVERY_COLUMNS).trimEnd() + '  (bytes)') + '\n';
  const indent = ' '.repeat(widths[0]! + 4);
  events.forEach((event, index) => {
    text += line(rows[index]!);
    const errno = event.errno === undefined ? '' : `; the caller got ${event.errno}`;
    text += `${indent}${style.bad('failed:')} ${event.failed}${errno}\n`;
    text += `${indent}${style.dim('state:')}  ${event.state}\n`;
  });
  return text;
}

/** "enospc@op=120, short-copy@op=300,bytes=1000" (the first few, then how many more). */
function plannedList(planned: readonly string[]): string {
  if (planned.length === 0) return 'none (random faults only, or failures met without a plan)';
  const shown = planned.slice(0, TEXT_PLANNED_FAULTS_MAX).join('; ');
  return planned.length > TEXT_PLANNED_FAULTS_MAX ? `${shown}; and ${planned.length - TEXT_PLANNED_FAULTS_MAX} more` : shown;
}

/**
 * The "short-write recovery" section of the replay summary: the faults
 * planned, how many fired, one row per event (at most TEXT_RECOVERY_EVENTS_MAX:
 * op index, trace position, call and file, fault, recovery paths, bytes
 * written of requested, retried, punched, kept, lost; then what failed and the
 * state left), the byte totals and the events by path. "no faults fired" when
 * nothing fired. Pure; O(events shown + paths).
 */
export function renderRecovery(recovery: RecoveryReport, style: TextStyle = plainStyle): string {
  let text = style.dim('--- short-write recovery ---') + '\n';
  text += labelled(style, 'planned', plannedList(recovery.planned));
  const checks = `${plural(recovery.invariantChecks, 'invariant check')} passed`;
  if (recovery.events.length === 0) {
    const fired = recovery.injected === 0 ? 'no faults fired' : `${plural(recovery.injected, 'fault')} fired, none needed recovery`;
    return text + labelled(style, 'fired', `${fired}; ${checks}`);
  }
  text += labelled(style, 'fired', `${plural(recovery.injected, 'fault')}, ${plural(recovery.events.length, 'recovery event')}; ${checks}`);
  text += renderRecoveryEvents(recovery.events.slice(0, TEXT_RECOVERY_EVENTS_MAX), style);
  if (recovery.events.length > TEXT_RECOVERY_EVENTS_MAX) {
    text += style.dim(`  ... and ${recovery.events.length - TEXT_RECOVERY_EVENTS_MAX} more events (all are in --json output)\n`);
  }
  const totals = recovery.totals;
  text += labelled(style, 'totals', `retried ${totals.bytesRetried}, punched ${totals.bytesPunched}, kept ${totals.bytesKept}, lost ${totals.bytesLost} (bytes)`);
  const byPath = RECOVERY_PATH_ORDER.filter((name) => (recovery.byPath[name] ?? 0) > 0).map((name) => `${name} ${recovery.byPath[name]}`);
  text += labelled(style, 'by path', byPath.length === 0 ? 'none' : byPath.join(', '));
  return text;
}

function deviceLabelled(style: TextStyle, label: string, value: string): string {
  return `${style.label(`${label}:`.padEnd(10))}${value}\n`;
}

const LATENCY_COLUMNS = ['count', 'bytes', 'IOPS', 'MB/s', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'] as const;
const LATENCY_COLUMN_WIDTHS = [8, 12, 10, 9, 10, 10, 10, 10, 10, 10] as const;
const OP_COLUMN_WIDTH = 11;

/** One row of the latency table: count, bytes, IOPS, MB/s, then latencies in µs. */
function latencyRow(name: string, stats: LatencyStats): string {
  const cells = [
    String(stats.count),
    String(stats.bytes),
    stats.iops.toFixed(1),
    stats.mbPerSecond.toFixed(2),
    ...[stats.meanUs, stats.p50Us, stats.p90Us, stats.p99Us, stats.p999Us, stats.maxUs].map((us) => us.toFixed(1)),
  ];
  return `  ${name.padEnd(OP_COLUMN_WIDTH)}${cells.map((cell, index) => padLeft(cell, LATENCY_COLUMN_WIDTHS[index]!)).join('')}\n`;
}

/** "amplification 1.17: user 976.7 KiB, device 1.1 MiB (writeback 888.0 KiB, journal 160.0 KiB)". */
function renderAmplification(amplification: DeviceStats['writeAmplification']): string {
  const short = (bytes: number): string => (bytes < 1024 ? `${bytes} bytes` : formatBytes(bytes).replace(/^\d+ bytes \((.*)\)$/, '$1'));
  const causes = Object.keys(amplification.byCause)
    .filter((cause) => amplification.byCause[cause]! > 0)
    .map((cause) => `${cause} ${short(amplification.byCause[cause]!)}`);
  const split = causes.length === 0 ? '' : ` (${causes.join(', ')})`;
  return `amplification ${amplification.ratio.toFixed(2)}: user ${short(amplification.userBytesWritten)}, device ${short(amplification.deviceBytesWritten)}${split}`;
}

/**
 * The device-model section of the replay summary: the model and its
 * parameters, a per-op latency table (µs of simulated time) with an `all`
 * row, request merging, write amplification by cause, page-cache hits and
 * fragmentation. Pure; O(op kinds + parameters).
 */
export function renderDeviceStats(stats: DeviceStats, style: TextStyle = plainStyle): string {
  const loop = stats.loop === 'open' ? `open loop, time scale ${stats.params['timeScale'] ?? 1}` : `closed loop, iodepth ${stats.params['iodepth'] ?? 1}`;
  let text = deviceLabelled(style, 'device', `${stats.model} (${loop}; ${stats.simulatedSeconds.toFixed(6)} s simulated)`);
  const params = Object.keys(stats.params).filter((key) => key !== 'timeScale' && key !== 'iodepth');
  text += deviceLabelled(style, 'params', params.map((key) => `${key}=${stats.params[key]}`).join(' '));
  const header = `  ${'op'.padEnd(OP_COLUMN_WIDTH)}${LATENCY_COLUMNS.map((column, index) => padLeft(column, LATENCY_COLUMN_WIDTHS[index]!)).join('')}  (latency in µs)`;
  text += style.dim(header) + '\n';
  for (const kind of Object.keys(stats.perOp).sort()) text += latencyRow(kind, stats.perOp[kind]!);
  text += style.label(latencyRow('all', stats.overall));
  const requests = stats.requests;
  text += deviceLabelled(style, 'requests', `${requests.submitted} submitted, ${requests.merged} merged, ${requests.dispatched} dispatched`);
  text += deviceLabelled(style, 'writes', renderAmplification(stats.writeAmplification));
  const cache = stats.pageCache;
  const misses = `${cache.misses} ${cache.misses === 1 ? 'miss' : 'misses'}`;
  text += deviceLabelled(style, 'cache', `page cache ${plural(cache.hits, 'hit')}, ${misses} (${(cache.hitRatio * 100).toFixed(1)}% hits)`);
  const fragmentation = stats.fragmentation;
  text += deviceLabelled(
    style,
    'extents',
    `${plural(fragmentation.files, 'file')}, ${plural(fragmentation.extents, 'extent')} (${fragmentation.extentsPerFile.toFixed(2)} per file, ${fragmentation.averageExtentBlocks.toFixed(1)} blocks on average)`,
  );
  return text;
}

/** One line for --quiet: ops, files, extents, errors, faults fired and a crash (when there were any), seed and image. */
export function renderReplayOneLine(result: ReplayResult): string {
  const stats = result.stats;
  const image = result.image === undefined ? 'no image' : `image ${result.image}`;
  const faults = result.recovery === undefined ? '' : `, ${plural(result.recovery.injected, 'fault')} fired`;
  const crashed = result.crashed === undefined ? '' : `, CRASHED at ${result.crashed.fault}`;
  return (
    `${result.trace}: ${plural(stats.opsTotal, 'op')} on ${result.policy}, ${plural(stats.files, 'file')}, ` +
    `${plural(stats.extents, 'extent')}, ${plural(result.errors.length, 'error')}${faults}${crashed}, seed ${result.seed}, ${image}\n`
  );
}

function renderPolicyParams(params: Record<string, string | number | boolean>): string {
  const keys = Object.keys(params).sort();
  return keys.length === 0 ? '' : ` (${keys.map((key) => `${key}=${String(params[key])}`).join(', ')})`;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0.0%' : `${((part * 100) / whole).toFixed(1)}%`;
}

/** The superblock and free-space part of `inspect`. */
export function renderImageSummary(summary: ImageSummaryView, style: TextStyle = plainStyle, imagePath?: string): string {
  let text = imagePath === undefined ? '' : labelled(style, 'image', `${imagePath} (format version ${summary.formatVersion}, generation ${summary.generation})`);
  text += labelled(style, 'policy', `${summary.policy}${renderPolicyParams(summary.policyParams)}`);
  text += labelled(style, 'device', `${formatBytes(summary.deviceSize)}, ${summary.deviceBlocks} blocks of ${summary.blockSize} bytes`);
  text += labelled(style, 'trace', `${summary.trace} (${plural(summary.opsApplied, 'op')} applied)`);
  text += labelled(style, 'seed', String(summary.seed));
  text += labelled(style, 'files', `${plural(summary.files, 'file')}, ${plural(summary.dirs, 'dir')}, ${plural(summary.extents, 'extent')}`);
  text += labelled(
    style,
    'blocks',
    `${summary.blocksUsed} used, ${summary.blocksReserved} reserved, ${summary.blocksFree} free (${percent(summary.blocksFree, summary.deviceBlocks)})`,
  );
  text += labelled(style, 'free', `${plural(summary.freeExtents, 'free extent')}, largest ${plural(summary.largestFreeExtent, 'block')}`);
  return text;
}

/** The verify part of `inspect --verify`: OK, or every mismatching range (bounded like errors). */
export function renderVerify(verify: VerifyView, style: TextStyle = plainStyle): string {
  const checked = `${plural(verify.files, 'file')}, ${formatBytes(verify.bytesChecked)} checked`;
  if (verify.ok) return labelled(style, 'verify', `${style.good('OK')}, ${checked}`);
  let text = labelled(style, 'verify', `${style.bad(`FAILED: ${plural(verify.mismatches.length, 'mismatch')}`)}, ${checked}`);
  for (const mismatch of verify.mismatches.slice(0, TEXT_ERRORS_MAX)) {
    const last = mismatch.offset + mismatch.length - 1;
    text += `  ${mismatch.path}: bytes ${mismatch.offset}..${last} (${mismatch.length} bytes): ${mismatch.reason}\n`;
  }
  if (verify.mismatches.length > TEXT_ERRORS_MAX) {
    text += style.dim(`  ... and ${verify.mismatches.length - TEXT_ERRORS_MAX} more (all are in --json output)\n`);
  }
  return text;
}

/** The whole `inspect` report: summary, per-file layouts in `filefrag -v` style, then the verify result. */
export function renderInspect(
  summary: ImageSummaryView,
  files: readonly FileLayout[],
  verify?: VerifyView,
  style: TextStyle = plainStyle,
  imagePath?: string,
): string {
  const chunks: string[] = [];
  writeInspect(summary, files, verify, style, imagePath, (chunk) => chunks.push(chunk));
  return chunks.join('');
}

/** renderInspect's text handed to `emit` in pieces. */
export function writeInspect(
  summary: ImageSummaryView,
  files: readonly FileLayout[],
  verify: VerifyView | undefined,
  style: TextStyle,
  imagePath: string | undefined,
  emit: (chunk: string) => void,
): void {
  emit(renderImageSummary(summary, style, imagePath));
  if (files.length > 0) {
    emit('\n');
    writeFileLayouts(files, summary.blockSize, { policy: summary.policy, deviceBlocks: summary.deviceBlocks }, emit);
  }
  if (verify !== undefined) emit('\n' + renderVerify(verify, style));
}
