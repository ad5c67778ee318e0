/**
 * `validate` and `record` on the real kernel: loop mounts of ext4 (and xfs,
 * btrfs where mountable). These need root and a kernel that allows loop
 * mounts; elsewhere (CI) they are skipped with the reason. Every test checks
 * that `losetup -a` and the loop mounts are the same afterwards.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { mountRefusal } from '../../src/validate/loopmount.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const refusal = mountRefusal('ext4');
const mountTest = refusal === null ? test : test.skip;
if (refusal !== null) console.warn(`test/validate/kernel.test.ts: loop-mount tests skipped: ${refusal}`);

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], cwd = repoRoot): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), cwd, env: {} });
  return { code, stdout, stderr };
}

/** `losetup -a` and the loop mounts: what must be unchanged after every run. */
function loopState(): string {
  const losetup = spawnSync('losetup', ['-a'], { encoding: 'utf8' }).stdout ?? '';
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((line) => line.startsWith('/dev/loop') || line.includes('iomapsim-'));
  return `${losetup}\n${mounts.join('\n')}`;
}

let before = '';
let scratch = '';
beforeEach(() => {
  before = refusal === null ? loopState() : '';
  scratch = mkdtempSync(join(tmpdir(), 'iomapsim-test-'));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
  if (refusal === null) expect(loopState()).toBe(before);
});

test('without root: one line, exit 2', async () => {
  const getuid = jest.spyOn(process, 'getuid').mockReturnValue(1000);
  try {
    for (const command of ['validate', 'record']) {
      const result = await run(command === 'record' ? [command, 'traces/demo.xio', '--out', scratch] : [command, 'traces/demo.xio']);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`iomapsim: ${command} needs root and loop mounts: not running as root (uid 1000); run it with sudo\n`);
    }
  } finally {
    getuid.mockRestore();
  }
});

test('a missing trace fails before anything is mounted (exit 3)', async () => {
  const result = await run(['validate', 'no-such-trace.xio', '--policy', 'ext4']);
  expect(result.code).toBe(3);
  expect(result.stderr).toContain('no-such-trace.xio: no such file');
});

