/**
 * `iomapsim validate TRACE --policy P|all`: replay the trace in the
 * simulator and on the real kernel (a fresh loop-mounted filesystem with the
 * conformance corpus's mkfs parameters), compare the layouts, print a
 * per-file diff and fidelity scores (or `--json`). Exit 0 when every logical
 * layout matches, 1 when one differs, 2 without root or loop mounts.
 */
import path from 'node:path';
import type { Argv } from 'yargs';
import type { ExtentRecord, FileLayout, ReplayResult } from '../report/model.js';
import { UsageError } from '../util/errors.js';
import type { FidelityScore, FileBlockScore } from '../validate/compare.js';
import { IMAGE_SIZE_BYTES, KERNEL_BLOCK_SIZE } from '../validate/fsparams.js';
import { selectPolicies, validatePolicy, type PolicyValidation, type SkippedPolicy } from '../validate/validate.js';
import type { CliContext } from './context.js';
import { ExitCode } from './exit.js';
import { seedFromTraceName } from './options.js';
import { checkFormatChoice, handleKernelError, kernelOptionsOf, kernelRunOptions, recordArgsOf } from './record.js';

export interface ValidateArgs {
  trace: string;
  policy: string;
  format: string;
  root: string | undefined;
  json: boolean;
}

export async function runValidate(args: ValidateArgs, context: CliContext): Promise<number> {
  if (args.trace.trim() === '') throw new UsageError('the trace path is empty');
  const format = checkFormatChoice(args.format);
  const tracePath = path.resolve(context.cwd, args.trace);
  await context.engine.openTrace(tracePath, { format, displayName: args.trace });
  const replaySim = async (policy: string): Promise<ReplayResult> => {
    const opened = await context.engine.openTrace(tracePath, { format, displayName: args.trace });
    const options = { policy, blockSize: KERNEL_BLOCK_SIZE, deviceSize: IMAGE_SIZE_BYTES, seed: seedFromTraceName(args.trace), traceName: args.trace, finalSync: true, deterministic: true };
    return (await context.engine.replay(opened.ops, args.root === undefined ? options : { ...options, root: args.root })).result;
  };
  const results: PolicyValidation[] = [];
  let skipped: SkippedPolicy[] = [];
  try {
    const selection = selectPolicies(args.policy, context.engine.listPolicies(), true);
    skipped = selection.skipped;
    for (const policy of selection.run) {
      results.push(await validatePolicy(policy, replaySim, kernelOptionsOf(tracePath, args.trace, format, args.root, context)));
    }
  } catch (error) {
    return handleKernelError('validate', error, context);
  }
  if (args.json) context.io.stdout(`${JSON.stringify(validateJson(args.trace, results, skipped), null, 2)}\n`);
  else context.io.stdout(renderValidate(args.trace, results, skipped));
  warnNothingCompared(args, results, context);
  const allMatch = results.every((result) => logicallyEqual(result));
  return allMatch ? ExitCode.ok : ExitCode.failed;
}

/**
 * A trace whose every file failed to open in the simulator compares nothing
 * (0 of 0 files is no score): say so on stderr, with the likely cause, a
 * trace recorded under a mount point that --root should strip.
 */
function warnNothingCompared(args: ValidateArgs, results: readonly PolicyValidation[], context: CliContext): void {
  const first = results[0];
  if (first === undefined || first.sim.files.length > 0 || first.sim.errors.length === 0) return;
  const error = first.sim.errors[0]!;
  const absolute = error.path !== undefined && error.path.startsWith('/') && args.root === undefined;
  context.io.stderr(
    `iomapsim: validate compared no files: the simulator's replay of ${args.trace} failed ${first.sim.errors.length} ops, the first at ${error.at}: ${error.op}${error.path === undefined ? '' : ` ${error.path}`}: ${error.message} (${error.errno})\n` +
      (absolute ? `hint: the trace's paths are absolute: pass the traced mount point with --root (e.g. --root ${error.path!.split('/').slice(0, 3).join('/')})\n` : 'hint: run `iomapsim replay TRACE` to see every failed op\n'),
  );
}

/** What validate's exit status asserts: file set, sizes, logical and shared layout, snapshots. */
export function logicallyEqual(result: PolicyValidation): boolean {
  const layout = result.comparison.layout;
  return layout.logicalMatch && layout.sizeMatch && layout.sharedMatch && result.comparison.snapshots.match;
}

/** `[L+N]@P` per extent, with `:u` unwritten, `:d` delalloc, `:i` inline, `:s` shared; "(empty)" for none. */
export function compactLayout(extents: readonly ExtentRecord[]): string {
  if (extents.length === 0) return '(empty)';
  return extents
    .map((extent) => {
      const marks = [['unwritten', 'u'], ['delalloc', 'd'], ['inline', 'i'], ['shared', 's']]
        .filter(([flag]) => extent.flags.includes(flag as ExtentRecord['flags'][number]))
        .map(([, mark]) => mark)
        .join('');
      const where = extent.flags.includes('delalloc') || extent.flags.includes('inline') ? '' : `@${extent.physical}`;
      return `[${extent.logical}+${extent.length}]${where}${marks === '' ? '' : `:${marks}`}`;
    })
    .join(' ');
}

