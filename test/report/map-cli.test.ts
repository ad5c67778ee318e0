/**
 * `replay --map` and `inspect --map` through main(): with the stand-in engine
 * (where the map goes, colour rules, refusals) and with the real engine on
 * traces/demo.xio (the map shows the files replay and inspect both see).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { capture, fakeEngine, removeTempDirs, tempDir } from '../cli/fake.js';

afterAll(removeTempDirs);

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/;

async function runFake(args: string[], env: Record<string, string> = {}, isTTY = false) {
  const cwd = tempDir();
  const out = capture(cwd, env, isTTY);
  const code = await main(args, out.io, { engine: fakeEngine() });
  return { code, stdout: out.stdout, stderr: out.stderr };
}

describe('--map with the stand-in engine', () => {
  test('replay --map: the map follows the totals, legend names every file', async () => {
    const { code, stdout, stderr } = await runFake(['replay', 't.xio', '--map']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const mapAt = stdout.indexOf('device map: 262144 blocks of 4096 bytes (1 GiB), 1 cell = 128 blocks (512 KiB)');
    expect(mapAt).toBeGreaterThan(stdout.indexOf('image:   t.img'));
    expect(stdout).toContain('  A frag.bin: 114 blocks (63 unwritten) in 5 extents\n');
    expect(stdout).toContain('  B a: 256 blocks (256 unwritten) in 1 extent\n');
    // 128 blocks a cell, 64 cells a row: row 4 starts at block 32768. frag.bin: block 33024 written and 33025..33087
    // unwritten (cell 258, column 2: 'a'), 39424..39519 (cell 308: column 52), 39936 (cell 312: column 56);
    // a: unwritten at 33280..33535 (cells 260, 261).
    expect(stdout).toContain(`\n 32768 ..a.bb${'.'.repeat(46)}A...A${'.'.repeat(7)}\n`);
    expect(stdout).not.toMatch(ANSI);
  });

  test('without --map there is no map', async () => {
    const { stdout } = await runFake(['replay', 't.xio']);
    expect(stdout).not.toContain('device map:');
  });

  test('replay --quiet --map: one line, then the map', async () => {
    const { code, stdout } = await runFake(['replay', 't.xio', '--quiet', '--map']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^t\.xio: 120 ops on ext4/);
    expect(stdout).toContain('\ndevice map: ');
  });

  test('colour on a terminal, none with NO_COLOR or --no-color', async () => {
    expect((await runFake(['replay', 't.xio', '--map'], {}, true)).stdout.slice(-2000)).toMatch(ANSI);
    expect((await runFake(['replay', 't.xio', '--map'], { NO_COLOR: '1' }, true)).stdout).not.toMatch(ANSI);
    expect((await runFake(['replay', 't.xio', '--map', '--no-color'], {}, true)).stdout).not.toMatch(ANSI);
  });

  test('--map with --json is refused (exit 2), for replay and inspect', async () => {
    const replayed = await runFake(['replay', 't.xio', '--map', '--json']);
    expect(replayed.code).toBe(2);
    expect(replayed.stderr).toMatch(/^iomapsim: --map cannot be combined with --json/);
    const inspected = await runFake(['inspect', 'x.img', '--map', '--json']);
    expect(inspected.code).toBe(2);
    expect(inspected.stderr).toMatch(/^iomapsim: --map cannot be combined with --json/);
  });

  test('inspect --map: the map of the image metadata after the layouts', async () => {
    const { code, stdout } = await runFake(['inspect', 'x.img', '--map']);
    expect(code).toBe(0);
    expect(stdout.indexOf('device map: ')).toBeGreaterThan(stdout.indexOf('frag.bin: '));
    expect(stdout).toContain('  A frag.bin: 79 blocks (63 unwritten) in 2 extents\n');
  });
});

describe('--map with the real engine (traces/demo.xio)', () => {
  test('replay --map and inspect --map draw the same map', async () => {
    const cwd = tempDir();
    fs.copyFileSync(path.resolve('traces/demo.xio'), path.join(cwd, 'demo.xio'));
    const replayed = capture(cwd);
    expect(await main(['replay', 'demo.xio', '--map', '--device-size', '64m'], replayed.io)).toBe(0);
    const inspected = capture(cwd);
    expect(await main(['inspect', 'demo.img', '--map'], inspected.io)).toBe(0);
    const mapOf = (text: string): string => text.slice(text.indexOf('device map: '));
    expect(mapOf(replayed.stdout)).toContain('device map: 16384 blocks of 4096 bytes (64 MiB), 1 cell = 8 blocks (32 KiB), 64 columns x 32 rows\n');
    expect(mapOf(replayed.stdout)).toMatch(/ {2}[A-E] demo\/seq\.log: 25 blocks in 1 extent\n/);
    expect(mapOf(inspected.stdout)).toBe(mapOf(replayed.stdout));
    // The ext4 group headers at the start of the device are reserved.
    expect(mapOf(replayed.stdout).split('\n')[2]).toMatch(/^ {4}0 #/);
  });
});
