/**
 * `iomapsim convert` and the trace-input options of `replay` (--skip-bad,
 * --device, --device-file, the detection notice), through main() with the
 * real engine in a temporary working directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import type { ReplayResult } from '../../src/report/model.js';
import { capture, removeTempDirs, tempDir } from './fake.js';

afterAll(removeTempDirs);

let cwd = '';
beforeEach(() => {
  cwd = tempDir();
  for (const name of ['demo.blkparse.txt', 'demo.alibaba.csv', 'demo.xio', 'demo-v2.fio.log']) fs.copyFileSync(path.resolve('traces', name), path.join(cwd, name));
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture(cwd);
  const code = await main(args, out.io);
  return { code, stdout: out.stdout, stderr: out.stderr };
}

describe('convert', () => {
  test('--to csv on stdout: the header, then one row per op; the detected format on stderr', async () => {
    const { code, stdout, stderr } = await cli(['convert', 'demo.blkparse.txt', '--to', 'csv']);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('time_us,handle,op,path,offset,length,flags,arg');
    expect(lines[1]).toBe('0,3,open,"dev-7,0.img",,,create,');
    expect(lines).toHaveLength(1 + 21);
    expect(stderr).toBe('iomapsim: demo.blkparse.txt: trace format blkparse (detected from the content; --format blkparse names it)\n');
  });

  test('-o FILE: written, then refused without --force, overwritten with it; the output replays', async () => {
    expect((await cli(['convert', 'demo-v2.fio.log', '--to', 'csv', '-o', 'out.csv'])).code).toBe(0);
    const first = fs.readFileSync(path.join(cwd, 'out.csv'), 'utf8');
    expect(first.split('\n')[1]).toBe('0,3,open,/mnt/iom_ext4/v2file,,,create,');
    const refused = await cli(['convert', 'demo.xio', '--to', 'csv', '-o', 'out.csv']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('iomapsim: out.csv: exists, not overwriting it\nhint: use --force to overwrite it, or choose another name with -o\n');
    expect(fs.readFileSync(path.join(cwd, 'out.csv'), 'utf8')).toBe(first);
    expect((await cli(['convert', 'demo.xio', '--to', 'csv', '-o', 'out.csv', '--force'])).code).toBe(0);
    expect(fs.readFileSync(path.join(cwd, 'out.csv'), 'utf8')).not.toBe(first);
    const replayed = await cli(['replay', 'out.csv', '--no-image', '--json']);
    expect(replayed.code).toBe(0);
    expect((JSON.parse(replayed.stdout) as ReplayResult).errors).toEqual([]);
  });

  test('--to xio: an .xio case that replays to the same file', async () => {
    expect((await cli(['convert', 'demo.alibaba.csv', '--to', 'xio', '-o', 'ali.xio'])).code).toBe(0);
    const text = fs.readFileSync(path.join(cwd, 'ali.xio'), 'utf8');
    expect(text).toContain('volume-0.img: -f -c "pread -b 4096 126703661056 4096"');
    const direct = JSON.parse((await cli(['replay', 'demo.alibaba.csv', '--no-image', '--json', '--device-size', '256g'])).stdout) as ReplayResult;
    const viaXio = JSON.parse((await cli(['replay', 'ali.xio', '--no-image', '--json', '--device-size', '256g'])).stdout) as ReplayResult;
    expect(viaXio.files.map((file) => [file.path, file.size])).toEqual(direct.files.map((file) => [file.path, file.size]));
  });

  test('a failed convert leaves no output file; bad --to and output = trace are usage errors', async () => {
    fs.writeFileSync(path.join(cwd, 'broken.log'), 'fio version 2 iolog\nf add\nf write 0 4096\nf write zero 1\n');
    const failed = await cli(['convert', 'broken.log', '--to', 'csv', '-o', 'broken.csv']);
    expect(failed.code).toBe(3);
    expect(failed.stderr.split('\n')[1]).toMatch(/^iomapsim: broken\.log:4:9: bad offset 'zero'/);
    expect(fs.existsSync(path.join(cwd, 'broken.csv'))).toBe(false);
    expect((await cli(['convert', 'demo.xio', '--to', 'json'])).code).toBe(2);
    expect((await cli(['convert', 'demo.xio', '--to', 'csv', '-o', 'demo.xio', '--force'])).code).toBe(2);
  });
});

describe('replay: --skip-bad, --device, --device-file, detection notice', () => {
  test('--skip-bad: the run goes on, the JSON counts bad-line, stderr shows the first messages', async () => {
    fs.writeFileSync(path.join(cwd, 'bad.txt'), '  8,0 1 1 0.000001000 10 Q W 0 + 8 [a]\n  8,0 1 2 0.000002000 10 Q W 8 + x [a]\n  8,0 1 3 0.000003000 10 Q W 8 + 8 [a]\n');
    const strict = await cli(['replay', 'bad.txt', '--no-image', '--format', 'blkparse']);
    expect(strict.code).toBe(3);
    const { code, stdout, stderr } = await cli(['replay', 'bad.txt', '--no-image', '--json', '--skip-bad', '--format', 'blkparse']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as ReplayResult;
    expect(result.stats.opsIgnored).toEqual({ 'bad-line': 1 });
    expect(result.stats.ops['write']).toBe(2);
    expect(stderr).toBe("iomapsim: --skip-bad: skipped 1 bad line:\n  bad.txt:2:34: bad sector count 'x' (expected a non-negative integer)\n");
  });

  test('--device and --device-file pick one volume of a multi-device trace', async () => {
    const { code, stdout, stderr } = await cli(['replay', 'demo.alibaba.csv', '--no-image', '--json', '--device', '1', '--device-file', 'vm.img']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const result = JSON.parse(stdout) as ReplayResult;
    expect(result.files.map((file) => [file.path, file.size])).toEqual([['vm.img', 19496058880 + 77824]]);
    // Devices 0 and 2: 2 opens, 3 I/Os, 2 closes.
    expect(result.stats.opsIgnored).toEqual({ 'other-device': 7 });
  });

  test('a --device that is not in the trace is reported; --device on a file trace is a usage error', async () => {
    const missing = await cli(['replay', 'demo.alibaba.csv', '--no-image', '--quiet', '--device', '9']);
    expect(missing.code).toBe(0);
    expect(missing.stderr).toBe('iomapsim: --device 9: no such device in the trace (devices: 0 1 2)\n');
    const wrong = await cli(['replay', 'demo.xio', '--no-image', '--device', '0']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.split('\n')[0]).toBe('iomapsim: --device and --device-file apply to block-device traces (blkparse, msr, alibaba, tencent), not xio');
    expect((await cli(['replay', 'demo.xio', '--no-image', '--device', 'sda'])).code).toBe(2);
  });

  test('the detection notice is on stderr for text output only', async () => {
    const text = await cli(['replay', 'demo-v2.fio.log', '--no-image', '--root', '/mnt/iom_ext4']);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('iomapsim: demo-v2.fio.log: trace format fio (detected from the content; --format fio names it)\n');
    const json = await cli(['replay', 'demo-v2.fio.log', '--no-image', '--json', '--root', '/mnt/iom_ext4']);
    expect(json.stderr).toBe('');
    expect((JSON.parse(json.stdout) as ReplayResult).files.map((file) => file.path)).toEqual(['v2file']);
  });
});
