/**
 * The device map: who owns each block of the simulated device (a file's
 * written or unwritten extent, blocks shared by several files, filesystem
 * metadata, free space), computed from file layouts and reserved runs, then
 * drawn as a grid of characters for the terminal (`--map`). The occupancy
 * functions are shared with the SVG map of the HTML report (html.ts).
 * Everything here is pure; nothing writes to a stream.
 */
import { Chalk } from 'chalk';
import type { BlockRun } from '../image/types.js';
import { assert } from '../util/assert.js';
import { FILE_EXTENTS_MAX } from './layout.js';
import type { ExtentRecord, FileLayout } from './model.js';
import { plainStyle, type TextStyle } from './text.js';

/** What the map is drawn from: final layouts, the filesystem's own runs and the device size. */
export interface DeviceMapInput {
  files: readonly FileLayout[];
  /** Device blocks the filesystem keeps for itself (ImageMetadata.reserved). */
  reserved: readonly BlockRun[];
  deviceBlocks: number;
  blockSize: number;
}

/** The owner of a run of device blocks. A `shared` run is mapped by several files (reflink) or flagged shared. */
export type MapOwner =
  | { kind: 'reserved' }
  | { kind: 'file'; fileIndex: number; unwritten: boolean }
  /** `fileIndex`: the first (lowest-index) file mapping the run, whose colour it is drawn in. */
  | { kind: 'shared'; fileIndex: number };

/** One maximal run of device blocks with a single owner; free space is the gaps between runs. */
export interface DeviceRun {
  startBlock: number;
  blockCount: number;
  owner: MapOwner;
}

/** One grid cell: the owner of most of its blocks (free only when every block is free). */
export type MapCell = { kind: 'free' } | MapOwner;

/** The device scaled to a grid: cell i covers blocks [i × blocksPerCell, (i + 1) × blocksPerCell). */
export interface DeviceGrid {
  columns: number;
  rows: number;
  blocksPerCell: number;
  /** Cells in address order, row after row; the last row may be short (cells.length <= rows × columns). */
  cells: MapCell[];
}

export interface DeviceGridOptions {
  columns: number;
  rowsMax: number;
}

/** The terminal map's default size: 64 columns, at most 32 rows. */
export const MAP_COLUMNS_DEFAULT = 64;
export const MAP_ROWS_MAX_DEFAULT = 32;
/** Files listed in the terminal legend before "... and N more". */
export const MAP_LEGEND_FILES_MAX = 52;
/** Files get the letters A..Z in order, cycling after 26 files. */
export const MAP_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const GRID_CELLS_MAX = 1 << 20;

export const MAP_GLYPH_FREE = '.';
export const MAP_GLYPH_RESERVED = '#';
export const MAP_GLYPH_SHARED = '*';

/** The letter of the file at `fileIndex`: upper case for written blocks, lower case for unwritten ones. */
export function fileLetter(fileIndex: number, unwritten = false): string {
  assert(Number.isInteger(fileIndex) && fileIndex >= 0, 'file index must be a non-negative integer', { fileIndex });
  const letter = MAP_LETTERS[fileIndex % MAP_LETTERS.length]!;
  return unwritten ? letter.toLowerCase() : letter;
}

/** Whether an extent has a place on the device: delalloc and inline extents have none. */
export function isMappedExtent(extent: ExtentRecord): boolean {
  return extent.length > 0 && !extent.flags.includes('delalloc') && !extent.flags.includes('inline');
}

interface Interval {
  startBlock: number;
  endBlock: number;
  /** -1 for a reserved run. */
  fileIndex: number;
  unwritten: boolean;
  shared: boolean;
}

function collectIntervals(input: DeviceMapInput): Interval[] {
  const intervals: Interval[] = [];
  const clip = (block: number): number => Math.min(Math.max(block, 0), input.deviceBlocks);
  const push = (start: number, length: number, fileIndex: number, unwritten: boolean, shared: boolean): void => {
    const startBlock = clip(start);
    const endBlock = clip(start + length);
    if (endBlock > startBlock) intervals.push({ startBlock, endBlock, fileIndex, unwritten, shared });
  };
  for (const run of input.reserved) push(run.start, run.length, -1, false, false);
  input.files.forEach((file, fileIndex) => {
    assert(file.extents.length <= FILE_EXTENTS_MAX, 'too many extents', { path: file.path, count: file.extents.length });
    for (const extent of file.extents) {
      if (!isMappedExtent(extent)) continue;
      push(extent.physical, extent.length, fileIndex, extent.flags.includes('unwritten'), extent.flags.includes('shared'));
    }
  });
  return intervals;
}

