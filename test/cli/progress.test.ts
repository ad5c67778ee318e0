/**
 * Live progress and Ctrl-C: frame arithmetic and text, the display choice,
 * plain progress lines through main() with a fake clock, the ink view on a
 * fake terminal (never on stdout, erased and unmounted at the end), and
 * interruption in-process (fake and real engine) and by a real SIGINT.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import React from 'react';
import type { CliLive, InterruptSource } from '../../src/cli/context.js';
import { main } from '../../src/cli/main.js';
import {
  chooseProgressMode,
  formatDuration,
  formatProgressLine,
  InkDisplay,
  processInterrupts,
  progressFrame,
  progressViewLines,
  ReplayProgressView,
  YIELD_EVERY_OPS,
  yieldWhile,
  type ProgressFrame,
} from '../../src/cli/progress.js';
import type { ReplayResult } from '../../src/report/model.js';
import { plainStyle } from '../../src/report/text.js';
import type { ReplayProgress } from '../../src/replay/types.js';
import { sampleResult } from '../report/fixtures.js';
import { capture, fakeEngine, removeTempDirs, sampleMetadata, tempDir } from './fake.js';

afterAll(removeTempDirs);

function progress(opsDone: number, extra: Partial<ReplayProgress> = {}): ReplayProgress {
  return { opsDone, opsFailed: 0, bytesWritten: 0, bytesRead: 0, traceTimeUs: undefined, files: 0, done: false, ...extra };
}

/** An interrupt source the test fires by hand. */
function manualInterrupts(): { source: InterruptSource; fire: () => void; listening: () => boolean } {
  let fire: () => void = () => {
    throw new Error('not listening');
  };
  let listening = false;
  const source: InterruptSource = {
    listen(controller, onInterrupt) {
      listening = true;
      fire = () => {
        controller.abort();
        onInterrupt();
      };
      return () => {
        listening = false;
      };
    },
  };
  return { source, fire: () => fire(), listening: () => listening };
}

/** A CSV trace of `ops` 4 KiB writes over 8 files. */
function writeCsvTrace(file: string, ops: number): void {
  const rows = ['time_us,handle,op,path,offset,length,flags,arg'];
  for (let index = 0; index < ops; index++) rows.push(`${index * 10},,write,f${index % 8}.dat,${((index * 7919) % 512) * 4096},4096,,`);
  fs.writeFileSync(file, `${rows.join('\n')}\n`);
}

describe('frames and their text', () => {
  test('rates, fraction of the trace read, ETA and trace time', () => {
    const frame = progressFrame(progress(12000, { traceTimeUs: 4_500_000, opsFailed: 2 }), 1200, { read: 1_200_000, total: 10_000_000 });
    expect(frame.opsPerSecond).toBeCloseTo(10000, 6);
    expect(frame.fraction).toBeCloseTo(0.12, 9);
    expect(frame.etaSeconds).toBeCloseTo(8.8, 6);
    expect(frame.traceSeconds).toBe(4.5);
    expect(formatProgressLine(frame)).toBe('replay: 12000 ops, 10000 ops/s, 12% of trace, ETA 0:09, 2 failed');
  });

  test('without the trace size: ops only, no fraction or ETA', () => {
    const frame = progressFrame(progress(5000), 2000, { read: undefined, total: 10 });
    expect(frame.fraction).toBeNull();
    expect(frame.etaSeconds).toBeNull();
    expect(formatProgressLine(frame)).toBe('replay: 5000 ops, 2500 ops/s');
    expect(progressViewLines({ frame, style: plainStyle, columns: 80 })[0]).toBe('replay  5000 ops');
  });

  test('durations', () => {
    expect(formatDuration(7.4)).toBe('0:07');
    expect(formatDuration(754)).toBe('12:34');
    expect(formatDuration(3723)).toBe('1:02:03');
  });
});

