/**
 * The fio iolog parser against the regex-based one it replaced
 * (fio-reference.ts): seeded random lines, well-formed and broken (odd
 * whitespace, unknown actions, bad numbers, extra or missing operands,
 * comments), must give the same ops, the same source positions and the same
 * error messages, line by line.
 */
import { FioIologParser } from '../../src/trace/fio.js';
import type { TraceOp } from '../../src/trace/types.js';
import { Prng } from '../../src/util/prng.js';
import { ReferenceFioIologParser } from './fio-reference.js';

const names = ['/mnt/t/data.bin', '/mnt/t/other.bin', 'a', 'b#c', 'caf\u00e9'];
const actions = ['add', 'open', 'close', 'read', 'write', 'sync', 'datasync', 'trim', 'wait', 'writes', 'wri', 'Write', ''];
const numbers = ['0', '4096', '123456789', '9007199254740993', '12345678901234567', '-1', '4k', '0x10', '007'];
const spaces = [' ', ' ', ' ', '  ', '\t', '\u00a0', '\u3000', '\u2028', '\ufeff', '\v'];

function pick<T>(random: Prng, items: readonly T[]): T {
  return items[random.nextInt(items.length)]!;
}

function randomLine(random: Prng, version: number): string {
  if (random.nextInt(3) === 0) {
    // The common line (single spaces, one file), now and then with a bad or odd number.
    const number = (): string => (random.nextInt(20) === 0 ? pick(random, numbers) : String(random.nextInt(1 << 20) * 512));
    const stamp = version === 3 ? `${random.nextInt(20) === 0 ? pick(random, numbers) : random.nextInt(1e6)} ` : '';
    return `${stamp}${names[random.nextInt(8) === 0 ? 1 : 0]} ${pick(random, ['write', 'read', 'write', 'read', 'trim'])} ${number()} ${number()}`;
  }
  if (random.nextInt(25) === 0) return pick(random, ['', '   ', '# a comment', '\t#x', 'fio version 3 iolog']);
  const words: string[] = [];
  if (version === 3) words.push(random.nextInt(10) === 0 ? pick(random, numbers) : String(random.nextInt(1e6)));
  words.push(pick(random, names));
  words.push(pick(random, actions));
  const operands = random.nextInt(6) === 0 ? random.nextInt(5) : 2;
  for (let index = 0; index < operands; index++) words.push(random.nextInt(8) === 0 ? pick(random, numbers) : String(random.nextInt(1 << 20) * 512));
  let text = random.nextInt(10) === 0 ? pick(random, spaces) : '';
  for (const word of words) text += (text.length > 0 ? pick(random, spaces) : '') + word;
  return random.nextInt(10) === 0 ? text + pick(random, spaces) : text;
}

function attempt(parse: (out: TraceOp[]) => void): { ops: TraceOp[]; error?: string } {
  const out: TraceOp[] = [];
  try {
    parse(out);
    return { ops: out };
  } catch (error) {
    return { ops: out, error: (error as Error).message };
  }
}

describe('FioIologParser matches the regex-based reference', () => {
  test.each([[2, 1], [3, 2], [2, 3], [3, 4]])('version %i, seed %i: 20000 random lines', (version, seed) => {
    const random = new Prng(seed);
    const parser = new FioIologParser('fuzz.log');
    // The same lines fed as bytes: the fast path where it takes the line, parseLine for the rest.
    const byteParser = new FioIologParser('fuzz.log');
    let fast = 0;
    const reference = new ReferenceFioIologParser('fuzz.log');
    const lines = [`fio version ${version} iolog`, ...names.map((name) => (version === 3 ? `0 ${name} add` : `${name} add`))];
    for (let index = 0; index < 20000; index++) lines.push(randomLine(random, version));
    let errors = 0;
    lines.forEach((text, index) => {
      const got = attempt((out) => parser.parseLine(text, index + 1, out));
      const expected = attempt((out) => reference.parseLine(text, index + 1, out));
      if (expected.error !== undefined) errors++;
      expect({ line: index + 1, text, ...got }).toEqual({ line: index + 1, text, ...expected });
      const bytes = Buffer.from(`#${text}\n`, 'utf8');
      const viaBytes = attempt((out) => {
        if (byteParser.parseLineBytes(bytes, 1, bytes.length - 1, index + 1, out)) fast++;
        else byteParser.parseLine(text, index + 1, out);
      });
      expect({ line: index + 1, text, ...viaBytes }).toEqual({ line: index + 1, text, ...expected });
    });
    const finished = attempt((out) => reference.finish(out));
    expect(attempt((out) => parser.finish(out))).toEqual(finished);
    expect(attempt((out) => byteParser.finish(out))).toEqual(finished);
    expect(fast).toBeGreaterThan(1000);
    // The lines exercise both paths: many parse, many fail.
    expect(errors).toBeGreaterThan(1000);
    expect(errors).toBeLessThan(18000);
  });
});
