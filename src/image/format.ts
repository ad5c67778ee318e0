/**
 * Byte-level layout of an iomapsim image (docs/image-format.md): the two
 * superblock slots of the header region and the checkpoint record header.
 * Pure encode/decode; the file handling lives in image.ts. All integers are
 * little-endian; u64 fields are written from JS numbers (exact to 2^53).
 */
import { crc32 } from 'node:zlib';
import { assert } from '../util/assert.js';

/** Magic at the start of each superblock slot. */
export const IMAGE_MAGIC = 'IOMAPSIM';
/** Magic at the start of each checkpoint record. */
export const CHECKPOINT_MAGIC = 'IMSCKPT1';
/** The major format version this code writes and the newest it reads. */
export const IMAGE_FORMAT_VERSION = 1;
/** Minor version written (1.1 METADATA_ONLY, 1.2 INLINE_DATA, 1.3 UNDO_LOG); readers accept any minor of a major they know. */
export const IMAGE_FORMAT_MINOR = 3;
/**
 * Incompatible-feature flag (since 1.1): the data area holds no file data
 * (`replay --no-data`); only the metadata is meaningful. Incompatible because
 * a 1.0 reader would "verify" such an image as all zeros and call it OK.
 */
export const IMAGE_FLAG_METADATA_ONLY = 0x1;
/**
 * Since 1.2: some file keeps data inline in the metadata (the checkpoint's
 * inline section). Incompatible because a 1.1 reader would take the inline
 * bytes for a hole and report the file as damaged.
 */
export const IMAGE_FLAG_INLINE_DATA = 0x2;
/**
 * Since 1.3: the data area may hold bytes written after this checkpoint; the
 * undo log after the checkpoint record (src/image/undo.ts) holds the
 * checkpoint's bytes of every block overwritten since. Set on a copy of the
 * current superblock written to the other slot just before the first
 * before-image of a generation is logged. Incompatible because a 1.2 reader
 * would read the overwritten blocks and report the checkpoint's files as damaged.
 */
export const IMAGE_FLAG_UNDO_LOG = 0x4;
/** Incompatible-feature flag bits this reader understands; any other set bit refuses the image as 'version'. */
export const IMAGE_FLAGS_KNOWN = IMAGE_FLAG_METADATA_ONLY | IMAGE_FLAG_INLINE_DATA | IMAGE_FLAG_UNDO_LOG;

/** Bytes of the header region; the data area starts here. */
export const HEADER_REGION_BYTES = 65536;
/** Bytes reserved for each superblock slot (slot A at 0, slot B at 4096). */
export const SLOT_BYTES = 4096;
/** Bytes of a slot covered by its structure (the crc sits in the last 4). */
export const SLOT_USED_BYTES = 512;
/** File offsets of the two slots. */
export const SLOT_OFFSETS = [0, 4096] as const;
/** Slot names, for messages. */
export const SLOT_NAMES = ['A', 'B'] as const;
/** Bytes of a checkpoint record header. */
export const CHECKPOINT_HEADER_BYTES = 64;
/** Alignment of the metadata area and of every checkpoint record. */
export const CHECKPOINT_ALIGN_BYTES = 4096;
/** Fixed widths of the string fields of a slot. */
export const POLICY_FIELD_BYTES = 16;
export const CREATED_BY_FIELD_BYTES = 32;
/** Written into createdBy by this implementation. */
export const IMAGE_CREATED_BY = 'iomapsim image v1';

/** Field offsets inside a slot. */
const SB = {
  magic: 0,
  versionMajor: 8,
  versionMinor: 12,
  flags: 16,
  blockSize: 20,
  deviceSize: 24,
  dataOffset: 32,
  metaOffset: 40,
  generation: 48,
  checkpointOffset: 56,
  checkpointLength: 64,
  checkpointCrc: 72,
  slotUsedBytes: 76,
  seed: 80,
  policy: 88,
  createdBy: 104,
  crc: SLOT_USED_BYTES - 4,
} as const;

/** Field offsets inside a checkpoint record header. */
const CK = {
  magic: 0,
  generation: 8,
  bodyLength: 16,
  bodyCrc: 24,
  crc: CHECKPOINT_HEADER_BYTES - 4,
} as const;

