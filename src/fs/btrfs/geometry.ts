/**
 * btrfs chunk layout as mkfs.btrfs (-d single -m single, 4 KiB sectors,
 * 16 KiB nodes) leaves a device, in the chunk (logical) address space, which
 * on a single device with no chunk ever removed equals the device offset:
 * the first MiB is never allocated, then a 4 MiB SYSTEM chunk at 1 MiB, an
 * 8 MiB METADATA chunk at 5 MiB and an 8 MiB DATA chunk at 13 MiB (checked
 * with `btrfs inspect-internal dump-tree -t chunk` on a 1 GiB image: data
 * from block 3328). New data chunks follow the last chunk, sized like
 * decide_stripe_size_regular: 10 % of the device rounded up to 16 MiB, at
 * most 1 GiB (112 MiB on 1 GiB). Super-block mirrors (64 KiB, 64 MiB,
 * 256 GiB) exclude a 64 KiB stripe from the block group holding them
 * (exclude_super_stripes: blocks 16384-16399 on 4 KiB blocks).
 */
import type { BlockRun } from '../../image/types.js';
import { assert } from '../../util/assert.js';

const MIB = 1024 * 1024;
/** btrfs_sb_offset(0..2). */
const SUPER_MIRROR_BYTES = [64 * 1024, 64 * MIB, 256 * 1024 * MIB];
/** BTRFS_STRIPE_LEN: what each super mirror keeps out of its block group. */
const SUPER_STRIPE_BYTES = 64 * 1024;
/** BTRFS_MAX_DATA_CHUNK_SIZE caps the stripe at 1 GiB for data on a single device. */
const DATA_STRIPE_MAX_BYTES = 1024 * MIB;
/** decide_stripe_size_regular rounds the 10 % cap up to 16 MiB. */
const CHUNK_ROUND_BYTES = 16 * MIB;
/** Devices below this get a scaled-down mkfs layout (the corpus uses 1 GiB). */
const SMALL_DEVICE_BYTES = 256 * MIB;

export interface BtrfsGeometry {
  blockSize: number;
  deviceBlocks: number;
  /** Blocks never used for file data: the first MiB, SYSTEM and METADATA chunks, super mirrors. */
  reserved: BlockRun[];
  metadataChunk: BlockRun;
  firstDataChunk: BlockRun;
  /** Size of a data chunk allocated later (btrfs_alloc_chunk), in blocks. */
  dataChunkBlocks: number;
  /** Super-mirror stripes (blocks) that later data chunks must exclude. */
  superStripes: BlockRun[];
  /** Sector size in blocks of one metadata node (nodesize 16 KiB). */
  nodeBytes: number;
}

/** The geometry mkfs.btrfs would make for a device of `deviceBlocks` blocks. */
export function btrfsGeometry(blockSize: number, deviceBlocks: number): BtrfsGeometry {
  const deviceBytes = deviceBlocks * blockSize;
  const small = deviceBytes < SMALL_DEVICE_BYTES;
  // A small device keeps the order of the mkfs layout with smaller chunks (mkfs itself would pick mixed groups).
  const firstMib = small ? Math.min(MIB, deviceBytes / 16) : MIB;
  const systemBytes = small ? Math.min(4 * MIB, deviceBytes / 16) : 4 * MIB;
  const metadataBytes = small ? Math.min(8 * MIB, deviceBytes / 8) : 8 * MIB;
  const dataBytes = small ? Math.min(8 * MIB, deviceBytes / 8) : 8 * MIB;
  const toBlocks = (bytes: number): number => Math.floor(bytes / blockSize);
  const systemStart = toBlocks(firstMib);
  const metadataStart = systemStart + toBlocks(systemBytes);
  const dataStart = metadataStart + toBlocks(metadataBytes);
  const metadataChunk = { start: metadataStart, length: toBlocks(metadataBytes) };
  const firstDataChunk = { start: dataStart, length: toBlocks(dataBytes) };
  assert(dataStart + firstDataChunk.length <= deviceBlocks, 'btrfs: device too small for the mkfs layout', { deviceBlocks });
  const tenPercent = Math.ceil(deviceBytes / 10 / CHUNK_ROUND_BYTES) * CHUNK_ROUND_BYTES;
  const chunkBytes = small ? Math.max(dataBytes, Math.floor(deviceBytes / 8)) : Math.min(tenPercent, DATA_STRIPE_MAX_BYTES);
  const superStripes: BlockRun[] = [];
  for (const mirror of SUPER_MIRROR_BYTES.slice(1)) {
    const start = toBlocks(mirror);
    const length = Math.max(1, toBlocks(SUPER_STRIPE_BYTES));
    if (start >= dataStart + firstDataChunk.length && start + length <= deviceBlocks) superStripes.push({ start, length });
  }
  const reserved: BlockRun[] = [{ start: 0, length: dataStart }, ...superStripes];
  return {
    blockSize,
    deviceBlocks,
    reserved,
    metadataChunk,
    firstDataChunk,
    dataChunkBlocks: toBlocks(chunkBytes),
    superStripes,
    nodeBytes: 16384,
  };
}
