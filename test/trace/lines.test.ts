import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineSplitter, isGzipPath, peekLines, readLineBatches, readLines } from '../../src/trace/lines.js';
import { makeTempDir, traceErrorOf } from './helpers.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());

async function linesOf(path: string): Promise<Array<[number, string]>> {
  const result: Array<[number, string]> = [];
  for await (const { text, line } of readLines(path)) result.push([line, text]);
  return result;
}

describe('readLines', () => {
  test('numbers physical lines from 1, strips CR and the BOM, keeps blank lines', async () => {
    const path = temp.write('a.txt', '\uFEFFfirst\r\n\nthird\nfourth');
    expect(await linesOf(path)).toEqual([
      [1, 'first'],
      [2, ''],
      [3, 'third'],
      [4, 'fourth'],
    ]);
  });

  test('a final newline does not make an extra empty line; an empty file has none', async () => {
    expect(await linesOf(temp.write('b.txt', 'x\ny\n'))).toEqual([
      [1, 'x'],
      [2, 'y'],
    ]);
    expect(await linesOf(temp.write('empty.txt', ''))).toEqual([]);
  });

  test('gunzips .gz input transparently', async () => {
    const path = temp.writeGz('c.txt.gz', 'one\ntwo\nthree\n');
    expect(await linesOf(path)).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
  });

  test('streams a file larger than one read chunk, with multi-byte characters across chunk edges', async () => {
    const lineCount = 60_000;
    const text = Array.from({ length: lineCount }, (_, index) => `line ${index} é€`).join('\n') + '\n';
    const path = temp.write('big.txt', text);
    let count = 0;
    let batches = 0;
    for await (const batch of readLineBatches(path)) {
      batches++;
      batch.lines.forEach((line, index) => {
        expect(line).toBe(`line ${batch.firstLine + index - 1} é€`);
      });
      count += batch.lines.length;
    }
    expect(count).toBe(lineCount);
    expect(batches).toBeGreaterThan(1);
  });

  test('a missing file is a TraceError naming the display name', async () => {
    const error = await traceErrorOf(linesOf(join(temp.dir, 'nope.txt')));
    expect(error.message).toBe(`${join(temp.dir, 'nope.txt')}: no such file`);
    const named = await traceErrorOf(peekLines(join(temp.dir, 'nope.txt'), 3, 'shown.xio'));
    expect(named.message).toBe('shown.xio: no such file');
  });

  test('a .gz name holding plain text is a TraceError about gzip', async () => {
    const path = join(temp.dir, 'plain.xio.gz');
    writeFileSync(path, 'not gzip at all\n');
    const error = await traceErrorOf(linesOf(path));
    expect(error.message).toMatch(/^.*plain\.xio\.gz: not a valid gzip file \(/);
    expect(error.hint).toContain('gzip');
  });
});

describe('peekLines', () => {
  test('returns only the first N lines, or fewer for a short file', async () => {
    const path = temp.write('peek.txt', 'a\nb\nc\nd\n');
    expect(await peekLines(path, 2)).toEqual(['a', 'b']);
    expect(await peekLines(path, 10)).toEqual(['a', 'b', 'c', 'd']);
    expect(await peekLines(path, 0)).toEqual([]);
  });
});

describe('LineSplitter', () => {
  test('joins a line split across pushes and numbers lines continuously', () => {
    const splitter = new LineSplitter('t');
    expect(splitter.push('ab')).toEqual({ lines: [], firstLine: 1 });
    expect(splitter.push('c\nde')).toEqual({ lines: ['abc'], firstLine: 1 });
    expect(splitter.push('\n\nf')).toEqual({ lines: ['de', ''], firstLine: 2 });
    expect(splitter.finish('')).toEqual({ lines: ['f'], firstLine: 4 });
  });
});

test('isGzipPath looks at the extension only', () => {
  expect(isGzipPath('t.xio.gz')).toBe(true);
  expect(isGzipPath('T.CSV.GZ')).toBe(true);
  expect(isGzipPath('t.xio')).toBe(false);
  expect(isGzipPath('.gz')).toBe(false);
});
