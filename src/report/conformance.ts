/**
 * Conformance comparison: a replay's file layouts against the layouts the real
 * kernel produced for the same workload (the truth JSON of the conformance
 * corpus, format `iomapsim-oracle/1`, see ../shared/conformance/README.md and
 * docs/conformance.md).
 *
 * Everything here is a pure function of its arguments except `loadTruth`,
 * which reads one file. Layouts are compared in 512-byte sectors, the unit
 * FIEMAP rows are recorded in, so a truth extent that is not block aligned is
 * still compared exactly. Both extent lists are walked as runs: the cost is
 * O(extents), never O(blocks), whatever the file size.
 */
import { readFileSync } from 'node:fs';

import { assert } from '../util/assert.js';
import { Errno, errnoMessage } from '../util/errno.js';
import { TraceError } from '../util/errors.js';
import type { FileLayout, OpErrorRecord, ReplayResult, SnapshotRecord } from './model.js';

/** The truth format this reader understands. */
export const TRUTH_FORMAT = 'iomapsim-oracle/1';
/** At most this many difference messages are kept per file (the count is always exact). */
export const DIFFERENCES_PER_FILE_MAX = 4;

const SECTOR_BYTES = 512;
const TRUTH_HINT = 'use a truth file of the conformance corpus (format iomapsim-oracle/1), unmodified';

// ---------------------------------------------------------------------------
// Truth model
// ---------------------------------------------------------------------------

/** One FIEMAP row of a truth file, in 512-byte sectors (exact even where not block aligned). */
export interface TruthExtent {
  hole: boolean;
  logicalStart512: number;
  length512: number;
  /** Null for holes; 0 for delalloc and inline extents (not an address). */
  physicalStart512: number | null;
  /** FIEMAP_EXTENT_* names as recorded: last, unknown, delalloc, unwritten, shared, data_inline, ... */
  flagNames: string[];
}

/** One regular file as the kernel left it. */
export interface TruthFile {
  path: string;
  /** File size in bytes. */
  size: number;
  /** Non-hole extents. */
  extentCount: number;
  /** Rows in logical order, hole rows included. */
  extents: TruthExtent[];
}

export type TruthFiles = Readonly<Record<string, TruthFile>>;

/** A case line that failed on the kernel (exit status, or stderr output of xfs_io). */
export interface TruthError {
  /** 1-based physical line of the case file. */
  line: number;
  text: string;
  stderr: string;
}

/** An `@snapshot LABEL` record: layouts taken without syncing. */
export interface TruthSnapshot {
  label: string;
  afterLine: number;
  files: TruthFiles;
}

/** The parts of one truth file (one case on one fs) that conformance needs. */
export interface TruthCase {
  /** Where it was read from, for messages. */
  source: string;
  /** Case name, e.g. "01-seq-write-1536k-fsync". */
  case: string;
  /** "ext4", "xfs" or "btrfs". */
  fs: string;
  /** Filesystem block size in bytes. */
  blockSize: number;
  /** After the final sync. */
  files: TruthFiles;
  /** After unmount + mount. */
  filesAfterRemount: TruthFiles;
  errors: TruthError[];
  snapshots: TruthSnapshot[];
}

/**
 * Reads and validates a truth file.
 * @throws TraceError when the file is missing, not JSON, or not an iomapsim-oracle/1 truth file.
 */
export function loadTruth(path: string): TruthCase {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TraceError(undefined, `${path}: cannot read truth file (${(error as Error).message})`, TRUTH_HINT);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TraceError(undefined, `${path}: not JSON (${(error as Error).message})`, TRUTH_HINT);
  }
  return parseTruth(json, path);
}

/**
 * Validates parsed truth JSON and keeps the fields conformance needs. O(extents).
 * @param source named in error messages.
 * @throws TraceError naming the first field that is missing or of the wrong type.
 */
