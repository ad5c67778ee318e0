/**
 * The conformance comparator itself, on layouts built from the kernel's truth
 * files (a perfect "sim") and on perturbed copies of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import fc from 'fast-check';

import {
  compareCase,
  compareErrorLines,
  compareLayouts,
  compareSnapshots,
  DIFFERENCES_PER_FILE_MAX,
  lineOfErrorAt,
  loadTruth,
  parseTruth,
  type TruthCase,
} from '../../src/report/conformance.js';
import type { ExtentFlagName, ExtentRecord, FileLayout, ReplayResult } from '../../src/report/model.js';
import { TraceError } from '../../src/util/errors.js';
import { CORPUS_DIR, truthPath } from './corpus.js';

const BLOCK_SIZE = 4096;

interface RawExtent {
  hole: boolean;
  logical_start_blk: number;
  length_blk: number;
  physical_start_blk: number | null;
  flag_names: string[];
}
interface RawFile {
  size: number;
  ino: number;
  allocated_bytes: number;
  extents: RawExtent[];
}

/** FileLayouts straight from the raw JSON's `_blk` fields (independent of the reader under test). */
function layoutsOfRaw(files: Record<string, RawFile>): FileLayout[] {
  return Object.entries(files).map(([path, file]) => ({
    path,
    ino: file.ino,
    size: file.size,
    allocatedBlocks: file.allocated_bytes / BLOCK_SIZE,
    extents: file.extents
      .filter((extent) => !extent.hole)
      .map((extent) => {
        expect(Number.isInteger(extent.logical_start_blk) && Number.isInteger(extent.length_blk)).toBe(true);
        return {
          logical: extent.logical_start_blk,
          physical: extent.physical_start_blk ?? 0,
          length: extent.length_blk,
          flags: simFlagsOf(extent.flag_names),
        };
      }),
  }));
}

function simFlagsOf(names: string[]): ExtentFlagName[] {
  const flags: ExtentFlagName[] = [];
  if (names.includes('unwritten')) flags.push('unwritten');
  if (names.includes('delalloc')) flags.push('delalloc');
  if (names.includes('shared')) flags.push('shared');
  if (names.includes('data_inline')) flags.push('inline');
  if (names.includes('last')) flags.push('last');
  return flags;
}

function rawTruth(fs: string, caseName: string): { raw: { files: Record<string, RawFile> }; truth: TruthCase } {
  const path = truthPath(fs, caseName);
  return { raw: JSON.parse(readFileSync(path, 'utf8')), truth: loadTruth(path) };
}

function withExtents(layout: FileLayout, extents: ExtentRecord[]): FileLayout {
  return { ...layout, extents };
}

function resultOf(truth: TruthCase, files: FileLayout[], overrides: Partial<ReplayResult> = {}): ReplayResult {
  return {
    schemaVersion: 1,
    tool: 'iomapsim',
    trace: truth.case,
    policy: truth.fs,
    blockSize: BLOCK_SIZE,
    deviceSize: 1 << 30,
    seed: 1,
    files,
    dirs: [],
    snapshots: [],
    tracedFailures: [],
    errors: [],
    stats: {
      ops: {},
      opsTotal: 0,
      opsFailed: 0,
      opsIgnored: {},
      assumed: {},
      bytesWritten: 0,
      bytesRead: 0,
      deviceBytesWritten: 0,
      deviceBytesRead: 0,
      files: files.length,
      extents: 0,
      blocksAllocated: 0,
      blocksFree: 0,
    },
    ...overrides,
  };
}

