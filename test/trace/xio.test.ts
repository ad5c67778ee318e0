import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FallocateOp, MmapWriteOp, OpenOp, ReflinkOp, SyncRangeOp, TraceOp, WriteOp } from '../../src/trace/types.js';
import { parseXfsIoNumber, xfsIoCommandNames } from '../../src/trace/xfsio.js';
import { parseXioText, readXio } from '../../src/trace/xio.js';
import { CASES_DIR, REPO_DIR, collect, countKinds, makeTempDir, traceErrorOf, traceErrorOfSync } from './helpers.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());

const caseOps = (name: string): Promise<TraceOp[]> => collect(readXio(join(CASES_DIR, name), name));
const ofKind = <K extends TraceOp['kind']>(ops: TraceOp[], kind: K) => ops.filter((op): op is Extract<TraceOp, { kind: K }> => op.kind === kind);
const errorOf = (text: string) => traceErrorOfSync(() => parseXioText(text));

describe('the conformance corpus', () => {
  const plainCases = readdirSync(CASES_DIR).filter((name) => name.endsWith('.xio')).sort();

  test('has the 26 plain .xio cases', () => {
    expect(plainCases).toHaveLength(26);
  });

  test.each(plainCases)('%s parses into balanced open/close pairs with source positions', async (name) => {
    const ops = await caseOps(name);
    const opens = ofKind(ops, 'open');
    expect(opens.length).toBeGreaterThan(0);
    expect(ofKind(ops, 'close').map((op) => op.fd)).toEqual(opens.map((op) => op.fd));
    expect(opens.map((op) => op.fd)).toEqual(opens.map((_, index) => 3 + index));
    for (const op of ops) {
      expect(op.src.file).toBe(name);
      expect(op.src.line).toBeGreaterThanOrEqual(1);
    }
  });

  test('01: 48 writes of 32768 bytes filled with 0x51 at consecutive offsets, then fsync', async () => {
    const ops = await caseOps('01-seq-write-1536k-fsync.xio');
    expect(countKinds(ops)).toEqual({ open: 1, write: 48, fsync: 1, close: 1 });
    const open = ops[0] as OpenOp;
    expect(open).toMatchObject({ kind: 'open', fd: 3, path: 'data.bin', src: { line: 2, column: 1 } });
    expect(open.flags).toEqual({ create: true, truncate: false, direct: false, sync: false, dsync: false, append: false, readOnly: false });
    const writes = ofKind(ops, 'write');
    writes.forEach((write, index) => {
      expect(write).toMatchObject({ fd: 3, offset: index * 32768, length: 32768, fill: 0x51 });
      expect(write.dsync).toBeUndefined();
    });
    expect(ops[49]).toMatchObject({ kind: 'fsync', fd: 3, dataOnly: false });
    expect(ops[50]).toMatchObject({ kind: 'close', fd: 3 });
  });

  test('02: 24 + 4 + 1 + 49 buffered writes (the last one short), four fds, then the snapshot', async () => {
    const ops = await caseOps('02-delalloc-snapshot.xio');
    expect(countKinds(ops)).toEqual({ open: 4, write: 78, close: 4, snapshot: 1 });
    const writesPerFd = (fd: number): WriteOp[] => ofKind(ops, 'write').filter((op) => op.fd === fd);
    expect(writesPerFd(3)).toHaveLength(24);
    expect(writesPerFd(3).every((op) => op.length === 131072 && op.fill === 0x44)).toBe(true);
    expect(writesPerFd(4)).toHaveLength(4);
    expect(writesPerFd(5)).toEqual([expect.objectContaining({ offset: 0, length: 1500, fill: 0x46 })]);
    const odd = writesPerFd(6);
    expect(odd).toHaveLength(49);
    expect(odd[48]).toMatchObject({ offset: 48 * 4096, length: 200000 - 48 * 4096 });
    expect(ops[ops.length - 1]).toMatchObject({ kind: 'snapshot', label: 'pre-sync', src: { line: 9 } });
  });

  test('14 and 25: -d opens O_DIRECT, -s opens O_SYNC', async () => {
    const direct = (await caseOps('14-dio-sparse-new-file.xio'))[0] as OpenOp;
    expect(direct.flags).toMatchObject({ create: true, direct: true, sync: false });
    const sync = await caseOps('25-osync-appends.xio');
    expect((sync[0] as OpenOp).flags).toMatchObject({ create: true, direct: false, sync: true });
    expect(countKinds(sync)).toEqual({ open: 1, write: 48, close: 1 });
  });

  test('18: mmap writes become mmapWrite ops with file offsets; msync -s syncs the given range', async () => {
    const ops = await caseOps('18-mmap-writes.xio');
    expect(countKinds(ops)).toEqual({ open: 2, truncate: 1, mmapWrite: 5, syncRange: 2, fallocate: 1, close: 2 });
    const mwrites = ofKind(ops, 'mmapWrite').map(({ fd, offset, length, fill }) => ({ fd, offset, length, fill }));
    expect(mwrites).toEqual([
      { fd: 3, offset: 16384, length: 12288, fill: 0x4d },
      { fd: 3, offset: 401408, length: 20480, fill: 0x4e },
      { fd: 3, offset: 700000, length: 100, fill: 0x4f },
      { fd: 4, offset: 0, length: 4096, fill: 0x50 },
      { fd: 4, offset: 204800, length: 16384, fill: 0x51 },
    ]);
    expect(ofKind(ops, 'syncRange').map(({ fd, offset, length }) => ({ fd, offset, length }))).toEqual([
      { fd: 3, offset: 0, length: 786432 },
      { fd: 4, offset: 0, length: 524288 },
    ]);
    expect(ofKind(ops, 'truncate')[0]).toMatchObject({ fd: 3, size: 786432 });
    expect(ofKind(ops, 'fallocate')[0]).toMatchObject({ mode: 'allocate', keepSize: false, offset: 0, length: 524288 });
  });

  test('19 and 20: reflink with a range is FICLONERANGE, without one the whole file (length 0)', async () => {
    const ranged = ofKind(await caseOps('19-reflink-cow-buffered.xio'), 'reflink');
    const strip = ({ fd, srcPath, srcOffset, dstOffset, length }: ReflinkOp) => ({ fd, srcPath, srcOffset, dstOffset, length });
    expect(ranged.map(strip)).toEqual([
      { fd: 4, srcPath: 'src.img', srcOffset: 0, dstOffset: 0, length: 1536 * 1024 },
      { fd: 6, srcPath: 'src.img', srcOffset: 256 * 1024, dstOffset: 64 * 1024, length: 192 * 1024 },
    ]);
    const whole = ofKind(await caseOps('20-reflink-cow-direct.xio'), 'reflink');
    expect(whole.map(strip)).toEqual([{ fd: 4, srcPath: 'orig.dat', srcOffset: 0, dstOffset: 0, length: 0 }]);
  });

  test('09 and 10: fpunch implies KEEP_SIZE; fzero -k keeps the size, fzero alone does not', async () => {
    const punches = ofKind(await caseOps('09-fpunch-three-ranges.xio'), 'fallocate');
    expect(punches.map(({ mode, keepSize, offset, length }) => [mode, keepSize, offset, length])).toEqual([
      ['punch', true, 262144, 131072],
      ['punch', true, 1000000, 9000],
      ['punch', true, 1966080, 131072],
    ]);
    const zeros = ofKind(await caseOps('10-fzero-four-ranges.xio'), 'fallocate');
    expect(zeros.map(({ mode, keepSize }: FallocateOp) => `${mode}:${keepSize}`)).toEqual(['zero:false', 'zero:false', 'zero:false', 'zero:true']);
  });

  test('21: three mkdirs, then 90 files on fds 3..92', async () => {
    const ops = await caseOps('21-many-small-files.xio');
    expect(ops.slice(0, 3).map((op) => op.kind === 'mkdir' && op.path)).toEqual(['tree', 'tree/a', 'tree/b']);
    const opens = ofKind(ops, 'open');
    expect(opens).toHaveLength(90);
    expect(opens[89]).toMatchObject({ fd: 92, path: 'tree/b/n89.dat' });
  });

  test('23: fdatasync is fsync with dataOnly', async () => {
    const fsyncs = ofKind(await caseOps('23-interleaved-writers.xio'), 'fsync');
    expect(fsyncs).toHaveLength(12);
    expect(fsyncs.every((op) => op.dataOnly)).toBe(true);
  });

  test('the real-program cases are refused at their first shell line, with the strace hint', async () => {
    const error = await traceErrorOf(collect(readXio(join(CASES_DIR, '27-unzip-extract/case.xio'), 'case.xio')));
    expect(error.message).toBe("case.xio:6:1: shell lines ('! COMMAND') cannot be replayed (expected 'FILE: ARGS' or '@directive')");
    expect(error.hint).toContain('strace');
    for (const name of ['28-sqlite-vacuum', '29-dd-sparse']) {
      await expect(collect(readXio(join(CASES_DIR, name, 'case.xio')))).rejects.toThrow('shell lines');
    }
  });
});

