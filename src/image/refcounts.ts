/**
 * Reference counts of shared device blocks, derived from the file extents an
 * image records (the XFS refcount btree's view: how many extents map a block).
 */
import type { PersistedInode, RefcountRun } from './types.js';

/**
 * Reference counts of device blocks that more than one on-disk extent maps
 * (reflinks, btrfs extents referenced by several items): runs of equal count
 * >= 2, sorted. Blocks mapped once are absent. O(extents log extents).
 */
export function sharedRefcounts(inodes: readonly PersistedInode[]): RefcountRun[] {
  const events: [number, number][] = [];
  for (const inode of inodes) {
    for (const extent of inode.extents) events.push([extent.physical, 1], [extent.physical + extent.length, -1]);
  }
  events.sort((a, b) => a[0] - b[0]);
  const runs: RefcountRun[] = [];
  let depth = 0;
  let index = 0;
  while (index < events.length) {
    const at = events[index]![0];
    while (index < events.length && events[index]![0] === at) depth += events[index++]![1];
    const next = index < events.length ? events[index]![0] : at;
    if (depth < 2 || next === at) continue;
    const last = runs[runs.length - 1];
    if (last && last.refcount === depth && last.start + last.length === at) last.length += next - at;
    else runs.push({ start: at, length: next - at, refcount: depth });
  }
  return runs;
}
