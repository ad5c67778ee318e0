import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBlockCsv, sniffBlockCsv } from '../../src/trace/blockcsv.js';
import { detectFormat, openTrace } from '../../src/trace/detect.js';
import { replay } from '../../src/replay/replay.js';
import { REPO_DIR, collect, countKinds, makeTempDir, traceErrorOf, withoutSrc, asAsync, SAMPLES_DIR, createdFlags } from './helpers.js';

const SAMPLES = SAMPLES_DIR;
const temp = makeTempDir();
afterAll(() => temp.cleanup());

const created = createdFlags;

/** The data rows of one `## NAME` section of the provenance file. */
function provenanceRows(section: string): string[] {
  const lines = readFileSync(join(SAMPLES, 'csv_trace_example_lines_with_provenance.txt'), 'utf8').split('\n');
  const start = lines.findIndex((line) => line.startsWith(`## ${section}`));
  const rows: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ') && !line.startsWith('## source') && !line.startsWith('## (') && !line.startsWith('##  ') && rows.length > 0) break;
    if (line.trim() !== '' && !line.startsWith('#')) rows.push(line);
  }
  return rows;
}

describe('MSR Cambridge', () => {
  test('the 60-row sample: header, filetimes to µs since the first row, bytes, disk-0.img', async () => {
    const ops = await collect(readBlockCsv('msr', join(SAMPLES, 'msr_cambridge_hm0_first60.csv'), 'hm0.csv'));
    expect(countKinds(ops)).toEqual({ open: 1, write: 60, close: 1 });
    expect(withoutSrc(ops[0]!)).toEqual({ kind: 'open', fd: 3, path: 'disk-0.img', flags: created, timeUs: 0 });
    expect(withoutSrc(ops[1]!)).toEqual({ kind: 'write', timeUs: 0, fd: 3, offset: 9056014336, length: 2048 });
    // 128166385295514878 - 128166385295514663 = 215 (100 ns) -> 21 µs; row 4: 5936857 -> 593685 µs.
    expect(ops[2]!.timeUs).toBe(21);
    expect(withoutSrc(ops[4]!)).toEqual({ kind: 'write', timeUs: 593685, fd: 3, offset: 3163095040, length: 40960 });
    // Last row 128166385334266230: 38751567 -> 3875156 µs.
    expect(ops[60]!.timeUs).toBe(3875156);
    expect(ops[1]!.src).toEqual({ file: 'hm0.csv', line: 2, column: 1 });
  });

  test('the provenance rows without a header (reads)', async () => {
    const rows = provenanceRows('MSR Cambridge');
    expect(rows).toHaveLength(2);
    const ops = (await collect(readBlockCsv('msr', temp.write('msr-rows.txt', rows.join('\n')), 'm'))).map(withoutSrc);
    expect(ops.filter((op) => op.kind === 'read')).toEqual([
      { kind: 'read', timeUs: 0, fd: 3, offset: 1898643456, length: 4096 },
      // 128166386555300619 - 128166385368421959 = 1186878660 (100 ns) -> 118687866 µs, exact beyond 2^53.
      { kind: 'read', timeUs: 118687866, fd: 3, offset: 11933585408, length: 4096 },
    ]);
  });
});

describe('Alibaba 2020', () => {
  test('the provenance rows: one volume file per device_id, µs timestamps', async () => {
    const rows = provenanceRows('Alibaba');
    expect(rows).toHaveLength(4);
    const ops = (await collect(readBlockCsv('alibaba', temp.write('ali.csv', rows.join('\n')), 'ali.csv'))).map(withoutSrc);
    const expected: Record<string, unknown>[] = [
      { kind: 'open', fd: 3, path: 'volume-0.img', flags: created, timeUs: 0 },
      { kind: 'read', timeUs: 0, fd: 3, offset: 126703661056, length: 4096 },
      { kind: 'open', fd: 4, path: 'volume-1.img', flags: created, timeUs: 380 },
      { kind: 'write', timeUs: 380, fd: 4, offset: 19496058880, length: 77824 },
      { kind: 'open', fd: 5, path: 'volume-2.img', flags: created, timeUs: 448 },
      { kind: 'write', timeUs: 448, fd: 5, offset: 9811763200, length: 12288 },
      { kind: 'read', timeUs: 580, fd: 3, offset: 126703644672, length: 4096 },
      { kind: 'close', fd: 3, timeUs: 580 },
      { kind: 'close', fd: 4, timeUs: 580 },
      { kind: 'close', fd: 5, timeUs: 580 },
    ];
    expect(ops).toEqual(expected);
  });
});

