/**
 * `iomapsim record TRACE --out DIR [--policy P|all]`: the kernel half of
 * validate alone. Replays the trace on real ext4/xfs/btrfs loop mounts and
 * writes DIR/<trace file name>.<fs>.json in the shape of `replay --json`
 * (plus kernel, tools, mkfs, mount, method, notes, filesAfterRemount), usable
 * as a golden. Needs root; without it one line and exit 2.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { toJson } from '../report/json.js';
import type { TraceFormat } from '../trace/types.js';
import { UsageError } from '../util/errors.js';
import { KernelRunError, KernelRunInterrupted } from '../validate/host.js';
import { recordKernel, type KernelRecordOptions } from '../validate/record.js';
import { selectPolicies } from '../validate/validate.js';
import type { CliContext } from './context.js';
import { ExitCode } from './exit.js';
import { FORMAT_CHOICES, singleValue, type FormatChoice } from './options.js';

export interface RecordArgs {
  trace: string;
  out: string;
  policy: string;
  format: string;
  root: string | undefined;
  force: boolean;
}

/** Exit status of a run stopped by SIGINT/SIGTERM (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Checks --format (shared with validate). */
export function checkFormatChoice(format: string): FormatChoice {
  if (!(FORMAT_CHOICES as readonly string[]).includes(format)) {
    throw new UsageError(`unknown trace format '${format}' (expected one of: ${FORMAT_CHOICES.join(', ')})`);
  }
  return format as FormatChoice;
}

/** The kernel-run options shared by record and validate (the op stream comes through the engine). */
export function kernelOptionsOf(tracePath: string, traceName: string, format: FormatChoice, root: string | undefined, context: CliContext): Omit<KernelRecordOptions, 'fs'> {
  const options: Omit<KernelRecordOptions, 'fs'> = {
    tracePath,
    traceName,
    format: format as 'auto' | TraceFormat,
    openOps: async () => (await context.engine.openTrace(tracePath, { format, displayName: traceName })).ops,
  };
  if (root !== undefined) options.root = root;
  return options;
}

/**
 * Maps the kernel boundary's errors to the CLI's one-line answers; anything
 * else propagates to main(). Returns the exit code when handled.
 */
export function handleKernelError(command: string, error: unknown, context: CliContext): number {
  if (error instanceof KernelRunError) {
    context.io.stderr(`iomapsim: ${command} needs root and loop mounts: ${error.reason}\n`);
    return ExitCode.usage;
  }
  if (error instanceof KernelRunInterrupted) {
    context.io.stderr(`iomapsim: ${command} ${error.message}; everything was unmounted and detached\n`);
    return EXIT_INTERRUPTED;
  }
  throw error;
}

/** The golden's file name: the trace's file name (extension kept: demo.xio and demo.csv differ), then the fs. */
export function goldenFileName(traceName: string, fs: string): string {
  return `${path.basename(traceName)}.${fs}.json`;
}

export async function runRecord(args: RecordArgs, context: CliContext): Promise<number> {
  if (args.trace.trim() === '') throw new UsageError('the trace path is empty');
  if (args.out.trim() === '') throw new UsageError('--out needs a directory');
  const format = checkFormatChoice(args.format);
  const tracePath = path.resolve(context.cwd, args.trace);
  const outDir = path.resolve(context.cwd, args.out);
  // A missing or malformed trace fails before anything is mounted.
  await context.engine.openTrace(tracePath, { format, displayName: args.trace });
  try {
    const selection = selectPolicies(args.policy, [], false);
    for (const skip of selection.skipped) context.io.stderr(`iomapsim: record: skipping ${skip.policy}: ${skip.reason}\n`);
    mkdirSync(outDir, { recursive: true });
    for (const fs of selection.run) {
      const target = path.join(outDir, goldenFileName(args.trace, fs));
      if (existsSync(target) && !args.force) throw new UsageError(`${path.relative(context.cwd, target)} exists`, 'pass --force to overwrite it');
      const { record } = await recordKernel({ ...kernelOptionsOf(tracePath, args.trace, format, args.root, context), fs });
      writeFileSync(target, toJson(record));
      const extents = record.files.reduce((sum, file) => sum + file.extents.length, 0);
      context.io.stdout(`recorded ${args.trace} on ${fs} (kernel ${record.kernel.release}, ${record.method}): ${record.files.length} files, ${extents} extents, ${record.errors.length} failed ops -> ${path.relative(context.cwd, target) || target}\n`);
    }
    return ExitCode.ok;
  } catch (error) {
    return handleKernelError('record', error, context);
  }
}

type ParsedArgs = Record<string, unknown>;

/** A string option as yargs left it (one value; numbers as text), or undefined. */
export function optionalString(args: ParsedArgs, key: string, option: string): string | undefined {
  const value = singleValue(args[key], option);
  if (value === undefined) return undefined;
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw new UsageError(`--${option} needs a value`);
  return value;
}

function requiredString(args: ParsedArgs, key: string, option: string): string {
  const value = optionalString(args, key, option);
  if (value === undefined) throw new UsageError(`--${option} needs a value`);
  return value;
}

export function recordArgsOf(args: ParsedArgs): RecordArgs {
  return {
    trace: requiredString(args, 'trace', 'trace'),
    out: requiredString(args, 'out', 'out'),
    policy: requiredString(args, 'policy', 'policy'),
    format: requiredString(args, 'format', 'format'),
    root: optionalString(args, 'root', 'root'),
    force: args['force'] === true,
  };
}

/** Options shared by record and validate. */
export function kernelRunOptions(parser: Argv): Argv {
  return parser
    .positional('trace', { type: 'string', describe: 'trace file: .xio (run line by line with xfs_io, as the corpus was recorded) or any other format (real syscalls)' })
    .option('format', { type: 'string', default: 'auto', describe: `trace format [choices: ${FORMAT_CHOICES.join(', ')}]` })
    .option('root', { type: 'string', describe: 'prefix stripped from trace paths (e.g. the traced mount point)' });
}

export function recordBuilder(parser: Argv): Argv {
  return kernelRunOptions(parser)
    .option('out', { type: 'string', demandOption: true, describe: 'directory for <trace file name>.<fs>.json' })
    .option('policy', { type: 'string', default: 'all', describe: 'filesystem to record [choices: ext4, xfs, btrfs, all]' })
    .option('force', { type: 'boolean', default: false, describe: 'overwrite existing records' })
    .example('sudo $0 record traces/demo.xio --out golden/', 'kernel layouts on ext4, xfs and btrfs as golden JSON')
    .epilogue('Needs root: makes a sparse 1 GiB image, mkfs, losetup, mount; always unmounts and detaches.');
}
