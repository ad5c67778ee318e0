/**
 * Binary encoding of ImageMetadata, the body of a checkpoint record
 * (docs/image-format.md, "Checkpoint body"). Extent arrays are written as
 * columns of little-endian f64/u8 so that a million extents encode and decode
 * in a fraction of a second; only policyParams is JSON. Decoding checks every
 * count against the bytes left before allocating anything.
 */
import { assert } from '../util/assert.js';
import type {
  BlockRun,
  ContentRange,
  ContentSource,
  ImageMetadata,
  PersistedExtent,
  PersistedInode,
  RefcountRun,
} from './types.js';

/** Last u32 of every body: "MEND" read as little-endian ASCII. */
export const BODY_END_MARKER = 0x444e454d;
/** Since 1.2: "INLN", the optional inline-data section between the inodes and the end marker. */
export const INLINE_SECTION_MARKER = 0x4e4c4e49;

const KIND_FILE = 0;
const KIND_DIR = 1;
const SOURCE_ZERO = 0;
const SOURCE_FILL = 1;
const SOURCE_GEN = 2;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** A body that cannot be decoded; image.ts turns it into ImageError 'corrupt'. */
export class BodyDecodeError extends Error {}

/** Typed-array columns are stored little-endian; on a little-endian host they are copied, not converted. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Growable little-endian byte writer. */
class BodyWriter {
  private bytes: Uint8Array;
  private view: DataView;
  private offset = 0;

  /** capacityBytes: a size estimate, so that large bodies are not copied while growing. */
  constructor(capacityBytes: number) {
    this.bytes = new Uint8Array(Math.max(capacityBytes, 1 << 16));
    this.view = new DataView(this.bytes.buffer);
  }

  ensure(lengthBytes: number): void {
    if (this.offset + lengthBytes <= this.bytes.length) return;
    let capacity = this.bytes.length;
    while (capacity < this.offset + lengthBytes) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.offset));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.view.setUint8(this.offset, value);
    this.offset += 1;
  }

  u32(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, 'u32 out of range', { value });
    this.ensure(4);
    this.view.setUint32(this.offset, value, true);
    this.offset += 4;
  }

  f64(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.offset, value, true);
    this.offset += 8;
  }

  string(value: string): void {
    const encoded = textEncoder.encode(value);
    this.u32(encoded.length);
    this.ensure(encoded.length);
    this.bytes.set(encoded, this.offset);
    this.offset += encoded.length;
  }

  /** Zero bytes up to the next multiple of 8, so that f64 columns are aligned in the body. */
  align8(): void {
    const padding = (8 - (this.offset % 8)) % 8;
    this.ensure(padding);
    this.bytes.fill(0, this.offset, this.offset + padding);
    this.offset += padding;
  }

  /** An aligned column of count f64 values, value(i) for i in [0, count). */
  f64Column(count: number, value: (index: number) => number): void {
    this.align8();
    this.ensure(count * 8);
    if (HOST_LITTLE_ENDIAN) {
      const column = new Float64Array(this.bytes.buffer, this.offset, count);
      for (let i = 0; i < count; i++) column[i] = value(i);
    } else {
      for (let i = 0; i < count; i++) this.view.setFloat64(this.offset + i * 8, value(i), true);
    }
    this.offset += count * 8;
  }

  u32Column(count: number, value: (index: number) => number): void {
    this.ensure(count * 4);
    for (let i = 0; i < count; i++) this.u32(value(i));
  }

  u8Column(count: number, value: (index: number) => number): void {
    this.ensure(count);
    const bytes = this.bytes;
    for (let i = 0; i < count; i++) bytes[this.offset + i] = value(i);
    this.offset += count;
  }

  /** The encoded bytes (a view: the writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.offset);
  }
}

/** Bounds-checked little-endian reader; every overrun is a BodyDecodeError. */
class BodyReader {
  private readonly view: DataView;
  offset = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  need(lengthBytes: number, what: string): void {
    if (lengthBytes > this.remaining) {
      throw new BodyDecodeError(`${what} needs ${lengthBytes} bytes at body offset ${this.offset}, only ${this.remaining} left`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }

  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  f64(what: string): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return value;
  }

  string(what: string): string {
    const length = this.u32(`${what} length`);
    this.need(length, what);
    const encoded = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return textDecoder.decode(encoded);
    } catch {
      throw new BodyDecodeError(`${what} is not valid UTF-8`);
    }
  }

