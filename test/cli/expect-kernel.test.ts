/**
 * Goldens recorded from the real kernel (`iomapsim record`, replay --json shape)
 * work with --expect: layouts are compared, the kernel's run counts are not.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main.js';
import { REPO_DIR } from '../conformance/corpus.js';

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(args, { stdout: () => undefined, stderr: (text) => (stderr += text), cwd: REPO_DIR });
  return { code, stderr };
}

test.each(['demo.xio', 'demo.csv'])('traces/%s meets its ext4 kernel golden, physical addresses included', async (trace) => {
  const golden = path.join(REPO_DIR, 'test/golden/kernel', `${trace}.ext4.json`);
  const { code, stderr } = await run(['replay', `traces/${trace}`, '--no-image', '--quiet', '--expect', golden]);
  expect(stderr).toBe('');
  expect(code).toBe(0);
});

test('a kernel golden with a moved extent fails with a readable diff', async () => {
  const golden = JSON.parse(fs.readFileSync(path.join(REPO_DIR, 'test/golden/kernel/demo.xio.ext4.json'), 'utf8'));
  const file = golden.files.find((entry: { path: string }) => entry.path === 'demo/punch.bin');
  file.extents[1].physical += 8;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomapsim-golden-'));
  try {
    const changed = path.join(dir, 'golden.json');
    fs.writeFileSync(changed, JSON.stringify(golden));
    const { code, stderr } = await run(['replay', 'traces/demo.xio', '--no-image', '--quiet', '--expect', changed]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/demo\/punch\.bin: extent 1: expected \[64\+64\]@33224.*, got \[64\+64\]@33216/);
    const relaxed = await run(['replay', 'traces/demo.xio', '--no-image', '--quiet', '--expect', changed, '--no-expect-physical']);
    expect(relaxed.code).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
