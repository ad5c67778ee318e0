/**
 * InodePages against a shadow model (a Map of page index -> {uptodate, dirty,
 * bytes}): random sequences of grab, fill, dirty, take (writeback), drop,
 * reclaim and shift over page indexes in the flat table, past it (chunks past
 * 4 GiB of file) and far past it, with data and dataless; after every step
 * the answers, the counts and checkValid agree.
 */
import fc from 'fast-check';
import { InodePages, PAGE_SIZE, PageAccounting } from '../../src/pagecache/pagecache.js';

interface ShadowPage {
  uptodate: number;
  dirty: number;
  /** The page's first byte as last written (data runs). */
  byte: number | undefined;
}

/** Page indexes: in a small flat table (dense: one pass takes its dirt), a larger one, near its end (2^20), in chunks past it, far away. */
const indexArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 60 }) },
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 2 ** 20 - 70, max: 2 ** 20 + 70 }),
  fc.integer({ min: 2 ** 33, max: 2 ** 33 + 200 }),
);

type Step =
  | { op: 'grab'; index: number }
  | { op: 'fill'; index: number; mask: number; byte: number }
  | { op: 'dirty'; index: number; mask: number }
  | { op: 'clean'; index: number }
  | { op: 'take'; start: number; end: number }
  | { op: 'drop'; start: number; length: number }
  | { op: 'reclaim' }
  | { op: 'shift'; from: number; delta: number };

const maskArb = fc.integer({ min: 1, max: 0b1111 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('grab' as const), index: indexArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('fill' as const), index: indexArb, mask: maskArb, byte: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('dirty' as const), index: indexArb, mask: maskArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clean' as const), index: indexArb }) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.record({ op: fc.constant('take' as const), start: fc.constant(0), end: fc.constant(Number.MAX_SAFE_INTEGER) }),
      fc.tuple(indexArb, fc.integer({ min: 1, max: 400 })).map(([start, length]) => ({ op: 'take' as const, start, end: start + length })),
    ),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), start: indexArb, length: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(2 ** 40)) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reclaim' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('shift' as const), from: indexArb, delta: fc.integer({ min: 1, max: 90 }) }) },
);

function run(steps: Step[], dataless: boolean): void {
  const accounting = new PageAccounting(dataless);
  const pages = new InodePages(1024, accounting);
  const shadow = new Map<number, ShadowPage>();
  let firstDirtyCalls = 0;
  pages.onDirty = () => firstDirtyCalls++;
  let expectedFirstDirty = 0;
  const dirtyCount = () => [...shadow.values()].filter((page) => page.dirty !== 0).length;
  const grab = (index: number): ShadowPage => {
    pages.grabIndex(index);
    let page = shadow.get(index);
    if (page === undefined) shadow.set(index, (page = { uptodate: 0, dirty: 0, byte: undefined }));
    return page;
  };
  for (const step of steps) {
    switch (step.op) {
      case 'grab':
        grab(step.index);
        break;
      case 'fill': {
        const page = grab(step.index);
        pages.addUptodate(step.index, step.mask);
        page.uptodate |= step.mask;
        if (!dataless) {
          pages.bytes(step.index)[0] = step.byte;
          page.byte = step.byte;
        }
        break;
      }
      case 'dirty': {
        const page = shadow.get(step.index);
        if (page === undefined) {
          expect(() => pages.markDirty(step.index, step.mask)).toThrow(/not cached/);
          break;
        }
        const mask = step.mask & page.uptodate;
        if (mask === 0) break;
        if (dirtyCount() === 0) expectedFirstDirty++;
        pages.markDirty(step.index, mask);
        page.dirty |= mask;
        break;
      }
      case 'clean':
        pages.clearDirty(step.index);
        if (shadow.has(step.index)) shadow.get(step.index)!.dirty = 0;
        break;
      case 'take': {
        const taken: [number, number][] = [];
        pages.takeDirty(step.start, step.end, (index, dirty) => taken.push([index, dirty]));
        const expected = [...shadow.entries()]
          .filter(([index, page]) => page.dirty !== 0 && index >= step.start && index < step.end)
          .sort((a, b) => a[0] - b[0])
          .map(([index, page]): [number, number] => [index, page.dirty]);
        expect(taken).toEqual(expected);
        for (const [index] of expected) shadow.get(index)!.dirty = 0;
        break;
      }
      case 'drop':
        pages.drop(step.start, step.start + step.length);
        for (const index of [...shadow.keys()]) if (index >= step.start && index < step.start + step.length) shadow.delete(index);
        break;
      case 'reclaim': {
        const clean = [...shadow.entries()].filter(([, page]) => page.dirty === 0).map(([index]) => index);
        expect(pages.dropClean()).toBe(clean.length);
        for (const index of clean) shadow.delete(index);
        break;
      }
      case 'shift': {
        const moved = [...shadow.entries()].filter(([index]) => index >= step.from);
        // Every dirty page moving takes the dirty list through empty: the VFS is told again.
        const dirtyMoved = moved.filter(([, page]) => page.dirty !== 0).length;
        if (dirtyMoved > 0 && dirtyMoved === dirtyCount()) expectedFirstDirty++;
        pages.shiftPages(step.from, step.delta);
        for (const [index] of moved) shadow.delete(index);
        for (const [index, page] of moved) shadow.set(index + step.delta, page);
        break;
      }
    }
    pages.checkValid();
    expect([pages.pageCount, pages.dirtyCount]).toEqual([shadow.size, dirtyCount()]);
    expect([accounting.pages, accounting.dirtyPages]).toEqual([shadow.size, dirtyCount()]);
    expect(firstDirtyCalls).toBe(expectedFirstDirty);
  }
  for (const [index, page] of shadow) {
    expect([pages.has(index), pages.uptodateOf(index), pages.dirtyOf(index)]).toEqual([true, page.uptodate, page.dirty]);
    if (!dataless && page.byte !== undefined) expect(pages.bytes(index)[0]).toBe(page.byte);
    if (dataless) expect(pages.bytes(index).length).toBe(PAGE_SIZE);
  }
  expect(pages.dirtyIndexesIn(0, Number.MAX_SAFE_INTEGER)).toEqual(
    [...shadow.entries()]
      .filter(([, page]) => page.dirty !== 0)
      .map(([index]) => index)
      .sort((a, b) => a - b),
  );
}

describe('InodePages matches a shadow model over random operations', () => {
  test.each([
    ['with data', false],
    ['dataless', true],
  ])('%s', (_name, dataless) => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), (steps) => run(steps, dataless)),
      { numRuns: 100, seed: dataless ? 6 : 5 },
    );
  });
});
