/**
 * Runtime side of the fault plan: the decisions the simulated kernel asks for
 * while it runs (does this allocation fail, how much of this user copy gets
 * through, does this bio fail, is the process dead), and the recovery record
 * of each op the faults touched. Deterministic: planned faults depend on op
 * indexes and device byte counts only; random ones (--fault-rate) on a PRNG
 * seeded from the run's seed, separate from the fs's own stream.
 */
import type { RecoveryPath } from '../report/model.js';
import { Prng } from '../util/prng.js';
import { DEFAULT_RANDOM_FAULT_KINDS } from './plan.js';
import type { FaultKind, FaultPlan, FaultSpec } from './types.js';

/** Thrown by a device write when a `crash` fault fires: the process is dead, nothing else may reach the image. */
export class CrashSignal extends Error {
  constructor(
    readonly fault: FaultSpec,
    /** True when the process died inside an op (after some device bytes), false when before it started. */
    readonly midOp: boolean,
  ) {
    super(`crash fault ${fault.text}`);
    this.name = 'CrashSignal';
  }
}

/** What one op's faults and recovery amounted to (src/replay turns it into a RecoveryEvent). */
export interface OpRecovery {
  /** Plan entries (or `random:KIND`) that fired during the op. */
  faults: string[];
  /** What failed, one sentence per fault. */
  failed: string[];
  paths: RecoveryPath[];
  bytesRetried: number;
  bytesPunched: number;
  bytesKept: number;
  bytesLost: number;
}

/** Byte counters a recovery step adds to the op's record. */
export interface RecoveryBytes {
  retried?: number;
  punched?: number;
  kept?: number;
  lost?: number;
}

/** A planned fault and how much of it is left. */
interface Armed {
  spec: FaultSpec;
  /** Firings left (Infinity: unlimited). */
  remaining: number;
}

/** Salt mixed into the run seed for the random-fault stream (keeps the fs's PRNG stream unchanged). */
const RANDOM_FAULT_SALT = 0x5fa17;

/**
 * The recovery recorder is always present (natural recoveries, such as an XFS
 * ENOSPC retry or a CoW bounce, are recorded too); the fault decisions only
 * when a plan was given.
 */
export class RecoveryRecorder {
  private current: OpRecovery | undefined;

  /** Notes a recovery step of the running op. */
  path(path: RecoveryPath, bytes: RecoveryBytes = {}): void {
    const record = this.open();
    if (!record.paths.includes(path)) record.paths.push(path);
    this.bytes(bytes);
  }

  /** Adds byte counts to the running op's record without a recovery step (data lost with nothing to recover it). */
  bytes(bytes: RecoveryBytes): void {
    const record = this.open();
    record.bytesRetried += bytes.retried ?? 0;
    record.bytesPunched += bytes.punched ?? 0;
    record.bytesKept += bytes.kept ?? 0;
    record.bytesLost += bytes.lost ?? 0;
  }

  /** Notes that a fault fired during the running op. */
  fired(fault: string, failed: string): void {
    const record = this.open();
    record.faults.push(fault);
    record.failed.push(failed);
  }

  /** Whether the running op has met a fault so far. */
  get faulted(): boolean {
    return this.current !== undefined && this.current.faults.length > 0;
  }

  /** The record of the op that just ended (undefined when nothing happened), and a fresh start. */
  take(): OpRecovery | undefined {
    const record = this.current;
    this.current = undefined;
    return record;
  }

  private open(): OpRecovery {
    this.current ??= { faults: [], failed: [], paths: [], bytesRetried: 0, bytesPunched: 0, bytesKept: 0, bytesLost: 0 };
    return this.current;
  }
}

export class FaultInjector {
  private readonly armed: Armed[];
  private readonly random: Prng | undefined;
  private readonly rate: number;
  private readonly kinds: readonly FaultKind[];
  /** Random fault of the running op, if one was drawn. */
  private randomKind: FaultKind | undefined;
  private opIndex = 0;
  /** Faults that fired, planned and random. */
  injected = 0;

  constructor(
    plan: FaultPlan,
    seed: number,
    readonly recorder: RecoveryRecorder,
  ) {
    this.armed = plan.faults.map((spec) => ({ spec, remaining: initialFirings(spec) }));
    this.rate = plan.random?.rate ?? 0;
    this.kinds = plan.random?.kinds.length ? plan.random.kinds : DEFAULT_RANDOM_FAULT_KINDS;
    this.random = this.rate > 0 ? new Prng((seed ^ RANDOM_FAULT_SALT) >>> 0) : undefined;
  }

  /** The plan entries as written. */
  get planned(): string[] {
    return this.armed.map((entry) => entry.spec.text);
  }

  /**
   * Op `opIndex` (1-based) starts. Returns the crash fault that kills the
   * process before it runs, if any. Draws this op's random fault.
   */
  beginOp(opIndex: number): FaultSpec | undefined {
    this.opIndex = opIndex;
    this.randomKind = undefined;
    if (this.random !== undefined && this.random.nextFloat() < this.rate) {
      this.randomKind = this.kinds[this.random.nextU32() % this.kinds.length];
    }
    for (const entry of this.armed) {
      if (entry.spec.kind === 'crash' && entry.spec.op !== undefined && entry.remaining > 0 && opIndex >= entry.spec.op) {
        entry.remaining = 0;
        this.injected++;
        return entry.spec;
      }
    }
    return undefined;
  }