describe('which display', () => {
  const terminal = { isTTY: true } as NodeJS.WriteStream;
  const live: CliLive = { progress: true, terminal };
  test.each([
    ['text', live, {}, 'live'],
    ['json', live, {}, 'off'],
    ['quiet', live, {}, 'off'],
    ['text', undefined, {}, 'off'],
    ['text', { progress: false, terminal }, {}, 'off'],
    ['text', { progress: true, terminal: { isTTY: false } as NodeJS.WriteStream }, {}, 'lines'],
    ['text', { progress: true }, {}, 'lines'],
    ['text', live, { CI: 'true' }, 'lines'],
    ['text', live, { CI: '0' }, 'live'],
    ['text', live, { TERM: 'dumb' }, 'lines'],
  ] as const)('%s output, live %j, env %j: %s', (output, liveOption, env, mode) => {
    expect(chooseProgressMode(output, liveOption, env)).toBe(mode);
  });
});

describe('plain progress lines (stderr not a terminal)', () => {
  async function runWithClock(args: string[]) {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 't.xio'), '');
    fs.truncateSync(path.join(cwd, 't.xio'), 10_000_000);
    let now = 0;
    const live: CliLive = { progress: true, clockMs: () => now, traceBytesRead: () => now * 1000 };
    const engine = fakeEngine();
    engine.replay = async (_ops, options) => {
      engine.replayOptions = options;
      for (const t of [500, 1200, 1500, 2300]) {
        now = t;
        options.onProgress?.(progress(t * 10));
      }
      options.onProgress?.(progress(30000, { done: true }));
      return { result: sampleResult({ trace: options.traceName }), metadata: sampleMetadata() };
    };
    const out = capture(cwd);
    const code = await main(args, out.io, { engine, live });
    return { code, stdout: out.stdout, stderr: out.stderr, engine };
  }

  test('nothing in the first second, then at most one line a second, on stderr only', async () => {
    const { code, stdout, stderr, engine } = await runWithClock(['replay', 't.xio']);
    expect(code).toBe(0);
    expect(engine.replayOptions?.progressEveryOps).toBe(1024);
    expect(stderr).toBe('replay: 12000 ops, 10000 ops/s, 12% of trace, ETA 0:09\nreplay: 23000 ops, 10000 ops/s, 23% of trace, ETA 0:08\n');
    expect(stdout).not.toContain('replay:');
  });

  test.each([['--json'], ['--quiet']])('nothing with %s', async (flag) => {
    const { code, stderr, engine } = await runWithClock(['replay', 't.xio', flag]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(engine.replayOptions?.onProgress).toBeUndefined();
    expect(engine.replayOptions?.signal).toBeInstanceOf(AbortSignal);
  });
});

