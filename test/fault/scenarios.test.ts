/**
 * One scenario per recovery path (kernel-behaviour.md section 4 and the
 * seeds): a tiny trace, one planned fault, and the layout and counters the
 * kernel's recovery leaves. The device is poisoned, so a block read back
 * that was never written would show up in the invariant checks that run
 * after every faulted op.
 */
import { MemDevice } from '../../src/device/blockdev.js';
import type { FaultSpec } from '../../src/fault/types.js';
import { replay } from '../../src/replay/replay.js';
import type { RecoveryEvent, ReplayResult } from '../../src/report/model.js';
import { parseXioText } from '../../src/trace/xio.js';

const MiB = 1024 * 1024;

function fault(kind: FaultSpec['kind'], fields: Partial<FaultSpec>): FaultSpec {
  const where = Object.entries(fields).map(([key, value]) => `${key}=${String(value)}`).join(',');
  return { kind, text: `${kind}@${where}`, ...fields };
}

async function run(policy: string, xio: string, faults: FaultSpec[], onCheckpoint?: (ops: number) => number): Promise<ReplayResult> {
  const ops = parseXioText(xio, 't.xio');
  async function* stream() {
    yield* ops;
  }
  const options = { policy, blockSize: 4096, deviceSize: 64 * MiB, seed: 7, traceName: 't.xio', finalSync: true, deterministic: true, device: new MemDevice(64 * MiB, 0xee), faults: { faults } };
  const { result } = await replay(stream(), onCheckpoint ? { ...options, onCheckpoint: (meta) => onCheckpoint(meta.opsApplied) } : options);
  return result;
}

function onlyEvent(result: ReplayResult): RecoveryEvent {
  expect(result.recovery).toBeDefined();
  expect(result.recovery!.events).toHaveLength(1);
  return result.recovery!.events[0]!;
}

const WRITE_64K = 'f: -f -c "pwrite -S 0x61 -b 64k 0 64k"\n';

describe('seed 004: a short buffered copy', () => {
  // op 1 open, op 2 the 64 KiB pwrite, op 3 close. The copy stops after 10000 bytes: page 2 is new and not uptodate,
  // so its 4096-byte chunk counts 0 and is retried with the 1808 bytes that copied; then EFAULT ends the write.
  test.each([
    ['xfs', 'delalloc-punch'],
    ['ext4', 'reservation-release'],
    ['btrfs', 'reservation-release'],
  ])('%s: retried smaller, the new delalloc past the copy is released (%s)', async (policy, release) => {
    const result = await run(policy, WRITE_64K, [fault('short-copy', { op: 2, bytes: 10000 })]);
    const event = onlyEvent(result);
    expect(event).toMatchObject({ op: 'write', path: 'f', bytesRequested: 65536, bytesWritten: 10000, bytesRetried: 1808, bytesPunched: 13 * 4096, bytesKept: 0, bytesLost: 0 });
    expect(event.paths).toEqual(['retry-smaller', release]);
    // btrfs keeps no delalloc records in the data fork (its reservation is space accounting only).
    expect(event.state).toMatch(policy === 'btrfs' ? /^i_size 10000, .* 0 delalloc blocks, 3 dirty pages/ : /^i_size 10000, .* 3 delalloc blocks, 3 dirty pages/);
    const file = result.files[0]!;
    expect(file.size).toBe(10000);
    expect(file.extents.map((extent) => extent.length)).toEqual([3]);
    expect(result.recovery!.invariantChecks).toBe(1);
  });

  test('nothing readable: EFAULT, nothing written, every reservation punched', async () => {
    const result = await run('xfs', WRITE_64K, [fault('short-copy', { op: 2, bytes: 0 })]);
    const event = onlyEvent(result);
    expect(event).toMatchObject({ bytesWritten: 0, errno: 'EFAULT', bytesPunched: 16 * 4096 });
    expect(event.paths).toEqual(['delalloc-punch']);
    expect(result.files[0]!.size).toBe(0);
    expect(result.files[0]!.extents).toEqual([]);
  });

  test('into an uptodate folio the partial copy is kept as it is (no retry)', async () => {
    const result = await run('xfs', 'f: -f -c "pwrite -S 0x61 -b 8k 0 8k" -c "pwrite -S 0x62 -b 8k 0 8k"\n', [fault('short-copy', { op: 3, bytes: 5000 })]);
    const event = onlyEvent(result);
    expect(event).toMatchObject({ bytesWritten: 5000, bytesRetried: 0, bytesPunched: 0 });
    expect(event.paths).toEqual(['none']);
  });
});

