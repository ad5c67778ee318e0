import { join } from 'node:path';
import { parseBlkparseTimeUs, parseRwbs, readBlkparse, sniffBlkparse } from '../../src/trace/blkparse.js';
import { detectFormat } from '../../src/trace/detect.js';
import { replay } from '../../src/replay/replay.js';
import { REPO_DIR, collect, countKinds, makeTempDir, traceErrorOf, withoutSrc, asAsync, SAMPLES_DIR, createdFlags } from './helpers.js';

const SAMPLES = SAMPLES_DIR;
const temp = makeTempDir();
afterAll(() => temp.cleanup());

const created = createdFlags;

describe('parseRwbs (blkparse fill_rwbs letters)', () => {
  test.each([
    ['WS', { preflush: false, op: 'write', fua: false, sync: true }],
    ['W', { preflush: false, op: 'write', fua: false, sync: false }],
    ['FWFSM', { preflush: true, op: 'write', fua: true, sync: true }],
    ['WFSM', { preflush: false, op: 'write', fua: true, sync: true }],
    ['FWS', { preflush: true, op: 'write', fua: false, sync: true }],
    ['FN', { preflush: true, op: 'none', fua: false, sync: false }],
    ['F', { preflush: true, op: 'none', fua: false, sync: false }],
    ['RA', { preflush: false, op: 'read', fua: false, sync: false }],
    ['RM', { preflush: false, op: 'read', fua: false, sync: false }],
    ['DS', { preflush: false, op: 'discard', fua: false, sync: true }],
    ['DES', { preflush: false, op: 'discard', fua: false, sync: true }],
    ['N', { preflush: false, op: 'none', fua: false, sync: false }],
  ])('%s', (text, expected) => {
    expect(parseRwbs(text)).toEqual(expected);
  });

  test.each(['', 'X', 'WW', 'SW', 'WSF', 'FF', 'RE'])('%j is not RWBS', (text) => {
    expect(parseRwbs(text)).toBeNull();
  });
});

describe('parseBlkparseTimeUs', () => {
  test('seconds.nanoseconds to whole microseconds, rounded down', () => {
    expect(parseBlkparseTimeUs('0.000034141')).toBe(34);
    expect(parseBlkparseTimeUs('2.705315868')).toBe(2705315);
    expect(parseBlkparseTimeUs('1.5')).toBe(1500000);
    expect(parseBlkparseTimeUs('12.000000999')).toBe(12000000);
  });

  test.each(['x', '1.', '.5', '1', '1.0000000001', '-1.0', '1.2.3'])('%j is refused', (text) => {
    expect(parseBlkparseTimeUs(text)).toBeNull();
  });
});

/** A hand-built trace: one device, two processes, every Q kind, and lines that must produce nothing. */
const handTrace = [
  '  8,0    1        1     0.000000000  6331  Q  WS 2048 + 8 [fio]',
  '  8,0    1        2     0.000001000  6331  G  WS 2048 + 8 [fio]',
  '  8,0    1        3     0.000002000  6331  P   N [fio]',
  '  8,0    1        4     0.000003000  6331  D  WS 2048 + 8 [fio]',
  '  8,0    1        5     0.000010000    22  C  WS 2048 + 8 [0]',
  '  8,0    1        6     0.000011000  6331  Q FWS [fio]',
  '  8,0    1        7     0.000020500  5457  Q FWFSM 100 + 8 [jbd2/sda-8]',
  '  8,0    1        8     0.000030000  6331  Q  RA 4096 + 16 [fio]',
  '  8,0    1        9     0.000040000  6456  Q  DS 8192 + 2048 [fstrim]',
  '  8,0    1       10     0.000041000  6331  Q   N [fio]',
  '  8,0    1       11     0.000042000  6331  U   N [fio] 1',
  '  8,0    1       12     0.000043000  6331  X  WS 2048 / 2056 [fio]',
  '  8,0    1       13     0.000050000  6331  Q  W 0 + 1 [Web Content]',
  '',
  'CPU1 (8,0):',
  ' Reads Queued:           1,        8KiB\t Writes Queued:           2,        8KiB',
  'Total (8,0):',
  'Events (8,0): 13 entries',
].join('\n');

