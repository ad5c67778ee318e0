/**
 * Pure helpers that turn command-line strings into checked values: sizes with
 * k/m/g suffixes, block sizes, seeds, and the defaults that depend on the
 * trace name (image path, seed). Every failure is a UsageError with a hint.
 */
import path from 'node:path';
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
