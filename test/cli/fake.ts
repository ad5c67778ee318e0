/** A stand-in CliEngine that records calls, and an in-memory CliIo, for in-process CLI tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemDevice } from '../../src/device/blockdev.js';
import type { ImageMetadata, PersistedInode } from '../../src/image/types.js';
import type { ImageSummaryView, VerifyView } from '../../src/report/layout.js';
import type { ReplayOptions, ReplayOutcome } from '../../src/replay/types.js';
import type { TraceOp } from '../../src/trace/types.js';
import type { CliEngine, CliImage, ImageCreateParams } from '../../src/cli/types.js';
import { sampleResult, sampleSummary, sampleVerify } from '../report/fixtures.js';

export interface Captured {
  stdout: string;
  stderr: string;
  io: { stdout: (text: string) => void; stderr: (text: string) => void; cwd: string; env: Record<string, string | undefined>; isTTY?: boolean };
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by removeTempDirs(). */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomapsim-cli-'));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory tempDir() made (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function capture(cwd: string, env: Record<string, string | undefined> = {}, isTTY = false): Captured {
  const captured: Captured = {
    stdout: '',
    stderr: '',
    io: {
      stdout: (text) => {
        captured.stdout += text;
      },
      stderr: (text) => {
        captured.stderr += text;
      },
      cwd,
      env,
      isTTY,
    },
  };
  return captured;
}

export function sampleMetadata(): ImageMetadata {
  const file: PersistedInode = {
    ino: 12,
    path: 'frag.bin',
    kind: 'file',
    size: 4202496,
    extents: [
      { logical: 0, physical: 39424, length: 16, unwritten: false },
      { logical: 257, physical: 33025, length: 63, unwritten: true },
    ],
    content: [],
  };
  return {
    policy: 'ext4',
    policyParams: { groups: 8 },
    blockSize: 4096,
    deviceSize: 1 << 30,
    seed: 7,
    reserved: [],
    inodes: [file, { ino: 2, path: 'sub', kind: 'dir', size: 4096, extents: [], content: [] }],
    refcounts: [],
    trace: 'demo.xio',
    opsApplied: 120,
  };
}

/** What the fake engine saw, and knobs to make each step fail. */
export interface FakeEngine extends CliEngine {
  calls: string[];
  replayOptions?: ReplayOptions;
  createParams?: { path: string; params: ImageCreateParams; force: boolean };
  committed?: ImageMetadata;
  openTraceError?: unknown;
  createImageError?: unknown;
  replayError?: unknown;
  openImageError?: unknown;
  verifyResult: VerifyView;
  summary: ImageSummaryView;
  /** When set, createImage writes a real file at the path (to check that failures remove it). */
  touchImage: boolean;
}

function fakeImage(engine: FakeEngine, imagePath: string): CliImage {
  return {
    device: new MemDevice(1 << 20),
    warnings: [],
    commit: (metadata) => {
      engine.calls.push('commit');
      engine.committed = metadata;
    },
    readMetadata: () => sampleMetadata(),
    close: () => {
      engine.calls.push(`close ${path.basename(imagePath)}`);
    },
    summarize: () => engine.summary,
    verify: () => {
      engine.calls.push('verify');
      return engine.verifyResult;
    },
  };
}

async function* noOps(): AsyncIterable<TraceOp> {}

export function fakeEngine(): FakeEngine {
  const engine: FakeEngine = {
    calls: [],
    verifyResult: sampleVerify(true),
    summary: sampleSummary(),
    touchImage: false,
    listPolicies: () => ['ext4'],
    openTrace: async (tracePath, options) => {
      engine.calls.push(`openTrace ${path.basename(tracePath)} ${options.format} ${options.displayName}`);
      if (engine.openTraceError !== undefined) throw engine.openTraceError;
      return { format: 'xio', ops: noOps() };
    },
    createImage: async (imagePath, params, options) => {
      engine.calls.push(`createImage ${path.basename(imagePath)}`);
      if (engine.createImageError !== undefined) throw engine.createImageError;
      engine.createParams = { path: imagePath, params, force: options.force };
      if (engine.touchImage) fs.writeFileSync(imagePath, 'image');
      return fakeImage(engine, imagePath);
    },
    openImage: async (imagePath) => {
      engine.calls.push(`openImage ${path.basename(imagePath)}`);
      if (engine.openImageError !== undefined) throw engine.openImageError;
      return fakeImage(engine, imagePath);
    },
    replay: async (_ops, options): Promise<ReplayOutcome> => {
      engine.calls.push('replay');
      engine.replayOptions = options;
      if (engine.replayError !== undefined) throw engine.replayError;
      const result = sampleResult({ trace: options.traceName, seed: options.seed, policy: options.policy });
      return { result, metadata: sampleMetadata() };
    },
  };
  return engine;
}