/** "87.5% of 1234 blocks" style score lines. */
export function renderScore(score: FidelityScore): string {
  return (
    `logical ${score.logicalBlockPercent}% of ${score.blocks} blocks (${score.mappedBlockPercent}% of ${score.mappedBlocks} mapped); ` +
    `files logically equal ${score.filesLogicalMatch}/${score.files} (${score.logicalFilePercent}%); ` +
    `equal extent counts ${score.filesExtentCountEqual}/${score.files} (${score.extentCountPercent}%); ` +
    `physically exact ${score.filesPhysicalExact}/${score.files} (${score.physicalExactPercent}%)`
  );
}

function renderPolicy(trace: string, result: PolicyValidation): string[] {
  const { kernel, sim, comparison } = result;
  const lines = [`validate ${trace} on ${result.policy}: kernel ${kernel.kernel.release} (${kernel.method}), simulator policy ${sim.policy}`];
  lines.push(`  score: ${renderScore(comparison.score)}`);
  const simByPath = new Map<string, FileLayout>(sim.files.map((file) => [file.path, file]));
  const kernelByPath = new Map<string, FileLayout>(kernel.files.map((file) => [file.path, file]));
  const blocksByPath = new Map(comparison.fileScores.map((score) => [score.path, score]));
  for (const file of comparison.layout.files) {
    const blocks = blocksByPath.get(file.path);
    const mark = file.logicalMatch && file.sharedMatch && file.sizeMatch ? 'ok  ' : 'DIFF';
    lines.push(
      `  ${mark} ${file.path}: size ${file.sizeSim ?? '-'}/${file.sizeKernel ?? '-'}, extents ${file.extentCountSim}/${file.extentCountKernel}, ` +
        `physical breaks ${file.physicalBreaksSim}/${file.physicalBreaksKernel}, logical ${blocks?.blocksMatching ?? 0}/${blocks?.blocks ?? 0} blocks, ` +
        `physical ${file.physicalExact ? 'exact' : 'differs'} (sim/kernel)`,
    );
    lines.push(`       sim    ${simByPath.has(file.path) ? compactLayout(simByPath.get(file.path)!.extents) : '(no such file)'}`);
    lines.push(`       kernel ${kernelByPath.has(file.path) ? compactLayout(kernelByPath.get(file.path)!.extents) : '(no such file)'}`);
    for (const difference of [...file.differences, ...file.physicalDifferences]) lines.push(`       ${difference}`);
  }
  for (const difference of comparison.errors.differences) lines.push(`  failing lines: ${difference}`);
  for (const difference of comparison.snapshots.differences) lines.push(`  snapshots: ${difference}`);
  for (const note of kernel.notes) lines.push(`  note: ${note}`);
  return lines;
}

function blockFields(score: FileBlockScore | undefined): Omit<FileBlockScore, 'path'> {
  return { blocks: score?.blocks ?? 0, blocksMatching: score?.blocksMatching ?? 0, mappedBlocks: score?.mappedBlocks ?? 0, mappedBlocksMatching: score?.mappedBlocksMatching ?? 0 };
}

/** The text report: per policy a score line and a per-file diff, then the skipped policies. */
export function renderValidate(trace: string, results: readonly PolicyValidation[], skipped: readonly SkippedPolicy[]): string {
  const lines = results.flatMap((result) => renderPolicy(trace, result));
  for (const skip of skipped) lines.push(`skipped ${skip.policy}: ${skip.reason}`);
  return `${lines.join('\n')}\n`;
}

/** `validate --json`: per policy the score, per-file comparison, failing lines, both layouts; and the skipped policies. */
export function validateJson(trace: string, results: readonly PolicyValidation[], skipped: readonly SkippedPolicy[]): Record<string, unknown> {
  return {
    schemaVersion: 1,
    tool: 'iomapsim validate',
    trace,
    policies: results.map((result) => ({
      policy: result.policy,
      kernel: result.kernel.kernel,
      method: result.kernel.method,
      notes: result.kernel.notes,
      logicalMatch: logicallyEqual(result),
      score: result.comparison.score,
      files: result.comparison.layout.files.map((file) => ({
        ...file,
        ...blockFields(result.comparison.fileScores.find((score) => score.path === file.path)),
      })),
      errors: result.comparison.errors,
      snapshots: result.comparison.snapshots,
      simFiles: result.sim.files,
      kernelFiles: result.kernel.files,
    })),
    skipped,
  };
}

export function validateArgsOf(args: Record<string, unknown>): ValidateArgs {
  const record = recordArgsOf({ ...args, out: '-', force: false });
  return { trace: record.trace, policy: record.policy, format: record.format, root: record.root, json: args['json'] === true };
}

export function validateBuilder(parser: Argv): Argv {
  return kernelRunOptions(parser)
    .option('policy', { type: 'string', default: 'all', describe: 'policy to validate [choices: ext4, xfs, btrfs, all = registered and mountable]' })
    .option('json', { type: 'boolean', default: false, describe: 'print scores and per-file comparisons as JSON' })
    .example('sudo $0 validate traces/demo.xio --policy ext4', 'real ext4 against the ext4 policy: per-file diff and scores')
    .epilogue('Needs root: makes a sparse 1 GiB image, mkfs, losetup, mount; always unmounts and detaches. Exit 1 when a logical layout differs.');
}
