import { join } from 'node:path';
import { formatCsvHeader, formatCsvOp, readCsv } from '../../src/trace/csv.js';
import { openTrace } from '../../src/trace/detect.js';
import { BadLineLog } from '../../src/trace/skipbad.js';
import type { TraceOp } from '../../src/trace/types.js';
import { readXio } from '../../src/trace/xio.js';
import { XioWriter, xioCommandsPerLineMax } from '../../src/trace/xiowrite.js';
import { REPO_DIR, collect, makeTempDir, traceErrorOf } from './helpers.js';

const SAMPLES = join(REPO_DIR, '../shared/samples');
const temp = makeTempDir();
afterAll(() => temp.cleanup());

/** An op as CSV carries it: without src and pid. */
function comparable(op: TraceOp): Omit<TraceOp, 'src' | 'pid'> {
  const { src: _src, pid: _pid, ...rest } = op;
  return rest;
}

async function roundTrip(ops: readonly TraceOp[], name: string): Promise<TraceOp[]> {
  const text = [formatCsvHeader(), ...ops.map((op) => formatCsvOp(op))].join('\n') + '\n';
  return collect(readCsv(temp.write(name, text), name));
}

describe('convert --to csv: the CSV reader gives the same ops back (modulo src and pid)', () => {
  test.each([
    join(REPO_DIR, 'traces/demo.xio'),
    join(REPO_DIR, 'traces/demo.csv'),
    join(REPO_DIR, 'traces/demo.blkparse.txt'),
    join(REPO_DIR, 'traces/demo-v2.fio.log'),
    join(REPO_DIR, 'traces/demo.tencent.csv'),
    join(SAMPLES, 'blkparse_ext4_loop0_fio.txt.gz'),
    join(SAMPLES, 'fio_iolog_v3_randrw_fsync.log.gz'),
    join(SAMPLES, 'msr_cambridge_hm0_first60.csv'),
  ])('%s', async (path) => {
    const ops = await collect((await openTrace(path)).ops);
    expect(ops.length).toBeGreaterThan(0);
    const back = await roundTrip(ops, 'round.csv');
    expect(back.map(comparable)).toEqual(ops.map(comparable));
  });

  test('ignored ops (skipped lines) round-trip as ignored rows', async () => {
    const badLines = new BadLineLog();
    const path = temp.write('bad.fio', 'fio version 2 iolog\nf add\nf write 0 4096\nf write x 1\n');
    const ops = await collect((await openTrace(path, { badLines })).ops);
    expect(ops.some((op) => op.kind === 'ignored')).toBe(true);
    expect((await roundTrip(ops, 'ignored.csv')).map(comparable)).toEqual(ops.map(comparable));
  });

  test("the CSV reader refuses an ignored row without CALL:REASON", async () => {
    const path = temp.write('ign.csv', `${formatCsvHeader()}\n,,ignored,,,,,nocolon\n`);
    const error = await traceErrorOf(collect(readCsv(path, 'ign.csv')));
    expect(error.message).toBe("ign.csv:2:8: bad ignored record 'nocolon' (expected CALL:REASON, e.g. ioctl:unsupported)");
  });
});

const src = { file: 't', line: 1 };
const flags = { create: true, truncate: true, direct: false, sync: false, dsync: false, append: false, readOnly: false };

function xioOf(ops: TraceOp[]): string[] {
  const lines: string[] = [];
  const writer = new XioWriter((line) => lines.push(line));
  for (const op of ops) writer.write(op);
  writer.finish();
  return lines;
}

describe('convert --to xio (XioWriter)', () => {
  test('spans become FILE: lines; interleaving and directives continue a span on a new line without -t', () => {
    const lines = xioOf([
      { kind: 'open', src, fd: 3, path: 'a.img', flags },
      { kind: 'write', src, fd: 3, offset: 0, length: 8192, fill: 0x51 },
      { kind: 'fsync', src, fd: 3, dataOnly: true },
      { kind: 'open', src, fd: 4, path: 'b.img', flags: { ...flags, truncate: false, direct: true } },
      { kind: 'read', src, fd: 4, offset: 4096, length: 4096 },
      { kind: 'write', src, fd: 3, offset: 8192, length: 4096, dsync: true },
      { kind: 'mkdir', src, path: 'my dir' },
      { kind: 'fallocate', src, fd: 3, mode: 'punch', keepSize: true, offset: 0, length: 4096 },
      { kind: 'close', src, fd: 3 },
      { kind: 'seek', src, fd: 4, offset: 0, whence: 'set' },
      { kind: 'write', src, fd: 4, offset: null, length: 1 },
      { kind: 'ignored', src, reason: 'bad-line', call: 'line' },
      { kind: 'sync', src, scope: 'all' },
      { kind: 'snapshot', src, label: 'end' },
    ]);
    expect(lines).toEqual([
      'a.img: -ft -c "pwrite -b 8192 -S 0x51 0 8192" -c "fdatasync"',
      'b.img: -fd -c "pread -b 4096 4096 4096"',
      'a.img: -f -c "pwrite -b 4096 -D 8192 4096"',
      "@mkdir 'my dir'",
      'a.img: -f -c "fpunch 0 4096"',
      '# skipped: t:1 seek (xio has no seek)',
      '# skipped: t:1 write (write at the current position)',
      '# skipped: t:1 line (ignored record, reason bad-line)',
      '@sync',
      '@snapshot end',
    ]);
  });

  test('a span with nothing but its open still gets a line (the open may create); long spans are split', () => {
    expect(xioOf([{ kind: 'open', src, fd: 3, path: 'new.bin', flags }, { kind: 'close', src, fd: 3 }])).toEqual(['new.bin: -ft']);
    const many: TraceOp[] = [{ kind: 'open', src, fd: 3, path: 'x', flags }];
    for (let index = 0; index < xioCommandsPerLineMax + 1; index++) many.push({ kind: 'fsync', src, fd: 3, dataOnly: false });
    const lines = xioOf(many);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('x: -f -c "fsync"');
  });

  test('a block trace converted to xio reads back as the same I/O (one syscall per op)', async () => {
    const ops = await collect((await openTrace(join(REPO_DIR, 'traces/demo.blkparse.txt'))).ops);
    const lines = xioOf(ops);
    const back = await collect(readXio(temp.write('back.xio', lines.join('\n') + '\n'), 'back.xio'));
    const io = (list: TraceOp[]) =>
      list.flatMap((op) => (op.kind === 'write' || op.kind === 'read' || op.kind === 'fallocate' || op.kind === 'fsync' ? [{ ...op, src: undefined, pid: undefined, fd: 0, timeUs: undefined, fill: undefined }] : []));
    expect(io(back)).toEqual(io(ops));
  });
});