  /** Skips the zero padding before an aligned column. */
  align8(what: string): void {
    const padding = (8 - (this.offset % 8)) % 8;
    this.need(padding, `${what} padding`);
    for (let i = 0; i < padding; i++) {
      if (this.bytes[this.offset + i] !== 0) throw new BodyDecodeError(`${what} padding at body offset ${this.offset + i} is not zero`);
    }
    this.offset += padding;
  }

  /** An aligned column of count f64 values (a view into the body when the host allows it). */
  f64Column(count: number, what: string): Float64Array {
    this.align8(what);
    this.need(count * 8, what);
    const byteOffset = this.bytes.byteOffset + this.offset;
    let column: Float64Array;
    if (HOST_LITTLE_ENDIAN && byteOffset % 8 === 0) column = new Float64Array(this.bytes.buffer, byteOffset, count);
    else {
      column = new Float64Array(count);
      for (let i = 0; i < count; i++) column[i] = this.view.getFloat64(this.offset + i * 8, true);
    }
    this.offset += count * 8;
    return column;
  }

  u32Column(count: number, what: string): Uint32Array {
    this.need(count * 4, what);
    const column = new Uint32Array(count);
    for (let i = 0; i < count; i++) column[i] = this.u32(what);
    return column;
  }

  u8Column(count: number, what: string): Uint8Array {
    this.need(count, what);
    const column = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return column;
  }
}

/** Encodes metadata into a checkpoint body. O(size of the metadata). */
export function encodeMetadata(meta: ImageMetadata): Uint8Array {
  const writer = new BodyWriter(estimateBodyBytes(meta));
  writer.string(meta.policy);
  writer.string(JSON.stringify(meta.policyParams));
  writer.u32(meta.blockSize);
  writer.f64(meta.deviceSize);
  writer.f64(meta.seed);
  writer.string(meta.trace);
  writer.f64(meta.opsApplied);
  writeRuns(writer, meta.reserved);
  writeRuns(writer, meta.refcounts);
  writer.u32Column(meta.refcounts.length, (i) => (meta.refcounts[i] as RefcountRun).refcount);
  writer.u32(meta.inodes.length);
  for (const inode of meta.inodes) writeInode(writer, inode);
  writeInlineSection(writer, meta.inodes);
  writer.u32(BODY_END_MARKER);
  return writer.finish();
}

/** Upper estimate of the encoded size (strings counted at 3 bytes per UTF-16 unit). */
function estimateBodyBytes(meta: ImageMetadata): number {
  let bytes = 1024 + (meta.reserved.length + meta.refcounts.length) * 20 + meta.trace.length * 3;
  for (const inode of meta.inodes) {
    bytes += 64 + inode.path.length * 3 + inode.extents.length * 25 + inode.content.length * 42 + (inode.inline === undefined ? 0 : 32 + inode.inline.lengthBytes);
  }
  return bytes;
}

/**
 * The inline section (only when some inode has inline data): marker, count,
 * then columns of inode index, length and has-bytes, then the bytes of each
 * inline that has them, in order.
 */
function writeInlineSection(writer: BodyWriter, inodes: readonly PersistedInode[]): void {
  const indexes: number[] = [];
  inodes.forEach((inode, index) => {
    if (inode.inline !== undefined) indexes.push(index);
  });
  if (indexes.length === 0) return;
  writer.u32(INLINE_SECTION_MARKER);
  writer.u32(indexes.length);
  writer.f64Column(indexes.length, (i) => indexes[i]!);
  writer.f64Column(indexes.length, (i) => inodes[indexes[i]!]!.inline!.lengthBytes);
  writer.u8Column(indexes.length, (i) => (inodes[indexes[i]!]!.inline!.bytes === undefined ? 0 : 1));
  for (const index of indexes) {
    const bytes = inodes[index]!.inline!.bytes;
    if (bytes !== undefined) writer.u8Column(bytes.length, (i) => bytes[i]!);
  }
}

