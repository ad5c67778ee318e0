/**
 * The device-model options through main() and the real engine: --device
 * MODEL|FILE.json versus --device ID (the trace device), the aliases
 * --device-model and --trace-device, --no-device-model, --device-params,
 * one-line errors for bad parameter files, the text section and
 * byte-identical JSON.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import type { ReplayResult } from '../../src/report/model.js';
import { capture, removeTempDirs, tempDir } from '../cli/fake.js';

afterAll(removeTempDirs);

let cwd = '';

beforeEach(() => {
  cwd = tempDir();
  for (const name of ['demo.xio', 'demo.blkparse.txt']) fs.copyFileSync(path.resolve('traces', name), path.join(cwd, name));
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture(cwd);
  const code = await main(args, out.io);
  return { code, stdout: out.stdout, stderr: out.stderr };
}

async function json(args: string[]): Promise<ReplayResult> {
  const { code, stdout, stderr } = await cli([...args, '--no-image', '--json', '--deterministic']);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as ReplayResult;
}

describe('choosing the device model', () => {
  test('default ssd; --device hdd; --device-model nvme; --no-device-model: none', async () => {
    expect((await json(['replay', 'demo.xio'])).deviceStats?.model).toBe('ssd');
    expect((await json(['replay', 'demo.xio', '--device', 'hdd'])).deviceStats?.model).toBe('hdd');
    expect((await json(['replay', 'demo.xio', '--device-model', 'nvme'])).deviceStats?.model).toBe('nvme');
    expect((await json(['replay', 'demo.xio', '--no-device-model'])).deviceStats).toBeUndefined();
  });

  test('--device FILE.json and --device-params FILE.json give a custom model', async () => {
    fs.writeFileSync(path.join(cwd, 'slow.json'), '{ "model": "hdd", "rotationRpm": 5400 }\n');
    fs.writeFileSync(path.join(cwd, 'tweak.json'), '{ "flushUs": 1 }\n');
    const viaDevice = (await json(['replay', 'demo.xio', '--device', 'slow.json'])).deviceStats!;
    expect(viaDevice.model).toBe('custom');
    expect(viaDevice.params['rotationRpm']).toBe(5400);
    expect(viaDevice.params['seekSettleUs']).toBe(1000);
    const viaParams = (await json(['replay', 'demo.xio', '--device', 'nvme', '--device-params', 'tweak.json'])).deviceStats!;
    expect(viaParams.params).toMatchObject({ flushUs: 1, readLatencyUs: 12 });
  });

  test('--device ID still picks a device of a block trace; --trace-device does the same next to --device MODEL', async () => {
    const byDevice = await json(['replay', 'demo.blkparse.txt', '--device', '7,0']);
    expect(byDevice.deviceStats?.model).toBe('ssd');
    const byAlias = await json(['replay', 'demo.blkparse.txt', '--trace-device', '7,0', '--device', 'nvme']);
    expect(byAlias.deviceStats?.model).toBe('nvme');
    expect(byAlias.files).toEqual(byDevice.files);
    const missing = await cli(['replay', 'demo.blkparse.txt', '--no-image', '--quiet', '--device', '9,9']);
    expect(missing.stderr).toContain('--device 9,9: no such device in the trace');
  });

  test.each<[string[], RegExp]>([
    [['--device', 'hdd', '--device-model', 'nvme'], /^iomapsim: --device hdd and --device-model nvme both choose the device model \(expected one\)\n/],
    [['--device', '7,0', '--trace-device', '7,1'], /^iomapsim: --device 7,0 and --trace-device 7,1 both choose the trace device \(expected one\)\n/],
    [['--device-model', 'sata'], /^iomapsim: --device-model: 'sata' is not a device model/],
    [['--device', 'nvme', '--no-device-model'], /^iomapsim: --device nvme chooses a device model, but --no-device-model turns it off\n/],
    [['--device', 'absent.json'], /^iomapsim: absent\.json: cannot read the device parameters \(ENOENT\)\n/],
    [['--iodepth', '0'], /^iomapsim: --iodepth: '0' is not a queue depth/],
    [['--time-scale', 'slow'], /^iomapsim: --time-scale: 'slow' is not a time scale/],
  ])('%j is a usage error (exit 2, one line and a hint)', async (extra, message) => {
    const { code, stdout, stderr } = await cli(['replay', 'demo.xio', '--no-image', ...extra]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.split('\n').filter((line) => line !== '')).toHaveLength(2);
    expect(stderr).toMatch(/\nhint: /);
  });

  test('a bad parameter file is reported at its line and column', async () => {
    fs.writeFileSync(path.join(cwd, 'bad.json'), '{\n  "model": "ssd",\n  "channel": 4\n}\n');
    const { code, stderr } = await cli(['replay', 'demo.xio', '--no-image', '--device', 'bad.json']);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toMatch(/^iomapsim: bad\.json:3:3: unknown ssd parameter "channel" \(expected one of: model, readLatencyUs, /);
  });

  test('--help states the --device rule and the aliases', async () => {
    const { stdout } = await cli(['replay', '--help']);
    expect(stdout).toContain('--device-model');
    expect(stdout).toContain('--trace-device');
    expect(stdout).toMatch(/hdd, ssd, nvme or a path ending in\s+\.json choose the device model/);
  });
});

describe('output', () => {
  test('JSON with deviceStats is byte-identical across runs (hdd: the seeded rotational phase)', async () => {
    const args = ['replay', 'demo.xio', '--no-image', '--json', '--deterministic', '--device', 'hdd'];
    const first = await cli(args);
    const second = await cli(args);
    expect(first.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    const keys = Object.keys((JSON.parse(first.stdout) as { deviceStats: object }).deviceStats);
    expect(keys).toEqual(['model', 'params', 'loop', 'simulatedSeconds', 'overall', 'perOp', 'pageCache', 'writeAmplification', 'requests', 'fragmentation', 'series']);
  });

  test('the text summary ends with the device section', async () => {
    const { code, stdout } = await cli(['replay', 'demo.xio', '--no-image', '--device', 'nvme']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\ndevice: {3}nvme \(closed loop, iodepth 1; \d+\.\d{6} s simulated\)\n/);
    expect(stdout).toMatch(/\n {2}op +count +bytes +IOPS +MB\/s +mean +p50 +p90 +p99 +p99\.9 +max +\(latency in µs\)\n/);
    expect(stdout).toMatch(/\n {2}fsync +5 +0 +[\d.]+ +0\.00 /);
    expect(stdout).toMatch(/\n {2}all +42 +1000124 /);
    expect(stdout).toMatch(/\nwrites: {3}amplification \d\.\d\d: user 976\.7 KiB, device [\d.]+ [KM]iB \(direct 96\.0 KiB, journal [\d.]+ KiB, writeback [\d.]+ KiB\)\n/);
    expect(stdout).toMatch(/\nrequests: \d+ submitted, \d+ merged, \d+ dispatched\n/);
  });
});
