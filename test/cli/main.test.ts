/**
 * main() in-process with a stand-in engine: argument parsing, the plan handed
 * to the engine, the error → exit code mapping, and what goes to which stream.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { NullDevice } from '../../src/device/blockdev.js';
import { main } from '../../src/cli/main.js';
import { seedFromTraceName } from '../../src/cli/options.js';
import { InvariantError } from '../../src/util/assert.js';
import { DeviceFullError, ImageError, TraceError } from '../../src/util/errors.js';
import { capture, fakeEngine, removeTempDirs, tempDir } from './fake.js';

afterAll(removeTempDirs);

const ESC = '\u001b[';

async function run(args: string[], setup: (engine: ReturnType<typeof fakeEngine>) => void = () => {}, env: Record<string, string> = {}, isTTY = false) {
  const cwd = tempDir();
  const out = capture(cwd, env, isTTY);
  const engine = fakeEngine();
  setup(engine);
  const code = await main(args, out.io, { engine });
  return { code, stdout: out.stdout, stderr: out.stderr, engine, cwd };
}

describe('replay: options reach the engine', () => {
  test('defaults: ext4, 4096, 1 GiB, seed from the trace name, final sync, image <name>.img in cwd', async () => {
    const { code, engine, cwd, stderr } = await run(['replay', 'traces/demo.xio']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(engine.replayOptions).toMatchObject({
      policy: 'ext4',
      blockSize: 4096,
      deviceSize: 2 ** 30,
      seed: seedFromTraceName('demo.xio'),
      traceName: 'traces/demo.xio',
      finalSync: true,
      deterministic: false,
    });
    expect(engine.replayOptions?.root).toBeUndefined();
    expect(engine.createParams).toEqual({
      path: path.join(cwd, 'demo.img'),
      params: { blockSize: 4096, deviceSize: 2 ** 30, policy: 'ext4', seed: seedFromTraceName('demo.xio') },
      force: false,
    });
    expect(engine.replayOptions?.device).toBeDefined();
  });

  test('the trace is opened (and checked) before the image is created; commit then close', async () => {
    const { engine } = await run(['replay', 't.xio']);
    expect(engine.calls).toEqual(['openTrace t.xio auto t.xio', 'createImage t.img', 'replay', 'commit', 'close t.img']);
  });

  test('every option parsed', async () => {
    const { code, engine } = await run([
      'replay', 'cap.csv', '--format', 'csv', '--block-size', '1024', '--device-size', '64m', '--seed', '0x10',
      '--root', '/mnt/test', '--no-final-sync', '--image', 'out/x.img', '--force', '--deterministic',
    ]);
    expect(code).toBe(0);
    expect(engine.calls[0]).toBe('openTrace cap.csv csv cap.csv');
    expect(engine.replayOptions).toMatchObject({ blockSize: 1024, deviceSize: 64 * 2 ** 20, seed: 16, root: '/mnt/test', finalSync: false, deterministic: true });
    expect(engine.createParams?.path.endsWith(path.join('out', 'x.img'))).toBe(true);
    expect(engine.createParams?.force).toBe(true);
  });

  test('--no-image: no image, a device that keeps no data', async () => {
    const { code, engine, stdout } = await run(['replay', 't.xio', '--no-image']);
    expect(code).toBe(0);
    expect(engine.calls).toEqual(['openTrace t.xio auto t.xio', 'replay']);
    expect(engine.replayOptions?.device).toBeInstanceOf(NullDevice);
    expect(stdout).not.toContain('image:');
  });
});

describe('replay: output', () => {
  test('text: layouts then totals, seed always printed, image named', async () => {
    const { stdout } = await run(['replay', 'traces/demo.xio', '--seed', '42']);
    expect(stdout).toContain('File size of frag.bin is 4202496 (1026 blocks of 4096 bytes)');
    expect(stdout).toContain('seed:    42 (rerun with --seed 42)');
    expect(stdout).toContain('image:   demo.img');
  });

  test('--json: only JSON on stdout, with the image and the seed', async () => {
    const { stdout, stderr } = await run(['replay', 't.xio', '--json']);
    const parsed = JSON.parse(stdout) as { image: string; seed: number; stats: Record<string, unknown> };
    expect(parsed.image).toBe('t.img');
    expect(parsed.seed).toBe(seedFromTraceName('t.xio'));
    expect(parsed.stats['opsPerSecond']).toBeDefined();
    expect(stderr).toBe('');
  });

  test('--json --deterministic drops wall-clock figures even if the engine sent them', async () => {
    const first = await run(['replay', 't.xio', '--json', '--deterministic']);
    const second = await run(['replay', 't.xio', '--json', '--deterministic']);
    expect(first.stdout).not.toContain('opsPerSecond');
    expect(first.stdout).not.toContain('replaySeconds');
    expect(first.stdout).toBe(second.stdout);
  });

  test('--quiet: one line', async () => {
    const { stdout } = await run(['replay', 't.xio', '--quiet', '--seed', '5']);
    expect(stdout).toBe('t.xio: 120 ops on ext4, 2 files, 6 extents, 1 error, seed 5, image t.img\n');
  });

  test('colour only on a terminal without NO_COLOR, and never with --no-color', async () => {
    expect((await run(['replay', 't.xio'], undefined, {}, true)).stdout).toContain(ESC);
    expect((await run(['replay', 't.xio'], undefined, { NO_COLOR: '1' }, true)).stdout).not.toContain(ESC);
    expect((await run(['replay', 't.xio', '--no-color'], undefined, {}, true)).stdout).not.toContain(ESC);
    expect((await run(['replay', 't.xio'], undefined, {}, false)).stdout).not.toContain(ESC);
    expect((await run(['replay', 't.xio', '--json'], undefined, {}, true)).stdout).not.toContain(ESC);
  });
});

describe('usage errors exit 2 with one line and a hint', () => {
  test.each([
    [['replay', 't.xio', '--policy', 'zfs'], "iomapsim: unknown policy 'zfs' (expected one of: ext4)"],
    [['replay', 't.xio', '--bogus'], 'iomapsim: Unknown argument: bogus'],
    [['replay', 't.xio', '--block-size', '3000'], 'iomapsim: --block-size: 3000 is not supported (expected one of 1024, 2048, 4096)'],
    [['replay', 't.xio', '--device-size', '1x'], "iomapsim: --device-size: '1x' is not a size"],
    [['replay', 't.xio', '--seed', '-3'], "iomapsim: --seed: '-3' is not a seed"],
    [['replay', 't.xio', '--format', 'blk'], "iomapsim: unknown trace format 'blk'"],
    [['replay', 't.xio', '--image', 'a.img', '--image', 'b.img'], 'iomapsim: --image was given 2 times'],
    [['replay', 't.xio', '--image', 't.xio'], 'iomapsim: the image path t.xio is the trace itself'],
    [['replay'], 'iomapsim: Not enough non-option arguments'],
    [[], 'iomapsim: no command given'],
    [['frobnicate'], 'iomapsim: Unknown argument: frobnicate'],
  ])('%j', async (args, message) => {
    const { code, stderr, stdout, engine } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.split('\n');
    expect(lines[0]!.startsWith(message)).toBe(true);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^hint: /);
    expect(engine.calls).toEqual([]);
  });
});

describe('boundary errors map to exit codes', () => {
  test('trace error: exit 3, file:line:col message and hint, no image created', async () => {
    const { code, stderr, engine } = await run(['replay', 't.xio'], (e) => {
      e.openTraceError = new TraceError({ file: 't.xio', line: 1, column: 1 }, 'unknown trace format (expected xio or csv)', 'pass --format');
    });
    expect(code).toBe(3);
    expect(stderr).toBe('iomapsim: t.xio:1:1: unknown trace format (expected xio or csv)\nhint: pass --format\n');
    expect(engine.calls).toEqual(['openTrace t.xio auto t.xio']);
  });

  test('an unreadable trace (system error) is a trace error', async () => {
    const { code, stderr } = await run(['replay', 'gone.xio'], (e) => {
      e.openTraceError = Object.assign(new Error("ENOENT: no such file or directory, open 'gone.xio'"), { code: 'ENOENT', syscall: 'open' });
    });
    expect(code).toBe(3);
    expect(stderr.split('\n')[0]).toBe('iomapsim: gone.xio: cannot read the trace (ENOENT)');
  });

  test('a trace error during replay removes the image this run created', async () => {
    const { code, cwd, engine } = await run(['replay', 't.xio'], (e) => {
      e.touchImage = true;
      e.replayError = new TraceError({ file: 't.xio', line: 7, column: 3 }, 'bad offset');
    });
    expect(code).toBe(3);
    expect(engine.calls).toContain('close t.img');
    expect(engine.calls).not.toContain('commit');
    expect(fs.existsSync(path.join(cwd, 't.img'))).toBe(false);
  });

  test('refusing to overwrite: exit 4', async () => {
    const { code, stderr } = await run(['replay', 't.xio', '--image', 'notes.txt'], (e) => {
      e.createImageError = new ImageError('notes.txt', 'exists', 'exists and is not an iomapsim image', 'use --force to overwrite it');
    });
    expect(code).toBe(4);
    expect(stderr).toBe('iomapsim: notes.txt: exists and is not an iomapsim image\nhint: use --force to overwrite it\n');
  });

  test('device full: exit 5', async () => {
    const { code, stderr } = await run(['replay', 't.xio'], (e) => {
      e.replayError = new DeviceFullError('t.xio:40: the device is full (ENOSPC with nothing to reclaim)', 'use a larger --device-size');
    });
    expect(code).toBe(5);
    expect(stderr).toContain('hint: use a larger --device-size');
  });

  test('internal error: exit 70, report request with the reproducing command, no stack', async () => {
    const { code, stderr } = await run(['replay', 't.xio', '--seed', '9', '--no-image'], (e) => {
      e.replayError = new InvariantError('extent map overlap', { ino: 3 });
    });
    expect(code).toBe(70);
    expect(stderr).toBe(
      'iomapsim: internal error: extent map overlap {"ino":3}\n' +
        'please report this with the command line and seed\n' +
        'reproduce: iomapsim replay t.xio --policy ext4 --format auto --block-size 4096 --device-size 1073741824 --seed 9 --no-image\n',
    );
  });

  test('IOMAPSIM_DEBUG=1 prints the stack of an internal error', async () => {
    const { code, stderr } = await run(['replay', 't.xio'], (e) => { e.replayError = new TypeError('x is undefined'); }, { IOMAPSIM_DEBUG: '1' });
    expect(code).toBe(70);
    expect(stderr).toContain('TypeError: x is undefined\n    at ');
  });
});

describe('inspect', () => {
  test('summary and layouts; opened read-only and closed', async () => {
    const { code, stdout, engine } = await run(['inspect', 'demo.img']);
    expect(code).toBe(0);
    expect(stdout).toContain('image:   demo.img (format version 1, generation 1)');
    expect(stdout).toContain('File size of frag.bin is 4202496');
    expect(stdout).toContain('   1:      257..     319:      33025..     33087:     63:      39681: last,unwritten');
    expect(stdout).not.toContain('File size of sub');
    expect(engine.calls).toEqual(['openImage demo.img', 'close demo.img']);
  });

  test('--verify OK: exit 0; mismatches: exit 1', async () => {
    const ok = await run(['inspect', 'demo.img', '--verify']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('verify:  OK');
    const bad = await run(['inspect', 'demo.img', '--verify'], (e) => {
      e.verifyResult = { files: 1, bytesChecked: 8192, mismatches: [{ path: 'frag.bin', offset: 0, length: 4096, reason: 'differs' }], ok: false };
    });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('verify:  FAILED: 1 mismatch');
  });

  test('--json: summary, files and verify', async () => {
    const { code, stdout } = await run(['inspect', 'demo.img', '--json', '--verify']);
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { image: string; files: { path: string }[]; verify: { ok: boolean }; summary: { policy: string } };
    expect(parsed.image).toBe('demo.img');
    expect(parsed.files.map((file) => file.path)).toEqual(['frag.bin']);
    expect(parsed.verify.ok).toBe(true);
    expect(parsed.summary.policy).toBe('ext4');
  });

  test('a foreign image: exit 4', async () => {
    const { code, stderr } = await run(['inspect', 'x.img'], (e) => {
      e.openImageError = new ImageError('x.img', 'foreign', 'not an iomapsim image (no magic in either superblock slot)');
    });
    expect(code).toBe(4);
    expect(stderr).toBe('iomapsim: x.img: not an iomapsim image (no magic in either superblock slot)\n');
  });

  test('a missing image (system error) is an image error with a hint', async () => {
    const { code, stderr } = await run(['inspect', 'none.img'], (e) => {
      e.openImageError = Object.assign(new Error('ENOENT'), { code: 'ENOENT', syscall: 'open' });
    });
    expect(code).toBe(4);
    expect(stderr).toMatch(/^iomapsim: none\.img: no such image\nhint: replay a trace first/);
  });
});

describe('help and version', () => {
  test('--version prints package.json version', async () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string };
    const { code, stdout } = await run(['--version']);
    expect(code).toBe(0);
    expect(stdout).toBe(`${pkg.version}\n`);
  });

  test('--help lists the commands and the exit codes', async () => {
    const { code, stdout, engine } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('iomapsim replay <trace>');
    expect(stdout).toContain('iomapsim inspect <image>');
    expect(stdout).toContain('Exit codes:');
    expect(stdout).toContain('70  internal error');
    expect(engine.calls).toEqual([]);
  });

  test('replay --help shows every option, the policies and examples', async () => {
    const { code, stdout } = await run(['replay', '--help']);
    expect(code).toBe(0);
    for (const option of ['--policy', '--format', '--image', '--force', '--device-size', '--block-size', '--seed', '--root', '--final-sync', '--json', '--deterministic', '--quiet']) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toContain('[choices: ext4]');
    expect(stdout).toContain('iomapsim replay traces/demo.xio --json --deterministic');
  });

  test('inspect --help shows --verify', async () => {
    const { stdout } = await run(['inspect', '--help']);
    expect(stdout).toContain('--verify');
    expect(stdout).toContain('iomapsim inspect demo.img --verify');
  });
});