/** The owner of a segment covered by `active` intervals (non-empty). Data wins over reserved (an inconsistent layout shows). */
function segmentOwner(active: ReadonlyMap<number, Interval>): MapOwner {
  const fileIndexes = new Set<number>();
  let unwritten = false;
  let shared = false;
  for (const interval of active.values()) {
    if (interval.fileIndex < 0) continue;
    fileIndexes.add(interval.fileIndex);
    unwritten = interval.unwritten;
    shared ||= interval.shared;
  }
  if (fileIndexes.size === 0) return { kind: 'reserved' };
  const firstFile = Math.min(...fileIndexes);
  if (fileIndexes.size > 1 || shared) return { kind: 'shared', fileIndex: firstFile };
  return { kind: 'file', fileIndex: firstFile, unwritten };
}

/** A key equal for equal owners. */
export function ownerKey(owner: MapCell): string {
  if (owner.kind === 'file') return `f${owner.fileIndex}${owner.unwritten ? 'u' : 'w'}`;
  if (owner.kind === 'shared') return `s${owner.fileIndex}`;
  return owner.kind;
}

function appendRun(runs: DeviceRun[], startBlock: number, endBlock: number, owner: MapOwner): void {
  const last = runs[runs.length - 1];
  if (last !== undefined && last.startBlock + last.blockCount === startBlock && ownerKey(last.owner) === ownerKey(owner)) {
    last.blockCount += endBlock - startBlock;
  } else {
    runs.push({ startBlock, blockCount: endBlock - startBlock, owner });
  }
}

/**
 * Every used block of the device with its owner, as sorted, non-overlapping
 * runs, adjacent runs of one owner coalesced; free space is left out.
 * Delalloc and inline extents are skipped (they have no address); blocks past
 * the device end are clipped. A block in two files' extents, or in an extent
 * flagged `shared`, is `shared`. O(n log n) in extents.
 */
export function deviceRuns(input: DeviceMapInput): DeviceRun[] {
  assert(Number.isSafeInteger(input.deviceBlocks) && input.deviceBlocks >= 0, 'device blocks must be a count', { deviceBlocks: input.deviceBlocks });
  const intervals = collectIntervals(input);
  // Events sorted by block; at one block, ends come before starts so touching runs do not overlap.
  const events: number[] = [];
  intervals.forEach((interval, index) => events.push(index, -index - 1));
  const position = (event: number): number => (event >= 0 ? intervals[event]!.startBlock : intervals[-event - 1]!.endBlock);
  events.sort((a, b) => position(a) - position(b) || (a < 0 ? 0 : 1) - (b < 0 ? 0 : 1) || a - b);
  const runs: DeviceRun[] = [];
  const active = new Map<number, Interval>();
  let previous = 0;
  for (const event of events) {
    const block = position(event);
    if (block > previous && active.size > 0) appendRun(runs, previous, block, segmentOwner(active));
    previous = block;
    if (event >= 0) active.set(event, intervals[event]!);
    else active.delete(-event - 1);
  }
  assert(active.size === 0, 'device map sweep left intervals open', { open: active.size });
  return runs;
}

interface CellTally {
  /** Blocks per owner key, in the order owners first appear in the cell (ties go to the first). */
  blocks: Map<string, { owner: MapOwner; count: number }>;
}

function tallyRuns(runs: readonly DeviceRun[], blocksPerCell: number, cellCount: number): (CellTally | undefined)[] {
  const tallies: (CellTally | undefined)[] = new Array<CellTally | undefined>(cellCount);
  for (const run of runs) {
    const endBlock = run.startBlock + run.blockCount;
    const key = ownerKey(run.owner);
    for (let cell = Math.floor(run.startBlock / blocksPerCell); cell < cellCount && cell * blocksPerCell < endBlock; cell++) {
      const overlap = Math.min(endBlock, (cell + 1) * blocksPerCell) - Math.max(run.startBlock, cell * blocksPerCell);
      const tally = (tallies[cell] ??= { blocks: new Map() });
      const entry = tally.blocks.get(key);
      if (entry === undefined) tally.blocks.set(key, { owner: run.owner, count: overlap });
      else entry.count += overlap;
    }
  }
  return tallies;
}

