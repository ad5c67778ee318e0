/**
 * A 7200 rpm disk: one command at a time over the interface; the media
 * (one head) positions and transfers in FIFO order. Positioning is a seek,
 * settle + (fullStroke - settle) * sqrt(distance / device size) (the
 * square-root law of short seeks), skipped within one track, then the wait
 * for the target sector to rotate under the head, from the platter's angular
 * position (rotation since time 0 plus a seeded phase). A request that
 * continues where the last one ended costs no positioning (the track buffer
 * streams it). Writes land in a write-back cache at interface speed while
 * it has room and are destaged behind; FUA writes, writes to a full cache
 * and reads wait for the media. A flush waits for the destaging to finish,
 * then costs flushUs.
 */
import { assert } from '../../util/assert.js';
import type { BlockRequest } from './merge.js';
import type { DeviceTiming } from './timing.js';

/** Fractional part in [0, 1). */
function fraction(value: number): number {
  return value - Math.floor(value);
}

interface CachedWrite {
  destagedUs: number;
  bytes: number;
}

/** Timing of a disk with `params` (rotationRpm, seek*, transferMBps, interfaceMBps, commandUs, writeCacheMiB, flushUs). */
export class HddTiming implements DeviceTiming {
  private readonly rotationUs: number;
  private readonly trackBytes: number;
  private readonly mediaBytesPerUs: number;
  private readonly interfaceBytesPerUs: number;
  private readonly settleUs: number;
  private readonly strokeSpanUs: number;
  private readonly commandUs: number;
  private readonly flushUs: number;
  private readonly cacheBytes: number;
  /** Where a sequential access continues (the byte after the last one transferred). */
  private headAddrBytes = 0;
  private interfaceFreeUs = 0;
  private mediaFreeUs = 0;
  private readonly cached: CachedWrite[] = [];
  private cachedBytes = 0;

  /** `phase` in [0, 1): the platter's angle at time 0 (from the run's seed). */
  constructor(
    params: Readonly<Record<string, number>>,
    private readonly deviceBytes: number,
    private readonly phase: number,
  ) {
    this.rotationUs = 60e6 / params['rotationRpm']!;
    this.mediaBytesPerUs = params['transferMBps']!;
    this.interfaceBytesPerUs = params['interfaceMBps']!;
    this.trackBytes = this.mediaBytesPerUs * this.rotationUs;
    this.settleUs = params['seekSettleUs']!;
    this.strokeSpanUs = Math.max(0, params['seekFullStrokeUs']! - this.settleUs);
    this.commandUs = params['commandUs']!;
    this.flushUs = params['flushUs']!;
    this.cacheBytes = params['writeCacheMiB']! * 1024 * 1024;
    assert(phase >= 0 && phase < 1 && this.trackBytes > 0, 'hdd timing: bad parameters', { phase, params });
  }

  /** Seek time from the head's position to `addrBytes` (0 within a track). */
  seekUs(addrBytes: number): number {
    const distance = Math.abs(addrBytes - this.headAddrBytes);
    if (distance < this.trackBytes) return 0;
    return this.settleUs + this.strokeSpanUs * Math.sqrt(Math.min(1, distance / this.deviceBytes));
  }

  /** Wait at `arriveUs` until the sector at `addrBytes` rotates under the head. */
  rotationWaitUs(addrBytes: number, arriveUs: number): number {
    const targetAngle = fraction(addrBytes / this.trackBytes + this.phase);
    const headAngle = fraction(arriveUs / this.rotationUs);
    return fraction(targetAngle - headAngle) * this.rotationUs;
  }

  /** Positions and transfers `request` on the media from `readyUs`; returns when the media is done with it. */
  private mediaAccess(request: BlockRequest, readyUs: number): number {
    const startUs = Math.max(readyUs, this.mediaFreeUs);
    let positionUs = 0;
    if (request.addrBytes !== this.headAddrBytes) {
      const seekUs = this.seekUs(request.addrBytes);
      positionUs = seekUs + this.rotationWaitUs(request.addrBytes, startUs + seekUs);
    }
    this.mediaFreeUs = startUs + positionUs + request.lengthBytes / this.mediaBytesPerUs;
    this.headAddrBytes = request.addrBytes + request.lengthBytes;
    return this.mediaFreeUs;
  }

  /** Forgets cached writes destaged by `nowUs`. */
  private drainCache(nowUs: number): void {
    let drained = 0;
    while (drained < this.cached.length && this.cached[drained]!.destagedUs <= nowUs) {
      this.cachedBytes -= this.cached[drained]!.bytes;
      drained++;
    }
    if (drained > 0) this.cached.splice(0, drained);
  }

  service(request: BlockRequest, readyUs: number): number {
    const startUs = Math.max(readyUs, this.interfaceFreeUs);
    const commandDoneUs = startUs + this.commandUs;
    let doneUs: number;
    if (request.direction === 'flush') {
      doneUs = Math.max(commandDoneUs, this.mediaFreeUs) + this.flushUs;
      this.mediaFreeUs = doneUs;
      this.cached.length = 0;
      this.cachedBytes = 0;
    } else if (request.direction === 'discard') {
      doneUs = commandDoneUs;
    } else if (request.direction === 'read' || request.fua) {
      doneUs = this.mediaAccess(request, commandDoneUs);
    } else {
      doneUs = this.cachedWrite(request, commandDoneUs);
    }
    this.interfaceFreeUs = doneUs;
    return doneUs;
  }

  /** A write into the cache when it has room (done at interface speed), else written through. */
  private cachedWrite(request: BlockRequest, commandDoneUs: number): number {
    this.drainCache(commandDoneUs);
    const destagedUs = this.mediaAccess(request, commandDoneUs);
    if (this.cachedBytes + request.lengthBytes > this.cacheBytes) return destagedUs;
    this.cached.push({ destagedUs, bytes: request.lengthBytes });
    this.cachedBytes += request.lengthBytes;
    return commandDoneUs + request.lengthBytes / this.interfaceBytesPerUs;
  }

  idleAtUs(): number {
    return Math.max(this.interfaceFreeUs, this.mediaFreeUs);
  }
}
