/**
 * Refcounts of device blocks mapped more than once, as the image records them
 * (ImageMetadata.refcounts) and inspect/verify read them.
 */
import type { PersistedInode } from '../../src/image/types.js';
import { sharedRefcounts } from '../../src/image/refcounts.js';

describe('sharedRefcounts', () => {
  const file = (ino: number, extents: [number, number, number][]): PersistedInode => ({
    ino, path: `f${ino}`, kind: 'file', size: 0, content: [],
    extents: extents.map(([logical, physical, length]) => ({ logical, physical, length, unwritten: false })),
  });

  test('blocks mapped by two or more extents, as runs of equal count; blocks mapped once are absent', () => {
    const inodes = [file(1, [[0, 100, 10], [20, 200, 4]]), file(2, [[0, 105, 10]]), file(3, [[0, 108, 1]])];
    expect(sharedRefcounts(inodes)).toEqual([
      { start: 105, length: 3, refcount: 2 },
      { start: 108, length: 1, refcount: 3 },
      { start: 109, length: 1, refcount: 2 },
    ]);
  });

  test('two extents of one file over the same blocks count twice (btrfs clones within a file); touching extents do not', () => {
    expect(sharedRefcounts([file(1, [[0, 50, 4], [4, 54, 4], [10, 50, 2]])])).toEqual([{ start: 50, length: 2, refcount: 2 }]);
    expect(sharedRefcounts([file(1, [[0, 50, 4]]), file(2, [[0, 54, 4]])])).toEqual([]);
  });
});
