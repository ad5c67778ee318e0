import { join } from 'node:path';
import { detectFormat } from '../../src/trace/detect.js';
import { readFio, sniffFio } from '../../src/trace/fio.js';
import { replay } from '../../src/replay/replay.js';
import { REPO_DIR, collect, countKinds, makeTempDir, traceErrorOf, withoutSrc, asAsync, SAMPLES_DIR, createdFlags } from './helpers.js';

const SAMPLES = SAMPLES_DIR;
const temp = makeTempDir();
afterAll(() => temp.cleanup());

const created = createdFlags;

describe('fio iolog v2', () => {
  test('the hand-written sample: every action, wait advances the clock (ms since job start)', async () => {
    const ops = (await collect(readFio(join(SAMPLES, 'fio_iolog_v2_handwritten.log'), 'v2.log'))).map(withoutSrc);
    const file = '/mnt/iom_ext4/v2file';
    const expected: Record<string, unknown>[] = [
      { kind: 'open', timeUs: 0, fd: 3, path: file, flags: created },
      { kind: 'write', timeUs: 0, fd: 3, offset: 0, length: 4096 },
      { kind: 'write', timeUs: 0, fd: 3, offset: 4096, length: 8192 },
      { kind: 'read', timeUs: 200_000, fd: 3, offset: 0, length: 4096 },
      { kind: 'fsync', timeUs: 200_000, fd: 3, dataOnly: false },
      { kind: 'fsync', timeUs: 200_000, fd: 3, dataOnly: true },
      { kind: 'fallocate', timeUs: 200_000, fd: 3, mode: 'punch', keepSize: true, offset: 65536, length: 65536 },
      { kind: 'write', timeUs: 200_000, fd: 3, offset: 131072, length: 4096 },
      { kind: 'close', timeUs: 200_000, fd: 3 },
    ];
    expect(ops).toEqual(expected);
  });

  test('src points at the file name column of each line', async () => {
    const ops = await collect(readFio(join(SAMPLES, 'fio_iolog_v2_handwritten.log'), 'v2.log'));
    expect(ops[0]!.src).toEqual({ file: 'v2.log', line: 3, column: 1 });
    expect(ops[3]!.src).toEqual({ file: 'v2.log', line: 7, column: 1 });
  });

  test('a wait never moves the clock back; I/O without open opens the file; files open at the end are closed', async () => {
    const text = ['fio version 2 iolog', 'a add', 'b add', 'a write 0 4096', 'a wait 50 0', 'a wait 10 0', 'b read 0 512', 'a close', 'a write 8192 4096', ''].join('\n');
    const ops = (await collect(readFio(temp.write('implicit.log', text), 'implicit.log'))).map(withoutSrc);
    expect(ops).toEqual([
      { kind: 'open', timeUs: 0, fd: 3, path: 'a', flags: created },
      { kind: 'write', timeUs: 0, fd: 3, offset: 0, length: 4096 },
      { kind: 'open', timeUs: 50_000, fd: 4, path: 'b', flags: created },
      { kind: 'read', timeUs: 50_000, fd: 4, offset: 0, length: 512 },
      { kind: 'close', timeUs: 50_000, fd: 3 },
      { kind: 'open', timeUs: 50_000, fd: 3, path: 'a', flags: created },
      { kind: 'write', timeUs: 50_000, fd: 3, offset: 8192, length: 4096 },
      // Files still open at the end are closed in the order they were added.
      { kind: 'close', timeUs: 50_000, fd: 3 },
      { kind: 'close', timeUs: 50_000, fd: 4 },
    ]);
  });
});

