/**
 * fillPayload (word-at-a-time in the aligned middle) against payloadByte, the
 * byte-wise definition: every alignment of buffer and file offset, lengths
 * around the word boundaries, and offsets beyond 2^32 (words wrap mod 2^32).
 */
import { describe, expect, it } from '@jest/globals';
import { expectedContent, fillPayload, payloadByte } from '../../src/image/payload.js';
import { Prng } from '../../src/util/prng.js';

function reference(length: number, ino: number, seq: number, fileOffset: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = payloadByte(ino, seq, fileOffset + i);
  return out;
}

describe('fillPayload', () => {
  it('equals payloadByte for every buffer alignment, offset alignment and short length', () => {
    const backing = new Uint8Array(64 + 8);
    for (let bufferShift = 0; bufferShift < 4; bufferShift++) {
      for (let offsetShift = 0; offsetShift < 4; offsetShift++) {
        for (let length = 0; length <= 64; length++) {
          const dst = backing.subarray(bufferShift, bufferShift + length);
          dst.fill(0xee);
          const fileOffset = 4096 * 3 + offsetShift;
          fillPayload(dst, 17, 5, fileOffset);
          expect(Array.from(dst)).toEqual(Array.from(reference(length, 17, 5, fileOffset)));
        }
      }
    }
  });

  it('equals payloadByte on seeded random pages, inodes, sequences and offsets (also past 2^32 words)', () => {
    const prng = new Prng(0x5eed);
    for (let trial = 0; trial < 200; trial++) {
      const length = 1 + (prng.nextU32() % 9000);
      const fileOffset = trial % 5 === 0 ? 2 ** 35 + (prng.nextU32() % 4096) : prng.nextU32() % (1 << 30);
      const ino = prng.nextU32();
      const seq = prng.nextU32() % 100000;
      const backing = new Uint8Array(length + 4);
      const dst = backing.subarray(prng.nextU32() % 4, (prng.nextU32() % 4) + length).subarray(0, length);
      fillPayload(dst, ino, seq, fileOffset);
      expect(Buffer.from(dst).equals(Buffer.from(reference(dst.length, ino, seq, fileOffset)))).toBe(true);
    }
  });

  it('leaves bytes outside dst alone', () => {
    const backing = new Uint8Array(4096 + 16).fill(0xab);
    fillPayload(backing.subarray(5, 4096 + 7), 3, 9, 1);
    expect(backing.subarray(0, 5).every((byte) => byte === 0xab)).toBe(true);
    expect(backing.subarray(4096 + 7).every((byte) => byte === 0xab)).toBe(true);
  });

  it('expectedContent of a gen range is the same bytes', () => {
    const ranges = [{ offset: 10, length: 5000, source: { kind: 'gen' as const, ino: 4, seq: 2, shift: 3 } }];
    const got = expectedContent(ranges, 0, 6000);
    const want = new Uint8Array(6000);
    want.set(reference(5000, 4, 2, 13), 10);
    expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
  });
});
