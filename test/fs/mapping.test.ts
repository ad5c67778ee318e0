/** The mapping helpers the policies share (src/fs/mapping.ts). */
import { ExtentMap, ExtentState } from '../../src/extent/extentmap.js';
import { convertUnwrittenRange, extentIomap, holeIomap } from '../../src/fs/mapping.js';
import { IOMAP_NULL_ADDR, IomapType } from '../../src/iomap/types.js';

const limits = { maxWritten: 100, maxUnwritten: 100, maxDelalloc: 1000 };

test('extentIomap: type by state, bytes from blocks, no address for delalloc', () => {
  expect(extentIomap({ startBlock: 2, blockCount: 3, physBlock: 10, state: ExtentState.Unwritten }, 4096, 1)).toEqual({ offset: 8192, length: 12288, addr: 40960, type: IomapType.Unwritten, flags: 1 });
  expect(extentIomap({ startBlock: 0, blockCount: 1, physBlock: -1, state: ExtentState.Delalloc }, 4096)).toMatchObject({ type: IomapType.Delalloc, addr: IOMAP_NULL_ADDR });
});

test('holeIomap: to the next extent, or to the maximum file size; at least one block', () => {
  expect(holeIomap(4, 9, 1024, 1 << 20)).toMatchObject({ offset: 4096, length: 5120, type: IomapType.Hole });
  expect(holeIomap(4, Infinity, 1024, 1 << 20)).toMatchObject({ offset: 4096, length: (1 << 20) - 4096 });
  expect(holeIomap(4, 4, 1024, 1 << 20).length).toBe(1024);
});

test('convertUnwrittenRange: unwritten extents the byte range touches become written; others stay', () => {
  const map = new ExtentMap(limits);
  map.insert(0, 4, 100, ExtentState.Unwritten);
  map.insert(4, 4, 200, ExtentState.Written);
  map.insert(10, 4, 300, ExtentState.Unwritten);
  // Bytes 1000..4999 of 1 KiB blocks touch blocks 0..4: the first extent converts, the third is untouched.
  expect(convertUnwrittenRange(map, 1024, 1000, 4000)).toBe(1);
  expect([...map.all()].map((extent) => [extent.startBlock, extent.state])).toEqual([[0, ExtentState.Written], [4, ExtentState.Written], [10, ExtentState.Unwritten]]);
});