export function parseTruth(json: unknown, source: string): TruthCase {
  const reader = new TruthReader(source);
  const top = reader.object(json, '(top level)');
  const format = reader.string(top.format, 'format');
  if (format !== TRUTH_FORMAT) reader.fail('format', `is "${format}" (expected "${TRUTH_FORMAT}")`);
  const blockSize = reader.number(top.block_size, 'block_size');
  if (blockSize <= 0 || blockSize % SECTOR_BYTES !== 0) {
    reader.fail('block_size', `is ${blockSize} (expected a positive multiple of 512)`);
  }
  const snapshots = reader.array(top.snapshots, 'snapshots').map((value, index) => {
    const where = `snapshots[${index}]`;
    const snapshot = reader.object(value, where);
    return {
      label: reader.string(snapshot.label, `${where}.label`),
      afterLine: reader.number(snapshot.after_line, `${where}.after_line`),
      files: reader.files(snapshot.files, `${where}.files`),
    };
  });
  const errors = reader.array(top.errors, 'errors').map((value, index) => {
    const where = `errors[${index}]`;
    const error = reader.object(value, where);
    return {
      line: reader.number(error.line, `${where}.line`),
      text: reader.string(error.text, `${where}.text`),
      stderr: reader.string(error.stderr, `${where}.stderr`),
    };
  });
  return {
    source,
    case: reader.string(top.case, 'case'),
    fs: reader.string(top.fs, 'fs'),
    blockSize,
    files: reader.files(top.files, 'files'),
    filesAfterRemount: reader.files(top.files_after_remount, 'files_after_remount'),
    errors,
    snapshots,
  };
}

type JsonObject = Record<string, unknown>;

/** Typed field access with one-line errors naming the field. */
class TruthReader {
  constructor(readonly source: string) {}

  fail(where: string, what: string): never {
    throw new TraceError(undefined, `${this.source}: ${where} ${what}`, TRUTH_HINT);
  }

  object(value: unknown, where: string): JsonObject {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(where, 'is not an object');
    return value as JsonObject;
  }

  array(value: unknown, where: string): unknown[] {
    if (!Array.isArray(value)) this.fail(where, 'is not an array');
    return value;
  }

  number(value: unknown, where: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(where, 'is not a number');
    return value;
  }

  string(value: unknown, where: string): string {
    if (typeof value !== 'string') this.fail(where, 'is not a string');
    return value;
  }

  files(value: unknown, where: string): TruthFiles {
    const files: Record<string, TruthFile> = {};
    for (const [path, fileValue] of Object.entries(this.object(value, where))) {
      files[path] = this.file(path, fileValue, `${where}["${path}"]`);
    }
    return files;
  }

  file(path: string, value: unknown, where: string): TruthFile {
    const file = this.object(value, where);
    const extents = this.array(file.extents, `${where}.extents`).map((row, index) =>
      this.extent(row, `${where}.extents[${index}]`),
    );
    const extentCount = extents.filter((extent) => !extent.hole).length;
    const recordedCount = this.number(file.extent_count, `${where}.extent_count`);
    if (recordedCount !== extentCount) {
      this.fail(`${where}.extent_count`, `is ${recordedCount} but the file has ${extentCount} non-hole extents`);
    }
    return { path, size: this.number(file.size, `${where}.size`), extentCount, extents };
  }

  extent(value: unknown, where: string): TruthExtent {
    const row = this.object(value, where);
    const hole = row.hole;
    if (typeof hole !== 'boolean') this.fail(`${where}.hole`, 'is not a boolean');
    const physical = row.physical_start_512;
    const physicalStart512 = physical === null && hole ? null : this.number(physical, `${where}.physical_start_512`);
    const flagNames = this.array(row.flag_names, `${where}.flag_names`).map((name, index) =>
      this.string(name, `${where}.flag_names[${index}]`),
    );
    const length512 = this.number(row.length_512, `${where}.length_512`);
    if (length512 <= 0) this.fail(`${where}.length_512`, `is ${length512} (expected > 0)`);
    return {
      hole,
      logicalStart512: this.number(row.logical_start_512, `${where}.logical_start_512`),
      length512,
      physicalStart512,
      flagNames,
    };
  }
}

// ---------------------------------------------------------------------------
// Runs: both sides in one shape
// ---------------------------------------------------------------------------

/** What a block holds, as FIEMAP tells it ('shared' is tracked separately). */
export type BlockState = 'hole' | 'data' | 'unwritten' | 'delalloc' | 'inline';