/** One decoded superblock slot. */
export interface Superblock {
  formatVersion: number;
  formatMinor: number;
  flags: number;
  blockSize: number;
  deviceSize: number;
  /** File offset of device byte address 0. */
  dataOffset: number;
  /** File offset where the metadata area (checkpoint records) starts. */
  metaOffset: number;
  /** Checkpoint generation; 0 means "no checkpoint yet". */
  generation: number;
  /** File offset and total length (header + body) of the checkpoint record; 0/0 when generation is 0. */
  checkpointOffset: number;
  checkpointLength: number;
  /** crc32 of the whole checkpoint record [checkpointOffset, checkpointOffset + checkpointLength). */
  checkpointCrc: number;
  policy: string;
  seed: number;
  createdBy: string;
}

/** What reading one slot found. */
export type SlotDecode =
  | { status: 'absent' }
  | { status: 'newer'; formatVersion: number; flags: number }
  | { status: 'invalid'; problem: string }
  | { status: 'valid'; superblock: Superblock };

/** Decoded checkpoint record header. */
export interface CheckpointHeader {
  generation: number;
  bodyLength: number;
  bodyCrc: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Rounds `value` up to a multiple of `align`. */
export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/** Writes a u64 from a safe integer. */
export function setU64(view: DataView, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, 'u64 field must be a non-negative safe integer', { value });
  view.setBigUint64(offset, BigInt(value), true);
}

/** Reads a u64; returns NaN when it exceeds 2^53 so that callers reject it as out of range. */
export function getU64(view: DataView, offset: number): number {
  const value = view.getBigUint64(offset, true);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(value);
}

function setFixedString(bytes: Uint8Array, offset: number, width: number, value: string): void {
  const encoded = textEncoder.encode(value);
  assert(encoded.length <= width, 'string does not fit its fixed-width field', { value, width });
  bytes.fill(0, offset, offset + width);
  bytes.set(encoded, offset);
}

function getFixedString(bytes: Uint8Array, offset: number, width: number): string | undefined {
  const field = bytes.subarray(offset, offset + width);
  const end = field.indexOf(0);
  const used = end < 0 ? field : field.subarray(0, end);
  if (end >= 0 && field.subarray(end).some((b) => b !== 0)) return undefined;
  try {
    return textDecoder.decode(used);
  } catch {
    return undefined;
  }
}

function hasMagic(bytes: Uint8Array, offset: number, magic: string): boolean {
  for (let i = 0; i < magic.length; i++) {
    if (bytes[offset + i] !== magic.charCodeAt(i)) return false;
  }
  return true;
}

/** True when `policy` fits the superblock's policy field. */
export function policyNameFits(policy: string): boolean {
  return textEncoder.encode(policy).length <= POLICY_FIELD_BYTES && !policy.includes('\0');
}

