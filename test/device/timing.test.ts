/**
 * Device timing models on hand-computed cases: flash latency + transfer,
 * channel parallelism with a shared link, flush as a barrier; the hdd's
 * square-root seek curve, rotational position, streaming of sequential
 * requests, one command at a time, its write-back cache and flush.
 */
import { describe, expect, test } from '@jest/globals';
import { FlashTiming } from '../../src/device/model/flash.js';
import { HddTiming } from '../../src/device/model/hdd.js';
import type { BlockRequest } from '../../src/device/model/merge.js';
import { builtinDeviceModel, DEVICE_MODEL_DEFAULTS } from '../../src/device/model/params.js';
import { createDeviceTiming } from '../../src/device/model/timing.js';

const request = (direction: BlockRequest['direction'], addrBytes: number, lengthBytes: number, fua = false): BlockRequest => ({
  direction,
  addrBytes,
  lengthBytes,
  fua,
  waited: true,
});
const flush = request('flush', 0, 0);

describe('flash (ssd, nvme)', () => {
  test('one 4 KiB nvme write = 10 µs + 4096 B / 3 GB/s; a read = 12 µs + the same transfer', () => {
    expect(new FlashTiming(DEVICE_MODEL_DEFAULTS.nvme).service(request('write', 0, 4096), 0)).toBeCloseTo(10 + 4096 / 3000, 9);
    expect(new FlashTiming(DEVICE_MODEL_DEFAULTS.nvme).service(request('read', 0, 4096), 100)).toBeCloseTo(100 + 12 + 4096 / 3000, 9);
  });

  test('ssd: 8 channels sense in parallel, the link serialises transfers, a 9th read waits for a channel', () => {
    const ssd = new FlashTiming(DEVICE_MODEL_DEFAULTS.ssd);
    const transferUs = 4096 / 500;
    const done = Array.from({ length: 9 }, (_, index) => ssd.service(request('read', index * 4096 * 1000, 4096), 0));
    for (let index = 0; index < 8; index++) expect(done[index]).toBeCloseTo(80 + (index + 1) * transferUs, 9);
    // The first channel frees at 80 + transfer; the 9th read senses from there.
    expect(done[8]).toBeCloseTo(80 + transferUs + 80 + transferUs, 9);
    expect(ssd.idleAtUs()).toBeCloseTo(done[8]!, 9);
  });

  test('a flush waits for the writes in service, costs flushUs, and holds back later requests', () => {
    const ssd = new FlashTiming(DEVICE_MODEL_DEFAULTS.ssd);
    const writeDoneUs = ssd.service(request('write', 0, 4096), 0);
    expect(writeDoneUs).toBeCloseTo(4096 / 500 + 25, 9);
    const flushDoneUs = ssd.service(flush, 0);
    expect(flushDoneUs).toBeCloseTo(writeDoneUs + 500, 9);
    expect(ssd.service(request('read', 0, 4096), 0)).toBeCloseTo(flushDoneUs + 80 + 4096 / 500, 9);
  });

  test('bandwidth bounds a large transfer: 1 MiB at 500 MB/s', () => {
    const ssd = new FlashTiming(DEVICE_MODEL_DEFAULTS.ssd);
    expect(ssd.service(request('write', 0, 1 << 20), 0)).toBeCloseTo((1 << 20) / 500 + 25, 9);
  });
});

/** An hdd with round numbers: 6000 rpm (10 ms per turn), 100 MB/s (1e6-byte tracks), no command overhead. */
const HDD_PARAMS = {
  ...DEVICE_MODEL_DEFAULTS.hdd,
  rotationRpm: 6000,
  transferMBps: 100,
  interfaceMBps: 400,
  seekSettleUs: 1000,
  seekFullStrokeUs: 15000,
  commandUs: 0,
  flushUs: 1000,
};
const DEVICE_BYTES = 4e8;

describe('hdd', () => {
  test('a read far away: sqrt seek, then the wait for the sector, then the transfer', () => {
    const hdd = new HddTiming(HDD_PARAMS, DEVICE_BYTES, 0);
    // Seek over a quarter of the stroke: 1000 + 14000 * sqrt(1/4) = 8000 µs; the head is then at angle 0.8,
    // the sector (1e8 / 1e6 tracks) at angle 0: 0.2 turn = 2000 µs; 4096 B at 100 B/µs = 40.96 µs.
    expect(hdd.service(request('read', 1e8, 4096), 0)).toBeCloseTo(8000 + 2000 + 40.96, 6);
    // The next block streams with no positioning.
    expect(hdd.service(request('read', 1e8 + 4096, 4096), 10040.96)).toBeCloseTo(10040.96 + 40.96, 6);
    // Half a track further on the same track: no seek, half a turn of rotation.
    expect(hdd.service(request('read', 1e8 + 8192 + 500000, 4096), 10081.92)).toBeCloseTo(10081.92 + 5000 + 40.96, 6);
  });

  test('one request at a time: a second read waits for the first', () => {
    const hdd = new HddTiming(HDD_PARAMS, DEVICE_BYTES, 0);
    const first = hdd.service(request('read', 1e8, 4096), 0);
    const second = hdd.service(request('read', 1e8 + 4096, 4096), 0);
    expect(second).toBeCloseTo(first + 40.96, 6);
  });

  test('writes land in the cache at interface speed; a flush waits for the destage', () => {
    const hdd = new HddTiming(HDD_PARAMS, DEVICE_BYTES, 0);
    const acceptedUs = hdd.service(request('write', 2e8, 4096), 0);
    expect(acceptedUs).toBeCloseTo(4096 / 400, 9);
    // Destage: seek 1000 + 14000 * sqrt(1/2) = 10899.49 µs lands mid-turn; the sector (angle 0) comes at 20000 µs.
    expect(hdd.idleAtUs()).toBeCloseTo(20000 + 40.96, 6);
    expect(hdd.service(flush, acceptedUs)).toBeCloseTo(20000 + 40.96 + 1000, 6);
  });

  test('a FUA write, or any write with no cache, waits for the media', () => {
    const fua = new HddTiming(HDD_PARAMS, DEVICE_BYTES, 0);
    expect(fua.service(request('write', 2e8, 4096, true), 0)).toBeCloseTo(20040.96, 6);
    const uncached = new HddTiming({ ...HDD_PARAMS, writeCacheMiB: 0 }, DEVICE_BYTES, 0);
    expect(uncached.service(request('write', 2e8, 4096), 0)).toBeCloseTo(20040.96, 6);
  });

  test('the rotational phase comes from the seed: deterministic per seed, different across seeds', () => {
    const time = (seed: number): number => createDeviceTiming(builtinDeviceModel('hdd'), 2 ** 30, seed).service(request('read', 2 ** 29, 4096), 0);
    expect(time(1)).toBe(time(1));
    expect(new Set([1, 2, 3, 4].map(time)).size).toBeGreaterThan(1);
    // Average seek over half the stroke plus at most one 7200 rpm turn, plus the transfer.
    for (const seed of [1, 2, 3, 4]) {
      const seekUs = 1000 + 14000 * Math.sqrt(0.5);
      expect(time(seed)).toBeGreaterThanOrEqual(50 + seekUs);
      expect(time(seed)).toBeLessThanOrEqual(50 + seekUs + 60e6 / 7200 + 4096 / 150 + 1e-6);
    }
  });
});
