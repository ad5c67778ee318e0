/**
 * Write-behind for the image's data area: positioned writes handed to a
 * worker thread through a shared ring, in order, while the simulation goes
 * on (the block layer's asynchronous submission: submit_bio returns before
 * the I/O is done). The writes reach the file in the order they were
 * submitted, one pwrite each; drain() waits until every one has, and is
 * called before anything reads the file, commits, or closes it, so what
 * the image holds at those points is the same as with synchronous writes.
 *
 * Shared state (SharedArrayBuffer, no per-write allocation or message):
 *   control  Int32Array: HEAD records submitted, TAIL records written,
 *            ERROR 1 once a write failed (the worker stops writing), STOP.
 *   records  Float64Array, RECORD_SLOTS x (file position, length, ring offset).
 *   ring     RING_BYTES of data; a record never wraps (it starts at 0 instead).
 *   error    the failed write's error code and message, UTF-8, NUL padded.
 */
import { Worker } from 'node:worker_threads';
import type { GeneratedSource } from '../device/blockdev.js';
import { assert } from '../util/assert.js';

const HEAD = 0;
const TAIL = 1;
const ERROR = 2;
const STOP = 3;
/** 1 while the worker sleeps (or is about to) waiting for HEAD to move. */
const SLEEPING = 4;
const CONTROL_WORDS = 5;
/** A sleeping worker is woken once this many records wait (or at once by drain() or a full ring): one futex wake per batch, not per write. */
const WAKE_BATCH = 64;
/** Records in flight at most (each a pwrite). */
const RECORD_SLOTS = 65536;
/** Bytes in flight at most. */
const RING_BYTES = 32 << 20;
/** A reservation or write takes at most this much of the ring (larger writes go straight to the file after a drain). */
export const WRITE_BEHIND_MAX_BYTES = 4 << 20;
const ERROR_BYTES = 512;


/** Fields of a record: file position, length, kind, then per kind: ring offset (Bytes), ino/seq/source offset (Generated), fill byte (Fill). */
const RECORD_FIELDS = 6;
/** Record kinds. */
const KIND_BYTES = 0;
const KIND_GENERATED = 1;
const KIND_FILL = 2;
/** Contiguous generated or fill records the worker joins into one pwrite, at most. */
const WORKER_GATHER_BYTES = 1 << 20;

/**
 * The worker: CommonJS source run with eval (it must not depend on how this
 * module was loaded: compiled dist/ or ts-jest). It writes records in order
 * and sleeps on HEAD when it has caught up. Generated records are made here
 * with the payload rule (src/image/payload.ts: mix3 and fillPayload, the
 * same arithmetic; test/image/writebehind.test.ts compares them), joined with
 * the contiguous ones that follow.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, control, records, ring, error } = workerData;
const c = new Int32Array(control), r = new Float64Array(records), data = new Uint8Array(ring), e = new Uint8Array(error);
const FIELDS = ${RECORD_FIELDS};
const SLOTS = r.length / FIELDS;
const imul = Math.imul;
const gather = new Uint8Array(${WORKER_GATHER_BYTES});
const LITTLE = new Uint8Array(new Uint32Array([0x04030201]).buffer)[0] === 1;
function mix3(a, b, cc) {
  let h = imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ imul(b ^ 0x7f4a7c15, 0xc2b2ae35) ^ imul(cc, 0x27d4eb2f);
  h ^= h >>> 16; h = imul(h, 0x85ebca6b); h ^= h >>> 13; h = imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}
function generate(dst, at, length, ino, seq, offset) {
  let i = 0;
  if (LITTLE && ((offset & 3) === 0) && ((dst.byteOffset + at) & 3) === 0) {
    const words = new Uint32Array(dst.buffer, dst.byteOffset + at, length >>> 2);
    const fixed = imul(ino ^ 0x9e3779b9, 0x85ebca6b) ^ imul(seq ^ 0x7f4a7c15, 0xc2b2ae35);
    const first = Math.floor(offset / 4);
    for (let w = 0; w < words.length; w++) {
      let h = fixed ^ imul(first + w, 0x27d4eb2f);
      h ^= h >>> 16; h = imul(h, 0x85ebca6b); h ^= h >>> 13; h = imul(h, 0xc2b2ae35);
      words[w] = h ^ (h >>> 16);
    }
    i = words.length * 4;
  }
  for (; i < length; i++) {
    const o = offset + i;
    dst[at + i] = (mix3(ino, seq, Math.floor(o / 4)) >>> ((o & 3) * 8)) & 0xff;
  }
}
function writeAll(src, from, length, position) {
  let done = 0;
  while (done < length) {
    const n = fs.writeSync(fd, src, from + done, length - done, position + done);
    if (n <= 0) throw new Error('write made no progress');
    done += n;
  }
}
function fillRecord(slot, at) {
  const length = r[slot + 1], kind = r[slot + 2];
  if (kind === ${KIND_GENERATED}) generate(gather, at, length, r[slot + 3], r[slot + 4], r[slot + 5]);
  else gather.fill(r[slot + 3], at, at + length);
}
let tail = Atomics.load(c, ${TAIL});
for (;;) {
  const head = Atomics.load(c, ${HEAD});
  if (tail === head) {
    if (Atomics.load(c, ${STOP}) !== 0) break;
    // Say so before sleeping, then look again: a record published meanwhile is seen here or wakes the wait.
    Atomics.store(c, ${SLEEPING}, 1);
    if (Atomics.load(c, ${HEAD}) === head && Atomics.load(c, ${STOP}) === 0) Atomics.wait(c, ${HEAD}, head);
    Atomics.store(c, ${SLEEPING}, 0);
    continue;
  }
  let taken = 1;
  if (Atomics.load(c, ${ERROR}) === 0) {
    const slot = (tail % SLOTS) * FIELDS;
    const position = r[slot], length = r[slot + 1], kind = r[slot + 2];
    try {
      if (kind === ${KIND_BYTES}) {
        writeAll(data, r[slot + 3], length, position);
      } else {
        // This record and the contiguous generated/fill ones published after it: one pwrite.
        fillRecord(slot, 0);
        let gathered = length;
        while (tail + taken < head) {
          const next = ((tail + taken) % SLOTS) * FIELDS;
          if (r[next + 2] === ${KIND_BYTES} || r[next] !== position + gathered || gathered + r[next + 1] > gather.length) break;
          fillRecord(next, gathered);
          gathered += r[next + 1];
          taken++;
        }
        writeAll(gather, 0, gathered, position);
      }
    } catch (failure) {
      const text = new TextEncoder().encode(String(failure && failure.code ? failure.code : 'EIO') + '\\n' + String(failure && failure.message ? failure.message : failure));
      e.set(text.subarray(0, e.length));
      Atomics.store(c, ${ERROR}, 1);
    }
  }
  tail += taken;
  Atomics.store(c, ${TAIL}, tail);
  Atomics.notify(c, ${TAIL});
}
`;

/** A write the worker could not do, as the fs call would have thrown it (code and message). */
export class WriteBehindError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WriteBehindError';
  }
}

