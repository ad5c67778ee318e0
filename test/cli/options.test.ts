import { describe, expect, test } from '@jest/globals';
import {
  defaultImagePath,
  parseBlockSize,
  parseDeviceSize,
  parseSeed,
  parseSize,
  seedFromTraceName,
  singleValue,
} from '../../src/cli/options.js';
import { UsageError } from '../../src/util/errors.js';

describe('parseSize', () => {
  test.each([
    ['4096', 4096],
    ['64k', 65536],
    ['64K', 65536],
    ['512m', 512 * 2 ** 20],
    ['1g', 2 ** 30],
    ['1GiB', 2 ** 30],
    ['2t', 2 * 2 ** 40],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text, 'device-size')).toBe(bytes);
  });

  test.each(['', '1x', '-1g', '1.5g', 'g', '0x10'])('%j is refused with the option named', (text) => {
    expect(() => parseSize(text, 'device-size')).toThrow(UsageError);
    expect(() => parseSize(text, 'device-size')).toThrow(/^--device-size: /);
  });
});

test('block sizes: 1024, 2048, 4096 (and 4k) only', () => {
  expect(parseBlockSize('1024')).toBe(1024);
  expect(parseBlockSize('4k')).toBe(4096);
  expect(() => parseBlockSize('512')).toThrow(/expected one of 1024, 2048, 4096/);
  expect(() => parseBlockSize('8192')).toThrow(UsageError);
});

test('device size: a positive whole number of blocks, at most 16 TiB', () => {
  expect(parseDeviceSize('1g', 4096)).toBe(2 ** 30);
  expect(() => parseDeviceSize('0', 4096)).toThrow(/positive multiple of the block size/);
  expect(() => parseDeviceSize('6k', 4096)).toThrow(UsageError);
  expect(parseDeviceSize('6k', 2048)).toBe(6144);
  expect(() => parseDeviceSize('17t', 4096)).toThrow(/maximum/);
});

test('seeds: decimal or hex, 32-bit unsigned', () => {
  expect(parseSeed('0')).toBe(0);
  expect(parseSeed('4294967295')).toBe(4294967295);
  expect(parseSeed('0xdeadBEEF')).toBe(0xdeadbeef);
  for (const bad of ['-1', '4294967296', '1e3', 'abc', '']) expect(() => parseSeed(bad)).toThrow(UsageError);
});

describe('seedFromTraceName', () => {
  test('FNV-1a of the base name: known vectors', () => {
    // FNV-1a 32-bit test vectors: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
    expect(seedFromTraceName('a')).toBe(0xe40c292c);
    expect(seedFromTraceName('dir/foobar')).toBe(0xbf9cf968);
  });

  test('same name anywhere gives the same seed; other names differ', () => {
    expect(seedFromTraceName('traces/demo.xio')).toBe(seedFromTraceName('/elsewhere/demo.xio'));
    expect(seedFromTraceName('traces/demo.xio')).not.toBe(seedFromTraceName('traces/demo.csv'));
  });
});

test('default image: trace base name without its extension, plus .img', () => {
  expect(defaultImagePath('traces/demo.xio')).toBe('demo.img');
  expect(defaultImagePath('/a/b/run.1.csv')).toBe('run.1.img');
  expect(defaultImagePath('noext')).toBe('noext.img');
  expect(defaultImagePath('.hidden')).toBe('.hidden.img');
});

test('a repeated option is refused', () => {
  expect(singleValue('a', 'image')).toBe('a');
  expect(() => singleValue(['a', 'b'], 'image')).toThrow('--image was given 2 times (expected once)');
});
