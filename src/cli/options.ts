/**
 * Pure helpers that turn command-line strings into checked values: sizes with
 * k/m/g suffixes, block sizes, seeds, and the defaults that depend on the
 * trace name (image path, seed). Every failure is a UsageError with a hint.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { builtinDeviceModel, DEVICE_MODEL_NAMES, isDeviceModelName, parseDeviceParams, type DeviceModelSpec } from '../device/model/params.js';
import { DEFAULT_RANDOM_FAULT_KINDS, parseFaultKinds, parseFaultRate, parseFaultSpec, parseFaultsFile } from '../fault/plan.js';
import type { FaultPlan } from '../fault/types.js';
import { UsageError } from '../util/errors.js';

/** Block sizes the policies support (page size is 4096). */
export const BLOCK_SIZES = [1024, 2048, 4096] as const;

/** Largest simulated device: 16 TiB keeps every byte address and block number exact in a JS number. */
export const DEVICE_SIZE_MAX_BYTES = 2 ** 44;

/** Trace formats `--format` accepts. */
export const FORMAT_CHOICES = ['auto', 'xio', 'csv', 'blkparse', 'fio', 'msr', 'alibaba', 'tencent'] as const;
export type FormatChoice = (typeof FORMAT_CHOICES)[number];

const SIZE_MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/**
 * Parses "1g", "512m", "64k", "4096", "1GiB" (binary multiples, case-insensitive)
 * into bytes. Throws UsageError for anything else, naming the option.
 */
