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
const RECORD_SLOTS = 8192;
/** Bytes in flight at most. */
const RING_BYTES = 32 << 20;
/** A reservation or write takes at most this much of the ring (larger writes go straight to the file after a drain). */
export const WRITE_BEHIND_MAX_BYTES = 4 << 20;
const ERROR_BYTES = 512;


/**
 * The worker: CommonJS source run with eval (it must not depend on how this
 * module was loaded: compiled dist/ or ts-jest). It writes records in order
 * and sleeps on HEAD when it has caught up.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, control, records, ring, error } = workerData;
const c = new Int32Array(control), r = new Float64Array(records), data = new Uint8Array(ring), e = new Uint8Array(error);
const SLOTS = r.length / 3;
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
  if (Atomics.load(c, ${ERROR}) === 0) {
    const slot = (tail % SLOTS) * 3;
    const position = r[slot], length = r[slot + 1], offset = r[slot + 2];
    try {
      let done = 0;
      while (done < length) {
        const n = fs.writeSync(fd, data, offset + done, length - done, position + done);
        if (n <= 0) throw new Error('write made no progress');
        done += n;
      }
    } catch (failure) {
      const text = new TextEncoder().encode(String(failure && failure.code ? failure.code : 'EIO') + '\\n' + String(failure && failure.message ? failure.message : failure));
      e.set(text.subarray(0, e.length));
      Atomics.store(c, ${ERROR}, 1);
    }
  }
  tail++;
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
  private readonly records = new Float64Array(new SharedArrayBuffer(RECORD_SLOTS * 3 * 8));
  private readonly ring = new Uint8Array(new SharedArrayBuffer(RING_BYTES));
  private readonly errorText = new Uint8Array(new SharedArrayBuffer(ERROR_BYTES));
  private readonly worker: Worker;
  /** Records submitted (HEAD as this thread last published it). */
  private head = 0;
  /** Ring offset where the next record goes. */
  private ringOffset = 0;
  /** Ring offset of each slot's record: what is still in use runs from the oldest unwritten one's to ringOffset. */
  private readonly slotStarts = new Float64Array(RECORD_SLOTS);
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
    this.records[slot * 3] = position;
    this.records[slot * 3 + 1] = length;
    this.records[slot * 3 + 2] = offset;
    this.slotStarts[slot] = offset;
    this.ringOffset = offset + length;
    this.reservedBytes = 0;
    this.head++;
    Atomics.store(this.control, HEAD, this.head);
    if (this.head - Atomics.load(this.control, TAIL) >= WAKE_BATCH) this.wake();
  }

  /** Wakes the worker if it sleeps. */
  private wake(): void {
    if (Atomics.load(this.control, SLEEPING) !== 0) Atomics.notify(this.control, HEAD);
  }

  /** Whether a record not yet written (from `tail`) uses bytes of [from, to) of the ring. Records sit in ring order, so only the oldest can. */
  private ringBusy(tail: number, from: number, to: number): boolean {
    if (tail === this.head) return false;
    // In-flight records occupy the ring from the oldest's start to ringOffset, maybe wrapped once.
    const oldest = this.slotStarts[tail % RECORD_SLOTS]!;
    const newestEnd = this.ringOffset;
    if (oldest < newestEnd) return from < newestEnd && to > oldest; // [oldest, newestEnd) in use
    // Wrapped: [oldest, RING_BYTES) and [0, newestEnd) in use.
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