/** A mapped range of one side, in sectors; holes are the gaps between runs. */
interface Run {
  start512: number;
  end512: number;
  state: Exclude<BlockState, 'hole'>;
  shared: boolean;
  /** Null where FIEMAP reports no address (delalloc, inline). */
  physical512: number | null;
}

function stateOfFlags(flags: readonly string[]): Exclude<BlockState, 'hole'> {
  if (flags.includes('delalloc')) return 'delalloc';
  if (flags.includes('inline') || flags.includes('data_inline')) return 'inline';
  if (flags.includes('unwritten')) return 'unwritten';
  return 'data';
}

function hasAddress(state: BlockState): boolean {
  return state === 'data' || state === 'unwritten';
}

/** The sim's extents as runs. Asserts the FileLayout contract: sorted, non-overlapping, non-empty. */
function runsOfLayout(layout: FileLayout, sectorsPerBlock: number): Run[] {
  const runs: Run[] = [];
  let previousEnd512 = 0;
  for (const extent of layout.extents) {
    assert(extent.length > 0 && extent.logical >= 0, 'sim extent is empty or negative', { path: layout.path, extent });
    const start512 = extent.logical * sectorsPerBlock;
    assert(start512 >= previousEnd512, 'sim extents overlap or are out of order', { path: layout.path, extent });
    const state = stateOfFlags(extent.flags);
    previousEnd512 = start512 + extent.length * sectorsPerBlock;
    runs.push({
      start512,
      end512: previousEnd512,
      state,
      shared: extent.flags.includes('shared'),
      physical512: hasAddress(state) ? extent.physical * sectorsPerBlock : null,
    });
  }
  return runs;
}

/** The kernel's non-hole rows as runs. */
function runsOfTruth(file: TruthFile, source: string): Run[] {
  const runs: Run[] = [];
  let previousEnd512 = 0;
  for (const extent of file.extents) {
    if (extent.hole) continue;
    if (extent.logicalStart512 < previousEnd512) {
      throw new TraceError(undefined, `${source}: ${file.path}: extents overlap or are out of order`, TRUTH_HINT);
    }
    const state = stateOfFlags(extent.flagNames);
    previousEnd512 = extent.logicalStart512 + extent.length512;
    runs.push({
      start512: extent.logicalStart512,
      end512: previousEnd512,
      state,
      shared: extent.flagNames.includes('shared'),
      physical512: hasAddress(state) ? extent.physicalStart512 : null,
    });
  }
  return runs;
}

/** Boundaries inside a file where the next addressed run does not start where the previous one ended on disk. */
function countPhysicalBreaks(runs: readonly Run[]): number {
  let breaks = 0;
  let previous: Run | undefined;
  for (const run of runs) {
    if (run.physical512 === null) continue;
    if (previous !== undefined && previous.physical512! + (previous.end512 - previous.start512) !== run.physical512) {
      breaks += 1;
    }
    previous = run;
  }
  return breaks;
}

// ---------------------------------------------------------------------------
// The run walk
// ---------------------------------------------------------------------------

/** A range over which neither side changes run. */
interface Segment {
  start512: number;
  end512: number;
  sim: Run | null;
  kernel: Run | null;
}

/**
 * Calls `visit` for each maximal range where both sides stay in one run or
 * one gap, from sector 0 to the end of the later last run. O(runs).
 */
function walkSegments(simRuns: readonly Run[], kernelRuns: readonly Run[], visit: (segment: Segment) => void): void {
  let simIndex = 0;
  let kernelIndex = 0;
  let position512 = 0;
  const stepsMax = 2 * (simRuns.length + kernelRuns.length) + 1;
  for (let step = 0; simIndex < simRuns.length || kernelIndex < kernelRuns.length; step++) {
    assert(step <= stepsMax, 'run walk does not terminate', { position512, simIndex, kernelIndex });
    const simSide = sideAt(simRuns[simIndex], position512);
    const kernelSide = sideAt(kernelRuns[kernelIndex], position512);
    const end512 = Math.min(simSide.end512, kernelSide.end512);
    assert(end512 > position512, 'run walk made no progress', { position512 });
    visit({ start512: position512, end512, sim: simSide.run, kernel: kernelSide.run });
    position512 = end512;
    if (simRuns[simIndex]?.end512 === position512) simIndex += 1;
    if (kernelRuns[kernelIndex]?.end512 === position512) kernelIndex += 1;
  }
}

