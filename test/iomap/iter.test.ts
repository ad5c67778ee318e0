/**
 * iomapIterate: the iomap_iter loop (fs/iomap/iter.c) with hand-written ops.
 * Pins iomap_iter_done's mapping checks, the trim to the request and to
 * srcmap, the iomap_end arguments (start, length, written), how begin and
 * end errors surface, and the stop/remap rules (no progress stops unless the
 * mapping is IOMAP_F_STALE).
 */
import { doneOrThrow, iomapIterate, type IomapIter } from '../../src/iomap/iter.js';
import type { IomapOps } from '../../src/iomap/ops.js';
import { IomapFlag, IomapType } from '../../src/iomap/types.js';
import { InvariantError } from '../../src/util/assert.js';
import { Errno, ErrnoError } from '../../src/util/errno.js';
import { makeCore, mapping, recordingOps } from './helpers.js';

const KiB = 1024;

describe('iomap_iter_done: the mapping must cover pos', () => {
  const { inode } = makeCore();
  const cases: [string, number, number][] = [
    ['starts after pos', 8 * KiB, 4 * KiB],
    ['ends at pos', 0, 4 * KiB],
    ['is empty', 4 * KiB, 0],
  ];
  test.each(cases)('a mapping that %s is an InvariantError', (_name, offset, length) => {
    const { ops } = recordingOps(() => mapping(IomapType.Hole, offset, length));
    expect(() => iomapIterate(inode, 4 * KiB, 4 * KiB, 0, ops, (iter) => iter.length)).toThrow(InvariantError);
  });

  test('a srcmap that does not cover pos is an InvariantError too', () => {
    const { ops } = recordingOps(() => ({
      iomap: mapping(IomapType.Delalloc, 0, 64 * KiB, -1, IomapFlag.Shared),
      srcmap: mapping(IomapType.Mapped, 16 * KiB, 4 * KiB, 0),
    }));
    expect(() => iomapIterate(inode, 4 * KiB, 4 * KiB, 0, ops, (iter) => iter.length)).toThrow(InvariantError);
  });

  test('an actor that advances past its span is an InvariantError', () => {
    const { ops } = recordingOps(() => mapping(IomapType.Hole, 0, 4 * KiB));
    expect(() => iomapIterate(inode, 0, 4 * KiB, 0, ops, (iter) => iter.length + 1)).toThrow(InvariantError);
  });
});

describe('trimming', () => {
  test('a mapping larger than the request is trimmed to it on both sides', () => {
    const { inode } = makeCore();
    const { ops } = recordingOps(() => mapping(IomapType.Mapped, 0, 1024 * KiB, 0));
    const spans: [number, number][] = [];
    const result = iomapIterate(inode, 10_000, 5_000, 0, ops, (iter) => {
      spans.push([iter.pos, iter.length]);
      return iter.length;
    });
    expect(spans).toEqual([[10_000, 5_000]]);
    expect(result).toEqual({ done: 5_000, errno: 0 });
  });

  test('a shorter srcmap trims the span; the actor reads from srcmap', () => {
    const { inode } = makeCore();
    const destination = mapping(IomapType.Delalloc, 0, 64 * KiB, -1, IomapFlag.Shared);
    const source = mapping(IomapType.Mapped, 0, 12 * KiB, 1 << 20);
    const { ops, begins } = recordingOps((pos) =>
      pos < 12 * KiB ? { iomap: destination, srcmap: source } : { iomap: mapping(IomapType.Delalloc, 12 * KiB, 52 * KiB, -1) },
    );
    const seen: IomapIter[] = [];
    iomapIterate(inode, 4 * KiB, 16 * KiB, 0, ops, (iter) => {
      seen.push({ ...iter });
      return iter.length;
    });
    expect(seen[0]!.length).toBe(8 * KiB);
    expect(seen[0]!.srcmap).toBe(source);
    expect(seen[0]!.iomap).toBe(destination);
    expect(begins.map((call) => call.pos)).toEqual([4 * KiB, 12 * KiB]);
    // No srcmap (or a HOLE srcmap): the read source is the mapping itself (iomap_iter_srcmap).
    expect(seen[1]!.srcmap).toBe(seen[1]!.iomap);
  });

  test('a HOLE srcmap means "no separate source"', () => {
    const { inode } = makeCore();
    const destination = mapping(IomapType.Mapped, 0, 8 * KiB, 0);
    const { ops } = recordingOps(() => ({ iomap: destination, srcmap: mapping(IomapType.Hole, 0, 4 * KiB) }));
    let sawLength = 0;
    iomapIterate(inode, 0, 8 * KiB, 0, ops, (iter) => {
      expect(iter.srcmap).toBe(destination);
      sawLength = iter.length;
      return iter.length;
    });
    expect(sawLength).toBe(8 * KiB); // the hole srcmap did not trim
  });
});

