/**
 * End to end through the real engine: replay traces/demo.xio, inspect and
 * verify the image, and the failure exit codes. main() runs in-process with
 * a temporary directory as its working directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { listPolicies } from '../../src/fs/registry.js';
import { seedFromTraceName } from '../../src/cli/options.js';
import type { ExtentRecord, FileLayout, ReplayResult } from '../../src/report/model.js';
import { capture, removeTempDirs, tempDir } from './fake.js';

afterAll(removeTempDirs);

const DEMO_TRACE = path.resolve('traces/demo.xio');

let cwd = '';

beforeEach(() => {
  cwd = tempDir();
  fs.copyFileSync(DEMO_TRACE, path.join(cwd, 'demo.xio'));
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture(cwd);
  const code = await main(args, out.io);
  return { code, stdout: out.stdout, stderr: out.stderr };
}

function shape(extent: ExtentRecord): { logical: number; physical: number; length: number; unwritten: boolean } {
  return { logical: extent.logical, physical: extent.physical, length: extent.length, unwritten: extent.flags.includes('unwritten') };
}

describe('replay traces/demo.xio', () => {
  test('--json --deterministic: documented shape, byte-identical on a second run', async () => {
    const first = await cli(['replay', 'demo.xio', '--json', '--deterministic']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout) as ReplayResult;
    expect(result.schemaVersion).toBe(1);
    expect(result.policy).toBe('ext4');
    expect(result.blockSize).toBe(4096);
    expect(result.trace).toBe('demo.xio');
    expect(result.seed).toBe(seedFromTraceName('demo.xio'));
    expect(result.image).toBe('demo.img');
    const sizes = Object.fromEntries(result.files.map((file) => [file.path, file.size]));
    expect(sizes).toMatchObject({ 'demo/seq.log': 100000, 'demo/sparse.dat': 3145828 + 700, 'demo/prealloc.bin': 196608, 'demo/punch.bin': 524288 });
    expect(result.stats.opsPerSecond).toBeUndefined();
    expect(result.snapshots.map((snapshot) => snapshot.label)).toEqual(['demo-before-sync']);
    expect(fs.existsSync(path.join(cwd, 'demo.img'))).toBe(true);
    const second = await cli(['replay', 'demo.xio', '--json', '--deterministic']);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
  });

  test('text output: filefrag-style layouts and the seed', async () => {
    const { code, stdout } = await cli(['replay', 'demo.xio']);
    expect(code).toBe(0);
    expect(stdout).toContain('Filesystem type is: ef53\n');
    expect(stdout).toContain('File size of demo/seq.log is 100000 (25 blocks of 4096 bytes)\n');
    expect(stdout).toContain(`seed:    ${seedFromTraceName('demo.xio')}`);
    expect(stdout).toContain('image:   demo.img\n');
  });

  test('--no-image writes no image', async () => {
    const { code } = await cli(['replay', 'demo.xio', '--no-image', '--quiet']);
    expect(code).toBe(0);
    expect(fs.existsSync(path.join(cwd, 'demo.img'))).toBe(false);
  });
});

describe('inspect', () => {
  test('shows the layouts replay printed, and --verify passes', async () => {
    const replayed = JSON.parse((await cli(['replay', 'demo.xio', '--json', '--deterministic'])).stdout) as ReplayResult;
    const inspected = await cli(['inspect', 'demo.img', '--json', '--verify']);
    expect(inspected.code).toBe(0);
    const parsed = JSON.parse(inspected.stdout) as { files: FileLayout[]; verify: { ok: boolean }; summary: { policy: string; seed: number } };
    expect(parsed.summary.policy).toBe('ext4');
    expect(parsed.summary.seed).toBe(replayed.seed);
    expect(parsed.verify.ok).toBe(true);
    const byPath = (files: FileLayout[]) => Object.fromEntries(files.map((file) => [file.path, { size: file.size, extents: file.extents.map(shape) }]));
    expect(byPath(parsed.files)).toEqual(byPath(replayed.files));
  });

  test('text report and --verify OK', async () => {
    await cli(['replay', 'demo.xio', '--quiet']);
    const { code, stdout } = await cli(['inspect', 'demo.img', '--verify']);
    expect(code).toBe(0);
    expect(stdout).toContain('policy:  ext4');
    expect(stdout).toContain('File size of demo/punch.bin is 524288 (128 blocks of 4096 bytes)\n');
    expect(stdout).toContain('verify:  OK');
  });

  test('a foreign file: exit 4', async () => {
    fs.writeFileSync(path.join(cwd, 'foreign.img'), 'not an image\n'.repeat(1000));
    const { code, stderr } = await cli(['inspect', 'foreign.img']);
    expect(code).toBe(4);
    expect(stderr.split('\n')[0]).toMatch(/^iomapsim: .*foreign\.img: /);
  });

  test('a missing image: exit 4', async () => {
    const { code } = await cli(['inspect', 'nothing.img']);
    expect(code).toBe(4);
  });
});

describe('failures', () => {
  test('a broken trace line: exit 3 with file:line:col, and no image left behind', async () => {
    fs.writeFileSync(path.join(cwd, 'bad.xio'), '# broken\nx.bin: -f -c "frobnicate 1 2"\n');
    const { code, stdout, stderr } = await cli(['replay', 'bad.xio']);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr.split('\n')[0]).toMatch(/^iomapsim: bad\.xio:2:\d+: /);
    expect(fs.existsSync(path.join(cwd, 'bad.img'))).toBe(false);
  });

  test('a missing trace: exit 3, no image created', async () => {
    const { code, stderr } = await cli(['replay', 'typo.xio']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/^iomapsim: .*typo\.xio/);
    expect(fs.existsSync(path.join(cwd, 'typo.img'))).toBe(false);
  });

  test('refusing to overwrite a file that is not an image: exit 4; --force overwrites it', async () => {
    const notes = path.join(cwd, 'notes.txt');
    fs.writeFileSync(notes, 'precious\n');
    const refused = await cli(['replay', 'demo.xio', '--image', 'notes.txt']);
    expect(refused.code).toBe(4);
    expect(fs.readFileSync(notes, 'utf8')).toBe('precious\n');
    const forced = await cli(['replay', 'demo.xio', '--image', 'notes.txt', '--force', '--quiet']);
    expect(forced.code).toBe(0);
    expect((await cli(['inspect', 'notes.txt', '--verify'])).code).toBe(0);
  });

  test('unknown policy: exit 2', async () => {
    const { code, stderr } = await cli(['replay', 'demo.xio', '--policy', 'zfs']);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe(`iomapsim: unknown policy 'zfs' (expected one of: ${listPolicies().join(', ')})`);
    expect(fs.existsSync(path.join(cwd, 'demo.img'))).toBe(false);
  });
});
