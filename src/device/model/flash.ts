/**
 * Flash timing (SATA SSD, NVMe): a request takes a fixed media latency (a
 * page read before the transfer, a program into the device's buffer after
 * it) plus its transfer at the device's bandwidth, which all requests share
 * (one link). Up to min(channels, queueDepth) requests are in service at
 * once: more wait for the first free unit. A flush waits for everything in
 * service, then costs flushUs; nothing starts before it ends.
 */
import { assert } from '../../util/assert.js';
import type { BlockRequest } from './merge.js';
import type { DeviceTiming } from './timing.js';

/** Timing of a flash device with `params` (readLatencyUs, writeLatencyUs, transferMBps, channels, queueDepth, flushUs). */
export class FlashTiming implements DeviceTiming {
  private readonly unitFreeUs: Float64Array;
  private linkFreeUs = 0;
  private readonly readLatencyUs: number;
  private readonly writeLatencyUs: number;
  /** MB/s = bytes per µs. */
  private readonly bytesPerUs: number;
  private readonly flushUs: number;

  constructor(params: Readonly<Record<string, number>>) {
    this.readLatencyUs = params['readLatencyUs']!;
    this.writeLatencyUs = params['writeLatencyUs']!;
    this.bytesPerUs = params['transferMBps']!;
    this.flushUs = params['flushUs']!;
    const units = Math.min(params['channels']!, params['queueDepth']!);
    assert(units >= 1 && this.bytesPerUs > 0, 'flash timing: bad parameters', params);
    this.unitFreeUs = new Float64Array(units);
  }

  service(request: BlockRequest, readyUs: number): number {
    if (request.direction === 'flush') return this.flush(readyUs);
    let unit = 0;
    for (let index = 1; index < this.unitFreeUs.length; index++) {
      if (this.unitFreeUs[index]! < this.unitFreeUs[unit]!) unit = index;
    }
    const startUs = Math.max(readyUs, this.unitFreeUs[unit]!);
    const transferUs = request.lengthBytes / this.bytesPerUs;
    let doneUs: number;
    if (request.direction === 'read') {
      // The page is sensed first, then moved over the link.
      const transferStartUs = Math.max(startUs + this.readLatencyUs, this.linkFreeUs);
      doneUs = transferStartUs + transferUs;
      this.linkFreeUs = doneUs;
    } else {
      // Data moves into the device, then it is programmed (or buffered).
      const transferStartUs = Math.max(startUs, this.linkFreeUs);
      this.linkFreeUs = transferStartUs + transferUs;
      doneUs = this.linkFreeUs + this.writeLatencyUs;
    }
    this.unitFreeUs[unit] = doneUs;
    return doneUs;
  }

  private flush(readyUs: number): number {
    let startUs = readyUs;
    for (const freeUs of this.unitFreeUs) startUs = Math.max(startUs, freeUs);
    const doneUs = startUs + this.flushUs;
    this.unitFreeUs.fill(doneUs);
    this.linkFreeUs = Math.max(this.linkFreeUs, doneUs);
    return doneUs;
  }

  idleAtUs(): number {
    let idleUs = this.linkFreeUs;
    for (const freeUs of this.unitFreeUs) idleUs = Math.max(idleUs, freeUs);
    return idleUs;
  }
}
