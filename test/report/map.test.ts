/**
 * The device map: ownership runs (checked block by block against a brute-force
 * model, on hand-made and on random layouts), grid scaling, the majority rule,
 * glyphs, the legend, and plain against coloured output.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { makeStyle } from '../../src/cli/style.js';
import type { BlockRun } from '../../src/image/types.js';
import {
  colorMapStyle,
  deviceGrid,
  deviceRuns,
  fileLetter,
  formatBytesShort,
  mapStyleFor,
  plainMapStyle,
  renderDeviceMap,
  type DeviceMapInput,
  type MapCell,
} from '../../src/report/map.js';
import type { ExtentFlagName, ExtentRecord, FileLayout } from '../../src/report/model.js';
import { plainStyle } from '../../src/report/text.js';

function extent(logical: number, physical: number, length: number, flags: ExtentFlagName[] = []): ExtentRecord {
  return { logical, physical, length, flags };
}

function file(path: string, extents: ExtentRecord[]): FileLayout {
  const allocatedBlocks = extents.filter((one) => !one.flags.includes('delalloc')).reduce((sum, one) => sum + one.length, 0);
  const size = extents.reduce((max, one) => Math.max(max, (one.logical + one.length) * 4096), 0);
  return { path, ino: 12, size, allocatedBlocks, extents };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Three files on a 20-block device: written, unwritten, delalloc, shared by overlap and by flag, reserved. */
function handInput(): DeviceMapInput {
  return {
    deviceBlocks: 20,
    blockSize: 4096,
    reserved: [{ start: 0, length: 2 }],
    files: [
      file('a', [extent(0, 4, 3), extent(3, 7, 2, ['unwritten', 'last'])]),
      file('b', [extent(0, 12, 2), extent(8, 0, 4, ['delalloc', 'last'])]),
      file('c', [extent(0, 13, 2, ['shared', 'last'])]),
    ],
  };
}

/** The owner of every block by the rule, one block at a time (the model deviceRuns must agree with). */
function bruteOwners(input: DeviceMapInput): MapCell[] {
  const owners: MapCell[] = [];
  for (let block = 0; block < input.deviceBlocks; block++) {
    const covering: { fileIndex: number; unwritten: boolean; shared: boolean }[] = [];
    input.files.forEach((one, fileIndex) => {
      for (const item of one.extents) {
        if (item.flags.includes('delalloc') || item.flags.includes('inline')) continue;
        if (block >= item.physical && block < item.physical + item.length) {
          covering.push({ fileIndex, unwritten: item.flags.includes('unwritten'), shared: item.flags.includes('shared') });
        }
      }
    });
    const reserved = input.reserved.some((run) => block >= run.start && block < run.start + run.length);
    const files = new Set(covering.map((one) => one.fileIndex));
    if (files.size === 0) owners.push(reserved ? { kind: 'reserved' } : { kind: 'free' });
    else if (files.size > 1 || covering.some((one) => one.shared)) owners.push({ kind: 'shared', fileIndex: Math.min(...files) });
    else owners.push({ kind: 'file', fileIndex: covering[0]!.fileIndex, unwritten: covering[0]!.unwritten });
  }
  return owners;
}

function runsAsBlocks(input: DeviceMapInput): MapCell[] {
  const owners: MapCell[] = Array.from({ length: input.deviceBlocks }, () => ({ kind: 'free' }) as MapCell);
  for (const run of deviceRuns(input)) {
    for (let block = run.startBlock; block < run.startBlock + run.blockCount; block++) owners[block] = run.owner;
  }
  return owners;
}

/** The majority owner of cells of `blocksPerCell` blocks, counted from per-block owners. */
function bruteCells(owners: readonly MapCell[], blocksPerCell: number): MapCell[] {
  const cells: MapCell[] = [];
  for (let start = 0; start < owners.length; start += blocksPerCell) {
    const counts = new Map<string, { owner: MapCell; count: number; unwritten: number }>();
    for (const owner of owners.slice(start, start + blocksPerCell)) {
      if (owner.kind === 'free') continue;
      const key = owner.kind === 'file' ? `f${owner.fileIndex}` : owner.kind === 'shared' ? `s${owner.fileIndex}` : 'r';
      const entry = counts.get(key) ?? { owner, count: 0, unwritten: 0 };
      entry.count++;
      if (owner.kind === 'file' && owner.unwritten) entry.unwritten++;
      counts.set(key, entry);
    }
    let best: { owner: MapCell; count: number; unwritten: number } | undefined;
    for (const entry of counts.values()) if (best === undefined || entry.count > best.count) best = entry;
    if (best === undefined) cells.push({ kind: 'free' });
    else if (best.owner.kind === 'file') cells.push({ kind: 'file', fileIndex: best.owner.fileIndex, unwritten: best.unwritten * 2 > best.count });
    else cells.push(best.owner);
  }
  return cells;
}

