import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFormat, openTrace, traceFormatNames, traceReaders } from '../../src/trace/detect.js';
import { REPO_DIR, collect, countKinds, makeTempDir, traceErrorOf } from './helpers.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());

const HEADER = 'time_us,handle,op,path,offset,length,flags,arg';
const xioText = '# a comment\n\ndata.bin: -f -c "pwrite 0 4k"\n';
const csvText = `# a comment\n${HEADER}\n0,,sync,,,,,\n`;

describe('detectFormat', () => {
  test('by extension first, also under .gz, whatever the content', async () => {
    expect(await detectFormat(temp.write('x.xio', csvText))).toBe('xio');
    expect(await detectFormat(temp.write('x.CSV', xioText))).toBe('csv');
    expect(await detectFormat(temp.writeGz('y.xio.gz', csvText))).toBe('xio');
    expect(await detectFormat(temp.writeGz('y.csv.gz', xioText))).toBe('csv');
  });

  test('by sniffing the first significant lines otherwise', async () => {
    expect(await detectFormat(temp.write('a.trace', xioText))).toBe('xio');
    expect(await detectFormat(temp.write('b.trace', '# c\n@mkdir d\n'))).toBe('xio');
    expect(await detectFormat(temp.write('c.txt', csvText))).toBe('csv');
    expect(await detectFormat(temp.writeGz('d.gz', csvText))).toBe('csv');
    expect(await detectFormat(temp.write('e', 'time_us, handle, op, path, offset, length, flags, arg\n'))).toBe('csv');
  });

  test('unknown content: a TraceError listing every format with an example line', async () => {
    const path = temp.write('mystery.log', 'hello world\n1,2,3\n');
    const error = await traceErrorOf(detectFormat(path, 'mystery.log'));
    expect(error.message).toBe(
      `mystery.log: unknown trace format (expected one of: ${traceReaders.map((entry) => `${entry.format} (e.g. '${entry.exampleLine.trim()}')`).join('; ')})`,
    );
    expect(error.message).toContain(`csv (e.g. '${HEADER}')`);
    expect(error.message).toContain("fio (e.g. 'fio version 3 iolog')");
    expect(error.hint).toBe('name the format with --format xio|csv|strace|blkparse|fio|msr|alibaba|tencent, or use a .xio/.csv extension');
    const empty = await traceErrorOf(detectFormat(temp.write('empty.dat', ''), 'empty.dat'));
    expect(empty.message).toMatch(/^empty\.dat: unknown trace format/);
  });
});

describe('openTrace', () => {
  test('auto-detects and streams traces/demo.xio and traces/demo.csv', async () => {
    const xio = await openTrace(join(REPO_DIR, 'traces/demo.xio'), { displayName: 'demo.xio' });
    expect(xio.format).toBe('xio');
    const xioOps = await collect(xio.ops);
    expect(countKinds(xioOps)).toEqual({ mkdir: 1, open: 6, write: 20, fsync: 5, close: 6, snapshot: 1, fallocate: 2, truncate: 1 });
    expect(xioOps[0]!.src.file).toBe('demo.xio');
    const csv = await openTrace(join(REPO_DIR, 'traces/demo.csv'));
    expect(csv.format).toBe('csv');
    expect(countKinds(await collect(csv.ops))).toEqual({
      mkdir: 1, open: 6, write: 12, fsync: 5, close: 6, fallocate: 2, rename: 1, truncate: 1, snapshot: 1,
    });
  });

  test('a forced format wins over the extension', async () => {
    const path = temp.write('really-csv.xio', csvText);
    const trace = await openTrace(path, { format: 'csv' });
    expect(trace.format).toBe('csv');
    expect(countKinds(await collect(trace.ops))).toEqual({ sync: 1 });
  });

  test('a missing file or a directory is a TraceError before any parsing', async () => {
    const missing = await traceErrorOf(openTrace(join(temp.dir, 'nope.xio'), { displayName: 'nope.xio' }));
    expect(missing.message).toBe('nope.xio: no such file');
    mkdirSync(join(temp.dir, 'dir.xio'));
    const directory = await traceErrorOf(openTrace(join(temp.dir, 'dir.xio'), { displayName: 'dir.xio' }));
    expect(directory.message).toBe('dir.xio: not a regular file');
  });

  test('the reader table lists each format once with its extension', () => {
    expect(traceFormatNames()).toEqual(['xio', 'csv', 'strace', 'blkparse', 'fio', 'msr', 'alibaba', 'tencent']);
    // The CSV block formats share .csv with ours; content decides between them, and ours wins otherwise.
    expect(traceReaders.map((entry) => entry.extensions)).toEqual([['.xio'], ['.csv'], ['.strace'], [], [], ['.csv'], ['.csv'], ['.csv']]);
    for (const entry of traceReaders) {
      expect(entry.sniff([entry.exampleLine])).toBe(true);
    }
  });
});

test('traces/README.md mentions every sample trace', () => {
  const readme = readFileSync(join(REPO_DIR, 'traces/README.md'), 'utf8');
  expect(readme).toContain('`demo.xio`');
  expect(readme).toContain('`demo.csv`');
});
