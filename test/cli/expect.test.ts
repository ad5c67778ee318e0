/**
 * `replay --expect` through main() in-process: recording a golden, meeting
 * it, a readable diff and exit 1 when the result changes (JSON still clean on
 * stdout), usage errors (exit 2) for a missing, broken or foreign golden
 * before any image exists, and a real-engine round trip on traces/demo.xio.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import type { ReplayResult } from '../../src/report/model.js';
import { sampleResult } from '../report/fixtures.js';
import { capture, fakeEngine, removeTempDirs, sampleMetadata, tempDir, type FakeEngine } from './fake.js';

afterAll(removeTempDirs);

async function run(cwd: string, args: string[], engine: FakeEngine = fakeEngine()) {
  const out = capture(cwd);
  const code = await main(args, out.io, { engine });
  return { code, stdout: out.stdout, stderr: out.stderr, engine };
}

/** A fake engine whose replay returns `change(sample result)`. */
function engineWith(change: (result: ReplayResult) => void): FakeEngine {
  const engine = fakeEngine();
  engine.replay = async (_ops, options) => {
    engine.calls.push('replay');
    engine.replayOptions = options;
    const result = sampleResult({ trace: options.traceName, seed: options.seed, policy: options.policy });
    change(result);
    return { result, metadata: sampleMetadata() };
  };
  return engine;
}

