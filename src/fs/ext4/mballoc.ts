/**
 * ext4's multiblock allocator (fs/ext4/mballoc.c), modelled at the level the
 * kernel's layouts show: group vs inode preallocation (ext4_mb_group_or_file),
 * request normalisation (ext4_mb_normalize_request), the exact goal try when
 * merging with a neighbour, stream allocation from the per-inode-hash last
 * group, the power-of-two buddy criterion that skips the first group of a
 * flex group for data, and first fit otherwise. Placement is checked against
 * the conformance corpus (docs/conformance.md); CPU-dependent locality-group
 * windows are modelled for one CPU.
 */
import type { FreeSpace } from '../../alloc/freespace.js';
import { assert } from '../../util/assert.js';
import { BTree } from '../../util/btree.js';
import { EXT4_FLEX_BG_SIZE, type Ext4Geometry } from './geometry.js';

/** mb_stream_req: files up to this many blocks use locality-group preallocation. */
export const MB_STREAM_REQ_BLOCKS = 16;
/** mb_group_prealloc: size of a locality-group window. */
export const MB_GROUP_PREALLOC_BLOCKS = 512;
/** s_mb_order2_reqs: the buddy criterion needs fls(len) >= this. */
const MB_ORDER2_REQS = 2;

/** An inode preallocation: logical [logicalStart, +length) maps to physical [physStart, +length). */
export interface InodePa {
  logicalStart: number;
  physStart: number;
  length: number;
  /** taken[i] is 1 once logical block logicalStart + i has been handed to the file (the PA's pa_free, per block). */
  taken: Uint8Array;
  /** Blocks handed out (the 1s of `taken`). */
  consumedBlocks: number;
}

/**
 * An inode's preallocations, ordered by logical start (the per-inode PA
 * rbtree of ext4 since 6.4): O(log n) lookup of the PA covering a block and
 * of the neighbours that clip a normalised window.
 */
export class InodePaList {
  private readonly tree = new BTree<number, InodePa>();
  /** Scratch pair of lookups (read within the call that filled it). */
  private readonly pair: [number, InodePa | undefined] = [0, undefined];
  /** Blocks held by these PAs and not handed out. */
  unconsumed = 0;

  get size(): number {
    return this.tree.size;
  }

  /** The PA whose logical range contains `logical`. */
  containing(logical: number): InodePa | undefined {
    const pair = this.tree.getPairOrNextLower(logical, this.pair as [number, InodePa]);
    if (!pair) return undefined;
    const pa = pair[1];
    pair[1] = undefined as unknown as InodePa; // the scratch pair holds no PA after the call
    return logical < pa.logicalStart + pa.length ? pa : undefined;
  }

  /** The nearest PA wholly before `logical`, and the nearest starting after it. */
  around(logical: number): { before?: InodePa; after?: InodePa } {
    const lower = this.tree.getPairOrNextLower(logical);
    const higher = this.tree.nextHigherPair(logical);
    return { before: lower?.[1], after: higher?.[1] };
  }

  add(pa: InodePa): void {
    assert(!this.tree.has(pa.logicalStart), 'ext4 PA list: two PAs at one logical start', pa);
    this.tree.set(pa.logicalStart, pa);
    this.unconsumed += pa.length - consumedCount(pa);
  }

  /** Hands out [logical, +count) of `pa`; a PA with nothing left leaves the list. */
  consume(pa: InodePa, logical: number, count: number): void {
    consume(pa, logical, count);
    this.unconsumed -= count;
    if (consumedCount(pa) === pa.length) this.tree.delete(pa.logicalStart);
  }

  values(): IterableIterator<InodePa> {
    return this.tree.values();
  }

  clear(): void {
    this.tree.clear();
    this.unconsumed = 0;
  }
}

/** A locality-group window: blocks are handed out in order from `physStart + used`. */
interface GroupPa {
  physStart: number;
  length: number;
  used: number;
}

export interface MbRequest {
  ino: number;
  /** First logical block and block count wanted. */
  logical: number;
  count: number;
  /** i_size in blocks (rounded up). */
  isizeBlocks: number;
  openForWrite: boolean;
  /** fallocate: EXT4_GET_BLOCKS_NO_NORMALIZE. */
  noNormalize: boolean;
  /** ext4_ext_find_goal: where the nearest extent would continue, or the inode's goal block. */
  goalPhys: number;
  /** Left neighbour extent (logical end, physical end), for the merge-left goal. */
  leftEnd?: { logical: number; physical: number };
  /** Right neighbour extent start, for the merge-right goal. */
  rightStart?: { logical: number; physical: number };
  /** The inode's PAs (mutated). */
  pas: InodePaList;
  /** Logical windows of the file already mapped (for clipping the normalised window). */
  mappedAround: (logical: number) => { leftEnd: number; rightStart: number };
}

