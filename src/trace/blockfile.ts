/**
 * Block-device traces (blkparse, MSR, Alibaba, Tencent) replay each device
 * as ONE LARGE FILE, as a VM disk image on a file system: the readers open
 * `<kind>-<id>.img` (O_CREAT) on a device's first use and then issue
 * pread/pwrite-like ops with explicit byte offsets on it.
 *
 * `BlockDeviceFiles` hands out the fds (one per device and traced process,
 * so that a replay keyed by pid and fd finds the handle), and
 * `selectBlockDevice` is the stream transform behind `--device` and
 * `--device-file`: ops on other devices become `ignored` ('other-device'),
 * and device files get the user's name.
 */
import { assert } from '../util/assert.js';
import type { SourcePos } from '../util/errors.js';
import { createOpenFlags, type TraceOp, type TraceSource } from './types.js';

/** The prefix of a device file name: `dev` (major,minor), `disk` (MSR disk number), `volume` (cloud volume id). */
export type BlockDeviceKind = 'dev' | 'disk' | 'volume';

/** Bytes per sector in formats that count sectors (blkparse, Tencent CBS). */
export const sectorBytes = 512;

/** First fd a block reader hands out (0-2 are stdio, as in a real process). */
export const blockFirstFd = 3;

/** The ignored-op reason of ops on devices `--device` did not pick. */
export const otherDeviceReason = 'other-device';

const deviceFileOpenFlags = createOpenFlags;

/** `dev-8,0.img`, `disk-0.img`, `volume-1576.img`. */
export function blockDeviceFileName(kind: BlockDeviceKind, deviceId: string): string {
  assert(deviceId !== '' && !deviceId.includes('/'), 'blockDeviceFileName: bad device id', { deviceId });
  return `${kind}-${deviceId}.img`;
}

const deviceFilePattern = /^(?:dev|disk|volume)-([^/]+)\.img$/;

/** The device id in a name `blockDeviceFileName` made, or null for any other path. */
export function blockDeviceIdOf(path: string): string | null {
  const match = deviceFilePattern.exec(path);
  return match === null ? null : match[1]!;
}

/** A device id as the user types it for `--device`: blkparse's `8:0` is `8,0`; blanks go. */
export function normalizeDeviceId(text: string): string {
  return text.trim().replace(':', ',');
}

/**
 * The fds of the device files of one trace. A device's file is opened once
 * per traced process (pid; undefined for formats without one). O(1) per op.
 */
export class BlockDeviceFiles {
  private readonly fds = new Map<string, number>();
  private readonly opened: { fd: number; pid: number | undefined }[] = [];
  private nextFd = blockFirstFd;

  constructor(private readonly kind: BlockDeviceKind) {}

  /** The fd of `deviceId` for `pid`; on first use appends its `open` op to `out`. */
  fdFor(deviceId: string, pid: number | undefined, src: SourcePos, timeUs: number | undefined, out: TraceOp[]): number {
    const key = pid === undefined ? deviceId : `${deviceId}\u0000${pid}`;
    const known = this.fds.get(key);
    if (known !== undefined) return known;
    const fd = this.nextFd++;
    this.fds.set(key, fd);
    this.opened.push({ fd, pid });
    const path = blockDeviceFileName(this.kind, deviceId);
    const open: TraceOp = { kind: 'open', src, fd, path, flags: { ...deviceFileOpenFlags } };
    if (timeUs !== undefined) open.timeUs = timeUs;
    if (pid !== undefined) open.pid = pid;
    out.push(open);
    return fd;
  }

  /** Appends a `close` of every device file, in open order (the end of the trace). */
  closeAll(src: SourcePos, timeUs: number | undefined, out: TraceOp[]): void {
    for (const { fd, pid } of this.opened) {
      const close: TraceOp = { kind: 'close', src, fd };
      if (timeUs !== undefined) close.timeUs = timeUs;
      if (pid !== undefined) close.pid = pid;
      out.push(close);
    }
    this.opened.length = 0;
    this.fds.clear();
  }
}

/** What `--device` / `--device-file` ask for. */
export interface BlockDeviceSelection {
  /** Replay only this device (`8,0`, `8:0`, `0`, `1576`); undefined: every device. */
  device?: string;
  /** Name of the file a device is replayed into (see `selectBlockDevice`). */
  deviceFile?: string;
}

/** What the selection saw, for messages after the run. */
export class BlockDeviceReport {
  /** Device ids in order of first appearance. */
  readonly devicesSeen: string[] = [];
  /** Ops turned into `ignored` because they were on another device. */
  opsOtherDevice = 0;
}

/**
 * Applies `--device` and `--device-file` to the op stream of a block-device
 * trace. The device of an op is that of the device file its fd opened.
 * With `device`: opens and ops on other devices become `ignored` ops
 * (reason 'other-device', call = the op kind). With `deviceFile`: the
 * chosen device (or, without `device`, the first device seen) is replayed
 * into `deviceFile`; any further device into `deviceFile-<id>`.
 *
 * Complexity: O(1) per op; memory O(open fds).
 */
export async function* selectBlockDevice(
  ops: TraceSource,
  selection: BlockDeviceSelection,
  report: BlockDeviceReport = new BlockDeviceReport(),
): AsyncGenerator<TraceOp> {
  const wanted = selection.device === undefined ? undefined : normalizeDeviceId(selection.device);
  const fdDevice = new Map<string, string>();
  for await (const op of ops) {
    if (op.kind === 'open') {
      const deviceId = blockDeviceIdOf(op.path);
      if (deviceId === null) {
        yield op;
        continue;
      }
      if (!report.devicesSeen.includes(deviceId)) report.devicesSeen.push(deviceId);
      fdDevice.set(fdKeyOf(op.pid, op.fd), deviceId);
      if (wanted !== undefined && deviceId !== wanted) {
        yield ignoreOtherDevice(op, report);
        continue;
      }
      yield selection.deviceFile === undefined ? op : { ...op, path: deviceFileFor(selection.deviceFile, deviceId, report, wanted) };
      continue;
    }
    const deviceId = 'fd' in op && typeof op.fd === 'number' ? fdDevice.get(fdKeyOf(op.pid, op.fd)) : undefined;
    if (op.kind === 'close') fdDevice.delete(fdKeyOf(op.pid, op.fd));
    yield wanted !== undefined && deviceId !== undefined && deviceId !== wanted ? ignoreOtherDevice(op, report) : op;
  }
}

function fdKeyOf(pid: number | undefined, fd: number): string {
  return `${pid ?? 0}:${fd}`;
}

function ignoreOtherDevice(op: TraceOp, report: BlockDeviceReport): TraceOp {
  report.opsOtherDevice++;
  const ignored: TraceOp = { kind: 'ignored', src: op.src, reason: otherDeviceReason, call: op.kind };
  if (op.timeUs !== undefined) ignored.timeUs = op.timeUs;
  if (op.pid !== undefined) ignored.pid = op.pid;
  return ignored;
}

/** `name` for the chosen (or first) device, `name-<id>` for the others. */
function deviceFileFor(name: string, deviceId: string, report: BlockDeviceReport, wanted: string | undefined): string {
  const primary = wanted ?? report.devicesSeen[0];
  return deviceId === primary ? name : `${name}-${deviceId}`;
}
