/**
 * `fsck IMAGE`: a read-only consistency check of an image file, in the
 * spirit of e2fsck -n / xfs_repair -n. It reads both superblock slots and
 * their checkpoint records on its own (never trusting one to find the
 * other), decodes the newest usable checkpoint, and checks the metadata:
 * well-formedness, extents inside the device and clear of reserved blocks,
 * blocks shared only where refcounts say so, refcounts equal to the number
 * of extents that map each block; and the undo log of a run that did not
 * close cleanly (before-images the image is opened with). Every problem
 * names where it is. It never throws on a damaged file: whatever it cannot
 * read is a problem.
 */
import fs from 'node:fs';
import { BodyDecodeError, decodeMetadata } from './codec.js';
import { CHECKPOINT_HEADER_BYTES, decodeCheckpointHeader, decodeSuperblock, IMAGE_FLAG_UNDO_LOG, IMAGE_FORMAT_VERSION, SLOT_BYTES, SLOT_NAMES, SLOT_OFFSETS, type Superblock } from './format.js';
import { chooseCheckpointOffset, loadCheckpoint } from './image.js';
import { scanUndoLog, type UndoScan, writtenBlocks } from './undo.js';
import { sharedRefcounts } from './refcounts.js';
import type { ImageMetadata, RefcountRun } from './types.js';
import { metadataProblem } from './validate.js';
import { structureMismatches } from './verify.js';

/** One problem: where (a slot, a checkpoint, a file path or "(image)") and what. */
export interface FsckProblem {
  where: string;
  problem: string;
}

/** What fsck found in one superblock slot. */
export interface FsckSlot {
  slot: string;
  /**
   * empty: never written; ok: superblock and checkpoint intact; damaged: see
   * `problem`; newer: a format this build does not read; stale: an older
   * generation than the one in use whose checkpoint record a later commit
   * reused (what a run killed during a commit leaves: not a problem).
   */
  status: 'empty' | 'ok' | 'damaged' | 'newer' | 'stale';
  generation?: number;
  problem?: string;
  /** The slot fsck checked the metadata of (the newest intact one). */
  inUse: boolean;
}

/** The undo log of the checked generation (present when its superblock has the UNDO_LOG flag). */
export interface FsckUndoLog {
  generation: number;
  /** Valid before-images found: opening the image puts them back (a run that did not close cleanly). */
  records: number;
  /** Distinct device blocks they restore. */
  blocks: number;
  /** The log ends at a torn record: an unfinished write of a killed run, ignored (not a problem). */
  tornTail: boolean;
}

export interface FsckSummary {
  policy: string;
  generation: number;
  opsApplied: number;
  files: number;
  dirs: number;
  extents: number;
  blocksReserved: number;
  /** Device blocks mapped by at least one extent. */
  blocksUsed: number;
  blocksShared: number;
  blocksFree: number;
  undoLog?: FsckUndoLog;
}

export interface FsckReport {
  image: string;
  /** False when the file is missing, not a regular file, or has no iomapsim magic in either slot. */
  isImage: boolean;
  /** Why it is not an image (when isImage is false). */
  notImageReason?: string;
  slots: FsckSlot[];
  summary?: FsckSummary;
  problems: FsckProblem[];
  ok: boolean;
}

/** Problems listed at most (the rest are counted in `problems` by a last entry). */
const FSCK_PROBLEMS_MAX = 100;

function notImage(image: string, reason: string): FsckReport {
  return { image, isImage: false, notImageReason: reason, slots: [], problems: [], ok: false };
}

interface SlotRead {
  report: FsckSlot;
  superblock?: Superblock;
  record?: Uint8Array | null;
}

