/**
 * What an image holds besides data blocks: the metadata the replay leaves
 * behind, in a form independent of the engine's in-memory structures.
 * src/image writes and reads it (docs/image-format.md); src/cli/inspect
 * renders it.
 */

/** Where a byte range's expected content comes from (the payload rule, src/image/payload.ts). */
export type ContentSource =
  | { kind: 'zero' }
  /** Every byte is `byte` (xfs_io pwrite -S). */
  | { kind: 'fill'; byte: number }
  /** Generated: byte at file offset o is payloadByte(ino, seq, o + shift). */
  | { kind: 'gen'; ino: number; seq: number; shift: number };

/** A byte range of a file and its expected content. Ranges are sorted, non-overlapping; gaps read as zero. */
export interface ContentRange {
  offset: number;
  length: number;
  source: ContentSource;
}

/** One on-disk extent of a file's data fork, in filesystem blocks. */
export interface PersistedExtent {
  logical: number;
  physical: number;
  length: number;
  unwritten: boolean;
}

/** File data kept in the filesystem's metadata (a btrfs inline extent): bytes [0, lengthBytes) of the file. */
export interface PersistedInline {
  lengthBytes: number;
  /** The bytes as stored; absent in a metadata-only image (replay --no-data). */
  bytes?: Uint8Array;
}

export interface PersistedInode {
  ino: number;
  /** Path relative to the trace root. */
  path: string;
  kind: 'file' | 'dir';
  size: number;
  extents: PersistedExtent[];
  /** Expected content of the file (files only). */
  content: ContentRange[];
  /** Inline data from offset 0 (files only; no extent maps those bytes). */
  inline?: PersistedInline;
}

/** A run of device blocks, in filesystem blocks. */
export interface BlockRun {
  start: number;
  length: number;
}

/** Shared-extent reference counts (reflink); blocks absent here have refcount 1 when used by a file. */
export interface RefcountRun extends BlockRun {
  refcount: number;
}

export interface ImageMetadata {
  policy: string;
  /** The policy's parameters (groups, AG count, ...), recorded so that inspect can show them. */
  policyParams: Record<string, string | number | boolean>;
  blockSize: number;
  deviceSize: number;
  seed: number;
  /** Device blocks the filesystem keeps for itself (superblocks, group headers, log): not free, not file data. */
  reserved: BlockRun[];
  inodes: PersistedInode[];
  refcounts: RefcountRun[];
  /** The trace that produced the image and when in the trace this state was committed (op count). */
  trace: string;
  opsApplied: number;
}
