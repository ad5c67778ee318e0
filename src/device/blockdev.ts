/**
 * The simulated block device as the engine sees it: positioned, synchronous
 * reads and writes of data at device byte addresses. The image file
 * (src/image) implements it over a real file; MemDevice serves tests.
 */
export interface BlockDevice {
  readonly sizeBytes: number;
  /** Reads dst.length bytes at addrBytes into dst. Never-written bytes read as `unwrittenFill` (MemDevice) or zero (image). */
  read(addrBytes: number, dst: Uint8Array): void;
  /** Writes src at addrBytes. */
  write(addrBytes: number, src: Uint8Array): void;
  /**
   * Optional: writes `length` bytes at addrBytes that `source` gives for source
   * offset `sourceOffset` on (a generated payload or a fill byte), without
   * them being made here: what write() of copyFromSource's bytes would do.
   * Returns false when the device cannot now (the caller then writes the bytes).
   */
  writeGenerated?(addrBytes: number, length: number, source: GeneratedSource, sourceOffset: number): boolean;
}

/** The sources writeGenerated takes (the lazy page sources of the page cache). */
export type GeneratedSource = { kind: 'gen'; ino: number; seq: number } | { kind: 'fill'; byte: number };

/**
 * A device in memory, sparse by 64 KiB chunks. Never-written bytes read as
 * `poison`, so a test that reads stale (never written) blocks sees it.
 */
export class MemDevice implements BlockDevice {
  private static readonly chunkBytes = 65536;
  private readonly chunks = new Map<number, Uint8Array>();
  bytesWritten = 0;
  bytesRead = 0;

  constructor(
    readonly sizeBytes: number,
    private readonly poison = 0,
  ) {}

  read(addrBytes: number, dst: Uint8Array): void {
    this.checkRange(addrBytes, dst.length);
    this.bytesRead += dst.length;
    this.forEachChunk(addrBytes, dst.length, (chunkIndex, within, n, done) => {
      const chunk = this.chunks.get(chunkIndex);
      if (chunk) dst.set(chunk.subarray(within, within + n), done);
      else dst.fill(this.poison, done, done + n);
    });
  }

  write(addrBytes: number, src: Uint8Array): void {
    this.checkRange(addrBytes, src.length);
    this.bytesWritten += src.length;
    this.forEachChunk(addrBytes, src.length, (chunkIndex, within, n, done) => {
      let chunk = this.chunks.get(chunkIndex);
      if (!chunk) {
        chunk = new Uint8Array(MemDevice.chunkBytes).fill(this.poison);
        this.chunks.set(chunkIndex, chunk);
      }
      chunk.set(src.subarray(done, done + n), within);
    });
  }

  /** Walks [addrBytes, +length) chunk by chunk. */
  private forEachChunk(addrBytes: number, length: number, visit: (chunkIndex: number, within: number, bytes: number, done: number) => void): void {
    let done = 0;
    while (done < length) {
      const addr = addrBytes + done;
      const chunkIndex = Math.floor(addr / MemDevice.chunkBytes);
      const within = addr - chunkIndex * MemDevice.chunkBytes;
      const bytes = Math.min(length - done, MemDevice.chunkBytes - within);
      visit(chunkIndex, within, bytes, done);
      done += bytes;
    }
  }

  private checkRange(addrBytes: number, lengthBytes: number): void {
    if (addrBytes < 0 || addrBytes + lengthBytes > this.sizeBytes || !Number.isInteger(addrBytes)) {
      throw new RangeError(`device I/O out of range: ${addrBytes}+${lengthBytes} on a ${this.sizeBytes}-byte device`);
    }
  }
}

/**
 * A device that keeps no data: writes are counted and dropped, reads return
 * zeroes. For runs whose data nobody will read back (replay --no-image):
 * layouts, counters and timing do not depend on the bytes.
 */
export class NullDevice implements BlockDevice {
  bytesWritten = 0;
  bytesRead = 0;

  constructor(readonly sizeBytes: number) {}

  read(addrBytes: number, dst: Uint8Array): void {
    if (addrBytes < 0 || addrBytes + dst.length > this.sizeBytes) throw new RangeError(`device read out of range: ${addrBytes}+${dst.length}`);
    this.bytesRead += dst.length;
    dst.fill(0);
  }

  write(addrBytes: number, src: Uint8Array): void {
    if (addrBytes < 0 || addrBytes + src.length > this.sizeBytes) throw new RangeError(`device write out of range: ${addrBytes}+${src.length}`);
    this.bytesWritten += src.length;
  }
}