/** Reads one slot and its checkpoint record. */
function readSlot(fd: number, header: Uint8Array, fileBytes: number, slot: 0 | 1): SlotRead {
  const name = SLOT_NAMES[slot];
  const offset = SLOT_OFFSETS[slot];
  const decoded = decodeSuperblock(header.subarray(offset, Math.min(header.length, offset + SLOT_BYTES)));
  if (decoded.status === 'absent') return { report: { slot: name, status: 'empty', inUse: false } };
  if (decoded.status === 'newer') {
    return { report: { slot: name, status: 'newer', inUse: false, problem: `format version ${decoded.formatVersion} (flags 0x${decoded.flags.toString(16)}) is newer than this iomapsim reads (${IMAGE_FORMAT_VERSION})` } };
  }
  if (decoded.status === 'invalid') return { report: { slot: name, status: 'damaged', inUse: false, problem: `superblock: ${decoded.problem}` } };
  const sb = decoded.superblock;
  const record = loadCheckpoint(fd, sb, fileBytes);
  if (typeof record === 'string') return { report: { slot: name, status: 'damaged', generation: sb.generation, inUse: false, problem: record }, superblock: sb };
  return { report: { slot: name, status: 'ok', generation: sb.generation, inUse: false }, superblock: sb, record };
}

/** Decodes a checkpoint body; a string says what is wrong. */
function decodeBody(sb: Superblock, record: Uint8Array | null): ImageMetadata | string {
  if (record === null) {
    return { policy: sb.policy, policyParams: {}, blockSize: sb.blockSize, deviceSize: sb.deviceSize, seed: sb.seed, reserved: [], inodes: [], refcounts: [], trace: '', opsApplied: 0 };
  }
  let meta: ImageMetadata;
  try {
    meta = decodeMetadata(record.subarray(CHECKPOINT_HEADER_BYTES));
  } catch (error) {
    if (error instanceof BodyDecodeError || error instanceof RangeError || error instanceof TypeError) return `checkpoint body does not decode: ${error.message}`;
    throw error;
  }
  const problem = metadataProblem(meta);
  if (problem !== undefined) return `checkpoint body: ${problem}`;
  if (meta.blockSize !== sb.blockSize || meta.deviceSize !== sb.deviceSize) {
    return `checkpoint geometry (${meta.blockSize}-byte blocks, ${meta.deviceSize} bytes) differs from the superblock (${sb.blockSize}, ${sb.deviceSize})`;
  }
  return meta;
}

/** Refcount runs recorded against the extents' actual sharing. */
function refcountProblems(meta: ImageMetadata): FsckProblem[] {
  const actual = sharedRefcounts(meta.inodes);
  const key = (runs: readonly RefcountRun[]): string => runs.map((run) => `${run.start}+${run.length}x${run.refcount}`).join(' ');
  if (key(actual) === key(meta.refcounts)) return [];
  const problems: FsckProblem[] = [];
  const recorded = new Map(meta.refcounts.map((run) => [`${run.start}+${run.length}`, run.refcount]));
  for (const run of actual) {
    const count = recorded.get(`${run.start}+${run.length}`);
    if (count !== run.refcount) {
      problems.push({ where: '(refcounts)', problem: `device blocks ${run.start}..${run.start + run.length - 1} are mapped by ${run.refcount} extents, the recorded refcount is ${count ?? 'absent'}` });
    }
  }
  const actualKeys = new Set(actual.map((run) => `${run.start}+${run.length}`));
  for (const run of meta.refcounts) {
    if (!actualKeys.has(`${run.start}+${run.length}`)) {
      problems.push({ where: '(refcounts)', problem: `refcount ${run.refcount} recorded for device blocks ${run.start}..${run.start + run.length - 1}, which are not mapped that way` });
    }
  }
  return problems;
}

/** Counts of the checked metadata. O(extents log extents). */
function summarize(meta: ImageMetadata, generation: number): FsckSummary {
  const deviceBlocks = Math.floor(meta.deviceSize / meta.blockSize);
  const intervals: [number, number][] = [];
  let extents = 0;
  let files = 0;
  let dirs = 0;
  for (const inode of meta.inodes) {
    if (inode.kind === 'dir') dirs++;
    else files++;
    for (const extent of inode.extents) {
      extents++;
      intervals.push([extent.physical, extent.physical + extent.length]);
    }
  }
  for (const run of meta.reserved) intervals.push([run.start, run.start + run.length]);
  intervals.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let reach = 0;
  for (const [start, end] of intervals) {
    if (end <= reach) continue;
    covered += end - Math.max(start, reach);
    reach = end;
  }
  const blocksReserved = meta.reserved.reduce((sum, run) => sum + run.length, 0);
  const blocksShared = meta.refcounts.reduce((sum, run) => sum + run.length, 0);
  return {
    policy: meta.policy,
    generation,
    opsApplied: meta.opsApplied,
    files,
    dirs,
    extents,
    blocksReserved,
    blocksUsed: covered - blocksReserved,
    blocksShared,
    blocksFree: deviceBlocks - covered,
  };
}