/** The run covering `position512`, or the gap before `next` (an unbounded one after the last run). */
function sideAt(next: Run | undefined, position512: number): { run: Run | null; end512: number } {
  if (next === undefined) return { run: null, end512: Number.POSITIVE_INFINITY };
  if (next.start512 <= position512) return { run: next, end512: next.end512 };
  return { run: null, end512: next.start512 };
}

type DifferenceKind = 'state' | 'shared' | 'physical';

/** One range where the sides disagree; adjacent ranges of the same disagreement are merged. */
interface RangeDifference {
  kind: DifferenceKind;
  start512: number;
  end512: number;
  simLabel: string;
  kernelLabel: string;
  /** Physical sectors at start512 (kind 'physical' only). */
  simPhysical512: number | null;
  kernelPhysical512: number | null;
}

/** Sector offsets of both sides of a segment, where both have addresses. */
function physicalAt(run: Run | null, position512: number): number | null {
  if (run === null || run.physical512 === null) return null;
  return run.physical512 + (position512 - run.start512);
}

function segmentDifferences(segment: Segment): RangeDifference[] {
  const { start512, end512, sim, kernel } = segment;
  const differences: RangeDifference[] = [];
  const base = { start512, end512, simPhysical512: null, kernelPhysical512: null };
  const simState: BlockState = sim?.state ?? 'hole';
  const kernelState: BlockState = kernel?.state ?? 'hole';
  if (simState !== kernelState) differences.push({ ...base, kind: 'state', simLabel: simState, kernelLabel: kernelState });
  const simShared = sim?.shared ?? false;
  const kernelShared = kernel?.shared ?? false;
  if (simShared !== kernelShared) {
    const label = (shared: boolean): string => (shared ? 'shared' : 'not shared');
    differences.push({ ...base, kind: 'shared', simLabel: label(simShared), kernelLabel: label(kernelShared) });
  }
  const simPhysical512 = physicalAt(sim, start512);
  const kernelPhysical512 = physicalAt(kernel, start512);
  if (simPhysical512 !== null && kernelPhysical512 !== null && simPhysical512 !== kernelPhysical512) {
    differences.push({ ...base, kind: 'physical', simLabel: '', kernelLabel: '', simPhysical512, kernelPhysical512 });
  }
  return differences;
}

/** True when `next` continues `previous` (same disagreement, adjacent, addresses continuing). */
function continues(previous: RangeDifference, next: RangeDifference): boolean {
  if (previous.kind !== next.kind || previous.end512 !== next.start512) return false;
  if (previous.kind !== 'physical') return previous.simLabel === next.simLabel && previous.kernelLabel === next.kernelLabel;
  const length512 = previous.end512 - previous.start512;
  return (
    previous.simPhysical512! + length512 === next.simPhysical512 &&
    previous.kernelPhysical512! + length512 === next.kernelPhysical512
  );
}