describe('truth reader and a perfect sim', () => {
  const truthFiles = ['ext4', 'xfs', 'btrfs'].flatMap((fs) =>
    readdirSync(join(CORPUS_DIR, 'truth', fs))
      .filter((name) => name.endsWith('.json'))
      .map((name) => [fs, name.slice(0, -'.json'.length)] as const),
  );

  test('the corpus has 29 cases on each of the 3 filesystems', () => {
    expect(truthFiles).toHaveLength(87);
  });

  test.each(truthFiles)('%s %s: its own layouts match exactly (final, after remount, snapshots)', (fs, caseName) => {
    const path = truthPath(fs, caseName);
    const raw = JSON.parse(readFileSync(path, 'utf8'));
    const truth = loadTruth(path);
    expect(truth.case).toBe(caseName);
    expect(truth.fs).toBe(fs);
    const moments: [Record<string, RawFile>, TruthCase['files']][] = [
      [raw.files, truth.files],
      [raw.files_after_remount, truth.filesAfterRemount],
      ...raw.snapshots.map((snapshot: { files: Record<string, RawFile> }, index: number) => [
        snapshot.files,
        truth.snapshots[index]!.files,
      ]),
    ];
    for (const [rawFiles, truthFilesOfMoment] of moments) {
      const comparison = compareLayouts(layoutsOfRaw(rawFiles), truthFilesOfMoment, BLOCK_SIZE);
      expect(comparison.differences).toEqual([]);
      expect(comparison.physicalDifferences).toEqual([]);
      expect(comparison.logicalMatch && comparison.sizeMatch && comparison.fileSetMatch).toBe(true);
      expect(comparison.extentCountMatch && comparison.physicalExact && comparison.sharedMatch).toBe(true);
      expect(comparison.files.map((file) => file.path)).toEqual(Object.keys(rawFiles).sort());
      for (const file of comparison.files) expect(file.physicalBreaksSim).toBe(file.physicalBreaksKernel);
    }
  });

  test('extent counts and physical breaks are those of the truth file', () => {
    const { truth } = rawTruth('ext4', '07-falloc-keep-size-768k');
    const { files } = compareLayouts([], truth.files, BLOCK_SIZE);
    // [0+10]@4247 [10+65]@4257 unwritten [75+2]@4324 [77+115]@4324... all contiguous on disk: 4 extents, 0 breaks.
    expect(files[0]).toMatchObject({ path: 'keep.bin', extentCountKernel: 4, physicalBreaksKernel: 0 });
    const sparse = compareLayouts([], rawTruth('ext4', '04-sparse-islands').truth.files, BLOCK_SIZE).files[0];
    expect(sparse).toMatchObject({ extentCountKernel: 4, physicalBreaksKernel: 3 });
  });
});

