/**
 * Device model parameters: the built-in models (hdd, ssd, nvme), their
 * defaults and limits, and the `--device-params FILE.json` reader. Every
 * parameter is a number whose unit ends its name (Us, MBps, KiB, MiB, Rpm).
 * Sources for the defaults are in docs/device-model.md.
 */
import { UsageError } from '../../util/errors.js';

export const DEVICE_MODEL_NAMES = ['hdd', 'ssd', 'nvme'] as const;
export type DeviceModelName = (typeof DEVICE_MODEL_NAMES)[number];

/** A model chosen for a run: the timing family and every parameter's value. */
export interface DeviceModelSpec {
  /** The built-in model, or 'custom' when a parameter file was given. */
  name: DeviceModelName | 'custom';
  /** The timing family (and defaults) the parameters apply to. */
  base: DeviceModelName;
  params: Readonly<Record<string, number>>;
}

interface ParamRule {
  min: number;
  max: number;
  integer: boolean;
}

/** Host and block-layer costs every model has (same defaults everywhere). */
const COMMON_DEFAULTS: Readonly<Record<string, number>> = {
  /** max_sectors_kb: the largest request the block layer builds by merging. */
  maxRequestKiB: 512,
  /** System call and VFS bookkeeping per op. */
  cpuOpUs: 1,
  /** Copying one 4 KiB page between user memory and the page cache. */
  cpuPageUs: 0.5,
};

/** Defaults of each built-in model (docs/device-model.md cites the device specs). */
export const DEVICE_MODEL_DEFAULTS: Readonly<Record<DeviceModelName, Readonly<Record<string, number>>>> = {
  hdd: {
    rotationRpm: 7200,
    seekSettleUs: 1000,
    seekFullStrokeUs: 15000,
    transferMBps: 150,
    interfaceMBps: 600,
    commandUs: 50,
    writeCacheMiB: 64,
    flushUs: 1000,
    ...COMMON_DEFAULTS,
  },
  ssd: {
    readLatencyUs: 80,
    writeLatencyUs: 25,
    transferMBps: 500,
    channels: 8,
    queueDepth: 32,
    flushUs: 500,
    ...COMMON_DEFAULTS,
  },
  nvme: {
    readLatencyUs: 12,
    writeLatencyUs: 10,
    transferMBps: 3000,
    channels: 32,
    queueDepth: 1023,
    flushUs: 20,
    ...COMMON_DEFAULTS,
  },
};

const TIME_US_MAX = 10_000_000;
const RULES: Readonly<Record<string, ParamRule>> = {
  rotationRpm: { min: 1000, max: 30000, integer: false },
  seekSettleUs: { min: 0, max: TIME_US_MAX, integer: false },
  seekFullStrokeUs: { min: 0, max: TIME_US_MAX, integer: false },
  transferMBps: { min: 0.001, max: 1_000_000, integer: false },
  interfaceMBps: { min: 0.001, max: 1_000_000, integer: false },
  commandUs: { min: 0, max: TIME_US_MAX, integer: false },
  writeCacheMiB: { min: 0, max: 1_048_576, integer: false },
  flushUs: { min: 0, max: TIME_US_MAX, integer: false },
  readLatencyUs: { min: 0, max: TIME_US_MAX, integer: false },
  writeLatencyUs: { min: 0, max: TIME_US_MAX, integer: false },
  channels: { min: 1, max: 4096, integer: true },
  queueDepth: { min: 1, max: 65536, integer: true },
  maxRequestKiB: { min: 4, max: 65536, integer: true },
  cpuOpUs: { min: 0, max: TIME_US_MAX, integer: false },
  cpuPageUs: { min: 0, max: TIME_US_MAX, integer: false },
};

/** True for the built-in model names (hdd, ssd, nvme). */
export function isDeviceModelName(text: string): text is DeviceModelName {
  return (DEVICE_MODEL_NAMES as readonly string[]).includes(text);
}

/** The spec of a built-in model with its default parameters. */
export function builtinDeviceModel(name: DeviceModelName): DeviceModelSpec {
  return { name, base: name, params: { ...DEVICE_MODEL_DEFAULTS[name] } };
}

/** 1-based line and column of character `index` of `text`. */
function lineColumnOf(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, index));
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}

/** "file:line:col" of the first `"key"` in the text (the file's position when absent). */
function keyPosition(text: string, fileName: string, key: string): string {
  const index = text.indexOf(JSON.stringify(key));
  if (index < 0) return `${fileName}:1:1`;
  const { line, column } = lineColumnOf(text, index);
  return `${fileName}:${line}:${column}`;
}

function parseJsonObject(text: string, fileName: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const where = position ? lineColumnOf(text, Number(position[1])) : { line: 1, column: 1 };
    const reason = message.split(/\s+in JSON|,\s*"|\n/)[0]!.trim();
    throw new UsageError(`${fileName}:${where.line}:${where.column}: not valid JSON: ${reason} (expected an object of device parameters)`, 'see docs/device-model.md for the parameter names');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${fileName}:1:1: not a JSON object (expected { "model": "hdd", "rotationRpm": 5400, ... })`, 'see docs/device-model.md');
  }
  return value as Record<string, unknown>;
}

/** The base model a parameter file names (its "model" key), checked against one given on the command line. */
function baseModelOf(object: Record<string, unknown>, text: string, fileName: string, fromCommandLine: DeviceModelName | undefined): DeviceModelName {
  const named = object['model'];
  if (named === undefined) return fromCommandLine ?? 'ssd';
  if (typeof named !== 'string' || !isDeviceModelName(named)) {
    throw new UsageError(`${keyPosition(text, fileName, 'model')}: "model" is ${JSON.stringify(named)} (expected one of: ${DEVICE_MODEL_NAMES.join(', ')})`);
  }
  if (fromCommandLine !== undefined && fromCommandLine !== named) {
    throw new UsageError(`${keyPosition(text, fileName, 'model')}: the file is for model ${named} but --device chose ${fromCommandLine} (expected the same model)`, 'leave "model" out of the file, or choose the same model');
  }
  return named;
}

/** Checks one parameter value against its rule. Throws UsageError naming the file position. */
function checkedParam(key: string, value: unknown, where: string): number {
  const rule = RULES[key]!;
  const kind = rule.integer ? 'an integer' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value) || (rule.integer && !Number.isInteger(value)) || value < rule.min || value > rule.max) {
    throw new UsageError(`${where}: "${key}" is ${JSON.stringify(value)} (expected ${kind} from ${rule.min} to ${rule.max})`);
  }
  return value;
}

/**
 * Reads a parameter file's text: a JSON object with an optional "model"
 * (hdd, ssd, nvme; default the model given on the command line, else ssd) and
 * any parameters of that model, which override its defaults. Throws a
 * one-line UsageError `file:line:col: what (expected ...)` for bad JSON, an
 * unknown model or key, or a value out of range. O(text length).
 */
export function parseDeviceParams(text: string, fileName: string, fromCommandLine?: DeviceModelName): DeviceModelSpec {
  const object = parseJsonObject(text, fileName);
  const base = baseModelOf(object, text, fileName, fromCommandLine);
  const params: Record<string, number> = { ...DEVICE_MODEL_DEFAULTS[base] };
  for (const [key, value] of Object.entries(object)) {
    if (key === 'model') continue;
    const where = keyPosition(text, fileName, key);
    if (!(key in params)) {
      throw new UsageError(`${where}: unknown ${base} parameter "${key}" (expected one of: model, ${Object.keys(params).join(', ')})`);
    }
    params[key] = checkedParam(key, value, where);
  }
  return { name: 'custom', base, params };
}
