/**
 * The undo log of an image (format 1.3, docs/image-format.md "Undo log"):
 * before-images of data blocks the current checkpoint vouches for, saved
 * before the replay overwrites them in place, so that a run killed between
 * checkpoints still opens at its last checkpoint with that checkpoint's bytes
 * (steal + undo, like a database's before-image log). Pure encode/decode,
 * the scan of a log in a file, and the block bitmap that says which blocks
 * still need saving; image.ts does the writing and fsck.ts the reporting.
 */
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { assert } from '../util/assert.js';
import { alignUp, CHECKPOINT_ALIGN_BYTES, getU64, setU64, type Superblock } from './format.js';
import type { ImageMetadata } from './types.js';

/** Magic at the start of each undo record. */
export const UNDO_MAGIC = 'IMSUNDO1';
/** Bytes of an undo record header; the payload (one block) follows. */
export const UNDO_HEADER_BYTES = 32;
/** Bytes read per pass when scanning a log (whole records, at least one). */
const UNDO_SCAN_CHUNK_BYTES = 1 << 20;

/** Field offsets inside an undo record header. */
const UR = {
  magic: 0,
  generation: 8,
  block: 16,
  payloadBytes: 24,
  crc: 28,
} as const;

const magicBytes = new TextEncoder().encode(UNDO_MAGIC);

/** Bytes of one record of an image with `blockSize`-byte blocks. */
export function undoRecordBytes(blockSize: number): number {
  return UNDO_HEADER_BYTES + blockSize;
}

/** File offset of the undo log of the checkpoint `sb` names: the first 4096-aligned offset after its record. */
export function undoLogOffset(sb: Superblock): number {
  assert(sb.generation > 0, 'an undo log belongs to a checkpoint', { generation: sb.generation });
  return alignUp(sb.checkpointOffset + sb.checkpointLength, CHECKPOINT_ALIGN_BYTES);
}

/**
 * Encodes one record per block into `out` (which holds the payloads already:
 * block i's before-image at i * recordBytes + UNDO_HEADER_BYTES). The crc
 * covers header bytes [0, 28) then the payload.
 */
export function encodeUndoRecords(out: Uint8Array, generation: number, blocks: readonly number[], blockSize: number): void {
  const recordBytes = undoRecordBytes(blockSize);
  assert(out.length === blocks.length * recordBytes, 'undo batch size does not match its blocks', { bytes: out.length, blocks: blocks.length });
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  blocks.forEach((block, index) => {
    const at = index * recordBytes;
    out.set(magicBytes, at + UR.magic);
    setU64(view, at + UR.generation, generation);
    setU64(view, at + UR.block, block);
    view.setUint32(at + UR.payloadBytes, blockSize, true);
    view.setUint32(at + UR.crc, recordCrc(out.subarray(at, at + recordBytes)), true);
  });
}

function recordCrc(record: Uint8Array): number {
  return crc32(record.subarray(UNDO_HEADER_BYTES), crc32(record.subarray(0, UR.crc)));
}

/** What one record slot of the log holds. */
type RecordCheck =
  | { status: 'ok'; block: number }
  /** Not a record of this generation: the log ends here (stale bytes of an older generation, a checkpoint, zeros). */
  | { status: 'end' }
  /** A record of this generation whose crc fails, or cut by the end of the file: an unsynced write torn by a crash. */
  | { status: 'torn' }
  /** crc passes but a field is impossible: written that way, so corrupt (never produced by a writer). */
  | { status: 'corrupt'; problem: string };

function hasMagic(bytes: Uint8Array): boolean {
  if (bytes.length < magicBytes.length) return false;
  for (let i = 0; i < magicBytes.length; i++) if (bytes[i] !== magicBytes[i]) return false;
  return true;
}