export interface MbResult {
  physBlock: number;
  blockCount: number;
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}

function fls(value: number): number {
  return value <= 0 ? 0 : 32 - Math.clz32(value);
}

export class Ext4Mballoc {
  private readonly groupPas: GroupPa[] = [];
  /** s_mb_last_groups: stream allocation goal per inode hash. */
  private readonly lastGroups: number[];

  constructor(
    private readonly free: FreeSpace,
    private readonly geometry: Ext4Geometry,
    cpuCount = 2,
  ) {
    this.lastGroups = new Array(Math.max(1, Math.min(cpuCount, Math.ceil(geometry.groupCount / 4)))).fill(0);
  }

  /** Blocks held by preallocations but not handed to any file (they count as free for ENOSPC checks). */
  preallocatedFreeBlocks(pas: Iterable<InodePaList>): number {
    let total = 0;
    for (const pa of this.groupPas) total += pa.length - pa.used;
    for (const list of pas) total += list.unconsumed;
    return total;
  }

  /**
   * ext4_mb_use_preallocated for the inode's PAs alone: up to `count` blocks at
   * `logical` from a PA covering it, else undefined. What allocate() tries
   * first; a caller may try it before building a whole request.
   */
  allocateFromInodePa(pas: InodePaList, logical: number, count: number): MbResult | undefined {
    return this.useInodePa({ pas, logical, count });
  }

  /** ext4_mb_new_blocks: allocate up to req.count blocks at req.logical. Returns undefined on ENOSPC. */
  allocate(req: MbRequest): MbResult | undefined {
    const fromInodePa = this.useInodePa(req);
    if (fromInodePa) return fromInodePa;
    const end = req.logical + req.count;
    const inodePaEligible = !(end === req.isizeBlocks && !req.openForWrite);
    const size = Math.max(end, req.isizeBlocks);
    if (size <= MB_STREAM_REQ_BLOCKS) return this.allocateGroupPa(req) ?? this.allocatePlain(req, false);
    if (inodePaEligible) return this.allocateStream(req) ?? this.allocatePlain(req, true);
    return this.allocatePlain(req, false);
  }

  /** ext4_mb_use_inode_pa: a PA covering the logical block serves it. */
  private useInodePa(req: Pick<MbRequest, 'pas' | 'logical' | 'count'>): MbResult | undefined {
    const pa = req.pas.containing(req.logical);
    if (!pa || isConsumed(pa, req.logical)) return undefined;
    // Up to the end of the PA or the next block it already handed out.
    const limit = Math.min(req.count, pa.logicalStart + pa.length - req.logical);
    const taken = pa.taken;
    const first = req.logical - pa.logicalStart;
    let count = 1;
    while (count < limit && taken[first + count] === 0) count++;
    req.pas.consume(pa, req.logical, count);
    return { physBlock: pa.physStart + (req.logical - pa.logicalStart), blockCount: count };
  }

  /** Locality-group preallocation: small files pack into a shared 512-block window. */
  private allocateGroupPa(req: MbRequest): MbResult | undefined {
    let pa = this.groupPas.find((candidate) => candidate.length - candidate.used >= req.count);
    if (!pa) {
      const goalGroup = this.groupOf(req.goalPhys);
      const start = this.findBuddyAligned(goalGroup, MB_GROUP_PREALLOC_BLOCKS);
      if (start < 0) return undefined;
      this.free.markUsed(start, MB_GROUP_PREALLOC_BLOCKS);
      pa = { physStart: start, length: MB_GROUP_PREALLOC_BLOCKS, used: 0 };
      this.groupPas.push(pa);
    }
    const physBlock = pa.physStart + pa.used;
    pa.used += req.count;
    if (pa.used === pa.length) this.groupPas.splice(this.groupPas.indexOf(pa), 1);
    return { physBlock, blockCount: req.count };
  }

