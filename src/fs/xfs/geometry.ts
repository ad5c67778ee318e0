/**
 * XFS on-disk geometry as mkfs.xfs (xfsprogs 6.1) lays it out with the
 * conformance corpus's parameters (4 KiB blocks, 512-byte sectors and inodes,
 * finobt + reflink, no rmapbt, internal log): allocation groups from
 * calc_default_ag_geometry, the per-AG headers and btree roots
 * (XFS_PREALLOC_BLOCKS), the 4-block AGFL, the root inode chunk in AG 0 and
 * the internal log in AG agcount/2. Checked against xfs_db of a 1 GiB image:
 * AG 0 free [10,16) and [24,65536), AGs 1/3 free from 10, the log at AG 2
 * block 6 (16384 blocks) followed by the AGFL and free space from 16394.
 */
import type { BlockRun } from '../../image/types.js';
import { assert } from '../../util/assert.js';

/** 64 inodes per inode chunk (XFS_INODES_PER_CHUNK), 512-byte inodes (-i size=512). */
export const XFS_INODES_PER_CHUNK = 64;
export const XFS_INODE_BYTES = 512;
/** Sector-sized headers (sb, agf, agi, agfl) share block 0; then the bnobt, cntbt, inobt, finobt and refcountbt roots. */
const XFS_PREALLOC_BLOCKS = 6;
/** Blocks mkfs puts on a fresh AGFL (xfs_alloc_min_freelist with one-level free-space btrees). */
const XFS_AGFL_INITIAL_BLOCKS = 4;
/** Inodes 128 (root), 129 and 130 (realtime bitmap and summary) exist after mkfs. */
export const XFS_FIRST_FILE_AGINO_OFFSET = 3;

export interface XfsGeometry {
  blockSize: number;
  blocksCount: number;
  agBlocks: number;
  agCount: number;
  /** sb_agblklog: bits of an AG block number inside an inode number. */
  agBlockLog: number;
  /** sb_inopblog: log2 of inodes per block. */
  inodesPerBlockLog: number;
  /** Blocks of one 64-inode chunk, also its alignment (sb_inoalignmt). */
  inodeChunkBlocks: number;
  /** First device block of the root inode chunk (AG 0). */
  rootChunkBlock: number;
  logAgno: number;
  logStart: number;
  logBlocks: number;
  /** XFS_ALLOC_AG_MAX_USABLE: blocks an allocation may take in one AG. */
  agMaxUsable: number;
  /** Device blocks the filesystem keeps (headers, AGFL, root inode chunk, log), sorted. */
  reserved: BlockRun[];
}

const MiB = 1024 * 1024;

/** calc_default_ag_geometry for a single (non-striped) device: [agBlocks, agCount]. */
export function defaultAgGeometry(blockSize: number, blocksCount: number): [number, number] {
  const bytes = (megabytes: number): number => Math.floor((megabytes * MiB) / blockSize);
  const agMaxBlocks = Math.floor((2 ** 40) / blockSize) - 1;
  let blocks: number;
  if (blocksCount >= bytes(4 * 1024 * 1024)) {
    blocks = agMaxBlocks;
  } else {
    let shift = 2; // XFS_NOMULTIDISK_AGLOG: 4 AGs from 128 MiB up
    if (blocksCount < bytes(128)) {
      // The multidisk rule mkfs falls back to below 128 MiB.
      shift = 5;
      if (blocksCount <= bytes(512 * 1024)) shift--;
      if (blocksCount <= bytes(8 * 1024)) shift--;
      if (blocksCount <= bytes(128)) shift--;
      if (blocksCount <= bytes(64)) shift--;
      if (blocksCount <= bytes(32)) shift--;
    }
    blocks = Math.floor(blocksCount / 2 ** shift);
    if (blocksCount % 2 ** shift !== 0 && blocks < agMaxBlocks) blocks++;
  }
  return [blocks, Math.ceil(blocksCount / blocks)];
}

/**
 * Default internal log: 1/2048 of the fs, at least 64 MiB (10 MiB below the 300 MiB mkfs
 * now refuses), at most 2038 MiB, and never more than half an AG.
 */