describe('xfs_io commands', () => {
  test('pwrite splits into buffer-sized writes (last one shorter), default fill 0xcd, -S keeps the low byte', () => {
    const ops = parseXioText('f: -c "pwrite 100 10000" -c "pwrite -S 0x1234 -b 6000 0 7000"');
    const writes = ofKind(ops, 'write').map(({ offset, length, fill }) => [offset, length, fill]);
    expect(writes).toEqual([
      [100, 4096, 0xcd],
      [4196, 4096, 0xcd],
      [8292, 1808, 0xcd],
      [0, 6000, 0x34],
      [6000, 1000, 0x34],
    ]);
  });

  test('pwrite -D marks RWF_DSYNC; -W and -w add fsync and fdatasync after the writes; length 0 writes nothing', () => {
    const ops = parseXioText('f: -c "pwrite -D -W -w 0 8k" -c "pwrite 0 0"');
    expect(ops.map((op) => op.kind)).toEqual(['open', 'write', 'write', 'fsync', 'fsync', 'close']);
    expect((ops[1] as WriteOp).dsync).toBe(true);
    expect(ops.slice(3, 5).map((op) => op.kind === 'fsync' && op.dataOnly)).toEqual([false, true]);
  });

  test('pread gives one read per buffer; options may follow the operands (GNU getopt)', () => {
    const ops = parseXioText('f: -r -c "pread 0 10k -b 4k"');
    expect((ops[0] as OpenOp).flags.readOnly).toBe(true);
    expect(ofKind(ops, 'read').map(({ offset, length }) => [offset, length])).toEqual([
      [0, 4096],
      [4096, 4096],
      [8192, 2048],
    ]);
  });

  test('the fallocate family, truncate, sync commands and fiemap map one-to-one', () => {
    const ops = parseXioText(
      'f: -c "falloc 0 1m" -c "falloc -k 1m 64k" -c "fcollapse 0 4k" -c "finsert 0 4k" -c "funshare 0 8k" ' +
        '-c "truncate 12345" -c "fsync" -c "fdatasync" -c "sync" -c "syncfs" -c "fiemap -v"',
    );
    const summary = ops.slice(1, -1).map((op) => {
      if (op.kind === 'fallocate') return `${op.mode}${op.keepSize ? '+k' : ''}@${op.offset}+${op.length}`;
      if (op.kind === 'truncate') return `truncate ${op.size}`;
      if (op.kind === 'fsync') return op.dataOnly ? 'fdatasync' : 'fsync';
      if (op.kind === 'sync') return `sync ${op.scope}`;
      return op.kind;
    });
    expect(summary).toEqual([
      'allocate@0+1048576',
      'allocate+k@1048576+65536',
      'collapse@0+4096',
      'insert@0+4096',
      'unshare@0+8192',
      'truncate 12345',
      'fsync',
      'fdatasync',
      'sync all',
      'sync fs',
      'fiemap',
    ]);
  });

  test('mwrite defaults to the whole mapping and fill X (0x58); msync without -s is not a sync', () => {
    const ops = parseXioText('f: -f -c "truncate 64k" -c "mmap -rw 8k 16k" -c "mwrite" -c "msync -a" -c "msync -i -s 12k 4k" -c "munmap"');
    const mwrite = ofKind(ops, 'mmapWrite')[0] as MmapWriteOp;
    expect([mwrite.offset, mwrite.length, mwrite.fill]).toEqual([8192, 16384, 0x58]);
    const syncs = ofKind(ops, 'syncRange').map(({ offset, length }: SyncRangeOp) => [offset, length]);
    expect(syncs).toEqual([[12288, 4096]]);
  });

  test('every op of a command carries the column of the command word; open and close carry column 1', () => {
    const text = 'f: -f -c "pwrite 0 8k" -c \'fsync\'';
    const ops = parseXioText(text);
    expect(ops.map((op) => op.src.column)).toEqual([1, text.indexOf('pwrite') + 1, text.indexOf('pwrite') + 1, text.indexOf('fsync') + 1, 1]);
  });

  test('combined and attached options: -fd, -c"cmd", -cfsync', () => {
    const ops = parseXioText('f: -fd -c"truncate 0" -cfsync');
    expect((ops[0] as OpenOp).flags).toMatchObject({ create: true, direct: true });
    expect(ops.map((op) => op.kind)).toEqual(['open', 'truncate', 'fsync', 'close']);
  });

  test('knows the commands the brief lists', () => {
    expect(xfsIoCommandNames()).toEqual(
      expect.arrayContaining(['pwrite', 'pread', 'falloc', 'fpunch', 'fzero', 'fcollapse', 'finsert', 'funshare', 'truncate', 'fsync', 'fdatasync', 'sync', 'mmap', 'mwrite', 'msync', 'munmap', 'reflink', 'fiemap']),
    );
  });
});

