/**
 * The payload rule: the deterministic bytes a replayed write stores when the
 * trace gives no fill byte. The byte at file offset `o` written by write
 * sequence number `seq` of inode `ino` is a hash of (ino, seq, o >> 2),
 * byte (o & 3) of it. `inspect --verify` recomputes expected content with it.
 */
import type { ContentRange, ContentSource } from './types.js';

// Bound once: inside a vm context (jest) every global lookup goes through an interceptor.
const imul = Math.imul;
const floor = Math.floor;

/** 32-bit mix (murmur3 finaliser) of three words. */
function mix3(a: number, b: number, c: number): number {
  let h = imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ imul(b ^ 0x7f4a7c15, 0xc2b2ae35) ^ imul(c, 0x27d4eb2f);
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One payload byte. */
export function payloadByte(ino: number, seq: number, fileOffset: number): number {
  const word = mix3(ino, seq, floor(fileOffset / 4));
  return (word >>> ((fileOffset & 3) * 8)) & 0xff;
}

/** Typed-array words are little-endian here, so a payload word can be stored whole (byte p & 3 is its byte p & 3). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([0x04030201]).buffer)[0] === 1;

/** Byte by byte: the reference, and the path for the unaligned head and tail. */
function fillPayloadBytes(dst: Uint8Array, from: number, to: number, ino: number, seq: number, fileOffset: number): void {
  let i = from;
  while (i < to) {
    const offset = fileOffset + i;
    const word = mix3(ino, seq, floor(offset / 4));
    let byteIndex = offset & 3;
    while (byteIndex < 4 && i < to) {
      dst[i] = (word >>> (byteIndex * 8)) & 0xff;
      byteIndex++;
      i++;
    }
  }
}

/**
 * Fills dst[0..length) with the payload of (ino, seq) starting at file offset
 * fileOffset. O(length). When dst's memory and the file offset share their
 * alignment modulo 4 (page buffers always do), the middle is stored a word at
 * a time: the replay with data spends much of its time here.
 */
export function fillPayload(dst: Uint8Array, ino: number, seq: number, fileOffset: number): void {
  const length = dst.length;
  const head = (4 - (fileOffset & 3)) & 3;
  if (!HOST_LITTLE_ENDIAN || length < head + 8 || ((dst.byteOffset + head) & 3) !== 0) {
    fillPayloadBytes(dst, 0, length, ino, seq, fileOffset);
    return;
  }
  fillPayloadBytes(dst, 0, head, ino, seq, fileOffset);
  const wordCount = (length - head) >>> 2;
  const words = new Uint32Array(dst.buffer, dst.byteOffset + head, wordCount);
  const firstWord = floor((fileOffset + head) / 4);
  // mix3(ino, seq, word) with the part that depends on (ino, seq) only worked out once.
  const fixed = imul(ino ^ 0x9e3779b9, 0x85ebca6b) ^ imul(seq ^ 0x7f4a7c15, 0xc2b2ae35);
  for (let index = 0; index < wordCount; index++) {
    let h = fixed ^ imul(firstWord + index, 0x27d4eb2f);
    h ^= h >>> 16;
    h = imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = imul(h, 0xc2b2ae35);
    words[index] = h ^ (h >>> 16);
  }
  fillPayloadBytes(dst, head + wordCount * 4, length, ino, seq, fileOffset);
}

/** Fills dst with the content `source` gives for the file bytes [fileOffset, fileOffset + dst.length). */
export function fillFromSource(dst: Uint8Array, source: ContentSource, fileOffset: number): void {
  switch (source.kind) {
    case 'zero':
      dst.fill(0);
      return;
    case 'fill':
      dst.fill(source.byte);
      return;
    case 'gen':
      fillPayload(dst, source.ino, source.seq, fileOffset + source.shift);
      return;
  }
}

/**
 * The expected bytes of [offset, offset+length) of a file whose content is
 * `ranges` (sorted, non-overlapping; gaps are zero). O(length + log ranges).
 */
export function expectedContent(ranges: readonly ContentRange[], offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const end = offset + length;
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const range = ranges[mid]!;
    if (range.offset + range.length <= offset) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < ranges.length; i++) {
    const range = ranges[i]!;
    if (range.offset >= end) break;
    const start = Math.max(range.offset, offset);
    const stop = Math.min(range.offset + range.length, end);
    if (stop > start) fillFromSource(out.subarray(start - offset, stop - offset), range.source, start);
  }
  return out;
}
