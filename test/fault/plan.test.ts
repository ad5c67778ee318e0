/**
 * The fault-plan parser (src/fault/plan.ts) and the CLI helpers that build a
 * FaultPlan from the options (src/cli/options.ts planFaults, faultWords):
 * every kind and trigger, the normalised text, and the exact message (with
 * its column) of each kind of mistake.
 */
import { describe, expect, test } from '@jest/globals';
import { faultWords, planFaults } from '../../src/cli/options.js';
import {
  DEFAULT_RANDOM_FAULT_KINDS,
  FAULTS_FILE_SPECS_MAX,
  parseFaultKinds,
  parseFaultRate,
  parseFaultSpec,
  parseFaultsFile,
} from '../../src/fault/plan.js';
import type { FaultSpec } from '../../src/fault/types.js';
import { UsageError } from '../../src/util/errors.js';

/** The UsageError `run` throws (fails the test when it throws nothing or something else). */
function usageErrorOf(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parseFaultSpec: good specs', () => {
  test.each<[string, Omit<FaultSpec, 'text'>]>([
    ['enospc@op=120', { kind: 'enospc', op: 120 }],
    ['enospc@op=7,count=3', { kind: 'enospc', op: 7, count: 3 }],
    ['eio@op=10', { kind: 'eio', op: 10 }],
    ['eio@op=10,count=2,rw=read', { kind: 'eio', op: 10, count: 2, direction: 'read' }],
    ['eio@block=100', { kind: 'eio', blocks: { startBlock: 100, endBlock: 101 } }],
    ['eio@block=100-115', { kind: 'eio', blocks: { startBlock: 100, endBlock: 116 } }],
    ['eio@block=0-0,rw=write', { kind: 'eio', blocks: { startBlock: 0, endBlock: 1 }, direction: 'write' }],
    ['eio@bytes=1m', { kind: 'eio', afterDeviceBytes: 2 ** 20 }],
    ['short-copy@op=300,bytes=1000', { kind: 'short-copy', op: 300, bytes: 1000 }],
    ['short-copy@op=1,bytes=0', { kind: 'short-copy', op: 1, bytes: 0 }],
    ['short-dio@op=40,bytes=8k', { kind: 'short-dio', op: 40, bytes: 8192 }],
    ['crash@op=5000', { kind: 'crash', op: 5000 }],
    ['crash@bytes=2g', { kind: 'crash', afterDeviceBytes: 2 * 2 ** 30 }],
    ['crash@bytes=64KiB', { kind: 'crash', afterDeviceBytes: 65536 }],
  ])('%s', (text, expected) => {
    expect(parseFaultSpec(text)).toEqual({ ...expected, text });
  });

  test('parameters may come in any order; the WHERE need not be first', () => {
    expect(parseFaultSpec('short-copy@bytes=10,op=3')).toEqual({ kind: 'short-copy', op: 3, bytes: 10, text: 'short-copy@bytes=10,op=3' });
  });

  test('text is normalised: blanks removed, kind and keys lower-case, values and order as written', () => {
    const spec = parseFaultSpec('  Short-Copy @ OP = 300 , Bytes=4K  ');
    expect(spec).toEqual({ kind: 'short-copy', op: 300, bytes: 4096, text: 'short-copy@op=300,bytes=4K' });
    expect(parseFaultSpec('eio@block = 5 - 9').text).toBe('eio@block=5-9');
    // The normalised text parses back to the same spec.
    const again = parseFaultSpec(spec.text);
    expect(again).toEqual(spec);
  });

  test('origin is kept on the spec', () => {
    expect(parseFaultSpec('crash@op=2', { file: 'f.txt', line: 4 }).origin).toEqual({ file: 'f.txt', line: 4 });
    expect(parseFaultSpec('crash@op=2').origin).toBeUndefined();
  });
});