describe('readBlkparse', () => {
  test('Q events only, one file per device, an fd per process, sectors of 512 bytes', async () => {
    const path = temp.write('hand.blktrace.txt', handTrace + '\n');
    const ops = (await collect(readBlkparse(path, 'hand.txt'))).map(withoutSrc);
    const dev = 'dev-8,0.img';
    const expected: Record<string, unknown>[] = [
      { kind: 'open', fd: 3, path: dev, flags: created, timeUs: 0, pid: 6331 },
      { kind: 'write', fd: 3, pid: 6331, timeUs: 0, offset: 2048 * 512, length: 8 * 512, dsync: true },
      { kind: 'fsync', fd: 3, pid: 6331, timeUs: 11, dataOnly: false },
      { kind: 'open', fd: 4, path: dev, flags: created, timeUs: 20, pid: 5457 },
      { kind: 'fsync', fd: 4, pid: 5457, timeUs: 20, dataOnly: false },
      { kind: 'write', fd: 4, pid: 5457, timeUs: 20, offset: 100 * 512, length: 8 * 512, dsync: true },
      { kind: 'read', fd: 3, pid: 6331, timeUs: 30, offset: 4096 * 512, length: 16 * 512 },
      { kind: 'open', fd: 5, path: dev, flags: created, timeUs: 40, pid: 6456 },
      { kind: 'fallocate', fd: 5, pid: 6456, timeUs: 40, mode: 'punch', keepSize: true, offset: 8192 * 512, length: 2048 * 512 },
      { kind: 'write', fd: 3, pid: 6331, timeUs: 50, offset: 0, length: 512 },
      { kind: 'close', fd: 3, pid: 6331, timeUs: 50 },
      { kind: 'close', fd: 4, pid: 5457, timeUs: 50 },
      { kind: 'close', fd: 5, pid: 6456, timeUs: 50 },
    ];
    expect(ops).toEqual(expected);
  });

  test('ops carry file:line:1 of their Q line; the closes the last line', async () => {
    const path = temp.write('lines.txt', handTrace + '\n');
    const ops = await collect(readBlkparse(path, 'lines.txt'));
    expect(ops[1]!.src).toEqual({ file: 'lines.txt', line: 1, column: 1 });
    expect(ops[3]!.src).toEqual({ file: 'lines.txt', line: 7, column: 1 });
    expect(ops.at(-1)!.src).toEqual({ file: 'lines.txt', line: 18 });
  });

  test('each device is its own file; gzip input is read transparently', async () => {
    const text = ['  8,0 0 1 0.000000001 10 Q W 0 + 8 [a]', '  8,16 0 2 0.000002000 10 Q W 8 + 8 [a]', '  8,0 0 3 0.000003000 10 Q R 0 + 8 [a]'].join('\n');
    const ops = await collect(readBlkparse(temp.writeGz('two.txt.gz', text), 'two.txt.gz'));
    expect(ops.filter((op) => op.kind === 'open').map((op) => (op.kind === 'open' ? [op.fd, op.path] : null))).toEqual([
      [3, 'dev-8,0.img'],
      [4, 'dev-8,16.img'],
    ]);
    expect(ops.filter((op) => op.kind === 'read').map((op) => ('fd' in op ? op.fd : -1))).toEqual([3]);
  });

  test.each([
    ['  8,0 1 1 0.000000000 6331 Q WS 2048 + 8 [fio]', 'x8,0 1 1 0.0 1 Q W 0 + 8 [a]', 1, "not a blkparse event line: 'x8,0 1 1 0.0 1 Q W 0 + 8 [a]' (expected"],
    ['', '  8x0 1 1 0.000000000 1 Q W 0 + 8 [a]', 3, "bad device '8x0' (expected MAJOR,MINOR, e.g. 8,0)"],
    ['', '  8,0 1 1 0.00000000x 1 Q W 0 + 8 [a]', 11, "bad timestamp '0.00000000x' (expected SECONDS.NANOSECONDS"],
    ['', '  8,0 1 1 0.000000000 1 Z W 0 + 8 [a]', 25, "unknown action 'Z' (expected one of Q, G,"],
    ['', '  8,0 1 1 0.000000000 1 Q WX 0 + 8 [a]', 27, "bad RWBS 'WX' (expected [F] then W, R, D or N"],
    ['', '  8,0 1 1 0.000000000 1 Q W 0 - 8 [a]', 31, "missing '+' after the sector (expected 'SECTOR + COUNT [process]')"],
    ['', '  8,0 1 1 0.000000000 1 Q W 0 + q8 [a]', 33, "bad sector count 'q8' (expected a non-negative integer)"],
    ['', '  8,0 1 1 0.000000000 1 Q W 0 + 8 junk [a]', 35, "unexpected 'junk' after the sector count (expected '[process]')"],
    ['', '  8,0 1 1 0.000000000 1 Q', 26, '6 fields, blkparse events have at least 7'],
  ])('bad line %#: file:line:col, what, expected, and a hint', async (before, bad, column, message) => {
    const line = before === '' ? 1 : 2;
    const text = before === '' ? bad : `${before}\n${bad}`;
    const error = await traceErrorOf(collect(readBlkparse(temp.write('bad.txt', `${text}\n`), 'bad.txt')));
    expect(error.pos).toEqual({ file: 'bad.txt', line, column });
    expect(error.message.startsWith(`bad.txt:${line}:${column}: ${message}`)).toBe(true);
    expect(error.hint).toMatch(/--skip-bad/);
  });

  test('sniffing: blkparse lines yes, other text no', async () => {
    expect(sniffBlkparse(handTrace.split('\n').slice(0, 4))).toBe(true);
    expect(sniffBlkparse(['fio version 3 iolog'])).toBe(false);
    expect(sniffBlkparse(['8,0 hello'])).toBe(false);
    expect(await detectFormat(temp.write('sniffed.log', handTrace))).toBe('blkparse');
  });
});

