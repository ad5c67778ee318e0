/**
 * The seeded PRNG (one object per run, determinism) and the errno table
 * (kernel values from include/uapi/asm-generic/errno-base.h and errno.h).
 */
import { Errno, ErrnoError, errnoMessage, errnoName } from '../../src/util/errno.js';
import { Prng } from '../../src/util/prng.js';

function draw(prng: Prng, count: number): number[] {
  return Array.from({ length: count }, () => prng.nextU32());
}

describe('Prng', () => {
  test('the same seed gives the same sequence', () => {
    expect(draw(new Prng(42), 64)).toEqual(draw(new Prng(42), 64));
  });

  test('different seeds give different sequences', () => {
    expect(draw(new Prng(42), 8)).not.toEqual(draw(new Prng(43), 8));
  });

  test('derived generators are deterministic and independent of the parent afterwards', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const childA = a.derive();
    const childB = b.derive();
    expect(draw(childA, 16)).toEqual(draw(childB, 16));
    expect(draw(a, 4)).toEqual(draw(b, 4));
    expect(draw(new Prng(7).derive(), 4)).not.toEqual(draw(new Prng(7), 4));
  });

  test('nextU32 is an unsigned 32-bit integer, nextFloat in [0,1), nextInt in [0,bound)', () => {
    const prng = new Prng(123);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const u = prng.nextU32();
      expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
      const f = prng.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      const n = prng.nextInt(10);
      expect(Number.isInteger(n) && n >= 0 && n < 10).toBe(true);
      seen.add(n);
    }
    expect(seen.size).toBe(10); // every bucket is reachable
  });
});

describe('errno', () => {
  test('values are the Linux ones', () => {
    expect(Errno.ENOENT).toBe(2);
    expect(Errno.ENXIO).toBe(6);
    expect(Errno.EBADF).toBe(9);
    expect(Errno.ENOTBLK).toBe(15);
    expect(Errno.EINVAL).toBe(22);
    expect(Errno.ENOSPC).toBe(28);
    expect(Errno.EOPNOTSUPP).toBe(95);
    expect(Errno.EDQUOT).toBe(122);
  });

  test('names round-trip for every errno and are unique per value', () => {
    const values = Object.values(Errno);
    expect(new Set(values).size).toBe(values.length);
    for (const [name, value] of Object.entries(Errno)) expect(errnoName(value)).toBe(name);
  });

  test('unknown values get a generic E<n> name', () => {
    expect(errnoName(999)).toBe('E999');
  });

  test('ErrnoError carries the errno and strerror text', () => {
    const error = new ErrnoError(Errno.ENOSPC, 'write');
    expect(error.errno).toBe(28);
    expect(error.message).toBe('write: No space left on device');
    expect(errnoMessage(Errno.EOPNOTSUPP)).toBe('Operation not supported');
  });
});
