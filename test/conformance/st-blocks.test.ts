/**
 * st_blocks: every file's allocated blocks (ext4: data, delalloc reservations,
 * extent-tree blocks; XFS: data, post-EOF preallocation, bmbt blocks; btrfs:
 * the items' bytes, inline bytes) equal the kernel's `allocated_bytes` / 4096
 * after the final sync, for every corpus case (xio and strace), on every policy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { replay } from '../../src/replay/replay.js';
import { readStrace } from '../../src/trace/strace.js';
import { readXio } from '../../src/trace/xio.js';
import { corpusPresent, listCases, truthPath } from './corpus.js';
import { straceCapturePath } from './suite.js';

const cases = corpusPresent() ? listCases() : [];

const rows = ['ext4', 'xfs', 'btrfs'].flatMap((policy) => cases.map((corpusCase) => [policy, corpusCase.name, corpusCase] as const));

test.each(rows)('%s %s: allocated blocks per file equal the kernel st_blocks', async (policy, _name, corpusCase) => {
  const truth = JSON.parse(readFileSync(truthPath(policy, corpusCase.name), 'utf8')) as { files: Record<string, { allocated_bytes: number }> };
  const capture = straceCapturePath(corpusCase, policy);
  const ops = corpusCase.needsStrace && existsSync(capture) ? readStrace(capture) : readXio(corpusCase.xioPath);
  const { result } = await replay(ops, {
    policy,
    blockSize: 4096,
    deviceSize: 1 << 30,
    seed: 1,
    traceName: corpusCase.name,
    finalSync: true,
    deterministic: true,
    ...(corpusCase.needsStrace ? { root: '/mnt/oracle' } : {}),
  });
  const sim = Object.fromEntries(result.files.map((file) => [file.path, file.allocatedBlocks]));
  const kernel = Object.fromEntries(Object.entries(truth.files).map(([path, file]) => [path, file.allocated_bytes / 4096]));
  expect(sim).toEqual(kernel);
});
