/**
 * A dataless run (replay --no-image: no payload, shared page buffers, no
 * content maps) gives exactly the layouts, counters and errors of a run with data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NullDevice } from '../../src/device/blockdev.js';
import { replay } from '../../src/replay/replay.js';
import { toJson } from '../../src/report/json.js';
import { readXio } from '../../src/trace/xio.js';
import { CORPUS_DIR } from '../conformance/corpus.js';

const casesDir = path.join(CORPUS_DIR, 'cases');
const cases = fs.readdirSync(casesDir).filter((name) => name.endsWith('.xio')).sort();

test.each(cases)('%s: dataless and with data agree', async (name) => {
  const base = { policy: 'ext4', blockSize: 4096, deviceSize: 1 << 30, seed: 3, traceName: name, finalSync: true, deterministic: true };
  const withData = await replay(readXio(path.join(casesDir, name)), base);
  const dataless = await replay(readXio(path.join(casesDir, name)), { ...base, dataless: true, device: new NullDevice(1 << 30) });
  expect(toJson(dataless.result)).toBe(toJson(withData.result));
  // Nothing about content is kept without data.
  expect(dataless.metadata.inodes.every((inode) => inode.content.length === 0)).toBe(true);
});
