import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseWithCsvParse } from 'csv-parse/sync';
import { CsvRecordSplitter, csvGeneratedFdBase, formatCsvHeader, formatCsvOp, parseCsvNumber, readCsv } from '../../src/trace/csv.js';
import type { FallocMode, OpenFlags, TraceOp, TraceOpKind } from '../../src/trace/types.js';
import { REPO_DIR, collect, countKinds, makeTempDir, traceErrorOf, withoutSrc } from './helpers.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());

const HEADER = 'time_us,handle,op,path,offset,length,flags,arg';
let fileCounter = 0;
/** Parses CSV text through a real file (readCsv streams from disk). */
async function parseCsv(text: string, displayName = 'trace.csv'): Promise<TraceOp[]> {
  const path = temp.write(`t${fileCounter++}.csv`, text);
  return collect(readCsv(path, displayName));
}
const csvError = async (text: string) => traceErrorOf(parseCsv(text));
const rows = (...lines: string[]) => [HEADER, ...lines].join('\n') + '\n';

const noFlags: OpenFlags = { create: false, truncate: false, direct: false, sync: false, dsync: false, append: false, readOnly: false };

describe('readCsv', () => {
  test('traces/demo.csv: explicit handles, implicit per-path handles and their opens/closes', async () => {
    const ops = await collect(readCsv(join(REPO_DIR, 'traces/demo.csv'), 'demo.csv'));
    const named = csvGeneratedFdBase;
    const summary = ops.map((op) => {
      switch (op.kind) {
        case 'open':
          return `open ${op.path} ${op.fd - named}`;
        case 'close':
          return `close ${op.fd - named}`;
        case 'write':
          return `write ${op.fd - named} ${op.offset}+${op.length}`;
        default:
          return op.kind;
      }
    });
    expect(summary).toEqual([
      'mkdir',
      'open csv/app.log 0',
      'write 0 null+16384',
      'write 0 null+16384',
      'fsync',
      'write 0 null+16384',
      'write 0 null+16384',
      'fsync',
      'close 0',
      'open csv/holes.dat 1',
      'write 1 0+8192',
      'write 1 524288+16384',
      'write 1 2097152+4096',
      'open csv/pre.bin 2',
      'fallocate',
      'write 2 65536+32768',
      'fsync',
      'close 2',
      'open csv/punch.bin 3',
      'write 3 0+262144',
      'fsync',
      'fallocate',
      'fsync',
      'open csv/dio.bin 4',
      'write 4 0+65536',
      'write 4 131072+32768',
      'close 4',
      'open csv/tmp.bin 5',
      'write 5 0+12288',
      'close 5',
      'rename',
      'truncate',
      'snapshot',
      'close 1',
      'close 3',
    ]);
    const byLine = (line: number) => ops.filter((op) => op.src.line === line);
    expect(byLine(14)[0]).toMatchObject({ kind: 'open', timeUs: 100, flags: { ...noFlags, create: true, append: true } });
    expect(byLine(22)[0]).toMatchObject({ kind: 'open', timeUs: 200, flags: { ...noFlags, create: true } });
    expect(byLine(22)[1]).toMatchObject({ kind: 'write', timeUs: 200, fill: 0x68 });
    expect(byLine(26)[0]).toMatchObject({ kind: 'fallocate', mode: 'allocate', keepSize: true, offset: 0, length: 262144 });
    expect(byLine(32)[0]).toMatchObject({ kind: 'fallocate', mode: 'punch', keepSize: true, offset: 65536, length: 65536 });
    expect(byLine(36)[0]).toMatchObject({ kind: 'write', dsync: true, fill: 0x73 });
    expect(byLine(39)).toEqual([
      expect.objectContaining({ kind: 'close', timeUs: 610 }),
      expect.objectContaining({ kind: 'rename', from: 'csv/tmp.bin', to: 'csv/final.bin' }),
    ]);
    expect(byLine(40)[0]).toMatchObject({ kind: 'truncate', path: 'csv/final.bin', size: 5000 });
    expect(byLine(40)[0]).not.toHaveProperty('fd');
    const lastLine = ops[ops.length - 1]!;
    expect(lastLine).toMatchObject({ kind: 'close', src: { file: 'demo.csv', line: 41 }, timeUs: 700 });
  });

  test('the example in docs/trace-csv.md parses as described', async () => {
    const doc = readFileSync(join(REPO_DIR, 'docs/trace-csv.md'), 'utf8');
    const example = /```csv\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const ops = await parseCsv(example!);
    expect(ops.map((op) => op.kind)).toEqual([
      'mkdir',
      'open',
      'write',
      'write',
      'fsync',
      'close',
      'open',
      'write',
      'fallocate',
      'close',
      'rename',
      'truncate',
      'snapshot',
    ]);
  });

  test('comments, blank lines, blanks around fields, short rows and quoted fields', async () => {
    const text = ['# comment', '', HEADER, '  # indented comment', ' 5 , h , open , "a, \\"b\\".bin" ,,, create ,', ',h,write,,0,4k,,0x41', ',,sync', ',h,close'].join('\n');
    const ops = await parseCsv(text.replace(/\\"/g, '""'));
    expect(ops.map((op) => op.kind)).toEqual(['open', 'write', 'sync', 'close']);
    expect(ops[0]).toMatchObject({ path: 'a, "b".bin', timeUs: 5, src: { line: 5 } });
    expect(ops[1]).not.toHaveProperty('timeUs');
  });

  test('unlink and rename close the implicit handle of their path first; remount closes all of them', async () => {
    const ops = await parseCsv(rows(',,write,a,0,1,,', ',,write,b,0,1,,', ',,unlink,a,,,,', ',,write,a,0,1,,', ',,remount,,,,,', ',,write,b,0,1,,'));
    expect(ops.map((op) => (op.kind === 'open' || op.kind === 'close' || op.kind === 'write' ? `${op.kind} ${op.fd - csvGeneratedFdBase}` : op.kind))).toEqual([
      'open 0',
      'write 0',
      'open 1',
      'write 1',
      'close 0',
      'unlink',
      'open 2',
      'write 2',
      'close 1',
      'close 2',
      'remount',
      'open 3',
      'write 3',
      'close 3',
    ]);
  });

  test('numeric handles are the fd numbers themselves; copy_range names its source handle', async () => {
    const ops = await parseCsv(rows(',3,open,src,,,rdonly,', ',4,open,dst,,,create|trunc,', ',4,copy_range,,8k,16k,,3@4k', ',4,copy_range,,,1,,3', ',3,seek,,-10,,,end'));
    expect(ops[0]).toMatchObject({ kind: 'open', fd: 3, flags: { ...noFlags, readOnly: true } });
    expect(ops[2]).toMatchObject({ kind: 'copyRange', srcFd: 3, fd: 4, srcOffset: 4096, dstOffset: 8192, length: 16384 });
    expect(ops[3]).toMatchObject({ kind: 'copyRange', srcFd: 3, fd: 4, srcOffset: null, dstOffset: null, length: 1 });
    expect(ops[4]).toMatchObject({ kind: 'seek', fd: 3, offset: -10, whence: 'end' });
  });

  test('reads .csv.gz', async () => {
    const path = temp.writeGz('g.csv.gz', rows(',,mkdir,d,,,,', ',,sync,,,,,'));
    expect(countKinds(await collect(readCsv(path)))).toEqual({ mkdir: 1, sync: 1 });
  });
});

describe('CSV errors name file:line:field and what was expected', () => {
  test('missing header, with the expected header in the message', async () => {
    const error = await csvError('# comment\n0,,sync,,,,,\n');
    expect(error.message).toBe(`trace.csv:2: missing header (expected '${HEADER}' as the first line that is not a comment)`);
    expect((await csvError('# only a comment\n')).message).toBe(`trace.csv:1: missing header: the file has no rows (expected '${HEADER}')`);
  });

  test('unknown op, at field 3', async () => {
    const error = await csvError(['# a', '# b', HEADER, ',,sync', '', ',,sync', ',h,wirte,,0,4k,,'].join('\n'));
    expect(error.message).toBe(
      'trace.csv:7:3: unknown op \'wirte\' (expected one of open, close, write, read, seek, falloc, punch, zero, collapse, insert, unshare, truncate, fsync, fdatasync, sync, syncfs, sync_range, mwrite, reflink, copy_range, mkdir, rename, unlink, remount, drop_caches, snapshot, fiemap, ignored)',
    );
  });

  test('bad numbers, time, flags and fill bytes, each with its field number', async () => {
    expect((await csvError(rows(',,write,a,12q,4k,,'))).message).toBe("trace.csv:2:5: bad offset '12q' for write (expected bytes: 4096, 0x1000, 4k, 1m)");
    expect((await csvError(rows(',,write,a,0,,,'))).message).toBe('trace.csv:2:6: missing length for write (expected bytes: 4096, 0x1000, 4k, 1m)');
    expect((await csvError(rows('1.5,,sync'))).message).toBe("trace.csv:2:1: bad time_us '1.5' (expected microseconds since the trace start, e.g. 1500)");
    const flag = await csvError(rows(',,write,a,0,1,direct,'));
    expect(flag.message).toBe("trace.csv:2:7: bad flag 'direct' for write (expected one of dsync)");
    expect(flag.hint).toContain('explicit handle');
    expect((await csvError(rows(',,write,a,0,1,,0x100'))).message).toBe("trace.csv:2:8: bad fill byte '0x100' (expected 0x00..0xff)");
    expect((await csvError(rows(',,fsync,a,,4k,,'))).message).toBe('trace.csv:2:6: fsync takes no length (expected an empty field)');
  });

  test('handle errors', async () => {
    expect((await csvError(rows(',h2,write,,0,1,,'))).message).toBe("trace.csv:2:2: handle 'h2' is not open (expected an open row for it first)");
    expect((await csvError(rows(',h,open,a,,,,', ',h,open,b,,,,'))).message).toBe(
      "trace.csv:3:2: handle 'h' is already open (expected a close row before reopening it)",
    );
    expect((await csvError(rows(',h,open,a,,,,', ',h,write,a,0,1,,'))).message).toBe(
      'trace.csv:3:4: write has both a handle and a path (expected only one of them)',
    );
    expect((await csvError(rows(',,write,,0,1,,'))).message).toBe('trace.csv:2:2: write needs a handle or a path (expected one of them)');
    expect((await csvError(rows(',h,sync,,,,,'))).message).toBe('trace.csv:2:2: sync takes no handle (expected an empty handle field)');
  });

  test('too many fields and broken quoting', async () => {
    expect((await csvError(rows(',,sync,,,,,,extra'))).message).toBe(`trace.csv:2:9: 9 fields, at most 8 allowed (expected ${HEADER})`);
    const unclosed = await csvError(rows(',,sync', ',,mkdir,"unclosed,,,,', ',,sync'));
    expect(unclosed.message).toBe('trace.csv:3: bad CSV: a quoted field is not closed before the end of the file (expected a closing ")');
    const stray = await csvError(rows(',,mkdir,x "a",,,,'));
    expect(stray.message).toMatch(/^trace\.csv:2: bad CSV: Invalid Opening Quote: .* \(expected RFC 4180 quoting: "a ""quoted"" field"\)$/);
  });

  test('a quoted record spanning lines is one record, positioned at its first line', async () => {
    const ops = await parseCsv(rows(',,mkdir,"two', 'lines",,,,', ',,sync'));
    expect(ops).toEqual([
      { kind: 'mkdir', src: { file: 'trace.csv', line: 2 }, path: 'two\nlines' },
      { kind: 'sync', src: { file: 'trace.csv', line: 4 }, scope: 'all' },
    ]);
  });

  test('a missing file', async () => {
    const error = await traceErrorOf(collect(readCsv(join(temp.dir, 'absent.csv'), 'absent.csv')));
    expect(error.message).toBe('absent.csv: no such file');
  });
});

describe('CsvRecordSplitter', () => {
  test('property: lines without quotes split exactly as csv-parse splits them (fixed seed)', () => {
    const unit = fc.constantFrom('a', 'b', '0', ',', ' ', '\t', '\f', '#', '|', '@', '\u00a0', '\u2003', 'é');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 24 }), (line) => {
        const splitter = new CsvRecordSplitter('t.csv');
        const fields = splitter.feed(line, 1);
        const reference = parseWithCsvParse(line, {
          comment: '#',
          comment_no_infix: true,
          skip_empty_lines: true,
          trim: true,
          relax_column_count: true,
        }) as string[][];
        expect(fields === null ? [] : [fields]).toEqual(reference);
      }),
      { seed: 4242, numRuns: 2000 },
    );
  });

  test('a record with quotes goes to csv-parse once its quotes balance', () => {
    const splitter = new CsvRecordSplitter('t.csv');
    expect(splitter.feed('1,"a', 5)).toBeNull();
    expect(splitter.feed('b "" c', 6)).toBeNull();
    expect(splitter.feed('d", x ', 7)).toEqual(['1', 'a\nb " c\nd', 'x']);
    expect(splitter.recordLine).toBe(5);
    expect(splitter.feed('  # "a comment', 8)).toBeNull();
    expect(() => splitter.finish()).not.toThrow();
  });
});

describe('parseCsvNumber', () => {
  test.each([
    ['0', 0],
    ['4096', 4096],
    ['4k', 4096],
    ['4K', 4096],
    ['2m', 2 * 1024 * 1024],
    ['1g', 2 ** 30],
    ['1t', 2 ** 40],
    ['0x1000', 4096],
    ['0x10k', 16 * 1024],
    ['007', 7],
  ])('%s = %d', (text, value) => {
    expect(parseCsvNumber(text, false)).toBe(value);
  });

  test.each(['', 'k', '-1', '1.5', '0x', '12q', '1e3', ' 1'])('%j is refused', (text) => {
    expect(parseCsvNumber(text, false)).toBeNull();
  });

  test('signed numbers only where asked', () => {
    expect(parseCsvNumber('-4k', true)).toBe(-4096);
    expect(parseCsvNumber('-', true)).toBeNull();
    expect(parseCsvNumber('-4k', false)).toBeNull();
  });
});

describe('formatCsvOp / readCsv round trip', () => {
  const allKinds: TraceOpKind[] = [
    'open', 'close', 'write', 'read', 'seek', 'fallocate', 'truncate', 'fsync', 'sync', 'syncRange',
    'mmapWrite', 'reflink', 'copyRange', 'mkdir', 'rename', 'unlink', 'remount', 'dropCaches', 'snapshot', 'fiemap',
  ];
  const src = { file: 'x', line: 1 };

  /** One op of every kind, with awkward paths (comma, quote, '#', '@', blanks, line break). */
  const everyKind: TraceOp[] = [
    { kind: 'open', src, timeUs: 0, fd: 3, path: 'a,b "c".bin', flags: { ...noFlags, create: true, truncate: true, direct: true, append: true } },
    { kind: 'open', src, fd: 4, path: '#not a comment', flags: { ...noFlags, sync: true, dsync: true, readOnly: true } },
    { kind: 'write', src, timeUs: 10, fd: 3, offset: 4096, length: 8192, fill: 0x51 },
    { kind: 'write', src, fd: 3, offset: null, length: 1, dsync: true },
    { kind: 'read', src, fd: 4, offset: null, length: 100 },
    { kind: 'read', src, fd: 4, offset: 2 ** 40, length: 100 },
    { kind: 'seek', src, fd: 4, offset: -5, whence: 'cur' },
    { kind: 'seek', src, fd: 4, offset: 0, whence: 'hole' },
    { kind: 'fallocate', src, fd: 3, mode: 'allocate', keepSize: true, offset: 0, length: 1 << 20 },
    { kind: 'fallocate', src, fd: 3, mode: 'punch', keepSize: true, offset: 0, length: 4096 },
    { kind: 'fallocate', src, fd: 3, mode: 'collapse', keepSize: false, offset: 0, length: 4096 },
    { kind: 'truncate', src, fd: 3, size: 12345 },
    { kind: 'truncate', src, path: ' spaced path ', size: 0 },
    { kind: 'fsync', src, fd: 3, dataOnly: false },
    { kind: 'fsync', src, fd: 3, dataOnly: true },
    { kind: 'sync', src, scope: 'all' },
    { kind: 'sync', src, scope: 'fs' },
    { kind: 'syncRange', src, fd: 3, offset: 4096, length: 4096 },
    { kind: 'mmapWrite', src, fd: 3, offset: 100, length: 200, fill: 0x58 },
    { kind: 'mmapWrite', src, fd: 3, offset: 100, length: 200 },
    { kind: 'reflink', src, fd: 4, srcPath: 'user@host.img', srcOffset: 0, dstOffset: 0, length: 0 },
    { kind: 'reflink', src, fd: 4, srcPath: 's.img', srcOffset: 65536, dstOffset: 4096, length: 8192 },
    { kind: 'copyRange', src, srcFd: 3, fd: 4, srcOffset: null, dstOffset: 10, length: 20 },
    { kind: 'copyRange', src, srcFd: 3, fd: 4, srcOffset: 7, dstOffset: null, length: 20 },
    { kind: 'mkdir', src, path: 'dir\nwith newline' },
    { kind: 'rename', src, from: 'a', to: 'b,c' },
    { kind: 'unlink', src, path: 'b,c' },
    { kind: 'remount', src, timeUs: 99 },
    { kind: 'dropCaches', src },
    { kind: 'snapshot', src, label: 'after "x"' },
    { kind: 'fiemap', src, fd: 4 },
    { kind: 'close', src, fd: 3 },
  ];

  async function roundTrip(ops: readonly TraceOp[], handleName?: (fd: number) => string): Promise<TraceOp[]> {
    const text = [formatCsvHeader(), ...ops.map((op) => formatCsvOp(op, handleName))].join('\n') + '\n';
    return parseCsv(text);
  }

  test('the fixed list covers every TraceOp kind and reads back identically (except src)', async () => {
    expect(new Set(everyKind.map((op) => op.kind))).toEqual(new Set(allKinds));
    const back = await roundTrip(everyKind);
    expect(back.map(withoutSrc)).toEqual(everyKind.map(withoutSrc));
  });

  test('formats a write as documented', () => {
    expect(formatCsvOp({ kind: 'write', src, timeUs: 7, fd: 3, offset: 0, length: 4096, fill: 0x5, dsync: true })).toBe('7,3,write,,0,4096,dsync,0x05');
    expect(formatCsvOp({ kind: 'rename', src, from: 'x y', to: ' z' })).toBe(',,rename,x y,,,," z"');
    expect(formatCsvHeader()).toBe(HEADER);
  });

  test('named handles from a handleName function read back with generated fds, consistently', async () => {
    const ops: TraceOp[] = [
      { kind: 'open', src, fd: 7, path: 'p', flags: noFlags },
      { kind: 'write', src, fd: 7, offset: 0, length: 1 },
      { kind: 'close', src, fd: 7 },
    ];
    const back = await roundTrip(ops, (fd) => `file${fd}`);
    expect(back.map((op) => ('fd' in op ? op.fd : -1))).toEqual([csvGeneratedFdBase, csvGeneratedFdBase, csvGeneratedFdBase]);
  });

  test('property: random ops of every kind survive format + parse (fixed seed)', async () => {
    const pathUnit = fc.constantFrom('a', 'b', 'Z', '/', '.', ',', '"', ' ', '\u00a0', '\t', '#', '@', '\n', 'é', '-', '_', '0');
    const path = fc.string({ unit: pathUnit, minLength: 1, maxLength: 12 });
    const fd = fc.integer({ min: 0, max: 2_000_000 });
    const bytes = fc.integer({ min: 0, max: 2 ** 50 });
    const nullableBytes = fc.option(bytes, { nil: null });
    const time = fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined });
    const flags = fc.record<OpenFlags>({
      create: fc.boolean(), truncate: fc.boolean(), direct: fc.boolean(), sync: fc.boolean(),
      dsync: fc.boolean(), append: fc.boolean(), readOnly: fc.boolean(),
    });
    const mode = fc.constantFrom<FallocMode>('allocate', 'punch', 'zero', 'collapse', 'insert', 'unshare');
    const withTime = <T extends object>(arbitrary: fc.Arbitrary<T>) =>
      fc.tuple(arbitrary, time).map(([op, timeUs]) => (timeUs === undefined ? op : { ...op, timeUs }) as unknown as TraceOp);
    const op: fc.Arbitrary<TraceOp> = fc.oneof(
      withTime(fc.record({ kind: fc.constant('open' as const), src: fc.constant(src), fd, path, flags })),
      withTime(fc.record({ kind: fc.constant('close' as const), src: fc.constant(src), fd })),
      withTime(
        fc.record(
          { kind: fc.constant('write' as const), src: fc.constant(src), fd, offset: nullableBytes, length: bytes, fill: fc.integer({ min: 0, max: 255 }), dsync: fc.constant(true as const) },
          { requiredKeys: ['kind', 'src', 'fd', 'offset', 'length'] },
        ),
      ),
      withTime(fc.record({ kind: fc.constant('read' as const), src: fc.constant(src), fd, offset: nullableBytes, length: bytes })),
      withTime(fc.record({ kind: fc.constant('seek' as const), src: fc.constant(src), fd, offset: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), whence: fc.constantFrom('set' as const, 'cur' as const, 'end' as const, 'data' as const, 'hole' as const) })),
      withTime(
        fc.record({ kind: fc.constant('fallocate' as const), src: fc.constant(src), fd, mode, keepSize: fc.boolean(), offset: bytes, length: bytes }).map((f) =>
          f.mode === 'punch' ? { ...f, keepSize: true } : f,
        ),
      ),
      withTime(fc.oneof(fc.record({ kind: fc.constant('truncate' as const), src: fc.constant(src), fd, size: bytes }), fc.record({ kind: fc.constant('truncate' as const), src: fc.constant(src), path, size: bytes }))),
      withTime(fc.record({ kind: fc.constant('fsync' as const), src: fc.constant(src), fd, dataOnly: fc.boolean() })),
      withTime(fc.record({ kind: fc.constant('sync' as const), src: fc.constant(src), scope: fc.constantFrom('all' as const, 'fs' as const) })),
      withTime(fc.record({ kind: fc.constant('syncRange' as const), src: fc.constant(src), fd, offset: bytes, length: bytes })),
      withTime(fc.record({ kind: fc.constant('mmapWrite' as const), src: fc.constant(src), fd, offset: bytes, length: bytes, fill: fc.integer({ min: 0, max: 255 }) }, { requiredKeys: ['kind', 'src', 'fd', 'offset', 'length'] })),
      withTime(fc.record({ kind: fc.constant('reflink' as const), src: fc.constant(src), fd, srcPath: path, srcOffset: bytes, dstOffset: bytes, length: bytes })),
      withTime(fc.record({ kind: fc.constant('copyRange' as const), src: fc.constant(src), srcFd: fd, fd, srcOffset: nullableBytes, dstOffset: nullableBytes, length: bytes })),
      withTime(fc.record({ kind: fc.constant('mkdir' as const), src: fc.constant(src), path })),
      withTime(fc.record({ kind: fc.constant('rename' as const), src: fc.constant(src), from: path, to: path })),
      withTime(fc.record({ kind: fc.constant('unlink' as const), src: fc.constant(src), path })),
      withTime(fc.record({ kind: fc.constant('remount' as const), src: fc.constant(src) })),
      withTime(fc.record({ kind: fc.constant('dropCaches' as const), src: fc.constant(src) })),
      withTime(fc.record({ kind: fc.constant('snapshot' as const), src: fc.constant(src), label: path })),
      withTime(fc.record({ kind: fc.constant('fiemap' as const), src: fc.constant(src), fd })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const back = await roundTrip(ops);
        expect(back.map(withoutSrc)).toEqual(ops.map(withoutSrc));
      }),
      { seed: 20240611, numRuns: 150 },
    );
  });
});
