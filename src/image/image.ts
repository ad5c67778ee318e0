/**
 * The image file: a BlockDevice over a real file with two superblock slots,
 * a sparse data area and checkpointed metadata (docs/image-format.md).
 * Commit order (write checkpoint, fsync, write the other slot with
 * generation + 1, fsync) means a run killed at any point leaves a file that
 * opens at its last complete checkpoint, like a journal commit block.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { crc32 } from 'node:zlib';
import type { BlockDevice, GeneratedSource } from '../device/blockdev.js';
import { assert } from '../util/assert.js';
import { ImageError } from '../util/errors.js';
import { BodyDecodeError, decodeMetadata, encodeMetadata } from './codec.js';
import {
  alignUp,
  CHECKPOINT_ALIGN_BYTES,
  CHECKPOINT_HEADER_BYTES,
  checkpointProblem,
  decodeSuperblock,
  encodeCheckpoint,
  encodeSuperblock,
  HEADER_REGION_BYTES,
  IMAGE_CREATED_BY,
  IMAGE_FLAG_INLINE_DATA,
  IMAGE_FLAG_METADATA_ONLY,
  IMAGE_FLAG_UNDO_LOG,
  IMAGE_FORMAT_MINOR,
  IMAGE_FORMAT_VERSION,
  IMAGE_MAGIC,
  isValidBlockSize,
  policyNameFits,
  SLOT_BYTES,
  SLOT_NAMES,
  SLOT_OFFSETS,
  type SlotDecode,
  type Superblock,
} from './format.js';
import type { ImageMetadata } from './types.js';
import { BlockBitmap, encodeUndoRecords, scanUndoLog, UNDO_HEADER_BYTES, undoLogOffset, undoRecordBytes, type UndoScan, writtenBlocks } from './undo.js';
import { metadataProblem } from './validate.js';
import { WriteBehind, WRITE_BEHIND_MAX_BYTES } from './writebehind.js';

export type { Superblock } from './format.js';

/** Geometry and identity of a new image. */
export interface ImageCreateParams {
  /** Filesystem block size in bytes (power of two, 512..65536). */
  blockSize: number;
  /** Device size in bytes (a positive multiple of blockSize). */
  deviceSize: number;
  /** Policy name (at most 16 UTF-8 bytes). */
  policy: string;
  seed: number;
  /**
   * The image will hold metadata only (`replay --no-data`): sets the
   * IMAGE_FLAG_METADATA_ONLY superblock flag, and data writes are refused
   * (asserted). Default false.
   */
  metadataOnly?: boolean;
}

export interface ImageOpenOptions {
  /** Open for write and commit (default false: read-only). */
  writable?: boolean;
}

/** Contiguous data writes are gathered up to this many bytes before one pwrite (like a plugged bio). */
const WRITE_GATHER_BYTES_MAX = 1 << 20;

/** Data writes made synchronously before the write-behind worker starts (ImageFile.writeBehindAfterWrites). */
const WRITE_BEHIND_AFTER_WRITES = 4096;

/** Bounds the positioned-I/O retry loops: each pass must move at least one byte. */
const IO_PASSES_MAX = 1 << 20;

type SlotIndex = 0 | 1;

/** What open() settled on. */
interface OpenChoice {
  superblock: Superblock;
  slot: SlotIndex;
  record: Uint8Array | undefined;
  warnings: string[];
  /** The slot not chosen is a valid one with the UNDO_LOG flag. */
  otherSlotFlagged: boolean;
}

/**
 * An iomapsim image. Device byte address A is file offset dataOffset + A;
 * bytes never written read as zero (the file is sparse).
 */
export class ImageFile implements BlockDevice {
  readonly sizeBytes: number;
  /** Data-area bytes written and read through write()/read(). */
  bytesWritten = 0;
  bytesRead = 0;
  /**
   * What open() found that a user should know, one sentence each (empty
   * normally): why it did not use the newest slot, and how many blocks it
   * restored from the undo log of a run that was not closed cleanly.
   */
  readonly warnings: readonly string[];
  private fd: number | undefined;
  private current: Superblock;
  private currentSlot: SlotIndex;
  /** The current checkpoint record read (and checked) by open(), handed to the first readMetadata(). */
  private pendingRecord: Uint8Array | undefined;
  /**
   * Data writes not yet passed to the file: bytes [gatherAddrBytes,
   * gatherAddrBytes + gatherLengthBytes) of the device, in gatherBuffer.
   * Flushed before any read, commit or close, and when a write does not
   * continue them, so the file is always what the writes say once it is looked at.
   */
  private gatherBuffer: Uint8Array | undefined;
  /** Where the gathered bytes are: gatherBuffer, or a reservation in the write-behind ring (gatherInRing). */
  private gatherTarget: Uint8Array | undefined;
  private gatherInRing = false;
  private gatherAddrBytes = 0;
  private gatherLengthBytes = 0;
  /**
   * Writable: the device blocks the current checkpoint holds as written data
   * whose before-image is not in the undo log yet (an overwrite saves them
   * first). Undefined when no block needs saving: generation 0, metadata only, read-only.
   */
  private undoPending: BlockBitmap | undefined;
  /** File offset where the next undo record of the current generation goes. */
  private undoAppendOffset = 0;
  /** Undo records of the current generation in the file (written by this process or found by open()). */
  private undoRecordCount = 0;
  /** Read-only open of an image with an undo log: device block to the file offset of its checkpoint bytes. */
  private undoOverlay: Map<number, number> | undefined;
  /** The slot not in use is valid and carries UNDO_LOG (close() rewrites it once the run ends cleanly). */
  private otherSlotFlagged: boolean;
  /**
   * Data writes go to the file through a worker thread (WriteBehind) once
   * this many were made: a replay's data writes then cost the simulation a
   * copy, not a pwrite, while short runs never start a thread.
   */
  writeBehindAfterWrites = WRITE_BEHIND_AFTER_WRITES;
  private writeBehind: WriteBehind | undefined;
  private dataWrites = 0;

