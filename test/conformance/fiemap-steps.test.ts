/**
 * `xfs_io -c "fiemap -v"` on a still-open file (cases 05 and 22) writes the file
 * back first (FIEMAP_FLAG_SYNC); the kernel's answer is in the step's stdout.
 * The replay's `fiemap` snapshot must give the same extents, flags and
 * physical blocks, on every filesystem (XFS: written data plus the unwritten
 * post-EOF preallocation). Parsed from xfs_io's table (512-byte units;
 * btrfs prints its logical addresses there).
 */
import { readFileSync } from 'node:fs';
import { replay } from '../../src/replay/replay.js';
import { readXio } from '../../src/trace/xio.js';
import { corpusPresent, listCases, truthPath } from './corpus.js';

interface Row {
  logical: number;
  physical: number;
  length: number;
  unwritten: boolean;
}

/** Rows of `fiemap -v` output (`   0: [0..1151]:  263424..264575  1152   0x1`), holes left out, in 4 KiB blocks. */
function parseFiemap(stdout: string): Row[] {
  const rows: Row[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s*\d+: \[(\d+)\.\.(\d+)\]:\s+(\d+)\.\.(\d+)\s+(\d+)\s+0x([0-9a-f]+)/.exec(line);
    if (!match) continue;
    const flags = parseInt(match[6]!, 16);
    rows.push({ logical: Number(match[1]) / 8, physical: Number(match[3]) / 8, length: Number(match[5]) / 8, unwritten: (flags & 0x800) !== 0 });
  }
  return rows;
}

const cases = corpusPresent() ? listCases().filter((corpusCase) => !corpusCase.needsStrace && readFileSync(corpusCase.xioPath, 'utf8').includes('fiemap')) : [];

const rows = ['ext4', 'xfs', 'btrfs'].flatMap((policy) => cases.map((corpusCase) => [policy, corpusCase.name, corpusCase] as const));

test.each(rows)('%s %s: fiemap of the open file matches the kernel', async (policy, _name, corpusCase) => {
  const truth = JSON.parse(readFileSync(truthPath(policy, corpusCase.name), 'utf8')) as { steps: { text: string; stdout: string }[] };
  const step = truth.steps.find((candidate) => candidate.text.includes('fiemap'))!;
  const kernel = parseFiemap(step.stdout);
  expect(kernel.length).toBeGreaterThan(0);
  const { result } = await replay(readXio(corpusCase.xioPath), { policy, blockSize: 4096, deviceSize: 1 << 30, seed: 1, traceName: corpusCase.name, finalSync: true, deterministic: true });
  const snapshot = result.snapshots.find((candidate) => candidate.source === 'fiemap')!;
  const sim = snapshot.files[0]!.extents.map((extent) => ({ logical: extent.logical, physical: extent.physical, length: extent.length, unwritten: extent.flags.includes('unwritten') }));
  expect(sim).toEqual(kernel);
});
