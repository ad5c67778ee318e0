/**
 * The device simulator on hand-computed schedules: closed loop (iodepth),
 * open loop (trace time x scale, one op at a time per process), which
 * requests an op waits for (direct I/O and flushes yes, background
 * writeback no, though it keeps the device busy), flush ordering after the
 * writeback it orders, and the bounded throughput series.
 */
import { describe, expect, test } from '@jest/globals';
import type { IoRequest } from '../../src/device/iosink.js';
import { builtinDeviceModel, DEVICE_MODEL_DEFAULTS, type DeviceModelSpec } from '../../src/device/model/params.js';
import { DeviceSimulator, type OpIoInfo } from '../../src/device/model/sim.js';
import { SERIES_POINTS_MAX } from '../../src/device/model/stats.js';

const NVME_WRITE_4K_US = 10 + 4096 / 3000;
const NO_FILES = { userBytesWritten: 0, pageCacheHits: 0, pageCacheMisses: 0, files: [] };

const directWrite = (addrBytes: number, lengthBytes = 4096): IoRequest => ({ direction: 'write', cause: 'direct', addrBytes, lengthBytes });
const writeback = (addrBytes: number, lengthBytes: number): IoRequest => ({ direction: 'write', cause: 'writeback', addrBytes, lengthBytes });
const flushRequest: IoRequest = { direction: 'flush', cause: 'flush', addrBytes: 0, lengthBytes: 0 };

function simulator(spec: DeviceModelSpec = builtinDeviceModel('nvme'), extra: { iodepth?: number; timeScale?: number } = {}): DeviceSimulator {
  return new DeviceSimulator({ spec, deviceBytes: 2 ** 30, seed: 1, ...extra });
}

/** Runs one op that submits `requests`. */
function runOp(sim: DeviceSimulator, info: Partial<OpIoInfo>, requests: IoRequest[], bytesWritten = 0): void {
  sim.beginOp({ kind: 'write', waitsForWriteback: false, copyBytes: 0, ...info });
  for (const request of requests) sim.submit(request);
  sim.endOp(bytesWritten, 0);
}

describe('closed loop', () => {
  test('iodepth 1: each op starts when the previous one ends (1 µs CPU + the device time it waits for)', () => {
    const sim = simulator();
    runOp(sim, {}, [directWrite(0)], 4096);
    runOp(sim, {}, [directWrite(1 << 20)], 4096);
    const stats = sim.deviceStats(NO_FILES);
    expect(stats.loop).toBe('closed');
    expect(stats.simulatedSeconds * 1e6).toBeCloseTo(2 * (1 + NVME_WRITE_4K_US), 3);
    expect(stats.perOp['write']!.meanUs).toBeCloseTo(1 + NVME_WRITE_4K_US, 2);
    expect(stats.perOp['write']!.count).toBe(2);
    expect(stats.overall.bytes).toBe(8192);
    expect(stats.params['iodepth']).toBe(1);
  });

  test('iodepth 2: two ops in flight share the device (transfers serialised on the link)', () => {
    const sim = simulator(builtinDeviceModel('nvme'), { iodepth: 2 });
    runOp(sim, {}, [directWrite(0)]);
    runOp(sim, {}, [directWrite(1 << 20)]);
    const transferUs = 4096 / 3000;
    // Both start at 0; the second transfer waits for the first on the link.
    expect(sim.deviceStats(NO_FILES).simulatedSeconds * 1e6).toBeCloseTo(1 + 2 * transferUs + 10, 3);
  });
});

describe('open loop', () => {
  test('ops arrive at their trace time x scale; one process runs one op at a time', () => {
    for (const timeScale of [1, 2]) {
      const sim = simulator(builtinDeviceModel('nvme'), { timeScale });
      runOp(sim, { timeUs: 5_000_000, pid: 1 }, [directWrite(0)]);
      runOp(sim, { timeUs: 5_001_000, pid: 1 }, [directWrite(4096)]);
      runOp(sim, { timeUs: 5_002_000, pid: 1 }, [directWrite(8192)]);
      const stats = sim.deviceStats(NO_FILES);
      expect(stats.loop).toBe('open');
      expect(stats.params['timeScale']).toBe(timeScale);
      // Time starts at the first op; the last arrives 2000 µs of trace time later.
      expect(stats.simulatedSeconds * 1e6).toBeCloseTo(2000 * timeScale + 1 + NVME_WRITE_4K_US, 3);
      expect(stats.perOp['write']!.maxUs).toBeCloseTo(1 + NVME_WRITE_4K_US, 2);
    }
  });

  test('a busy process delays its next op (latency counts from its start), other processes do not wait', () => {
    const hddSpec = builtinDeviceModel('hdd');
    const sameProcess = simulator(hddSpec);
    runOp(sameProcess, { timeUs: 0, pid: 1 }, [{ direction: 'read', cause: 'direct', addrBytes: 2 ** 29, lengthBytes: 4096 }]);
    runOp(sameProcess, { timeUs: 10, pid: 1 }, []);
    const same = sameProcess.deviceStats(NO_FILES);
    expect(same.perOp['write']!.maxUs).toBeGreaterThan(1000); // the seek
    expect(same.simulatedSeconds * 1e6).toBeCloseTo(same.perOp['write']!.maxUs + 1, 0);
    const twoProcesses = simulator(hddSpec);
    runOp(twoProcesses, { timeUs: 0, pid: 1 }, [{ direction: 'read', cause: 'direct', addrBytes: 2 ** 29, lengthBytes: 4096 }]);
    runOp(twoProcesses, { timeUs: 10, pid: 2 }, []);
    // The other process's op ran at once (1 µs of CPU, nothing on the device): the run ends with the read.
    const two = twoProcesses.deviceStats(NO_FILES);
    expect(two.simulatedSeconds * 1e6).toBeCloseTo(same.simulatedSeconds * 1e6 - 1, 3);
    expect(two.perOp['write']!.p50Us).toBeCloseTo(1, 2);
  });

  test('a trace whose ops all carry the same timestamp stays closed loop', () => {
    const sim = simulator();
    runOp(sim, { timeUs: 0 }, [directWrite(0)]);
    runOp(sim, { timeUs: 0 }, [directWrite(4096)]);
    expect(sim.deviceStats(NO_FILES).loop).toBe('closed');
  });
});