describe('perturbations are detected and described', () => {
  const { raw: raw01, truth: truth01 } = rawTruth('ext4', '01-seq-write-1536k-fsync');
  const data = layoutsOfRaw(raw01.files)[0]!;
  const physical = data.extents[0]!.physical;

  test('01 is one 384-block extent (the base of these tests)', () => {
    expect(data.path).toBe('data.bin');
    expect(data.extents).toHaveLength(1);
    expect(data.extents[0]).toMatchObject({ logical: 0, length: 384 });
  });

  test('blocks 16..47 unwritten instead of data', () => {
    const sim = withExtents(data, [
      { logical: 0, physical, length: 16, flags: [] },
      { logical: 16, physical: physical + 16, length: 32, flags: ['unwritten'] },
      { logical: 48, physical: physical + 48, length: 336, flags: ['last'] },
    ]);
    const comparison = compareLayouts([sim], truth01.files, BLOCK_SIZE);
    expect(comparison.differences).toEqual(['data.bin: blocks 16..47: sim unwritten, kernel data']);
    expect(comparison.logicalMatch).toBe(false);
    expect(comparison.physicalExact).toBe(false);
    expect(comparison.sizeMatch).toBe(true);
    expect(comparison.files[0]).toMatchObject({
      extentCountSim: 3,
      extentCountKernel: 1,
      extentCountMatch: false,
      physicalBreaksSim: 0,
      differenceCount: 1,
    });
  });

  test('one block at another physical address', () => {
    const sim = withExtents(data, [
      { logical: 0, physical, length: 100, flags: [] },
      { logical: 100, physical: physical + 5000, length: 1, flags: [] },
      { logical: 101, physical: physical + 101, length: 283, flags: ['last'] },
    ]);
    const comparison = compareLayouts([sim], truth01.files, BLOCK_SIZE);
    expect(comparison.logicalMatch).toBe(true);
    expect(comparison.physicalExact).toBe(false);
    expect(comparison.differences).toEqual([]);
    expect(comparison.physicalDifferences).toEqual([
      `data.bin: block 100: physical sim ${physical + 5000}, kernel ${physical + 100}`,
    ]);
    expect(comparison.files[0]).toMatchObject({ physicalBreaksSim: 2, physicalBreaksKernel: 0 });
  });

  test('a whole file placed elsewhere is one merged physical difference', () => {
    const sim = withExtents(data, [
      { logical: 0, physical: 1000, length: 200, flags: [] },
      { logical: 200, physical: 1200, length: 184, flags: [] },
    ]);
    const comparison = compareLayouts([sim], truth01.files, BLOCK_SIZE);
    expect(comparison.differences).toEqual([]);
    expect(comparison.physicalDifferences).toEqual([
      `data.bin: blocks 0..383: physical sim 1000..1383, kernel ${physical}..${physical + 383}`,
    ]);
    expect(comparison.files[0]).toMatchObject({ physicalBreaksSim: 0, extentCountSim: 2, logicalMatch: true });
    const split = withExtents(data, [
      { logical: 0, physical: 1000, length: 200, flags: [] },
      { logical: 200, physical: 9000, length: 184, flags: [] },
    ]);
    expect(compareLayouts([split], truth01.files, BLOCK_SIZE).physicalDifferences).toEqual([
      `data.bin: blocks 0..199: physical sim 1000..1199, kernel ${physical}..${physical + 199}`,
      `data.bin: blocks 200..383: physical sim 9000..9183, kernel ${physical + 200}..${physical + 383}`,
    ]);
  });

  test('a missing and an extra file', () => {
    const { raw, truth } = rawTruth('ext4', '21-many-small-files');
    const layouts = layoutsOfRaw(raw.files);
    const removed = layouts[7]!;
    const sim = [...layouts.filter((layout) => layout !== removed), { ...data, path: 'tree/a/stray.dat' }];
    const comparison = compareLayouts(sim, truth.files, BLOCK_SIZE);
    expect(comparison.fileSetMatch).toBe(false);
    expect(comparison.logicalMatch).toBe(false);
    const kernelFile = truth.files[removed.path]!;
    expect(comparison.differences).toEqual(
      [
        `${removed.path}: missing in sim (kernel: ${kernelFile.size} bytes, 1 extent)`,
        'tree/a/stray.dat: extra in sim (sim: 1572864 bytes, 1 extent; kernel has no such file)',
      ].sort(),
    );
    const missing = comparison.files.find((file) => file.path === removed.path)!;
    expect(missing).toMatchObject({ presence: 'kernelOnly', sizeSim: null, sizeMatch: false, logicalMatch: false });
  });

  test('a size difference alone', () => {
    const comparison = compareLayouts([{ ...data, size: data.size - 1 }], truth01.files, BLOCK_SIZE);
    expect(comparison.differences).toEqual(['data.bin: size: sim 1572863 bytes, kernel 1572864 bytes']);
    expect(comparison.sizeMatch).toBe(false);
    expect(comparison.logicalMatch).toBe(true);
  });

  test('a missing island reads as a hole; an extent past EOF as extra data', () => {
    const { raw, truth } = rawTruth('ext4', '04-sparse-islands');
    const sparse = layoutsOfRaw(raw.files)[0]!;
    const island = sparse.extents[1]!;
    const last = sparse.extents[3]!;
    const sim = withExtents(sparse, [
      sparse.extents[0]!,
      sparse.extents[2]!,
      last,
      { logical: last.logical + 1, physical: last.physical + 1, length: 7, flags: ['unwritten'] },
    ]);
    const comparison = compareLayouts([sim], truth.files, BLOCK_SIZE);
    expect(comparison.differences).toEqual([
      `sparse.dat: blocks ${island.logical}..${island.logical + island.length - 1}: sim hole, kernel data`,
      `sparse.dat: blocks ${last.logical + 1}..${last.logical + 7}: sim unwritten, kernel hole`,
    ]);
    // The extra extent continues the last one on disk: no new physical break, one break fewer for the island.
    expect(comparison.files[0]).toMatchObject({ physicalBreaksSim: 2, physicalBreaksKernel: 3 });
  });

  test('shared is tracked apart from the logical state', () => {
    const sim = withExtents(data, [{ ...data.extents[0]!, flags: ['shared', 'last'] }]);
    const comparison = compareLayouts([sim], truth01.files, BLOCK_SIZE);
    expect(comparison.logicalMatch).toBe(true);
    expect(comparison.sharedMatch).toBe(false);
    expect(comparison.physicalExact).toBe(true);
    expect(comparison.differences).toEqual(['data.bin: blocks 0..383: sim shared, kernel not shared']);
  });

  test('many differing ranges: the first few are kept, the count is exact', () => {
    const extents: ExtentRecord[] = [];
    for (let block = 0; block < 384; block += 2) {
      extents.push({ logical: block, physical: physical + block, length: 1, flags: [] });
      extents.push({ logical: block + 1, physical: physical + block + 1, length: 1, flags: ['unwritten'] });
    }
    const comparison = compareLayouts([withExtents(data, extents)], truth01.files, BLOCK_SIZE);
    const file = comparison.files[0]!;
    expect(file.differenceCount).toBe(192);
    expect(file.differences).toHaveLength(DIFFERENCES_PER_FILE_MAX + 1);
    expect(file.differences[0]).toBe('data.bin: block 1: sim unwritten, kernel data');
    expect(file.differences[DIFFERENCES_PER_FILE_MAX]).toBe(
      `data.bin: ... ${192 - DIFFERENCES_PER_FILE_MAX} more differing ranges`,
    );
  });

  test('delalloc against written data, in a snapshot', () => {
    const { raw, truth } = rawTruth('ext4', '02-delalloc-snapshot');
    expect(truth.snapshots.map((snapshot) => snapshot.label)).toEqual(['pre-sync']);
    const finalLayouts = layoutsOfRaw(raw.files);
    const wrong = compareSnapshots([{ label: 'pre-sync', source: 'snapshot', at: 'x:1', files: finalLayouts }], truth.snapshots, BLOCK_SIZE);
    expect(wrong.match).toBe(false);
    expect(wrong.differences).toContain('snapshot "pre-sync": d-large: blocks 0..767: sim data, kernel delalloc');
    const rawSnapshot = (raw as unknown as { snapshots: { files: Record<string, RawFile> }[] }).snapshots[0]!;
    const right = compareSnapshots(
      [{ label: 'pre-sync', source: 'snapshot', at: 'x:9', files: layoutsOfRaw(rawSnapshot.files) }],
      truth.snapshots,
      BLOCK_SIZE,
    );
    expect(right).toMatchObject({ match: true, differences: [] });
    const renamed = compareSnapshots([{ label: 'presync', source: 'snapshot', at: 'x:9', files: [] }], truth.snapshots, BLOCK_SIZE);
    expect(renamed.differences).toEqual(['snapshot "pre-sync": missing in sim', 'snapshot "presync": extra in sim']);
    expect(renamed.match).toBe(false);
  });
});

