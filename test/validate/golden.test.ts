/**
 * The simulator against layouts the real kernel produced (test/golden/kernel,
 * written by `sudo iomapsim record`): every golden whose filesystem has a
 * registered policy is replayed with the golden's geometry, format and root,
 * and its file set, sizes, logical layout (hole / data / unwritten / delalloc
 * / inline / shared per block) and snapshots must match. Physical placement
 * and extent counts are reported, not asserted (docs/fidelity.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from '@jest/globals';
import { listPolicies } from '../../src/fs/registry.js';
import { replay } from '../../src/replay/replay.js';
import type { ReplayResult } from '../../src/report/model.js';
import { openTrace } from '../../src/trace/detect.js';
import type { TraceFormat } from '../../src/trace/types.js';
import { compareWithGolden } from '../../src/validate/compare.js';
import { notImplementedReason } from '../../src/validate/validate.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const goldenDir = fileURLToPath(new URL('../golden/kernel/', import.meta.url));

interface Golden extends ReplayResult {
  format: TraceFormat;
  root?: string;
  kernel: { release: string };
}

const goldens = readdirSync(goldenDir)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => ({ name, golden: JSON.parse(readFileSync(goldenDir + name, 'utf8')) as Golden }));
const registered = listPolicies();
/**
 * Known simulator gaps per golden and part ('snapshots'): the part must still differ
 * (when it starts matching, the test asks for the entry to be removed).
 */
const knownGaps = JSON.parse(readFileSync(new URL('./known-gaps.json', import.meta.url), 'utf8')) as Record<string, Record<string, string>>;
const physicalReport: string[] = [];

async function replayLikeGolden(golden: Golden): Promise<ReplayResult> {
  const opened = await openTrace(repoRoot + golden.trace, { format: golden.format, displayName: golden.trace });
  const options = { policy: golden.policy, blockSize: golden.blockSize, deviceSize: golden.deviceSize, seed: 1, traceName: golden.trace, finalSync: true, deterministic: true };
  return (await replay(opened.ops, golden.root === undefined ? options : { ...options, root: golden.root })).result;
}

test('there are kernel goldens for every filesystem', () => {
  expect(new Set(goldens.map(({ golden }) => golden.policy))).toEqual(new Set(['ext4', 'xfs', 'btrfs']));
  for (const { golden } of goldens) expect(golden.tool).toBe('iomapsim record');
});

function expectPart(name: string, part: string, differences: readonly string[]): void {
  const gap = knownGaps[name]?.[part];
  if (gap === undefined) {
    expect(differences).toEqual([]);
    return;
  }
  if (differences.length === 0) throw new Error(`${name}: ${part} now match the kernel: remove the entry from test/validate/known-gaps.json`);
  physicalReport.push(`${name}: known gap (${part}): ${differences[0]}`);
}

describe.each(goldens)('$name', ({ name, golden }) => {
  if (!registered.includes(golden.policy)) {
    test.skip(`${golden.policy}: ${notImplementedReason(golden.policy)}`, () => undefined);
    return;
  }
  test(`${golden.trace} on ${golden.policy} (kernel ${golden.kernel.release}): logical layout and sizes`, async () => {
    const result = await replayLikeGolden(golden);
    const comparison = compareWithGolden(result, golden);
    expect(comparison.layout.differences).toEqual([]);
    expect(comparison.layout.fileSetMatch).toBe(true);
    expect(comparison.layout.sizeMatch).toBe(true);
    expect(comparison.layout.logicalMatch).toBe(true);
    expect(comparison.layout.sharedMatch).toBe(true);
    expectPart(name, 'snapshots', comparison.snapshots.differences);
    expect(comparison.errors.differences).toEqual([]);
    const score = comparison.score;
    physicalReport.push(
      `${golden.trace} ${golden.policy}: extent counts ${score.filesExtentCountEqual}/${score.files}, physically exact ${score.filesPhysicalExact}/${score.files}` +
        (comparison.layout.physicalDifferences.length > 0 ? ` (${comparison.layout.physicalDifferences[0]})` : ''),
    );
  });
});

afterAll(() => {
  if (physicalReport.length > 0) console.info(`physical placement and known gaps against the kernel goldens (reported, not asserted):\n  ${physicalReport.join('\n  ')}`);
});
