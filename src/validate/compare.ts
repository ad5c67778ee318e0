/**
 * Simulator against kernel: the layout comparison of src/report/conformance.ts
 * (exact, in 512-byte sectors, holes and flags included) plus fidelity
 * scores: the share of blocks whose logical state agrees, of files with as
 * many extents, of files placed physically exactly. Pure functions.
 */
import {
  compareErrorLines, compareLayouts, compareSnapshots, type ErrorLinesComparison, type LayoutComparison, type SnapshotsComparison, type TruthFiles,
} from '../report/conformance.js';
import type { ExtentRecord, FileLayout, ReplayResult, SnapshotRecord } from '../report/model.js';
import { assert } from '../util/assert.js';
import { extentRecordsOf } from './fiemap.js';
import { truthFilesOf, truthFilesOfLayouts, type KernelFile } from './kernelfiles.js';

/** Fidelity of one replay against one kernel run. Percentages are 0..100, rounded to 0.1; 100 when there is nothing to count. */
export interface FidelityScore {
  /** Blocks counted: per file, from 0 to the end of the later of EOF and the last extent on either side. */
  blocks: number;
  /** Blocks in the same state (hole, data, unwritten, delalloc, inline, shared or not) on both sides. */
  blocksMatching: number;
  logicalBlockPercent: number;
  /** The same over blocks mapped (not a hole) on at least one side: sparse files do not inflate it. */
  mappedBlocks: number;
  mappedBlocksMatching: number;
  mappedBlockPercent: number;
  /** Files on either side. */
  files: number;
  filesLogicalMatch: number;
  logicalFilePercent: number;
  filesExtentCountEqual: number;
  extentCountPercent: number;
  filesPhysicalExact: number;
  physicalExactPercent: number;
  filesSizeEqual: number;
}

/** Per-file block agreement (for the per-file diff). */
export interface FileBlockScore {
  path: string;
  blocks: number;
  blocksMatching: number;
  mappedBlocks: number;
  mappedBlocksMatching: number;
}

/** Block counts of one file: all blocks, those in the same state, and the same over blocks mapped on either side. */
export interface BlockMatch {
  blocks: number;
  blocksMatching: number;
  mappedBlocks: number;
  mappedBlocksMatching: number;
}

export interface ValidationComparison {
  layout: LayoutComparison;
  errors: ErrorLinesComparison;
  /** `@snapshot` and open-file `fiemap` layouts, matched by label and trace position. */
  snapshots: SnapshotsComparison;
  score: FidelityScore;
  fileScores: FileBlockScore[];
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 100 : Math.round((1000 * part) / whole) / 10;
}

/** The state of a block as a comparable word ('data', 'unwritten+shared', ...). */
function stateOf(extent: ExtentRecord | undefined): string {
  if (extent === undefined) return 'hole';
  const kind = extent.flags.includes('delalloc') ? 'delalloc' : extent.flags.includes('inline') ? 'inline' : extent.flags.includes('unwritten') ? 'unwritten' : 'data';
  return extent.flags.includes('shared') ? `${kind}+shared` : kind;
}

/**
 * Blocks of [0, end) in the same state on both sides, walking extent
 * boundaries only: O(extents log extents), whatever the file size.
 */
export function matchingBlocks(simExtents: readonly ExtentRecord[], kernelExtents: readonly ExtentRecord[], endBlock: number): BlockMatch {
  const cuts = new Set<number>([0, endBlock]);
  for (const extent of [...simExtents, ...kernelExtents]) {
    if (extent.logical < endBlock) cuts.add(extent.logical);
    if (extent.logical + extent.length < endBlock) cuts.add(extent.logical + extent.length);
  }
  const points = [...cuts].sort((left, right) => left - right);
  // Both extent lists are sorted by logical block: one cursor each, advanced with the cut points.
  const cursor = { sim: 0, kernel: 0 };
  const at = (extents: readonly ExtentRecord[], side: 'sim' | 'kernel', block: number): ExtentRecord | undefined => {
    while (cursor[side] < extents.length && extents[cursor[side]]!.logical + extents[cursor[side]]!.length <= block) cursor[side]++;
    const extent = extents[cursor[side]];
    return extent !== undefined && extent.logical <= block ? extent : undefined;
  };
  const match: BlockMatch = { blocks: endBlock, blocksMatching: 0, mappedBlocks: 0, mappedBlocksMatching: 0 };
  for (let index = 0; index + 1 < points.length; index++) {
    const start = points[index]!;
    const length = points[index + 1]! - start;
    const simState = stateOf(at(simExtents, 'sim', start));
    const kernelState = stateOf(at(kernelExtents, 'kernel', start));
    const mapped = simState !== 'hole' || kernelState !== 'hole';
    if (mapped) match.mappedBlocks += length;
    if (simState !== kernelState) continue;
    match.blocksMatching += length;
    if (mapped) match.mappedBlocksMatching += length;
  }
  return match;
}

function endBlockOf(layout: FileLayout | undefined, blockSize: number): number {
  if (layout === undefined) return 0;
  const last = layout.extents.reduce((end, extent) => Math.max(end, extent.logical + extent.length), 0);
  return Math.max(last, Math.ceil(layout.size / blockSize));
}

