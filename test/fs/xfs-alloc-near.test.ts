/**
 * XfsAllocator's near allocation without busy extents finds its answer from
 * three runs (the one holding the target, the nearest long-enough one on each
 * side) and its lengths by binary search over first fits. It must give what
 * the scan over every free piece of the AG gives (nearByScan, the way it
 * still works while freed extents are busy): random fragmented free space
 * across AG edges and buckets, random targets, lengths and data kinds.
 */
import fc from 'fast-check';
import { FreeSpace } from '../../src/alloc/freespace.js';
import { BusyExtents, XfsAllocator, type XfsAllocRequest, type XfsAllocResult } from '../../src/fs/xfs/alloc.js';
import type { XfsGeometry } from '../../src/fs/xfs/geometry.js';

type Near = (agno: number, request: XfsAllocRequest, minlen: number, maxlen: number) => XfsAllocResult | undefined;

interface Internals {
  near: Near;
  nearByScan: Near;
  longestAtLeast(agno: number, enough: number): number;
}

const AG_BLOCKS = 6000;
const AG_COUNT = 3;

function allocatorOver(free: FreeSpace): Internals {
  const geometry = { blocksCount: AG_BLOCKS * AG_COUNT, agBlocks: AG_BLOCKS, agCount: AG_COUNT, agMaxUsable: AG_BLOCKS - 8 } as XfsGeometry;
  return new XfsAllocator(free, geometry, new BusyExtents()) as unknown as Internals;
}

/** Used runs laid over a free device: [start, length] pairs. */
const usedArb = fc.array(fc.tuple(fc.integer({ min: 0, max: AG_BLOCKS * AG_COUNT - 1 }), fc.integer({ min: 1, max: 400 })), { maxLength: 120 });

function fragmented(used: [number, number][]): FreeSpace {
  const free = new FreeSpace(AG_BLOCKS * AG_COUNT);
  for (const [start, length] of used) {
    for (let block = start; block < Math.min(start + length, free.totalBlocks); block++) if (free.isFree(block, 1)) free.markUsed(block, 1);
  }
  return free;
}

describe('XFS near allocation without busy extents = the scan over every free piece', () => {
  test('random free space, targets and lengths', () => {
    fc.assert(
      fc.property(
        usedArb,
        fc.array(
          fc.record({
            agno: fc.integer({ min: 0, max: AG_COUNT - 1 }),
            offset: fc.integer({ min: 0, max: AG_BLOCKS - 1 }),
            minlen: fc.integer({ min: 1, max: 64 }),
            extra: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 65, max: 5000 })),
            userdata: fc.boolean(),
          }),
          { minLength: 1, maxLength: 25 },
        ),
        (used, requests) => {
          const allocator = allocatorOver(fragmented(used));
          for (const { agno, offset, minlen, extra, userdata } of requests) {
            const maxlen = minlen + extra;
            const request: XfsAllocRequest = { targetBlock: agno * AG_BLOCKS + offset, minlen, maxlen, userdata };
            expect(allocator.near(agno, request, minlen, maxlen)).toEqual(allocator.nearByScan(agno, request, minlen, maxlen));
          }
        },
      ),
      { numRuns: 300, seed: 41 },
    );
  });

  test.each([true, false])('a tie in distance goes to the later record in cntbt order: the higher of two equal pieces (userdata %s)', (userdata) => {
    const free = new FreeSpace(AG_BLOCKS * AG_COUNT);
    free.markUsed(0, 100);
    free.markUsed(110, 90);
    free.markUsed(210, AG_BLOCKS * AG_COUNT - 210);
    const allocator = allocatorOver(free);
    const request: XfsAllocRequest = { targetBlock: 150, minlen: 10, maxlen: 10, userdata };
    // [100, 110) and [200, 210) both land 50 blocks from the target.
    expect(allocator.nearByScan(0, request, 10, 10)).toEqual({ physBlock: 200, blockCount: 10 });
    expect(allocator.near(0, request, 10, 10)).toEqual({ physBlock: 200, blockCount: 10 });
  });

  test('the longest free run of an AG up to a bound, by binary search, is the longest run clipped to the AG', () => {
    fc.assert(
      fc.property(usedArb, fc.integer({ min: 0, max: AG_COUNT - 1 }), fc.integer({ min: 1, max: 8000 }), (used, agno, enough) => {
        const free = fragmented(used);
        const [, longest] = free.longestRun(agno * AG_BLOCKS, (agno + 1) * AG_BLOCKS);
        expect(allocatorOver(free).longestAtLeast(agno, enough)).toBe(Math.min(longest, enough));
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  test('lastFitBefore: the highest run ending by the limit with room from the low bound on', () => {
    fc.assert(
      fc.property(usedArb, fc.integer({ min: 1, max: AG_BLOCKS * AG_COUNT }), fc.integer({ min: 1, max: 500 }), fc.integer({ min: 0, max: AG_BLOCKS * AG_COUNT }), (used, limit, count, low) => {
        const free = fragmented(used);
        let expected: [number, number] | undefined;
        for (const [start, length] of free.freeRuns()) {
          const end = start + length;
          if (end <= limit && end - Math.max(start, low) >= count) expected = [start, end];
        }
        expect(free.lastFitBefore(limit, count, low)).toEqual(expected);
      }),
      { numRuns: 300, seed: 43 },
    );
  });
});