export function parseSize(text: string, option: string): number {
  const match = /^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!match) {
    throw new UsageError(`--${option}: '${text}' is not a size (expected bytes with an optional k, m, g or t suffix)`, `e.g. --${option} 1g`);
  }
  const bytes = Number(match[1]) * SIZE_MULTIPLIERS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--${option}: '${text}' is too large`);
  return bytes;
}

/** Parses --block-size: 1024, 2048 or 4096 (a k suffix is accepted: 4k). */
export function parseBlockSize(text: string): number {
  const bytes = parseSize(text, 'block-size');
  if (!(BLOCK_SIZES as readonly number[]).includes(bytes)) {
    throw new UsageError(`--block-size: ${text} is not supported (expected one of ${BLOCK_SIZES.join(', ')})`);
  }
  return bytes;
}

/** Parses --device-size: bytes, a whole number of blocks, at most DEVICE_SIZE_MAX_BYTES. */
export function parseDeviceSize(text: string, blockSize: number): number {
  const bytes = parseSize(text, 'device-size');
  if (bytes === 0 || bytes % blockSize !== 0) {
    throw new UsageError(`--device-size: ${text} is not a positive multiple of the block size (${blockSize} bytes)`, 'e.g. --device-size 1g');
  }
  if (bytes > DEVICE_SIZE_MAX_BYTES) {
    throw new UsageError(`--device-size: ${text} is larger than the supported maximum of 16t`);
  }
  return bytes;
}

/** Parses --seed: a 32-bit unsigned integer, decimal or 0x hex. */
export function parseSeed(text: string): number {
  const trimmed = text.trim();
  const value = /^0x[0-9a-f]+$/i.test(trimmed) ? Number.parseInt(trimmed.slice(2), 16) : /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new UsageError(`--seed: '${text}' is not a seed (expected an integer from 0 to 4294967295)`);
  }
  return value;
}

/**
 * The seed drawn when --seed is absent: FNV-1a (32-bit) of the trace's base
 * name, so a run is reproducible without a clock or Math.random, and the same
 * trace gets the same seed wherever it lives. O(name length).
 */
export function seedFromTraceName(tracePath: string): number {
  const name = path.basename(tracePath);
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The default image path: `<trace base name without extension>.img` (relative, in the working directory). */
export function defaultImagePath(tracePath: string): string {
  const base = path.basename(tracePath);
  const extension = path.extname(base);
  const stem = extension.length > 0 && extension.length < base.length ? base.slice(0, -extension.length) : base;
  return `${stem}.img`;
}

/** yargs gives an array when an option is repeated: refuse it instead of silently picking one. */
export function singleValue<T>(value: T | T[], option: string): T {
  if (Array.isArray(value)) throw new UsageError(`--${option} was given ${value.length} times (expected once)`);
  return value;
}

// ---- device model options ---------------------------------------------------

/** The device model used when none is chosen (`--no-device-model`: none). */
export const DEFAULT_DEVICE_MODEL = 'ssd';

/** Largest --iodepth: the deepest NVMe queue the models allow. */
export const IODEPTH_MAX = 65536;

/** A --device value that names a device model (hdd, ssd, nvme) or a parameter file (*.json); anything else names a trace device. */
export function isDeviceModelValue(value: string): boolean {
  return isDeviceModelName(value) || /\.json$/i.test(value);
}

/** What --device, --device-model, --trace-device and --no-device-model chose. */
export interface DeviceChoice {
  /** A model name or a .json path; false: no model; undefined: the default. */
  model: string | false | undefined;
  /** The device of a block trace to replay. */
  traceDevice: string | undefined;
}

/**
 * Resolves the overloaded --device: `hdd`, `ssd`, `nvme` or a path ending in
 * `.json` choose the device model (as --device-model does); any other value
 * picks a device of a block trace (as --trace-device does). Giving one of the
 * two meanings twice, or a model with --no-device-model, is a UsageError.
 */
export function resolveDeviceChoice(device: string | undefined, deviceModel: string | false | undefined, traceDevice: string | undefined): DeviceChoice {
  if (deviceModel !== undefined && deviceModel !== false && !isDeviceModelValue(deviceModel)) {
    throw new UsageError(`--device-model: '${deviceModel}' is not a device model (expected one of ${DEVICE_MODEL_NAMES.join(', ')}, or a FILE.json of parameters)`);
  }
  let model = deviceModel;
  let trace = traceDevice;
  if (device !== undefined && isDeviceModelValue(device)) {
    if (model === false) throw new UsageError(`--device ${device} chooses a device model, but --no-device-model turns it off`, 'leave out one of them');
    if (model !== undefined) throw new UsageError(`--device ${device} and --device-model ${model} both choose the device model (expected one)`);
    model = device;
  } else if (device !== undefined) {
    if (trace !== undefined) throw new UsageError(`--device ${device} and --trace-device ${trace} both choose the trace device (expected one)`);
    trace = device;
  }
  return { model, traceDevice: trace };
}

/**
 * The device model spec of a run: the default (ssd), a built-in model, or a
 * parameter file (`model` a .json path, or `paramsPath` with a built-in or the
 * default model). `readText` reads a file (a UsageError when it cannot).
 * Returns undefined for --no-device-model.
 */
export function planDeviceModel(model: string | false | undefined, paramsPath: string | undefined, readText: (file: string) => string): DeviceModelSpec | undefined {
  if (model === false) {
    if (paramsPath !== undefined) throw new UsageError(`--device-params ${paramsPath} needs a device model, but --no-device-model turns it off`);
    return undefined;
  }
  const chosen = model ?? DEFAULT_DEVICE_MODEL;
  if (isDeviceModelName(chosen)) {
    return paramsPath === undefined ? builtinDeviceModel(chosen) : parseDeviceParams(readText(paramsPath), paramsPath, model === undefined ? undefined : chosen);
  }
  if (paramsPath !== undefined) throw new UsageError(`--device ${chosen} and --device-params ${paramsPath} both give a parameter file (expected one)`);
  return parseDeviceParams(readText(chosen), chosen);
}

/** Parses --time-scale: a positive number (0.5 replays twice as fast as traced). */
export function parseTimeScale(text: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 1e6) {
    throw new UsageError(`--time-scale: '${text}' is not a time scale (expected a positive number such as 1, 0.5 or 10)`);
  }
  return value;
}

/** Parses --iodepth: ops in flight in closed loop, 1..IODEPTH_MAX. */
export function parseIodepth(text: string): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > IODEPTH_MAX) {
    throw new UsageError(`--iodepth: '${text}' is not a queue depth (expected an integer from 1 to ${IODEPTH_MAX})`);
  }
  return value;
}

// ---- fault injection options ------------------------------------------------

/** The fault options of replay as yargs leaves them (strings unparsed). */
export interface FaultArgs {
  /** --fault SPEC, in the order given (repeatable). */
  specs: string[];
  /** --faults FILE: one spec a line. */
  file?: string;
  /** --fault-rate P. */
  rate?: string;
  /** --fault-kinds a,b (only with --fault-rate). */
  kinds?: string;
}

/**
 * The fault plan of a run: the --fault specs in the order given, then the
 * lines of --faults FILE (read with `readText`, which throws a UsageError when
 * it cannot), and --fault-rate with --fault-kinds (default enospc, eio,
 * short-copy, short-dio). Undefined when no fault option was given.
 * Throws UsageError. O(specs).
 */
export function planFaults(args: FaultArgs | undefined, readText: (file: string) => string): FaultPlan | undefined {
  if (args === undefined) return undefined;
  const faults = args.specs.map((text) => parseFaultSpec(text));
  if (args.file !== undefined) {
    if (args.file === '') throw new UsageError('--faults needs a file name', 'e.g. --faults faults.txt (one spec a line; docs/faults.md)');
    faults.push(...parseFaultsFile(readText(args.file), args.file));
  }
  if (args.kinds !== undefined && args.rate === undefined) {
    throw new UsageError('--fault-kinds chooses the kinds of random faults, but --fault-rate is not given', 'e.g. --fault-rate 0.01 --fault-kinds enospc,eio');
  }
  const plan: FaultPlan = { faults };
  if (args.rate !== undefined) {
    plan.random = { rate: parseFaultRate(args.rate), kinds: args.kinds === undefined ? [...DEFAULT_RANDOM_FAULT_KINDS] : parseFaultKinds(args.kinds) };
  }
  return faults.length === 0 && plan.random === undefined && args.file === undefined ? undefined : plan;
}

/**
 * The fault options that rebuild `plan`, for the reproducing command:
 * `--fault SPEC` for each command-line spec, `--faults FILE` once per file
 * (specs carry their origin), `--fault-rate P --fault-kinds K`. O(specs).
 */
export function faultWords(plan: FaultPlan | undefined): string[] {
  if (plan === undefined) return [];
  const words: string[] = [];
  const files: string[] = [];
  for (const spec of plan.faults) {
    if (spec.origin === undefined) words.push('--fault', spec.text);
    else if (!files.includes(spec.origin.file)) files.push(spec.origin.file);
  }
  for (const file of files) words.push('--faults', file);
  if (plan.random !== undefined) words.push('--fault-rate', String(plan.random.rate), '--fault-kinds', plan.random.kinds.join(','));
  return words;
}

/** Reads a --faults FILE (relative to cwd); a file that cannot be read is a UsageError. */
export function readFaultsFile(cwd: string, file: string): string {
  try {
    return readFileSync(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`--faults ${file}: cannot read the fault specs (${code})`, 'check the path; the file holds one spec a line (docs/faults.md)');
  }
}