describe('deviceRuns', () => {
  test('hand-made layout: reserved, written, unwritten, shared by overlap and by flag; delalloc left out', () => {
    const runs = deviceRuns(handInput());
    expect(runs).toEqual([
      { startBlock: 0, blockCount: 2, owner: { kind: 'reserved' } },
      { startBlock: 4, blockCount: 3, owner: { kind: 'file', fileIndex: 0, unwritten: false } },
      { startBlock: 7, blockCount: 2, owner: { kind: 'file', fileIndex: 0, unwritten: true } },
      { startBlock: 12, blockCount: 1, owner: { kind: 'file', fileIndex: 1, unwritten: false } },
      { startBlock: 13, blockCount: 1, owner: { kind: 'shared', fileIndex: 1 } },
      { startBlock: 14, blockCount: 1, owner: { kind: 'shared', fileIndex: 2 } },
    ]);
  });

  test('adjacent extents of one owner coalesce; touching extents of two files do not', () => {
    const input: DeviceMapInput = {
      deviceBlocks: 64,
      blockSize: 4096,
      reserved: [{ start: 10, length: 2 }, { start: 12, length: 3 }],
      files: [file('a', [extent(0, 20, 4), extent(4, 24, 4)]), file('b', [extent(0, 28, 2)])],
    };
    expect(deviceRuns(input).map((run) => [run.startBlock, run.blockCount, run.owner.kind])).toEqual([
      [10, 5, 'reserved'],
      [20, 8, 'file'],
      [28, 2, 'file'],
    ]);
  });

  test('extents past the device end are clipped', () => {
    const input: DeviceMapInput = { deviceBlocks: 10, blockSize: 4096, reserved: [], files: [file('a', [extent(0, 8, 5)])] };
    expect(deviceRuns(input)).toEqual([{ startBlock: 8, blockCount: 2, owner: { kind: 'file', fileIndex: 0, unwritten: false } }]);
  });

  test('agrees block by block with a brute-force model on random layouts (seeded)', () => {
    const extentArb = fc.record({ gap: fc.nat(12), length: fc.integer({ min: 1, max: 9 }), unwritten: fc.boolean(), shared: fc.boolean(), delalloc: fc.boolean() });
    const layoutArb = fc.record({
      deviceBlocks: fc.integer({ min: 1, max: 160 }),
      files: fc.array(fc.record({ base: fc.nat(120), extents: fc.array(extentArb, { maxLength: 6 }) }), { maxLength: 5 }),
      reserved: fc.array(fc.record({ start: fc.nat(150), length: fc.integer({ min: 1, max: 10 }) }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(layoutArb, (layout) => {
        const files = layout.files.map((spec, fileIndex) => {
          let physical = spec.base;
          const extents = spec.extents.map((item, index) => {
            physical += item.gap;
            const flags: ExtentFlagName[] = [];
            if (item.unwritten) flags.push('unwritten');
            if (item.shared && fileIndex % 2 === 0) flags.push('shared');
            if (item.delalloc && index % 3 === 2) flags.push('delalloc');
            const made = extent(index * 16, flags.includes('delalloc') ? 0 : physical, item.length, flags);
            physical += item.length;
            return made;
          });
          return file(`f${fileIndex}`, extents);
        });
        const input: DeviceMapInput = { deviceBlocks: layout.deviceBlocks, blockSize: 4096, files, reserved: layout.reserved as BlockRun[] };
        const runs = deviceRuns(input);
        runs.forEach((run, index) => {
          expect(run.blockCount).toBeGreaterThan(0);
          const next = runs[index + 1];
          if (next !== undefined) expect(next.startBlock).toBeGreaterThanOrEqual(run.startBlock + run.blockCount);
        });
        expect(runsAsBlocks(input)).toEqual(bruteOwners(input));
        const grid = deviceGrid(runs, input.deviceBlocks, { columns: 7, rowsMax: 3 });
        expect(grid.cells).toEqual(bruteCells(bruteOwners(input), grid.blocksPerCell));
      }),
      { seed: 20240611, numRuns: 300 },
    );
  });
});

describe('deviceGrid', () => {
  test('scaling: 64 x 32 cells of whole blocks, never more rows than allowed', () => {
    const sizes: [number, number, number][] = [
      // deviceBlocks, blocksPerCell, rows
      [262144, 128, 32],
      [262145, 129, 32],
      [2048, 1, 32],
      [100, 1, 2],
      [1, 1, 1],
    ];
    for (const [deviceBlocks, blocksPerCell, rows] of sizes) {
      const grid = deviceGrid([], deviceBlocks, { columns: 64, rowsMax: 32 });
      expect([deviceBlocks, grid.blocksPerCell, grid.rows]).toEqual([deviceBlocks, blocksPerCell, rows]);
      expect(grid.cells.length).toBe(Math.ceil(deviceBlocks / blocksPerCell));
      expect(grid.cells.every((cell) => cell.kind === 'free')).toBe(true);
    }
  });

  test('majority owner: data beats free space, a file counts its written and unwritten blocks together, ties go to the lower address', () => {
    const input: DeviceMapInput = {
      deviceBlocks: 16,
      blockSize: 4096,
      reserved: [{ start: 0, length: 1 }],
      files: [
        file('a', [extent(0, 1, 2), extent(2, 6, 1), extent(3, 8, 1), extent(4, 13, 1)]),
        file('b', [extent(0, 4, 2, ['unwritten']), extent(2, 12, 1)]),
      ],
    };
    const grid = deviceGrid(deviceRuns(input), 16, { columns: 2, rowsMax: 2 });
    expect(grid.blocksPerCell).toBe(4);
    expect(grid.cells).toEqual([
      // blocks 0-3: reserved 1, a 2, free 1
      { kind: 'file', fileIndex: 0, unwritten: false },
      // blocks 4-7: b unwritten 2, a 1
      { kind: 'file', fileIndex: 1, unwritten: true },
      // blocks 8-11: a 1, free 3
      { kind: 'file', fileIndex: 0, unwritten: false },
      // blocks 12-15: b 1 (block 12), a 1 (block 13): a tie, b comes first
      { kind: 'file', fileIndex: 1, unwritten: false },
    ]);
  });

  test('a file half written, half unwritten in a cell shows as written', () => {
    const input: DeviceMapInput = { deviceBlocks: 4, blockSize: 4096, reserved: [], files: [file('a', [extent(0, 0, 2, ['unwritten']), extent(2, 2, 2)])] };
    expect(deviceGrid(deviceRuns(input), 4, { columns: 1, rowsMax: 1 }).cells).toEqual([{ kind: 'file', fileIndex: 0, unwritten: false }]);
  });
});

describe('renderDeviceMap', () => {
  test('plain: header, row labels, glyphs and legend', () => {
    const text = renderDeviceMap(handInput(), { columns: 8, rowsMax: 4 });
    expect(text).toBe(
      [
        'device map: 20 blocks of 4096 bytes (80 KiB), 1 cell = 1 block (4 KiB), 8 columns x 3 rows',
        'block',
        '    0 ##..AAAa',
        '    8 a...B**.',
        '   16 ....',
        'legend: . free  # filesystem metadata (reserved)  * shared (reflink)  A written  a unwritten',
        'a cell shows the owner of most of its blocks; it is free only when all its blocks are free',
        '  A a: 5 blocks (2 unwritten) in 2 extents',
        '  B b: 2 blocks in 1 extent, 4 delalloc blocks not on the map',
        '  C c: 2 blocks in 1 extent',
        '',
      ].join('\n'),
    );
  });

  test('default size: 64 columns, 32 rows, the cell size in the header; small files are still visible', () => {
    const input: DeviceMapInput = { deviceBlocks: 262144, blockSize: 4096, reserved: [{ start: 0, length: 4000 }], files: [file('one-block', [extent(0, 200000, 1)])] };
    const text = renderDeviceMap(input);
    const lines = text.split('\n');
    expect(lines[0]).toBe('device map: 262144 blocks of 4096 bytes (1 GiB), 1 cell = 128 blocks (512 KiB), 64 columns x 32 rows');
    const rows = lines.filter((line) => /^\s*\d+ [.#A-Za-z*]+$/.test(line));
    expect(rows).toHaveLength(32);
    for (const row of rows) expect(row.split(' ').pop()).toHaveLength(64);
    // 4000 reserved blocks fill 31.25 cells: 32 cells show '#' (the last one is mostly free, and free never wins).
    expect(rows[0]!.split(' ').pop()).toBe('#'.repeat(32) + '.'.repeat(32));
    // Block 200000 is cell 1562: row 24, column 26.
    expect(rows[24]!.trim()).toBe(`196608 ${'.'.repeat(26)}A${'.'.repeat(37)}`);
    expect(text).toContain('  A one-block: 1 block in 1 extent\n');
  });

  test('a file no cell shows is flagged in the legend; letters cycle after 26 files', () => {
    const files = Array.from({ length: 28 }, (_, index) => file(`f${index}`, [extent(0, index, 1)]));
    const text = renderDeviceMap({ deviceBlocks: 4096, blockSize: 4096, reserved: [], files }, { columns: 4, rowsMax: 1, legendFilesMax: 27 });
    // One cell of 1024 blocks: file 0 owns it (all tie at one block, file 0 has the lowest address).
    expect(text).toContain('    0 A...\n');
    expect(text).toContain('  A f0: 1 block in 1 extent\n');
    expect(text).toContain('  B f1: 1 block in 1 extent; too small to show at this scale\n');
    expect(text).toContain('  A f26: 1 block in 1 extent; too small to show at this scale\n');
    expect(text).toContain('letters repeat every 26 files\n');
    expect(text).toContain('  ... and 1 more file\n');
    expect(text).not.toContain('f27');
  });

  test('colour: ANSI codes around the same text as plain output, each file its own colour', () => {
    const plain = renderDeviceMap(handInput(), { columns: 8, rowsMax: 4 });
    const colored = renderDeviceMap(handInput(), { columns: 8, rowsMax: 4, style: colorMapStyle() });
    expect(colored).not.toBe(plain);
    expect(colored.replace(ANSI, '')).toBe(plain);
    const style = colorMapStyle();
    const swatches = [0, 1, 2, 12].map((index) => style.swatch('X', index));
    expect(new Set(swatches.slice(0, 3)).size).toBe(3);
    // The palette cycles after 12 files.
    expect(swatches[3]).toBe(swatches[0]);
    // Written and unwritten blocks of one file look different.
    expect(style.file('a', 0, true)).not.toBe(style.file('a', 0, false));
  });

  test('mapStyleFor follows the CLI text style: plain when colour is off', () => {
    expect(mapStyleFor(plainStyle)).toBe(plainMapStyle);
    expect(mapStyleFor(makeStyle(false))).toBe(plainMapStyle);
    expect(mapStyleFor(makeStyle(true)).free('.')).toMatch(ANSI);
  });

  test('an empty device prints only the header', () => {
    expect(renderDeviceMap({ deviceBlocks: 0, blockSize: 4096, reserved: [], files: [] })).toBe(
      'device map: 0 blocks of 4096 bytes (0 B), 1 cell = 1 block (4 KiB), 64 columns x 0 rows\n',
    );
  });
});

describe('helpers', () => {
  test('fileLetter cycles A..Z, lower case for unwritten', () => {
    expect([0, 1, 25, 26, 27].map((index) => fileLetter(index))).toEqual(['A', 'B', 'Z', 'A', 'B']);
    expect(fileLetter(2, true)).toBe('c');
  });

  test('formatBytesShort', () => {
    expect([0, 1023, 1024, 1536, 512 * 1024, 2 ** 30, 3 * 2 ** 40].map(formatBytesShort)).toEqual(['0 B', '1023 B', '1 KiB', '1.5 KiB', '512 KiB', '1 GiB', '3 TiB']);
  });
});
