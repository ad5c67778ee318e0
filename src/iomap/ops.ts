/**
 * The narrow tables a filesystem policy fills for the iomap core
 * (struct iomap_ops, iomap_writeback_ops, iomap_dio_ops).
 */
import type { Inode } from '../vfs/inode.js';
import type { Iomap, IomapPair } from './types.js';

export interface IomapOps {
  /** ->iomap_begin: map [pos, pos+length) for `flags` (IomapOp bits). Throws ErrnoError on failure. */
  iomapBegin(inode: Inode, pos: number, length: number, flags: number): IomapPair;
  /** ->iomap_end: `written` bytes of the `length` requested from `pos` were processed with `iomap`. */
  iomapEnd?(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): void;
}

/** A run of written-back blocks that completes as one unit (struct iomap_ioend). */
export interface Ioend {
  /** File byte offset and length. */
  offset: number;
  length: number;
  /** Device byte address of `offset`. */
  addr: number;
  /** The mapping was unwritten: completion converts it. */
  unwritten: boolean;
  /** The mapping was a CoW destination: completion remaps it. */
  shared: boolean;
  /** The device write failed (EIO; 0 or absent: it did not): completion must not convert, remap or move the on-disk size. */
  error?: number;
}

export interface WritebackOps {
  /**
   * ->map_blocks / ->writeback_range: map dirty blocks at `pos` for writeback; `dirtyLength` is the length of
   * the contiguous dirty run. Delalloc becomes real here. Returns Mapped, Unwritten or Hole (skip), never Delalloc.
   */
  mapBlocks(inode: Inode, pos: number, dirtyLength: number): Iomap;
  /** Ioend completion: convert unwritten extents, remap CoW, update the on-disk size. The ioend object is reused: read it, keep nothing. */
  ioendCompletion(inode: Inode, ioend: Ioend): void;
  /** ->discard_folio after a mapping error. */
  discardFolio?(inode: Inode, pos: number): void;
}

/** Direct I/O completion flags (IOMAP_DIO_UNWRITTEN, IOMAP_DIO_COW). */
export interface DioCompletion {
  unwritten: boolean;
  cow: boolean;
  /** Bytes that reached the device. */
  size: number;
  pos: number;
}

export interface DioOps {
  /** ->end_io: conversion/remap and size update for a completed direct write. */
  endIo(inode: Inode, completion: DioCompletion): void;
}
