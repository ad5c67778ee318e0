/**
 * Inode allocation (xfs_dialloc, inode64): files go to their parent
 * directory's AG, new directories to the next AG of the rotor
 * (m_agirotor); an AG without free inodes gets a new aligned 64-inode chunk
 * (xfs_ialloc_ag_alloc). Freed inode numbers are not reused within a mount
 * (inactivation is deferred in the kernel, so reuse is timing dependent).
 */
import type { BlockRun } from '../../image/types.js';
import { assert } from '../../util/assert.js';
import type { XfsAllocator } from './alloc.js';
import { XFS_FIRST_FILE_AGINO_OFFSET, XFS_INODES_PER_CHUNK, blockToIno, inodeBlock, type XfsGeometry } from './geometry.js';

interface AgInodes {
  /** Next unused inode number of the current chunk, and the end of that chunk. */
  next: number;
  end: number;
  /** Where the last chunk of this AG ended (the next chunk is looked for from here). */
  lastChunkEnd: number;
}

export class XfsInodeAllocator {
  private readonly ags: AgInodes[] = [];
  private rotor = 0;
  /** Inode chunks allocated after mkfs (the root chunk is part of the reserved blocks). */
  readonly chunkRuns: BlockRun[] = [];

  constructor(
    private readonly geometry: XfsGeometry,
    private readonly allocator: XfsAllocator,
  ) {
    for (let agno = 0; agno < geometry.agCount; agno++) this.ags.push({ next: 0, end: 0, lastChunkEnd: agno * geometry.agBlocks });
    const rootIno = blockToIno(geometry, geometry.rootChunkBlock);
    this.ags[0] = { next: rootIno + XFS_FIRST_FILE_AGINO_OFFSET, end: rootIno + XFS_INODES_PER_CHUNK, lastChunkEnd: geometry.rootChunkBlock + geometry.inodeChunkBlocks };
  }

  /** The mount's rotor restarts at AG 0 (xfs_mountfs). */
  resetRotor(): void {
    this.rotor = 0;
  }

  agOfIno(ino: number): number {
    return Math.min(this.geometry.agCount - 1, Math.floor(inodeBlock(this.geometry, ino) / this.geometry.agBlocks));
  }

  /** A new inode number for a file (parent's AG) or a directory (rotor AG). Throws when no AG has room. */
  allocate(isDirectory: boolean, parentIno: number): number {
    const { agCount } = this.geometry;
    const startAg = isDirectory ? this.rotor++ % agCount : this.agOfIno(parentIno);
    for (let step = 0; step < agCount; step++) {
      const agno = (startAg + step) % agCount;
      const ag = this.ags[agno]!;
      if (ag.next < ag.end) return ag.next++;
      const block = this.allocator.allocateAligned(agno, ag.lastChunkEnd, this.geometry.inodeChunkBlocks, this.geometry.inodeChunkBlocks);
      if (block < 0) continue;
      this.chunkRuns.push({ start: block, length: this.geometry.inodeChunkBlocks });
      ag.lastChunkEnd = block + this.geometry.inodeChunkBlocks;
      ag.next = blockToIno(this.geometry, block);
      ag.end = ag.next + XFS_INODES_PER_CHUNK;
      return ag.next++;
    }
    assert(false, 'xfs: no AG can hold another inode chunk', { parentIno });
    return -1;
  }
}
