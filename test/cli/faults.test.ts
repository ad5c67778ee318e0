/**
 * The fault options of `replay` through main() with the stand-in engine:
 * --fault, --faults, --fault-rate, --fault-kinds reach ReplayOptions.faults,
 * bad specs exit 2 with one line and a hint, the reproducing command carries
 * the faults, and the recovery section is printed from the engine's result.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { planReplay, reproduceCommand, type ReplayArgs } from '../../src/cli/replay.js';
import { InvariantError } from '../../src/util/assert.js';
import type { ReplayResult } from '../../src/report/model.js';
import { capture, fakeEngine, removeTempDirs, tempDir } from './fake.js';
import { crashRecord, recoveryReport, shortCopyEvent } from '../report/recovery-fixtures.js';

afterAll(removeTempDirs);

async function run(args: string[], setup: (engine: ReturnType<typeof fakeEngine>, cwd: string) => void = () => {}) {
  const cwd = tempDir();
  const out = capture(cwd);
  const engine = fakeEngine();
  setup(engine, cwd);
  const code = await main(args, out.io, { engine });
  return { code, stdout: out.stdout, stderr: out.stderr, engine, cwd };
}

/** Makes the stand-in engine answer with `extra` merged into its usual result. */
function answerWith(engine: ReturnType<typeof fakeEngine>, extra: Partial<ReplayResult>): void {
  const replay = engine.replay.bind(engine);
  engine.replay = async (ops, options) => {
    const outcome = await replay(ops, options);
    return { ...outcome, result: { ...outcome.result, ...extra } };
  };
}

