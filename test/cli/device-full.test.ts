/**
 * A trace that outgrows the simulated device: the replay reports every ENOSPC,
 * prints the layouts anyway, and the CLI exits 5 naming the first failing op.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main.js';

test('a full device exits 5 with the first failing op and a hint', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomapsim-full-'));
  try {
    const trace = path.join(dir, 'fill.xio');
    // 40 MiB into a 32 MiB device.
    fs.writeFileSync(trace, 'big.bin: -f -c "pwrite -S 0x61 -b 1m 0 40m" -c "fsync"\n');
    let stdout = '';
    let stderr = '';
    const code = await main(['replay', trace, '--device-size', '32m', '--no-image', '--json'], {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      cwd: dir,
    });
    expect(code).toBe(5);
    expect(stderr).toMatch(/^iomapsim: the simulated device \(33554432 bytes \(32\.0 MiB\)\) filled up: \d+ operations? failed with ENOSPC, the first at .*fill\.xio:1\n/);
    expect(stderr).toContain('hint: give the device more room with --device-size (e.g. --device-size 128m)');
    const result = JSON.parse(stdout);
    expect(result.errors.length).toBeGreaterThan(0);
    expect(result.errors.every((error: { errno: string }) => error.errno === 'ENOSPC')).toBe(true);
    // What fitted was written: the file has data and a size below 40 MiB.
    const file = result.files.find((entry: { path: string }) => entry.path === 'big.bin');
    expect(file.size).toBeGreaterThan(0);
    expect(file.size).toBeLessThan(40 * 1024 * 1024);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