describe('iomap_end arguments', () => {
  test('end gets (start of this mapping\'s processing, trimmed length, bytes advanced) and the op flags', () => {
    const { inode } = makeCore();
    const { ops, begins, ends } = recordingOps((pos) => mapping(IomapType.Mapped, Math.floor(pos / (8 * KiB)) * 8 * KiB, 8 * KiB, 0));
    // The actor takes at most 3 KiB per call; the loop goes on as long as progress is made.
    const result = iomapIterate(inode, 2 * KiB, 10 * KiB, 5, ops, (iter) => Math.min(iter.length, 3 * KiB));
    expect(result).toEqual({ done: 10 * KiB, errno: 0 });
    expect(ends).toEqual([
      { pos: 2 * KiB, length: 6 * KiB, written: 3 * KiB, flags: 5 },
      { pos: 5 * KiB, length: 3 * KiB, written: 3 * KiB, flags: 5 },
      { pos: 8 * KiB, length: 4 * KiB, written: 3 * KiB, flags: 5 },
      { pos: 11 * KiB, length: 1 * KiB, written: 1 * KiB, flags: 5 },
    ]);
    expect(begins.map((call) => [call.pos, call.length])).toEqual([
      [2 * KiB, 10 * KiB],
      [5 * KiB, 7 * KiB],
      [8 * KiB, 4 * KiB],
      [11 * KiB, 1 * KiB],
    ]);
  });

  test('the end hook sees the core-set flags the actor put on the mapping', () => {
    const { inode } = makeCore();
    let endFlags = 0;
    const ops: IomapOps = {
      iomapBegin: () => ({ iomap: mapping(IomapType.Delalloc, 0, 4 * KiB, -1, IomapFlag.New) }),
      iomapEnd: (_inode, _pos, _length, _written, _flags, iomap) => {
        endFlags = iomap.flags;
      },
    };
    iomapIterate(inode, 0, 4 * KiB, 0, ops, (iter) => {
      iter.iomap.flags |= IomapFlag.SizeChanged;
      return iter.length;
    });
    expect(endFlags).toBe(IomapFlag.New | IomapFlag.SizeChanged);
  });
});

