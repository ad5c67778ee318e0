/**
 * The real-program cases of the corpus replayed from their strace captures
 * (the comparison with the kernel's layout is in the policy suites,
 * suite.ts): here, that the replay is faithful to the trace itself: no op
 * fails in the sim, no traced failure is left unreproduced, and the reader
 * understood every fd the programs used inside the mount.
 */
import { replay } from '../../src/replay/replay.js';
import { readStrace } from '../../src/trace/strace.js';
import { listCases } from './corpus.js';
import { BLOCK_SIZE, DEVICE_SIZE, STRACE_ROOT, straceCapturePath } from './suite.js';

const straceCases = listCases().filter((corpusCase) => corpusCase.needsStrace);

test('the corpus has the three real-program cases', () => {
  expect(straceCases.map((corpusCase) => corpusCase.name)).toEqual(['27-unzip-extract', '28-sqlite-vacuum', '29-dd-sparse']);
});

describe.each(straceCases)('$name captured on ext4', (corpusCase) => {
  const path = straceCapturePath(corpusCase, 'ext4');

  test('every op inside /mnt/oracle replays without an error, and nothing traced as failed', async () => {
    const outcome = await replay(readStrace(path, 'trace.strace'), {
      policy: 'ext4',
      blockSize: BLOCK_SIZE,
      deviceSize: DEVICE_SIZE,
      seed: 1,
      traceName: corpusCase.name,
      root: STRACE_ROOT,
      finalSync: true,
      deterministic: true,
    });
    expect(outcome.result.errors).toEqual([]);
    expect(outcome.result.tracedFailures).toEqual([]);
    expect(outcome.result.files.length).toBeGreaterThan(0);
    expect(outcome.result.stats.opsIgnored['outside-root']).toBeGreaterThan(0);
  });

  test('no fd of the trace is unknown to the reader, no call is left unfinished', async () => {
    const reasons = new Set<string>();
    for await (const op of readStrace(path)) if (op.kind === 'ignored') reasons.add(op.reason);
    for (const reason of ['unknown-fd', 'orphan-resumed', 'unfinished', 'unsupported', 'interrupted']) expect(reasons).not.toContain(reason);
  });

  test('the captures on xfs and btrfs give the same op sequence on files inside the mount', async () => {
    const summary = async (fs: string): Promise<string[]> => {
      const lines: string[] = [];
      for await (const op of readStrace(straceCapturePath(corpusCase, fs))) {
        if (op.kind === 'open' && op.path.startsWith(`${STRACE_ROOT}/`)) lines.push(`open ${op.path}`);
        else if (op.kind === 'write' || op.kind === 'truncate' || op.kind === 'mkdir' || op.kind === 'unlink') lines.push(op.kind);
      }
      return lines;
    };
    const ext4 = await summary('ext4');
    expect(ext4.length).toBeGreaterThan(0);
    expect(await summary('xfs')).toEqual(ext4);
    expect(await summary('btrfs')).toEqual(ext4);
  });
});
