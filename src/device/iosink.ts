/**
 * The block requests the simulation issues, as the block layer would see them
 * (submit_bio): data writeback, direct I/O, reads that miss the page cache,
 * sub-block zeroing, metadata/journal writes and cache flushes. The iomap core
 * and the policies report each one here; the device model (timing, merging)
 * and the stats consume them. Reporting never changes the simulation.
 */

export type IoDirection = 'read' | 'write' | 'flush' | 'discard';

/** Why the request was issued: what write amplification is split by. */
export type IoCause = 'writeback' | 'direct' | 'readmiss' | 'zeroing' | 'metadata' | 'journal' | 'cow' | 'flush' | 'discard';

export interface IoRequest {
  direction: IoDirection;
  cause: IoCause;
  /** Device byte address (0 for flushes). */
  addrBytes: number;
  /** Bytes (0 for flushes). */
  lengthBytes: number;
  /** REQ_FUA: write through the device cache. */
  fua?: boolean;
}

export interface IoSink {
  submit(request: IoRequest): void;
}

/** A sink that counts bytes per cause and direction and nothing else (the default). */
export class CountingIoSink implements IoSink {
  readonly bytes: Record<string, number> = {};
  readonly requests: Record<string, number> = {};

  /** "direction:cause" keys made once per pair: submit() runs for every request. */
  private readonly keys: Partial<Record<IoDirection, Partial<Record<IoCause, string>>>> = {};

  submit(request: IoRequest): void {
    const byCause = (this.keys[request.direction] ??= {});
    const key = (byCause[request.cause] ??= `${request.direction}:${request.cause}`);
    this.bytes[key] = (this.bytes[key] ?? 0) + request.lengthBytes;
    this.requests[key] = (this.requests[key] ?? 0) + 1;
  }
}