  private constructor(
    readonly path: string,
    fd: number,
    readonly writable: boolean,
    choice: OpenChoice,
    undo?: UndoScan,
  ) {
    this.fd = fd;
    this.current = Object.freeze({ ...choice.superblock });
    this.currentSlot = choice.slot;
    this.pendingRecord = choice.record;
    this.warnings = Object.freeze([...choice.warnings, ...undoWarnings(undo)]);
    this.sizeBytes = choice.superblock.deviceSize;
    this.otherSlotFlagged = choice.otherSlotFlagged;
    if (undo !== undefined) {
      this.undoRecordCount = undo.records;
      this.undoAppendOffset = undo.endOffsetBytes;
      if (!writable && undo.payloadOffsets.size > 0) this.undoOverlay = undo.payloadOffsets;
    }
  }

  /** The superblock of the current checkpoint (frozen; replaced by commit()). */
  get superblock(): Superblock {
    return this.current;
  }

  /** True when the image holds metadata only (replayed with --no-data): its data area is not file data. */
  get metadataOnly(): boolean {
    return (this.current.flags & IMAGE_FLAG_METADATA_ONLY) !== 0;
  }

  /** Which slot ('A' or 'B') holds the current superblock. */
  get slotName(): string {
    return SLOT_NAMES[this.currentSlot];
  }

  /**
   * Before-images in the undo log of the current generation: written since the
   * last commit (writable), or found by open() (a run that did not close cleanly).
   */
  get undoRecords(): number {
    return this.undoRecordCount;
  }

  /**
   * Creates an image at `path` (sparse, full size, generation 0, no checkpoint)
   * and returns it open for writing. An existing iomapsim image is replaced;
   * any other existing file only with `force` (else ImageError 'exists'); a
   * directory or an unwritable path is ImageError 'io'. The new file is built
   * beside `path` and renamed over it, so a failed create leaves the old file.
   */
  static create(path: string, params: ImageCreateParams, opts: { force: boolean }): ImageFile {
    checkCreateParams(params);
    checkCreateTarget(path, opts.force);
    const superblock: Superblock = {
      formatVersion: IMAGE_FORMAT_VERSION,
      formatMinor: IMAGE_FORMAT_MINOR,
      flags: params.metadataOnly === true ? IMAGE_FLAG_METADATA_ONLY : 0,
      blockSize: params.blockSize,
      deviceSize: params.deviceSize,
      dataOffset: HEADER_REGION_BYTES,
      metaOffset: alignUp(HEADER_REGION_BYTES + params.deviceSize, CHECKPOINT_ALIGN_BYTES),
      generation: 0,
      checkpointOffset: 0,
      checkpointLength: 0,
      checkpointCrc: 0,
      policy: params.policy,
      seed: params.seed,
      createdBy: IMAGE_CREATED_BY,
    };
    const tempPath = `${path}.tmp-${process.pid}`;
    let fd: number | undefined;
    try {
      fd = fs.openSync(tempPath, 'w+');
      fs.ftruncateSync(fd, superblock.metaOffset);
      writeFully(fd, encodeSuperblock(superblock), SLOT_OFFSETS[0]);
      fs.fsyncSync(fd);
      fs.renameSync(tempPath, path);
    } catch (error) {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(tempPath, { force: true });
      throw ioError(path, 'cannot create the image', error);
    }
    syncDirectory(path);
    return new ImageFile(path, fd, true, { superblock, slot: 0, record: undefined, warnings: [], otherSlotFlagged: false });
  }

