/**
 * FsContext: what the iomap core and a policy share during one run: the
 * device, free space, block size and the counters the report reads.
 */
import type { FreeSpace } from '../alloc/freespace.js';
import type { BlockDevice } from '../device/blockdev.js';
import type { IoSink } from '../device/iosink.js';
import type { FaultInjector, RecoveryRecorder } from '../fault/injector.js';
import type { Prng } from '../util/prng.js';

/** Counters of what reached the device and the page cache. */
export class EngineStats {
  deviceBytesWritten = 0;
  deviceBytesRead = 0;
  /** Bytes of zeroes written to the device for sub-block zeroing. */
  deviceZeroBytes = 0;
  pageCacheHits = 0;
  pageCacheMisses = 0;
  writebackIoends = 0;
  blocksAllocated = 0;
  blocksFreed = 0;
  unwrittenConversions = 0;
  dioFallbackBytes = 0;
  /** Bytes of data checksums the fs computed for data it wrote (btrfs: 4 bytes of crc32c per sector). */
  checksumBytes = 0;
  /** Bytes of metadata (tree) blocks the fs wrote at commits and log syncs, reported as requests only. */
  metadataBytesWritten = 0;
}

export interface FsContext {
  readonly blockSize: number;
  readonly blockShift: number;
  readonly device: BlockDevice;
  readonly freeSpace: FreeSpace;
  readonly stats: EngineStats;
  readonly prng: Prng;
  /** Where block requests are reported (device model, stats). */
  readonly io: IoSink;
  /**
   * Keep no bytes: no payload is generated, page buffers are shared scratch, the
   * device sees no data and content maps stay empty. Layouts, counters and I/O
   * requests are the same as with data (replay --no-image).
   */
  readonly dataless: boolean;
  /** The fault plan's decisions (--fault ...); absent when the run injects none. */
  readonly faults?: FaultInjector;
  /** Where the core and the policies note the recovery paths they take (short writes, fallbacks, retries). */
  readonly recovery?: RecoveryRecorder;
}

export function blockShiftOf(blockSize: number): number {
  return Math.log2(blockSize) | 0;
}