function defaultLogBlocks(blockSize: number, blocksCount: number, agBlocks: number): number {
  const minimum = Math.floor(((blocksCount * blockSize < 300 * MiB ? 10 : 64) * MiB) / blockSize);
  const maximum = Math.floor((2038 * MiB) / blockSize);
  const ratio = Math.floor((blocksCount * blockSize) / 2048 / blockSize);
  return Math.min(Math.max(ratio, minimum), maximum, Math.floor(agBlocks / 2));
}

/** The geometry mkfs.xfs makes for a device of `deviceBlocks` blocks (a last AG under 16 MiB is left out, as mkfs does). */
export function xfsGeometry(blockSize: number, deviceBlocks: number): XfsGeometry {
  const [agBlocks, rawAgCount] = defaultAgGeometry(blockSize, deviceBlocks);
  const agMinBlocks = Math.floor((16 * MiB) / blockSize);
  let agCount = rawAgCount;
  const lastAgBlocks = deviceBlocks - (agCount - 1) * agBlocks;
  if (agCount > 1 && lastAgBlocks < Math.min(agMinBlocks, agBlocks)) agCount--;
  const blocksCount = Math.min(deviceBlocks, agCount * agBlocks);
  const inodesPerBlockLog = Math.log2(blockSize / XFS_INODE_BYTES);
  const inodeChunkBlocks = Math.max(1, (XFS_INODES_PER_CHUNK * XFS_INODE_BYTES) / blockSize);
  const headerBlocks = XFS_PREALLOC_BLOCKS + XFS_AGFL_INITIAL_BLOCKS;
  const logAgno = Math.floor(agCount / 2);
  const logBlocks = defaultLogBlocks(blockSize, blocksCount, agBlocks);
  const logStart = logAgno * agBlocks + XFS_PREALLOC_BLOCKS;
  const ag0Headers = logAgno === 0 ? headerBlocks + logBlocks : headerBlocks;
  const rootChunkBlock = Math.ceil(ag0Headers / inodeChunkBlocks) * inodeChunkBlocks;
  const reserved: BlockRun[] = [];
  for (let agno = 0; agno < agCount; agno++) {
    const agStart = agno * agBlocks;
    const agLength = Math.min(agBlocks, blocksCount - agStart);
    // The log AG keeps its AGFL after the log (mkfs writes the log first).
    const headers = agno === logAgno ? headerBlocks + logBlocks : headerBlocks;
    reserved.push({ start: agStart, length: Math.min(headers, agLength) });
    if (agno === 0 && rootChunkBlock + inodeChunkBlocks <= agLength) reserved.push({ start: rootChunkBlock, length: inodeChunkBlocks });
  }
  // Blocks past the last whole AG that mkfs left out of the filesystem.
  if (blocksCount < deviceBlocks) reserved.push({ start: blocksCount, length: deviceBlocks - blocksCount });
  reserved.sort((a, b) => a.start - b.start);
  const agMaxUsable = agBlocks - headerBlocks;
  assert(agMaxUsable > 0 && logBlocks > 0, 'xfs geometry: device too small', { deviceBlocks, agBlocks });
  return {
    blockSize,
    blocksCount,
    agBlocks,
    agCount,
    agBlockLog: Math.ceil(Math.log2(agBlocks)),
    inodesPerBlockLog,
    inodeChunkBlocks,
    rootChunkBlock,
    logAgno,
    logStart,
    logBlocks,
    agMaxUsable,
    reserved,
  };
}

/** XFS_INO_TO_FSB as a device block: the block holding inode `ino`. */
export function inodeBlock(geometry: XfsGeometry, ino: number): number {
  const inoPerAg = 2 ** (geometry.agBlockLog + geometry.inodesPerBlockLog);
  const agno = Math.floor(ino / inoPerAg);
  const agbno = Math.floor((ino % inoPerAg) / 2 ** geometry.inodesPerBlockLog);
  return agno * geometry.agBlocks + agbno;
}

/** The inode number of the first inode in device block `block`. */
export function blockToIno(geometry: XfsGeometry, block: number): number {
  const agno = Math.floor(block / geometry.agBlocks);
  const agbno = block % geometry.agBlocks;
  return agno * 2 ** (geometry.agBlockLog + geometry.inodesPerBlockLog) + agbno * 2 ** geometry.inodesPerBlockLog;
}