/**
 * The owner of most blocks of a cell. Free space never wins over data: a
 * cell is free only when all its blocks are free, so a one-block file shows
 * on a 1 TiB device. A file's written and unwritten blocks count together
 * for the file; the cell is unwritten when most of that file's blocks in it
 * are. Ties go to the owner met first in address order.
 */
function majorityOwner(tally: CellTally | undefined): MapCell {
  if (tally === undefined) return { kind: 'free' };
  const byOwner = new Map<string, { owner: MapOwner; count: number; unwrittenCount: number }>();
  for (const { owner, count } of tally.blocks.values()) {
    const key = owner.kind === 'file' ? `f${owner.fileIndex}` : ownerKey(owner);
    const entry = byOwner.get(key) ?? { owner, count: 0, unwrittenCount: 0 };
    entry.count += count;
    if (owner.kind === 'file' && owner.unwritten) entry.unwrittenCount += count;
    byOwner.set(key, entry);
  }
  let best: { owner: MapOwner; count: number; unwrittenCount: number } | undefined;
  for (const entry of byOwner.values()) if (best === undefined || entry.count > best.count) best = entry;
  assert(best !== undefined, 'a tallied cell has an owner');
  if (best.owner.kind !== 'file') return best.owner;
  return { kind: 'file', fileIndex: best.owner.fileIndex, unwritten: best.unwrittenCount * 2 > best.count };
}

/**
 * Scales the device to at most `columns × rowsMax` cells of equal size
 * (`blocksPerCell`, at least 1) and gives each cell its majority owner (see
 * majorityOwner). O(runs + cells).
 */
export function deviceGrid(runs: readonly DeviceRun[], deviceBlocks: number, options: DeviceGridOptions): DeviceGrid {
  const { columns, rowsMax } = options;
  assert(Number.isInteger(columns) && columns > 0 && Number.isInteger(rowsMax) && rowsMax > 0, 'grid needs columns and rows', options);
  assert(columns * rowsMax <= GRID_CELLS_MAX, 'grid too large', options);
  const blocksPerCell = Math.max(1, Math.ceil(deviceBlocks / (columns * rowsMax)));
  const cellCount = Math.ceil(deviceBlocks / blocksPerCell);
  const rows = Math.ceil(cellCount / columns);
  assert(rows <= rowsMax, 'grid rows exceed the maximum', { rows, rowsMax, blocksPerCell });
  const tallies = tallyRuns(runs, blocksPerCell, cellCount);
  const cells: MapCell[] = [];
  for (let cell = 0; cell < cellCount; cell++) cells.push(majorityOwner(tallies[cell]));
  return { columns, rows, blocksPerCell, cells };
}

/** Colouring of map glyphs; plainMapStyle leaves them as they are. */
export interface MapStyle {
  file(glyph: string, fileIndex: number, unwritten: boolean): string;
  shared(glyph: string, fileIndex: number): string;
  reserved(glyph: string): string;
  free(glyph: string): string;
  /** A legend swatch for a file, e.g. " A " on the file's colour. */
  swatch(glyph: string, fileIndex: number): string;
}

export const plainMapStyle: MapStyle = {
  file: (glyph) => glyph,
  shared: (glyph) => glyph,
  reserved: (glyph) => glyph,
  free: (glyph) => glyph,
  swatch: (glyph) => glyph,
};

/**
 * The chalk-backed map style (16-colour level): written blocks are the file's
 * letter on the file's background colour, unwritten ones its lower-case
 * letter in the file's colour on the terminal background; colours cycle
 * every 12 files. The CLI picks it when colour is on (src/cli/style.ts useColor).
 */
