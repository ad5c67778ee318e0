/**
 * `replay --no-data`: the replay runs dataless on a NullDevice, the image
 * holds metadata only (and says so), layouts are those of a run with data,
 * and `inspect --verify` checks structure only. Stand-in engine for what
 * reaches the engine; the real engine on traces/demo.xio end to end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from '@jest/globals';
import { NullDevice } from '../../src/device/blockdev.js';
import { main } from '../../src/cli/main.js';
import { planReplay, reproduceCommand, type ReplayArgs } from '../../src/cli/replay.js';
import { ImageFile } from '../../src/image/image.js';
import type { ReplayResult } from '../../src/report/model.js';
import { capture, fakeEngine, removeTempDirs, tempDir } from './fake.js';

afterAll(removeTempDirs);

async function runFake(args: string[]) {
  const cwd = tempDir();
  const out = capture(cwd);
  const engine = fakeEngine();
  const code = await main(args, out.io, { engine });
  return { code, stdout: out.stdout, stderr: out.stderr, engine };
}

describe('--no-data: what reaches the engine', () => {
  test('the image is created metadata-only, the replay is dataless on a NullDevice, metadata is committed', async () => {
    const { code, engine, stderr } = await runFake(['replay', 't.xio', '--no-data']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(engine.createParams?.params.metadataOnly).toBe(true);
    expect(engine.replayOptions?.dataless).toBe(true);
    expect(engine.replayOptions?.device).toBeInstanceOf(NullDevice);
    expect(engine.calls).toEqual(['openTrace t.xio auto t.xio', 'createImage t.img', 'replay', 'commit', 'close t.img']);
  });

  test('without --no-data the image device gets the data and nothing is dataless', async () => {
    const { engine } = await runFake(['replay', 't.xio']);
    expect(engine.createParams?.params.metadataOnly).toBeUndefined();
    expect(engine.replayOptions?.dataless).toBeUndefined();
    expect(engine.replayOptions?.device).not.toBeInstanceOf(NullDevice);
  });

  test('--no-data with --no-image is just --no-image', async () => {
    const withBoth = await runFake(['replay', 't.xio', '--no-data', '--no-image', '--json', '--deterministic']);
    const imageOnly = await runFake(['replay', 't.xio', '--no-image', '--json', '--deterministic']);
    expect(withBoth.code).toBe(0);
    expect(withBoth.engine.calls).toEqual(['openTrace t.xio auto t.xio', 'replay']);
    expect(withBoth.engine.replayOptions?.dataless).toBe(true);
    expect(withBoth.stdout).toBe(imageOnly.stdout);
  });

  test('the reproducing command keeps --no-data (and drops it with --no-image)', () => {
    const args: ReplayArgs = {
      trace: 't.xio', policy: 'ext4', format: 'auto', image: 'x.img', data: false, force: false, deviceSize: '1g', blockSize: '4096',
      seed: '7', root: undefined, finalSync: true, json: false, deterministic: false, quiet: false,
    };
    expect(reproduceCommand(planReplay(args, '/tmp', ['ext4']))).toMatch(/--image x\.img --no-data$/);
    expect(reproduceCommand(planReplay({ ...args, image: false }, '/tmp', ['ext4']))).not.toContain('--no-data');
    expect(reproduceCommand(planReplay({ ...args, data: true }, '/tmp', ['ext4']))).not.toContain('--no-data');
  });

  test('text and --quiet output say the image holds metadata only; JSON keeps the plain path', async () => {
    expect((await runFake(['replay', 't.xio', '--no-data', '--quiet'])).stdout).toContain('image t.img (metadata only: --no-data)');
    const json = JSON.parse((await runFake(['replay', 't.xio', '--no-data', '--json'])).stdout) as ReplayResult;
    expect(json.image).toBe('t.img');
  });
});

describe('--no-data end to end (traces/demo.xio, real engine)', () => {
  let cwd = '';
  beforeEach(() => {
    cwd = tempDir();
    fs.copyFileSync(path.resolve('traces/demo.xio'), path.join(cwd, 'demo.xio'));
  });

  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = capture(cwd);
    const code = await main(args, out.io);
    return { code, stdout: out.stdout, stderr: out.stderr };
  }

  test('layouts equal those of a run with data; the data area stays empty; the flag is set', async () => {
    const common = ['--json', '--deterministic', '--device-size', '64m'];
    const full = await cli(['replay', 'demo.xio', '--image', 'full.img', ...common]);
    const bare = await cli(['replay', 'demo.xio', '--image', 'bare.img', '--no-data', ...common]);
    expect(full.code).toBe(0);
    expect(bare.code).toBe(0);
    const fullResult = JSON.parse(full.stdout) as ReplayResult;
    const bareResult = JSON.parse(bare.stdout) as ReplayResult;
    expect(bareResult.files).toEqual(fullResult.files);
    expect(bareResult.stats).toEqual(fullResult.stats);
    const image = ImageFile.open(path.join(cwd, 'bare.img'));
    expect(image.metadataOnly).toBe(true);
    const chunk = new Uint8Array(1 << 20);
    let nonZero = 0;
    for (let addr = 0; addr < image.sizeBytes; addr += chunk.length) {
      image.read(addr, chunk);
      for (const byte of chunk) if (byte !== 0) nonZero++;
    }
    image.close();
    expect(nonZero).toBe(0);
    const withData = ImageFile.open(path.join(cwd, 'full.img'));
    expect(withData.metadataOnly).toBe(false);
    withData.close();
  });

  test('inspect says metadata only; --verify checks structure only and exits 0', async () => {
    expect((await cli(['replay', 'demo.xio', '--no-data', '--quiet', '--device-size', '64m'])).code).toBe(0);
    const text = await cli(['inspect', 'demo.img', '--verify']);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[1]).toBe('data:    metadata only (replayed with --no-data): file contents were not kept');
    expect(text.stdout).toMatch(/verify: {2}structure OK, \d+ files; content not checked \(metadata-only image, replayed with --no-data\)\n/);
    expect(text.stdout).not.toContain('verify:  OK');
    const json = await cli(['inspect', 'demo.img', '--verify', '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { summary: { metadataOnly?: boolean }; verify: { ok: boolean; contentChecked?: boolean; bytesChecked: number } };
    expect(parsed.summary.metadataOnly).toBe(true);
    expect(parsed.verify).toMatchObject({ ok: true, contentChecked: false, bytesChecked: 0 });
  });

  test('inspect text of a metadata-only image is that of the image with data plus the data line', async () => {
    expect((await cli(['replay', 'demo.xio', '--image', 'full.img', '--quiet', '--device-size', '64m'])).code).toBe(0);
    expect((await cli(['replay', 'demo.xio', '--image', 'bare.img', '--no-data', '--quiet', '--device-size', '64m'])).code).toBe(0);
    const full = (await cli(['inspect', 'full.img'])).stdout.split('\n');
    const bare = (await cli(['inspect', 'bare.img'])).stdout.split('\n');
    expect(bare[0]).toBe(full[0]!.replace('full.img', 'bare.img'));
    expect(bare[1]).toMatch(/^data: {4}metadata only/);
    expect(bare.slice(2)).toEqual(full.slice(1));
    expect(full.length).toBeGreaterThan(20);
  });

  test('an image with data says nothing about metadata only and verifies its content', async () => {
    expect((await cli(['replay', 'demo.xio', '--quiet', '--device-size', '64m'])).code).toBe(0);
    const json = await cli(['inspect', 'demo.img', '--verify', '--json']);
    const parsed = JSON.parse(json.stdout) as { summary: Record<string, unknown>; verify: { ok: boolean; bytesChecked: number } & Record<string, unknown> };
    expect('metadataOnly' in parsed.summary).toBe(false);
    expect('contentChecked' in parsed.verify).toBe(false);
    expect(parsed.verify.ok).toBe(true);
    expect(parsed.verify.bytesChecked).toBeGreaterThan(0);
    expect((await cli(['inspect', 'demo.img'])).stdout).not.toContain('metadata only');
  });

  test('replay --help documents --no-data', async () => {
    const help = await cli(['replay', '--help']);
    expect(help.stdout).toContain('--data');
    expect(help.stdout).toContain('--no-data: metadata only');
  });
});
