/**
 * iomap_iter (fs/iomap/iter.c): the loop every iomap operation runs.
 * begin -> trim to request and srcmap -> actor -> end, advancing by what the
 * actor processed; stop on error, on completion, or on no progress unless
 * the mapping went stale.
 */
import { assert } from '../util/assert.js';
import { ErrnoError } from '../util/errno.js';
import type { Inode } from '../vfs/inode.js';
import type { IomapOps } from './ops.js';
import { IomapFlag, IomapType, iomapEnd, type Iomap } from './types.js';

/** The state an actor sees: the mapping and the span [pos, pos+length) it covers after trimming. */
export interface IomapIter {
  readonly inode: Inode;
  readonly flags: number;
  /** Start of the span to process. */
  pos: number;
  /** Bytes of the trimmed span. */
  length: number;
  iomap: Iomap;
  /** The read source: srcmap when it is not a hole, else iomap (iomap_iter_srcmap). */
  srcmap: Iomap;
  /**
   * Set by an actor that made progress and then failed (a short user copy
   * ends in EFAULT, a direct write the block layer cut short in ENOTBLK): the
   * iteration advances by what the actor returned, then stops with this errno.
   */
  errno: number;
}

/** Processes the span of one mapping; returns bytes processed (advance). Throws ErrnoError on failure. */
export type IomapActor = (iter: IomapIter) => number;

/** Remaps of a stale mapping at the same position before we call it a livelock. */
const STALE_REMAPS_MAX = 64;

/** Result of an iteration: bytes done, and the error that stopped it (if any). */
export interface IomapIterResult {
  done: number;
  errno: number;
}

function checkMapping(iomap: Iomap, pos: number): void {
  // iomap_iter_done: the mapping must cover pos with positive length.
  assert(iomap.length > 0, 'iomap_begin returned an empty mapping', iomap);
  if (!(iomap.offset <= pos)) assert(false, 'iomap_begin returned a mapping that starts after pos', { iomap, pos });
  if (!(iomapEnd(iomap) > pos)) assert(false, 'iomap_begin returned a mapping that ends before pos', { iomap, pos });
}

/**
 * Runs `actor` over [pos, pos+length) with `ops`. Returns bytes done and the
 * errno that ended it (0 when none). O(mappings).
 */
export function iomapIterate(inode: Inode, pos: number, length: number, flags: number, ops: IomapOps, actor: IomapActor): IomapIterResult {
  let done = 0;
  let staleRemaps = 0;
  while (length > 0) {
    let pair;
    try {
      pair = ops.iomapBegin(inode, pos, length, flags);
    } catch (error) {
      if (error instanceof ErrnoError) return { done, errno: error.errno };
      throw error;
    }
    const { iomap } = pair;
    checkMapping(iomap, pos);
    const srcmap = pair.srcmap && pair.srcmap.type !== IomapType.Hole ? pair.srcmap : iomap;
    if (srcmap !== iomap) checkMapping(srcmap, pos);
    let span = Math.min(length, iomapEnd(iomap) - pos);
    if (srcmap !== iomap) span = Math.min(span, iomapEnd(srcmap) - pos);
    const iter: IomapIter = { inode, flags, pos, length: span, iomap, srcmap, errno: 0 };
    let processed = 0;
    let errno = 0;
    try {
      processed = actor(iter);
    } catch (error) {
      if (!(error instanceof ErrnoError)) throw error;
      errno = error.errno;
    }
    if (errno === 0) errno = iter.errno;
    if (!(processed >= 0 && processed <= span)) assert(false, 'iomap actor advanced past its mapping', { processed, span });
    try {
      ops.iomapEnd?.(inode, pos, span, processed, flags, iomap);
    } catch (error) {
      if (!(error instanceof ErrnoError)) throw error;
      if (processed === 0 && errno === 0) errno = error.errno;
    }
    pos += processed;
    length -= processed;
    done += processed;
    if (errno !== 0) return { done, errno };
    if (processed === 0) {
      if ((iomap.flags & IomapFlag.Stale) === 0) break;
      staleRemaps++;
      if (!(staleRemaps <= STALE_REMAPS_MAX)) assert(false, 'iomap_iter: stale mapping remapped too often', { pos });
    } else {
      staleRemaps = 0;
    }
  }
  return { done, errno: 0 };
}

/** Callers return bytes done when any progress was made, else the error (throws ErrnoError). */
export function doneOrThrow(result: IomapIterResult, what: string): number {
  if (result.done === 0 && result.errno !== 0) throw new ErrnoError(result.errno, what);
  return result.done;
}
