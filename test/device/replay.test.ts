/**
 * The device model inside a replay: traces/demo.xio on each model
 * (deterministic, plausible, hdd slower than ssd slower than nvme), an
 * fsync-heavy trace (flush-dominated fsync latency, journal writes making
 * write amplification > 1, fdatasync skipping the commit when only
 * timestamps changed), open versus closed loop on the blkparse demo, and
 * layouts unchanged by the model.
 */
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { CountingIoSink } from '../../src/device/iosink.js';
import { builtinDeviceModel, DEVICE_MODEL_DEFAULTS, type DeviceModelName, type DeviceModelSpec } from '../../src/device/model/params.js';
import { replay } from '../../src/replay/replay.js';
import type { ReplayOptions } from '../../src/replay/types.js';
import { toJson } from '../../src/report/json.js';
import type { DeviceStats, ReplayResult } from '../../src/report/model.js';
import { openTrace } from '../../src/trace/detect.js';
import { defaultOpenFlags, type TraceOp } from '../../src/trace/types.js';

const DEMO_XIO = path.resolve('traces/demo.xio');
const DEMO_BLKPARSE = path.resolve('traces/demo.blkparse.txt');

function options(overrides: Partial<ReplayOptions> = {}): ReplayOptions {
  return { policy: 'ext4', blockSize: 4096, deviceSize: 2 ** 30, seed: 99, traceName: 'trace', finalSync: true, deterministic: true, ...overrides };
}

async function replayFile(tracePath: string, overrides: Partial<ReplayOptions>): Promise<ReplayResult> {
  const opened = await openTrace(tracePath, { format: 'auto', displayName: path.basename(tracePath) });
  return (await replay(opened.ops, options(overrides))).result;
}

async function replayOps(ops: TraceOp[], overrides: Partial<ReplayOptions>): Promise<ReplayResult> {
  async function* stream(): AsyncIterable<TraceOp> {
    yield* ops;
  }
  return (await replay(stream(), options(overrides))).result;
}

function statsOf(result: ReplayResult): DeviceStats {
  expect(result.deviceStats).toBeDefined();
  return result.deviceStats!;
}

const at = (line: number) => ({ src: { file: 'sync.trace', line } });

/** open; `rounds` x (pwrite 4 KiB, then fsync or fdatasync); close. Appends when `append`, else overwrites block 0. */
function syncHeavyOps(rounds: number, dataOnly: boolean, append: boolean): TraceOp[] {
  const ops: TraceOp[] = [{ kind: 'open', ...at(1), fd: 3, path: 'db.log', flags: { ...defaultOpenFlags, create: true } }];
  for (let round = 0; round < rounds; round++) {
    ops.push({ kind: 'write', ...at(2 + 2 * round), fd: 3, offset: append ? round * 4096 : 0, length: 4096, fill: 0x61 });
    ops.push({ kind: 'fsync', ...at(3 + 2 * round), fd: 3, dataOnly });
  }
  ops.push({ kind: 'close', ...at(2 + 2 * rounds), fd: 3 });
  return ops;
}

describe('traces/demo.xio on each model', () => {
  const models: DeviceModelName[] = ['hdd', 'ssd', 'nvme'];

  test('deterministic, plausible, hdd slower than ssd slower than nvme; layouts do not depend on the model', async () => {
    const results = new Map<DeviceModelName, ReplayResult>();
    for (const model of models) {
      const first = await replayFile(DEMO_XIO, { deviceModel: builtinDeviceModel(model) });
      const second = await replayFile(DEMO_XIO, { deviceModel: builtinDeviceModel(model) });
      expect(toJson(second)).toBe(toJson(first));
      results.set(model, first);
    }
    const plain = await replayFile(DEMO_XIO, {});
    expect(plain.deviceStats).toBeUndefined();
    for (const result of results.values()) {
      expect(result.files).toEqual(plain.files);
      const stats = statsOf(result);
      expect(stats.loop).toBe('closed');
      expect(stats.overall.count).toBe(result.stats.opsTotal);
      expect(stats.overall.bytes).toBe(result.stats.bytesWritten + result.stats.bytesRead);
      expect(stats.overall.p50Us).toBeLessThanOrEqual(stats.overall.p99Us);
      expect(stats.overall.p99Us).toBeLessThanOrEqual(stats.overall.maxUs);
      expect(stats.overall.iops).toBeCloseTo(stats.overall.count / stats.simulatedSeconds, 0);
      expect(stats.writeAmplification.userBytesWritten).toBe(result.stats.bytesWritten);
      // Data written to the device (writeback, direct, zeroing) is what the engine counted; the journal comes on top.
      const byCause = stats.writeAmplification.byCause;
      expect(byCause['writeback']! + byCause['direct']! + byCause['zeroing']!).toBe(result.stats.deviceBytesWritten);
      expect(byCause['journal']).toBeGreaterThan(0);
      expect(stats.fragmentation).toEqual({ files: 5, extents: result.stats.extents, extentsPerFile: result.stats.extents / 5, averageExtentBlocks: expect.any(Number) });
    }
    const seconds = models.map((model) => statsOf(results.get(model)!).simulatedSeconds);
    expect(seconds[0]).toBeGreaterThan(10 * seconds[1]!);
    expect(seconds[1]).toBeGreaterThan(2 * seconds[2]!);
    // On a disk the 5 fsyncs (seeks between data and journal, cache flushes) take most of the run.
    const hdd = statsOf(results.get('hdd')!);
    const fsync = hdd.perOp['fsync']!;
    expect(fsync.count).toBe(5);
    expect((fsync.meanUs * fsync.count) / 1e6).toBeGreaterThan(0.5 * hdd.simulatedSeconds);
    expect(fsync.p50Us).toBeGreaterThan(1000);
  });
});

