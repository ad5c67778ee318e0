/**
 * Device parameters: built-in defaults, the --device-params file (overrides,
 * "model", one-line errors with file:line:col), and how --device,
 * --device-model, --trace-device, --no-device-model and --device-params
 * resolve (src/cli/options.ts).
 */
import { describe, expect, test } from '@jest/globals';
import { builtinDeviceModel, DEVICE_MODEL_DEFAULTS, parseDeviceParams } from '../../src/device/model/params.js';
import { isDeviceModelValue, parseIodepth, parseTimeScale, planDeviceModel, resolveDeviceChoice } from '../../src/cli/options.js';
import { UsageError } from '../../src/util/errors.js';

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parameter files', () => {
  test('overrides apply to the named model; the rest keep its defaults', () => {
    const spec = parseDeviceParams('{\n  "model": "hdd",\n  "rotationRpm": 5400,\n  "writeCacheMiB": 0\n}\n', 'slow.json');
    expect(spec.name).toBe('custom');
    expect(spec.base).toBe('hdd');
    expect(spec.params).toEqual({ ...DEVICE_MODEL_DEFAULTS.hdd, rotationRpm: 5400, writeCacheMiB: 0 });
  });

  test('without "model" the file applies to the model given on the command line, else ssd', () => {
    expect(parseDeviceParams('{"flushUs": 5}', 'p.json', 'nvme').params).toEqual({ ...DEVICE_MODEL_DEFAULTS.nvme, flushUs: 5 });
    expect(parseDeviceParams('{}', 'p.json').params).toEqual(DEVICE_MODEL_DEFAULTS.ssd);
  });

  test.each<[string, string, string]>([
    ['{\n  "model": "hdd",\n  "seekUs": 4\n}', 'p.json:3:3: unknown hdd parameter "seekUs" (expected one of: model, rotationRpm,', 'an unknown key'],
    ['{\n  "channels": 2.5\n}', 'p.json:2:3: "channels" is 2.5 (expected an integer from 1 to 4096)', 'a fraction for an integer'],
    ['{ "flushUs": -1 }', 'p.json:1:3: "flushUs" is -1 (expected a number from 0 to 10000000)', 'a negative time'],
    ['{ "flushUs": "5" }', 'p.json:1:3: "flushUs" is "5" (expected a number from 0 to 10000000)', 'a string'],
    ['{ "model": "tape" }', 'p.json:1:3: "model" is "tape" (expected one of: hdd, ssd, nvme)', 'an unknown model'],
    ['[1, 2]', 'p.json:1:1: not a JSON object', 'an array'],
    ['{\n  "flushUs": 5,\n}', 'p.json:3:1: not valid JSON', 'a trailing comma'],
  ])('%s -> %s (%s)', (text, message) => {
    const error = usageError(() => parseDeviceParams(text, 'p.json'));
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.message).not.toContain('\n');
  });

  test('a file for another model than the command line chose is refused', () => {
    expect(usageError(() => parseDeviceParams('{"model": "hdd"}', 'p.json', 'nvme')).message).toBe(
      'p.json:1:2: the file is for model hdd but --device chose nvme (expected the same model)',
    );
  });
});

describe('--device resolution', () => {
  test('hdd, ssd, nvme and *.json are models; anything else is a trace device', () => {
    for (const value of ['hdd', 'ssd', 'nvme', 'my.json', 'dir/X.JSON']) expect(isDeviceModelValue(value)).toBe(true);
    for (const value of ['8,0', '0', 'sda', 'hdd2', 'json']) expect(isDeviceModelValue(value)).toBe(false);
    expect(resolveDeviceChoice('nvme', undefined, undefined)).toEqual({ model: 'nvme', traceDevice: undefined });
    expect(resolveDeviceChoice('p.json', undefined, '8,0')).toEqual({ model: 'p.json', traceDevice: '8,0' });
    expect(resolveDeviceChoice('8,0', 'hdd', undefined)).toEqual({ model: 'hdd', traceDevice: '8,0' });
    expect(resolveDeviceChoice(undefined, undefined, '3')).toEqual({ model: undefined, traceDevice: '3' });
    expect(resolveDeviceChoice(undefined, false, undefined)).toEqual({ model: false, traceDevice: undefined });
  });

  test('one meaning given twice, a model with --no-device-model, or a bad --device-model are usage errors', () => {
    expect(usageError(() => resolveDeviceChoice('hdd', 'nvme', undefined)).message).toBe('--device hdd and --device-model nvme both choose the device model (expected one)');
    expect(usageError(() => resolveDeviceChoice('8,0', undefined, '8,1')).message).toBe('--device 8,0 and --trace-device 8,1 both choose the trace device (expected one)');
    expect(usageError(() => resolveDeviceChoice('ssd', false, undefined)).message).toBe('--device ssd chooses a device model, but --no-device-model turns it off');
    expect(usageError(() => resolveDeviceChoice(undefined, 'sata', undefined)).message).toMatch(/^--device-model: 'sata' is not a device model/);
  });

  test('planDeviceModel: default ssd, built-ins, parameter files, --no-device-model', () => {
    const files: Record<string, string> = { 'h.json': '{"model": "hdd", "rotationRpm": 5400}', 'n.json': '{"flushUs": 1}' };
    const read = (file: string): string => files[file] ?? '';
    expect(planDeviceModel(undefined, undefined, read)).toEqual(builtinDeviceModel('ssd'));
    expect(planDeviceModel('hdd', undefined, read)).toEqual(builtinDeviceModel('hdd'));
    expect(planDeviceModel(false, undefined, read)).toBeUndefined();
    expect(planDeviceModel('h.json', undefined, read)?.params['rotationRpm']).toBe(5400);
    expect(planDeviceModel('nvme', 'n.json', read)).toMatchObject({ name: 'custom', base: 'nvme', params: { flushUs: 1, readLatencyUs: 12 } });
    expect(planDeviceModel(undefined, 'h.json', read)).toMatchObject({ base: 'hdd' });
    expect(() => planDeviceModel(false, 'n.json', read)).toThrow(UsageError);
    expect(() => planDeviceModel('h.json', 'n.json', read)).toThrow(UsageError);
  });

  test('--time-scale and --iodepth', () => {
    expect(parseTimeScale('0.5')).toBe(0.5);
    expect(parseIodepth('32')).toBe(32);
    for (const bad of ['0', '-1', 'fast', '']) expect(() => parseTimeScale(bad)).toThrow(/^--time-scale: /);
    for (const bad of ['0', '1.5', 'deep', '70000']) expect(() => parseIodepth(bad)).toThrow(/^--iodepth: /);
  });
});
