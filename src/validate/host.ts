/**
 * Running host programs (mkfs, losetup, mount, xfs_io, taskset) for the
 * kernel side of `validate` and `record`, and the one error class of that
 * boundary: the machine refused (not root, no loop devices, no mkfs, a mount
 * that fails).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { IomapsimError } from '../util/errors.js';

/** The kernel side cannot run here: not root, loop mounts refused, a tool missing, or a host command failed. */
export class KernelRunError extends IomapsimError {
  constructor(readonly reason: string, hint?: string) {
    super(reason, hint);
  }
}

/** The run was stopped by SIGINT/SIGTERM; everything was unmounted and detached. */
export class KernelRunInterrupted extends IomapsimError {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
  }
}

/** What a host program did. */
export interface HostResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** The longest any single host command may take (a wedged mount must not hang the CLI forever). */
const HOST_COMMAND_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Runs `argv` synchronously and returns its status and output; a program
 * that cannot be started has status 127 and the reason in stderr.
 */
export function runHost(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): HostResult {
  const spawnOptions: SpawnSyncOptions = { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: HOST_COMMAND_TIMEOUT_MS };
  if (options.cwd !== undefined) spawnOptions.cwd = options.cwd;
  if (options.env !== undefined) spawnOptions.env = options.env;
  if (options.input !== undefined) spawnOptions.input = options.input;
  const child = spawnSync(argv[0]!, argv.slice(1), spawnOptions);
  if (child.error !== undefined) {
    const code = (child.error as NodeJS.ErrnoException).code ?? child.error.message;
    return { status: 127, stdout: '', stderr: `${argv[0]}: cannot run (${code})` };
  }
  const signalled = child.signal === null ? 0 : 128;
  return { status: child.status ?? signalled, stdout: String(child.stdout ?? ''), stderr: String(child.stderr ?? '') };
}

/** runHost, throwing KernelRunError with the program's first stderr line when it fails. */
export function runHostChecked(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): HostResult {
  const result = runHost(argv, options);
  if (result.status !== 0) {
    const detail = firstLine(result.stderr) || firstLine(result.stdout) || `exit status ${result.status}`;
    throw new KernelRunError(`${argv.slice(0, 2).join(' ')} failed: ${detail}`);
  }
  return result;
}

export function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/** Whether `program` is on PATH (or an existing path). */
export function hasProgram(program: string): boolean {
  return runHost(['sh', '-c', 'command -v "$0" >/dev/null 2>&1', program]).status === 0;
}

/** uname -r and uname -v of the running kernel. */
export function kernelIdentity(): { release: string; version: string } {
  const read = (name: string): string => {
    try {
      return readFileSync(`/proc/sys/kernel/${name}`, 'utf8').trim();
    } catch {
      return 'unknown';
    }
  };
  return { release: read('osrelease'), version: read('version') };
}

/** Versions of the tools a recording depends on, for the record's metadata. */
export function toolVersions(): Record<string, string> {
  const version = (argv: readonly string[]): string => {
    const result = runHost(argv);
    return firstLine(result.stdout) || firstLine(result.stderr) || 'unknown';
  };
  return { xfs_io: version(['xfs_io', '-V']) };
}