export function colorMapStyle(): MapStyle {
  const chalk = new Chalk({ level: 1 });
  const foregrounds = [
    chalk.red, chalk.green, chalk.yellow, chalk.blue, chalk.magenta, chalk.cyan,
    chalk.redBright, chalk.greenBright, chalk.yellowBright, chalk.blueBright, chalk.magentaBright, chalk.cyanBright,
  ];
  const backgrounds = [
    chalk.bgRed, chalk.bgGreen, chalk.bgYellow, chalk.bgBlue, chalk.bgMagenta, chalk.bgCyan,
    chalk.bgRedBright, chalk.bgGreenBright, chalk.bgYellowBright, chalk.bgBlueBright, chalk.bgMagentaBright, chalk.bgCyanBright,
  ];
  const background = (text: string, fileIndex: number): string => backgrounds[fileIndex % backgrounds.length]!.black(text);
  const foreground = (text: string, fileIndex: number): string => foregrounds[fileIndex % foregrounds.length]!(text);
  return {
    file: (glyph, fileIndex, unwritten) => (unwritten ? foreground(glyph, fileIndex) : background(glyph, fileIndex)),
    shared: (glyph, fileIndex) => chalk.bold(foreground(glyph, fileIndex)),
    reserved: (glyph) => chalk.gray(glyph),
    free: (glyph) => chalk.dim(glyph),
    swatch: background,
  };
}

/**
 * The map style that goes with the CLI's text style: colour exactly when the
 * text is coloured (src/cli/style.ts makeStyle returns plainStyle itself
 * when colour is off: --no-color, NO_COLOR, or stdout not a terminal).
 */
export function mapStyleFor(textStyle: TextStyle): MapStyle {
  return textStyle === plainStyle ? plainMapStyle : colorMapStyle();
}

/** The glyph of a cell, repeated `count` times and styled once. */
export function cellGlyph(cell: MapCell, style: MapStyle = plainMapStyle, count = 1): string {
  if (cell.kind === 'free') return style.free(MAP_GLYPH_FREE.repeat(count));
  if (cell.kind === 'reserved') return style.reserved(MAP_GLYPH_RESERVED.repeat(count));
  if (cell.kind === 'shared') return style.shared(MAP_GLYPH_SHARED.repeat(count), cell.fileIndex);
  return style.file(fileLetter(cell.fileIndex, cell.unwritten).repeat(count), cell.fileIndex, cell.unwritten);
}