describe('an fsync-heavy trace on ext4', () => {
  test('journal commits: one per fsync, write amplification well above 1', async () => {
    const io = new CountingIoSink();
    const result = await replayOps(syncHeavyOps(50, false, true), { deviceModel: builtinDeviceModel('ssd'), io });
    const stats = statsOf(result);
    expect(io.requests['flush:flush']).toBe(50 + 1); // the PREFLUSH of each commit, and the final sync's (nothing left to commit)
    expect(io.requests['write:journal']).toBe(2 * 50);
    expect(stats.writeAmplification.byCause['journal']).toBe(io.bytes['write:journal']);
    // Each commit: a descriptor, the inode-table block, bitmap and descriptor blocks, the commit block: >= 3 blocks per 4 KiB written.
    expect(stats.writeAmplification.ratio).toBeGreaterThan(3);
    expect(stats.writeAmplification.deviceBytesWritten).toBe(stats.writeAmplification.userBytesWritten + stats.writeAmplification.byCause['journal']!);
  });

  test('fsync latency is dominated by the cache flushes', async () => {
    const fsyncMeanUs = async (spec: DeviceModelSpec): Promise<number> =>
      statsOf(await replayOps(syncHeavyOps(50, false, true), { deviceModel: spec })).perOp['fsync']!.meanUs;
    const withFlush = await fsyncMeanUs(builtinDeviceModel('ssd'));
    const freeFlush = await fsyncMeanUs({ name: 'custom', base: 'ssd', params: { ...DEVICE_MODEL_DEFAULTS.ssd, flushUs: 0 } });
    expect(withFlush - freeFlush).toBeGreaterThan(0.5 * withFlush);
    expect(withFlush - freeFlush).toBeCloseTo(DEVICE_MODEL_DEFAULTS.ssd['flushUs']!, -1);
  });

  test('fdatasync of an overwrite commits nothing (only timestamps changed); fsync commits the timestamps', async () => {
    const journalBytes = async (dataOnly: boolean): Promise<number> => {
      const io = new CountingIoSink();
      await replayOps(syncHeavyOps(20, dataOnly, false), { deviceModel: builtinDeviceModel('nvme'), io, finalSync: false });
      return io.bytes['write:journal'] ?? 0;
    };
    const fsyncBytes = await journalBytes(false);
    const fdatasyncBytes = await journalBytes(true);
    // The first round allocates (both commit); afterwards only fsync commits, 3 blocks each (descriptor, inode table, commit).
    expect(fsyncBytes - fdatasyncBytes).toBe(19 * 3 * 4096);
    expect(fdatasyncBytes).toBeGreaterThan(0);
  });
});

describe('arrival', () => {
  test('a timestamped trace is open loop: --time-scale stretches simulated time', async () => {
    const once = statsOf(await replayFile(DEMO_BLKPARSE, { deviceModel: builtinDeviceModel('nvme') }));
    const tenTimes = statsOf(await replayFile(DEMO_BLKPARSE, { deviceModel: builtinDeviceModel('nvme'), timeScale: 10 }));
    expect(once.loop).toBe('open');
    expect(tenTimes.params['timeScale']).toBe(10);
    // nvme is idle most of the time: the run lasts as long as the (scaled) trace.
    expect(tenTimes.simulatedSeconds / once.simulatedSeconds).toBeGreaterThan(9);
    expect(tenTimes.simulatedSeconds / once.simulatedSeconds).toBeLessThan(10.1);
  });

  test('a trace without timestamps is closed loop: more ops in flight finish no later', async () => {
    const ops = syncHeavyOps(30, false, true);
    const depth1 = statsOf(await replayOps(ops, { deviceModel: builtinDeviceModel('ssd') }));
    const depth8 = statsOf(await replayOps(ops, { deviceModel: builtinDeviceModel('ssd'), iodepth: 8 }));
    expect(depth1.loop).toBe('closed');
    expect(depth8.params['iodepth']).toBe(8);
    expect(depth8.simulatedSeconds).toBeLessThan(depth1.simulatedSeconds);
  });
});