/** Reads the inline section into `inodes` (after its marker was read). */
function readInlineSection(reader: BodyReader, inodes: PersistedInode[]): void {
  const count = reader.u32('inline count');
  reader.need(count * 17, `${count} inline records`);
  const indexes = reader.f64Column(count, 'inline inode column');
  const lengths = reader.f64Column(count, 'inline length column');
  const hasBytes = reader.u8Column(count, 'inline has-bytes column');
  for (let i = 0; i < count; i++) {
    const index = indexes[i]!;
    const lengthBytes = lengths[i]!;
    const inode = Number.isSafeInteger(index) ? inodes[index] : undefined;
    if (inode === undefined || inode.inline !== undefined) throw new BodyDecodeError(`inline record ${i}: inode index ${index} is not a distinct inode of this body`);
    if (!Number.isSafeInteger(lengthBytes) || lengthBytes <= 0) throw new BodyDecodeError(`inline record ${i}: length ${lengthBytes} is not a positive count`);
    if (hasBytes[i]! > 1) throw new BodyDecodeError(`inline record ${i}: has-bytes flag is ${hasBytes[i]}, expected 0 or 1`);
    inode.inline = hasBytes[i] === 1 ? { lengthBytes, bytes: reader.u8Column(lengthBytes, `inline record ${i} bytes`).slice() } : { lengthBytes };
  }
}

function writeRuns(writer: BodyWriter, runs: readonly BlockRun[]): void {
  writer.u32(runs.length);
  writer.f64Column(runs.length, (i) => (runs[i] as BlockRun).start);
  writer.f64Column(runs.length, (i) => (runs[i] as BlockRun).length);
}

function writeInode(writer: BodyWriter, inode: PersistedInode): void {
  const extents = inode.extents;
  writer.u8(inode.kind === 'dir' ? KIND_DIR : KIND_FILE);
  writer.f64(inode.ino);
  writer.f64(inode.size);
  writer.string(inode.path);
  writer.u32(extents.length);
  writer.f64Column(extents.length, (i) => (extents[i] as PersistedExtent).logical);
  writer.f64Column(extents.length, (i) => (extents[i] as PersistedExtent).physical);
  writer.f64Column(extents.length, (i) => (extents[i] as PersistedExtent).length);
  writer.u8Column(extents.length, (i) => ((extents[i] as PersistedExtent).unwritten ? 1 : 0));
  writeContent(writer, inode.content);
}

/** Content ranges as columns: offsets, lengths, source tags, then fill bytes and generator triples in range order. */
function writeContent(writer: BodyWriter, content: readonly ContentRange[]): void {
  const fills: number[] = [];
  const gens: Array<Extract<ContentSource, { kind: 'gen' }>> = [];
  for (const range of content) {
    if (range.source.kind === 'fill') fills.push(range.source.byte);
    else if (range.source.kind === 'gen') gens.push(range.source);
  }
  writer.u32(content.length);
  writer.f64Column(content.length, (i) => (content[i] as ContentRange).offset);
  writer.f64Column(content.length, (i) => (content[i] as ContentRange).length);
  writer.u8Column(content.length, (i) => sourceTag((content[i] as ContentRange).source));
  writer.u8Column(fills.length, (i) => fills[i] as number);
  writer.f64Column(gens.length, (i) => gens[i]!.ino);
  writer.f64Column(gens.length, (i) => gens[i]!.seq);
  writer.f64Column(gens.length, (i) => gens[i]!.shift);
}

function sourceTag(source: ContentSource): number {
  switch (source.kind) {
    case 'zero':
      return SOURCE_ZERO;
    case 'fill':
      return SOURCE_FILL;
    case 'gen':
      return SOURCE_GEN;
  }
}

/**
 * Decodes a checkpoint body. Throws BodyDecodeError on any structural problem
 * (overrun, bad tag, bad UTF-8 or JSON, trailing bytes); semantic checks are
 * metadataProblem's (validate.ts). O(body length).
 */
export function decodeMetadata(body: Uint8Array): ImageMetadata {
  const reader = new BodyReader(body);
  const policy = reader.string('policy');
  const policyParams = parsePolicyParams(reader.string('policyParams'));
  const blockSize = reader.u32('blockSize');
  const deviceSize = reader.f64('deviceSize');
  const seed = reader.f64('seed');
  const trace = reader.string('trace');
  const opsApplied = reader.f64('opsApplied');
  const reserved = readRuns(reader, 'reserved');
  const refcountRuns = readRuns(reader, 'refcounts');
  const refcountColumn = reader.u32Column(refcountRuns.length, 'refcount column');
  const refcounts: RefcountRun[] = refcountRuns.map((run, i) => ({ ...run, refcount: refcountColumn[i] as number }));
  const inodeCount = reader.u32('inode count');
  // The smallest inode record is 29 bytes: refuse counts the body cannot hold before looping.
  reader.need(inodeCount * 29, `${inodeCount} inodes`);
  const inodes: PersistedInode[] = [];
  for (let i = 0; i < inodeCount; i++) inodes.push(readInode(reader, i));
  let marker = reader.u32('end marker');
  if (marker === INLINE_SECTION_MARKER) {
    readInlineSection(reader, inodes);
    marker = reader.u32('end marker');
  }
  if (marker !== BODY_END_MARKER) throw new BodyDecodeError(`end marker is 0x${marker.toString(16)}, expected 0x${BODY_END_MARKER.toString(16)}`);
  if (reader.remaining !== 0) throw new BodyDecodeError(`${reader.remaining} bytes after the end marker`);
  return { policy, policyParams, blockSize, deviceSize, seed, reserved, inodes, refcounts, trace, opsApplied };
}