describe('seed 001: a short direct write', () => {
  const DIO = 'f: -f -d -c "pwrite -S 0x61 -b 64k 0 64k"\n';
  test('ext4 trims what it allocated past the new EOF, finishes the rest buffered, writes it back and invalidates', async () => {
    const result = await run('ext4', DIO, [fault('short-dio', { op: 2, bytes: 16384 })]);
    const event = onlyEvent(result);
    expect(event.paths).toEqual(['eof-trim', 'dio-buffered-fallback']);
    expect(event).toMatchObject({ bytesWritten: 65536, bytesRetried: 49152, bytesPunched: 49152 });
    expect(event.state).toBe('i_size 65536, on-disk size 65536, 16 written, 0 unwritten, 0 delalloc blocks, 0 dirty pages');
    expect(result.files[0]!.extents.map((extent) => [extent.logical, extent.length])).toEqual([
      [0, 4],
      [4, 12],
    ]);
  });

  test('xfs returns the short count: no fallback, the rest stays unwritten past EOF', async () => {
    const result = await run('xfs', DIO, [fault('short-dio', { op: 2, bytes: 16384 })]);
    const event = onlyEvent(result);
    expect(event.paths).toEqual(['short-return']);
    expect(event).toMatchObject({ bytesWritten: 16384, bytesRetried: 0 });
    expect(event.state).toMatch(/^i_size 16384, on-disk size 16384, 4 written, 12 unwritten/);
  });

  test('a device error fails the direct write: unwritten extents stay unwritten, i_size does not move', async () => {
    const result = await run('xfs', 'f: -f -c "truncate 64k" -d -c "pwrite -S 0x61 -b 64k 0 64k"\n', [fault('eio', { op: 3 })]);
    const event = onlyEvent(result);
    expect(event).toMatchObject({ op: 'write', errno: 'EIO', bytesWritten: 0, bytesLost: 65536 });
    expect(event.paths).toEqual(['unwritten-kept']);
    expect(result.files[0]!.extents.every((extent) => extent.flags.includes('unwritten'))).toBe(true);
  });
});

describe('seed 002: btrfs reservations', () => {
  test('out of data space, a write into a preallocated range goes in place (nocow fallback)', async () => {
    const xio = 'f: -f -c "falloc 0 64k" -c "fsync" -c "pwrite -S 0x61 -b 64k 0 64k" -c "fsync"\n';
    const clean = await run('btrfs', xio, []);
    const result = await run('btrfs', xio, [fault('enospc', { op: 4 })]);
    const event = onlyEvent(result);
    expect(event.paths).toEqual(['nocow-fallback']);
    expect(event.bytesWritten).toBe(65536);
    // In place: the data lands in the preallocated extent, as without the fault.
    expect(result.files[0]!.extents).toEqual(clean.files[0]!.extents);
    expect(result.errors).toEqual([]);
  });

  test('out of data space with nothing preallocated: the write fails (no retry)', async () => {
    const result = await run('btrfs', WRITE_64K, [fault('enospc', { op: 2 })]);
    const event = onlyEvent(result);
    expect(event).toMatchObject({ errno: 'ENOSPC', bytesWritten: 0 });
    expect(event.paths).toEqual(['none']);
  });
});

describe('seed 003: XFS unaligned direct write to shared blocks', () => {
  test('bounces through the page cache', async () => {
    const xio = 'src: -f -c "pwrite -S 0x61 0 64k" -c "fsync"\ndst: -f -c "reflink src" -d -c "pwrite -S 0x62 512 512"\n';
    const result = await run('xfs', xio, []);
    const events = result.recovery!.events.filter((event) => event.paths.includes('cow-bounce'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ path: 'dst', fault: 'none', bytesWritten: 512, bytesRetried: 512 });
  });
});