describe('blkparse samples (../shared/samples, traces/)', () => {
  test('the excerpt: Q events as counted by hand (awk over the RWBS column)', async () => {
    const ops = await collect(readBlkparse(join(SAMPLES, 'blkparse_excerpt.txt')));
    // Q lines by RWBS: WS 19 + WSM 11 + FWFSM 3 writes; RS 12 + RA 5 + RM 1 reads; FWFSM 3 + FWS 1 flushes.
    const counts = countKinds(ops);
    expect(counts['write']).toBe(33);
    expect(counts['read']).toBe(18);
    expect(counts['fsync']).toBe(4);
    expect(counts['open']).toBe(counts['close']);
  });

  test('the full gzipped trace: every Q kind, summary skipped, monotonic time', async () => {
    const ops = await collect(readBlkparse(join(SAMPLES, 'blkparse_ext4_loop0_fio.txt.gz')));
    // awk '$6=="Q"' by RWBS: writes WS 7161 + WSM 1326 + FWFSM 657 + WM 11 + WFSM 1; reads RS 7116 + RA 5 + RM 3;
    // flushes FWS 1157 (no data) + FWFSM 657; discards DS 4.
    expect(countKinds(ops)).toEqual({ open: 17, write: 9156, read: 7124, fsync: 1814, fallocate: 4, close: 17 });
    let previous = 0;
    for (const op of ops) {
      expect(op.timeUs).toBeGreaterThanOrEqual(previous);
      previous = op.timeUs!;
    }
    const paths = new Set(ops.flatMap((op) => (op.kind === 'open' ? [op.path] : [])));
    expect([...paths]).toEqual(['dev-7,0.img']);
  });

  // Writes get a fill byte: computing the payload rule for the samples' 30-300 MB is slow under jest
  // (plain node replays the big one in ~2 s either way). Layouts and errors do not depend on the bytes.
  test.each(['blkparse_excerpt.txt', 'blkparse_ext4_loop0_fio.txt.gz'])('%s replays through replay() (ext4, default 1 GiB device)', async (name) => {
    const parsed = await collect(readBlkparse(join(SAMPLES, name)));
    const ops = parsed.map((op) => (op.kind === 'write' ? { ...op, fill: 0x5a } : op));
    const outcome = await replay(asAsync(ops), { policy: 'ext4', blockSize: 4096, deviceSize: 1 << 30, seed: 7, traceName: name, finalSync: true });
    expect(outcome.result.stats.opsTotal).toBe(ops.length);
    // The loop device was 512 MiB: every offset fits the 1 GiB simulated device, so nothing fails.
    expect(outcome.result.errors).toEqual([]);
    expect(outcome.result.files.map((file) => file.path)).toEqual(['dev-7,0.img']);
  });

  test('traces/demo.blkparse.txt (comment header, summary trailer)', async () => {
    const ops = await collect(readBlkparse(join(REPO_DIR, 'traces/demo.blkparse.txt')));
    expect(countKinds(ops)).toEqual({ open: 5, write: 3, fsync: 2, read: 4, fallocate: 2, close: 5 });
  });
});