function parsePolicyParams(json: string): ImageMetadata['policyParams'] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new BodyDecodeError('policyParams is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BodyDecodeError('policyParams is not a JSON object');
  return value as ImageMetadata['policyParams'];
}

function readRuns(reader: BodyReader, what: string): BlockRun[] {
  const count = reader.u32(`${what} count`);
  const starts = reader.f64Column(count, `${what} start column`);
  const lengths = reader.f64Column(count, `${what} length column`);
  const runs: BlockRun[] = new Array(count);
  for (let i = 0; i < count; i++) runs[i] = { start: starts[i] as number, length: lengths[i] as number };
  return runs;
}

function readInode(reader: BodyReader, index: number): PersistedInode {
  const what = `inode record ${index}`;
  const kindTag = reader.u8(`${what} kind`);
  if (kindTag !== KIND_FILE && kindTag !== KIND_DIR) throw new BodyDecodeError(`${what}: kind tag ${kindTag} is unknown`);
  const ino = reader.f64(`${what} ino`);
  const size = reader.f64(`${what} size`);
  const path = reader.string(`${what} path`);
  const extentCount = reader.u32(`${what} extent count`);
  reader.need(extentCount * 25, `${what}: ${extentCount} extents`);
  const logicals = reader.f64Column(extentCount, `${what} logical column`);
  const physicals = reader.f64Column(extentCount, `${what} physical column`);
  const lengths = reader.f64Column(extentCount, `${what} length column`);
  const unwrittens = reader.u8Column(extentCount, `${what} unwritten column`);
  const extents: PersistedExtent[] = new Array(extentCount);
  for (let i = 0; i < extentCount; i++) {
    const flag = unwrittens[i] as number;
    if (flag > 1) throw new BodyDecodeError(`${what}: extent ${i} unwritten flag is ${flag}, expected 0 or 1`);
    extents[i] = { logical: logicals[i] as number, physical: physicals[i] as number, length: lengths[i] as number, unwritten: flag === 1 };
  }
  const content = readContent(reader, what);
  return { ino, path, kind: kindTag === KIND_DIR ? 'dir' : 'file', size, extents, content };
}

function readContent(reader: BodyReader, what: string): ContentRange[] {
  const count = reader.u32(`${what} content count`);
  reader.need(count * 17, `${what}: ${count} content ranges`);
  const offsets = reader.f64Column(count, `${what} content offset column`);
  const lengths = reader.f64Column(count, `${what} content length column`);
  const tags = reader.u8Column(count, `${what} content source column`);
  let fillCount = 0;
  let genCount = 0;
  for (let i = 0; i < count; i++) {
    const tag = tags[i] as number;
    if (tag === SOURCE_FILL) fillCount++;
    else if (tag === SOURCE_GEN) genCount++;
    else if (tag !== SOURCE_ZERO) throw new BodyDecodeError(`${what} content range ${i}: source tag ${tag} is unknown`);
  }
  const fills = reader.u8Column(fillCount, `${what} fill byte column`);
  const genInos = reader.f64Column(genCount, `${what} generator ino column`);
  const genSeqs = reader.f64Column(genCount, `${what} generator seq column`);
  const genShifts = reader.f64Column(genCount, `${what} generator shift column`);
  const content: ContentRange[] = new Array(count);
  let fillIndex = 0;
  let genIndex = 0;
  for (let i = 0; i < count; i++) {
    const tag = tags[i] as number;
    let source: ContentSource;
    if (tag === SOURCE_FILL) source = { kind: 'fill', byte: fills[fillIndex++] as number };
    else if (tag === SOURCE_GEN) {
      source = { kind: 'gen', ino: genInos[genIndex] as number, seq: genSeqs[genIndex] as number, shift: genShifts[genIndex] as number };
      genIndex++;
    } else source = { kind: 'zero' };
    content[i] = { offset: offsets[i] as number, length: lengths[i] as number, source };
  }
  return content;
}
