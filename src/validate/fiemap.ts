/**
 * Kernel FIEMAP output, parsed: `xfs_io -r -c "fiemap -v" FILE` (what the
 * conformance corpus recorded; 512-byte units, hole rows, hex flags) and
 * `filefrag -v -b512 FILE` (used for `@snapshot`, because xfs_io's fiemap
 * always passes FIEMAP_FLAG_SYNC and would write back the delalloc state a
 * snapshot observes). Both turn into the truth shape of
 * src/report/conformance.ts (TruthFile) and into the simulator's FileLayout.
 * Pure functions of their text.
 */
import type { ExtentFlagName, ExtentRecord } from '../report/model.js';
import type { TruthExtent } from '../report/conformance.js';
import { assert } from '../util/assert.js';

const SECTOR_BYTES = 512;

/** FIEMAP_EXTENT_* bits and the names the corpus truth uses for them. */
export const FIEMAP_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [0x1, 'last'],
  [0x2, 'unknown'],
  [0x4, 'delalloc'],
  [0x8, 'encoded'],
  [0x80, 'data_encrypted'],
  [0x100, 'not_aligned'],
  [0x200, 'data_inline'],
  [0x400, 'data_tail'],
  [0x800, 'unwritten'],
  [0x1000, 'merged'],
  [0x2000, 'shared'],
];

/** filefrag's flag words, as FIEMAP bits ("eof" is filefrag's own, not a kernel flag). */
const FILEFRAG_FLAG_BITS: Readonly<Record<string, number>> = {
  last: 0x1,
  unknown_loc: 0x2,
  delalloc: 0x4,
  encoded: 0x8,
  encrypted: 0x80,
  not_aligned: 0x100,
  inline: 0x200,
  tail_packed: 0x400,
  unwritten: 0x800,
  merged: 0x1000,
  shared: 0x2000,
};

/** The names of the bits set in `flags`, in bit order. */
export function fiemapFlagNames(flags: number): string[] {
  return FIEMAP_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/** One FIEMAP row in 512-byte sectors, as a TruthExtent (holes: physical null, no flags). */
function row(hole: boolean, logicalStart512: number, length512: number, physicalStart512: number | null, flags: number): TruthExtent {
  assert(length512 > 0, 'FIEMAP row of zero length', { logicalStart512 });
  return { hole, logicalStart512, length512, physicalStart512: hole ? null : physicalStart512, flagNames: hole ? [] : fiemapFlagNames(flags) };
}

const XFS_IO_ROW = /^\s*\d+:\s*\[(\d+)\.\.(\d+)\]:\s+(?:(hole)|(\d+)\.\.(\d+))\s+(\d+)(?:\s+(0x[0-9a-fA-F]+))?\s*$/;
const XFS_IO_HEADER = /^\s*EXT:\s+FILE-OFFSET\s+BLOCK-RANGE\s+TOTAL\s+FLAGS\s*$/;

/**
 * The rows of every `fiemap -v` table in xfs_io output (other lines, such as
 * pwrite's statistics, are skipped). Each table starts at its header line and
 * ends at the first line that is not a row. O(lines).
 */
export function parseXfsIoFiemapTables(text: string): TruthExtent[][] {
  const tables: TruthExtent[][] = [];
  let current: TruthExtent[] | null = null;
  for (const line of text.split('\n')) {
    if (XFS_IO_HEADER.test(line)) {
      current = [];
      tables.push(current);
      continue;
    }
    if (current === null) continue;
    const match = XFS_IO_ROW.exec(line);
    if (match === null) {
      current = null;
      continue;
    }
    const start512 = Number(match[1]);
    const length512 = Number(match[6]);
    assert(Number(match[2]) - start512 + 1 === length512, 'xfs_io fiemap row length disagrees with its range', { line });
    const hole = match[3] !== undefined;
    current.push(row(hole, start512, length512, hole ? null : Number(match[4]), hole ? 0 : Number.parseInt(match[7] ?? '0', 16)));
  }
  return tables;
}

/** The single `fiemap -v` table of `xfs_io -r -c "fiemap -v" FILE` (an empty file prints no rows). */
export function parseXfsIoFiemap(text: string): TruthExtent[] {
  const tables = parseXfsIoFiemapTables(text);
  assert(tables.length <= 1, 'expected one fiemap table', { tables: tables.length });
  return tables[0] ?? [];
}

/**
 * The rows of `filefrag -v -b512 FILE` (no holes: filefrag prints only
 * mapped extents). Lines: "ext: logical_start.. logical_end: physical_start..
 * physical_end: length: [expected:] flags". O(lines).
 */
export function parseFilefrag(text: string): TruthExtent[] {
  const rows: TruthExtent[] = [];
  for (const line of text.split('\n')) {
    // "expected:" is present only when the extent does not continue the previous one: 5 or 6 fields.
    const fields = line.split(':');
    if ((fields.length !== 5 && fields.length !== 6) || !/^\s*\d+$/.test(fields[0]!)) continue;
    const logical = /^\s*(\d+)\.\.\s*(\d+)\s*$/.exec(fields[1]!);
    const physical = /^\s*(\d+)\.\.\s*(\d+)\s*$/.exec(fields[2]!);
    if (logical === null || physical === null) continue;
    const start512 = Number(logical[1]);
    const length512 = Number(logical[2]) - start512 + 1;
    let flags = 0;
    for (const word of fields[fields.length - 1]!.split(',')) flags |= FILEFRAG_FLAG_BITS[word.trim()] ?? 0;
    rows.push(row(false, start512, length512, Number(physical[1]), flags));
  }
  return rows;
}

const LAYOUT_FLAGS: readonly (readonly [string, ExtentFlagName])[] = [
  ['last', 'last'],
  ['delalloc', 'delalloc'],
  ['encoded', 'encoded'],
  ['data_inline', 'inline'],
  ['unwritten', 'unwritten'],
  ['shared', 'shared'],
];

/**
 * FIEMAP rows as the simulator's ExtentRecords (filesystem blocks, holes
 * dropped): a row that is not block aligned (btrfs inline data) covers the
 * blocks it touches; delalloc and inline extents have physical 0, as FIEMAP
 * reports them.
 */
export function extentRecordsOf(rows: readonly TruthExtent[], blockSize: number): ExtentRecord[] {
  const sectorsPerBlock = blockSize / SECTOR_BYTES;
  assert(Number.isInteger(sectorsPerBlock) && sectorsPerBlock > 0, 'block size is not a multiple of 512', { blockSize });
  return rows
    .filter((extent) => !extent.hole)
    .map((extent) => {
      const logical = Math.floor(extent.logicalStart512 / sectorsPerBlock);
      const end = Math.ceil((extent.logicalStart512 + extent.length512) / sectorsPerBlock);
      const flags = LAYOUT_FLAGS.filter(([name]) => extent.flagNames.includes(name)).map(([, flag]) => flag);
      const addressed = !flags.includes('delalloc') && !flags.includes('inline');
      const physical = addressed ? Math.floor((extent.physicalStart512 ?? 0) / sectorsPerBlock) : 0;
      return { logical, physical, length: end - logical, flags };
    });
}
