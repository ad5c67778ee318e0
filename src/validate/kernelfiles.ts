/**
 * Reading the real filesystem's state: every regular file's size, inode,
 * st_blocks and FIEMAP rows, and the directories, relative to the mount
 * point (`lost+found` skipped, as the corpus recorder did).
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FileLayout } from '../report/model.js';
import type { TruthExtent, TruthFile, TruthFiles } from '../report/conformance.js';
import { assert } from '../util/assert.js';
import { extentRecordsOf, parseFilefrag, parseXfsIoFiemap } from './fiemap.js';
import { firstLine, KernelRunError, runHost } from './host.js';

/** One regular file as the kernel left it. */
export interface KernelFile {
  /** Relative to the mount point, '/' separated. */
  path: string;
  ino: number;
  size: number;
  /** st_blocks * 512. */
  allocatedBytes: number;
  /** FIEMAP rows in 512-byte sectors (hole rows included when read with xfs_io). */
  rows: TruthExtent[];
}

/** Files and directories of a mounted filesystem. */
export interface KernelTree {
  files: KernelFile[];
  dirs: string[];
}

/** At most this many entries are walked (a runaway trace must not make the walk unbounded). */
const TREE_ENTRIES_MAX = 1_000_000;

/** How FIEMAP is read: 'sync' = xfs_io fiemap (FIEMAP_FLAG_SYNC, hole rows); 'nosync' = filefrag (no flush, for snapshots). */
export type FiemapMode = 'sync' | 'nosync';

/** Walks the mount and reads every regular file's layout. O(entries) host calls. */
export function readKernelTree(mountPoint: string, mode: FiemapMode): KernelTree {
  const files: KernelFile[] = [];
  const dirs: string[] = [];
  const pending: string[] = [''];
  let visited = 0;
  while (pending.length > 0) {
    const relative = pending.pop()!;
    for (const name of readdirSync(join(mountPoint, relative)).sort()) {
      visited++;
      assert(visited <= TREE_ENTRIES_MAX, 'too many entries under the mount point', { mountPoint });
      if (relative === '' && name === 'lost+found') continue;
      const path = relative === '' ? name : `${relative}/${name}`;
      const stats = lstatSync(join(mountPoint, path));
      if (stats.isDirectory()) {
        dirs.push(path);
        pending.push(path);
      } else if (stats.isFile()) {
        files.push({ path, ino: stats.ino, size: stats.size, allocatedBytes: stats.blocks * 512, rows: readRows(mountPoint, path, mode) });
      }
    }
  }
  files.sort((left, right) => (left.path < right.path ? -1 : left.path > right.path ? 1 : 0));
  return { files, dirs: dirs.sort() };
}

/** FIEMAP rows of one file (read-only opens: no XFS close-time trimming, no ext4 auto_da_alloc). */
export function readRows(mountPoint: string, path: string, mode: FiemapMode): TruthExtent[] {
  const argv = mode === 'sync' ? ['xfs_io', '-r', '-c', 'fiemap -v', path] : ['filefrag', '-v', '-b512', path];
  const result = runHost(argv, { cwd: mountPoint });
  if (result.status !== 0 || (mode === 'sync' && result.stderr.trim() !== '')) {
    throw new KernelRunError(`${argv[0]} ${path}: ${firstLine(result.stderr) || `exit ${result.status}`}`);
  }
  return mode === 'sync' ? parseXfsIoFiemap(result.stdout) : parseFilefrag(result.stdout);
}

/** A kernel file as the simulator's FileLayout (blocks, holes dropped). */
export function layoutOfKernelFile(file: KernelFile, blockSize: number): FileLayout {
  return {
    path: file.path,
    ino: file.ino,
    size: file.size,
    allocatedBlocks: Math.ceil(file.allocatedBytes / blockSize),
    extents: extentRecordsOf(file.rows, blockSize),
  };
}

/** Kernel files in the truth shape compareLayouts expects. */
export function truthFilesOf(files: readonly KernelFile[]): TruthFiles {
  const out: Record<string, TruthFile> = {};
  for (const file of files) {
    out[file.path] = { path: file.path, size: file.size, extentCount: file.rows.filter((row) => !row.hole).length, extents: file.rows };
  }
  return out;
}

/**
 * The reverse: FileLayouts (a golden record, block units) as truth files, so
 * compareLayouts can compare a replay with a recorded golden.
 */
export function truthFilesOfLayouts(layouts: readonly FileLayout[], blockSize: number): TruthFiles {
  const sectorsPerBlock = blockSize / 512;
  const out: Record<string, TruthFile> = {};
  for (const layout of layouts) {
    const extents: TruthExtent[] = layout.extents.map((extent) => ({
      hole: false,
      logicalStart512: extent.logical * sectorsPerBlock,
      length512: extent.length * sectorsPerBlock,
      physicalStart512: extent.physical * sectorsPerBlock,
      flagNames: extent.flags.map((flag) => (flag === 'inline' ? 'data_inline' : flag)),
    }));
    out[layout.path] = { path: layout.path, size: layout.size, extentCount: extents.length, extents };
  }
  return out;
}
