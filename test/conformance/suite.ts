/**
 * The conformance suite for one policy: replay every corpus case through the
 * engine and compare with the kernel's truth for the same filesystem.
 *
 * Asserted per case (unless the case is a known gap): file set, sizes,
 * logical layout (hole / data / unwritten / delalloc / inline per block),
 * shared flags, failing lines and `@snapshot` layouts. Extent counts and
 * physical placement are reported only (see docs/conformance.md).
 *
 * A known gap (known-gaps.json) must still differ: when it starts matching,
 * its test fails and asks for the entry to be removed, so the list cannot go stale.
 *
 * A policy whose recordings never varied between runs (XFS, btrfs: see
 * ../shared/conformance/determinism*.json) also has a `"<policy>:physical"`
 * entry: then physical placement is asserted too, except for the cases listed
 * there (which must still differ physically).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { replay } from '../../src/replay/replay.js';
import type { ReplayResult } from '../../src/report/model.js';
import { compareCase, loadTruth, type CaseComparison } from '../../src/report/conformance.js';
import { readStrace } from '../../src/trace/strace.js';
import { readXio } from '../../src/trace/xio.js';
import { listCases, readKnownGaps, truthPath, type CorpusCase } from './corpus.js';

export const BLOCK_SIZE = 4096;
export const DEVICE_SIZE = 1 << 30;
/** The mount point of the recording runs, as the strace captures show it (stripped by the replay). */
export const STRACE_ROOT = '/mnt/oracle';

/** The strace log a real-program case recorded on `policy`'s filesystem. */
export function straceCapturePath(corpusCase: CorpusCase, policy: string): string {
  return join(dirname(corpusCase.xioPath), 'captured', policy, 'trace.strace');
}

/**
 * Replays one case with the corpus geometry and compares it with the truth of
 * `policy`: xio cases from their script, real-program cases from the strace
 * log recorded on that filesystem (root /mnt/oracle).
 */
export async function replayAndCompare(policy: string, corpusCase: CorpusCase): Promise<CaseComparison> {
  const truth = loadTruth(truthPath(policy, corpusCase.name));
  const capture = straceCapturePath(corpusCase, policy);
  if (corpusCase.needsStrace && !existsSync(capture)) throw new Error(`${corpusCase.name}: no strace capture at ${capture}`);
  const ops = corpusCase.needsStrace ? readStrace(capture, `${corpusCase.name}/captured/${policy}/trace.strace`) : readXio(corpusCase.xioPath);
  const outcome = await replay(ops, {
    policy,
    blockSize: BLOCK_SIZE,
    deviceSize: DEVICE_SIZE,
    seed: 1,
    traceName: corpusCase.needsStrace ? `${corpusCase.name}.strace` : `${corpusCase.name}.xio`,
    finalSync: true,
    remountAfter: true,
    deterministic: true,
    ...(corpusCase.needsStrace ? { root: STRACE_ROOT } : {}),
  });
  return compareCase(corpusCase.needsStrace ? withoutReproducedFailures(outcome.result) : outcome.result, truth);
}

/**
 * A strace replay's op errors name lines of the strace log, not of the case
 * file, and a call that failed in the trace and fails the same way in the
 * sim is a faithful replay: only the other errors are kept for comparison.
 */
export function withoutReproducedFailures(result: ReplayResult): ReplayResult {
  const reproduced = new Set(
    result.tracedFailures.filter((failure) => failure.simErrno === failure.tracedErrno).map((failure) => `${failure.at} ${failure.tracedErrno}`),
  );
  return { ...result, errors: result.errors.filter((error) => !reproduced.has(`${error.at} ${error.errno}`)) };
}

function describeMismatch(comparison: CaseComparison): string {
  return [`${comparison.case} differs from the kernel's ${comparison.fs} layout:`, ...comparison.differences].join('\n  ');
}

/** One line per case: what is reported but not asserted. */
function reportLine(comparison: CaseComparison): string {
  const { layout } = comparison;
  const extents = `extents sim/kernel ${layout.extentCountSim}/${layout.extentCountKernel}`;
  const physical = layout.physicalExact
    ? 'physically exact'
    : `not physically exact: ${layout.physicalDifferences[0] ?? 'the logical layout differs'}`;
  return `${comparison.case}: ${comparison.matches ? 'match' : 'MISMATCH'}; ${extents}; ${physical}`;
}

/** Placement asserted: exact unless `physicalGap` explains why not (and then it must still differ). */
function expectPhysical(comparison: CaseComparison, physicalGap: string | undefined): void {
  const { layout } = comparison;
  if (physicalGap === undefined && !layout.physicalExact) {
    throw new Error(`${comparison.case} is not physically exact on ${comparison.fs}: ${layout.physicalDifferences.slice(0, 3).join('; ')}`);
  }
  if (physicalGap !== undefined && layout.physicalExact) {
    throw new Error(`${comparison.case} is now physically exact on ${comparison.fs}: remove it from "${comparison.fs}:physical" in test/conformance/known-gaps.json`);
  }
}

/** Defines the jest tests of one policy (call at the top level of a test file). */
export function defineConformanceSuite(policy: string): void {
  const cases = listCases();
  const gaps = readKnownGaps()[policy] ?? {};
  const physicalGaps = readKnownGaps()[`${policy}:physical`];
  const reported: string[] = [];

  describe(`conformance: ${policy} against the kernel`, () => {
    test('known-gaps.json names only cases of the corpus', () => {
      const names = new Set(cases.map((corpusCase) => corpusCase.name));
      expect(Object.keys(gaps).filter((name) => !names.has(name))).toEqual([]);
      expect(Object.keys(physicalGaps ?? {}).filter((name) => !names.has(name))).toEqual([]);
    });

    afterAll(() => {
      if (reported.length > 0) console.info(`${policy} conformance (reported, not asserted):\n${reported.join('\n')}`);
    });

    for (const corpusCase of cases) {
      const gap = gaps[corpusCase.name];
      const title = gap === undefined ? 'matches the kernel' : `known gap still differs (${gap})`;
      test(`${corpusCase.name}: ${title}`, async () => {
        let comparison: CaseComparison;
        try {
          comparison = await replayAndCompare(policy, corpusCase);
        } catch (error) {
          // A known gap may be one the engine cannot replay yet; anything else must replay.
          if (gap === undefined) throw error;
          reported.push(`${corpusCase.name}: replay failed: ${(error as Error).message.split('\n')[0]}`);
          return;
        }
        reported.push(reportLine(comparison));
        if (gap === undefined && !comparison.matches) throw new Error(describeMismatch(comparison));
        if (physicalGaps !== undefined && gap === undefined) expectPhysical(comparison, physicalGaps[corpusCase.name]);
        if (gap !== undefined && comparison.matches) {
          throw new Error(
            `${corpusCase.name} now matches the kernel's ${policy} layout: remove it from test/conformance/known-gaps.json`,
          );
        }
      });
    }
  });
}
