import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineSplitter, isGzipPath, lineLengthMaxChars, lineTextBounds, peekLines, readByteLineBatches, readLineBatches, readLines } from '../../src/trace/lines.js';
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

/** The lines readByteLineBatches gives, cleaned by lineTextBounds and decoded, as readLines numbers them. */
async function byteLinesOf(path: string): Promise<{ lines: Array<[number, string]>; batches: number }> {
  const lines: Array<[number, string]> = [];
  const bounds = new Int32Array(2);
  let batches = 0;
  for await (const { bytes, firstLine } of readByteLineBatches(path)) {
    batches++;
    let line = firstLine;
    let start = 0;
    while (start < bytes.length) {
      let end = bytes.indexOf(10, start);
      if (end < 0) end = bytes.length;
      lineTextBounds(bytes, start, end, line, path, bounds);
      lines.push([line, bytes.toString('utf8', bounds[0], bounds[1])]);
      line++;
      start = end + 1;
    }
  }
  return { lines, batches };
}

describe('readByteLineBatches', () => {
  test.each([
    ['BOM, CRLF, blank lines, no final newline', '\uFEFFfirst\r\n\nthird\nfourth'],
    ['a final newline, a lone CR line', 'x\r\n\r\ny\n'],
    ['an empty file', ''],
    ['one unterminated line', 'only'],
    ['a BOM on line 2 stays', 'a\n\uFEFFb\n'],
    ['bad UTF-8 bytes', 'ok\n\udc80\n'],
  ])('gives the lines readLines gives: %s', async (_name, text) => {
    const path = temp.write('bytes.txt', text);
    expect((await byteLinesOf(path)).lines).toEqual(await linesOf(path));
  });

  test('invalid UTF-8 decodes per line as the streaming decoder does', async () => {
    const path = join(temp.dir, 'invalid.txt');
    writeFileSync(path, Buffer.from([0x61, 0xc3, 0x0a, 0xe2, 0x82, 0x62, 0x0a, 0xff, 0x0a]));
    expect((await byteLinesOf(path)).lines).toEqual(await linesOf(path));
  });

  test('chunks cut after their last newline, lines carried across, multi-byte characters intact, gzip too', async () => {
    const lineCount = 60_000;
    const text = Array.from({ length: lineCount }, (_, index) => `line ${index} é€`).join('\n') + '\n';
    for (const path of [temp.write('bigbytes.txt', text), temp.writeGz('bigbytes.txt.gz', text)]) {
      const { lines, batches } = await byteLinesOf(path);
      expect(batches).toBeGreaterThan(1);
      expect(lines).toEqual(await linesOf(path));
    }
  });

  test('a line over the limit is a TraceError with its line number, as from readLines', async () => {
    const path = temp.write('long.txt', `short\n${'x'.repeat(lineLengthMaxChars + 1)}\nafter\n`);
    const error = await traceErrorOf(byteLinesOf(path));
    expect(error.message).toBe((await traceErrorOf(linesOf(path))).message);
    expect(error.message).toContain(':2');
    // Multi-byte characters: more bytes than the limit, fewer characters: accepted.
    const wide = temp.write('wide.txt', `${'\u00e9'.repeat(lineLengthMaxChars / 2 + 10)}\n`);
    expect((await byteLinesOf(wide)).lines).toEqual(await linesOf(wide));
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