  /** Stream allocation with an inode PA over the normalised window. */
  private allocateStream(req: MbRequest): MbResult | undefined {
    const [windowStart, windowEnd] = req.noNormalize ? [req.logical, req.logical + req.count] : this.normalize(req);
    const windowLength = windowEnd - windowStart;
    let physStart = -1;
    const tryGoal = this.mergeGoal(req, windowStart, windowEnd);
    if (tryGoal >= 0 && tryGoal + windowLength <= this.geometry.blocksCount && this.free.isFree(tryGoal, windowLength)) physStart = tryGoal;
    const hash = req.ino % this.lastGroups.length;
    if (physStart < 0) physStart = this.search(this.lastGroups[hash]!, windowLength);
    if (physStart < 0) return undefined;
    this.free.markUsed(physStart, windowLength);
    this.lastGroups[hash] = this.groupOf(physStart);
    const pa: InodePa = { logicalStart: windowStart, physStart, length: windowLength, taken: new Uint8Array(windowLength), consumedBlocks: 0 };
    const count = Math.min(req.count, windowEnd - req.logical);
    req.pas.add(pa);
    req.pas.consume(pa, req.logical, count);
    return { physBlock: physStart + (req.logical - windowStart), blockCount: count };
  }

  /** No preallocation: the request alone, near the goal. */
  private allocatePlain(req: MbRequest, anywhere: boolean): MbResult | undefined {
    let count = req.count;
    const goalGroup = anywhere ? 0 : this.groupOf(req.goalPhys);
    let start = this.search(goalGroup, count);
    if (start < 0) {
      const [longestStart, longestLength] = this.free.longestRun(0);
      if (longestLength === 0) return undefined;
      start = longestStart;
      count = Math.min(count, longestLength);
    }
    this.free.markUsed(start, count);
    return { physBlock: start, blockCount: count };
  }

  /** ext4_mb_normalize_request: the logical window to preallocate, clipped to neighbours and PAs. */
  private normalize(req: MbRequest): [number, number] {
    const blockSize = this.geometry.blockSize;
    const sizeBytes = Math.max(req.logical + req.count, req.isizeBlocks) * blockSize;
    const kib = 1024;
    const mib = 1024 * kib;
    let startBytes = 0;
    let windowBytes: number;
    const ladder = [16 * kib, 32 * kib, 64 * kib, 128 * kib, 256 * kib, 512 * kib, mib];
    const step = ladder.find((limit) => sizeBytes <= limit);
    const requestBytes = req.count * blockSize;
    if (step !== undefined) windowBytes = step;
    else if (sizeBytes <= 4 * mib) [startBytes, windowBytes] = [alignDown(req.logical * blockSize, 2 * mib), 2 * mib];
    else if (sizeBytes <= 8 * mib) [startBytes, windowBytes] = [alignDown(req.logical * blockSize, 4 * mib), 4 * mib];
    else if (requestBytes <= 8 * mib) [startBytes, windowBytes] = [alignDown(req.logical * blockSize, 8 * mib), 8 * mib];
    else [startBytes, windowBytes] = [req.logical * blockSize, requestBytes];
    let start = Math.floor(startBytes / blockSize);
    let end = start + Math.floor(windowBytes / blockSize);
    if (end < req.logical + req.count) [start, end] = [req.logical, req.logical + req.count];
    const around = req.mappedAround(req.logical);
    start = Math.max(start, around.leftEnd);
    end = Math.min(end, around.rightStart);
    const { before, after } = req.pas.around(req.logical);
    if (before && before.logicalStart + before.length <= req.logical) start = Math.max(start, before.logicalStart + before.length);
    if (after) end = Math.min(end, after.logicalStart);
    end = Math.min(end, start + this.geometry.blocksPerGroup - 1);
    if (!(start <= req.logical && end > req.logical)) assert(false, 'ext4 normalize: window lost the request', { start, end, req: req.logical });
    return [start, end];
  }

  /** The exact goal when the window continues a neighbour (EXT4_MB_HINT_TRY_GOAL), else -1. */
  private mergeGoal(req: MbRequest, windowStart: number, windowEnd: number): number {
    if (req.leftEnd && req.leftEnd.logical === windowStart) return req.leftEnd.physical;
    if (req.rightStart && req.rightStart.logical === windowEnd) return req.rightStart.physical - (windowEnd - windowStart);
    return -1;
  }

  /** ext4_mb_regular_allocator's group scan from `firstGroup` for `count` blocks. Returns -1 if nothing fits. */
  private search(firstGroup: number, count: number): number {
    if (count <= this.geometry.blocksPerGroup && isPowerOfTwo(count) && fls(count) >= MB_ORDER2_REQS) {
      const aligned = this.findBuddyAligned(firstGroup, count);
      if (aligned >= 0) return aligned;
    }
    return this.findFirstFit(firstGroup, count);
  }