  /**
   * Opens an existing image at its newest consistent checkpoint: the valid
   * slot with the highest generation whose checkpoint record is intact; an
   * older slot is used (and `warnings` says why) when the newest is torn.
   * When the run that wrote it did not close cleanly (UNDO_LOG flag), the
   * undo log's before-images are read: a read-only image overlays them on
   * data reads, a writable one writes them back home and fsyncs, so either
   * way the data area reads as the checkpoint left it (`warnings` says so).
   * Errors (all ImageError): 'missing', 'foreign' (no magic in either slot),
   * 'corrupt' (bad crc, truncated; a writable open also decodes the
   * checkpoint), 'version' (newer format), 'io'.
   */
  static open(path: string, opts: ImageOpenOptions = {}): ImageFile {
    const writable = opts.writable ?? false;
    const fd = openExisting(path, writable);
    try {
      const choice = chooseSlot(path, fd);
      const hasUndo = (choice.superblock.flags & IMAGE_FLAG_UNDO_LOG) !== 0;
      const undo = hasUndo ? scanUndoLog(fd, choice.superblock, fs.fstatSync(fd).size) : undefined;
      const image = new ImageFile(path, fd, writable, choice, undo);
      if (writable) image.prepareWrites(undo);
      return image;
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  /**
   * A writable open: the blocks the checkpoint vouches for are put back from
   * the undo log (durably), and the ones not saved yet are marked pending.
   */
  private prepareWrites(undo: UndoScan | undefined): void {
    const fd = this.checkOpen();
    if (this.current.generation === 0 || this.metadataOnly) return;
    const pending = writtenBlocks(this.readMetadata());
    this.undoAppendOffset = undo?.endOffsetBytes ?? undoLogOffset(this.current);
    if (undo !== undefined && undo.payloadOffsets.size > 0) {
      const block = new Uint8Array(this.current.blockSize);
      try {
        for (const [blockIndex, payloadOffset] of undo.payloadOffsets) {
          readFully(fd, block, payloadOffset, this.path);
          writeFully(fd, block, this.current.dataOffset + blockIndex * this.current.blockSize);
          pending.clear(blockIndex);
        }
        fs.fdatasyncSync(fd);
      } catch (error) {
        throw ioError(this.path, 'cannot restore blocks from the undo log', error);
      }
    }
    this.undoPending = pending;
  }

  /** Reads dst.length bytes of the device at addrBytes (never-written bytes are zero). */
  read(addrBytes: number, dst: Uint8Array): void {
    const fd = this.checkDataRange(addrBytes, dst.length);
    this.settle();
    readFully(fd, dst, this.current.dataOffset + addrBytes, this.path);
    if (this.undoOverlay !== undefined) this.overlayUndo(fd, addrBytes, dst);
    this.bytesRead += dst.length;
  }

  /** Replaces the bytes of blocks the undo log holds with their checkpoint bytes. O(blocks in range). */
  private overlayUndo(fd: number, addrBytes: number, dst: Uint8Array): void {
    const overlay = this.undoOverlay;
    assert(overlay !== undefined, 'undo overlay missing');
    const blockSize = this.current.blockSize;
    const endBytes = addrBytes + dst.length;
    for (let block = Math.floor(addrBytes / blockSize); block * blockSize < endBytes; block++) {
      const payloadOffset = overlay.get(block);
      if (payloadOffset === undefined) continue;
      const start = Math.max(addrBytes, block * blockSize);
      const end = Math.min(endBytes, (block + 1) * blockSize);
      readFully(fd, dst.subarray(start - addrBytes, end - addrBytes), payloadOffset + (start - block * blockSize), this.path);
    }
  }

  /**
   * Writes src to the device at addrBytes (not durable until the next
   * commit()). Contiguous writes are gathered in memory (at most 1 MiB) and
   * reach the file as one pwrite; any read, commit or close flushes them first.
   */
  write(addrBytes: number, src: Uint8Array): void {
    assert(this.writable, 'write to an image opened read-only', { path: this.path });
    assert(!this.metadataOnly, 'data write to a metadata-only image (replay it with a NullDevice)', { path: this.path, addrBytes });
    this.checkDataRange(addrBytes, src.length);
    const continues = this.gatherLengthBytes > 0 && addrBytes === this.gatherAddrBytes + this.gatherLengthBytes;
    if (!continues || this.gatherLengthBytes + src.length > WRITE_GATHER_BYTES_MAX) this.flushGathered();
    if (src.length > WRITE_GATHER_BYTES_MAX) {
      this.writeData(addrBytes, src);
    } else {
      if (this.gatherLengthBytes === 0) {
        this.gatherAddrBytes = addrBytes;
        // With a write-behind worker the bytes are gathered straight into its ring (no second copy).
        this.gatherInRing = this.writeBehind !== undefined;
        this.gatherTarget = this.gatherInRing ? this.reserveInRing() : (this.gatherBuffer ??= new Uint8Array(WRITE_GATHER_BYTES_MAX));
      }
      this.gatherTarget!.set(src, this.gatherLengthBytes);
      this.gatherLengthBytes += src.length;
    }
    this.bytesWritten += src.length;
  }

  /**
   * BlockDevice.writeGenerated: with a write-behind worker running, the bytes
   * are queued as a description and made by the worker (joined with the
   * contiguous ones after them into one pwrite); without one, false.
   */
  writeGenerated(addrBytes: number, length: number, source: GeneratedSource, sourceOffset: number): boolean {
    const writer = this.writeBehind;
    if (writer === undefined || length > WRITE_GATHER_BYTES_MAX) return false;
    assert(this.writable && !this.metadataOnly, 'generated write to an image that takes no data', { path: this.path, addrBytes });
    const fd = this.checkDataRange(addrBytes, length);
    this.flushGathered();
    try {
      this.beforeHomeWrite(fd, addrBytes, length);
      writer.submitGenerated(this.current.dataOffset + addrBytes, length, source, sourceOffset);
    } catch (error) {
      throw this.homeWriteError(addrBytes, length, error);
    }
    this.bytesWritten += length;
    return true;
  }

  /** Gathered and queued writes reach the file (before it is read, committed or closed). */
  private settle(): void {
    this.flushGathered();
    try {
      this.writeBehind?.drain();
    } catch (error) {
      throw ioError(this.path, 'cannot write the data area', error);
    }
  }

  /** Passes the gathered writes to the file (one pwrite). */
  private flushGathered(): void {
    if (this.gatherLengthBytes === 0) return;
    const buffer = this.gatherTarget;
    assert(buffer !== undefined, 'gathered bytes without a gather buffer');
    const lengthBytes = this.gatherLengthBytes;
    this.gatherLengthBytes = 0;
    if (!this.gatherInRing) {
      this.writeData(this.gatherAddrBytes, buffer.subarray(0, lengthBytes));
      return;
    }
    const fd = this.checkOpen();
    const addrBytes = this.gatherAddrBytes;
    try {
      this.beforeHomeWrite(fd, addrBytes, lengthBytes);
      this.writeBehind!.publish(this.current.dataOffset + addrBytes, lengthBytes);
    } catch (error) {
      throw this.homeWriteError(addrBytes, lengthBytes, error);
    }
  }

  /** Before a home write of [addrBytes, +lengthBytes) of the data area: its before-images saved (undo log), counted. */
  private beforeHomeWrite(fd: number, addrBytes: number, lengthBytes: number): void {
    if (this.undoPending !== undefined) this.saveBeforeImages(fd, this.undoPending, addrBytes, lengthBytes);
    this.dataWrites++;
  }

  private homeWriteError(addrBytes: number, lengthBytes: number, error: unknown): ImageError {
    return ioError(this.path, `cannot write ${lengthBytes} bytes at device address ${addrBytes}`, error);
  }

  /** A gather buffer in the write-behind ring. */
  private reserveInRing(): Uint8Array {
    try {
      return this.writeBehind!.reserve(WRITE_GATHER_BYTES_MAX);
    } catch (error) {
      throw ioError(this.path, 'cannot write the data area', error);
    }
  }

  private writeData(addrBytes: number, src: Uint8Array): void {
    const fd = this.checkOpen();
    try {
      this.beforeHomeWrite(fd, addrBytes, src.length);
      if (this.writeBehind === undefined && this.dataWrites > this.writeBehindAfterWrites) this.writeBehind = new WriteBehind(fd);
      if (this.writeBehind !== undefined && src.length <= WRITE_BEHIND_MAX_BYTES) {
        this.writeBehind.submit(this.current.dataOffset + addrBytes, src);
      } else {
        this.writeBehind?.drain();
        writeFully(fd, src, this.current.dataOffset + addrBytes);
      }
    } catch (error) {
      throw this.homeWriteError(addrBytes, src.length, error);
    }
  }

  /**
   * Before a write reaches [addrBytes, addrBytes + lengthBytes) of the data
   * area: appends the checkpoint bytes of every block there the checkpoint
   * vouches for and that is not saved yet to the undo log, and makes them
   * durable (one fdatasync per call), so the home write may then tear or be lost.
   */
  private saveBeforeImages(fd: number, pending: BlockBitmap, addrBytes: number, lengthBytes: number): void {
    const blockSize = this.current.blockSize;
    const firstBlock = Math.floor(addrBytes / blockSize);
    const endBlock = Math.ceil((addrBytes + lengthBytes) / blockSize);
    if (!pending.anyIn(firstBlock, endBlock)) return;
    // The checkpoint bytes are read from the file: queued writes reach it first.
    this.writeBehind?.drain();
    const blocks: number[] = [];
    for (let block = firstBlock; block < endBlock; block++) if (pending.has(block)) blocks.push(block);
    this.markUndoLogLive(fd);
    const recordBytes = undoRecordBytes(blockSize);
    const batch = new Uint8Array(blocks.length * recordBytes);
    // Each run of contiguous blocks is read with one pread, then copied into its records' payloads.
    const scratch = new Uint8Array((endBlock - firstBlock) * blockSize);
    for (let index = 0; index < blocks.length; ) {
      let run = 1;
      while (index + run < blocks.length && blocks[index + run] === blocks[index]! + run) run++;
      readFully(fd, scratch.subarray(0, run * blockSize), this.current.dataOffset + blocks[index]! * blockSize, this.path);
      for (let i = 0; i < run; i++) batch.set(scratch.subarray(i * blockSize, (i + 1) * blockSize), (index + i) * recordBytes + UNDO_HEADER_BYTES);
      index += run;
    }
    encodeUndoRecords(batch, this.current.generation, blocks, blockSize);
    writeFully(fd, batch, this.undoAppendOffset);
    fs.fdatasyncSync(fd);
    this.undoAppendOffset += batch.length;
    this.undoRecordCount += blocks.length;
    for (const block of blocks) pending.clear(block);
  }

  /**
   * Before the first before-image of a generation: a copy of the current
   * superblock with UNDO_LOG goes to the other slot and becomes the one in
   * use, so that a reader of a killed run knows to read the log. The undo
   * batch's fdatasync makes it durable with the records, before any home write.
   */
  private markUndoLogLive(fd: number): void {
    if ((this.current.flags & IMAGE_FLAG_UNDO_LOG) !== 0) return;
    const flagged: Superblock = { ...this.current, flags: this.current.flags | IMAGE_FLAG_UNDO_LOG };
    const otherSlot: SlotIndex = this.currentSlot === 0 ? 1 : 0;
    writeFully(fd, encodeSuperblock(flagged), SLOT_OFFSETS[otherSlot]);
    this.current = Object.freeze(flagged);
    this.currentSlot = otherSlot;
    this.otherSlotFlagged = false;
  }

  /**
   * Makes `meta` (and every data write before it) the image's durable state:
   * writes a checkpoint record where it overlaps neither live checkpoint,
   * fsyncs, writes the other superblock slot with generation + 1, fsyncs.
   * The undo log of the previous generation is dead from then on; the blocks
   * `meta` holds as written data are the ones later overwrites save first.
   * `meta` must be well formed and match the image geometry (asserted).
   * Returns the new generation. O(size of meta + device blocks / 32).
   */
  commit(meta: ImageMetadata): number {
    assert(this.writable, 'commit to an image opened read-only', { path: this.path });
    const fd = this.checkOpen();
    const problem = metadataProblem(meta);
    assert(problem === undefined, `commit of invalid metadata: ${problem}`);
    this.settle();
    assert(meta.blockSize === this.current.blockSize, 'metadata block size differs from the image', { meta: meta.blockSize, image: this.current.blockSize });
    assert(meta.deviceSize === this.current.deviceSize, 'metadata device size differs from the image', { meta: meta.deviceSize, image: this.current.deviceSize });
    const generation = this.current.generation + 1;
    const record = encodeCheckpoint(generation, encodeMetadata(meta));
    const undoEnd = this.undoRecordCount > 0 ? this.undoAppendOffset : 0;
    const checkpointOffset = chooseCheckpointOffset(this.current, record.length, undoEnd);
    const flags = this.current.flags & ~IMAGE_FLAG_UNDO_LOG;
    const next: Superblock = {
      ...this.current,
      flags: meta.inodes.some((inode) => inode.inline !== undefined) ? flags | IMAGE_FLAG_INLINE_DATA : flags & ~IMAGE_FLAG_INLINE_DATA,
      generation,
      checkpointOffset,
      checkpointLength: record.length,
      checkpointCrc: crc32(record),
      policy: meta.policy,
      seed: meta.seed,
    };
    const nextSlot: SlotIndex = this.currentSlot === 0 ? 1 : 0;
    const previous = this.current;
    try {
      writeFully(fd, record, checkpointOffset);
      fs.fsyncSync(fd);
      writeFully(fd, encodeSuperblock(next), SLOT_OFFSETS[nextSlot]);
      fs.fsyncSync(fd);
    } catch (error) {
      throw ioError(this.path, `cannot commit checkpoint generation ${generation}`, error);
    }
    this.current = Object.freeze(next);
    this.currentSlot = nextSlot;
    this.pendingRecord = undefined;
    this.otherSlotFlagged = (previous.flags & IMAGE_FLAG_UNDO_LOG) !== 0;
    this.undoPending = this.metadataOnly ? undefined : writtenBlocks(meta);
    this.undoAppendOffset = undoLogOffset(next);
    this.undoRecordCount = 0;
    trimMetadataArea(fd, previous, next);
    return generation;
  }

  /**
   * The metadata of the current checkpoint; metadata with no inodes when the
   * image has none yet. ImageError 'corrupt' when the record does not decode
   * or is not well formed. O(checkpoint size).
   */
  readMetadata(): ImageMetadata {
    const fd = this.checkOpen();
    const sb = this.current;
    if (sb.generation === 0) return emptyMetadata(sb);
    let record = this.pendingRecord;
    this.pendingRecord = undefined;
    if (record === undefined) {
      record = new Uint8Array(sb.checkpointLength);
      readFully(fd, record, sb.checkpointOffset, this.path);
      const problem = checkpointProblem(record, sb);
      if (problem !== undefined) throw corruptError(this.path, `generation ${sb.generation}: ${problem}`);
    }
    return decodeCheckpointBody(this.path, sb, record.subarray(CHECKPOINT_HEADER_BYTES));
  }

  /**
   * Closes the file (gathered writes reach it first); further I/O is a bug.
   * When nothing was overwritten since the last commit, a slot still flagged
   * UNDO_LOG from an earlier generation is replaced by a copy of the current
   * superblock, so that a cleanly closed image opens in 1.2 readers. Idempotent.
   */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    try {
      this.settle();
      this.unflagOtherSlot(fd);
    } finally {
      this.release(fd);
    }
  }

  /**
   * Closes the file the way a killed process leaves it: gathered writes not
   * yet passed to the file are lost, nothing is committed or rewritten. The
   * image opens at its last checkpoint (the `crash` fault). Idempotent.
   */
  abandon(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.gatherLengthBytes = 0;
    this.release(fd);
  }

  private release(fd: number): void {
    // A killed process's writes were handed to the kernel: they still land (and before the file is closed).
    this.writeBehind?.close();
    this.writeBehind = undefined;
    this.fd = undefined;
    this.pendingRecord = undefined;
    this.gatherLengthBytes = 0;
    this.undoPending = undefined;
    this.undoOverlay = undefined;
    fs.closeSync(fd);
  }

  /** The clean-close half of the undo protocol (see close()). */
  private unflagOtherSlot(fd: number): void {
    if (!this.writable || !this.otherSlotFlagged || this.undoRecordCount > 0) return;
    if ((this.current.flags & IMAGE_FLAG_UNDO_LOG) !== 0) return;
    const otherSlot: SlotIndex = this.currentSlot === 0 ? 1 : 0;
    try {
      writeFully(fd, encodeSuperblock(this.current), SLOT_OFFSETS[otherSlot]);
      fs.fsyncSync(fd);
    } catch (error) {
      throw ioError(this.path, 'cannot clear the undo log flag', error);
    }
    this.otherSlotFlagged = false;
  }

  private checkOpen(): number {
    assert(this.fd !== undefined, 'image used after close()', { path: this.path });
    return this.fd;
  }

  private checkDataRange(addrBytes: number, lengthBytes: number): number {
    assert(Number.isSafeInteger(addrBytes) && addrBytes >= 0, 'device address is not a non-negative integer', { addrBytes });
    assert(addrBytes + lengthBytes <= this.sizeBytes, 'device I/O past the end of the device', { addrBytes, lengthBytes, sizeBytes: this.sizeBytes });
    return this.checkOpen();
  }
}

/**
 * Where the next checkpoint record goes: at the start of the metadata area
 * when it fits before the current record, else just after the current one
 * and after its undo log, which ends at `undoEndBytes` (0: none; the log
 * always starts after the current record). It never overlaps the current
 * record or its undo log (what a reader falls back to if this commit tears),
 * and the area stays under three times the largest of the last three
 * records plus one undo log.
 */
export function chooseCheckpointOffset(current: Superblock, recordLength: number, undoEndBytes = 0): number {
  if (current.generation === 0) return current.metaOffset;
  if (recordLength <= current.checkpointOffset - current.metaOffset) return current.metaOffset;
  return alignUp(Math.max(current.checkpointOffset + current.checkpointLength, undoEndBytes), CHECKPOINT_ALIGN_BYTES);
}

/** True when `path` is a regular file with the image magic in either slot. Never throws. */
export function isIomapsimImage(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, 'r');
    if (!fs.fstatSync(fd).isFile()) return false;
    const magic = Buffer.from(IMAGE_MAGIC, 'latin1');
    const probe = Buffer.alloc(magic.length);
    for (const offset of SLOT_OFFSETS) {
      const got = fs.readSync(fd, probe, 0, probe.length, offset);
      if (got === probe.length && probe.equals(magic)) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function checkCreateParams(params: ImageCreateParams): void {
  assert(isValidBlockSize(params.blockSize), 'image block size must be a power of two in [512, 65536]', params);
  assert(Number.isSafeInteger(params.deviceSize) && params.deviceSize > 0, 'image device size must be a positive integer', params);
  assert(params.deviceSize % params.blockSize === 0, 'image device size must be a multiple of the block size', params);
  assert(params.policy.length > 0 && policyNameFits(params.policy), 'policy name must be 1..16 UTF-8 bytes', params);
  assert(Number.isSafeInteger(params.seed), 'seed must be an integer', params);
  assert(params.metadataOnly === undefined || typeof params.metadataOnly === 'boolean', 'metadataOnly must be a boolean', params);
}

/** Refuses a target that create() must not replace. */
function checkCreateTarget(path: string, force: boolean): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw ioError(path, 'cannot examine the image path', error);
  }
  if (stat.isDirectory()) {
    throw new ImageError(path, 'io', 'is a directory', 'give a file path for the image, e.g. dir/run.img');
  }
  if (!stat.isFile()) throw new ImageError(path, 'io', 'is not a regular file', 'give a regular file path for the image');
  if (force || isIomapsimImage(path)) return;
  throw new ImageError(path, 'exists', 'exists and is not an iomapsim image; refusing to overwrite it', 'choose another path, or pass --force to replace it');
}