export class WriteBehind {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly records = new Float64Array(new SharedArrayBuffer(RECORD_SLOTS * RECORD_FIELDS * 8));
  private readonly ring = new Uint8Array(new SharedArrayBuffer(RING_BYTES));
  private readonly errorText = new Uint8Array(new SharedArrayBuffer(ERROR_BYTES));
  private readonly worker: Worker;
  /** Records submitted (HEAD as this thread last published it). */
  private head = 0;
  /** Ring offset where the next record goes. */
  private ringOffset = 0;
  /**
   * The records that hold bytes in the ring, oldest first (a queue of record
   * number and ring offset, indexes modulo RECORD_SLOTS): what is still in use
   * runs from the oldest unwritten one's offset to ringOffset.
   */
  private readonly byteRecordNumbers = new Float64Array(RECORD_SLOTS);
  private readonly byteRecordOffsets = new Float64Array(RECORD_SLOTS);
  private byteFront = 0;
  private byteBack = 0;
  private stopped = false;
  /** The reservation reserve() handed out: its ring offset and size (0: none). */
  private reservedOffset = 0;
  private reservedBytes = 0;

  constructor(fd: number) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { fd, control: this.control.buffer, records: this.records.buffer, ring: this.ring.buffer, error: this.errorText.buffer },
    });
    // The worker never keeps the process alive; close() stops it.
    this.worker.unref();
  }

  /** Records submitted and not written yet. */
  get pending(): number {
    return this.head - Atomics.load(this.control, TAIL);
  }

  /**
   * Queues a copy of `src` to be written at file offset `position`. Waits
   * (blocking) while the ring is full. Throws WriteBehindError when an earlier
   * write failed. O(src.length).
   */
  submit(position: number, src: Uint8Array): void {
    this.reserve(src.length).set(src);
    this.publish(position, src.length);
  }

  /**
   * Free ring bytes (`capacity` of them, at most WRITE_BEHIND_MAX_BYTES) where
   * the next record can be built in place; publish() queues it. Only one
   * reservation at a time; a new one (or submit) replaces an unpublished one.
   * Waits (blocking) while the ring is full. Throws WriteBehindError when an
   * earlier write failed.
   */
  reserve(capacity: number): Uint8Array {
    assert(!this.stopped, 'write-behind used after close');
    assert(capacity > 0 && capacity <= WRITE_BEHIND_MAX_BYTES, 'write-behind: bad reservation', { capacity });
    this.throwIfFailed();
    let offset = this.ringOffset;
    if (offset + capacity > RING_BYTES) offset = 0;
    // Wait until a slot is free and no unwritten record uses [offset, offset + capacity) of the ring.
    for (;;) {
      const tail = Atomics.load(this.control, TAIL);
      if (this.head - tail < RECORD_SLOTS && !this.ringBusy(tail, offset, offset + capacity)) break;
      this.wake();
      Atomics.wait(this.control, TAIL, tail, 1000);
      this.throwIfFailed();
    }
    this.reservedOffset = offset;
    this.reservedBytes = capacity;
    return this.ring.subarray(offset, offset + capacity);
  }

  /** Queues the first `length` bytes of the reservation as a write at file offset `position`. */
  publish(position: number, length: number): void {
    assert(length > 0 && length <= this.reservedBytes, 'write-behind: publish outside the reservation', { length, reserved: this.reservedBytes });
    const offset = this.reservedOffset;
    const slot = this.head % RECORD_SLOTS;
    const at = slot * RECORD_FIELDS;
    this.records[at] = position;
    this.records[at + 1] = length;
    this.records[at + 2] = KIND_BYTES;
    this.records[at + 3] = offset;
    this.byteRecordNumbers[this.byteBack % RECORD_SLOTS] = this.head;
    this.byteRecordOffsets[this.byteBack % RECORD_SLOTS] = offset;
    this.byteBack++;
    this.ringOffset = offset + length;
    this.reservedBytes = 0;
    this.push();
  }

  /**
   * Queues a write of `length` bytes at file offset `position` that the
   * worker makes itself: the payload of (ino, seq) from source offset
   * `sourceOffset` on (src/image/payload.ts), or the fill byte repeated. No
   * bytes pass through the ring. Waits while every slot is taken.
   */
  submitGenerated(position: number, length: number, source: GeneratedSource, sourceOffset: number): void {
    assert(!this.stopped, 'write-behind used after close');
    if (!(length > 0 && length <= WORKER_GATHER_BYTES)) assert(false, 'write-behind: bad generated write', { length });
    this.throwIfFailed();
    for (;;) {
      const tail = Atomics.load(this.control, TAIL);
      if (this.head - tail < RECORD_SLOTS) break;
      this.wake();
      Atomics.wait(this.control, TAIL, tail, 1000);
      this.throwIfFailed();
    }
    const slot = this.head % RECORD_SLOTS;
    const at = slot * RECORD_FIELDS;
    this.records[at] = position;
    this.records[at + 1] = length;
    if (source.kind === 'gen') {
      this.records[at + 2] = KIND_GENERATED;
      this.records[at + 3] = source.ino;
      this.records[at + 4] = source.seq;
      this.records[at + 5] = sourceOffset;
    } else {
      this.records[at + 2] = KIND_FILL;
      this.records[at + 3] = source.byte;
    }
    this.push();
  }

  /** Publishes the record just filled in at slot `head`. */
  private push(): void {
    this.head++;
    Atomics.store(this.control, HEAD, this.head);
    if (this.head - Atomics.load(this.control, TAIL) >= WAKE_BATCH) this.wake();
  }

  /** Wakes the worker if it sleeps. */
  private wake(): void {
    if (Atomics.load(this.control, SLEEPING) !== 0) Atomics.notify(this.control, HEAD);
  }

  /** Whether a record not yet written (from record `tail` on) uses bytes of [from, to) of the ring. */
  private ringBusy(tail: number, from: number, to: number): boolean {
    while (this.byteFront < this.byteBack && this.byteRecordNumbers[this.byteFront % RECORD_SLOTS]! < tail) this.byteFront++;
    if (this.byteFront === this.byteBack) return false;
    // Byte records sit in ring order: those in flight use the ring from the oldest's offset to ringOffset, maybe wrapped once.
    const oldest = this.byteRecordOffsets[this.byteFront % RECORD_SLOTS]!;
    const newestEnd = this.ringOffset;
    if (oldest < newestEnd) return from < newestEnd && to > oldest; // [oldest, newestEnd) in use
    // Wrapped (or full): [oldest, RING_BYTES) and [0, newestEnd) in use.
    return to > oldest || from < newestEnd;
  }

  /** Waits until every submitted write is in the file. Throws WriteBehindError when one failed. */
  drain(): void {
    for (;;) {
      const tail = Atomics.load(this.control, TAIL);
      if (tail === this.head) break;
      this.wake();
      Atomics.wait(this.control, TAIL, tail, 1000);
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (Atomics.load(this.control, ERROR) === 0) return;
    const end = this.errorText.indexOf(0);
    const text = new TextDecoder().decode(this.errorText.slice(0, end < 0 ? ERROR_BYTES : end));
    const split = text.indexOf('\n');
    throw new WriteBehindError(split < 0 ? 'EIO' : text.slice(0, split), split < 0 ? text : text.slice(split + 1));
  }

  /**
   * Stops the worker once it has written everything queued (also for a
   * simulated kill: what was submitted had been handed to the kernel).
   * Idempotent; never throws (drain() first to see errors).
   */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (;;) {
      const tail = Atomics.load(this.control, TAIL);
      if (tail === this.head || Atomics.load(this.control, ERROR) !== 0) break;
      this.wake();
      Atomics.wait(this.control, TAIL, tail, 1000);
    }
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, HEAD);
    void this.worker.terminate();
  }
}