describe('failing lines', () => {
  const { truth } = rawTruth('ext4', '19-reflink-cow-buffered');
  const at = (line: number): string => `19-reflink-cow-buffered.xio:${line}`;
  const opError = (line: number, errno = 'EOPNOTSUPP') => ({
    at: at(line),
    op: 'reflink',
    errno,
    message: 'XFS_IOC_CLONE_RANGE: Operation not supported',
  });

  test('the truth lists lines 9 and 11', () => {
    expect(truth.errors.map((error) => error.line)).toEqual([9, 11]);
  });

  test('the same lines, several errors on one line: match', () => {
    const comparison = compareErrorLines([opError(9), opError(11), opError(11)], truth.errors);
    expect(comparison).toMatchObject({ match: true, simLines: [9, 11], kernelLines: [9, 11], differences: [], notes: [] });
  });

  test('a line the sim did not fail, and one only the sim failed', () => {
    const comparison = compareErrorLines([opError(9), opError(12, 'EINVAL')], truth.errors);
    expect(comparison.match).toBe(false);
    expect(comparison.differences).toEqual([
      'line 11: kernel failed (XFS_IOC_CLONE_RANGE: Operation not supported), sim succeeded',
      'line 12: sim failed (EINVAL: XFS_IOC_CLONE_RANGE: Operation not supported), kernel succeeded',
    ]);
  });

  test('the same line with another errno is a note, not a mismatch', () => {
    const comparison = compareErrorLines([opError(9, 'EINVAL'), opError(11)], truth.errors);
    expect(comparison.match).toBe(true);
    expect(comparison.notes).toEqual([
      'line 9: sim failed with EINVAL, kernel with "XFS_IOC_CLONE_RANGE: Operation not supported"',
    ]);
  });

  test('line numbers are read from "file:line" and "file:line:col"', () => {
    expect(lineOfErrorAt('a.xio:12')).toBe(12);
    expect(lineOfErrorAt('dir/a.xio:12:5')).toBe(12);
    expect(lineOfErrorAt('a.xio')).toBeNull();
    const comparison = compareErrorLines([{ ...opError(9), at: 'nowhere' }, opError(9), opError(11)], truth.errors);
    expect(comparison.match).toBe(false);
    expect(comparison.differences[0]).toMatch(/^sim error without a line number at "nowhere"/);
  });

  test('compareCase needs layout, lines and snapshots all to match', () => {
    const { raw } = rawTruth('ext4', '19-reflink-cow-buffered');
    const files = layoutsOfRaw(raw.files);
    const good = compareCase(resultOf(truth, files, { errors: [opError(9), opError(11)] }), truth);
    expect(good).toMatchObject({ matches: true, differences: [], case: '19-reflink-cow-buffered', fs: 'ext4' });
    const noErrors = compareCase(resultOf(truth, files), truth);
    expect(noErrors.matches).toBe(false);
    expect(noErrors.layout.logicalMatch).toBe(true);
    expect(noErrors.differences).toHaveLength(2);
    const extraSnapshot = compareCase(
      resultOf(truth, files, { errors: [opError(9), opError(11)], snapshots: [{ label: 's', source: 'snapshot', at: 'x:1', files }] }),
      truth,
    );
    expect(extraSnapshot.matches).toBe(false);
    expect(extraSnapshot.differences).toEqual(['snapshot "s": extra in sim']);
  });
});