describe('.xio line structure', () => {
  test('comments, blank lines and continuations; the continued line keeps its first line number', () => {
    const text = ['# header', '', 'a.bin: -f \\', '   -c "pwrite -S 0x41 0 4k" \\', '   -c "fsync"', '  # indented comment', '@sync'].join('\n');
    const ops = parseXioText(text);
    expect(ops.map((op) => `${op.kind}:${op.src.line}`)).toEqual(['open:3', 'write:3', 'fsync:3', 'close:3', 'sync:7']);
    expect(ops[ops.length - 1]).toMatchObject({ kind: 'sync', scope: 'all' });
  });

  test('shell quoting of ARGS: single quotes, double quotes, escapes', () => {
    const ops = parseXioText(`b.bin: -f -c 'pwrite -S 0x41 0 1k' -c "pwrite -S 0x42 4k 1k" -c pwrite\\ -S\\ 0x43\\ 8k\\ 1k`);
    expect(ofKind(ops, 'write').map(({ offset, fill }) => [offset, fill])).toEqual([
      [0, 0x41],
      [4096, 0x42],
      [8192, 0x43],
    ]);
  });

  test('directives map to their ops; @sleep advances timeUs; @blocktrace is ignored', () => {
    const text = [
      '@mkdir d',
      '@syncfs',
      '@sleep 1.5',
      'd/f: -f -c "fsync"',
      '@rename d/f "d/g h"',
      '@unlink d/g',
      '@drop_caches',
      '@remount',
      '@blocktrace start',
      '@snapshot after',
      '@sleep 2m',
      '@sync',
    ].join('\n');
    const ops = parseXioText(text);
    expect(ops.map((op) => [op.kind, op.timeUs])).toEqual([
      ['mkdir', 0],
      ['sync', 0],
      ['open', 1_500_000],
      ['fsync', 1_500_000],
      ['close', 1_500_000],
      ['rename', 1_500_000],
      ['unlink', 1_500_000],
      ['dropCaches', 1_500_000],
      ['remount', 1_500_000],
      ['snapshot', 1_500_000],
      ['sync', 121_500_000],
    ]);
    expect(ops[1]).toMatchObject({ scope: 'fs' });
    expect(ops[5]).toMatchObject({ from: 'd/f', to: 'd/g h' });
    expect(ops[9]).toMatchObject({ label: 'after' });
  });

  test('fds increase across lines and are never reused', () => {
    const ops = parseXioText('a: -f -c fsync\nb: -f -c fsync\na: -c fsync');
    expect(ofKind(ops, 'open').map((op) => [op.path, op.fd])).toEqual([
      ['a', 3],
      ['b', 4],
      ['a', 5],
    ]);
  });

  test('readXio streams .gz input and gives the same ops as the plain file', async () => {
    const text = readFileSync(join(REPO_DIR, 'traces/demo.xio'), 'utf8');
    const plain = await collect(readXio(temp.write('demo.xio', text), 'demo.xio'));
    const gz = await collect(readXio(temp.writeGz('demo.xio.gz', text), 'demo.xio'));
    expect(gz).toEqual(plain);
    expect(plain).toEqual(parseXioText(text, 'demo.xio'));
  });
});

