/**
 * ext4 on-disk geometry as mke2fs lays it out with the conformance corpus's
 * parameters (flex_bg 16, sparse_super, 256-byte inodes, 16 KiB per inode,
 * resize_inode, 32 MiB journal for 1 GiB): block groups of 8 x block size
 * blocks, which blocks each group keeps for metadata, and where the journal is.
 * Checked against dumpe2fs of a 1 GiB image: group 0 free from 4247, backup
 * groups 1,3,5,7 reserve their first 129 blocks, the journal fills 131072-139263.
 */
import type { BlockRun } from '../../image/types.js';

export const EXT4_FLEX_BG_SIZE = 16;
const GROUP_DESC_SIZE = 64;
const BYTES_PER_INODE = 16384;
const INODE_SIZE = 256;
/** Root directory and lost+found blocks mke2fs writes after the inode tables. */
const ROOT_AND_LOST_FOUND_BLOCKS = 6;

export interface Ext4Geometry {
  blockSize: number;
  blocksCount: number;
  blocksPerGroup: number;
  groupCount: number;
  inodesPerGroup: number;
  inodeTableBlocks: number;
  gdtBlocks: number;
  reservedGdtBlocks: number;
  journalBlocks: number;
  journalStart: number;
  reserved: BlockRun[];
}

/** sparse_super: groups 0, 1 and powers of 3, 5 and 7 carry superblock backups. */
export function hasSuperBackup(group: number): boolean {
  if (group <= 1) return true;
  for (const base of [3, 5, 7]) {
    let power = base;
    while (power < group) power *= base;
    if (power === group) return true;
  }
  return false;
}

/** ext2fs_default_journal_size, in blocks. */
function defaultJournalBlocks(blocksCount: number): number {
  if (blocksCount < 2048) return 0;
  if (blocksCount < 32768) return 1024;
  if (blocksCount < 256 * 1024) return 4096;
  if (blocksCount < 512 * 1024) return 8192;
  if (blocksCount < 4096 * 1024) return 16384;
  return 32768;
}

/** calc_reserved_gdt_blocks: room for 1024x online growth, capped at one indirect block. */
function reservedGdt(blocksCount: number, blocksPerGroup: number, blockSize: number, gdtBlocks: number): number {
  const descPerBlock = blockSize / GROUP_DESC_SIZE;
  const maxBlocks = Math.min(0xffffffff, blocksCount * 1024);
  const rsvGroups = Math.ceil(maxBlocks / blocksPerGroup);
  const rsvGdb = Math.ceil(rsvGroups / descPerBlock) - gdtBlocks;
  return Math.max(0, Math.min(rsvGdb, blockSize / 4));
}

/** The geometry mke2fs would make for a device of `blocksCount` blocks. */
export function ext4Geometry(blockSize: number, blocksCount: number): Ext4Geometry {
  const blocksPerGroup = 8 * blockSize;
  const groupCount = Math.ceil(blocksCount / blocksPerGroup);
  const inodesPerGroup = Math.min(blocksPerGroup, Math.floor((blocksPerGroup * blockSize) / BYTES_PER_INODE));
  const inodeTableBlocks = Math.ceil((inodesPerGroup * INODE_SIZE) / blockSize);
  const gdtBlocks = Math.ceil((groupCount * GROUP_DESC_SIZE) / blockSize);
  const reservedGdtBlocks = reservedGdt(blocksCount, blocksPerGroup, blockSize, gdtBlocks);
  const reserved: BlockRun[] = [];
  for (let group = 0; group < groupCount; group++) {
    const groupStart = group * blocksPerGroup;
    let length = hasSuperBackup(group) ? 1 + gdtBlocks + reservedGdtBlocks : 0;
    if (group % EXT4_FLEX_BG_SIZE === 0) {
      // flex_bg packs the bitmaps and inode tables of the flex group into its first group.
      const groupsInFlex = Math.min(EXT4_FLEX_BG_SIZE, groupCount - group);
      length += 2 * Math.max(groupsInFlex, 8) + groupsInFlex * inodeTableBlocks;
      if (group === 0) length += ROOT_AND_LOST_FOUND_BLOCKS;
    }
    length = Math.min(length, blocksCount - groupStart);
    if (length > 0) reserved.push({ start: groupStart, length });
  }
  const journalBlocks = Math.min(defaultJournalBlocks(blocksCount), Math.floor(blocksCount / 4));
  let journalGroup = Math.floor(groupCount / 2);
  if (groupCount > EXT4_FLEX_BG_SIZE) journalGroup &= ~(EXT4_FLEX_BG_SIZE - 1);
  const journalGroupRun = reserved.find((run) => run.start === journalGroup * blocksPerGroup);
  const journalStart = journalGroup * blocksPerGroup + (journalGroupRun ? journalGroupRun.length : 0);
  if (journalBlocks > 0) insertRun(reserved, { start: journalStart, length: journalBlocks });
  return { blockSize, blocksCount, blocksPerGroup, groupCount, inodesPerGroup, inodeTableBlocks, gdtBlocks, reservedGdtBlocks, journalBlocks, journalStart, reserved };
}

function insertRun(runs: BlockRun[], run: BlockRun): void {
  const last = runs.findIndex((existing) => existing.start + existing.length === run.start);
  if (last >= 0) runs[last] = { start: runs[last]!.start, length: runs[last]!.length + run.length };
  else runs.push(run);
  runs.sort((a, b) => a.start - b.start);
}