/** Classifies the bytes at one record position (`bytes` may be shorter than a record at the end of the file). */
export function checkUndoRecord(bytes: Uint8Array, generation: number, blockSize: number, deviceBlocks: number): RecordCheck {
  // Without a readable generation the bytes cannot be told from a stale record of another one.
  if (bytes.length < UR.block || !hasMagic(bytes)) return { status: 'end' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (getU64(view, UR.generation) !== generation) return { status: 'end' };
  const recordBytes = undoRecordBytes(blockSize);
  if (bytes.length < recordBytes) return { status: 'torn' };
  const record = bytes.subarray(0, recordBytes);
  if (view.getUint32(UR.crc, true) !== recordCrc(record)) return { status: 'torn' };
  const block = getU64(view, UR.block);
  const payloadBytes = view.getUint32(UR.payloadBytes, true);
  if (payloadBytes !== blockSize) return { status: 'corrupt', problem: `undo record payload of ${payloadBytes} bytes (expected the block size ${blockSize})` };
  if (!Number.isSafeInteger(block) || block >= deviceBlocks) return { status: 'corrupt', problem: `undo record for device block ${block}, past the device (${deviceBlocks} blocks)` };
  return { status: 'ok', block };
}

/** The undo log of one checkpoint as found in a file. */
export interface UndoScan {
  generation: number;
  /** File offset of the first record. */
  offsetBytes: number;
  /** File offset just after the last valid record (where the next one goes). */
  endOffsetBytes: number;
  /** Valid records read (a block logged twice, after a reopen, counts twice). */
  records: number;
  /** Device block to the file offset of its before-image (the first record of each block). */
  payloadOffsets: Map<number, number>;
  /** How the log ended: at a record of no generation or another one / the end of the file ('end'), a torn record, or a corrupt one. */
  ending: 'end' | 'torn' | 'corrupt';
  /** What was wrong with the record the scan stopped at (torn or corrupt). */
  problem?: string;
}

/**
 * Reads the undo log of the checkpoint `sb` names, record by record, until a
 * record that is not a valid one of its generation. Never throws on bad
 * bytes; an I/O error ends the scan as 'corrupt'. O(log size).
 */
export function scanUndoLog(fd: number, sb: Superblock, fileBytes: number): UndoScan {
  const offsetBytes = undoLogOffset(sb);
  const recordBytes = undoRecordBytes(sb.blockSize);
  const deviceBlocks = Math.floor(sb.deviceSize / sb.blockSize);
  const scan: UndoScan = { generation: sb.generation, offsetBytes, endOffsetBytes: offsetBytes, records: 0, payloadOffsets: new Map(), ending: 'end' };
  const perChunk = Math.max(1, Math.floor(UNDO_SCAN_CHUNK_BYTES / recordBytes));
  const chunk = new Uint8Array(perChunk * recordBytes);
  // Each pass consumes at least one record or stops, and records lie inside the file.
  const passesMax = Math.ceil(Math.max(0, fileBytes - offsetBytes) / recordBytes) + 1;
  for (let pass = 0; pass < passesMax; pass++) {
    const want = Math.min(chunk.length, Math.max(0, fileBytes - scan.endOffsetBytes));
    if (want === 0) return scan;
    let got: number;
    try {
      got = fs.readSync(fd, chunk, 0, want, scan.endOffsetBytes);
    } catch (error) {
      return { ...scan, ending: 'corrupt', problem: `cannot read the undo log: ${error instanceof Error ? error.message : String(error)}` };
    }
    const stopped = consumeRecords(scan, chunk.subarray(0, got), sb.blockSize, deviceBlocks);
    if (stopped || got < want) return scan;
  }
  return scan;
}

/** Adds the whole valid records of `bytes` (read at scan.endOffsetBytes) to the scan; true when the log ended inside them. */
function consumeRecords(scan: UndoScan, bytes: Uint8Array, blockSize: number, deviceBlocks: number): boolean {
  const recordBytes = undoRecordBytes(blockSize);
  for (let at = 0; at < bytes.length; at += recordBytes) {
    const check = checkUndoRecord(bytes.subarray(at, at + recordBytes), scan.generation, blockSize, deviceBlocks);
    if (check.status !== 'ok') {
      scan.ending = check.status;
      if (check.status === 'torn') scan.problem = `torn record at file offset ${scan.endOffsetBytes} (an unfinished write; ignored with everything after it)`;
      if (check.status === 'corrupt') scan.problem = `${check.problem} at file offset ${scan.endOffsetBytes}`;
      return true;
    }
    if (!scan.payloadOffsets.has(check.block)) scan.payloadOffsets.set(check.block, scan.endOffsetBytes + UNDO_HEADER_BYTES);
    scan.records++;
    scan.endOffsetBytes += recordBytes;
  }
  return false;
}

/** A fixed-size set of device blocks, one bit each. */
export class BlockBitmap {
  private readonly words: Uint32Array;

  constructor(readonly blocks: number) {
    assert(Number.isSafeInteger(blocks) && blocks >= 0, 'bitmap size must be a count', { blocks });
    this.words = new Uint32Array(Math.ceil(blocks / 32));
  }

  has(block: number): boolean {
    return ((this.words[block >>> 5]! >>> (block & 31)) & 1) === 1;
  }

  clear(block: number): void {
    this.words[block >>> 5]! &= ~(1 << (block & 31));
  }

  /** Sets blocks [start, start + count). */
  setRange(start: number, count: number): void {
    assert(start >= 0 && count >= 0 && start + count <= this.blocks, 'bitmap range out of bounds', { start, count, blocks: this.blocks });
    let block = start;
    const end = start + count;
    while (block < end && (block & 31) !== 0) this.words[block >>> 5]! |= 1 << (block++ & 31);
    if (end - block >= 32) {
      this.words.fill(0xffffffff, block >>> 5, end >>> 5);
      block = end & ~31;
    }
    while (block < end) this.words[block >>> 5]! |= 1 << (block++ & 31);
  }

  /** True when any block of [start, end) is set. O((end - start) / 32). */
  anyIn(start: number, end: number): boolean {
    for (let block = start; block < end; ) {
      const word = this.words[block >>> 5]!;
      if ((block & 31) === 0 && end - block >= 32) {
        if (word !== 0) return true;
        block += 32;
        continue;
      }
      if (((word >>> (block & 31)) & 1) === 1) return true;
      block++;
    }
    return false;
  }
}

/** The blocks `meta` holds as written file data (the ones an overwrite must save first). O(extents + device blocks / 32). */
export function writtenBlocks(meta: ImageMetadata): BlockBitmap {
  const bitmap = new BlockBitmap(Math.floor(meta.deviceSize / meta.blockSize));
  for (const inode of meta.inodes) {
    for (const extent of inode.extents) {
      if (!extent.unwritten) bitmap.setRange(extent.physical, extent.length);
    }
  }
  return bitmap;
}