describe('xfs_io numbers (cvtnum)', () => {
  test.each([
    ['4096', 4096],
    ['4k', 4096],
    ['4K', 4096],
    ['1m', 1048576],
    ['1g', 2 ** 30],
    ['2t', 2 * 2 ** 40],
    ['0x10', 16],
    ['010', 8],
    ['2b', 8192],
    ['3s', 1536],
    ['0', 0],
    ['0k', 0],
  ])('%s = %d', (text, value) => {
    expect(parseXfsIoNumber(text)).toBe(value);
  });

  test.each(['', 'k', '-1', '08', '1.5m', '4kk', '4q', '0x', ' 4'])('%j is not a number', (text) => {
    expect(parseXfsIoNumber(text)).toBeNull();
  });
});

describe('.xio errors name file:line:column and what was expected', () => {
  test('unknown xfs_io command: the column points at the command word', () => {
    const error = errorOf('# c\nf: -f -c "pwrite 0 4k" -c "pwirte 0 4k"');
    const column = 'f: -f -c "pwrite 0 4k" -c "'.length + 1;
    expect(error.message).toBe(
      `trace.xio:2:${column}: unknown xfs_io command 'pwirte' (expected one of ${xfsIoCommandNames().join(', ')})`,
    );
    expect(error.message).toContain('(expected one of pwrite, pread, ');
  });

  test('unknown xfs_io option: the column points at the letter', () => {
    const error = errorOf('f: -fq -c fsync');
    expect(error.message).toBe("trace.xio:1:6: unknown xfs_io option '-q' (expected one of -f -d -s -t -r -a -D -x -F -n -m MODE -p PROG -c CMD)");
  });

  test('unknown command option, bad numbers and wrong operand counts', () => {
    expect(errorOf('f: -c "pwrite -R 0 4k"').message).toBe(
      "trace.xio:1:16: unknown or unsupported pwrite option '-R' (expected pwrite [-b bsize] [-S seed] [-D] [-w] [-W] [-q] off len)",
    );
    expect(errorOf('f: -c "pwrite 0 4q"').message).toBe(
      "trace.xio:1:17: bad length '4q' for pwrite (expected a byte count: 4096, 0x1000, 4k, 1m, 8b (blocks), 8s (sectors))",
    );
    expect(errorOf('f: -c "fpunch 0"').message).toMatch(/^trace\.xio:1:8: fpunch takes 2 arguments, got 1 \(expected fpunch off len\)$/);
    expect(errorOf('f: -c "fsync now"').message).toBe('trace.xio:1:14: fsync takes no arguments, got 1 (expected fsync)');
  });

  test('unknown directive and wrong directive arguments', () => {
    expect(errorOf('@frobnicate x').message).toBe(
      "trace.xio:1:1: unknown directive '@frobnicate' (expected one of @sync, @syncfs, @drop_caches, @remount, @mkdir, @rename, @unlink, @snapshot, @sleep, @blocktrace)",
    );
    expect(errorOf('@rename a').message).toBe('trace.xio:1:10: @rename takes 2 arguments, got 1 (expected @rename SRC DST)');
    expect(errorOf('@sleep soon').message).toBe("trace.xio:1:8: bad sleep duration 'soon' (expected seconds like 5, 0.5 or 2m)");
  });

  test('a shell line is refused with a hint to replay the strace capture', () => {
    const error = errorOf('a: -f -c fsync\n\n  ! unzip x.zip');
    expect(error.message).toBe("trace.xio:3:3: shell lines ('! COMMAND') cannot be replayed (expected 'FILE: ARGS' or '@directive')");
    expect(error.hint).toBe("replay the program's strace capture instead (captured/FS/trace.strace)");
  });

  test('mmap misuse: mwrite without a mapping, outside it, or into a read-only one', () => {
    expect(errorOf('f: -c "mwrite 0 4k"').message).toBe("trace.xio:1:8: mwrite without a mapping (expected an 'mmap -rw off len' command before it)");
    expect(errorOf('f: -c "mmap -rw 0 8k" -c "mwrite 4k 8k"').message).toMatch(/mwrite range 4096\+8192 is outside the mapping \[0, 8192\)/);
    expect(errorOf('f: -c "mmap -r 0 8k" -c "mwrite 0 4k"').message).toMatch(/mwrite into a read-only mapping/);
    expect(errorOf('f: -c "mmap -rw 0 8k" -c "munmap" -c "mwrite 0 4k"').message).toMatch(/mwrite without a mapping/);
  });

  test('structural errors: no colon, stray argument, unclosed quote, dangling continuation', () => {
    expect(errorOf('pwrite 0 4k').message).toBe(
      "trace.xio:1:1: not an .xio line (expected 'FILE: ARGS', '@directive ARGS', '! SHELL' or '# comment')",
    );
    expect(errorOf('f: -f other.bin -c fsync').message).toMatch(/^trace\.xio:1:7: unexpected xfs_io argument 'other\.bin'/);
    expect(errorOf('f: -c "pwrite 0 4k').message).toBe(
      'trace.xio:1:7: no closing quotation (expected shell quoting, as in -c "pwrite 0 4k")',
    );
    expect(errorOf('f: -f \\').message).toBe(
      'trace.xio:1: the last line ends in a backslash but no line follows (expected a continuation line)',
    );
  });

  test('an error on a continued line reports the first physical line', () => {
    const error = errorOf('a: -f \\\n -c "pwirte 0 4k"');
    expect(error.message).toMatch(/^trace\.xio:1:\d+: unknown xfs_io command 'pwirte'/);
  });

  test('readXio uses the display name in errors', async () => {
    const path = temp.write('bad.xio', '# fine\n@nope\n');
    const error = await traceErrorOf(collect(readXio(path, 'shown.xio')));
    expect(error.message).toMatch(/^shown\.xio:2:1: unknown directive '@nope'/);
  });
});
