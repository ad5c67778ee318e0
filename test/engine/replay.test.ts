/**
 * The replay driver (src/replay): trace paths under --root, the per-process
 * fd table (EBADF for fds never opened, as the kernel answers), ignoring
 * files outside the root and everything done through their fds, the
 * traced-failure report, and determinism of the JSON result.
 */
import { mapTracePath } from '../../src/replay/fdtable.js';
import { replay } from '../../src/replay/replay.js';
import type { ReplayOptions } from '../../src/replay/types.js';
import { toJson } from '../../src/report/json.js';
import { defaultOpenFlags, type OpenFlags, type TraceOp } from '../../src/trace/types.js';

const FILE = 'trace.strace';
const KiB = 1024;

function options(overrides: Partial<ReplayOptions> = {}): ReplayOptions {
  return {
    policy: 'ext4',
    blockSize: 4096,
    deviceSize: 64 * 1024 * 1024,
    seed: 1234,
    traceName: FILE,
    root: '/mnt',
    finalSync: true,
    deterministic: true,
    ...overrides,
  };
}

async function* stream(ops: TraceOp[]): AsyncIterable<TraceOp> {
  for (const op of ops) yield op;
}

/** Small builders: line numbers are given so error positions can be checked. */
const at = (line: number) => ({ src: { file: FILE, line }, pid: 100 });
const flags = (overrides: Partial<OpenFlags> = {}): OpenFlags => ({ ...defaultOpenFlags, create: true, ...overrides });
const open = (line: number, fd: number, path: string): TraceOp => ({ kind: 'open', ...at(line), fd, path, flags: flags() });
const write = (line: number, fd: number, offset: number, length: number): TraceOp => ({ kind: 'write', ...at(line), fd, offset, length, fill: 0x61 });
const close = (line: number, fd: number): TraceOp => ({ kind: 'close', ...at(line), fd });

describe('mapTracePath', () => {
  test.each<[string, string | undefined, string | undefined]>([
    ['/mnt/a/b', '/mnt', 'a/b'],
    ['/mnt/a/b', '/mnt/', 'a/b'],
    ['/mnt', '/mnt', ''],
    ['/mntx/a', '/mnt', undefined],
    ['/etc/passwd', '/mnt', undefined],
    ['/mnt/a/../b', '/mnt', 'b'],
    ['/mnt/a/./b//c', '/mnt', 'a/b/c'],
    ['/mnt/../etc/passwd', '/mnt', undefined],
    ['./a/./b', undefined, 'a/b'],
    ['/a//b/', undefined, 'a/b'],
    ['a/..', undefined, ''],
    ['..', undefined, undefined],
  ])('%s under root %s -> %s', (path, root, expected) => {
    expect(mapTracePath(path, root)).toBe(expected);
  });
});