describe('recording and meeting an expectation', () => {
  test('--update-expect writes the golden (creating its directory), exit 0; --expect then passes', async () => {
    const cwd = tempDir();
    const update = await run(cwd, ['replay', 't.xio', '--expect', 'golden/t.json', '--update-expect', '--json']);
    expect(update.code).toBe(0);
    expect(update.stderr).toBe('iomapsim: wrote golden/t.json (2 files, 6 extents, 1 failed op, 5 stats)\n');
    expect(() => JSON.parse(update.stdout) as unknown).not.toThrow();
    const golden = JSON.parse(fs.readFileSync(path.join(cwd, 'golden/t.json'), 'utf8')) as { format: string; files: { path: string }[] };
    expect(golden.format).toBe('iomapsim-expect');
    expect(golden.files.map((file) => file.path)).toEqual(['a', 'frag.bin']);
    const check = await run(cwd, ['replay', 't.xio', '--expect', 'golden/t.json']);
    expect(check.code).toBe(0);
    expect(check.stderr).toBe('iomapsim: golden/t.json: expectation met (2 files, 6 extents, 1 failed op, 5 stats)\n');
    const quiet = await run(cwd, ['replay', 't.xio', '--expect', 'golden/t.json', '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  test('a changed layout: exit 1, the diff on stderr, the JSON result still alone on stdout', async () => {
    const cwd = tempDir();
    expect((await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--update-expect'])).code).toBe(0);
    const moved = engineWith((result) => {
      result.files[0]!.extents[2]!.physical = 33040;
      result.stats.deviceBytesWritten = 4456448;
    });
    const { code, stdout, stderr } = await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--json'], moved);
    expect(code).toBe(1);
    expect((JSON.parse(stdout) as ReplayResult).files[0]!.extents[2]!.physical).toBe(33040);
    expect(stderr).toBe(
      'iomapsim: expectation failed: g.json: 2 differences\n' +
        '  frag.bin: extent 2: expected [256+1]@33024, got [256+1]@33040\n' +
        '  deviceBytesWritten: expected 4194304, got 4456448 (+6.3% > 0%)\n' +
        'hint: if the change is intended, record the new result: rerun with --update-expect (docs/ci.md)\n',
    );
  });

  test('--no-expect-physical ignores addresses; --tolerance lets stats move', async () => {
    const cwd = tempDir();
    await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--update-expect']);
    const moved = () =>
      engineWith((result) => {
        result.files[0]!.extents[2]!.physical = 33040;
        result.stats.deviceBytesWritten = 4456448;
      });
    expect((await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--no-expect-physical'], moved())).code).toBe(1);
    expect((await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--tolerance', '6'], moved())).code).toBe(1);
    const both = await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--no-expect-physical', '--tolerance', '6.5%'], moved());
    expect(both.stderr).toContain('expectation met');
    expect(both.code).toBe(0);
  });

  test('a failed expectation wins over a full device (both reported)', async () => {
    const cwd = tempDir();
    await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--update-expect']);
    const full = engineWith((result) => {
      result.errors.push({ at: 't.xio:40', op: 'write', path: 'a', errno: 'ENOSPC', message: 'No space left on device' });
    });
    const { code, stderr } = await run(cwd, ['replay', 't.xio', '--expect', 'g.json'], full);
    expect(code).toBe(1);
    expect(stderr).toContain('  new failed op: t.xio:40 write a ENOSPC\n');
    expect(stderr).toContain('filled up: 1 operation failed with ENOSPC, the first at t.xio:40');
  });
});

describe('a golden that cannot be used: exit 2 before any image or replay', () => {
  async function refused(contents: string | null, extra: string[] = []) {
    const cwd = tempDir();
    if (contents !== null) fs.writeFileSync(path.join(cwd, 'g.json'), contents);
    const result = await run(cwd, ['replay', 't.xio', '--expect', 'g.json', ...extra]);
    expect(result.code).toBe(2);
    expect(result.engine.calls).toEqual(['openTrace t.xio auto t.xio']);
    expect(fs.existsSync(path.join(cwd, 't.img'))).toBe(false);
    expect(result.stdout).toBe('');
    return result.stderr;
  }

  test('missing', async () => {
    expect(await refused(null)).toBe('iomapsim: g.json: no such expectation file\nhint: record it from a run: add --update-expect (writes g.json)\n');
  });

  test('not JSON: one line naming the file', async () => {
    const stderr = await refused('{\n  "format": oops\n}\n');
    expect(stderr).toMatch(/^iomapsim: g\.json(:\d+:\d+)?: not valid JSON \(.*\)\nhint: record it from a run: add --update-expect \(writes g\.json\)\n$/);
  });

  test('another format version', async () => {
    expect(await refused('{"format":"iomapsim-expect","formatVersion":2}')).toContain('iomapsim: g.json: expectation format version 2 is not supported (expected 1)\n');
  });

  test('not an expectation, or a field of the wrong type', async () => {
    expect(await refused('{"schemaVersion":1}')).toContain('iomapsim: g.json: format: expected "iomapsim-expect"');
    const bad = { format: 'iomapsim-expect', formatVersion: 1, resultSchemaVersion: 1, trace: 't', policy: 'ext4', blockSize: 4096, deviceSize: 1, seed: 1, files: [{ path: 'a', size: 1, extents: [{ logical: 0, physical: 1, length: '1', flags: [] }] }], failures: [], stats: {} };
    expect(await refused(JSON.stringify(bad))).toContain('iomapsim: g.json: files[0].extents[0].length: expected a number');
  });
});

describe('option checks', () => {
  test.each([
    [['--update-expect'], '--update-expect needs --expect FILE'],
    [['--tolerance', '5'], '--tolerance needs --expect FILE'],
    [['--no-expect-physical'], '--no-expect-physical needs --expect FILE'],
    [['--expect', 'g.json', '--tolerance', 'lots'], "--tolerance: 'lots' is not a percentage"],
    [['--expect', 'g.json', '--tolerance', '-1'], "--tolerance: '-1' is not a percentage"],
    [['--expect', 'a.json', '--expect', 'b.json'], '--expect was given 2 times'],
  ])('%j is a usage error', async (extra, message) => {
    const { code, stderr, engine } = await run(tempDir(), ['replay', 't.xio', ...extra]);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(engine.calls).toEqual([]);
  });

  test('replay --help documents the options, an example and exit codes 1 and 130', async () => {
    const { code, stdout } = await run(tempDir(), ['replay', '--help']);
    expect(code).toBe(0);
    for (const option of ['--expect', '--update-expect', '--tolerance', '--expect-physical']) expect(stdout).toContain(option);
    expect(stdout).toContain('replay traces/x.xio --expect golden/x.json');
    expect(stdout).toContain('1   inspect --verify found mismatches, or replay --expect found differences');
    expect(stdout).toContain('130 interrupted by Ctrl-C');
  });
});

describe('real engine: traces/demo.xio', () => {
  test('record, meet, and fail on another block size', async () => {
    const cwd = tempDir();
    fs.copyFileSync(path.resolve('traces/demo.xio'), path.join(cwd, 'demo.xio'));
    const cli = async (args: string[]) => {
      const out = capture(cwd);
      const code = await main(args, out.io);
      return { code, stdout: out.stdout, stderr: out.stderr };
    };
    expect((await cli(['replay', 'demo.xio', '--no-image', '--expect', 'demo.json', '--update-expect', '-q'])).code).toBe(0);
    const again = await cli(['replay', 'demo.xio', '--no-image', '--expect', 'demo.json']);
    // 5 stats, 8 once the device model reports latencies (it is deterministic, so they must match too).
    expect(again.stderr).toMatch(/^iomapsim: demo\.json: expectation met \(5 files, 11 extents, 0 failed ops, [58] stats\)\n$/);
    expect(again.code).toBe(0);
    const other = await cli(['replay', 'demo.xio', '--no-image', '--expect', 'demo.json', '--block-size', '1024', '-q']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('  blockSize: expected 4096, got 1024\n');
    expect(other.stderr).toMatch(/  demo\/\S+: extent \d+: expected \[\d+\+\d+\]@\d+/);
  });
});

describe('colour: only on a terminal, never with NO_COLOR or --no-color (every command)', () => {
  const ESC = '\u001b[';

  async function colored(args: string[], env: Record<string, string>, terminal: boolean, engine: FakeEngine = fakeEngine(), cwd = tempDir()) {
    const out = capture(cwd, env, terminal);
    const code = await main(args, { ...out.io, stderrIsTTY: terminal }, { engine });
    return { code, stdout: out.stdout, stderr: out.stderr };
  }

  test('the expectation diff on stderr', async () => {
    const cwd = tempDir();
    await run(cwd, ['replay', 't.xio', '--expect', 'g.json', '--update-expect']);
    const changed = () => engineWith((result) => void (result.stats.opsTotal = 121));
    const args = ['replay', 't.xio', '--expect', 'g.json', '--json'];
    const tty = await colored(args, {}, true, changed(), cwd);
    expect(tty.code).toBe(1);
    expect(tty.stderr).toContain(`${ESC}31mexpectation failed`);
    expect(tty.stdout).not.toContain(ESC);
    for (const [extra, env, terminal] of [[[], { NO_COLOR: '1' }, true], [['--no-color'], {}, true], [[], {}, false]] as const) {
      const plain = await colored([...args, ...extra], env, terminal, changed(), cwd);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain('expectation failed');
      expect(plain.stderr).not.toContain(ESC);
    }
  });

  test.each([
    [['replay', 't.xio']],
    [['inspect', 'demo.img']],
    [['inspect', 'demo.img', '--verify']],
  ])('%j: coloured on a terminal only', async (args) => {
    expect((await colored(args, {}, true)).stdout).toContain(ESC);
    expect((await colored(args, { NO_COLOR: '1' }, true)).stdout).not.toContain(ESC);
    expect((await colored([...args, '--no-color'], {}, true)).stdout).not.toContain(ESC);
    expect((await colored(args, {}, false)).stdout).not.toContain(ESC);
  });

  test('help and JSON are never coloured', async () => {
    for (const args of [['--help'], ['replay', '--help'], ['inspect', '--help'], ['convert', '--help'], ['replay', 't.xio', '--json'], ['inspect', 'demo.img', '--json']]) {
      const out = await colored(args, {}, true);
      expect(out.code).toBe(0);
      expect(out.stdout).not.toContain(ESC);
    }
  });

  test('every command has --help with examples; --version', async () => {
    for (const command of ['replay', 'inspect', 'convert']) {
      const { code, stdout } = await run(tempDir(), [command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain('Examples:');
      expect(stdout).toContain(`iomapsim ${command} `);
    }
    const version = await run(tempDir(), ['--version']);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