describe('errors', () => {
  test('a begin error with nothing done is returned; no end runs for it', () => {
    const { inode } = makeCore();
    const ops: IomapOps = {
      iomapBegin: () => {
        throw new ErrnoError(Errno.ENOSPC, 'test');
      },
      iomapEnd: () => {
        throw new Error('end must not run after a failed begin');
      },
    };
    const result = iomapIterate(inode, 0, 4 * KiB, 0, ops, (iter) => iter.length);
    expect(result).toEqual({ done: 0, errno: Errno.ENOSPC });
    expect(() => doneOrThrow(result, 'x')).toThrow(ErrnoError);
  });

  test('a begin error after progress gives a short count', () => {
    const { inode } = makeCore();
    const { ops } = recordingOps((pos) => {
      if (pos >= 8 * KiB) throw new ErrnoError(Errno.ENOSPC, 'test');
      return mapping(IomapType.Mapped, 0, 8 * KiB, 0);
    });
    const result = iomapIterate(inode, 0, 16 * KiB, 0, ops, (iter) => iter.length);
    expect(result).toEqual({ done: 8 * KiB, errno: Errno.ENOSPC });
    expect(doneOrThrow(result, 'x')).toBe(8 * KiB);
  });

  test('a non-errno exception from begin or the actor is a bug and propagates', () => {
    const { inode } = makeCore();
    const { ops } = recordingOps(() => {
      throw new TypeError('boom');
    });
    expect(() => iomapIterate(inode, 0, 4 * KiB, 0, ops, (iter) => iter.length)).toThrow(TypeError);
    const { ops: fine } = recordingOps(() => mapping(IomapType.Hole, 0, 4 * KiB));
    expect(() =>
      iomapIterate(inode, 0, 4 * KiB, 0, fine, () => {
        throw new RangeError('actor bug');
      }),
    ).toThrow(RangeError);
  });

  test('an actor errno stops the loop; end still runs with written 0', () => {
    const { inode } = makeCore();
    const { ops, ends } = recordingOps((pos) => mapping(IomapType.Mapped, pos, 4 * KiB, 0));
    const result = iomapIterate(inode, 0, 12 * KiB, 0, ops, (iter) => {
      if (iter.pos >= 4 * KiB) throw new ErrnoError(Errno.EIO, 'test');
      return iter.length;
    });
    expect(result).toEqual({ done: 4 * KiB, errno: Errno.EIO });
    expect(ends.map((call) => call.written)).toEqual([4 * KiB, 0]);
  });

  test('an end error counts only when the mapping advanced nothing', () => {
    const { inode } = makeCore();
    const failingEnd = (answer: number) => {
      const ops: IomapOps = {
        iomapBegin: (_inode, pos) => ({ iomap: mapping(IomapType.Mapped, pos, 4 * KiB, 0) }),
        iomapEnd: () => {
          throw new ErrnoError(Errno.ENOTBLK, 'test');
        },
      };
      return iomapIterate(inode, 0, 8 * KiB, 0, ops, (iter) => Math.min(answer, iter.length));
    };
    // Progress on every mapping: the end errors are swallowed and the whole range is done.
    expect(failingEnd(4 * KiB)).toEqual({ done: 8 * KiB, errno: 0 });
    // No progress: the end error is the result.
    expect(failingEnd(0)).toEqual({ done: 0, errno: Errno.ENOTBLK });
  });
});

describe('stop and remap', () => {
  test('no progress on a mapping that is not stale ends the walk (short return)', () => {
    const { inode } = makeCore();
    const { ops, begins } = recordingOps((pos) => mapping(IomapType.Hole, pos, 4 * KiB));
    const result = iomapIterate(inode, 0, 16 * KiB, 0, ops, () => 0);
    expect(result).toEqual({ done: 0, errno: 0 });
    expect(begins).toHaveLength(1);
  });

  test('a stale mapping is mapped again at the same pos', () => {
    const { inode } = makeCore();
    const { ops, begins } = recordingOps((pos, _length, _flags, call) =>
      mapping(call === 0 ? IomapType.Unwritten : IomapType.Mapped, pos, 16 * KiB, 0),
    );
    const types: IomapType[] = [];
    const result = iomapIterate(inode, 0, 16 * KiB, 0, ops, (iter) => {
      types.push(iter.iomap.type);
      if (iter.iomap.type === IomapType.Unwritten) {
        iter.iomap.flags |= IomapFlag.Stale;
        return 0;
      }
      return iter.length;
    });
    expect(result).toEqual({ done: 16 * KiB, errno: 0 });
    expect(types).toEqual([IomapType.Unwritten, IomapType.Mapped]);
    expect(begins.map((call) => call.pos)).toEqual([0, 0]);
  });

  test('a mapping that stays stale forever is caught as a livelock', () => {
    const { inode } = makeCore();
    const { ops } = recordingOps((pos) => mapping(IomapType.Mapped, pos, 4 * KiB, 0, IomapFlag.Stale));
    expect(() => iomapIterate(inode, 0, 4 * KiB, 0, ops, () => 0)).toThrow(/stale mapping remapped too often/);
  });

  test('a zero-length request calls nothing', () => {
    const { inode } = makeCore();
    const { ops, begins } = recordingOps(() => mapping(IomapType.Hole, 0, 4 * KiB));
    expect(iomapIterate(inode, 0, 0, 0, ops, (iter) => iter.length)).toEqual({ done: 0, errno: 0 });
    expect(begins).toHaveLength(0);
  });
});