describe('fio iolog v3', () => {
  test('the first 3000 lines of a real log: counts as awk counts them, µs timestamps', async () => {
    const ops = await collect(readFio(join(SAMPLES, 'fio_iolog_v3_randrw_fsync.head3000.log')));
    // awk '{print $3}' | sort | uniq -c: read 1300, write 1360, sync 337, plus add/open; no close (cut off).
    expect(countKinds(ops)).toEqual({ open: 1, read: 1300, write: 1360, fsync: 337, close: 1 });
    expect(withoutSrc(ops[1]!)).toEqual({ kind: 'read', timeUs: 183, fd: 3, offset: 2015232, length: 16384 });
    expect(ops[0]!.timeUs).toBe(174);
    expect(ops.at(-2)).toMatchObject({ kind: 'fsync', timeUs: 373992, dataOnly: false });
    // The log is cut off before its close: the reader closes the file at the last timestamp.
    expect(withoutSrc(ops.at(-1)!)).toEqual({ kind: 'close', timeUs: 373992, fd: 3 });
  });

  test('the whole gzipped log', async () => {
    const ops = await collect(readFio(join(SAMPLES, 'fio_iolog_v3_randrw_fsync.log.gz')));
    expect(countKinds(ops)).toEqual({ open: 1, read: 7116, write: 7152, fsync: 1804, close: 1 });
    expect(ops.at(-1)).toMatchObject({ kind: 'close', timeUs: 2000766 });
  });

  test('traces/demo-v3.fio.log and traces/demo-v2.fio.log (comment lines allowed)', async () => {
    expect(countKinds(await collect(readFio(join(REPO_DIR, 'traces/demo-v3.fio.log'))))).toEqual({ open: 1, read: 16, write: 17, fsync: 4, close: 1 });
    expect(countKinds(await collect(readFio(join(REPO_DIR, 'traces/demo-v2.fio.log'))))).toEqual({ open: 1, write: 3, read: 1, fsync: 2, fallocate: 1, close: 1 });
  });

  test.each(['fio_iolog_v2_handwritten.log', 'fio_iolog_v3_randrw_fsync.log.gz'])('%s replays through replay() with --root /mnt/iom_ext4', async (name) => {
    const ops = (await collect(readFio(join(SAMPLES, name)))).map((op) => (op.kind === 'write' ? { ...op, fill: 0x66 } : op));
    const outcome = await replay(asAsync(ops), { policy: 'ext4', blockSize: 4096, deviceSize: 1 << 30, seed: 3, traceName: name, finalSync: true, root: '/mnt/iom_ext4' });
    expect(outcome.result.errors).toEqual([]);
    expect(outcome.result.files.map((file) => file.path)).toEqual([name.includes('v2') ? 'v2file' : 'fiofile']);
  });
});

describe('errors and detection', () => {
  test.each([
    ['write 0 4096\n', 1, 1, "missing header: 'write 0 4096' (expected 'fio version 2 iolog' or 'fio version 3 iolog')"],
    ['fio version 1 iolog\n', 1, 13, 'fio iolog version 1 is not supported (expected version 2 or 3)'],
    ['fio version 2 iolog\nf add\nf scribble 0 1\n', 3, 3, "unknown action 'scribble' (expected one of add, open, close, read, write, sync, datasync, trim, wait)"],
    ['fio version 2 iolog\nf add\nf write 0x10 4096\n', 3, 9, "bad offset '0x10' (expected a byte count, a non-negative integer)"],
    ['fio version 2 iolog\nf add\nf write 0\n', 3, 8, "'write' takes OFFSET LENGTH, got 1 operand (expected 'f write 4096 4096')"],
    ['fio version 2 iolog\ng write 0 4096\n', 2, 1, "I/O on file 'g' before its 'add' (expected 'g add' first)"],
    ['fio version 2 iolog\nf add extra\n', 2, 7, "'add' takes no operands (expected 'f add')"],
    ['fio version 3 iolog\n12 f\n', 2, 5, "2 fields (expected 'TIMESTAMP FILE ACTION [OFFSET LENGTH]' in a version 3 iolog)"],
    ['fio version 3 iolog\n1e3 f add\n', 2, 1, "bad timestamp '1e3' (expected microseconds since the job start)"],
    ['# only a comment\n', 1, 1, "missing header (expected 'fio version 2 iolog' or 'fio version 3 iolog' as the first line)"],
  ])('%j -> line %i col %i', async (text, line, column, message) => {
    const error = await traceErrorOf(collect(readFio(temp.write('bad.log', text), 'bad.log')));
    expect(error.pos).toEqual({ file: 'bad.log', line, column });
    expect(error.message).toBe(`bad.log:${line}:${column}: ${message}`);
    expect(error.hint).toBeDefined();
  });

  test('sniffing takes the header; detection names fio for any extension', async () => {
    expect(sniffFio(['fio version 3 iolog'])).toBe(true);
    expect(sniffFio(['fio version 2 iolog  '])).toBe(true);
    expect(sniffFio(['/mnt/f add'])).toBe(false);
    expect(await detectFormat(join(SAMPLES, 'fio_iolog_v3_randrw_fsync.log.gz'))).toBe('fio');
    expect(await detectFormat(join(SAMPLES, 'fio_iolog_v2_handwritten.log'))).toBe('fio');
  });
});
