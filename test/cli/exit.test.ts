import { describe, expect, test } from '@jest/globals';
import { atBoundary, ExitCode, exitCodeFor, renderError } from '../../src/cli/exit.js';
import { InvariantError } from '../../src/util/assert.js';
import { DeviceFullError, ImageError, PolicyError, ReplayError, TraceError, UsageError } from '../../src/util/errors.js';

describe('exitCodeFor', () => {
  test.each([
    [new UsageError('bad flag'), 2],
    [new PolicyError('unknown policy'), 2],
    [new TraceError({ file: 't.xio', line: 3, column: 5 }, 'bad'), 3],
    [new ReplayError({ file: 't.xio', line: 9 }, 'bad fd'), 3],
    [new ImageError('x.img', 'foreign', 'not an iomapsim image'), 4],
    [new DeviceFullError('device full'), 5],
    [new InvariantError('extent map overlap'), 70],
    [new TypeError('x is undefined'), 70],
    ['a string', 70],
  ])('%s → %d', (error, code) => {
    expect(exitCodeFor(error)).toBe(code);
  });
});

describe('renderError', () => {
  test('a user error is one line plus the hint', () => {
    const error = new TraceError({ file: 't.xio', line: 3, column: 5 }, "unknown command 'frob' (expected an xfs_io command)", 'see docs/trace-xio.md');
    expect(renderError(error, { debug: false })).toBe(
      "iomapsim: t.xio:3:5: unknown command 'frob' (expected an xfs_io command)\nhint: see docs/trace-xio.md\n",
    );
  });

  test('no hint line without a hint; multi-line messages are folded', () => {
    expect(renderError(new UsageError('Invalid values:\n  Argument: policy'), { debug: false })).toBe('iomapsim: Invalid values: Argument: policy\n');
  });

  test('an internal error asks for a report, shows how to reproduce, no stack', () => {
    const text = renderError(new InvariantError('extent map overlap', { ino: 3 }), { debug: false, reproduce: 'iomapsim replay t.xio --seed 7' });
    expect(text).toBe(
      'iomapsim: internal error: extent map overlap {"ino":3}\nplease report this with the command line and seed\nreproduce: iomapsim replay t.xio --seed 7\n',
    );
  });

  test('IOMAPSIM_DEBUG adds the stack of internal errors only', () => {
    const internal = renderError(new Error('boom'), { debug: true });
    expect(internal).toMatch(/\n {4}at /);
    expect(renderError(new UsageError('bad'), { debug: true })).toBe('iomapsim: bad\n');
  });
});

test('atBoundary wraps system errors and passes everything else through', async () => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT', syscall: 'open' });
  const wrap = (error: NodeJS.ErrnoException) => new TraceError(undefined, `x: cannot read (${error.code})`);
  await expect(atBoundary(() => Promise.reject(enoent), wrap)).rejects.toThrow(new TraceError(undefined, 'x: cannot read (ENOENT)'));
  const own = new ImageError('x', 'exists', 'exists');
  await expect(atBoundary(() => { throw own; }, wrap)).rejects.toBe(own);
  await expect(atBoundary(() => 42, wrap)).resolves.toBe(42);
  expect(ExitCode.internal).toBe(70);
});