describe('parseFaultSpec: bad specs name the spec, the column, what was expected', () => {
  test.each<[string, string]>([
    // The example: 'byts' starts at column 19 of the spec.
    ['short-copy@op=300,byts=1000', "--fault 'short-copy@op=300,byts=1000': column 19: unknown parameter 'byts' (expected bytes=B)"],
    ['', "--fault '': column 1: empty fault spec (expected KIND@WHERE)"],
    ['enospx@op=1', "--fault 'enospx@op=1': column 1: unknown fault kind 'enospx' (expected one of enospc, eio, short-copy, short-dio, crash)"],
    ['@op=1', "--fault '@op=1': column 1: missing fault kind before '@' (expected one of enospc, eio, short-copy, short-dio, crash)"],
    ['crash', "--fault 'crash': column 6: missing '@WHERE' after 'crash' (expected crash@op=N or crash@bytes=B)"],
    ['crash@', "--fault 'crash@': column 7: missing WHERE after '@' (expected crash@op=N or crash@bytes=B)"],
    ['enospc@op=0', "--fault 'enospc@op=0': column 11: op=0: ops are counted from 1 (expected an integer >= 1)"],
    ['enospc@op=1.5', "--fault 'enospc@op=1.5': column 11: op: '1.5' is not a whole number (expected op=N with an integer >= 1)"],
    ['enospc@op=-3', "--fault 'enospc@op=-3': column 11: op: '-3' is not a whole number (expected op=N with an integer >= 1)"],
    ['enospc@op=', "--fault 'enospc@op=': column 11: op: '' is not a whole number (expected op=N with an integer >= 1)"],
    ['enospc@op=1,count=0', "--fault 'enospc@op=1,count=0': column 19: count=0: count must be at least 1 (expected an integer >= 1)"],
    ['enospc@op=1,count=x', "--fault 'enospc@op=1,count=x': column 19: count: 'x' is not a whole number (expected count=K with an integer >= 1)"],
    ['short-copy@op=300', "--fault 'short-copy@op=300': column 18: short-copy needs bytes=B (expected short-copy@op=300,bytes=1000)"],
    ['short-dio@bytes=10', "--fault 'short-dio@bytes=10': column 11: missing where the fault fires (expected op=N)"],
    ['short-copy@op=3,bytes=1q', "--fault 'short-copy@op=3,bytes=1q': column 23: bytes: '1q' is not a size (expected bytes=B, a whole number of bytes with an optional k, m or g suffix)"],
    ['crash@bytes=0', "--fault 'crash@bytes=0': column 13: bytes=0: must be at least 1 here (expected bytes=B with B >= 1)"],
    ['crash@op=5,rw=read', "--fault 'crash@op=5,rw=read': column 12: parameter 'rw' does not apply to crash (expected op=N, bytes=B)"],
    ['enospc@op=5,bytes=10', "--fault 'enospc@op=5,bytes=10': column 13: parameter 'bytes' does not apply to enospc (expected op=N, count=K)"],
    ['enospc@block=5', "--fault 'enospc@block=5': column 8: parameter 'block' does not apply to enospc (expected op=N, count=K)"],
    ['crash@op=5,op=6', "--fault 'crash@op=5,op=6': column 12: duplicate parameter 'op' (first given at column 7; expected each once)"],
    ['crash@op=5,bytes=1m', "--fault 'crash@op=5,bytes=1m': column 12: two triggers, op and bytes (expected one of op=N, bytes=B)"],
    ['eio@op=1,rw=both', "--fault 'eio@op=1,rw=both': column 13: rw: 'both' is not a direction (expected rw=read or rw=write)"],
    ['eio@block=9-3', "--fault 'eio@block=9-3': column 11: block=9-3: the range ends before it starts (expected S-E with S <= E)"],
    ['eio@block=a-b', "--fault 'eio@block=a-b': column 11: block: 'a-b' is not a block or block range (expected block=S or block=S-E, filesystem blocks, E included)"],
    ['eio@op=1,', "--fault 'eio@op=1,': column 10: empty parameter (expected key=value: op=N, bytes=B, block=S[-E], count=K, rw=read|write)"],
    ['eio@op', "--fault 'eio@op': column 5: 'op' is not key=value (expected op=N, bytes=B, block=S[-E], count=K, rw=read|write)"],
    ['eio@=3', "--fault 'eio@=3': column 5: missing parameter name before '=' (expected op=N, bytes=B, block=S[-E], count=K, rw=read|write)"],
    ['eio@zzzzzz=3', "--fault 'eio@zzzzzz=3': column 5: unknown parameter 'zzzzzz' (expected op=N, bytes=B, block=S[-E], count=K, rw=read|write)"],
  ])('%j', (text, message) => {
    const error = usageErrorOf(() => parseFaultSpec(text));
    expect(error.message).toBe(message);
    expect(error.message).not.toContain('\n');
    expect(error.hint).toMatch(/^e\.g\. --fault [a-z-]+@\S+; the syntax is in docs\/faults\.md$/);
  });

  test('the hint gives an example of the kind in question', () => {
    expect(usageErrorOf(() => parseFaultSpec('short-dio@op=1')).hint).toContain('--fault short-dio@op=40,bytes=8k');
    expect(usageErrorOf(() => parseFaultSpec('eio@op=1,rw=x')).hint).toContain('--fault eio@block=');
  });

  test('columns count in the text as given, leading blanks included', () => {
    expect(usageErrorOf(() => parseFaultSpec('   crash@op=0')).message).toContain('column 13:');
  });

  test('every example the hints give parses', () => {
    for (const text of ['enospc@op=120,count=3', 'eio@block=1000-1015,rw=write', 'short-copy@op=300,bytes=1000', 'short-dio@op=40,bytes=8k', 'crash@op=5000']) {
      expect(parseFaultSpec(text).text).toBe(text);
    }
  });

  test('a too-long spec is refused', () => {
    expect(() => parseFaultSpec(`crash@op=${'1'.repeat(5000)}`)).toThrow(/longer than 4096 characters/);
  });

  test('a number beyond 2^53 is refused, not rounded', () => {
    expect(() => parseFaultSpec('enospc@op=99999999999999999999')).toThrow(/is not a whole number/);
    expect(() => parseFaultSpec('crash@bytes=99999999999999g')).toThrow(/is not a size/);
  });
});

