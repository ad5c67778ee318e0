/**
 * The device simulator: the IoSink the replay installs when a device model
 * is chosen. It places each op in simulated time (open loop from trace
 * timestamps, or closed loop with `iodepth` ops in flight), passes the block
 * requests the op submits through the block layer (merge.ts) to the timing
 * model, and charges the op the CPU cost of its copies plus the device time
 * of the requests it waits for (direct I/O, read misses, sync writeback,
 * journal writes, flushes). Background writeback occupies the device without
 * delaying its op. Everything is simulated time: no clock is read.
 */
import type { DeviceStats } from '../../report/model.js';
import { assert } from '../../util/assert.js';
import type { IoCause, IoRequest, IoSink } from '../iosink.js';
import { BlockLayer, type BlockRequest } from './merge.js';
import type { DeviceModelSpec } from './params.js';
import { buildDeviceStats, OpStatsTable, type DeviceStatsInput } from './stats.js';
import { createDeviceTiming, type DeviceTiming } from './timing.js';

const PAGE_BYTES = 4096;

/** What the simulator needs to know of an op before it runs (attribution.ts derives it from a TraceOp). */
export interface OpIoInfo {
  kind: string;
  /** Trace timestamp (µs), when the trace has them: open-loop arrival. */
  timeUs?: number;
  pid?: number;
  /** The op waits for the writeback it starts (fsync, O_SYNC, direct I/O's flush of the cache). */
  waitsForWriteback: boolean;
  /** Bytes copied between user memory and the page cache. */
  copyBytes: number;
  /** Not a trace op (the final sync): takes time, is not counted in the per-op figures. */
  internal?: boolean;
}

export interface DeviceSimulatorOptions {
  spec: DeviceModelSpec;
  deviceBytes: number;
  seed: number;
  /** Open loop: trace time is multiplied by this (default 1). */
  timeScale?: number;
  /** Closed loop: ops in flight (default 1). */
  iodepth?: number;
}

interface RunningOp {
  info: OpIoInfo;
  startUs: number;
  /** Closed loop: the in-flight slot the op holds. */
  slot: number;
  /** Where the op is: requests it submits now start here. */
  cursorUs: number;
  /** The latest completion of a request the op waits for. */
  waitUntilUs: number;
}

/** Causes whose requests the submitting op always waits for. */
const WAITED_CAUSES: ReadonlySet<IoCause> = new Set<IoCause>(['direct', 'readmiss', 'zeroing', 'journal', 'metadata', 'flush']);

/** One per timed run: beginOp/endOp around each op, submit() for its requests, deviceStats() at the end. */
export class DeviceSimulator implements IoSink {
  private readonly timing: DeviceTiming;
  private readonly blockLayer: BlockLayer;
  private readonly table = new OpStatsTable();
  private readonly timeScale: number;
  private readonly slotFreeUs: Float64Array;
  private readonly pidFreeUs = new Map<number, number>();
  private loop: 'open' | 'closed' | undefined;
  private firstTimeUs = 0;
  private lastArrivalUs = 0;
  private lastEndUs = 0;
  private current: RunningOp | undefined;
  private readonly writeBytesByCause = new Map<IoCause, number>();

  constructor(private readonly options: DeviceSimulatorOptions) {
    const { spec, deviceBytes, seed } = options;
    this.timing = createDeviceTiming(spec, deviceBytes, seed);
    this.blockLayer = new BlockLayer(spec.params['maxRequestKiB']! * 1024, (request) => this.dispatch(request));
    this.timeScale = options.timeScale ?? 1;
    const iodepth = options.iodepth ?? 1;
    assert(this.timeScale > 0 && Number.isInteger(iodepth) && iodepth >= 1, 'device simulator: bad arrival options', { timeScale: this.timeScale, iodepth });
    this.slotFreeUs = new Float64Array(iodepth);
  }

  /** IoSink: counts the bytes by cause and hands the request to the block layer. */
  submit(request: IoRequest): void {
    if (request.direction === 'write') this.writeBytesByCause.set(request.cause, (this.writeBytesByCause.get(request.cause) ?? 0) + request.lengthBytes);
    if (request.direction !== 'flush' && request.lengthBytes === 0) return;
    const op = this.current;
    const waited = op !== undefined && (WAITED_CAUSES.has(request.cause) || (op.info.waitsForWriteback && (request.cause === 'writeback' || request.cause === 'cow')));
    this.blockLayer.submit({ direction: request.direction, addrBytes: request.addrBytes, lengthBytes: request.lengthBytes, fua: request.fua === true, waited });
  }

