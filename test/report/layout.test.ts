import { describe, expect, test } from '@jest/globals';
import type { PersistedInode } from '../../src/image/types.js';
import { layoutFromPersisted, layoutsFromPersisted } from '../../src/report/layout.js';
import { renderFileLayout } from '../../src/report/text.js';
import { InvariantError } from '../../src/util/assert.js';
import { ext4FragLayout } from './fixtures.js';

function inode(path: string, extents: PersistedInode['extents'], size = 4202496, kind: PersistedInode['kind'] = 'file'): PersistedInode {
  return { ino: 12, path, kind, size, extents, content: [] };
}

const fragExtents: PersistedInode['extents'] = [
  { logical: 0, physical: 39424, length: 16, unwritten: false },
  { logical: 64, physical: 39488, length: 32, unwritten: false },
  { logical: 256, physical: 33024, length: 1, unwritten: false },
  { logical: 257, physical: 33025, length: 63, unwritten: true },
  { logical: 1024, physical: 39936, length: 2, unwritten: false },
];

describe('layoutFromPersisted', () => {
  test('gives the same layout (and filefrag text) replay would print', () => {
    const layout = layoutFromPersisted(inode('/mnt/iom_ext4/layout/frag.bin', fragExtents), 4096);
    expect(layout).toEqual(ext4FragLayout());
    expect(renderFileLayout(layout, 4096)).toBe(renderFileLayout(ext4FragLayout(), 4096));
  });

  test('sorts extents by logical block and flags only the final one last', () => {
    const layout = layoutFromPersisted(inode('f', [...fragExtents].reverse()), 4096);
    expect(layout.extents.map((extent) => extent.logical)).toEqual([0, 64, 256, 257, 1024]);
    expect(layout.extents.filter((extent) => extent.flags.includes('last'))).toHaveLength(1);
    expect(layout.extents[4]!.flags).toEqual(['last']);
  });

  test('shared when a block has a refcount above one', () => {
    const layout = layoutFromPersisted(inode('f', fragExtents), 4096, [
      // Sorted and disjoint, as metadataProblem requires of an image's refcounts.
      { start: 33024, length: 1, refcount: 1 },
      { start: 39430, length: 2, refcount: 2 },
    ]);
    expect(layout.extents[0]!.flags).toEqual(['shared']);
    expect(layout.extents[2]!.flags).toEqual([]);
  });

  test('overlapping or empty persisted extents are invariant violations', () => {
    const overlap = [
      { logical: 0, physical: 10, length: 4, unwritten: false },
      { logical: 2, physical: 20, length: 4, unwritten: false },
    ];
    expect(() => layoutFromPersisted(inode('f', overlap), 4096)).toThrow(InvariantError);
    expect(() => layoutFromPersisted(inode('f', [{ logical: 0, physical: 1, length: 0, unwritten: false }]), 4096)).toThrow(InvariantError);
  });

  test('a file without extents has an empty layout', () => {
    expect(layoutFromPersisted(inode('e', [], 0), 4096)).toEqual({ path: 'e', ino: 12, size: 0, allocatedBlocks: 0, extents: [] });
  });
});

test('layoutsFromPersisted skips directories and sorts by path', () => {
  const layouts = layoutsFromPersisted([inode('b', fragExtents), inode('dir', [], 4096, 'dir'), inode('a', [], 0)], 4096);
  expect(layouts.map((layout) => layout.path)).toEqual(['a', 'b']);
});
