/**
 * `iomapsim compare` through main() with the real engine in a temporary
 * working directory: the side-by-side text and JSON, the same figures as a
 * replay of each policy, --policies checks, no image written, errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import type { ReplayResult } from '../../src/report/model.js';
import { capture, removeTempDirs, tempDir } from './fake.js';

afterAll(removeTempDirs);

let cwd = '';
beforeEach(() => {
  cwd = tempDir();
  fs.copyFileSync(path.resolve('traces', 'demo.xio'), path.join(cwd, 'demo.xio'));
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture(cwd);
  const code = await main(args, out.io);
  return { code, stdout: out.stdout, stderr: out.stderr };
}

interface ComparisonJson {
  policies: string[];
  files: { path: string; byPolicy: Record<string, { extents: number; allocatedBlocks: number; size: number; deviceBytesWritten: number } | null> }[];
  totals: Record<string, { files: number; extents: number; deviceBytesWritten: number; blocksFree: number }>;
}

describe('compare', () => {
  test('--json: per file and policy the same figures a replay of that policy reports; no image is written', async () => {
    const { code, stdout } = await cli(['compare', 'demo.xio', '--policies', 'ext4', '--json', '--seed', '5']);
    expect(code).toBe(0);
    const comparison = JSON.parse(stdout) as ComparisonJson;
    const replayed = await cli(['replay', 'demo.xio', '--json', '--seed', '5', '--no-image']);
    const result = JSON.parse(replayed.stdout) as ReplayResult;
    expect(comparison.files.map((file) => file.path)).toEqual(result.files.map((file) => file.path));
    for (const file of result.files) {
      const row = comparison.files.find((candidate) => candidate.path === file.path)!.byPolicy['ext4']!;
      expect(row).toMatchObject({ size: file.size, extents: file.extents.length, allocatedBlocks: file.allocatedBlocks, deviceBytesWritten: file.io!.deviceBytesWritten });
    }
    expect(comparison.totals['ext4']).toMatchObject({ files: result.files.length, deviceBytesWritten: result.stats.deviceBytesWritten, blocksFree: result.stats.blocksFree });
    expect(fs.readdirSync(cwd)).toEqual(['demo.xio']);
  });

  test('text: the header, a table per file, totals', async () => {
    const { code, stdout } = await cli(['compare', 'demo.xio', '--policies', 'ext4', '--no-device-model']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^compare: demo.xio under ext4 \(block size 4096, device 1.0G, seed \d+\)\n/);
    expect(stdout).toMatch(/\ntotals\n {2}policy {2}files/);
    expect(stdout).toContain('\ndemo/direct.bin\n  policy');
  });

  test('the default compares every registered policy, the same JSON twice', async () => {
    const first = await cli(['compare', 'demo.xio', '--json']);
    const second = await cli(['compare', 'demo.xio', '--json']);
    expect(first.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    const { listPolicies } = await import('../../src/fs/registry.js');
    expect((JSON.parse(first.stdout) as ComparisonJson).policies).toEqual(listPolicies());
  });

  test.each([
    [['--policies', 'ext4,zfs'], "--policies: unknown policy 'zfs'"],
    [['--policies', 'ext4,ext4'], "--policies names 'ext4' twice"],
    [['--policies', ' , '], '--policies needs at least one policy name'],
    [['--block-size', '3000'], '--block-size: 3000 is not supported'],
  ])('usage errors: %j', async (extra, message) => {
    const { code, stderr, stdout } = await cli(['compare', 'demo.xio', ...extra]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    expect(stderr).toContain('hint:');
  });

  test('a missing trace is a trace error (exit 3)', async () => {
    const { code, stderr } = await cli(['compare', 'nope.xio']);
    expect(code).toBe(3);
    expect(stderr).toContain('nope.xio');
  });
});