describe('parseFaultsFile', () => {
  test('one spec a line; comments, blank lines and CRLF skipped; origins recorded', () => {
    const text = '# faults for the demo\n\nenospc@op=120   # the first\r\n  short-copy@op=300,bytes=1000\n#crash@op=9\n   \ncrash@bytes=1m\n';
    const specs = parseFaultsFile(text, 'f.txt');
    expect(specs.map((spec) => [spec.text, spec.origin?.line])).toEqual([
      ['enospc@op=120', 3],
      ['short-copy@op=300,bytes=1000', 4],
      ['crash@bytes=1m', 7],
    ]);
    expect(specs.every((spec) => spec.origin?.file === 'f.txt')).toBe(true);
  });

  test('an empty file (or comments only) is an empty list', () => {
    expect(parseFaultsFile('', 'f.txt')).toEqual([]);
    expect(parseFaultsFile('# nothing yet\n\n', 'f.txt')).toEqual([]);
  });

  test('errors are file:line:col with the column in the line as written', () => {
    const error = usageErrorOf(() => parseFaultsFile('crash@op=1\n\n  short-copy@op=300,byts=1000 # oops\n', 'plan/faults.txt'));
    expect(error.message).toBe("plan/faults.txt:3:21: unknown parameter 'byts' (expected bytes=B)");
    expect(error.hint).toBe('e.g. short-copy@op=300,bytes=1000; the syntax is in docs/faults.md');
    expect(usageErrorOf(() => parseFaultsFile('enospc@op=1\nbogus@op=2\n', 'f')).message).toBe(
      "f:2:1: unknown fault kind 'bogus' (expected one of enospc, eio, short-copy, short-dio, crash)",
    );
  });

  test('at most FAULTS_FILE_SPECS_MAX specs', () => {
    const text = 'crash@op=1\n'.repeat(FAULTS_FILE_SPECS_MAX + 1);
    expect(() => parseFaultsFile(text, 'big.txt')).toThrow(`big.txt:${FAULTS_FILE_SPECS_MAX + 1}: more than ${FAULTS_FILE_SPECS_MAX} fault specs`);
    expect(parseFaultsFile('crash@op=1\n'.repeat(3), 'ok.txt')).toHaveLength(3);
  });
});

