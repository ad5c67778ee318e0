/**
 * Trace input shared by `replay` and `convert`: open (detect) the trace,
 * apply `--skip-bad`, `--device` and `--device-file`, and afterwards say on
 * stderr what the user should know (the detected format, skipped lines, a
 * device that never appeared).
 */
import { BlockDeviceReport, normalizeDeviceId, selectBlockDevice } from '../trace/blockfile.js';
import { isBlockDeviceFormat, readerSkipsBadLines } from '../trace/detect.js';
import { BadLineLog } from '../trace/skipbad.js';
import type { TraceFormat, TraceOp } from '../trace/types.js';
import { TraceError, UsageError } from '../util/errors.js';
import type { CliContext } from './context.js';
import { atBoundary } from './exit.js';
import type { FormatChoice } from './options.js';

/** The trace-input options of a command, checked. */
export interface TraceInputOptions {
  /** Absolute path of the trace. */
  tracePath: string;
  /** The trace as the user typed it (messages, `src.file`). */
  traceName: string;
  format: FormatChoice;
  skipBad: boolean;
  device?: string;
  deviceFile?: string;
}

/** An opened trace with its options applied, and what to report after the run. */
export interface TraceInput {
  format: string;
  ops: AsyncIterable<TraceOp>;
  badLines: BadLineLog | undefined;
  devices: BlockDeviceReport | undefined;
}

/** Checks --device and --device-file values (not yet the format, which detection may still decide). */
export function checkDeviceOptions(device: string | undefined, deviceFile: string | undefined): void {
  if (device !== undefined && !/^\d+(?:[,:]\d+)?$/.test(device.trim())) {
    throw new UsageError(`--device: '${device}' is neither a device model (hdd, ssd, nvme or a FILE.json of parameters) nor a trace device (a number, or MAJOR,MINOR for blkparse)`, 'e.g. --device nvme, --device 0 or --device 8,0; --device-model and --trace-device say which one you mean');
  }
  if (deviceFile !== undefined && (deviceFile === '' || deviceFile.includes('/') || deviceFile === '.' || deviceFile === '..')) {
    throw new UsageError(`--device-file: '${deviceFile}' is not a file name (expected a name without '/')`, 'e.g. --device-file vm.img');
  }
}

/**
 * Opens the trace through the engine and applies the input options.
 * Throws UsageError when an option does not fit the format (detected or given).
 */
export async function openTraceInput(input: TraceInputOptions, context: CliContext): Promise<TraceInput> {
  const badLines = input.skipBad ? new BadLineLog() : undefined;
  const name = input.traceName;
  const opened = await atBoundary(
    () => context.engine.openTrace(input.tracePath, badLines === undefined ? { format: input.format, displayName: name } : { format: input.format, displayName: name, badLines }),
    (error) => new TraceError(undefined, `${name}: cannot read the trace (${error.code})`, 'check the path and its permissions'),
  );
  const format = opened.format as TraceFormat;
  if (opened.detectedBy === 'content') context.io.stderr(`iomapsim: ${name}: trace format ${format} (detected from the content; --format ${format} names it)\n`);
  if (input.skipBad && !readerSkipsBadLines(format)) {
    throw new UsageError(`--skip-bad is not supported for ${format} traces`, 'fix the line the error names, or leave out --skip-bad');
  }
  const wantsDevice = input.device !== undefined || input.deviceFile !== undefined;
  if (wantsDevice && !isBlockDeviceFormat(format)) {
    throw new UsageError(`--device and --device-file apply to block-device traces (blkparse, msr, alibaba, tencent), not ${format}`);
  }
  if (!wantsDevice) return { format, ops: opened.ops, badLines, devices: undefined };
  const devices = new BlockDeviceReport();
  const selection: { device?: string; deviceFile?: string } = {};
  if (input.device !== undefined) selection.device = input.device;
  if (input.deviceFile !== undefined) selection.deviceFile = input.deviceFile;
  return { format, ops: selectBlockDevice(opened.ops, selection, devices), badLines, devices };
}

/** After the run: skipped lines (count and the first messages) and a --device that matched nothing, on stderr. */
export function reportTraceInput(input: TraceInput, options: TraceInputOptions, context: CliContext): void {
  const badLines = input.badLines;
  if (badLines !== undefined && badLines.count > 0) {
    const shown = badLines.messages.length;
    const lines = [`iomapsim: --skip-bad: skipped ${badLines.count} bad line${badLines.count === 1 ? '' : 's'}${badLines.count > shown ? `; the first ${shown}` : ''}:`];
    for (const message of badLines.messages) lines.push(`  ${message}`);
    context.io.stderr(`${lines.join('\n')}\n`);
  }
  const devices = input.devices;
  if (devices !== undefined && options.device !== undefined && !devices.devicesSeen.includes(normalizeDeviceId(options.device))) {
    const seen = devices.devicesSeen.length === 0 ? 'none' : devices.devicesSeen.join(' ');
    context.io.stderr(`iomapsim: --device ${options.device}: no such device in the trace (devices: ${seen})\n`);
  }
}
