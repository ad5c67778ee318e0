/**
 * The XFS extent allocator as a bmap allocation sees it
 * (xfs_bmap_btalloc_best_length -> xfs_alloc_vextent_start_ag): pick the
 * minimum length from the longest free extents of the AGs from the target's
 * AG on (xfs_bmap_select_minlen), then allocate in the first AG that can hold
 * it: near the target in the target's AG (xfs_alloc_ag_vextent_near, the
 * "last block" scan: longest candidate up to maxlen first, then the smallest
 * distance by xfs_alloc_compute_diff, later records winning ties), by size
 * elsewhere (xfs_alloc_ag_vextent_size: the smallest free extent that fits).
 * Freed extents stay busy (xfs_extent_busy) until the next log force and are
 * skipped; when only busy space is left the log is forced and the search retried.
 */
import type { FreeSpace } from '../../alloc/freespace.js';
import { assert } from '../../util/assert.js';
import { BTree } from '../../util/btree.js';
import type { XfsGeometry } from './geometry.js';

export interface XfsAllocRequest {
  /** ap->blkno: the device block the allocation should start at or near. */
  targetBlock: number;
  /** Blocks wanted at most, and at least (ap->minlen). */
  maxlen: number;
  minlen: number;
  /** XFS_ALLOC_USERDATA: file data starts at a free extent's start when the extent lies before the target. */
  userdata: boolean;
}

export interface XfsAllocResult {
  physBlock: number;
  blockCount: number;
}

/** A free (non-busy) piece of an AG: [start, start+length). */
interface Candidate {
  start: number;
  length: number;
}

/** Upper bound on candidate pieces examined per AG, so a pathological free-space map cannot stall a run. */
const CANDIDATES_PER_AG_MAX = 1 << 20;

/** Extents freed since the last log force (xfs_extent_busy): not reused by data allocations until the checkpoint. */
export class BusyExtents {
  private readonly ranges = new BTree<number, number>();

  add(start: number, length: number): void {
    assert(length > 0, 'xfs busy extent: empty', { start, length });
    const existing = this.ranges.get(start);
    this.ranges.set(start, Math.max(existing ?? 0, start + length));
  }

  /** The log checkpoint committed: every busy extent may be reused. */
  clear(): void {
    this.ranges.clear();
  }

  get size(): number {
    return this.ranges.size;
  }

  /** Blocks freed and reallocated while busy are no longer busy (the allocator only does that after a forced flush). */
  remove(start: number, length: number): void {
    const end = start + length;
    const hits: [number, number][] = [];
    const first = this.ranges.getPairOrNextLower(start);
    if (first && first[1] > start) hits.push(first);
    this.ranges.forRange(start, end, false, (from, to) => {
      if (!first || from !== first[0]) hits.push([from, to]);
    });
    for (const [from, to] of hits) {
      this.ranges.delete(from);
      if (from < start) this.ranges.set(from, start);
      if (to > end) this.ranges.set(end, to);
    }
  }

  /** The parts of [start, end) that are not busy. */
  piecesOf(start: number, end: number): Candidate[] {
    const pieces: Candidate[] = [];
    let cursor = start;
    const visit = (from: number, to: number): void => {
      if (to <= cursor || from >= end) return;
      if (from > cursor) pieces.push({ start: cursor, length: from - cursor });
      cursor = Math.max(cursor, to);
    };
    const before = this.ranges.getPairOrNextLower(start);
    if (before) visit(before[0], before[1]);
    this.ranges.forRange(start, end, false, visit);
    if (cursor < end) pieces.push({ start: cursor, length: end - cursor });
    return pieces;
  }
}

/** xfs_alloc_compute_diff without alignment: where a request of `wantLength` lands in free extent [freeStart, +freeLength). */
export function computeDiffStart(wantBlock: number, wantLength: number, userdata: boolean, freeStart: number, freeLength: number): number {
  const freeEnd = freeStart + freeLength;
  const wantEnd = wantBlock + wantLength;
  if (freeStart >= wantBlock || (userdata && freeEnd < wantEnd)) return freeStart;
  if (freeEnd >= wantEnd) return wantBlock;
  return freeEnd - wantLength;
}

export class XfsAllocator {
  constructor(
    private readonly free: FreeSpace,
    private readonly geometry: XfsGeometry,
    readonly busy: BusyExtents,
  ) {}