function openExisting(path: string, writable: boolean): number {
  let fd: number;
  try {
    fd = fs.openSync(path, writable ? 'r+' : 'r');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      throw new ImageError(path, 'missing', 'no such image file', 'check the path, or create one with `iomapsim replay --image PATH`');
    }
    if (errnoCode(error) === 'EISDIR') throw new ImageError(path, 'io', 'is a directory, not an image file', 'give the path of an image file');
    throw ioError(path, 'cannot open the image', error);
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new ImageError(path, 'io', 'is not a regular file', 'give the path of an image file');
  }
  return fd;
}

/** Reads both slots and picks the newest one whose checkpoint checks out. */
function chooseSlot(path: string, fd: number): OpenChoice {
  const fileBytes = fs.fstatSync(fd).size;
  const header = new Uint8Array(Math.min(fileBytes, SLOT_OFFSETS[1] + SLOT_BYTES));
  readFully(fd, header, 0, path);
  const decoded = SLOT_OFFSETS.map((offset) => decodeSuperblock(header.subarray(offset, offset + SLOT_BYTES)));
  refuseNewer(path, decoded);
  // Of two slots with one generation, the one with UNDO_LOG is the later write (the log may be live).
  const order = ([0, 1] as const)
    .filter((slot) => decoded[slot]!.status === 'valid')
    .sort((a, b) => slotGeneration(decoded[b]!) - slotGeneration(decoded[a]!) || slotUndoFlag(decoded[b]!) - slotUndoFlag(decoded[a]!) || a - b);
  const warnings: string[] = [];
  for (const slot of [0, 1] as const) {
    const status = decoded[slot]!;
    if (status.status === 'invalid') warnings.push(`slot ${SLOT_NAMES[slot]} ignored: ${status.problem}`);
  }
  for (const slot of order) {
    const sb = (decoded[slot] as Extract<SlotDecode, { status: 'valid' }>).superblock;
    const found = loadCheckpoint(fd, sb, fileBytes);
    if (typeof found !== 'string') return { superblock: sb, slot, record: found ?? undefined, warnings, otherSlotFlagged: slotUndoFlag(decoded[slot === 0 ? 1 : 0]!) === 1 };
    warnings.push(`slot ${SLOT_NAMES[slot]} (generation ${sb.generation}) ignored: ${found}`);
  }
  if (decoded.every((slot) => slot.status === 'absent')) {
    throw new ImageError(path, 'foreign', 'is not an iomapsim image (no "IOMAPSIM" magic in either superblock slot)', 'give the path of an image written by `iomapsim replay --image`');
  }
  throw corruptError(path, `no usable superblock: ${warnings.join('; ')}`);
}