/** "512 KiB", "1.5 MiB": a short binary size for legends (exact bytes below 1 KiB). */
export function formatBytesShort(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unitIndex = -1;
  while (value >= 1024 && unitIndex < units.length - 1) {
    value /= 1024;
    unitIndex++;
  }
  const digits = Number.isInteger(value) ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unitIndex]}`;
}

export interface DeviceMapTextOptions {
  /** Colouring (default plain: letters only). */
  style?: MapStyle;
  columns?: number;
  rowsMax?: number;
  /** Files listed in the legend (default MAP_LEGEND_FILES_MAX). */
  legendFilesMax?: number;
}

/** Per-file counts the legend shows. */
interface FileMapCounts {
  mappedBlocks: number;
  unwrittenBlocks: number;
  delallocBlocks: number;
  mappedExtents: number;
}

function fileMapCounts(file: FileLayout): FileMapCounts {
  const counts: FileMapCounts = { mappedBlocks: 0, unwrittenBlocks: 0, delallocBlocks: 0, mappedExtents: 0 };
  for (const extent of file.extents) {
    if (extent.flags.includes('delalloc')) counts.delallocBlocks += extent.length;
    if (!isMappedExtent(extent)) continue;
    counts.mappedBlocks += extent.length;
    counts.mappedExtents++;
    if (extent.flags.includes('unwritten')) counts.unwrittenBlocks += extent.length;
  }
  return counts;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** The grid rows, each prefixed with the number of its first block. */
function renderGridRows(grid: DeviceGrid, style: MapStyle): string {
  const blocksPerRow = grid.columns * grid.blocksPerCell;
  const labelWidth = Math.max(5, String(Math.max(0, grid.rows - 1) * blocksPerRow).length);
  let text = `${'block'.padStart(labelWidth)}\n`;
  for (let row = 0; row < grid.rows; row++) {
    const cells = grid.cells.slice(row * grid.columns, (row + 1) * grid.columns);
    text += `${String(row * blocksPerRow).padStart(labelWidth)} ${renderCells(cells, style)}\n`;
  }
  return text;
}

/** A row of cells; equal neighbours are styled as one string so colour codes are not repeated per cell. */
function renderCells(cells: readonly MapCell[], style: MapStyle): string {
  let text = '';
  let start = 0;
  for (let index = 1; index <= cells.length; index++) {
    if (index < cells.length && ownerKey(cells[index]!) === ownerKey(cells[start]!)) continue;
    text += cellGlyph(cells[start]!, style, index - start);
    start = index;
  }
  return text;
}

/** File indexes that own at least one cell (as a file or as the colour of a shared cell). */
function visibleFiles(grid: DeviceGrid): Set<number> {
  const visible = new Set<number>();
  for (const cell of grid.cells) if (cell.kind === 'file' || cell.kind === 'shared') visible.add(cell.fileIndex);
  return visible;
}

function legendFileLine(file: FileLayout, fileIndex: number, visible: boolean, style: MapStyle): string {
  const counts = fileMapCounts(file);
  let text = `  ${style.swatch(fileLetter(fileIndex), fileIndex)} ${file.path}: ${plural(counts.mappedBlocks, 'block')}`;
  if (counts.unwrittenBlocks > 0) text += ` (${counts.unwrittenBlocks} unwritten)`;
  text += ` in ${plural(counts.mappedExtents, 'extent')}`;
  if (counts.delallocBlocks > 0) text += `, ${plural(counts.delallocBlocks, 'delalloc block')} not on the map`;
  if (counts.mappedBlocks > 0 && !visible) text += '; too small to show at this scale';
  return `${text}\n`;
}

function renderLegend(input: DeviceMapInput, grid: DeviceGrid, style: MapStyle, filesMax: number): string {
  const keys = [
    `${style.free(MAP_GLYPH_FREE)} free`,
    `${style.reserved(MAP_GLYPH_RESERVED)} filesystem metadata (reserved)`,
    `${style.shared(MAP_GLYPH_SHARED, 0)} shared (reflink)`,
    `${style.file('A', 0, false)} written`,
    `${style.file('a', 0, true)} unwritten`,
  ];
  let text = `legend: ${keys.join('  ')}\n`;
  text += 'a cell shows the owner of most of its blocks; it is free only when all its blocks are free\n';
  if (input.files.length > MAP_LETTERS.length) text += `letters repeat every ${MAP_LETTERS.length} files\n`;
  const visible = visibleFiles(grid);
  input.files.slice(0, filesMax).forEach((file, fileIndex) => {
    text += legendFileLine(file, fileIndex, visible.has(fileIndex), style);
  });
  if (input.files.length > filesMax) text += `  ... and ${plural(input.files.length - filesMax, 'more file')}\n`;
  return text;
}

/**
 * The terminal device map: a header saying the scale, the device as a grid
 * (default 64 columns, at most 32 rows; each cell the same number of blocks,
 * each row prefixed with its first block), then the legend: glyphs, the
 * majority rule, and one line per file (letter, path, blocks, extents).
 * Every line ends in "\n". O(extents log extents + cells).
 */
export function renderDeviceMap(input: DeviceMapInput, options: DeviceMapTextOptions = {}): string {
  assert(input.blockSize > 0, 'block size must be positive', { blockSize: input.blockSize });
  const style = options.style ?? plainMapStyle;
  const grid = deviceGrid(deviceRuns(input), input.deviceBlocks, {
    columns: options.columns ?? MAP_COLUMNS_DEFAULT,
    rowsMax: options.rowsMax ?? MAP_ROWS_MAX_DEFAULT,
  });
  const cellBytes = grid.blocksPerCell * input.blockSize;
  let text = `device map: ${plural(input.deviceBlocks, 'block')} of ${input.blockSize} bytes (${formatBytesShort(input.deviceBlocks * input.blockSize)}), `;
  text += `1 cell = ${plural(grid.blocksPerCell, 'block')} (${formatBytesShort(cellBytes)}), ${grid.columns} columns x ${plural(grid.rows, 'row')}\n`;
  if (input.deviceBlocks === 0) return text;
  text += renderGridRows(grid, style);
  return text + renderLegend(input, grid, style, options.legendFilesMax ?? MAP_LEGEND_FILES_MAX);
}