describe('exactness and scale', () => {
  function truthOf(extents: object[], size: number): TruthCase {
    return parseTruth(
      {
        format: 'iomapsim-oracle/1',
        case: 'synthetic',
        fs: 'ext4',
        block_size: BLOCK_SIZE,
        files: { f: { size, extent_count: extents.filter((e) => !(e as { hole: boolean }).hole).length, extents } },
        files_after_remount: {},
        errors: [],
        snapshots: [],
      },
      'synthetic.json',
    );
  }
  const row = (hole: boolean, start512: number, length512: number, physical512: number | null, flags: string[] = []) => ({
    hole,
    logical_start_512: start512,
    length_512: length512,
    physical_start_512: physical512,
    flag_names: flags,
  });

  test('a truth extent that is not block aligned is compared in bytes', () => {
    const truth = truthOf([row(false, 0, 3, 0, ['not_aligned', 'data_inline', 'last'])], 1500);
    const sim: FileLayout = { path: 'f', ino: 1, size: 1500, allocatedBlocks: 1, extents: [] };
    sim.extents.push({ logical: 0, physical: 0, length: 1, flags: ['inline'] });
    const comparison = compareLayouts([sim], truth.files, BLOCK_SIZE);
    expect(comparison.differences).toEqual(['f: bytes 1536..4095: sim inline, kernel hole']);
  });

  test('huge sparse offsets are walked as runs, not blocks', () => {
    const farBlock = 2 ** 40;
    const rows = [row(true, 0, farBlock * 8, null), row(false, farBlock * 8, 8, 808, ['last'])];
    const truth = truthOf(rows, (farBlock + 1) * BLOCK_SIZE);
    const sim: FileLayout = {
      path: 'f',
      ino: 1,
      size: (farBlock + 1) * BLOCK_SIZE,
      allocatedBlocks: 2,
      extents: [
        { logical: 5, physical: 7, length: 1, flags: [] },
        { logical: farBlock, physical: 100, length: 1, flags: [] },
      ],
    };
    const comparison = compareLayouts([sim], truth.files, BLOCK_SIZE);
    expect(comparison.differences).toEqual(['f: block 5: sim data, kernel hole']);
    expect(comparison.physicalDifferences).toEqual(['f: block 1099511627776: physical sim 100, kernel 101']);
    expect(comparison.physicalExact).toBe(false);
    expect(comparison.files[0]).toMatchObject({ logicalMatch: false, physicalBreaksSim: 1 });
  });

  test('agrees with a per-block model on random layouts (fast-check, seed 20240611)', () => {
    const states = ['hole', 'data', 'unwritten', 'delalloc'] as const;
    const layoutArbitrary = fc.array(fc.constantFrom(...states), { minLength: 0, maxLength: 48 });
    fc.assert(
      fc.property(layoutArbitrary, layoutArbitrary, (simBlocks, kernelBlocks) => {
        const truth = truthOf(rowsOfBlocks(kernelBlocks), kernelBlocks.length * BLOCK_SIZE);
        const size = kernelBlocks.length * BLOCK_SIZE;
        const sim: FileLayout = { path: 'f', ino: 1, size, allocatedBlocks: 0, extents: extentsOfBlocks(simBlocks) };
        const comparison = compareLayouts([sim], truth.files, BLOCK_SIZE);
        const length = Math.max(simBlocks.length, kernelBlocks.length);
        let differingRanges = 0;
        for (let block = 0; block < length; block++) {
          const simState = simBlocks[block] ?? 'hole';
          const kernelState = kernelBlocks[block] ?? 'hole';
          const previousDiffers = block > 0 && (simBlocks[block - 1] ?? 'hole') !== (kernelBlocks[block - 1] ?? 'hole');
          const samePair =
            block > 0 &&
            (simBlocks[block - 1] ?? 'hole') === simState &&
            (kernelBlocks[block - 1] ?? 'hole') === kernelState;
          if (simState !== kernelState && !(previousDiffers && samePair)) differingRanges += 1;
        }
        expect(comparison.logicalMatch).toBe(differingRanges === 0);
        expect(comparison.files[0]!.differenceCount).toBe(differingRanges);
      }),
      { seed: 20240611, numRuns: 400 },
    );
  });

  /** One extent per block (so runs of equal state are split, as FIEMAP may report them); physical = block. */
  function extentsOfBlocks(blocks: readonly string[]): ExtentRecord[] {
    return blocks.flatMap((state, block) => {
      if (state === 'hole') return [];
      return [{ logical: block, physical: state === 'delalloc' ? 0 : block, length: 1, flags: simFlagsOf([state]) }];
    });
  }
  function rowsOfBlocks(blocks: readonly string[]): object[] {
    return blocks.map((state, block) => {
      if (state === 'hole') return row(true, block * 8, 8, null);
      if (state === 'delalloc') return row(false, block * 8, 8, 0, ['unknown', 'delalloc']);
      return row(false, block * 8, 8, block * 8, state === 'data' ? [] : [state]);
    });
  }
});