function slotGeneration(status: SlotDecode): number {
  return status.status === 'valid' ? status.superblock.generation : -1;
}

/** 1 for a valid slot with the UNDO_LOG flag, else 0. */
export function slotUndoFlag(status: SlotDecode): number {
  return status.status === 'valid' && (status.superblock.flags & IMAGE_FLAG_UNDO_LOG) !== 0 ? 1 : 0;
}

/** What open() says about an undo log it found: blocks restored, and a torn or corrupt end. */
function undoWarnings(undo: UndoScan | undefined): string[] {
  if (undo === undefined) return [];
  const warnings: string[] = [];
  const blocks = undo.payloadOffsets.size;
  if (blocks > 0) warnings.push(`the image was not closed cleanly: ${blocks} block${blocks === 1 ? '' : 's'} restored from the undo log of generation ${undo.generation}`);
  if (undo.ending !== 'end' && undo.problem !== undefined) warnings.push(`undo log of generation ${undo.generation}: ${undo.problem}`);
  return warnings;
}

function refuseNewer(path: string, decoded: SlotDecode[]): void {
  for (const status of decoded) {
    if (status.status !== 'newer') continue;
    const what = status.formatVersion > IMAGE_FORMAT_VERSION
      ? `image format version ${status.formatVersion} is newer than this iomapsim reads (${IMAGE_FORMAT_VERSION})`
      : `image uses format features (flags 0x${status.flags.toString(16)}) this iomapsim does not know`;
    throw new ImageError(path, 'version', what, 'upgrade iomapsim to read this image');
  }
}