describe('replay errors', () => {
  test('ops on an fd that was never opened are EBADF, recorded with file:line, and the replay goes on', async () => {
    const { result } = await replay(stream([write(3, 7, 0, 100), open(4, 3, '/mnt/f'), write(5, 3, 0, 100), close(6, 9)]), options());
    expect(result.errors.map((error) => [error.at, error.op, error.errno])).toEqual([
      [`${FILE}:3`, 'write', 'EBADF'],
      [`${FILE}:6`, 'close', 'EBADF'],
    ]);
    expect(result.stats.opsFailed).toBe(2);
    expect(result.files.map((file) => [file.path, file.size])).toEqual([['f', 100]]);
  });

  test('opens outside --root are ignored and counted; later calls on their fds are ignored too', async () => {
    const ops: TraceOp[] = [
      open(1, 3, '/etc/passwd'),
      write(2, 3, 0, 4096),
      { kind: 'fsync', ...at(3), fd: 3, dataOnly: false },
      close(4, 3),
      open(5, 3, '/mnt/inside'), // the fd number is reused for a file under the root
      write(6, 3, 0, 10),
      close(7, 3),
    ];
    const { result } = await replay(stream(ops), options());
    expect(result.errors).toEqual([]);
    expect(result.stats.opsIgnored).toEqual({ 'outside-root': 4 });
    expect(result.files.map((file) => [file.path, file.size])).toEqual([['inside', 10]]);
    expect(result.stats.bytesWritten).toBe(10);
    expect(result.stats.opsTotal).toBe(7);
  });

  test('traced failures are reported with what the simulation answered', async () => {
    const ops: TraceOp[] = [
      { kind: 'open', ...at(1), fd: 3, path: '/mnt/missing', flags: flags({ create: false }), traced: { errno: 'ENOENT' } },
      { kind: 'open', ...at(2), fd: 4, path: '/mnt/made', flags: flags(), traced: { errno: 'EACCES' } },
      write(3, 4, 0, 10),
    ];
    const { result } = await replay(stream(ops), options());
    expect(result.tracedFailures).toEqual([
      { at: `${FILE}:1`, op: 'open', tracedErrno: 'ENOENT', simErrno: 'ENOENT' },
      { at: `${FILE}:2`, op: 'open', tracedErrno: 'EACCES', simErrno: null },
    ]);
    expect(result.errors.map((error) => [error.at, error.errno, error.path])).toEqual([[`${FILE}:1`, 'ENOENT', '/mnt/missing']]);
  });
});

describe('traces with recorded results (strace)', () => {
  test('files and directories that existed before tracing are assumed, created empty on first use', async () => {
    const ops: TraceOp[] = [
      { kind: 'open', ...at(1), fd: 3, path: '/mnt/old/dir/data.db', flags: flags({ create: false }), traced: { returned: 3 } },
      write(2, 3, 8192, 4096),
      close(3, 3),
    ];
    const { result } = await replay(stream(ops), options());
    expect(result.errors).toEqual([]);
    expect(result.stats.assumed).toEqual({ dir: 2, file: 1 });
    expect(result.dirs).toEqual(['old', 'old/dir']);
    expect(result.files.map((file) => [file.path, file.size])).toEqual([['old/dir/data.db', 12288]]);
  });

  test('mkdir, unlink and rename that succeeded in the trace assume what pre-existed', async () => {
    const ok = { traced: { returned: 0 } };
    const ops: TraceOp[] = [
      { kind: 'mkdir', ...at(1), path: '/mnt/repo/.git/objects/4b', ...ok },
      { kind: 'unlink', ...at(2), path: '/mnt/repo/.git/index.lock', ...ok },
      { kind: 'rename', ...at(3), from: '/mnt/repo/.git/HEAD.lock', to: '/mnt/repo/.git/HEAD', ...ok },
      // A failure the trace recorded is replayed as it was: no assumption.
      { kind: 'unlink', ...at(4), path: '/mnt/repo/.git/MERGE_HEAD', traced: { errno: 'ENOENT' } },
    ];
    const { result } = await replay(stream(ops), options());
    expect(result.errors.map((error) => [error.at, error.errno])).toEqual([[`${FILE}:4`, 'ENOENT']]);
    expect(result.tracedFailures).toEqual([{ at: `${FILE}:4`, op: 'unlink', tracedErrno: 'ENOENT', simErrno: 'ENOENT' }]);
    expect(result.stats.assumed).toEqual({ dir: 3, file: 2 });
    expect(result.dirs).toEqual(['repo', 'repo/.git', 'repo/.git/objects', 'repo/.git/objects/4b']);
    expect(result.files.map((file) => [file.path, file.size])).toEqual([['repo/.git/HEAD', 0]]);
  });

  test('path ops outside --root are counted, not failed', async () => {
    const ops: TraceOp[] = [
      { kind: 'mkdir', ...at(1), path: '/tmp/x' },
      { kind: 'unlink', ...at(2), path: '/home/u/.cache/y' },
      { kind: 'rename', ...at(3), from: '/tmp/a', to: '/tmp/b' },
      { kind: 'truncate', ...at(4), path: '/var/z', size: 0 },
    ];
    const { result } = await replay(stream(ops), options());
    expect(result.errors).toEqual([]);
    expect(result.stats.opsIgnored).toEqual({ 'outside-root': 4 });
  });

  test('copy_file_range from a file outside --root is replayed as a write of what was copied', async () => {
    const ops: TraceOp[] = [
      { kind: 'open', ...at(1), fd: 3, path: '/src/in.bin', flags: flags({ create: false, readOnly: true }), traced: { returned: 3 } },
      { kind: 'open', ...at(2), fd: 4, path: '/mnt/out.bin', flags: flags(), traced: { returned: 4 } },
      { kind: 'copyRange', ...at(3), srcFd: 3, fd: 4, srcOffset: null, dstOffset: null, length: 1 << 20, traced: { returned: 20000 } },
      close(4, 4),
      close(5, 3),
    ];
    const { result } = await replay(stream(ops), options());
    expect(result.errors).toEqual([]);
    expect(result.files.map((file) => [file.path, file.size])).toEqual([['out.bin', 20000]]);
    expect(result.stats.opsIgnored).toEqual({ 'outside-root': 2 });
  });

  test('ignored records never count as traced failures', async () => {
    const ops: TraceOp[] = [{ kind: 'ignored', ...at(1), reason: 'failed-open', call: 'openat', traced: { errno: 'ENOENT' } }];
    const { result } = await replay(stream(ops), options());
    expect(result.tracedFailures).toEqual([]);
    expect(result.stats.opsIgnored).toEqual({ 'failed-open': 1 });
  });
});

