/**
 * Renders a real report (replay of traces/demo.xio) in headless Chromium:
 * the browser's DOM keeps every SVG element we wrote, and a screenshot is
 * produced. Skipped, with a message, where Chromium is not installed
 * (/usr/bin/chromium, Debian package `chromium`; CI machines do not have it).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { capture, removeTempDirs, tempDir } from '../cli/fake.js';

afterAll(removeTempDirs);

const CHROMIUM = '/usr/bin/chromium';
const chromiumPresent = fs.existsSync(CHROMIUM);
if (!chromiumPresent) {
  // eslint-disable-next-line no-console
  console.log(`Chromium is absent (${CHROMIUM}): skipping the headless rendering test of the HTML report`);
}

const run = promisify(execFile);

async function chromium(args: string[], profileDir: string): Promise<string> {
  const flags = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', `--user-data-dir=${profileDir}`,
  ];
  const { stdout } = await run(CHROMIUM, [...flags, ...args], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

describe('the HTML report in a browser', () => {
  (chromiumPresent ? test : test.skip)(
    'headless Chromium keeps every SVG element and takes a screenshot',
    async () => {
      const cwd = tempDir();
      fs.copyFileSync(path.resolve('traces/demo.xio'), path.join(cwd, 'demo.xio'));
      const out = capture(cwd);
      expect(await main(['replay', 'demo.xio', '--report', 'report.html', '--quiet', '--device-size', '64m'], out.io)).toBe(0);
      const reportPath = path.join(cwd, 'report.html');
      const written = fs.readFileSync(reportPath, 'utf8');
      const url = `file://${reportPath}`;

      const dom = await chromium(['--dump-dom', url], path.join(cwd, 'profile-dom'));
      expect(dom).toContain('<svg class="device-map"');
      expect(dom).toContain('<svg class="file-bars"');
      expect(dom).toContain('demo/seq.log');
      expect(dom).toContain('filesystem metadata (reserved)');
      // The HTML parser dropped nothing: as many svg, g and rect elements as we wrote.
      for (const element of [/<svg /g, /<g /g, /<rect /g, /<text /g]) expect(count(dom, element)).toBe(count(written, element));
      expect(count(dom, /<rect /g)).toBeGreaterThan(20);

      const shot = path.join(cwd, 'shot.png');
      await chromium([`--screenshot=${shot}`, '--window-size=1200,900', url], path.join(cwd, 'profile-shot'));
      const png = fs.readFileSync(shot);
      expect(png.length).toBeGreaterThan(1000);
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    },
    180_000,
  );
});