describe('ENOSPC retries', () => {
  test('ext4 retries a failed reservation (ext4_should_retry_alloc) and the write succeeds', async () => {
    const result = await run('ext4', WRITE_64K, [fault('enospc', { op: 2, count: 1 })]);
    const event = onlyEvent(result);
    expect(event.paths).toEqual(['enospc-retry']);
    expect(event.bytesWritten).toBe(65536);
  });

  test('ext4 gives up after 3 retries while allocation keeps failing', async () => {
    const result = await run('ext4', WRITE_64K, [fault('enospc', { op: 2 })]);
    const event = onlyEvent(result);
    expect(event.fault).toBe(['enospc@op=2', 'enospc@op=2', 'enospc@op=2', 'enospc@op=2'].join(' + '));
    expect(event).toMatchObject({ errno: 'ENOSPC', bytesWritten: 0 });
  });

  test('xfs retries once without speculative preallocation', async () => {
    const result = await run('xfs', WRITE_64K, [fault('enospc', { op: 2, count: 1 })]);
    expect(onlyEvent(result)).toMatchObject({ paths: ['enospc-retry'], bytesWritten: 65536 });
  });
});

describe('writeback errors', () => {
  test.each(['ext4', 'xfs'])('%s: the data is lost, the extents stay unwritten, fsync returns EIO once', async (policy) => {
    const result = await run(policy, 'f: -f -c "pwrite -S 0x61 -b 64k 0 64k" -c "fsync" -c "fsync"\n', [fault('eio', { op: 3 })]);
    const event = onlyEvent(result);
    expect(event).toMatchObject({ op: 'fsync', errno: 'EIO', bytesLost: 65536 });
    expect(event.paths).toEqual(['error-recorded', 'unwritten-kept']);
    expect(result.errors.map((error) => error.errno)).toEqual(['EIO']);
    expect(result.files[0]!.extents.every((extent) => extent.flags.includes('unwritten'))).toBe(true);
  });

  test('btrfs: the failed ordered extent is dropped (reads as a hole)', async () => {
    const result = await run('btrfs', 'f: -f -c "pwrite -S 0x61 -b 64k 0 64k" -c "fsync"\n', [fault('eio', { op: 3 })]);
    expect(onlyEvent(result).paths).toEqual(['error-recorded']);
    expect(result.files[0]!.extents).toEqual([]);
    expect(result.files[0]!.size).toBe(65536);
  });
});

describe('crash', () => {
  test('crash@op stops before the op; checkpoints were taken at every sync point before it', async () => {
    const checkpoints: number[] = [];
    const xio = 'f: -f -c "pwrite 0 4k" -c "fsync" -c "pwrite 4k 4k" -c "fsync" -c "pwrite 8k 4k"\n';
    const result = await run('ext4', xio, [fault('crash', { op: 6 })], (ops) => checkpoints.push(ops));
    expect(checkpoints).toEqual([3, 5]);
    expect(result.crashed).toEqual({ fault: 'crash@op=6', opsApplied: 5, checkpointGeneration: 2, checkpointOps: 5 });
    expect(result.stats.opsTotal).toBe(5);
  });

  test('crash@bytes dies inside the op that reaches the count', async () => {
    // Ops: open, 16 x 4 KiB writes, fsync (op 18, 64 KiB to the device), 16 writes, fsync (op 35): the second fsync crosses 100000 bytes.
    const result = await run('xfs', 'f: -f -c "pwrite 0 64k" -c "fsync" -c "pwrite 64k 64k" -c "fsync"\n', [fault('crash', { afterDeviceBytes: 100000 })]);
    expect(result.crashed).toEqual({ fault: 'crash@afterDeviceBytes=100000', opsApplied: 34, checkpointGeneration: 0, checkpointOps: 0 });
  });
});
