/**
 * The block requests of a journal commit (jbd2_journal_commit_transaction):
 * descriptor blocks tagging the metadata blocks, the metadata block copies,
 * written sequentially at the log head of a circular journal area, then the
 * commit block with REQ_PREFLUSH | REQ_FUA (a cache flush, then a write
 * through the cache). Only the requests are reported: no bytes are written
 * to the simulated device, so layouts and images do not change.
 */
import { assert } from '../../util/assert.js';
import type { IoSink } from '../iosink.js';

/** journal_header_t (12 bytes) + the descriptor tail checksum (4) + the first tag's UUID (16). */
const DESCRIPTOR_OVERHEAD_BYTES = 32;
/** journal_block_tag3_t with 64-bit block numbers and checksums (csum v3). */
const DESCRIPTOR_TAG_BYTES = 16;

export interface JournalGeometry {
  /** First block of the journal area, in filesystem blocks. */
  startBlock: number;
  /** Blocks of the journal area (the log wraps around inside it). */
  blockCount: number;
  blockSize: number;
}

/** Descriptor blocks jbd2 writes to tag `metadataBlocks` blocks. O(1). */
export function descriptorBlocksFor(metadataBlocks: number, blockSize: number): number {
  const tagsPerDescriptor = Math.floor((blockSize - DESCRIPTOR_OVERHEAD_BYTES) / DESCRIPTOR_TAG_BYTES);
  assert(tagsPerDescriptor > 0, 'journal: block too small for a descriptor', { blockSize });
  return Math.max(1, Math.ceil(metadataBlocks / tagsPerDescriptor));
}

/** The circular log of one filesystem: where the next commit goes, and what was written. */
export class JournalLog {
  /** Next log block, relative to the start of the journal area. */
  private headBlock = 0;
  commits = 0;
  blocksWritten = 0;

  constructor(
    private readonly io: IoSink,
    private readonly geometry: JournalGeometry,
  ) {
    assert(geometry.blockCount >= 4, 'journal: area too small', geometry);
  }

  /** Writes `count` log blocks at the head, split where the log wraps. */
  private writeBlocks(count: number, fua: boolean): void {
    const { startBlock, blockCount, blockSize } = this.geometry;
    let left = count;
    while (left > 0) {
      const run = Math.min(left, blockCount - this.headBlock);
      const request = { direction: 'write' as const, cause: 'journal' as const, addrBytes: (startBlock + this.headBlock) * blockSize, lengthBytes: run * blockSize };
      this.io.submit(fua ? { ...request, fua: true } : request);
      this.headBlock = (this.headBlock + run) % blockCount;
      left -= run;
    }
    this.blocksWritten += count;
  }

  /**
   * Commits a transaction of `metadataBlocks` distinct metadata blocks: the
   * descriptors and copies, a flush, the commit block (FUA). O(1) requests
   * (two more when the log wraps).
   */
  commit(metadataBlocks: number): void {
    assert(Number.isInteger(metadataBlocks) && metadataBlocks >= 0, 'journal: bad block count', { metadataBlocks });
    // A transaction larger than the log would be split by jbd2; cap it to keep the model bounded.
    const copies = Math.min(metadataBlocks, Math.floor(this.geometry.blockCount / 2));
    this.writeBlocks(descriptorBlocksFor(copies, this.geometry.blockSize) + copies, false);
    this.io.submit({ direction: 'flush', cause: 'flush', addrBytes: 0, lengthBytes: 0 });
    this.writeBlocks(1, true);
    this.commits++;
  }
}