/** Encodes a superblock into a full SLOT_BYTES slot (zero padded, crc over [0, SLOT_USED_BYTES - 4)). */
export function encodeSuperblock(sb: Superblock): Uint8Array {
  const bytes = new Uint8Array(SLOT_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(textEncoder.encode(IMAGE_MAGIC), SB.magic);
  view.setUint32(SB.versionMajor, sb.formatVersion, true);
  view.setUint32(SB.versionMinor, sb.formatMinor, true);
  view.setUint32(SB.flags, sb.flags, true);
  view.setUint32(SB.blockSize, sb.blockSize, true);
  setU64(view, SB.deviceSize, sb.deviceSize);
  setU64(view, SB.dataOffset, sb.dataOffset);
  setU64(view, SB.metaOffset, sb.metaOffset);
  setU64(view, SB.generation, sb.generation);
  setU64(view, SB.checkpointOffset, sb.checkpointOffset);
  setU64(view, SB.checkpointLength, sb.checkpointLength);
  view.setUint32(SB.checkpointCrc, sb.checkpointCrc >>> 0, true);
  view.setUint32(SB.slotUsedBytes, SLOT_USED_BYTES, true);
  view.setFloat64(SB.seed, sb.seed, true);
  setFixedString(bytes, SB.policy, POLICY_FIELD_BYTES, sb.policy);
  setFixedString(bytes, SB.createdBy, CREATED_BY_FIELD_BYTES, sb.createdBy);
  view.setUint32(SB.crc, crc32(bytes.subarray(0, SB.crc)), true);
  const check = decodeSuperblock(bytes);
  assert(check.status === 'valid', 'encoded superblock does not decode', check);
  return bytes;
}

/**
 * Decodes one slot (at least SLOT_USED_BYTES bytes). Checks magic, version,
 * crc and the geometry of the fields; never throws on bad input.
 */
export function decodeSuperblock(bytes: Uint8Array): SlotDecode {
  if (bytes.length < IMAGE_MAGIC.length || !hasMagic(bytes, SB.magic, IMAGE_MAGIC)) return { status: 'absent' };
  if (bytes.length < SLOT_USED_BYTES) return { status: 'invalid', problem: `slot is cut short at ${bytes.length} bytes (truncated)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, SLOT_USED_BYTES);
  const formatVersion = view.getUint32(SB.versionMajor, true);
  const flags = view.getUint32(SB.flags, true);
  // The frame (magic, major version, crc over [0, 508) at 508) is fixed for every version, so a torn
  // slot whose version field is garbage is told apart from a genuinely newer one.
  const crcStored = view.getUint32(SB.crc, true);
  const crcActual = crc32(bytes.subarray(0, SB.crc));
  if (crcStored !== crcActual) {
    return { status: 'invalid', problem: `crc mismatch (stored 0x${hex32(crcStored)}, computed 0x${hex32(crcActual)})` };
  }
  if (formatVersion > IMAGE_FORMAT_VERSION) return { status: 'newer', formatVersion, flags };
  if (formatVersion === 0) return { status: 'invalid', problem: 'format version 0' };
  if ((flags & ~IMAGE_FLAGS_KNOWN) !== 0) return { status: 'newer', formatVersion, flags };
  const policy = getFixedString(bytes, SB.policy, POLICY_FIELD_BYTES);
  const createdBy = getFixedString(bytes, SB.createdBy, CREATED_BY_FIELD_BYTES);
  if (policy === undefined || createdBy === undefined) return { status: 'invalid', problem: 'bad string field' };
  const superblock: Superblock = {
    formatVersion,
    formatMinor: view.getUint32(SB.versionMinor, true),
    flags,
    blockSize: view.getUint32(SB.blockSize, true),
    deviceSize: getU64(view, SB.deviceSize),
    dataOffset: getU64(view, SB.dataOffset),
    metaOffset: getU64(view, SB.metaOffset),
    generation: getU64(view, SB.generation),
    checkpointOffset: getU64(view, SB.checkpointOffset),
    checkpointLength: getU64(view, SB.checkpointLength),
    checkpointCrc: view.getUint32(SB.checkpointCrc, true),
    policy,
    seed: view.getFloat64(SB.seed, true),
    createdBy,
  };
  const problem = superblockProblem(superblock);
  return problem === undefined ? { status: 'valid', superblock } : { status: 'invalid', problem };
}

/** What is wrong with a superblock's geometry, or undefined. */
export function superblockProblem(sb: Superblock): string | undefined {
  if (!isValidBlockSize(sb.blockSize)) return `block size ${sb.blockSize} is not a power of two in [512, 65536]`;
  if (!Number.isSafeInteger(sb.deviceSize) || sb.deviceSize <= 0 || sb.deviceSize % sb.blockSize !== 0) {
    return `device size ${sb.deviceSize} is not a positive multiple of the block size`;
  }
  if (sb.dataOffset < HEADER_REGION_BYTES || sb.dataOffset % CHECKPOINT_ALIGN_BYTES !== 0) {
    return `data offset ${sb.dataOffset} is not an aligned offset after the header region`;
  }
  const dataEnd = sb.dataOffset + sb.deviceSize;
  if (!Number.isSafeInteger(sb.metaOffset) || sb.metaOffset < dataEnd || sb.metaOffset % CHECKPOINT_ALIGN_BYTES !== 0) {
    return `metadata offset ${sb.metaOffset} is not an aligned offset after the data area (ends at ${dataEnd})`;
  }
  if (!Number.isSafeInteger(sb.generation)) return 'generation out of range';
  if (!Number.isFinite(sb.seed) || !Number.isInteger(sb.seed)) return `seed ${sb.seed} is not an integer`;
  if ((sb.flags & IMAGE_FLAG_UNDO_LOG) !== 0 && (sb.flags & IMAGE_FLAG_METADATA_ONLY) !== 0) return 'undo log flag on a metadata-only image';
  if (sb.generation === 0) {
    if (sb.checkpointOffset !== 0 || sb.checkpointLength !== 0) return 'generation 0 must have no checkpoint';
    if ((sb.flags & IMAGE_FLAG_UNDO_LOG) !== 0) return 'undo log flag without a checkpoint';
    return undefined;
  }
  if (!Number.isSafeInteger(sb.checkpointOffset) || !Number.isSafeInteger(sb.checkpointLength)) {
    return 'checkpoint offset or length out of range';
  }
  if (sb.checkpointOffset < sb.metaOffset || sb.checkpointOffset % CHECKPOINT_ALIGN_BYTES !== 0) {
    return `checkpoint offset ${sb.checkpointOffset} is not an aligned offset in the metadata area`;
  }
  if (sb.checkpointLength < CHECKPOINT_HEADER_BYTES) return `checkpoint length ${sb.checkpointLength} is too small`;
  return undefined;
}

/** Block sizes an image may have. */
export function isValidBlockSize(blockSize: number): boolean {
  return Number.isInteger(blockSize) && blockSize >= 512 && blockSize <= 65536 && (blockSize & (blockSize - 1)) === 0;
}

/** Encodes a checkpoint record: header followed by `body`. */
export function encodeCheckpoint(generation: number, body: Uint8Array): Uint8Array {
  const record = new Uint8Array(CHECKPOINT_HEADER_BYTES + body.length);
  const view = new DataView(record.buffer);
  record.set(textEncoder.encode(CHECKPOINT_MAGIC), CK.magic);
  setU64(view, CK.generation, generation);
  setU64(view, CK.bodyLength, body.length);
  view.setUint32(CK.bodyCrc, crc32(body), true);
  view.setUint32(CK.crc, crc32(record.subarray(0, CK.crc)), true);
  record.set(body, CHECKPOINT_HEADER_BYTES);
  return record;
}

/**
 * Checks a whole checkpoint record against what the superblock says about it.
 * Returns the problem, or undefined when the record is intact.
 */
export function checkpointProblem(record: Uint8Array, sb: Superblock): string | undefined {
  if (record.length !== sb.checkpointLength) return `checkpoint is ${record.length} bytes, expected ${sb.checkpointLength}`;
  const actualCrc = crc32(record);
  if (actualCrc !== sb.checkpointCrc) {
    return `checkpoint crc mismatch (superblock says 0x${hex32(sb.checkpointCrc)}, computed 0x${hex32(actualCrc)})`;
  }
  const header = decodeCheckpointHeader(record);
  if (typeof header === 'string') return header;
  if (header.generation !== sb.generation) {
    return `checkpoint generation ${header.generation} does not match superblock generation ${sb.generation}`;
  }
  if (header.bodyLength !== record.length - CHECKPOINT_HEADER_BYTES) return 'checkpoint body length mismatch';
  if (crc32(record.subarray(CHECKPOINT_HEADER_BYTES)) !== header.bodyCrc) return 'checkpoint body crc mismatch';
  return undefined;
}

/** Decodes a checkpoint record header; a string says what is wrong. */
export function decodeCheckpointHeader(record: Uint8Array): CheckpointHeader | string {
  if (record.length < CHECKPOINT_HEADER_BYTES) return 'checkpoint record shorter than its header';
  if (!hasMagic(record, CK.magic, CHECKPOINT_MAGIC)) return `checkpoint magic ${JSON.stringify(CHECKPOINT_MAGIC)} missing`;
  const view = new DataView(record.buffer, record.byteOffset, CHECKPOINT_HEADER_BYTES);
  if (view.getUint32(CK.crc, true) !== crc32(record.subarray(0, CK.crc))) return 'checkpoint header crc mismatch';
  const generation = getU64(view, CK.generation);
  const bodyLength = getU64(view, CK.bodyLength);
  if (!Number.isSafeInteger(generation) || !Number.isSafeInteger(bodyLength)) return 'checkpoint header field out of range';
  return { generation, bodyLength, bodyCrc: view.getUint32(CK.bodyCrc, true) };
}

/** Eight hex digits. */
export function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}