describe('Tencent CBS', () => {
  test('the provenance row: 512-byte sectors, IOType 1 = write, volume file', async () => {
    const rows = provenanceRows('Tencent');
    expect(rows).toEqual(['1538323199,105352008,584,1,1576']);
    const ops = (await collect(readBlockCsv('tencent', temp.write('tc.csv', rows.join('\n')), 'tc.csv'))).map(withoutSrc);
    expect(ops[0]).toMatchObject({ kind: 'open', path: 'volume-1576.img' });
    expect(ops[1]).toEqual({ kind: 'write', timeUs: 0, fd: 3, offset: 105352008 * 512, length: 584 * 512 });
  });

  test('with a header; seconds to µs; size 0 makes no op', async () => {
    const text = 'Timestamp,Offset,Size,IOType,VolumeID\n100,8,8,0,7\n102,16,0,1,7\n103,16,1,1,7\n';
    const ops = (await collect(readBlockCsv('tencent', temp.write('tch.csv', text), 'tch.csv'))).map(withoutSrc);
    expect(ops).toEqual([
      { kind: 'open', fd: 3, path: 'volume-7.img', flags: created, timeUs: 0 },
      { kind: 'read', timeUs: 0, fd: 3, offset: 4096, length: 4096 },
      { kind: 'write', timeUs: 3_000_000, fd: 3, offset: 8192, length: 512 },
      { kind: 'close', fd: 3, timeUs: 3_000_000 },
    ]);
  });

  test('traces/demo.tencent.csv, demo.alibaba.csv and demo.msr.csv are detected and parse', async () => {
    const expected: Record<string, [string, Record<string, number>]> = {
      'demo.tencent.csv': ['tencent', { open: 2, write: 4, read: 1, close: 2 }],
      'demo.alibaba.csv': ['alibaba', { open: 3, read: 2, write: 2, close: 3 }],
      'demo.msr.csv': ['msr', { open: 1, write: 20, close: 1 }],
    };
    for (const [name, [format, counts]] of Object.entries(expected)) {
      const trace = await openTrace(join(REPO_DIR, 'traces', name));
      expect([name, trace.format, trace.detectedBy]).toEqual([name, format, 'content']);
      expect(countKinds(await collect(trace.ops))).toEqual(counts);
    }
  });
});

describe('errors, sniffing, replay', () => {
  test.each([
    ['msr', '1,hm,0,Read,0,4096\n', 1, 1, '6 fields (expected 7: Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime)'],
    ['msr', '1,hm,0,Trim,0,4096,5\n', 1, 8, "bad Type 'Trim' (expected Read or Write)"],
    ['alibaba', '0,R,12,4096,5\n0,R,-1,4096,6\n', 2, 5, "bad offset '-1' (expected a non-negative integer)"],
    ['tencent', '5,1,1,2,9\n', 1, 7, "bad IOType '2' (expected 0 (read) or 1 (write))"],
    ['tencent', 'x5,1,1,1,9\n', 1, 1, "bad Timestamp 'x5' (expected a non-negative integer timestamp)"],
  ] as const)('%s %j', async (format, text, line, column, message) => {
    const error = await traceErrorOf(collect(readBlockCsv(format, temp.write('bad.csv', text), 'bad.csv')));
    expect(error.message).toBe(`bad.csv:${line}:${column}: ${message}`);
    expect(error.hint).toMatch(/--skip-bad/);
  });

  test('sniffing tells the three apart, with or without header', async () => {
    const msr = ['128166385295514663,hm,0,Write,9056014336,2048,2833'];
    const ali = ['0,R,126703661056,4096,1577808000000046'];
    const tc = ['1538323199,105352008,584,1,1576'];
    expect([sniffBlockCsv('msr', msr), sniffBlockCsv('alibaba', msr), sniffBlockCsv('tencent', msr)]).toEqual([true, false, false]);
    expect([sniffBlockCsv('msr', ali), sniffBlockCsv('alibaba', ali), sniffBlockCsv('tencent', ali)]).toEqual([false, true, false]);
    expect([sniffBlockCsv('msr', tc), sniffBlockCsv('alibaba', tc), sniffBlockCsv('tencent', tc)]).toEqual([false, false, true]);
    expect(sniffBlockCsv('alibaba', ['device_id,opcode,offset,length,timestamp', ...ali])).toBe(true);
    expect(await detectFormat(temp.write('rows.txt', ali.join('\n')))).toBe('alibaba');
    expect(await detectFormat(temp.write('rows.csv', tc.join('\n')))).toBe('tencent');
    // A .csv that is none of them stays with our own CSV (whose reader then says what is wrong).
    expect(await detectFormat(temp.write('other.csv', 'a,b\n'))).toBe('csv');
  });

  test('the MSR sample replays (offsets up to 13 GB land in a sparse file on the 1 GiB device)', async () => {
    const ops = await collect(readBlockCsv('msr', join(SAMPLES, 'msr_cambridge_hm0_first60.csv')));
    const outcome = await replay(asAsync(ops), { policy: 'ext4', blockSize: 4096, deviceSize: 1 << 30, seed: 5, traceName: 'hm0', finalSync: true });
    expect(outcome.result.errors).toEqual([]);
    expect(outcome.result.files.map((file) => [file.path, file.size])).toEqual([['disk-0.img', 13532681728]]); // the largest Offset+Size of the rows
  });
});