describe('progress and interruption', () => {
  function writes(count: number): TraceOp[] {
    const ops: TraceOp[] = [open(1, 3, '/mnt/f')];
    for (let i = 0; i < count; i++) ops.push({ ...write(2 + i, 3, i * 4096, 4096), timeUs: i * 10 });
    return ops;
  }

  test('onProgress every N ops and once at the end', async () => {
    const seen: [number, boolean, number | undefined][] = [];
    await replay(stream(writes(10)), options({ progressEveryOps: 4, onProgress: (p) => seen.push([p.opsDone, p.done, p.traceTimeUs]) }));
    expect(seen).toEqual([
      [4, false, 20],
      [8, false, 60],
      [11, true, 90],
    ]);
  });

  test('an aborted replay stops after the current op, skips the final sync and says so', async () => {
    const controller = new AbortController();
    const { result } = await replay(
      stream(writes(50)),
      options({ progressEveryOps: 5, onProgress: (p) => p.opsDone >= 10 && controller.abort(), signal: controller.signal }),
    );
    expect(result.interrupted).toBe(true);
    expect(result.stats.opsTotal).toBe(10);
    // No final sync: what was written is still delayed allocation.
    expect(result.files[0]!.extents.every((extent) => extent.flags.includes('delalloc'))).toBe(true);
  });
});

describe('determinism', () => {
  function workload(): TraceOp[] {
    const ops: TraceOp[] = [open(1, 3, '/mnt/a'), open(2, 4, '/mnt/b')];
    for (let i = 0; i < 20; i++) {
      ops.push({ kind: 'write', ...at(3 + i), fd: i % 2 === 0 ? 3 : 4, offset: i * 12 * KiB, length: 12 * KiB }); // payload rule, no fill
    }
    ops.push({ kind: 'fsync', ...at(30), fd: 3, dataOnly: false }, { kind: 'snapshot', ...at(31), label: 'mid' }, close(32, 3));
    return ops;
  }

  test('the same ops and seed give byte-identical JSON', async () => {
    const first = await replay(stream(workload()), options());
    const second = await replay(stream(workload()), options());
    const json = toJson(first.result);
    expect(toJson(second.result)).toBe(json);
    expect(json).toContain('"seed": 1234');
    expect(first.result.stats.replaySeconds).toBeUndefined();
    expect(first.result.files.length).toBe(2);
    expect(first.metadata).toEqual(second.metadata);
  });
});
