/**
 * `replay --report FILE.html` through main(): the file is written (and
 * rewritten), names and paths that are not a usable HTML file are refused
 * before any work, and a real replay of traces/demo.xio gives a report that
 * shows its files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { capture, fakeEngine, removeTempDirs, tempDir } from '../cli/fake.js';

afterAll(removeTempDirs);

async function runFake(args: string[], cwd = tempDir()) {
  const out = capture(cwd);
  const engine = fakeEngine();
  const code = await main(args, out.io, { engine });
  return { code, stdout: out.stdout, stderr: out.stderr, cwd, engine };
}

describe('--report with the stand-in engine', () => {
  test('writes the report and says so; an existing .html file is overwritten', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'r.html'), 'old');
    const { code, stdout, stderr } = await runFake(['replay', 't.xio', '--report', 'r.html'], cwd);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('report:  r.html\n');
    const html = fs.readFileSync(path.join(cwd, 'r.html'), 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<dt>trace</dt><dd>t.xio</dd>');
    expect(html).toContain('<code>frag.bin</code>');
  });

  test('works with --json: stdout stays JSON only', async () => {
    const { code, stdout, cwd } = await runFake(['replay', 't.xio', '--json', '--report', 'out.htm']);
    expect(code).toBe(0);
    expect(() => JSON.parse(stdout)).not.toThrow();
    expect(fs.existsSync(path.join(cwd, 'out.htm'))).toBe(true);
  });

  test('a name not ending in .html is refused before the replay', async () => {
    const { code, stderr, engine } = await runFake(['replay', 't.xio', '--report', 'r.txt']);
    expect(code).toBe(2);
    expect(stderr).toBe("iomapsim: --report: 'r.txt' does not end in .html (expected an HTML file name)\nhint: e.g. --report report.html\n");
    expect(engine.calls).toEqual([]);
  });

  test('a directory is refused before the replay, and left alone', async () => {
    const cwd = tempDir();
    fs.mkdirSync(path.join(cwd, 'd.html'));
    const { code, stderr, engine } = await runFake(['replay', 't.xio', '--report', 'd.html'], cwd);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe('iomapsim: --report: d.html is a directory (expected an HTML file name)');
    expect(engine.calls).toEqual([]);
    expect(fs.statSync(path.join(cwd, 'd.html')).isDirectory()).toBe(true);
  });

  test('a missing directory is refused before the replay', async () => {
    const { code, stderr, engine } = await runFake(['replay', 't.xio', '--report', 'no/such/dir/r.html']);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe('iomapsim: --report: the directory of no/such/dir/r.html does not exist');
    expect(engine.calls).toEqual([]);
  });

  test('an empty name, or the image path, is refused', async () => {
    expect((await runFake(['replay', 't.xio', '--report', ''])).code).toBe(2);
    const same = await runFake(['replay', 't.xio', '--image', 'x.html', '--report', 'x.html']);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('--report: x.html is also the trace or the image');
  });
});

describe('--report with the real engine', () => {
  test('replay traces/demo.xio --report: every file on the map and in the bars', async () => {
    const cwd = tempDir();
    fs.copyFileSync(path.resolve('traces/demo.xio'), path.join(cwd, 'demo.xio'));
    const out = capture(cwd);
    const code = await main(['replay', 'demo.xio', '--report', 'report.html', '--quiet', '--json', '--deterministic'], out.io);
    expect(code).toBe(0);
    const result = JSON.parse(out.stdout) as { files: { path: string }[] };
    const html = fs.readFileSync(path.join(cwd, 'report.html'), 'utf8');
    expect(result.files.length).toBeGreaterThan(0);
    for (const file of result.files) {
      expect(html).toContain(`<code>${file.path}</code>`);
      expect(html).toContain(`<title>${file.path}: `);
    }
    expect([...html.matchAll(/<g class="file-bar" /g)]).toHaveLength(result.files.length);
    expect(html).toContain('<g class="reserved"');
    // The same run gives the same report.
    const again = capture(cwd);
    expect(await main(['replay', 'demo.xio', '--report', 'report2.html', '--quiet', '--deterministic'], again.io)).toBe(0);
    expect(fs.readFileSync(path.join(cwd, 'report2.html'), 'utf8')).toBe(html);
  });
});
