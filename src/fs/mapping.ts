/**
 * Mapping helpers every policy shares: a file extent as an iomap (what
 * ext4_set_iomap and xfs_bmbt_to_iomap build) and a hole up to the next
 * extent. Offsets are bytes; extents are in filesystem blocks.
 */
import { ExtentState, type Extent, type ExtentMap } from '../extent/extentmap.js';
import { IOMAP_NULL_ADDR, IomapType, makeHole, type Iomap } from '../iomap/types.js';

/** The iomap of a whole extent: written -> MAPPED, unwritten -> UNWRITTEN, delalloc -> DELALLOC (no address). */
export function extentIomap(extent: Extent, blockSize: number, flags = 0): Iomap {
  const type = extent.state === ExtentState.Written ? IomapType.Mapped : extent.state === ExtentState.Unwritten ? IomapType.Unwritten : IomapType.Delalloc;
  return {
    offset: extent.startBlock * blockSize,
    length: extent.blockCount * blockSize,
    addr: extent.physBlock < 0 ? IOMAP_NULL_ADDR : extent.physBlock * blockSize,
    type,
    flags,
  };
}

/** A hole from `block` to `holeEndBlock` (Infinity: to `maxFileBytes`), at least one block long. */
export function holeIomap(block: number, holeEndBlock: number, blockSize: number, maxFileBytes: number): Iomap {
  const end = Number.isFinite(holeEndBlock) ? holeEndBlock * blockSize : maxFileBytes;
  return makeHole(block * blockSize, Math.max(end - block * blockSize, blockSize));
}

/** Scratch extent of convertUnwrittenRange (read within the call). */
const scratchExtent: Extent = { startBlock: 0, blockCount: 0, physBlock: -1, state: ExtentState.Delalloc };

/**
 * I/O completion's unwritten conversion (ext4_convert_unwritten_extents,
 * xfs_iomap_write_unwritten): unwritten extents over the blocks [pos,
 * pos+length) touches become written. Returns the extents converted. O(k log n).
 */
export function convertUnwrittenRange(map: ExtentMap, blockSize: number, pos: number, length: number): number {
  const firstBlock = Math.floor(pos / blockSize);
  const endBlock = Math.ceil((pos + length) / blockSize);
  // Most completions cover part or all of one extent (an ioend of one allocation): no list of pieces needed.
  const extent = scratchExtent;
  if (endBlock > firstBlock && map.lookupInto(firstBlock, extent) < 0 && extent.startBlock + extent.blockCount >= endBlock) {
    if (extent.state !== ExtentState.Unwritten) return 0;
    map.setState(firstBlock, endBlock - firstBlock, ExtentState.Written);
    return 1;
  }
  let converted = 0;
  for (const piece of map.extentsIn(firstBlock, endBlock)) {
    if (piece.state !== ExtentState.Unwritten) continue;
    map.setState(piece.startBlock, piece.blockCount, ExtentState.Written);
    converted++;
  }
  return converted;
}