  /** CR_POWER2_ALIGNED: a buddy-aligned free chunk, skipping the first group of each flex group for data. */
  private findBuddyAligned(firstGroup: number, count: number): number {
    const { groupCount, blocksPerGroup } = this.geometry;
    for (let i = 0; i < groupCount; i++) {
      const group = (firstGroup + i) % groupCount;
      if (group % EXT4_FLEX_BG_SIZE === 0 && groupCount > 1) continue;
      const start = group * blocksPerGroup;
      const found = this.free.findFit(start, count, Math.min(start + blocksPerGroup, this.geometry.blocksCount), count, start);
      if (found >= 0) return found;
    }
    return -1;
  }

  /** CR_GOAL_LEN_FAST and later: first free run of `count` blocks in a group, groups in order from firstGroup. */
  private findFirstFit(firstGroup: number, count: number): number {
    const { groupCount, blocksPerGroup } = this.geometry;
    for (let i = 0; i < groupCount; i++) {
      const group = (firstGroup + i) % groupCount;
      const start = group * blocksPerGroup;
      const found = this.free.findFit(start, count, Math.min(start + blocksPerGroup, this.geometry.blocksCount));
      if (found >= 0) return found;
    }
    return -1;
  }

  /** ext4_new_meta_blocks: one metadata block, first fit from the start of `goalGroup` on. -1 when full. */
  allocateMeta(goalGroup: number): number {
    const block = this.findFirstFit(goalGroup, 1);
    if (block >= 0) this.free.markUsed(block, 1);
    return block;
  }

  groupOf(block: number): number {
    return Math.min(this.geometry.groupCount - 1, Math.max(0, Math.floor(block / this.geometry.blocksPerGroup)));
  }

  /** ext4_discard_preallocations: give a PA's unused blocks back. */
  discardInodePas(pas: InodePaList): void {
    for (const pa of pas.values()) {
      forEachUnconsumed(pa, (logical, count) => this.free.free(pa.physStart + (logical - pa.logicalStart), count));
    }
    pas.clear();
  }

  /** Discards the locality-group windows (ENOSPC retry, unmount). */
  discardGroupPas(): void {
    for (const pa of this.groupPas) if (pa.used < pa.length) this.free.free(pa.physStart + pa.used, pa.length - pa.used);
    this.groupPas.length = 0;
  }

  /** Physical blocks held by PAs but not consumed, as [start, length] runs (for free-space checks). */
  heldRuns(pas: Iterable<InodePaList>): [number, number][] {
    const runs: [number, number][] = [];
    for (const pa of this.groupPas) if (pa.used < pa.length) runs.push([pa.physStart + pa.used, pa.length - pa.used]);
    for (const list of pas) {
      for (const pa of list.values()) {
        forEachUnconsumed(pa, (logical, count) => runs.push([pa.physStart + (logical - pa.logicalStart), count]));
      }
    }
    return runs;
  }
}

function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

/** The runs of a PA not handed out yet, in order: visit(first logical block, count). */
function forEachUnconsumed(pa: InodePa, visit: (logical: number, count: number) => void): void {
  const taken = pa.taken;
  let at = 0;
  while (at < pa.length) {
    if (taken[at] !== 0) {
      at++;
      continue;
    }
    const start = at;
    while (at < pa.length && taken[at] === 0) at++;
    visit(pa.logicalStart + start, at - start);
  }
}

function isConsumed(pa: InodePa, logical: number): boolean {
  return pa.taken[logical - pa.logicalStart] !== 0;
}

function consumedCount(pa: InodePa): number {
  return pa.consumedBlocks;
}

/** Marks [logical, +count) of a PA handed out. O(count). */
function consume(pa: InodePa, logical: number, count: number): void {
  if (!(logical >= pa.logicalStart && logical + count <= pa.logicalStart + pa.length)) assert(false, 'ext4 PA: consume outside the PA', { logical, count });
  const taken = pa.taken;
  const first = logical - pa.logicalStart;
  for (let at = first; at < first + count; at++) {
    if (taken[at] !== 0) assert(false, 'ext4 PA: block handed out twice', { logical, count, block: pa.logicalStart + at });
    taken[at] = 1;
  }
  pa.consumedBlocks += count;
}
