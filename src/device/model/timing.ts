/**
 * Device timing: how long the device takes to service each request the block
 * layer dispatches, in simulated microseconds. A model keeps its own state
 * (head position, busy channels, write cache) and answers completion times;
 * it never looks at a clock. `hdd.ts` is mechanical (seek, rotation, one
 * request at a time, a write-back cache); `flash.ts` serves ssd and nvme
 * (fixed latencies, shared bandwidth, parallel channels).
 */
import { assert } from '../../util/assert.js';
import { Prng } from '../../util/prng.js';
import { FlashTiming } from './flash.js';
import { HddTiming } from './hdd.js';
import type { BlockRequest } from './merge.js';
import type { DeviceModelSpec } from './params.js';

export interface DeviceTiming {
  /**
   * Services `request`, which reaches the device at `readyUs` (it may wait
   * for earlier work). Returns the time it completes, >= readyUs. O(1) for
   * hdd, O(parallel units) for flash.
   */
  service(request: BlockRequest, readyUs: number): number;
  /** When every request accepted so far is done (a write cache destaged). */
  idleAtUs(): number;
}

/** A sub-seed for the device that does not consume the run's PRNG stream (layouts stay what they were). */
const DEVICE_SEED_SALT = 0x6465_7631; // "dev1"

/**
 * The timing model of `spec` for a device of `deviceBytes` bytes. Randomness
 * (the hdd's rotational phase at time 0) comes from a sub-seed of `seed`.
 */
export function createDeviceTiming(spec: DeviceModelSpec, deviceBytes: number, seed: number): DeviceTiming {
  assert(deviceBytes > 0, 'device timing: device size must be positive', { deviceBytes });
  if (spec.base === 'hdd') {
    const phase = new Prng((seed ^ DEVICE_SEED_SALT) >>> 0).nextFloat();
    return new HddTiming(spec.params, deviceBytes, phase);
  }
  return new FlashTiming(spec.params);
}
