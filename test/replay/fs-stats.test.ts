/**
 * Filesystem-side counters in a replay's stats: btrfs reports its metadata
 * (tree) writes and computes 4 bytes of crc32c per 4 KiB data sector it
 * writes; ext4 and XFS report neither.
 */
import { replay } from '../../src/replay/replay.js';
import { readXio } from '../../src/trace/xio.js';
import { REPO_DIR } from '../conformance/corpus.js';

async function statsOf(policy: string) {
  const ops = readXio(`${REPO_DIR}/traces/demo.xio`);
  const { result } = await replay(ops, { policy, blockSize: 4096, deviceSize: 1 << 30, seed: 1, traceName: 'demo.xio', finalSync: true, deterministic: true, dataless: true });
  return result.stats;
}

test('btrfs: checksums for every data sector written, and metadata writes', async () => {
  const stats = await statsOf('btrfs');
  expect(stats.deviceBytesWritten % 4096).toBe(0);
  expect(stats.checksumBytes).toBe((stats.deviceBytesWritten / 4096) * 4);
  expect(stats.metadataBytesWritten).toBeGreaterThan(0);
  expect(stats.metadataBytesWritten! % 4096).toBe(0);
});

test.each(['ext4', 'xfs'])('%s: no data checksums', async (policy) => {
  const stats = await statsOf(policy);
  expect(stats.checksumBytes).toBe(0);
  expect(stats.deviceBytesWritten).toBeGreaterThan(0);
});
