import { readBlkparse } from '../../src/trace/blkparse.js';
import { BlockDeviceReport, selectBlockDevice } from '../../src/trace/blockfile.js';
import { readBlockCsv } from '../../src/trace/blockcsv.js';
import { openTrace } from '../../src/trace/detect.js';
import { readFio } from '../../src/trace/fio.js';
import { BadLineLog, badLineMessagesMax } from '../../src/trace/skipbad.js';
import { replay } from '../../src/replay/replay.js';
import { TraceError } from '../../src/util/errors.js';
import { collect, countKinds, makeTempDir, traceErrorOf, withoutSrc } from './helpers.js';

/** An op array as the AsyncIterable replay() takes. */
async function* asAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

const temp = makeTempDir();
afterAll(() => temp.cleanup());

describe('BadLineLog', () => {
  test('counts every skipped line and keeps the first few messages', () => {
    const log = new BadLineLog();
    for (let line = 1; line <= badLineMessagesMax + 3; line++) log.record(new TraceError({ file: 't', line, column: 2 }, `bad ${line}`));
    expect(log.count).toBe(badLineMessagesMax + 3);
    expect(log.messages).toEqual(Array.from({ length: badLineMessagesMax }, (_, index) => `t:${index + 1}:2: bad ${index + 1}`));
  });
});

const blkText = [
  '  8,0 1 1 0.000001000 10 Q W 0 + 8 [a]',
  '  8,0 1 2 0.000002000 10 Q W 8 + eight [a]',
  'garbage',
  '  8,0 1 4 0.000004000 10 Q R 0 + 8 [a]',
].join('\n');

describe('--skip-bad in the readers', () => {
  test('strict by default: the first bad line ends the read', async () => {
    const error = await traceErrorOf(collect(readBlkparse(temp.write('b1.txt', blkText), 'b1.txt')));
    expect(error.pos).toEqual({ file: 'b1.txt', line: 2, column: 34 });
  });

  test('with a log: bad lines become ignored bad-line ops in place, the rest parses', async () => {
    const badLines = new BadLineLog();
    const ops = await collect(readBlkparse(temp.write('b2.txt', blkText), 'b2.txt', { badLines }));
    expect(ops.map((op) => op.kind)).toEqual(['open', 'write', 'ignored', 'ignored', 'read', 'close']);
    expect(ops[2]).toEqual({ kind: 'ignored', src: { file: 'b2.txt', line: 2, column: 34 }, reason: 'bad-line', call: 'line' });
    expect(ops[3]!.src).toEqual({ file: 'b2.txt', line: 3, column: 1 });
    expect(badLines.count).toBe(2);
    expect(badLines.messages[0]).toBe("b2.txt:2:34: bad sector count 'eight' (expected a non-negative integer)");
    expect(badLines.messages[1]).toMatch(/^b2\.txt:3:1: not a blkparse event line: 'garbage'/);
  });

  test('a skipped line leaves the reader state alone (fio: no file added, clock unchanged)', async () => {
    const text = ['fio version 2 iolog', 'f add', 'g add extra', 'f wait 1x 0', 'f write 0 4096', 'g write 0 4096', 'f wait 2 0', 'f read 0 4096'].join('\n');
    const badLines = new BadLineLog();
    const ops = (await collect(readFio(temp.write('f.log', text), 'f.log', { badLines }))).map(withoutSrc);
    expect(badLines.count).toBe(3);
    expect(ops.map((op) => op.kind)).toEqual(['ignored', 'ignored', 'open', 'write', 'ignored', 'read', 'close']);
    expect(ops[3]).toMatchObject({ kind: 'write', timeUs: 0 });
    expect(ops[5]).toMatchObject({ kind: 'read', timeUs: 2000 });
  });

  test('our CSV and xio skip through openTrace too', async () => {
    const csv = temp.write('s.csv', 'time_us,handle,op,path,offset,length,flags,arg\n0,,write,a,0,4k,,\n1,,wirte,a,0,4k,,\n2,,write,a,4k,4k,,\n');
    const badLines = new BadLineLog();
    const trace = await openTrace(csv, { badLines });
    expect(countKinds(await collect(trace.ops))).toEqual({ open: 1, write: 2, ignored: 1, close: 1 });
    expect(badLines.messages[0]).toMatch(/s\.csv:3:3: unknown op 'wirte'/);
    const xio = temp.write('s.xio', 'a: -f -c "pwrite 0 4k"\nb: -f -c "pwirte 0 4k"\nc: -f -c "pwrite 0 4k"\n');
    const xioLog = new BadLineLog();
    const xioOps = await collect((await openTrace(xio, { badLines: xioLog })).ops);
    expect(countKinds(xioOps)).toEqual({ open: 2, write: 2, close: 2, ignored: 1 });
    expect(xioLog.count).toBe(1);
  });

  test('the replay counts skipped lines under stats.opsIgnored["bad-line"]', async () => {
    const badLines = new BadLineLog();
    const ops = await collect(readBlkparse(temp.write('b3.txt', blkText), 'b3.txt', { badLines }));
    const outcome = await replay(asAsync(ops), { policy: 'ext4', blockSize: 4096, deviceSize: 1 << 30, seed: 1, traceName: 'b3', finalSync: true });
    expect(outcome.result.stats.opsIgnored).toEqual({ 'bad-line': 2 });
    expect(outcome.result.errors).toEqual([]);
  });
});

