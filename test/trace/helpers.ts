/**
 * Shared helpers of the trace reader tests (not a test itself): temp files,
 * collecting an op stream, counting ops, and where the conformance corpus is.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { TraceError } from '../../src/util/errors.js';
import type { TraceOp } from '../../src/trace/types.js';

export const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));
/** The conformance corpus (../shared/conformance next to the checkout); IOMAPSIM_CONFORMANCE_DIR overrides it. */
export const CORPUS_DIR = process.env.IOMAPSIM_CONFORMANCE_DIR ?? resolve(REPO_DIR, '../shared/conformance');
export const CASES_DIR = join(CORPUS_DIR, 'cases');

/** A temp directory for one test file; `cleanup` removes it. */
export function makeTempDir(): { dir: string; write: (name: string, text: string) => string; writeGz: (name: string, text: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'iomapsim-trace-'));
  return {
    dir,
    write: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    writeGz: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, gzipSync(Buffer.from(text)));
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function collect(ops: AsyncIterable<TraceOp>): Promise<TraceOp[]> {
  const result: TraceOp[] = [];
  for await (const op of ops) result.push(op);
  return result;
}

/** Number of ops of each kind. */
export function countKinds(ops: readonly TraceOp[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of ops) counts[op.kind] = (counts[op.kind] ?? 0) + 1;
  return counts;
}

/** The TraceError a promise rejects with (fails the test when it resolves or throws something else). */
export async function traceErrorOf(promise: Promise<unknown>): Promise<TraceError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof TraceError)) {
    throw new Error(`expected a TraceError, got ${caught === undefined ? 'no error' : String(caught)}`);
  }
  return caught;
}

/** The TraceError a function throws synchronously. */
export function traceErrorOfSync(run: () => unknown): TraceError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof TraceError)) {
    throw new Error(`expected a TraceError, got ${caught === undefined ? 'no error' : String(caught)}`);
  }
  return caught;
}

/** An op without its source position (for comparisons across formats). */
export function withoutSrc(op: TraceOp): Omit<TraceOp, 'src'> {
  const { src: _src, ...rest } = op;
  return rest;
}

/** An op array as the AsyncIterable replay() takes. */
export async function* asAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

/** The shared samples folder (../shared/samples beside the repository). */
export const SAMPLES_DIR = join(REPO_DIR, '../shared/samples');

/** Open flags of a file a block trace replays into (O_CREAT only). */
export const createdFlags = { create: true, truncate: false, direct: false, sync: false, dsync: false, append: false, readOnly: false };
