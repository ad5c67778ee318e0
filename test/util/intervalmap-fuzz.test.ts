/**
 * IntervalMap against the sorted-btree implementation it replaced
 * (intervalmap-reference.ts): long seeded runs of random sets, removals,
 * hole inserts, merges and shifts over thousands of intervals (many leaves,
 * so leaf splits and joins happen), comparing every answer and the whole
 * content after each step.
 */
import { IntervalMap, type IntervalEntry, type IntervalTraits } from '../../src/util/intervalmap.js';
import { Prng } from '../../src/util/prng.js';
import { ReferenceIntervalMap } from './intervalmap-reference.js';

interface Run {
  tag: number;
  base: number;
}

const MAX_MERGED = 40;

const traits: IntervalTraits<Run> = {
  sliceValue: (value, start, cutAt) => ({ tag: value.tag, base: value.base + (cutAt - start) }),
  canMerge: (left, leftStart, leftEnd, right, rightEnd) =>
    left.tag === right.tag && left.base + (leftEnd - leftStart) === right.base && rightEnd - leftStart <= MAX_MERGED,
  // Merging needs equal tags: the map may skip canMerge when the tags differ.
  mergeKey: (value) => value.tag,
  classOf: (value) => value.tag,
  classCount: 3,
};

/** The same traits without merge keys: the map's key arrays then stay zero and are never moved. */
const { mergeKey: _unused, ...unkeyedTraits } = traits;

/** A Run as one number (tag * RUN_TAG + base), as the extent maps pack theirs. */
const RUN_TAG = 1e7;
const packRun = (run: Run): number => run.tag * RUN_TAG + run.base;
const unpackRun = (value: number): Run => ({ tag: Math.floor(value / RUN_TAG), base: value % RUN_TAG });
const unpackEntry = (entry: IntervalEntry<number>): IntervalEntry<Run> => ({ start: entry.start, end: entry.end, value: unpackRun(entry.value) });
const unpackEntries = (entries: IntervalEntry<number>[]): IntervalEntry<Run>[] => entries.map(unpackEntry);

/** The traits of packed runs: numeric values, kept in the map's typed arrays. */
const numericTraits: IntervalTraits<number> = {
  sliceValue: (value, start, cutAt) => value + (cutAt - start),
  canMerge: (left, leftStart, leftEnd, right, rightEnd) => traits.canMerge(unpackRun(left), leftStart, leftEnd, unpackRun(right), rightEnd),
  mergeKey: (value) => Math.floor(value / RUN_TAG),
  classOf: (value) => Math.floor(value / RUN_TAG),
  classCount: 3,
  numericValues: true,
};

/** An IntervalMap of packed runs, seen as a map of runs: what the fuzz steps call. */
class PackedRunMap {
  readonly map = new IntervalMap<number>(numericTraits);
  get size(): number {
    return this.map.size;
  }
  set(start: number, end: number, value: Run) {
    return unpackEntries(this.map.set(start, end, packRun(value)));
  }
  assign(start: number, end: number, value: Run): void {
    this.map.assign(start, end, packRun(value));
  }
  remove(start: number, end: number) {
    return unpackEntries(this.map.remove(start, end));
  }
  erase(start: number, end: number): void {
    this.map.erase(start, end);
  }
  insertIntoHole(start: number, end: number, value: Run): boolean {
    return this.map.insertIntoHole(start, end, packRun(value));
  }
  mergeAt(point: number): void {
    this.map.mergeAt(point);
  }
  shiftFrom(from: number, delta: number): void {
    this.map.shiftFrom(from, delta);
  }
  collect(start: number, end: number) {
    return unpackEntries(this.map.collect(start, end));
  }
  forEachOverlap(start: number, end: number, visit: (entry: IntervalEntry<Run>) => void): void {
    this.map.forEachOverlap(start, end, (entry) => visit(unpackEntry(entry)));
  }
  find(point: number) {
    const found = this.map.find(point);
    return found && unpackEntry(found);
  }
  findFrom(point: number) {
    const found = this.map.findFrom(point);
    return found && unpackEntry(found);
  }
  findBefore(point: number) {
    const found = this.map.findBefore(point);
    return found && unpackEntry(found);
  }
  entries() {
    return [...this.map.entries()].map(unpackEntry);
  }
  countOfClass(valueClass: number): number {
    return this.map.countOfClass(valueClass);
  }
  checkValid(): void {
    this.map.checkValid();
  }
}

/** What the steps use of a map of runs. */
type RunMap = Pick<IntervalMap<Run>, 'set' | 'assign' | 'remove' | 'erase' | 'insertIntoHole' | 'mergeAt' | 'shiftFrom' | 'collect' | 'forEachOverlap' | 'find' | 'findFrom' | 'findBefore' | 'countOfClass' | 'checkValid' | 'size'> & {
  entries(): Iterable<IntervalEntry<Run>>;
};

type Row = [number, number, number, number];

function rows(entries: Iterable<IntervalEntry<Run>> | undefined): Row[] {
  return [...(entries ?? [])].map((entry) => [entry.start, entry.end, entry.value.tag, entry.value.base]);
}

