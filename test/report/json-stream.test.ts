/**
 * The streamed JSON writers (writeJson, writeInspectJson) print exactly what
 * JSON.stringify(tree, null, 2) prints for the same tree, in pieces, with
 * extents written straight from their records.
 */
import { replayResultJson, toInspectJson, toJson, writeJson } from '../../src/report/json.js';
import type { ExtentRecord, FileLayout, ReplayResult } from '../../src/report/model.js';

function extents(count: number): ExtentRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    logical: index * 2,
    physical: 1000 + index * 3,
    length: 1 + (index % 3),
    flags: index === count - 1 ? ['shared', 'unwritten', 'last'] : index % 2 === 0 ? [] : ['unwritten'],
  }));
}

const files: FileLayout[] = [
  { path: 'a', ino: 12, size: 100, allocatedBlocks: 1, extents: extents(3), io: { deviceBytesWritten: 4096, cowBlocks: 0 } },
  { path: 'empty', ino: 13, size: 0, allocatedBlocks: 0, extents: [] },
  { path: 'big', ino: 14, size: 1 << 30, allocatedBlocks: 9, extents: extents(40000) },
];

const result: ReplayResult = {
  schemaVersion: 1, tool: 'iomapsim', trace: 't.xio', policy: 'xfs', blockSize: 4096, deviceSize: 1 << 30, seed: 1,
  files,
  filesAfterRemount: [files[0]!],
  dirs: ['d'],
  snapshots: [{ label: 's', source: 'snapshot', at: 't.xio:3', files: [files[1]!, files[0]!] }],
  errors: [], tracedFailures: [],
  stats: { ops: { write: 1 }, opsTotal: 1, opsFailed: 0, opsIgnored: {}, assumed: {}, bytesWritten: 1, bytesRead: 0, deviceBytesWritten: 4096, deviceBytesRead: 0, files: 3, extents: 3, blocksAllocated: 1, blocksFree: 5 },
};

test('replay JSON: streamed text equals JSON.stringify of the object tree; several chunks for a big file', () => {
  const expected = `${JSON.stringify(replayResultJson(result), null, 2)}\n`;
  expect(toJson(result)).toBe(expected);
  const chunks: string[] = [];
  writeJson(result, (chunk) => chunks.push(chunk));
  expect(chunks.length).toBeGreaterThan(4);
  expect(chunks.join('')).toBe(expected);
  const parsed = JSON.parse(expected) as { files: { extents: { flags: string[] }[] }[] };
  expect(parsed.files[0]!.extents[2]!.flags).toEqual(['last', 'unwritten', 'shared']);
});

test('inspect JSON: the same for files of an image', () => {
  const summary = {
    formatVersion: '1.1', generation: 1, policy: 'xfs', policyParams: {}, blockSize: 4096, deviceSize: 1 << 30, deviceBlocks: 262144, seed: 1,
    trace: 't', opsApplied: 1, files: 3, dirs: 0, extents: 3, blocksUsed: 1, blocksReserved: 1, blocksFree: 1, freeExtents: 1, largestFreeExtent: 1,
  };
  const text = toInspectJson({ image: 'x.img', warnings: [], summary: summary as never, files: files.map(({ io: _io, ...file }) => file) });
  const parsed = JSON.parse(text) as { files: { extents: unknown[] }[] };
  expect(parsed.files.map((file) => file.extents.length)).toEqual([3, 0, 40000]);
  expect(text).toContain('"extents": []\n    },');
  expect(text).toMatch(/\n {6}"extents": \[\n {8}\{\n {10}"logical": 0,\n {10}"physical": 1000,\n {10}"length": 1,\n {10}"flags": \[\]\n {8}\},/);
});
