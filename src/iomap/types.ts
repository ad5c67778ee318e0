/**
 * The iomap contract (include/linux/iomap.h): mapping types, mapping flags,
 * operation flags, struct iomap and the ops table a filesystem policy fills.
 * Offsets and lengths are bytes; addr is a device byte address.
 */

/** Mapping types (IOMAP_HOLE ... IOMAP_INLINE). */
export enum IomapType {
  Hole = 0,
  Delalloc = 1,
  Mapped = 2,
  Unwritten = 3,
  Inline = 4,
}

/** Mapping flags (IOMAP_F_*). New..Merged are set by the fs; SizeChanged and Stale by the core. */
export const IomapFlag = {
  New: 1 << 0,
  Dirty: 1 << 1,
  Shared: 1 << 2,
  Merged: 1 << 3,
  SizeChanged: 1 << 8,
  Stale: 1 << 9,
  /** First policy-private flag bit (IOMAP_F_PRIVATE); policies own bits from here up. */
  Private: 1 << 12,
} as const;

/** Operation flags (IOMAP_WRITE ... IOMAP_UNSHARE) passed to iomapBegin. */
export const IomapOp = {
  Write: 1 << 0,
  Zero: 1 << 1,
  Report: 1 << 2,
  Fault: 1 << 3,
  Direct: 1 << 4,
  Nowait: 1 << 5,
  OverwriteOnly: 1 << 6,
  Unshare: 1 << 7,
} as const;

/** IOMAP_NULL_ADDR: the address of holes, delalloc and inline mappings. */
export const IOMAP_NULL_ADDR = -1;

/** struct iomap. */
export interface Iomap {
  /** File byte offset the mapping starts at. */
  offset: number;
  /** Bytes covered. */
  length: number;
  /** Device byte address of `offset`, IOMAP_NULL_ADDR for holes, delalloc and inline. */
  addr: number;
  type: IomapType;
  flags: number;
  /** Inline data, for IomapType.Inline. */
  inlineData?: Uint8Array;
  /** Filesystem-private cookie passed unchanged to iomapEnd. */
  private?: unknown;
  /** validity_cookie: the fork sequence number when the mapping was made. */
  validityCookie?: number;
}

/** What iomapBegin returns: the destination mapping and, for CoW/unshare, the read source. */
export interface IomapPair {
  iomap: Iomap;
  /** Read source when it differs from the destination (CoW); undefined means "same as iomap". */
  srcmap?: Iomap;
}

export function makeHole(offset: number, length: number): Iomap {
  return { offset, length, addr: IOMAP_NULL_ADDR, type: IomapType.Hole, flags: 0 };
}

/** The end of a mapping in file bytes (exclusive). */
export function iomapEnd(map: Iomap): number {
  return map.offset + map.length;
}

/** Names of the flag bits, for traces and error messages. */
export function iomapFlagNames(flags: number): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(IomapFlag)) {
    if (name !== 'Private' && (flags & bit) !== 0) names.push(name);
  }
  return names;
}