function row(entry: IntervalEntry<Run> | undefined): Row | undefined {
  return entry === undefined ? undefined : rows([entry])[0];
}

/** One random operation applied to both maps; returns what each answered. */
function step(random: Prng, span: number, map: RunMap, reference: ReferenceIntervalMap<Run>): [unknown, unknown] {
  const start = random.nextInt(span);
  const length = 1 + random.nextInt(random.nextInt(4) === 0 ? 200 : 12);
  const value = (): Run => ({ tag: random.nextInt(3), base: start + random.nextInt(2) * 1000 });
  switch (random.nextInt(14)) {
    case 12:
    case 13: {
      // An overwrite of exactly one interval (the in-place path of set and assign).
      const found = reference.find(start);
      if (found === undefined) return [0, 0];
      const v = { tag: random.nextInt(3), base: found.start + random.nextInt(2) * 1000 };
      if (random.nextInt(2) === 0) return [rows(map.set(found.start, found.end, v)), rows(reference.set(found.start, found.end, v))];
      map.assign(found.start, found.end, v);
      reference.set(found.start, found.end, v);
      return [0, 0];
    }
    case 0:
    case 1:
    case 2: {
      const v = value();
      return [rows(map.set(start, start + length, v)), rows(reference.set(start, start + length, v))];
    }
    case 3: {
      const v = value();
      map.assign(start, start + length, v);
      reference.set(start, start + length, v);
      return [0, 0];
    }
    case 4:
      return [rows(map.remove(start, start + length)), rows(reference.remove(start, start + length))];
    case 5: {
      const v = value();
      return [map.insertIntoHole(start, start + length, v), reference.insertIntoHole(start, start + length, v)];
    }
    case 6:
      map.mergeAt(start);
      reference.mergeAt(start);
      return [0, 0];
    case 7: {
      // Collapse: clear [start, start+length) first, as the policies do, then close the gap.
      map.erase(start, start + length);
      reference.remove(start, start + length);
      map.shiftFrom(start + length, -length);
      reference.shiftFrom(start + length, -length);
      return [0, 0];
    }
    case 8:
      map.shiftFrom(start, length);
      reference.shiftFrom(start, length);
      return [0, 0];
    case 9:
      return [rows(map.collect(start, start + length)), rows(reference.collect(start, start + length))];
    case 10: {
      const seen: Row[] = [];
      const seenReference: Row[] = [];
      map.forEachOverlap(start, start + length, (entry) => seen.push(row(entry)!));
      reference.forEachOverlap(start, start + length, (entry) => seenReference.push(row(entry)!));
      return [seen, seenReference];
    }
    default:
      return [
        [row(map.find(start)), row(map.findFrom(start)), row(map.findBefore(start))],
        [row(reference.find(start)), row(reference.findFrom(start)), row(reference.findBefore(start))],
      ];
  }
}

function compareRun(seed: number, steps: number, span: number, mapTraits: IntervalTraits<Run> = traits, packed = false): void {
  const random = new Prng(seed);
  const map: RunMap = packed ? new PackedRunMap() : new IntervalMap(mapTraits);
  const reference = new ReferenceIntervalMap(mapTraits);
  for (let index = 0; index < steps; index++) {
    const [got, expected] = step(random, span, map, reference);
    expect({ index, answer: got }).toEqual({ index, answer: expected });
    if (index % 97 === 0 || index === steps - 1) {
      map.checkValid();
      expect(rows(map.entries())).toEqual(rows(reference.entries()));
      expect(map.size).toBe(reference.size);
      for (let tag = 0; tag < 3; tag++) expect(map.countOfClass(tag)).toBe(reference.countOfClass(tag));
    }
  }
}

describe('IntervalMap matches the sorted-btree reference', () => {
  test.each([1, 2, 3])('seed %i over a wide key space (thousands of intervals, many leaves)', (seed) => {
    compareRun(seed, 6000, 20000);
  });

  test.each([11, 12])('seed %i over a narrow key space (heavy splitting and merging)', (seed) => {
    compareRun(seed, 6000, 600);
  });

  test.each([21, 22])('seed %i without merge keys (every canMerge asked)', (seed) => {
    compareRun(seed, 6000, 2000, unkeyedTraits);
  });

  test.each([31, 32])('seed %i with numeric values (kept in the typed arrays beside the bounds)', (seed) => {
    compareRun(seed, 6000, 5000, traits, true);
  });

  test('removing everything of a large map in one call empties it', () => {
    const map = new IntervalMap(traits);
    for (let start = 0; start < 5000; start += 2) map.set(start, start + 1, { tag: start % 3, base: start * 7 });
    expect(map.size).toBe(2500);
    const removed = map.remove(1, 4999);
    expect(removed.length).toBe(2499);
    expect(rows(map.entries())).toEqual([[0, 1, 0, 0]]);
    map.checkValid();
    map.clear();
    expect(map.size).toBe(0);
    expect(map.findFrom(0)).toBeUndefined();
  });
});
