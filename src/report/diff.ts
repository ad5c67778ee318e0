/**
 * Expectations (golden files) for CI regression runs: what of a replay's
 * result is recorded (`expectationOf`), how two expectations are compared
 * (`compareExpectations`) and how the differences read (`renderExpectDiff`).
 * Pure: no I/O, no clock. The file format is documented in docs/ci.md; the
 * CLI side (reading, writing, exit codes) is src/cli/expect.ts.
 */
import { assert } from '../util/assert.js';
import type { ExtentFlagName, ExtentRecord, ReplayResult } from './model.js';
import { RESULT_SCHEMA_VERSION } from './model.js';
import { plainStyle, type TextStyle } from './text.js';

/** The `format` field of every expectation file. */
export const EXPECT_FORMAT = 'iomapsim-expect';
/** Version of the expectation file format; a file of another version is refused. */
export const EXPECT_FORMAT_VERSION = 1;

/** Stats an expectation records; the device figures only when the device model ran. */
export const EXPECT_STAT_NAMES = [
  'opsTotal', 'bytesWritten', 'deviceBytesWritten', 'extents', 'blocksAllocated', 'deviceP50Us', 'deviceP99Us', 'deviceIops',
] as const;
export type ExpectStatName = (typeof EXPECT_STAT_NAMES)[number];

/** Differences shown per file before "... and N more"; the whole diff stops after EXPECT_DIFF_LINES_MAX lines. */
export const EXPECT_EXTENT_DIFFS_PER_FILE_MAX = 10;
export const EXPECT_DIFF_LINES_MAX = 100;

/** Flags compared; `last` is left out: it only says which extent ends the list. */
const COMPARED_FLAGS: readonly ExtentFlagName[] = ['delalloc', 'encoded', 'inline', 'unwritten', 'shared'];

/** An extent as recorded: blocks, flags without `last`, in filefrag order. */
export interface ExpectedExtent {
  logical: number;
  physical: number;
  length: number;
  flags: ExtentFlagName[];
}

export interface ExpectedFile {
  path: string;
  size: number;
  extents: ExpectedExtent[];
}

/** An op that failed with an errno; `at` names the trace by its base name (`x.xio:12`). */
export interface ExpectedFailure {
  at: string;
  op: string;
  errno: string;
  path?: string;
}

/** What a golden file holds (docs/ci.md). */
export interface Expectation {
  format: typeof EXPECT_FORMAT;
  formatVersion: number;
  /** ReplayResult schema the expectation was taken from (informational). */
  resultSchemaVersion: number;
  /** The trace as named when recorded (informational, not compared). */
  trace: string;
  policy: string;
  blockSize: number;
  deviceSize: number;
  /** Absent in goldens recorded from the kernel (`iomapsim record`): not compared. */
  seed?: number;
  files: ExpectedFile[];
  /** Absent in kernel goldens, whose failures are per case line, not per op: not compared. */
  failures?: ExpectedFailure[];
  stats: Partial<Record<ExpectStatName, number>>;
}

export interface ExpectCompareOptions {
  /** Allowed relative difference of stats, in percent (layouts are always exact). */
  tolerancePercent: number;
  /** Compare physical block addresses (false: only logical offsets, lengths and flags). */
  comparePhysical: boolean;
}

/** One difference between an expectation and a run. */
export type ExpectDifference =
  | { kind: 'param'; name: 'policy' | 'blockSize' | 'deviceSize' | 'seed'; expected: string | number; actual: string | number }
  | { kind: 'file-missing'; file: ExpectedFile }
  | { kind: 'file-extra'; file: ExpectedFile }
  | { kind: 'size'; path: string; expected: number; actual: number }
  /** `index` is the extent's index in the expectation; null for an extent only the run has. */
  | { kind: 'extent'; path: string; index: number | null; expected: ExpectedExtent | null; actual: ExpectedExtent | null }
  | { kind: 'failure-missing'; failure: ExpectedFailure }
  | { kind: 'failure-extra'; failure: ExpectedFailure }
  | { kind: 'failure-errno'; expected: ExpectedFailure; actual: ExpectedFailure }
  | { kind: 'stat'; name: ExpectStatName; expected: number; actual: number | null };