/**
 * Reads and checks the checkpoint `sb` names. Returns the record, null for
 * generation 0 (no checkpoint), or a string saying what is wrong.
 */
export function loadCheckpoint(fd: number, sb: Superblock, fileBytes: number): Uint8Array | null | string {
  if (fileBytes < sb.metaOffset) {
    return `file is ${fileBytes} bytes but its data area ends at ${sb.metaOffset} (truncated)`;
  }
  if (sb.generation === 0) return null;
  const end = sb.checkpointOffset + sb.checkpointLength;
  if (end > fileBytes) return `checkpoint [${sb.checkpointOffset}, ${end}) lies past the end of the file (${fileBytes} bytes, truncated)`;
  const record = new Uint8Array(sb.checkpointLength);
  let got: number;
  try {
    got = fs.readSync(fd, record, 0, record.length, sb.checkpointOffset);
  } catch (error) {
    return `cannot read the checkpoint: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (got !== record.length) return `short read of the checkpoint (${got} of ${record.length} bytes)`;
  return checkpointProblem(record, sb) ?? record;
}

function decodeCheckpointBody(path: string, sb: Superblock, body: Uint8Array): ImageMetadata {
  let meta: ImageMetadata;
  try {
    meta = decodeMetadata(body);
  } catch (error) {
    if (error instanceof BodyDecodeError) throw corruptError(path, `generation ${sb.generation} checkpoint: ${error.message}`);
    throw error;
  }
  const problem = metadataProblem(meta);
  if (problem !== undefined) throw corruptError(path, `generation ${sb.generation} checkpoint: ${problem}`);
  if (meta.blockSize !== sb.blockSize || meta.deviceSize !== sb.deviceSize) {
    throw corruptError(path, `checkpoint geometry (${meta.blockSize}-byte blocks, ${meta.deviceSize} bytes) differs from the superblock (${sb.blockSize}, ${sb.deviceSize})`);
  }
  return meta;
}

function emptyMetadata(sb: Superblock): ImageMetadata {
  return {
    policy: sb.policy,
    policyParams: {},
    blockSize: sb.blockSize,
    deviceSize: sb.deviceSize,
    seed: sb.seed,
    reserved: [],
    inodes: [],
    refcounts: [],
    trace: '',
    opsApplied: 0,
  };
}

/** Drops file bytes past both live checkpoints (the older record is dead once the new slot is durable). */
function trimMetadataArea(fd: number, previous: Superblock, next: Superblock): void {
  const liveEnd = Math.max(next.metaOffset, previous.checkpointOffset + previous.checkpointLength, next.checkpointOffset + next.checkpointLength);
  const keepBytes = alignUp(liveEnd, CHECKPOINT_ALIGN_BYTES);
  try {
    if (fs.fstatSync(fd).size > keepBytes) fs.ftruncateSync(fd, keepBytes);
  } catch {
    // Reclaiming dead checkpoint space is optional; the commit is already durable.
  }
}

/** pread until dst is full; a read past EOF means the file was truncated under us. */
function readFully(fd: number, dst: Uint8Array, position: number, path: string): void {
  let done = 0;
  for (let pass = 0; done < dst.length; pass++) {
    assert(pass < IO_PASSES_MAX, 'read made no progress', { position, length: dst.length });
    let got: number;
    try {
      got = fs.readSync(fd, dst, done, dst.length - done, position + done);
    } catch (error) {
      throw ioError(path, `cannot read ${dst.length} bytes at file offset ${position}`, error);
    }
    if (got === 0) throw corruptError(path, `file ends at offset ${position + done}, before the ${dst.length} bytes at ${position} (truncated)`);
    done += got;
  }
}

function writeFully(fd: number, src: Uint8Array, position: number): void {
  let done = 0;
  for (let pass = 0; done < src.length; pass++) {
    assert(pass < IO_PASSES_MAX, 'write made no progress', { position, length: src.length });
    done += fs.writeSync(fd, src, done, src.length - done, position + done);
  }
}

/** fsync the directory so the rename in create() is durable; some filesystems refuse, which is harmless here. */
function syncDirectory(path: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(nodePath.dirname(nodePath.resolve(path)), 'r');
    fs.fsyncSync(fd);
  } catch {
    // Best effort: durability of the directory entry is not part of the contract.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function ioError(path: string, what: string, error: unknown): ImageError {
  if (error instanceof ImageError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ImageError(path, 'io', `${what}: ${reason}`, 'check the path, its permissions and free disk space');
}

function corruptError(path: string, what: string): ImageError {
  return new ImageError(path, 'corrupt', `corrupt image: ${what}`, 'the image cannot be trusted; re-run the replay to recreate it');
}