/** All disagreements between two run lists, merged, in logical order (state, shared, physical interleaved). */
function diffRuns(simRuns: readonly Run[], kernelRuns: readonly Run[]): RangeDifference[] {
  const open = new Map<DifferenceKind, RangeDifference>();
  const done: RangeDifference[] = [];
  walkSegments(simRuns, kernelRuns, (segment) => {
    for (const difference of segmentDifferences(segment)) {
      const previous = open.get(difference.kind);
      if (previous !== undefined && continues(previous, difference)) {
        previous.end512 = difference.end512;
        continue;
      }
      if (previous !== undefined) done.push(previous);
      open.set(difference.kind, difference);
    }
  });
  done.push(...open.values());
  return done.sort((left, right) => left.start512 - right.start512);
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/** "blocks 16..47" (inclusive) when block aligned, else "bytes 1000..8999". */
function formatRange(start512: number, end512: number, sectorsPerBlock: number): string {
  if (start512 % sectorsPerBlock === 0 && end512 % sectorsPerBlock === 0) {
    const first = start512 / sectorsPerBlock;
    const last = end512 / sectorsPerBlock - 1;
    return first === last ? `block ${first}` : `blocks ${first}..${last}`;
  }
  return `bytes ${start512 * SECTOR_BYTES}..${end512 * SECTOR_BYTES - 1}`;
}

/** Physical blocks "33280..33295" (one block: "33280"), or "sectors 266240..266367" when not block aligned. */
function formatPhysical(physical512: number, length512: number, sectorsPerBlock: number): string {
  if (physical512 % sectorsPerBlock === 0 && length512 % sectorsPerBlock === 0) {
    const first = physical512 / sectorsPerBlock;
    const last = (physical512 + length512) / sectorsPerBlock - 1;
    return first === last ? `${first}` : `${first}..${last}`;
  }
  return `sectors ${physical512}..${physical512 + length512 - 1}`;
}

function describeDifference(path: string, difference: RangeDifference, sectorsPerBlock: number): string {
  const range = formatRange(difference.start512, difference.end512, sectorsPerBlock);
  if (difference.kind !== 'physical') {
    return `${path}: ${range}: sim ${difference.simLabel}, kernel ${difference.kernelLabel}`;
  }
  const length512 = difference.end512 - difference.start512;
  const sim = formatPhysical(difference.simPhysical512!, length512, sectorsPerBlock);
  const kernel = formatPhysical(difference.kernelPhysical512!, length512, sectorsPerBlock);
  return `${path}: ${range}: physical sim ${sim}, kernel ${kernel}`;
}

// ---------------------------------------------------------------------------
// Layout comparison
// ---------------------------------------------------------------------------

/** One file, sim against kernel. */
export interface FileComparison {
  path: string;
  /** Which side has the file. */
  presence: 'both' | 'kernelOnly' | 'simOnly';
  /** Bytes; null on the side that lacks the file. */
  sizeSim: number | null;
  sizeKernel: number | null;
  sizeMatch: boolean;
  /** Every block has the same state (hole, data, unwritten, delalloc, inline) on both sides. */
  logicalMatch: boolean;
  /** The same blocks are flagged shared on both sides. */
  sharedMatch: boolean;
  /** Non-hole extents as each side reports them (FIEMAP rows, not merged). */
  extentCountSim: number;
  extentCountKernel: number;
  extentCountMatch: boolean;
  /** Places inside the file where the next addressed extent does not continue the previous one on disk. */
  physicalBreaksSim: number;
  physicalBreaksKernel: number;
  /** Logical layout equal and every addressed block at the same physical block. */
  physicalExact: boolean;
  /**
   * Differences that count against a match: presence, size, and merged ranges of differing state or
   * shared flag. The count is exact; the messages are the first DIFFERENCES_PER_FILE_MAX, each starting
   * with the path, then "... N more" when cut.
   */
  differenceCount: number;
  differences: string[];
  /** Ranges mapped on both sides at different physical blocks (reported, not asserted), same format. */
  physicalDifferenceCount: number;
  physicalDifferences: string[];
}

/** All files of one moment (final, after remount, or a snapshot), sim against kernel. */
export interface LayoutComparison {
  /** Sorted by path. */
  files: FileComparison[];
  fileSetMatch: boolean;
  sizeMatch: boolean;
  /** File sets equal and every file's logical layout equal. */
  logicalMatch: boolean;
  sharedMatch: boolean;
  extentCountMatch: boolean;
  physicalExact: boolean;
  /** Totals over the files. */
  extentCountSim: number;
  extentCountKernel: number;
  /** Every file's kept differences, in path order (what breaks layoutMatches). */
  differences: string[];
  /** Every file's kept physical differences, in path order. */
  physicalDifferences: string[];
}

function normalizePath(path: string): string {
  return path.replace(/^(\.?\/)+/, '');
}

/**
 * Compares the sim's file layouts with the kernel's. O(files + extents).
 * @param simFiles extents in `blockSize` blocks, holes as gaps (may extend past EOF).
 * @param truthFiles the kernel's files (`TruthCase.files`, a snapshot's, or after remount).
 * @param blockSize the sim's block size in bytes (a multiple of 512).
 * @param source names the truth in errors about the truth itself.
 */
export function compareLayouts(
  simFiles: readonly FileLayout[],
  truthFiles: TruthFiles,
  blockSize: number,
  source = 'truth',
): LayoutComparison {
  assert(blockSize > 0 && blockSize % SECTOR_BYTES === 0, 'block size is not a multiple of 512', { blockSize });
  const sectorsPerBlock = blockSize / SECTOR_BYTES;
  const simByPath = new Map<string, FileLayout>();
  for (const layout of simFiles) {
    const path = normalizePath(layout.path);
    assert(!simByPath.has(path), 'sim reports a file twice', { path });
    simByPath.set(path, layout);
  }
  const kernelByPath = new Map<string, TruthFile>();
  for (const file of Object.values(truthFiles)) kernelByPath.set(normalizePath(file.path), file);
  const paths = [...new Set([...simByPath.keys(), ...kernelByPath.keys()])].sort();
  const files = paths.map((path) =>
    compareFile(path, simByPath.get(path), kernelByPath.get(path), sectorsPerBlock, source),
  );
  const all = (predicate: (file: FileComparison) => boolean): boolean => files.every(predicate);
  const fileSetMatch = all((file) => file.presence === 'both');
  return {
    files,
    fileSetMatch,
    sizeMatch: all((file) => file.sizeMatch),
    logicalMatch: fileSetMatch && all((file) => file.logicalMatch),
    sharedMatch: all((file) => file.sharedMatch),
    extentCountMatch: all((file) => file.extentCountMatch),
    physicalExact: all((file) => file.physicalExact),
    extentCountSim: files.reduce((sum, file) => sum + file.extentCountSim, 0),
    extentCountKernel: files.reduce((sum, file) => sum + file.extentCountKernel, 0),
    differences: files.flatMap((file) => file.differences),
    physicalDifferences: files.flatMap((file) => file.physicalDifferences),
  };
}

function compareFile(
  path: string,
  sim: FileLayout | undefined,
  kernel: TruthFile | undefined,
  sectorsPerBlock: number,
  source: string,
): FileComparison {
  const simRuns = sim === undefined ? [] : runsOfLayout(sim, sectorsPerBlock);
  const kernelRuns = kernel === undefined ? [] : runsOfTruth(kernel, source);
  const present = sim !== undefined && kernel !== undefined;
  const rangeDifferences = present ? diffRuns(simRuns, kernelRuns) : [];
  const layoutDifferences = rangeDifferences.filter((difference) => difference.kind !== 'physical');
  const physicalDifferences = rangeDifferences.filter((difference) => difference.kind === 'physical');
  const leading: string[] = [];
  if (!present) leading.push(describeAbsence(path, sim, kernel));
  else if (sim.size !== kernel.size) leading.push(`${path}: size: sim ${sim.size} bytes, kernel ${kernel.size} bytes`);
  const has = (kind: DifferenceKind): boolean => layoutDifferences.some((difference) => difference.kind === kind);
  const extentCountSim = sim?.extents.length ?? 0;
  const extentCountKernel = kernel?.extentCount ?? 0;
  const logicalMatch = present && !has('state');
  return {
    path,
    presence: present ? 'both' : sim === undefined ? 'kernelOnly' : 'simOnly',
    sizeSim: sim?.size ?? null,
    sizeKernel: kernel?.size ?? null,
    sizeMatch: present && sim.size === kernel.size,
    logicalMatch,
    sharedMatch: present && !has('shared'),
    extentCountSim,
    extentCountKernel,
    extentCountMatch: present && extentCountSim === extentCountKernel,
    physicalBreaksSim: countPhysicalBreaks(simRuns),
    physicalBreaksKernel: countPhysicalBreaks(kernelRuns),
    physicalExact: logicalMatch && physicalDifferences.length === 0,
    differenceCount: leading.length + layoutDifferences.length,
    differences: describeFirst(path, leading, layoutDifferences, sectorsPerBlock),
    physicalDifferenceCount: physicalDifferences.length,
    physicalDifferences: describeFirst(path, [], physicalDifferences, sectorsPerBlock),
  };
}

/** `leading` then the first range differences, DIFFERENCES_PER_FILE_MAX in all, then "... N more" when cut. */
function describeFirst(
  path: string,
  leading: readonly string[],
  differences: readonly RangeDifference[],
  sectorsPerBlock: number,
): string[] {
  const kept = differences.slice(0, Math.max(0, DIFFERENCES_PER_FILE_MAX - leading.length));
  const messages = [...leading, ...kept.map((difference) => describeDifference(path, difference, sectorsPerBlock))];
  if (kept.length < differences.length) {
    messages.push(`${path}: ... ${differences.length - kept.length} more differing ranges`);
  }
  return messages;
}

function describeAbsence(path: string, sim: FileLayout | undefined, kernel: TruthFile | undefined): string {
  const extents = (count: number): string => `${count} extent${count === 1 ? '' : 's'}`;
  if (sim === undefined && kernel !== undefined) {
    return `${path}: missing in sim (kernel: ${kernel.size} bytes, ${extents(kernel.extentCount)})`;
  }
  assert(sim !== undefined && kernel === undefined, 'describeAbsence needs exactly one side', { path });
  return `${path}: extra in sim (sim: ${sim.size} bytes, ${extents(sim.extents.length)}; kernel has no such file)`;
}

// ---------------------------------------------------------------------------
// Failing lines
// ---------------------------------------------------------------------------

/** Which case lines failed, sim against kernel. */
export interface ErrorLinesComparison {
  /** The same set of lines failed on both sides. */
  match: boolean;
  /** Sorted, unique. */
  simLines: number[];
  kernelLines: number[];
  differences: string[];
  /** Lines that failed on both sides but with a different error (reported, not part of `match`). */
  notes: string[];
}

/** The line of an OpErrorRecord `at` ("case.xio:12" or "case.xio:12:5"), or null. */
export function lineOfErrorAt(at: string): number | null {
  const match = /:(\d+)(?::\d+)?$/.exec(at);
  return match === null ? null : Number(match[1]);
}

/**
 * Compares the lines that failed in the sim (op errors, several per line
 * possible) with the kernel's failed lines. O(errors log errors).
 */
export function compareErrorLines(
  simErrors: readonly OpErrorRecord[],
  truthErrors: readonly TruthError[],
): ErrorLinesComparison {
  const differences: string[] = [];
  const simByLine = new Map<number, OpErrorRecord>();
  for (const error of simErrors) {
    const line = lineOfErrorAt(error.at);
    if (line === null) {
      differences.push(`sim error without a line number at "${error.at}": ${error.message}`);
      continue;
    }
    if (!simByLine.has(line)) simByLine.set(line, error);
  }
  const kernelByLine = new Map<number, TruthError>(truthErrors.map((error) => [error.line, error]));
  const lines = [...new Set([...simByLine.keys(), ...kernelByLine.keys()])].sort((left, right) => left - right);
  const notes: string[] = [];
  for (const line of lines) {
    const sim = simByLine.get(line);
    const kernel = kernelByLine.get(line);
    const kernelText = kernel === undefined ? '' : oneLine(kernel.stderr) || 'non-zero exit status';
    if (sim === undefined) differences.push(`line ${line}: kernel failed (${kernelText}), sim succeeded`);
    else if (kernel === undefined) {
      differences.push(`line ${line}: sim failed (${sim.errno}: ${sim.message}), kernel succeeded`);
    }
    else if (!kernel.stderr.includes(strerrorOf(sim.errno))) {
      notes.push(`line ${line}: sim failed with ${sim.errno}, kernel with "${kernelText}"`);
    }
  }
  return {
    match: differences.length === 0,
    simLines: [...simByLine.keys()].sort((left, right) => left - right),
    kernelLines: [...kernelByLine.keys()].sort((left, right) => left - right),
    differences,
    notes,
  };
}

function strerrorOf(errnoName: string): string {
  const value = (Errno as Record<string, number>)[errnoName];
  return value === undefined ? errnoName : errnoMessage(value);
}

function oneLine(text: string): string {
  return text.trim().split('\n').join('; ');
}

// ---------------------------------------------------------------------------
// Snapshots and whole cases
// ---------------------------------------------------------------------------

export interface SnapshotComparison {
  label: string;
  presence: 'both' | 'kernelOnly' | 'simOnly';
  /** Null unless both sides have the snapshot. */
  layout: LayoutComparison | null;
}

export interface SnapshotsComparison {
  /** Same labels, and each snapshot's file set, sizes, logical and shared layout equal. */
  match: boolean;
  snapshots: SnapshotComparison[];
  differences: string[];
}

/** Compares `@snapshot` records by label. O(files + extents). */
export function compareSnapshots(
  simSnapshots: readonly SnapshotRecord[],
  truthSnapshots: readonly TruthSnapshot[],
  blockSize: number,
  source = 'truth',
): SnapshotsComparison {
  const simByLabel = new Map(simSnapshots.map((snapshot) => [snapshot.label, snapshot]));
  const kernelByLabel = new Map(truthSnapshots.map((snapshot) => [snapshot.label, snapshot]));
  const labels = [...new Set([...kernelByLabel.keys(), ...simByLabel.keys()])];
  const snapshots: SnapshotComparison[] = [];
  const differences: string[] = [];
  for (const label of labels) {
    const sim = simByLabel.get(label);
    const kernel = kernelByLabel.get(label);
    if (sim === undefined || kernel === undefined) {
      snapshots.push({ label, presence: sim === undefined ? 'kernelOnly' : 'simOnly', layout: null });
      differences.push(`snapshot "${label}": ${sim === undefined ? 'missing in sim' : 'extra in sim'}`);
      continue;
    }
    const layout = compareLayouts(sim.files, kernel.files, blockSize, source);
    snapshots.push({ label, presence: 'both', layout });
    differences.push(...layout.differences.map((difference) => `snapshot "${label}": ${difference}`));
  }
  const match = snapshots.every((snapshot) => snapshot.layout !== null && layoutMatches(snapshot.layout));
  return { match, snapshots, differences };
}

/** What the conformance tests assert of one layout: file set, sizes, logical and shared layout. */
export function layoutMatches(layout: LayoutComparison): boolean {
  return layout.fileSetMatch && layout.sizeMatch && layout.logicalMatch && layout.sharedMatch;
}

/** One case on one fs: final layout, failing lines and snapshots. */
export interface CaseComparison {
  case: string;
  fs: string;
  policy: string;
  /** After the final sync. */
  layout: LayoutComparison;
  errors: ErrorLinesComparison;
  snapshots: SnapshotsComparison;
  /** After unmount + mount (in-memory preallocation dropped), when the replay recorded it (ReplayResult.filesAfterRemount). */
  afterRemount?: LayoutComparison;
  /**
   * layoutMatches(layout), the same failing lines, matching snapshots and, when recorded, the
   * layout after remount: what the conformance tests assert. Physical placement and extent counts are not part of it.
   */
  matches: boolean;
  /** What breaks `matches`: layout differences first, then failing lines, then snapshots. */
  differences: string[];
  /** Physical placement differences of the final layout (reported, not part of `matches`). */
  physicalDifferences: string[];
}

/**
 * Compares a replay of a case with the kernel's truth for it. O(files + extents + errors).
 * The comparison is in sectors, so the sim's and the truth's block sizes may differ.
 */
export function compareCase(result: ReplayResult, truth: TruthCase): CaseComparison {
  const layout = compareLayouts(result.files, truth.files, result.blockSize, truth.source);
  const errors = compareErrorLines(result.errors, truth.errors);
  // Only @snapshot records have kernel counterparts; xfs_io fiemap outputs are the steps' stdout.
  const snapshots = compareSnapshots(result.snapshots.filter((snapshot) => snapshot.source !== 'fiemap'), truth.snapshots, result.blockSize, truth.source);
  const afterRemount = result.filesAfterRemount === undefined ? undefined : compareLayouts(result.filesAfterRemount, truth.filesAfterRemount, result.blockSize, truth.source);
  const comparison: CaseComparison = {
    case: truth.case,
    fs: truth.fs,
    policy: result.policy,
    layout,
    errors,
    snapshots,
    matches: layoutMatches(layout) && errors.match && snapshots.match && (afterRemount === undefined || layoutMatches(afterRemount)),
    differences: [
      ...layout.differences,
      ...errors.differences,
      ...snapshots.differences,
      ...(afterRemount?.differences ?? []).map((difference) => `after remount: ${difference}`),
    ],
    physicalDifferences: layout.physicalDifferences,
  };
  if (afterRemount !== undefined) comparison.afterRemount = afterRemount;
  return comparison;
}