describe('selectBlockDevice (--device, --device-file)', () => {
  const aliText = ['0,R,4096,4096,1000', '1,W,8192,4096,1100', '0,W,0,4096,1200', '2,W,0,512,1300'].join('\n');

  test('--device: other devices become ignored other-device ops, counted and reported', async () => {
    const report = new BlockDeviceReport();
    const source = readBlockCsv('alibaba', temp.write('ali1.csv', aliText), 'ali1.csv');
    const ops = await collect(selectBlockDevice(source, { device: '0' }, report));
    expect(ops.map((op) => (op.kind === 'ignored' ? `ignored:${op.call}:${op.reason}` : op.kind))).toEqual([
      'open', 'read', 'ignored:open:other-device', 'ignored:write:other-device', 'write',
      'ignored:open:other-device', 'ignored:write:other-device', 'close', 'ignored:close:other-device', 'ignored:close:other-device',
    ]);
    expect(report.devicesSeen).toEqual(['0', '1', '2']);
    expect(report.opsOtherDevice).toBe(6);
    const outcome = await replay(asAsync(ops), { policy: 'ext4', blockSize: 4096, deviceSize: 1 << 30, seed: 1, traceName: 'a', finalSync: true });
    expect(outcome.result.stats.opsIgnored).toEqual({ 'other-device': 6 });
    expect(outcome.result.files.map((file) => file.path)).toEqual(['volume-0.img']);
  });

  test('--device-file: the chosen (or first) device gets the name, further devices NAME-<id>', async () => {
    const source = () => readBlockCsv('alibaba', temp.write('ali2.csv', aliText), 'ali2.csv');
    const paths = async (selection: { device?: string; deviceFile?: string }) =>
      (await collect(selectBlockDevice(source(), selection))).flatMap((op) => (op.kind === 'open' ? [op.path] : []));
    expect(await paths({ deviceFile: 'vm.img' })).toEqual(['vm.img', 'vm.img-1', 'vm.img-2']);
    expect(await paths({ deviceFile: 'vm.img', device: '1' })).toEqual(['vm.img']);
    expect(await paths({})).toEqual(['volume-0.img', 'volume-1.img', 'volume-2.img']);
  });

  test('blkparse devices match as 8,16 or 8:16', async () => {
    const text = '  8,0 0 1 0.000000001 10 Q W 0 + 8 [a]\n  8,16 0 2 0.000002000 10 Q W 8 + 8 [a]\n';
    const path = temp.write('two.txt', text);
    for (const device of ['8,16', '8:16']) {
      const ops = await collect(selectBlockDevice(readBlkparse(path), { device }));
      expect(countKinds(ops)).toEqual({ ignored: 3, open: 1, write: 1, close: 1 });
    }
  });
});

describe('the op stream of a line reader behaves as an async generator', () => {
  const fioText = ['fio version 2 iolog', 'f add', 'f write 0 4096', 'f write 4096 4096', 'f bogus 1 2', 'f write 8192 4096', ''].join('\n');

  test('a bad line rejects next() before any op of its batch, then the stream is done', async () => {
    const stream = readFio(temp.write('gen1.log', fioText), 'gen1.log')[Symbol.asyncIterator]();
    // The whole (one-batch) file is parsed before the first op is handed out: the error comes first.
    await expect(stream.next()).rejects.toThrow(/gen1\.log:5:3: unknown action 'bogus'/);
    await expect(stream.next()).resolves.toEqual({ value: undefined, done: true });
  });

  test('return() ends it early; for await over it and the final closes work as before', async () => {
    const path = temp.write('gen2.log', fioText.replace('f bogus 1 2\n', ''));
    const stream = readFio(path, 'gen2.log')[Symbol.asyncIterator]();
    expect((await stream.next()).value).toMatchObject({ kind: 'open', fd: 3 });
    await expect(stream.return!(undefined)).resolves.toEqual({ value: undefined, done: true });
    await expect(stream.next()).resolves.toEqual({ value: undefined, done: true });
    const kinds = (await collect(readFio(path, 'gen2.log'))).map((op) => op.kind);
    expect(kinds).toEqual(['open', 'write', 'write', 'write', 'close']);
  });
});