/** Opens `image` read-only; a string says why it is not an image file. */
function openImageFile(image: string): { fd: number; fileBytes: number } | string {
  let fd: number;
  try {
    fd = fs.openSync(image, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot open it (${code})`;
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    return 'is not a regular file';
  }
  return { fd, fileBytes: stat.size };
}

/**
 * Checks the image at `image`. Never throws for a damaged or foreign file
 * (I/O errors of the machine itself aside). O(metadata size + extents log extents).
 */
export function fsckImage(image: string): FsckReport {
  const opened = openImageFile(image);
  if (typeof opened === 'string') return notImage(image, opened);
  const { fd, fileBytes } = opened;
  try {
    const header = new Uint8Array(Math.min(fileBytes, SLOT_OFFSETS[1] + SLOT_BYTES));
    fs.readSync(fd, header, 0, header.length, 0);
    const slots = [readSlot(fd, header, fileBytes, 0), readSlot(fd, header, fileBytes, 1)];
    if (slots.every((slot) => slot.report.status === 'empty')) return notImage(image, 'no "IOMAPSIM" magic in either superblock slot');
    return checkSlots(image, slots, fd, fileBytes);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flag bit of a slot that has UNDO_LOG (the later of two slots with one generation). */
function undoFlagOf(slot: SlotRead): number {
  return (slot.superblock!.flags & IMAGE_FLAG_UNDO_LOG) !== 0 ? 1 : 0;
}

/** The undo log of the chosen checkpoint: its state, and records that cannot be right. */
function checkUndoLog(scan: UndoScan, meta: ImageMetadata, problems: FsckProblem[]): FsckUndoLog {
  const where = `(undo log, generation ${scan.generation})`;
  if (scan.ending === 'corrupt') problems.push({ where, problem: scan.problem ?? 'corrupt record' });
  const written = writtenBlocks(meta);
  let outside = 0;
  for (const block of scan.payloadOffsets.keys()) {
    if (written.has(block)) continue;
    if (outside++ < 10) problems.push({ where, problem: `before-image of device block ${block}, which the checkpoint does not hold as written data` });
  }
  if (outside > 10) problems.push({ where, problem: `${outside - 10} more before-images of blocks the checkpoint does not hold as written data` });
  return { generation: scan.generation, records: scan.records, blocks: scan.payloadOffsets.size, tornTail: scan.ending === 'torn' };
}

/**
 * True when the record of an older slot was overwritten by the next commit
 * after the one in use: a header of generation `inUse + 1` at one of the two
 * offsets that commit could choose, overlapping the old record. That commit
 * was killed before it rewrote the old slot; the old record was dead already.
 */
function reusedByNextCommit(fd: number, fileBytes: number, inUse: Superblock, undoEndBytes: number, old: Superblock): boolean {
  // A record too big to fit before the one in use goes after it (and its undo log): the second offset.
  const offsets = [inUse.metaOffset, chooseCheckpointOffset(inUse, Number.MAX_SAFE_INTEGER, undoEndBytes)];
  const header = new Uint8Array(CHECKPOINT_HEADER_BYTES);
  for (const offset of offsets) {
    if (offset + header.length > fileBytes || !readExactly(fd, header, offset)) continue;
    const decoded = decodeCheckpointHeader(header);
    if (typeof decoded === 'string' || decoded.generation !== inUse.generation + 1) continue;
    const end = offset + CHECKPOINT_HEADER_BYTES + decoded.bodyLength;
    if (offset < old.checkpointOffset + old.checkpointLength && old.checkpointOffset < end) return true;
  }
  return false;
}

/** Reads dst.length bytes at `offset`; false on a short read or an I/O error (fsck never throws on a bad file). */
function readExactly(fd: number, dst: Uint8Array, offset: number): boolean {
  try {
    return fs.readSync(fd, dst, 0, dst.length, offset) === dst.length;
  } catch {
    return false;
  }
}

/** The newest intact slot whose checkpoint decodes: the state the image opens at. A body that does not decode is a problem. */
function chooseCheckpoint(slots: SlotRead[], problems: FsckProblem[]): { chosen: SlotRead; meta: ImageMetadata } | undefined {
  const candidates = slots
    .filter((slot) => slot.report.status === 'ok')
    .sort((a, b) => b.superblock!.generation - a.superblock!.generation || undoFlagOf(b) - undoFlagOf(a));
  for (const slot of candidates) {
    const decoded = decodeBody(slot.superblock!, slot.record ?? null);
    if (typeof decoded !== 'string') return { chosen: slot, meta: decoded };
    slot.report.status = 'damaged';
    slot.report.problem = decoded;
    problems.push({ where: `slot ${slot.report.slot} (generation ${slot.superblock!.generation})`, problem: decoded });
  }
  return undefined;
}

function checkSlots(image: string, slots: SlotRead[], fd: number, fileBytes: number): FsckReport {
  const problems: FsckProblem[] = [];
  for (const slot of slots) {
    const superblockDamaged = slot.report.status === 'damaged' && slot.superblock === undefined;
    if (superblockDamaged || slot.report.status === 'newer') problems.push({ where: `slot ${slot.report.slot}`, problem: slot.report.problem! });
  }
  // Slots whose superblock is intact but whose checkpoint record is not: judged once the slot in use is known.
  const recordDamaged = slots.filter((slot) => slot.report.status === 'damaged' && slot.superblock !== undefined);
  const found = chooseCheckpoint(slots, problems);
  const reports = slots.map((slot) => slot.report);
  if (found === undefined) {
    for (const slot of recordDamaged) problems.push({ where: `slot ${slot.report.slot}`, problem: slot.report.problem! });
    problems.push({ where: '(image)', problem: 'no superblock slot holds an intact checkpoint: the image cannot be opened' });
    return { image, isImage: true, slots: reports, problems, ok: false };
  }
  const { chosen, meta } = found;
  const inUse = chosen.superblock!;
  chosen.report.inUse = true;
  const undo = undoFlagOf(chosen) === 1 ? scanUndoLog(fd, inUse, fileBytes) : undefined;
  for (const slot of recordDamaged) {
    const old = slot.superblock!;
    const stale = old.generation < inUse.generation && reusedByNextCommit(fd, fileBytes, inUse, undo !== undefined && undo.records > 0 ? undo.endOffsetBytes : 0, old);
    if (stale) slot.report.status = 'stale';
    else problems.push({ where: `slot ${slot.report.slot}`, problem: slot.report.problem! });
  }
  const newest = Math.max(...slots.map((slot) => slot.report.generation ?? -1));
  if (newest > inUse.generation) {
    problems.push({ where: '(image)', problem: `opens at generation ${inUse.generation}: the newer generation ${newest} is damaged (its last commit was lost)` });
  }
  for (const mismatch of structureMismatches(meta, FSCK_PROBLEMS_MAX)) {
    problems.push({ where: mismatch.path, problem: `${mismatch.reason} (file bytes ${mismatch.offset}..${mismatch.offset + mismatch.length - 1})` });
  }
  problems.push(...refcountProblems(meta));
  const summary = summarize(meta, inUse.generation);
  if (undo !== undefined) summary.undoLog = checkUndoLog(undo, meta, problems);
  const shown = problems.slice(0, FSCK_PROBLEMS_MAX);
  if (problems.length > FSCK_PROBLEMS_MAX) shown.push({ where: '(fsck)', problem: `${problems.length - FSCK_PROBLEMS_MAX} more problems not listed` });
  return { image, isImage: true, slots: reports, summary, problems: shown, ok: problems.length === 0 };
}