describe('truth reader errors', () => {
  const valid = () => JSON.parse(readFileSync(truthPath('ext4', '01-seq-write-1536k-fsync'), 'utf8'));

  test('a foreign format is refused with the field named', () => {
    const json = { ...valid(), format: 'other/2' };
    expect(() => parseTruth(json, 't.json')).toThrow(TraceError);
    expect(() => parseTruth(json, 't.json')).toThrow('t.json: format is "other/2" (expected "iomapsim-oracle/1")');
  });

  test('a missing extent field names its path', () => {
    const json = valid();
    delete json.files['data.bin'].extents[0].length_512;
    expect(() => parseTruth(json, 't.json')).toThrow('t.json: files["data.bin"].extents[0].length_512 is not a number');
  });

  test('an extent_count that disagrees with the rows', () => {
    const json = valid();
    json.files['data.bin'].extent_count = 2;
    expect(() => parseTruth(json, 't.json')).toThrow(/extent_count is 2 but the file has 1 non-hole extents/);
  });

  test('a missing file is one line naming the path', () => {
    expect(() => loadTruth('/nonexistent/x.json')).toThrow(/^\/nonexistent\/x\.json: cannot read truth file/);
  });
});

describe('compareCase after remount', () => {
  test('XFS 06 keeps post-EOF preallocation until the remount: the after-remount layout is compared when recorded', () => {
    const { truth } = rawTruth('xfs', '06-append-reopen-12k');
    const rawAll = JSON.parse(readFileSync(truthPath('xfs', '06-append-reopen-12k'), 'utf8')) as {
      files: Record<string, RawFile>;
      files_after_remount: Record<string, RawFile>;
    };
    const final = layoutsOfRaw(rawAll.files);
    const afterRemount = layoutsOfRaw(rawAll.files_after_remount);
    // Without a recorded remount the case is judged on its final layout only.
    expect(compareCase(resultOf(truth, final), truth).afterRemount).toBeUndefined();
    // A sim that kept the preallocation after the remount is caught.
    const kept = compareCase(resultOf(truth, final, { filesAfterRemount: final }), truth);
    expect(kept.matches).toBe(false);
    expect(kept.differences.some((difference) => difference.startsWith('after remount: '))).toBe(true);
    // The kernel's own after-remount layout matches.
    const right = compareCase(resultOf(truth, final, { filesAfterRemount: afterRemount }), truth);
    expect(right.afterRemount?.differences).toEqual([]);
    expect(right.matches).toBe(true);
  });
});