describe('what an op waits for', () => {
  /** nvme with one channel: background work visibly delays later requests. */
  const oneChannel: DeviceModelSpec = { name: 'custom', base: 'nvme', params: { ...DEVICE_MODEL_DEFAULTS.nvme, channels: 1 } };

  test('background writeback costs its op nothing but keeps the device busy for the next one', () => {
    const sim = simulator(oneChannel);
    runOp(sim, { kind: 'write', copyBytes: 1 << 20 }, [writeback(0, 1 << 20)], 1 << 20);
    runOp(sim, { kind: 'read' }, [{ direction: 'read', cause: 'readmiss', addrBytes: 64 << 20, lengthBytes: 4096 }]);
    const stats = sim.deviceStats(NO_FILES);
    const copyUs = 1 + 0.5 * 256;
    expect(stats.perOp['write']!.maxUs).toBeCloseTo(copyUs, 2);
    // The read starts after the write's CPU time and waits for the writeback on the single channel:
    // 1 MiB split in two 512 KiB requests (max_sectors_kb), each transferred then programmed.
    const writebackDoneUs = copyUs + 2 * ((512 * 1024) / 3000 + 10);
    expect(stats.perOp['read']!.maxUs).toBeCloseTo(writebackDoneUs - copyUs + 12 + 4096 / 3000, 1);
  });

  test('fsync waits for its writeback, then the flush, then the FUA commit block', () => {
    const sim = simulator();
    runOp(sim, { kind: 'fsync', waitsForWriteback: true }, [
      writeback(0, 65536),
      { direction: 'write', cause: 'journal', addrBytes: 512 << 20, lengthBytes: 8192 },
      flushRequest,
      { direction: 'write', cause: 'journal', addrBytes: (512 << 20) + 8192, lengthBytes: 4096, fua: true },
    ]);
    const stats = sim.deviceStats(NO_FILES);
    // Data and journal blocks go out together; the journal's transfer queues behind the data's on the link.
    const dataAndJournalUs = 1 + (65536 + 8192) / 3000 + 10;
    expect(stats.perOp['fsync']!.maxUs).toBeCloseTo(dataAndJournalUs + 20 + NVME_WRITE_4K_US, 2);
    expect(stats.requests).toEqual({ submitted: 4, merged: 0, dispatched: 4 });
    expect(stats.writeAmplification.byCause).toEqual({ cow: 0, direct: 0, journal: 12288, metadata: 0, writeback: 65536, zeroing: 0 });
  });

  test('a read miss split over blocks is merged and waited for', () => {
    const sim = simulator(builtinDeviceModel('ssd'));
    runOp(sim, { kind: 'read', copyBytes: 16384 }, [0, 1, 2, 3].map((index) => ({ direction: 'read' as const, cause: 'readmiss' as const, addrBytes: 4096 * index, lengthBytes: 4096 })));
    const stats = sim.deviceStats(NO_FILES);
    expect(stats.requests).toEqual({ submitted: 4, merged: 3, dispatched: 1 });
    expect(stats.perOp['read']!.maxUs).toBeCloseTo(1 + 0.5 * 4 + 80 + 16384 / 500, 2);
  });
});

describe('throughput series', () => {
  test('one point per simulated second, every op counted once', () => {
    const sim = simulator();
    for (let second = 0; second < 5; second++) runOp(sim, { timeUs: second * 1_000_000 + 10 }, [directWrite(second * 4096)], 4096);
    const series = sim.deviceStats(NO_FILES).series;
    expect(series.map((point) => [point.second, point.ops, point.bytesWritten])).toEqual([0, 1, 2, 3, 4].map((second) => [second, 1, 4096]));
    expect(series[0]!.meanLatencyUs).toBeCloseTo(1 + NVME_WRITE_4K_US, 2);
  });

  test(`a run longer than ${SERIES_POINTS_MAX} s gets coarser buckets (bounded), nothing lost`, () => {
    const sim = simulator();
    const ops = 25_000;
    for (let index = 0; index < ops; index++) runOp(sim, { timeUs: index * 1_000_000 }, [], 100);
    const series = sim.deviceStats(NO_FILES).series;
    expect(series.length).toBeLessThanOrEqual(SERIES_POINTS_MAX);
    const width = series[1]!.second - series[0]!.second;
    expect(width).toBe(4); // 25000 s folded twice: 4 s buckets
    expect(series.every((point, index) => point.second === index * width)).toBe(true);
    expect(series.reduce((sum, point) => sum + point.ops, 0)).toBe(ops);
    expect(series.reduce((sum, point) => sum + point.bytesWritten, 0)).toBe(ops * 100);
  });
});