/** Block agreement of every file on either side. */
export function fileBlockScores(simFiles: readonly FileLayout[], kernelFiles: readonly FileLayout[], blockSize: number): FileBlockScore[] {
  const sim = new Map(simFiles.map((file) => [file.path, file]));
  const kernel = new Map(kernelFiles.map((file) => [file.path, file]));
  const paths = [...new Set([...sim.keys(), ...kernel.keys()])].sort();
  return paths.map((path) => {
    const simFile = sim.get(path);
    const kernelFile = kernel.get(path);
    const blocks = Math.max(endBlockOf(simFile, blockSize), endBlockOf(kernelFile, blockSize), 1);
    // A file on one side only matches nowhere: compare its extents with nothing, then count no match.
    const match = matchingBlocks(simFile?.extents ?? [], kernelFile?.extents ?? [], blocks);
    if (simFile === undefined || kernelFile === undefined) return { path, blocks, blocksMatching: 0, mappedBlocks: Math.max(match.mappedBlocks, 1), mappedBlocksMatching: 0 };
    return { path, ...match };
  });
}

function scoreOf(layout: LayoutComparison, fileScores: readonly FileBlockScore[]): FidelityScore {
  const blocks = fileScores.reduce((sum, file) => sum + file.blocks, 0);
  const blocksMatching = fileScores.reduce((sum, file) => sum + file.blocksMatching, 0);
  const mappedBlocks = fileScores.reduce((sum, file) => sum + file.mappedBlocks, 0);
  const mappedBlocksMatching = fileScores.reduce((sum, file) => sum + file.mappedBlocksMatching, 0);
  const count = (predicate: (file: LayoutComparison['files'][number]) => boolean): number => layout.files.filter(predicate).length;
  const files = layout.files.length;
  const filesLogicalMatch = count((file) => file.logicalMatch && file.sharedMatch);
  const filesExtentCountEqual = count((file) => file.extentCountMatch);
  const filesPhysicalExact = count((file) => file.physicalExact);
  return {
    blocks,
    blocksMatching,
    logicalBlockPercent: percent(blocksMatching, blocks),
    mappedBlocks,
    mappedBlocksMatching,
    mappedBlockPercent: percent(mappedBlocksMatching, mappedBlocks),
    files,
    filesLogicalMatch,
    logicalFilePercent: percent(filesLogicalMatch, files),
    filesExtentCountEqual,
    extentCountPercent: percent(filesExtentCountEqual, files),
    filesPhysicalExact,
    physicalExactPercent: percent(filesPhysicalExact, files),
    filesSizeEqual: count((file) => file.sizeMatch),
  };
}

/** Snapshots keyed by label and position ("fiemap a.bin at t.xio:7"): open-file fiemaps of one file may repeat a label. */
function labelled(snapshots: readonly SnapshotRecord[]): SnapshotRecord[] {
  return snapshots.map((snapshot) => ({ ...snapshot, label: `${snapshot.label} at ${snapshot.at}` }));
}

function compareWith(
  sim: ReplayResult,
  truth: TruthFiles,
  kernelLayouts: readonly FileLayout[],
  kernelErrors: ReplayResult['errors'],
  kernelSnapshots: readonly SnapshotRecord[],
): ValidationComparison {
  const layout = compareLayouts(sim.files, truth, sim.blockSize, 'kernel');
  const kernelErrorLines = [...new Map(kernelErrors.map((error) => [error.at, error])).values()].map((error) => ({
    line: Number(/:(\d+)(?::\d+)?$/.exec(error.at)?.[1] ?? 0),
    text: error.at,
    stderr: error.message,
  }));
  const errors = compareErrorLines(sim.errors, kernelErrorLines);
  const snapshots = compareSnapshots(labelled(sim.snapshots), labelled(kernelSnapshots).map((snapshot) => ({
    label: snapshot.label,
    afterLine: 0,
    files: truthFilesOfLayouts(snapshot.files, sim.blockSize),
  })), sim.blockSize, 'kernel');
  const fileScores = fileBlockScores(sim.files, kernelLayouts, sim.blockSize);
  return { layout, errors, snapshots, score: scoreOf(layout, fileScores), fileScores };
}

/**
 * A simulator replay against a kernel run of the same trace: exact layout
 * comparison from the raw FIEMAP rows, failing lines, scores. O(files + extents log extents).
 */
export function compareWithKernel(sim: ReplayResult, kernelFiles: readonly KernelFile[], kernel: Pick<ReplayResult, 'errors' | 'snapshots'>): ValidationComparison {
  assert(sim.blockSize % 512 === 0, 'sim block size is not a multiple of 512', { blockSize: sim.blockSize });
  const layouts = kernelFiles.map((file) => ({ path: file.path, ino: file.ino, size: file.size, allocatedBlocks: 0, extents: extentRecordsOf(file.rows, sim.blockSize) }));
  return compareWith(sim, truthFilesOf(kernelFiles), layouts, kernel.errors, kernel.snapshots);
}

/** A simulator replay against a recorded golden (a `record` file: ReplayResult-shaped, block units). */
export function compareWithGolden(sim: ReplayResult, golden: ReplayResult): ValidationComparison {
  assert(golden.blockSize === sim.blockSize, 'golden and replay block sizes differ', { golden: golden.blockSize, sim: sim.blockSize });
  return compareWith(sim, truthFilesOfLayouts(golden.files, golden.blockSize), golden.files, golden.errors, golden.snapshots);
}