  agOf(block: number): number {
    return Math.min(this.geometry.agCount - 1, Math.floor(block / this.geometry.agBlocks));
  }

  private agRange(agno: number): [number, number] {
    const start = agno * this.geometry.agBlocks;
    return [start, Math.min(start + this.geometry.agBlocks, this.geometry.blocksCount)];
  }

  /** pagf_longest: the longest free extent of an AG (busy ones included), but only looked for up to `enough`. */
  private longestAtLeast(agno: number, enough: number): number {
    const [start, end] = this.agRange(agno);
    return this.longestUpTo(start, end, 0, enough);
  }

  /**
   * The longest free run in [start, end) (clipped to it), at most `enough`;
   * 0 when none holds `atLeast` blocks. A binary search over lengths by
   * first fit: O(log enough) fits instead of a walk over every free run.
   */
  private longestUpTo(start: number, end: number, atLeast: number, enough: number): number {
    if (this.free.findFit(start, enough, end) >= 0) return enough;
    let low = Math.max(1, atLeast);
    if (this.free.findFit(start, low, end) < 0) return 0;
    // findFit(start, low) holds, findFit(start, high) does not.
    let high = enough;
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (this.free.findFit(start, middle, end) >= 0) low = middle;
      else high = middle;
    }
    return low;
  }

  /** Non-busy free pieces of an AG at least `minlen` long, in block order. */
  private candidates(agno: number, minlen: number): Candidate[] {
    const [agStart, agEnd] = this.agRange(agno);
    const found: Candidate[] = [];
    let cursor = agStart;
    while (cursor < agEnd && found.length < CANDIDATES_PER_AG_MAX) {
      const start = this.free.findFit(cursor, minlen, agEnd);
      if (start < 0) break;
      const end = Math.min(agEnd, start + this.free.freeLengthAt(start));
      for (const piece of this.busy.size === 0 ? [{ start, length: end - start }] : this.busy.piecesOf(start, end)) {
        if (piece.length >= minlen) found.push(piece);
      }
      cursor = end;
    }
    return found;
  }

  /**
   * xfs_alloc_ag_vextent_near (last-block scan): longest up to maxlen, then
   * nearest; cntbt order breaks ties. With nothing busy, the pieces are the
   * free runs themselves and the winner is found without listing them: the
   * length is the longest up to maxlen, and the distance grows away from the
   * target on either side (xfs_alloc_compute_diff), so only the run holding
   * the target and the nearest long-enough run on each side can win. Same
   * answer as the scan (test/fs/xfs-alloc-near.test.ts checks), O(log n) fits.
   */
  private near(agno: number, request: XfsAllocRequest, minlen: number, maxlen: number): XfsAllocResult | undefined {
    if (this.busy.size > 0) return this.nearByScan(agno, request, minlen, maxlen);
    const [agStart, agEnd] = this.agRange(agno);
    const length = this.longestUpTo(agStart, agEnd, minlen, maxlen);
    if (length === 0) return undefined;
    const target = request.targetBlock;
    let best: { start: number; diff: number; pieceStart: number; pieceLength: number } | undefined;
    const consider = (pieceStart: number, pieceEnd: number): void => {
      const pieceLength = pieceEnd - pieceStart;
      if (pieceLength < length) return;
      const start = computeDiffStart(target, length, request.userdata, pieceStart, pieceLength);
      const diff = Math.abs(start - target);
      // Ties go to the later record in cntbt order: the longer piece, then the higher one.
      if (best && (diff > best.diff || (diff === best.diff && (pieceLength < best.pieceLength || (pieceLength === best.pieceLength && pieceStart < best.pieceStart))))) return;
      best = { start, diff, pieceStart, pieceLength };
    };
    const holding = target >= agStart && target < agEnd ? this.free.runAt(target) : undefined;
    if (holding) consider(Math.max(holding[0], agStart), Math.min(holding[1], agEnd));
    const rightFrom = holding ? holding[1] : Math.max(target, agStart);
    const right = rightFrom < agEnd ? this.free.findFit(rightFrom, length, agEnd) : -1;
    if (right >= 0) consider(right, Math.min(agEnd, right + this.free.freeLengthAt(right)));
    const leftLimit = Math.min(holding ? holding[0] : target, agEnd);
    const left = leftLimit > agStart ? this.free.lastFitBefore(leftLimit, length, agStart) : undefined;
    if (left) consider(Math.max(left[0], agStart), left[1]);
    return best ? { physBlock: best.start, blockCount: length } : undefined;
  }

  /** near() over the listed pieces: what it does while freed extents are busy (they split the free runs). */
  private nearByScan(agno: number, request: XfsAllocRequest, minlen: number, maxlen: number): XfsAllocResult | undefined {
    const pieces = this.candidates(agno, minlen).sort((a, b) => a.length - b.length || a.start - b.start);
    let best: { start: number; length: number; diff: number } | undefined;
    for (const piece of pieces) {
      const length = Math.min(piece.length, maxlen);
      if (best && length < best.length) continue;
      const start = computeDiffStart(request.targetBlock, length, request.userdata, piece.start, piece.length);
      const diff = Math.abs(start - request.targetBlock);
      if (best && length === best.length && diff > best.diff) continue;
      best = { start, length, diff };
    }
    return best ? { physBlock: best.start, blockCount: best.length } : undefined;
  }

  /** xfs_alloc_ag_vextent_size: the smallest piece that holds maxlen (lowest block first), else the largest. */
  private bySize(agno: number, minlen: number, maxlen: number): XfsAllocResult | undefined {
    let fit: Candidate | undefined;
    let largest: Candidate | undefined;
    for (const piece of this.candidates(agno, minlen)) {
      if (piece.length >= maxlen && (!fit || piece.length < fit.length)) fit = piece;
      if (!largest || piece.length > largest.length) largest = piece;
    }
    const chosen = fit ?? largest;
    return chosen ? { physBlock: chosen.start, blockCount: Math.min(chosen.length, maxlen) } : undefined;
  }

  private attempt(request: XfsAllocRequest): XfsAllocResult | undefined {
    const { agCount } = this.geometry;
    const maxlen = Math.min(request.maxlen, this.geometry.agMaxUsable);
    const startAg = this.agOf(request.targetBlock);
    // xfs_bmap_btalloc_select_lengths: the best length seen from the start AG on.
    let blen = 0;
    for (let step = 0; step < agCount && blen < maxlen; step++) blen = Math.max(blen, this.longestAtLeast((startAg + step) % agCount, maxlen));
    if (blen < request.minlen) return undefined;
    const minlen = Math.min(blen, maxlen);
    const targetAgbno = request.targetBlock - startAg * this.geometry.agBlocks;
    for (let step = 0; step < agCount; step++) {
      const agno = (startAg + step) % agCount;
      if (this.longestAtLeast(agno, minlen) < minlen) continue;
      const result = agno === startAg && targetAgbno > 0 ? this.near(agno, request, minlen, maxlen) : this.bySize(agno, minlen, maxlen);
      if (result) return result;
    }
    return undefined;
  }

  /** Allocates and marks used; undefined on ENOSPC. O(free runs of the AGs searched). */
  allocate(request: XfsAllocRequest): XfsAllocResult | undefined {
    assert(request.maxlen >= request.minlen && request.minlen >= 1, 'xfs alloc: bad lengths', request);
    let result = this.attempt(request);
    if (!result && this.busy.size > 0) {
      // xfs_extent_busy_flush: force the log and search again.
      this.busy.clear();
      result = this.attempt(request);
    }
    if (!result) return undefined;
    this.free.markUsed(result.physBlock, result.blockCount);
    return result;
  }

  /** First free run of `count` blocks aligned to `alignment` in AG `agno` at or after `fromBlock` (inode chunks). */
  allocateAligned(agno: number, fromBlock: number, count: number, alignment: number): number {
    const [agStart, agEnd] = this.agRange(agno);
    let block = this.free.findFit(Math.max(agStart, fromBlock), count, agEnd, alignment, agStart);
    if (block < 0) block = this.free.findFit(agStart, count, agEnd, alignment, agStart);
    if (block >= 0) this.free.markUsed(block, count);
    return block;
  }

  /** Frees blocks; they stay busy until the next log force. */
  freeBlocks(start: number, count: number): void {
    this.free.free(start, count);
    this.busy.add(start, count);
  }
}