  /** A request leaves the block layer: the device services it from where the op is. */
  private dispatch(request: BlockRequest): void {
    const op = this.current;
    let readyUs = op === undefined ? this.lastEndUs : op.cursorUs;
    // A flush is issued once the writes it orders have completed (fsync waits for its writeback first).
    if (op !== undefined && request.direction === 'flush') readyUs = Math.max(readyUs, op.waitUntilUs);
    const doneUs = this.timing.service(request, readyUs);
    assert(doneUs >= readyUs, 'device timing: completion before submission', { readyUs, doneUs, request });
    if (op === undefined || !request.waited) return;
    op.waitUntilUs = Math.max(op.waitUntilUs, doneUs);
    // After a barrier (flush, FUA commit block) later requests of the op start when it is done.
    if (request.direction === 'flush' || request.fua) op.cursorUs = doneUs;
  }

  /**
   * When the op starts. Closed loop until the trace's timestamps advance (a
   * trace without them, or whose ops all carry the same one, stays closed):
   * the op takes the first free of `iodepth` slots, never before the previous
   * op started. Open loop from then on: it arrives at its scaled trace time
   * and starts once its process (pid) has finished its previous op.
   */
  private schedule(info: OpIoInfo): { startUs: number; slot: number } {
    if (this.loop === undefined) {
      this.loop = 'closed';
      this.firstTimeUs = info.timeUs ?? 0;
    }
    if (this.loop === 'closed' && info.timeUs !== undefined && info.timeUs !== this.firstTimeUs) this.loop = 'open';
    if (this.loop === 'open') {
      const arrivalUs = info.timeUs === undefined ? this.lastArrivalUs : Math.max(0, (info.timeUs - this.firstTimeUs) * this.timeScale);
      this.lastArrivalUs = arrivalUs;
      return { startUs: Math.max(arrivalUs, this.pidFreeUs.get(info.pid ?? 0) ?? 0), slot: -1 };
    }
    let slot = 0;
    for (let index = 1; index < this.slotFreeUs.length; index++) if (this.slotFreeUs[index]! < this.slotFreeUs[slot]!) slot = index;
    const startUs = Math.max(this.lastArrivalUs, this.slotFreeUs[slot]!);
    this.lastArrivalUs = startUs;
    return { startUs, slot };
  }

  /** The op starts: requests submitted until endOp are its own. */
  beginOp(info: OpIoInfo): void {
    assert(this.current === undefined, 'device simulator: op begun twice', { kind: info.kind });
    const { startUs, slot } = this.schedule(info);
    const params = this.options.spec.params;
    const cpuUs = params['cpuOpUs']! + params['cpuPageUs']! * Math.ceil(info.copyBytes / PAGE_BYTES);
    const cursorUs = startUs + cpuUs;
    this.current = { info, startUs, slot, cursorUs, waitUntilUs: cursorUs };
  }

  /** The op returns: unplug; its latency runs from its start to the last request it waited for. */
  endOp(bytesWritten: number, bytesRead: number): void {
    const op = this.current;
    assert(op !== undefined, 'device simulator: endOp without beginOp');
    this.blockLayer.unplug();
    this.current = undefined;
    const endUs = Math.max(op.cursorUs, op.waitUntilUs);
    if (op.slot >= 0) this.slotFreeUs[op.slot] = endUs;
    const pid = op.info.pid ?? 0;
    this.pidFreeUs.set(pid, Math.max(endUs, this.pidFreeUs.get(pid) ?? 0));
    this.lastEndUs = Math.max(this.lastEndUs, endUs);
    if (!op.info.internal) this.table.record(op.info.kind, endUs - op.startUs, endUs, bytesWritten, bytesRead);
  }

  /** Runs `body` as an internal op (the final sync): its requests take device time, it is not counted. */
  runInternal(kind: string, body: () => void): void {
    this.beginOp({ kind, waitsForWriteback: true, copyBytes: 0, internal: true });
    try {
      body();
    } finally {
      this.endOp(0, 0);
    }
  }

  /** What the run measured, for ReplayResult.deviceStats. O(op kinds x histogram buckets + series). */
  deviceStats(input: DeviceStatsInput): DeviceStats {
    assert(this.current === undefined, 'device simulator: stats asked while an op runs');
    const simulatedUs = Math.max(this.lastEndUs, this.timing.idleAtUs());
    const runOptions: Record<string, number> = this.loop === 'open' ? { timeScale: this.timeScale } : { iodepth: this.slotFreeUs.length };
    return buildDeviceStats({
      spec: this.options.spec,
      runOptions,
      loop: this.loop ?? 'closed',
      simulatedUs,
      table: this.table,
      writeBytesByCause: this.writeBytesByCause,
      requests: { ...this.blockLayer.counters },
      input,
    });
  }
}