/** A fake terminal: collects what is written. */
function fakeTerminal(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const writable = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  Object.assign(writable, { isTTY: true, columns: 100, rows: 30 });
  return { stream: writable as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

function sampleFrame(opsDone: number, fraction: number): ProgressFrame {
  return progressFrame(progress(opsDone, { files: 12, bytesWritten: 5 * 2 ** 20, traceTimeUs: 12_300_000 }), 4000, { read: fraction * 1e9, total: 1e9 });
}

describe('the ink view', () => {
  test('the component: bar, percentage, bytes, ETA, rates, trace time, counters', async () => {
    const ink = await import('ink');
    const element = React.createElement(ReplayProgressView, { frame: sampleFrame(1_200_000, 0.38), style: plainStyle, columns: 100, ink });
    const lines = ink.renderToString(element, { columns: 100 }).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^replay {2}█+░+ {2}38% {2}362\.4 MiB of 953\.7 MiB {2}ETA 0:07$/);
    expect(lines[0]!.match(/[█░]/g)).toHaveLength(40);
    expect(lines[1]).toBe('        1200000 ops  300000 ops/s  trace time 12.3 s  elapsed 0:04');
    expect(lines[2]).toBe('        files 12  written 5.0 MiB  failed ops 0');
  });

  // ink draws only the final frame when the CI variable is set (it asks is-in-ci when loaded), so the
  // frame-by-frame drawing can only be checked outside CI; the text of each frame is tested above.
  const inkDraws = process.env.CI === undefined || process.env.CI === '' || process.env.CI === 'false';
  if (!inkDraws) console.info('skipping the ink drawing test: CI is set, and ink then renders only the final frame');
  (inkDraws ? test : test.skip)('draws on the terminal given, never on stdout; stop erases it and unmounts', async () => {
    const terminal = fakeTerminal();
    const stdoutWrite = jest.spyOn(process.stdout, 'write');
    try {
      const display = new InkDisplay(terminal.stream, plainStyle);
      await display.ready;
      display.show(sampleFrame(1000, 0.1));
      display.show(sampleFrame(2000, 0.2));
      await display.stop();
      await display.stop();
      display.show(sampleFrame(3000, 0.3));
      expect(stdoutWrite).not.toHaveBeenCalled();
    } finally {
      stdoutWrite.mockRestore();
    }
    const text = terminal.text();
    expect(text).toContain('  1000 ops');
    expect(text).not.toContain('3000 ops');
    // After the last frame, its three lines are erased (cursor up, erase line).
    const afterLast = text.slice(text.lastIndexOf('failed ops 0'));
    expect(afterLast.split('\u001b[1A').length - 1).toBeGreaterThanOrEqual(3);
  });
});

describe('yieldWhile: event-loop turns for the ink import', () => {
  async function* numbers(count: number, closed: { value: boolean }): AsyncGenerator<number> {
    try {
      for (let index = 0; index < count; index++) yield index;
    } finally {
      closed.value = true;
    }
  }

  /** The index being consumed when a macrotask scheduled before the loop ran (null: not during the loop). */
  async function turnAt(pending: boolean): Promise<number | null> {
    let index = -1;
    let firedAt: number | null = null;
    setImmediate(() => (firedAt = index));
    const seen: number[] = [];
    for await (const value of yieldWhile(numbers(4 * YIELD_EVERY_OPS, { value: false }), () => pending)) {
      index = value;
      seen.push(value);
    }
    expect(seen).toEqual([...Array(4 * YIELD_EVERY_OPS).keys()]);
    const result = firedAt;
    await new Promise((resolve) => setImmediate(resolve));
    return result;
  }

  test('while pending, a macrotask runs during the loop; otherwise only after it', async () => {
    expect(await turnAt(true)).toBe(YIELD_EVERY_OPS - 2);
    expect(await turnAt(false)).toBeNull();
  });

  test('stopping early closes the source', async () => {
    const closed = { value: false };
    for await (const value of yieldWhile(numbers(10, closed), () => true)) if (value === 3) break;
    expect(closed.value).toBe(true);
  });
});

describe('Ctrl-C', () => {
  test('processInterrupts: the first SIGINT aborts, the second exits 130; stop removes the handler', () => {
    const before = process.listenerCount('SIGINT');
    const written: string[] = [];
    const exits: number[] = [];
    const source = processInterrupts((text) => written.push(text), (code) => exits.push(code));
    const controller = new AbortController();
    let interrupted = 0;
    const stop = source.listen(controller, () => interrupted++);
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    process.emit('SIGINT');
    expect(controller.signal.aborted).toBe(true);
    expect(interrupted).toBe(1);
    expect(exits).toEqual([]);
    process.emit('SIGINT');
    expect(exits).toEqual([130]);
    expect(written).toEqual(['iomapsim: interrupted again: quitting now; the image was not committed\n']);
    stop();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  test('in-process: the replay is aborted, the image committed, partial results printed, exit 130', async () => {
    const cwd = tempDir();
    const interrupts = manualInterrupts();
    const engine = fakeEngine();
    engine.replay = async (_ops, options) => {
      engine.calls.push('replay');
      expect(interrupts.listening()).toBe(true);
      interrupts.fire();
      expect(options.signal?.aborted).toBe(true);
      const result: ReplayResult = sampleResult({ trace: options.traceName, interrupted: true });
      result.stats.opsTotal = 57;
      return { result, metadata: sampleMetadata() };
    };
    const out = capture(cwd);
    const code = await main(['replay', 't.xio', '--expect', 'g.json', '--update-expect'], out.io, { engine, live: { progress: false, interrupts: interrupts.source } });
    expect(code).toBe(130);
    expect(engine.calls).toEqual(['openTrace t.xio auto t.xio', 'createImage t.img', 'replay', 'commit', 'close t.img']);
    expect(interrupts.listening()).toBe(false);
    expect(out.stdout).toContain('trace:   t.xio\n');
    expect(out.stderr).toBe(
      'iomapsim: interrupted: stopping after the current operation (Ctrl-C again quits at once, without committing the image)\n' +
        'iomapsim: interrupted after 57 ops: the results are partial (no final sync); t.img holds the state at that point; g.json not written\n',
    );
    // A partial run must not become the golden.
    expect(fs.existsSync(path.join(cwd, 'g.json'))).toBe(false);
  });

  test('in-process, real engine: stops after the op being replayed; the image verifies', async () => {
    const cwd = tempDir();
    writeCsvTrace(path.join(cwd, 'big.csv'), 20000);
    const interrupts = manualInterrupts();
    let clockCalls = 0;
    // The clock is read once at the start and at every progress report (every 1024 ops): Ctrl-C "arrives" at the 4th.
    const clockMs = (): number => {
      clockCalls++;
      if (clockCalls === 5) interrupts.fire();
      return 0;
    };
    const out = capture(cwd);
    const code = await main(['replay', 'big.csv', '--json'], out.io, { live: { progress: false, interrupts: interrupts.source, clockMs } });
    expect(code).toBe(0);
    expect(clockCalls).toBe(0); // --json: no display, so no clock (and no interrupt yet).
    const textOut = capture(cwd);
    const textCode = await main(['replay', 'big.csv', '--image', 'cut.img'], textOut.io, { live: { progress: true, interrupts: interrupts.source, clockMs } });
    expect(textCode).toBe(130);
    expect(textOut.stderr).toContain('iomapsim: interrupted after 4096 ops: the results are partial (no final sync); cut.img holds the state at that point\n');
    const inspect = capture(cwd);
    expect(await main(['inspect', 'cut.img', '--verify', '--json'], inspect.io)).toBe(0);
    const inspected = JSON.parse(inspect.stdout) as { summary: { opsApplied: number }; verify: { ok: boolean } };
    expect(inspected.summary.opsApplied).toBe(4096);
    expect(inspected.verify.ok).toBe(true);
  });

  const distCli = path.resolve('dist/cli/progress.js');
  const spawnTest = fs.existsSync(distCli) ? test : test.skip;
  if (!fs.existsSync(distCli)) console.warn('progress.test: dist/ is missing or stale; run `npm run build` for the SIGINT test of bin/iomapsim');

  spawnTest('a real SIGINT to bin/iomapsim: exit 130, partial results, a consistent image', async () => {
    const cwd = tempDir();
    writeCsvTrace(path.join(cwd, 'huge.csv'), 1_000_000);
    const child = spawn(process.execPath, [path.resolve('bin/iomapsim'), 'replay', 'huge.csv', '--image', 'huge.img'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The first plain progress line (stderr is a pipe) shows the replay is under way: press Ctrl-C then.
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('replay: ')) resolve();
      });
      void exited.then(() => resolve());
    });
    child.kill('SIGINT');
    const code = await exited;
    expect(stderr).toMatch(/iomapsim: interrupted after \d+ ops: the results are partial/);
    expect(code).toBe(130);
    expect(stdout).toContain('trace:   huge.csv\n');
    const ops = Number(/interrupted after (\d+) ops/.exec(stderr)![1]);
    expect(ops).toBeLessThan(1_000_000);
    const inspect = capture(cwd);
    expect(await main(['inspect', 'huge.img', '--verify', '--json'], inspect.io)).toBe(0);
    expect((JSON.parse(inspect.stdout) as { summary: { opsApplied: number } }).summary.opsApplied).toBe(ops);
  });
});