describe('on the real kernel', () => {
  mountTest('validate --policy xfs: demo.xio matches the kernel block for block, preallocation included', async () => {
    const result = await run(['validate', 'traces/demo.xio', '--policy', 'xfs']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^validate traces\/demo\.xio on xfs: kernel \S+ \(xio-lines\), simulator policy xfs/);
    expect(result.stdout).toContain('score: logical 100% of 1122 blocks');
    const sim = /sim {4}(\[0\+32\]@\d+:u \[32\+16\]@\d+ \[48\+80\]@\d+:u)/.exec(result.stdout);
    const kernel = /kernel (\[0\+32\]@\d+:u \[32\+16\]@\d+ \[48\+80\]@\d+:u)/.exec(result.stdout);
    expect(sim?.[1]).toBe(kernel?.[1]);
  });

  mountTest('validate a trace whose files all lie outside the root: says nothing was compared and suggests --root', async () => {
    const result = await run(['validate', 'traces/demo-v2.fio.log', '--policy', 'ext4']);
    expect(result.stderr).toContain('iomapsim: validate compared no files');
    expect(result.stderr).toContain('hint: the trace\'s paths are absolute: pass the traced mount point with --root (e.g. --root /mnt/iom_ext4)');
    const rooted = await run(['validate', 'traces/demo-v2.fio.log', '--policy', 'ext4', '--root', '/mnt/iom_ext4']);
    expect(rooted.stderr).toBe('');
    expect(rooted.stdout).toContain('files logically equal 1/1');
  });

  mountTest('validate demo.xio on ext4: every layout matches, per-file diff printed', async () => {
    const result = await run(['validate', 'traces/demo.xio', '--policy', 'ext4']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^validate traces\/demo\.xio on ext4: kernel \S+ \(xio-lines\)/);
    expect(result.stdout).toContain('  ok   demo/prealloc.bin: size 196608/196608');
    expect(result.stdout).toMatch(/sim {4}\[0\+32\]@\d+:u \[32\+16\]@\d+ \[48\+80\]@\d+:u/);
  });

  mountTest('validate --policy all --json: ext4, xfs and btrfs scored, none skipped', async () => {
    const result = await run(['validate', 'traces/demo.xio', '--policy', 'all', '--json']);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { policies: { policy: string; logicalMatch: boolean; score: { logicalBlockPercent: number; files: number } }[]; skipped: { policy: string; reason: string }[] };
    expect(json.policies.map((policy) => policy.policy)).toEqual(['ext4', 'xfs', 'btrfs']);
    for (const policy of json.policies) {
      expect([policy.policy, policy.logicalMatch]).toEqual([policy.policy, true]);
      expect(policy.score).toMatchObject({ logicalBlockPercent: 100, files: 5 });
    }
    expect(json.skipped).toEqual([]);
  });

  mountTest('validate a CSV trace: the syscall replayer (O_DIRECT, O_APPEND, fallocate, rename, truncate) matches the final layouts', async () => {
    const result = await run(['validate', 'traces/demo.csv', '--policy', 'ext4', '--json']);
    const json = JSON.parse(result.stdout) as { policies: { method: string; files: { path: string; logicalMatch: boolean; sizeMatch: boolean }[] }[] };
    const policy = json.policies[0]!;
    expect(policy.method).toBe('syscalls');
    expect(policy.files.map((file) => file.path)).toEqual(['csv/app.log', 'csv/dio.bin', 'csv/final.bin', 'csv/holes.dat', 'csv/pre.bin', 'csv/punch.bin']);
    for (const file of policy.files) expect([file.path, file.logicalMatch, file.sizeMatch]).toEqual([file.path, true, true]);
  });

  mountTest('record --policy all writes one replay-shaped golden per mountable filesystem', async () => {
    const result = await run(['record', 'traces/demo.xio', '--out', scratch]);
    expect(result.code).toBe(0);
    const written = ['ext4', 'xfs', 'btrfs'].filter((fs) => existsSync(join(scratch, `demo.xio.${fs}.json`)));
    expect(written).toContain('ext4');
    for (const fs of written) {
      const record = JSON.parse(readFileSync(join(scratch, `demo.xio.${fs}.json`), 'utf8')) as Record<string, unknown> & { files: { path: string }[]; kernel: { release: string } };
      expect(Object.keys(record).slice(0, 7)).toEqual(['schemaVersion', 'tool', 'trace', 'policy', 'blockSize', 'deviceSize', 'seed']);
      expect(record).toMatchObject({ tool: 'iomapsim record', trace: 'traces/demo.xio', policy: fs, blockSize: 4096, deviceSize: 1 << 30, method: 'xio-lines' });
      expect(record.kernel.release).toBe(release());
      expect(record.files.map((file) => file.path)).toEqual(['demo/direct.bin', 'demo/prealloc.bin', 'demo/punch.bin', 'demo/seq.log', 'demo/sparse.dat']);
    }
    const again = await run(['record', 'traces/demo.xio', '--out', scratch, '--policy', 'ext4']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists');
  });

  mountTest('SIGINT in the middle of a kernel run: unmounted, detached, exit 130', async () => {
    const trace = join(scratch, 'long.xio');
    writeFileSync(trace, Array.from({ length: 4000 }, (_, index) => `f${index % 50}: -f -c "pwrite -S 0x61 ${index * 4096} 4k"`).join('\n'));
    const running = run(['record', trace, '--out', join(scratch, 'out'), '--policy', 'ext4']);
    const deadline = Date.now() + 30_000;
    while (!readFileSync('/proc/self/mounts', 'utf8').includes('iomapsim-ext4-') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(readFileSync('/proc/self/mounts', 'utf8')).toContain('iomapsim-ext4-');
    process.emit('SIGINT', 'SIGINT');
    const result = await running;
    expect(result.code).toBe(130);
    expect(result.stderr).toBe('iomapsim: record interrupted by SIGINT; everything was unmounted and detached\n');
    expect(process.listenerCount('SIGINT')).toBe(0);
  });
});