function expectedExtent(extent: ExtentRecord): ExpectedExtent {
  const flags = COMPARED_FLAGS.filter((flag) => extent.flags.includes(flag));
  return { logical: extent.logical, physical: extent.physical, length: extent.length, flags };
}

function baseName(name: string): string {
  const parts = name.split('/');
  return parts[parts.length - 1]!;
}

/** `traces/x.xio:12` → `x.xio:12`, so a golden holds wherever the trace is run from. */
function relativeAt(at: string, traceName: string): string {
  return at.startsWith(`${traceName}:`) ? `${baseName(traceName)}${at.slice(traceName.length)}` : at;
}

function expectedStats(result: ReplayResult): Partial<Record<ExpectStatName, number>> {
  const stats: Partial<Record<ExpectStatName, number>> = {
    opsTotal: result.stats.opsTotal,
    bytesWritten: result.stats.bytesWritten,
    deviceBytesWritten: result.stats.deviceBytesWritten,
    extents: result.stats.extents,
    blocksAllocated: result.stats.blocksAllocated,
  };
  const overall = result.deviceStats?.overall;
  if (overall !== undefined) {
    stats.deviceP50Us = overall.p50Us;
    stats.deviceP99Us = overall.p99Us;
    stats.deviceIops = overall.iops;
  }
  return stats;
}

/**
 * The expectation a replay result fulfils: parameters, final layouts (files
 * sorted by path), failed ops and the chosen stats. Pure; O(size of the result).
 */