  /** The running op ended: a random fault drawn for it and not met lapses. */
  endOp(): void {
    this.randomKind = undefined;
  }

  /** Random faults of the running op apply once. */
  private takeRandom(kind: FaultKind): boolean {
    if (this.randomKind !== kind) return false;
    this.randomKind = undefined;
    this.injected++;
    return true;
  }

  /** The first armed planned fault of `kind` whose op trigger has come, consumed once. */
  private takePlanned(kind: FaultKind, matches: (spec: FaultSpec) => boolean = () => true): FaultSpec | undefined {
    for (const entry of this.armed) {
      const spec = entry.spec;
      if (spec.kind !== kind || entry.remaining <= 0) continue;
      if (spec.op !== undefined && this.opIndex < spec.op) continue;
      if (!matches(spec)) continue;
      entry.remaining--;
      this.injected++;
      return spec;
    }
    return undefined;
  }

  /**
   * A space allocation (reservation or block allocation) is about to be made:
   * true when it must fail with ENOSPC.
   */
  allocationFails(what: string): boolean {
    const spec = this.takePlanned('enospc');
    if (spec !== undefined) {
      this.recorder.fired(spec.text, `${what} failed with ENOSPC`);
      return true;
    }
    if (this.takeRandom('enospc')) {
      this.recorder.fired('random:enospc', `${what} failed with ENOSPC`);
      return true;
    }
    return false;
  }

  /**
   * A buffered write of `length` bytes starts: the bytes of its user buffer that
   * can be read (undefined: all of them).
   */
  userCopyLimit(length: number): number | undefined {
    const spec = this.takePlanned('short-copy');
    let limit: number | undefined;
    let name: string | undefined;
    if (spec !== undefined) {
      limit = Math.min(spec.bytes ?? 0, length);
      name = spec.text;
    } else if (this.random !== undefined && this.randomKind === 'short-copy' && length > 0 && this.takeRandom('short-copy')) {
      limit = this.random.nextU32() % length;
      name = 'random:short-copy';
    }
    if (limit === undefined || name === undefined) return undefined;
    this.recorder.fired(name, `the user copy stopped after ${limit} of ${length} bytes (EFAULT)`);
    return limit;
  }

  /**
   * A direct write of `length` bytes starts: the bytes the block layer
   * completes (undefined: all), rounded down to `sectorBytes`.
   */
  dioCompleteLimit(length: number, sectorBytes: number): number | undefined {
    const spec = this.takePlanned('short-dio');
    let limit: number | undefined;
    let name: string | undefined;
    if (spec !== undefined) {
      limit = spec.bytes ?? 0;
      name = spec.text;
    } else if (this.random !== undefined && this.randomKind === 'short-dio' && length > sectorBytes && this.takeRandom('short-dio')) {
      limit = this.random.nextU32() % length;
      name = 'random:short-dio';
    }
    if (limit === undefined || name === undefined) return undefined;
    limit = Math.min(length, Math.floor(limit / sectorBytes) * sectorBytes);
    this.recorder.fired(name, `the block layer completed ${limit} of ${length} bytes of a direct write`);
    return limit;
  }

  /**
   * A bio of [addrBytes, addrBytes + lengthBytes) in `direction` is submitted;
   * `deviceBytesWritten` counts device writes so far. True when it fails with EIO.
   */
  ioFails(direction: 'read' | 'write', addrBytes: number, lengthBytes: number, blockSize: number, deviceBytesWritten: number): boolean {
    const firstBlock = Math.floor(addrBytes / blockSize);
    const endBlock = Math.ceil((addrBytes + lengthBytes) / blockSize);
    const spec = this.takePlanned('eio', (candidate) => {
      if ((candidate.direction ?? 'write') !== direction) return false;
      if (candidate.afterDeviceBytes !== undefined && deviceBytesWritten < candidate.afterDeviceBytes) return false;
      if (candidate.blocks !== undefined) return candidate.blocks.startBlock < endBlock && candidate.blocks.endBlock > firstBlock;
      return true;
    });
    let name = spec?.text;
    if (name === undefined && this.takeRandom('eio')) name = 'random:eio';
    if (name === undefined) return false;
    this.recorder.fired(name, `device ${direction} of ${lengthBytes} bytes at block ${firstBlock} failed with EIO`);
    return true;
  }

  /** A `crash@bytes=B` fault that fires once device writes reach B bytes, if any is armed. */
  crashAtBytes(): FaultSpec | undefined {
    for (const entry of this.armed) {
      if (entry.spec.kind === 'crash' && entry.spec.afterDeviceBytes !== undefined && entry.remaining > 0) return entry.spec;
    }
    return undefined;
  }

  /** Marks a crash fault as fired. */
  crashed(spec: FaultSpec): void {
    for (const entry of this.armed) if (entry.spec === spec) entry.remaining = 0;
    this.injected++;
  }
}

function initialFirings(spec: FaultSpec): number {
  if (spec.count !== undefined) return spec.count;
  switch (spec.kind) {
    case 'enospc':
      return Infinity;
    case 'eio':
      return spec.blocks !== undefined ? Infinity : 1;
    default:
      return 1;
  }
}
