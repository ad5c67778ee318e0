/**
 * Where the bytes of a write come from: a fill byte (a trace's fill pattern), the
 * generated payload of (ino, seq), zeroes, or a buffer (copy_file_range).
 */
import { fillPayload } from '../image/payload.js';
import type { ContentSource } from '../image/types.js';

export type WriteSource =
  | { kind: 'fill'; byte: number }
  | { kind: 'gen'; ino: number; seq: number }
  | { kind: 'zero' }
  /** Bytes of `data` starting at data[0] correspond to file offset `fileOffset`. */
  | { kind: 'buffer'; data: Uint8Array; fileOffset: number };

export const ZERO_SOURCE: WriteSource = { kind: 'zero' };

/** Writes the source's bytes for file range [fileOffset, fileOffset + dst.length) into dst. */
export function copyFromSource(dst: Uint8Array, source: WriteSource, fileOffset: number): void {
  switch (source.kind) {
    case 'fill':
      dst.fill(source.byte);
      return;
    case 'zero':
      dst.fill(0);
      return;
    case 'gen':
      fillPayload(dst, source.ino, source.seq, fileOffset);
      return;
    case 'buffer': {
      const from = fileOffset - source.fileOffset;
      dst.set(source.data.subarray(from, from + dst.length));
      return;
    }
  }
}

/** The content-map record of a write from `source` (buffers are recorded by the caller). */
export function contentOf(source: WriteSource): ContentSource | undefined {
  switch (source.kind) {
    case 'fill':
      return { kind: 'fill', byte: source.byte };
    case 'zero':
      return { kind: 'zero' };
    case 'gen':
      return { kind: 'gen', ino: source.ino, seq: source.seq, shift: 0 };
    case 'buffer':
      return undefined;
  }
}