export function expectationOf(result: ReplayResult): Expectation {
  const files = [...result.files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((file) => ({ path: file.path, size: file.size, extents: file.extents.map(expectedExtent) }));
  const failures = result.errors.map((error) => {
    const failure: ExpectedFailure = { at: relativeAt(error.at, result.trace), op: error.op, errno: error.errno };
    if (error.path !== undefined) failure.path = error.path;
    return failure;
  });
  return {
    format: EXPECT_FORMAT,
    formatVersion: EXPECT_FORMAT_VERSION,
    resultSchemaVersion: RESULT_SCHEMA_VERSION,
    trace: result.trace,
    policy: result.policy,
    blockSize: result.blockSize,
    deviceSize: result.deviceSize,
    seed: result.seed,
    files,
    failures,
    stats: expectedStats(result),
  };
}

function sameFlags(a: readonly ExtentFlagName[], b: readonly ExtentFlagName[]): boolean {
  const left = COMPARED_FLAGS.filter((flag) => a.includes(flag));
  const right = COMPARED_FLAGS.filter((flag) => b.includes(flag));
  return left.length === right.length && left.every((flag, index) => flag === right[index]);
}

function sameExtent(expected: ExpectedExtent, actual: ExpectedExtent, options: ExpectCompareOptions): boolean {
  if (expected.logical !== actual.logical || expected.length !== actual.length) return false;
  if (options.comparePhysical && expected.physical !== actual.physical) return false;
  return sameFlags(expected.flags, actual.flags);
}

/**
 * Extent differences of one file, the two lists walked in logical order so
 * that an extent split or inserted shows as one difference, not a shift of
 * every later extent. O(expected + actual).
 */
function compareExtents(path: string, expected: readonly ExpectedExtent[], actual: readonly ExpectedExtent[], options: ExpectCompareOptions): ExpectDifference[] {
  const diffs: ExpectDifference[] = [];
  let e = 0;
  let a = 0;
  while (e < expected.length || a < actual.length) {
    const left = expected[e];
    const right = actual[a];
    if (left !== undefined && right !== undefined && left.logical === right.logical) {
      if (!sameExtent(left, right, options)) diffs.push({ kind: 'extent', path, index: e, expected: left, actual: right });
      e++;
      a++;
    } else if (right === undefined || (left !== undefined && left.logical < right.logical)) {
      diffs.push({ kind: 'extent', path, index: e, expected: left!, actual: null });
      e++;
    } else {
      diffs.push({ kind: 'extent', path, index: null, expected: null, actual: right });
      a++;
    }
  }
  assert(e === expected.length && a === actual.length, 'compareExtents: walk ended early', { path, e, a });
  return diffs;
}

function compareFiles(expected: readonly ExpectedFile[], actual: readonly ExpectedFile[], options: ExpectCompareOptions): ExpectDifference[] {
  const diffs: ExpectDifference[] = [];
  const actualByPath = new Map(actual.map((file) => [file.path, file]));
  const expectedPaths = new Set(expected.map((file) => file.path));
  for (const file of expected) {
    const other = actualByPath.get(file.path);
    if (other === undefined) {
      diffs.push({ kind: 'file-missing', file });
      continue;
    }
    if (file.size !== other.size) diffs.push({ kind: 'size', path: file.path, expected: file.size, actual: other.size });
    diffs.push(...compareExtents(file.path, file.extents, other.extents, options));
  }
  for (const file of actual) if (!expectedPaths.has(file.path)) diffs.push({ kind: 'file-extra', file });
  return diffs;
}

function failureKey(failure: ExpectedFailure): string {
  return `${failure.at}\u0000${failure.op}`;
}

function compareFailures(expected: readonly ExpectedFailure[], actual: readonly ExpectedFailure[]): ExpectDifference[] {
  const diffs: ExpectDifference[] = [];
  const pending = new Map<string, ExpectedFailure[]>();
  for (const failure of actual) {
    const list = pending.get(failureKey(failure)) ?? [];
    list.push(failure);
    pending.set(failureKey(failure), list);
  }
  for (const failure of expected) {
    const other = pending.get(failureKey(failure))?.shift();
    if (other === undefined) diffs.push({ kind: 'failure-missing', failure });
    else if (other.errno !== failure.errno) diffs.push({ kind: 'failure-errno', expected: failure, actual: other });
  }
  for (const list of pending.values()) for (const failure of list) diffs.push({ kind: 'failure-extra', failure });
  return diffs;
}

/** Whether `actual` is within `tolerancePercent` of `expected` (relative to expected; exact when 0). */
export function withinTolerance(expected: number, actual: number, tolerancePercent: number): boolean {
  assert(tolerancePercent >= 0 && Number.isFinite(tolerancePercent), 'withinTolerance: bad tolerance', { tolerancePercent });
  if (expected === actual) return true;
  return Math.abs(actual - expected) <= (Math.abs(expected) * tolerancePercent) / 100;
}

/** Stats the expectation records and the run misses or misses by more than the tolerance; stats only the run has are not checked. */
function compareStats(expected: Expectation['stats'], actual: Expectation['stats'], tolerancePercent: number): ExpectDifference[] {
  const diffs: ExpectDifference[] = [];
  for (const name of EXPECT_STAT_NAMES) {
    const want = expected[name];
    if (want === undefined) continue;
    const got = actual[name];
    if (got === undefined) diffs.push({ kind: 'stat', name, expected: want, actual: null });
    else if (!withinTolerance(want, got, tolerancePercent)) diffs.push({ kind: 'stat', name, expected: want, actual: got });
  }
  return diffs;
}

/**
 * Every difference between an expectation and the expectation of a run, in
 * report order: run parameters, files (by the expectation's order, then
 * extra files), failed ops, stats. Empty when the run meets the expectation.
 * O(files + extents + failures).
 */
export function compareExpectations(expected: Expectation, actual: Expectation, options: ExpectCompareOptions): ExpectDifference[] {
  const diffs: ExpectDifference[] = [];
  for (const name of ['policy', 'blockSize', 'deviceSize', 'seed'] as const) {
    const want = expected[name];
    if (want !== undefined && want !== actual[name]) diffs.push({ kind: 'param', name, expected: want, actual: actual[name] ?? '' });
  }
  diffs.push(...compareFiles(expected.files, actual.files, options));
  if (expected.failures !== undefined) diffs.push(...compareFailures(expected.failures, actual.failures ?? []));
  diffs.push(...compareStats(expected.stats, actual.stats, options.tolerancePercent));
  return diffs;
}

/** `[64+16]@33344 unwritten`: logical block + length, @ physical block, flags. */
export function formatExpectedExtent(extent: ExpectedExtent): string {
  const flags = extent.flags.length === 0 ? '' : ` ${extent.flags.join(',')}`;
  return `[${extent.logical}+${extent.length}]@${extent.physical}${flags}`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function describeFile(file: ExpectedFile): string {
  return `${file.path} (${plural(file.size, 'byte')}, ${plural(file.extents.length, 'extent')})`;
}

function describeFailure(failure: ExpectedFailure): string {
  return `${failure.at} ${failure.op}${failure.path === undefined ? '' : ` ${failure.path}`} ${failure.errno}`;
}

/** `(+6.3% > 0%)`: the relative change against the tolerance. */
function statChange(expected: number, actual: number, tolerancePercent: number): string {
  if (expected === 0) return `(expected 0, tolerance ${tolerancePercent}%)`;
  const percent = ((actual - expected) * 100) / Math.abs(expected);
  const sign = percent >= 0 ? '+' : '-';
  return `(${sign}${Math.abs(percent).toFixed(1)}% > ${tolerancePercent}%)`;
}

/** One difference as one line (no indent, no newline). */
export function renderDifference(diff: ExpectDifference, tolerancePercent: number): string {
  switch (diff.kind) {
    case 'param':
      return `${diff.name}: expected ${diff.expected}, got ${diff.actual}`;
    case 'file-missing':
      return `missing file: ${describeFile(diff.file)}`;
    case 'file-extra':
      return `extra file: ${describeFile(diff.file)}`;
    case 'size':
      return `${diff.path}: size: expected ${diff.expected}, got ${diff.actual}`;
    case 'extent': {
      const got = diff.actual === null ? 'none' : formatExpectedExtent(diff.actual);
      if (diff.expected === null) return `${diff.path}: extra extent at block ${diff.actual!.logical}: got ${got}`;
      return `${diff.path}: extent ${diff.index}: expected ${formatExpectedExtent(diff.expected)}, got ${got}`;
    }
    case 'failure-missing':
      return `failed op no longer fails: ${describeFailure(diff.failure)}`;
    case 'failure-extra':
      return `new failed op: ${describeFailure(diff.failure)}`;
    case 'failure-errno':
      return `failed op ${diff.expected.at} ${diff.expected.op}: expected ${diff.expected.errno}, got ${diff.actual.errno}`;
    case 'stat':
      if (diff.actual === null) return `${diff.name}: expected ${diff.expected}, got none (not measured in this run)`;
      return `${diff.name}: expected ${diff.expected}, got ${diff.actual} ${statChange(diff.expected, diff.actual, tolerancePercent)}`;
  }
}

export interface ExpectDiffTextOptions {
  /** The golden file as the user named it. */
  goldenName: string;
  tolerancePercent: number;
  style?: TextStyle;
}

/** Caps extent differences per file (they come grouped by file), saying how many were left out. */
function cappedLines(diffs: readonly ExpectDifference[], tolerancePercent: number): string[] {
  const lines: string[] = [];
  let path: string | null = null;
  let shown = 0;
  let hidden = 0;
  const flushHidden = (): void => {
    if (hidden > 0) lines.push(`${path}: ... and ${plural(hidden, 'more extent difference')}`);
    hidden = 0;
  };
  for (const diff of diffs) {
    if (diff.kind !== 'extent' || diff.path !== path) {
      flushHidden();
      path = diff.kind === 'extent' ? diff.path : null;
      shown = 0;
    }
    if (diff.kind === 'extent' && shown >= EXPECT_EXTENT_DIFFS_PER_FILE_MAX) {
      hidden++;
      continue;
    }
    if (diff.kind === 'extent') shown++;
    lines.push(renderDifference(diff, tolerancePercent));
  }
  flushHidden();
  return lines;
}

/**
 * The readable diff: a header line naming the golden and the count, one
 * indented line per difference (at most EXPECT_EXTENT_DIFFS_PER_FILE_MAX
 * extents per file, EXPECT_DIFF_LINES_MAX lines in all), every line ending
 * in "\n". Pure; O(differences).
 */
export function renderExpectDiff(diffs: readonly ExpectDifference[], options: ExpectDiffTextOptions): string {
  assert(diffs.length > 0, 'renderExpectDiff: no differences to render', {});
  const style = options.style ?? plainStyle;
  const lines = cappedLines(diffs, options.tolerancePercent);
  const shown = lines.slice(0, EXPECT_DIFF_LINES_MAX);
  let text = `${style.bad('expectation failed')}: ${options.goldenName}: ${plural(diffs.length, 'difference')}\n`;
  for (const line of shown) text += `  ${line}\n`;
  if (lines.length > shown.length) text += style.dim(`  ... and ${lines.length - shown.length} more lines\n`);
  return text;
}

/** Objects inside arrays whose fields are all scalars or scalar arrays print on one line (extents, failures). */
function isFlatRecord(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.values(value).every((field) => field === null || typeof field !== 'object' || (Array.isArray(field) && field.every((item) => typeof item !== 'object')));
}

function formatJsonValue(value: unknown, indent: string, inArray: boolean): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((item) => item === null || typeof item !== 'object')) return JSON.stringify(value).replace(/,/g, ', ');
    const inner = indent + '  ';
    return `[\n${value.map((item) => inner + formatJsonValue(item, inner, true)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, field]) => field !== undefined);
  if (inArray && isFlatRecord(value)) return `{ ${entries.map(([key, field]) => `${JSON.stringify(key)}: ${formatJsonValue(field, '', false)}`).join(', ')} }`;
  if (entries.length === 0) return '{}';
  const inner = indent + '  ';
  return `{\n${entries.map(([key, field]) => `${inner}${JSON.stringify(key)}: ${formatJsonValue(field, inner, false)}`).join(',\n')}\n${indent}}`;
}

/**
 * The golden file text: fixed key order, 2-space indent, one line per extent
 * and per failed op (so a changed layout is a readable `git diff`), a trailing
 * newline. Parses back (JSON.parse) to the same expectation. Pure; O(size).
 */
export function formatExpectation(expectation: Expectation): string {
  const stats: Record<string, number> = {};
  for (const name of EXPECT_STAT_NAMES) if (expectation.stats[name] !== undefined) stats[name] = expectation.stats[name]!;
  const tree = {
    format: expectation.format,
    formatVersion: expectation.formatVersion,
    resultSchemaVersion: expectation.resultSchemaVersion,
    trace: expectation.trace,
    policy: expectation.policy,
    blockSize: expectation.blockSize,
    deviceSize: expectation.deviceSize,
    seed: expectation.seed,
    files: expectation.files.map((file) => ({ path: file.path, size: file.size, extents: file.extents.map((e) => ({ logical: e.logical, physical: e.physical, length: e.length, flags: e.flags })) })),
    failures: (expectation.failures ?? []).map((f) => ({ at: f.at, op: f.op, path: f.path, errno: f.errno })),
    stats,
  };
  return `${formatJsonValue(tree, '', false)}\n`;
}
