/**
 * Every image a replay of the conformance corpus produces verifies: the data
 * blocks under each written extent hold what the payload rule says, with a
 * final sync (the whole file) and without one (the on-disk state a crash
 * leaves), and the replay's free-space figure equals the image's; on every
 * policy (btrfs inline files round-trip through the checkpoint's inline section,
 * reflinked blocks through its refcounts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageFile, summarizeImage, verifyImage } from '../../src/image/index.js';
import { replay } from '../../src/replay/replay.js';
import { readXio } from '../../src/trace/xio.js';
import { readCsv } from '../../src/trace/csv.js';
import { CORPUS_DIR, REPO_DIR } from '../conformance/corpus.js';

const casesDir = path.join(CORPUS_DIR, 'cases');
const cases = fs.readdirSync(casesDir).filter((name) => name.endsWith('.xio')).sort();

let tempDir: string;
beforeAll(() => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomapsim-verify-'));
});
afterAll(() => {
  fs.rmSync(tempDir, { recursive: true, force: true });
});

async function replayToImage(name: string, ops: AsyncIterable<import('../../src/trace/types.js').TraceOp>, finalSync: boolean, policy = 'ext4') {
  const imagePath = path.join(tempDir, `${name}-${policy}-${finalSync ? 'sync' : 'nosync'}.img`);
  const image = ImageFile.create(imagePath, { blockSize: 4096, deviceSize: 1 << 30, policy, seed: 7 }, { force: true });
  const outcome = await replay(ops, { policy, blockSize: 4096, deviceSize: 1 << 30, seed: 7, traceName: name, finalSync, deterministic: true, device: image });
  image.commit(outcome.metadata);
  image.close();
  const reopened = ImageFile.open(imagePath);
  const meta = reopened.readMetadata();
  const report = verifyImage(reopened, meta);
  const summary = summarizeImage(reopened, meta);
  reopened.close();
  fs.rmSync(imagePath);
  return { outcome, report, summary };
}

const rows = ['ext4', 'xfs', 'btrfs'].flatMap((policy) => cases.map((name) => [policy, name] as const));

describe('inspect --verify passes on every image a replay produces', () => {
  test.each(rows)('%s %s, with the final sync', async (policy, name) => {
    const { outcome, report, summary } = await replayToImage(name, readXio(path.join(casesDir, name)), true, policy);
    expect(report.mismatches).toEqual([]);
    expect(report.ok).toBe(true);
    expect(summary.blocksFree).toBe(outcome.result.stats.blocksFree);
    // After the final sync the image holds every file whole.
    const sizes = Object.fromEntries(outcome.result.files.map((file) => [file.path, file.size]));
    for (const inode of outcome.metadata.inodes.filter((entry) => entry.kind === 'file')) expect(inode.size).toBe(sizes[inode.path]);
  });

  test.each(rows)('%s %s, without the final sync (crash state)', async (policy, name) => {
    const { report } = await replayToImage(name, readXio(path.join(casesDir, name)), false, policy);
    expect(report.mismatches).toEqual([]);
  });

  test('the CSV demo trace', async () => {
    const { report } = await replayToImage('demo-csv', readCsv(path.join(REPO_DIR, 'traces/demo.csv')), true);
    expect(report.ok).toBe(true);
    expect(report.bytesChecked).toBeGreaterThan(0);
  });
});