describe('fault options reach ReplayOptions.faults', () => {
  test('no fault option: no plan', async () => {
    const { code, engine } = await run(['replay', 't.xio', '--no-image']);
    expect(code).toBe(0);
    expect(engine.replayOptions?.faults).toBeUndefined();
  });

  test('--fault (repeated, in order), --faults FILE relative to cwd, --fault-rate, --fault-kinds', async () => {
    const { code, engine, stderr } = await run(
      ['replay', 't.xio', '--no-image', '--fault', 'enospc@op=120', '--fault', 'short-copy@op=300,bytes=1000', '--faults', 'plan/f.txt', '--fault-rate', '0.02', '--fault-kinds', 'eio,short-dio'],
      (_engine, cwd) => {
        fs.mkdirSync(path.join(cwd, 'plan'));
        fs.writeFileSync(path.join(cwd, 'plan/f.txt'), '# crash late\ncrash@bytes=64m\n');
      },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(engine.replayOptions?.faults).toEqual({
      faults: [
        { kind: 'enospc', op: 120, text: 'enospc@op=120' },
        { kind: 'short-copy', op: 300, bytes: 1000, text: 'short-copy@op=300,bytes=1000' },
        { kind: 'crash', afterDeviceBytes: 64 * 2 ** 20, text: 'crash@bytes=64m', origin: { file: 'plan/f.txt', line: 2 } },
      ],
      random: { rate: 0.02, kinds: ['eio', 'short-dio'] },
    });
  });

  test('one --fault is a list of one', async () => {
    const { engine } = await run(['replay', 't.xio', '--no-image', '--fault=crash@op=7']);
    expect(engine.replayOptions?.faults).toEqual({ faults: [{ kind: 'crash', op: 7, text: 'crash@op=7' }] });
  });

  test('--fault-rate alone draws from the default kinds', async () => {
    const { engine } = await run(['replay', 't.xio', '--no-image', '--fault-rate', '0.5']);
    expect(engine.replayOptions?.faults).toEqual({ faults: [], random: { rate: 0.5, kinds: ['enospc', 'eio', 'short-copy', 'short-dio'] } });
  });
});

describe('bad fault options exit 2 with one line and a hint, before any work', () => {
  test.each([
    [['--fault', 'short-copy@op=300,byts=1000'], "iomapsim: --fault 'short-copy@op=300,byts=1000': column 19: unknown parameter 'byts' (expected bytes=B)", 'hint: e.g. --fault short-copy@op=300,bytes=1000; the syntax is in docs/faults.md'],
    [['--fault', 'enospc@op=1', '--fault', 'meteor@op=2'], "iomapsim: --fault 'meteor@op=2': column 1: unknown fault kind 'meteor' (expected one of enospc, eio, short-copy, short-dio, crash)", 'hint: e.g. --fault enospc@op=120,count=3; the syntax is in docs/faults.md'],
    [['--fault-rate', '2'], "iomapsim: --fault-rate: '2' is not a probability (expected a number from 0 to 1)", 'hint: e.g. --fault-rate 0.01 (one op in a hundred meets a fault)'],
    [['--fault-kinds', 'eio'], 'iomapsim: --fault-kinds chooses the kinds of random faults, but --fault-rate is not given', 'hint: e.g. --fault-rate 0.01 --fault-kinds enospc,eio'],
    [['--fault-rate', '0.1', '--fault-kinds', 'crash'], 'iomapsim: --fault-kinds: crash cannot be injected at random (expected some of enospc, eio, short-copy, short-dio)', 'hint: plan a crash with --fault crash@op=N or --fault crash@bytes=B'],
    [['--faults', 'missing.txt'], 'iomapsim: --faults missing.txt: cannot read the fault specs (ENOENT)', 'hint: check the path; the file holds one spec a line (docs/faults.md)'],
    [['--faults', 'a.txt', '--faults', 'b.txt'], 'iomapsim: --faults was given 2 times (expected once)', "hint: run 'iomapsim replay --help' for the options"],
  ])('%j', async (options, message, hint) => {
    const { code, stdout, stderr, engine } = await run(['replay', 't.xio', ...options]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`${message}\n${hint}\n`);
    expect(engine.calls).toEqual([]);
  });

  test('a bad line of --faults FILE is file:line:col', async () => {
    const { code, stderr } = await run(['replay', 't.xio', '--faults', 'f.txt'], (_engine, cwd) => {
      fs.writeFileSync(path.join(cwd, 'f.txt'), 'enospc@op=1\n\n  eio@block=9-3\n');
    });
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe('iomapsim: f.txt:3:13: block=9-3: the range ends before it starts (expected S-E with S <= E)');
  });
});

describe('the reproducing command and the printed result', () => {
  const baseArgs: ReplayArgs = {
    trace: 't.xio', policy: 'ext4', format: 'auto', image: false, force: false, deviceSize: '1g', blockSize: '4096',
    seed: '9', root: undefined, finalSync: true, json: false, deterministic: false, quiet: false,
  };

  test('reproduceCommand carries the faults as given', () => {
    const plan = planReplay({ ...baseArgs, faults: { specs: ['enospc@op=120', 'short-copy@op=300,bytes=1000'], rate: '0.01' } }, '/tmp', ['ext4']);
    expect(reproduceCommand(plan)).toBe(
      'iomapsim replay t.xio --policy ext4 --format auto --block-size 4096 --device-size 1073741824 --seed 9 ' +
        '--fault enospc@op=120 --fault short-copy@op=300,bytes=1000 --fault-rate 0.01 --fault-kinds enospc,eio,short-copy,short-dio --no-image',
    );
    expect(reproduceCommand(planReplay(baseArgs, '/tmp', ['ext4']))).not.toContain('--fault');
  });

  test('an internal error prints the reproducing command with the faults', async () => {
    const { code, stderr } = await run(['replay', 't.xio', '--no-image', '--seed', '9', '--fault', 'crash@op=5000'], (engine) => {
      engine.replayError = new InvariantError('stale data exposed');
    });
    expect(code).toBe(70);
    expect(stderr).toMatch(/^reproduce: iomapsim replay t\.xio .*--seed 9 .*--fault crash@op=5000 --no-image$/m);
  });

  test('text output shows the recovery section and the crash; JSON carries both', async () => {
    const extra = { recovery: recoveryReport([shortCopyEvent()], ['short-copy@op=300,bytes=1000']), crashed: crashRecord() };
    const text = await run(['replay', 't.xio', '--no-image', '--fault', 'short-copy@op=300,bytes=1000'], (engine) => answerWith(engine, extra));
    expect(text.code).toBe(0);
    expect(text.stdout.startsWith('CRASHED: the process died at crash@op=5000')).toBe(true);
    expect(text.stdout).toContain('--- short-write recovery ---\nplanned: short-copy@op=300,bytes=1000\n');
    const json = await run(['replay', 't.xio', '--no-image', '--json', '--fault', 'short-copy@op=300,bytes=1000'], (engine) => answerWith(engine, extra));
    const parsed = JSON.parse(json.stdout) as ReplayResult;
    expect(parsed.recovery).toEqual(extra.recovery);
    expect(parsed.crashed).toEqual(extra.crashed);
  });
});

describe('an injected ENOSPC is not a full device', () => {
  const error = { at: 't.xio:3', op: 'write', errno: 'ENOSPC', message: 'buffered write: No space left on device' };
  function enospcEvent(fault: string) {
    return shortCopyEvent({ at: 't.xio:3', fault, errno: 'ENOSPC', paths: ['none'] });
  }

  test('an ENOSPC the plan injected exits 0', async () => {
    const { code, stderr } = await run(['replay', 't.xio', '--no-image', '--fault', 'enospc@op=2'], (engine) =>
      answerWith(engine, { errors: [error], recovery: recoveryReport([enospcEvent('enospc@op=2')], ['enospc@op=2']) }),
    );
    expect(stderr).not.toMatch(/filled up/);
    expect(code).toBe(0);
  });

  test('a real ENOSPC under a fault plan still reports the full device', async () => {
    const { code, stderr } = await run(['replay', 't.xio', '--no-image', '--fault-rate', '0'], (engine) =>
      answerWith(engine, { errors: [error], recovery: recoveryReport([enospcEvent('device-full')], []) }),
    );
    expect(stderr).toMatch(/filled up/);
    expect(code).not.toBe(0);
  });
});
