/**
 * The block layer between the submitters and the device: requests submitted
 * while one op runs are held in a plug (blk_start_plug / blk_finish_plug),
 * split at the maximum request size (bio_split to max_sectors_kb), merged
 * with the last plugged request when address-contiguous in the same direction
 * (blk_attempt_plug_merge: back and front merges, as blk-mq tries only the
 * last request of the plug), and dispatched at unplug, when the plug holds
 * BLK_MAX_REQUEST_COUNT requests, or before a flush (a barrier: nothing
 * merges across it). FUA writes and flushes never merge (they take the
 * flush machinery, blk-flush.c).
 */
import { assert } from '../../util/assert.js';
import type { IoDirection } from '../iosink.js';

/** BLK_MAX_REQUEST_COUNT: a plug holding this many requests is flushed. */
export const PLUG_REQUESTS_MAX = 32;

/** A request as the block layer hands it to the device. */
export interface BlockRequest {
  direction: IoDirection;
  addrBytes: number;
  lengthBytes: number;
  fua: boolean;
  /** The submitting op waits for its completion (direct I/O, read misses, sync writeback, journal, flush). */
  waited: boolean;
}

export interface BlockLayerCounters {
  /** Requests submitted (one per IoSink.submit). */
  submitted: number;
  /** Submitted pieces that joined a plugged request instead of making a new one. */
  merged: number;
  /** Requests sent to the device (after splitting and merging). */
  dispatched: number;
}

/** True when `next` can join `last` (blk_rq_merge_ok + the size limit); sets which end it joins. */
function mergeSide(last: BlockRequest, next: BlockRequest, maxBytes: number): 'back' | 'front' | undefined {
  if (last.direction !== next.direction || last.direction === 'flush' || last.fua || next.fua) return undefined;
  if (last.lengthBytes + next.lengthBytes > maxBytes) return undefined;
  if (last.addrBytes + last.lengthBytes === next.addrBytes) return 'back';
  if (next.addrBytes + next.lengthBytes === last.addrBytes) return 'front';
  return undefined;
}

/** The plug of the op being run: split, merge, dispatch in order. */
export class BlockLayer {
  readonly counters: BlockLayerCounters = { submitted: 0, merged: 0, dispatched: 0 };
  private readonly plugged: BlockRequest[] = [];

  /**
   * `maxRequestBytes` is max_sectors_kb in bytes; `dispatch` receives each
   * request the device must service, in order.
   */
  constructor(
    private readonly maxRequestBytes: number,
    private readonly dispatch: (request: BlockRequest) => void,
  ) {
    assert(maxRequestBytes >= 512 && maxRequestBytes % 512 === 0, 'block layer: max request size must be whole sectors', { maxRequestBytes });
  }

  /** submit_bio: split, then merge into the plug or queue in it; a flush is dispatched after the plug. O(pieces). */
  submit(request: BlockRequest): void {
    this.counters.submitted++;
    if (request.direction === 'flush') {
      this.unplug();
      this.send({ ...request, addrBytes: 0, lengthBytes: 0 });
      return;
    }
    assert(request.lengthBytes > 0, 'block layer: empty request', request);
    let offset = 0;
    while (offset < request.lengthBytes) {
      const length = Math.min(this.maxRequestBytes, request.lengthBytes - offset);
      this.plugPiece({ ...request, addrBytes: request.addrBytes + offset, lengthBytes: length }, offset === 0);
      offset += length;
    }
  }

  /** blk_finish_plug: dispatch every plugged request in submission order. */
  unplug(): void {
    for (const request of this.plugged) this.send(request);
    this.plugged.length = 0;
  }

  private plugPiece(piece: BlockRequest, firstPiece: boolean): void {
    const last = this.plugged[this.plugged.length - 1];
    const side = last === undefined ? undefined : mergeSide(last, piece, this.maxRequestBytes);
    if (last !== undefined && side !== undefined) {
      if (side === 'front') last.addrBytes = piece.addrBytes;
      last.lengthBytes += piece.lengthBytes;
      last.waited = last.waited || piece.waited;
      if (firstPiece) this.counters.merged++;
      return;
    }
    if (this.plugged.length >= PLUG_REQUESTS_MAX) this.unplug();
    this.plugged.push(piece);
  }

  private send(request: BlockRequest): void {
    this.counters.dispatched++;
    this.dispatch(request);
  }
}