describe('parseFaultRate and parseFaultKinds', () => {
  test.each([
    ['0', 0],
    ['1', 1],
    ['0.01', 0.01],
    ['.5', 0.5],
    ['1e-3', 0.001],
    [' 0.25 ', 0.25],
  ])('rate %j is %d', (text, rate) => {
    expect(parseFaultRate(text)).toBe(rate);
  });

  test.each(['', '-0.1', '1.5', 'abc', 'NaN', 'Infinity', '1%', '0x1'])('rate %j is refused', (text) => {
    expect(usageErrorOf(() => parseFaultRate(text)).message).toBe(`--fault-rate: '${text}' is not a probability (expected a number from 0 to 1)`);
  });

  test('kinds: a comma list of known kinds, each once, never crash', () => {
    expect(parseFaultKinds('enospc,eio')).toEqual(['enospc', 'eio']);
    expect(parseFaultKinds(' Short-Copy , short-dio ')).toEqual(['short-copy', 'short-dio']);
    expect(usageErrorOf(() => parseFaultKinds('enospc,crash')).message).toBe('--fault-kinds: crash cannot be injected at random (expected some of enospc, eio, short-copy, short-dio)');
    expect(usageErrorOf(() => parseFaultKinds('enospc,eoi')).message).toBe("--fault-kinds: unknown fault kind 'eoi' (expected some of enospc, eio, short-copy, short-dio)");
    expect(usageErrorOf(() => parseFaultKinds('eio,eio')).message).toBe("--fault-kinds names 'eio' twice (expected each kind once)");
    expect(usageErrorOf(() => parseFaultKinds('eio,,enospc')).message).toContain('has an empty entry');
    expect(usageErrorOf(() => parseFaultKinds('')).message).toContain('needs at least one kind');
  });
});

describe('planFaults and faultWords (the CLI side)', () => {
  const noFile = (file: string): string => {
    throw new Error(`unexpected read of ${file}`);
  };

  test('no fault option: no plan, no words', () => {
    expect(planFaults(undefined, noFile)).toBeUndefined();
    expect(planFaults({ specs: [] }, noFile)).toBeUndefined();
    expect(faultWords(undefined)).toEqual([]);
  });

  test('--fault specs in order, then the file\'s lines; --fault-rate with the default kinds', () => {
    const plan = planFaults({ specs: ['enospc@op=120', 'short-copy@op=300,bytes=1000'], file: 'more.txt', rate: '0.01' }, (file) => {
      expect(file).toBe('more.txt');
      return 'crash@op=5000\n';
    });
    expect(plan?.faults.map((spec) => spec.text)).toEqual(['enospc@op=120', 'short-copy@op=300,bytes=1000', 'crash@op=5000']);
    expect(plan?.faults[2]?.origin).toEqual({ file: 'more.txt', line: 1 });
    expect(plan?.random).toEqual({ rate: 0.01, kinds: [...DEFAULT_RANDOM_FAULT_KINDS] });
    expect(faultWords(plan)).toEqual([
      '--fault', 'enospc@op=120', '--fault', 'short-copy@op=300,bytes=1000', '--faults', 'more.txt',
      '--fault-rate', '0.01', '--fault-kinds', 'enospc,eio,short-copy,short-dio',
    ]);
  });

  test('faultWords rebuild the same plan', () => {
    const plan = planFaults({ specs: [' Crash @ op = 9 '], rate: '1e-4', kinds: 'eio' }, noFile)!;
    const words = faultWords(plan);
    expect(words).toEqual(['--fault', 'crash@op=9', '--fault-rate', '0.0001', '--fault-kinds', 'eio']);
    const again = planFaults({ specs: [words[1]!], rate: words[3]!, kinds: words[5]! }, noFile);
    expect(again).toEqual(plan);
  });

  test('--fault-kinds without --fault-rate is refused', () => {
    expect(usageErrorOf(() => planFaults({ specs: [], kinds: 'eio' }, noFile)).message).toBe(
      '--fault-kinds chooses the kinds of random faults, but --fault-rate is not given',
    );
  });

  test('a bad spec in the file is reported at file:line:col', () => {
    expect(() => planFaults({ specs: [], file: 'f.txt' }, () => 'enospc@op=1\neio@op=0\n')).toThrow("f.txt:2:8: op=0: ops are counted from 1 (expected an integer >= 1)");
  });
});
