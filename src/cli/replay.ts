/**
 * `iomapsim replay TRACE`: open the trace (so a typo fails before any image
 * exists), create the image, replay, commit the metadata, print. A replay
 * that fails leaves no image behind.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { NullDevice } from '../device/blockdev.js';
import { toJson } from '../report/json.js';
import type { ReplayResult } from '../report/model.js';
import { formatBytes, renderReplayOneLine, renderReplaySummary } from '../report/text.js';
import type { ReplayOptions } from '../replay/types.js';
import { ImageError, UsageError } from '../util/errors.js';
import type { CliContext } from './context.js';
import { atBoundary, ExitCode } from './exit.js';
import {
  defaultImagePath,
  FORMAT_CHOICES,
  type FormatChoice,
  parseBlockSize,
  parseDeviceSize,
  parseSeed,
  seedFromTraceName,
} from './options.js';
import { checkDeviceOptions, openTraceInput, reportTraceInput, type TraceInput, type TraceInputOptions } from './traceinput.js';
import type { CliImage } from './types.js';

/** The replay command's arguments as yargs leaves them (strings unparsed). */
export interface ReplayArgs {
  trace: string;
  policy: string;
  format: string;
  /** A path, `false` for --no-image, undefined for the default. */
  image: string | false | undefined;
  force: boolean;
  deviceSize: string;
  blockSize: string;
  seed: string | undefined;
  root: string | undefined;
  finalSync: boolean;
  json: boolean;
  deterministic: boolean;
  quiet: boolean;
  /** --skip-bad: skip malformed trace lines (counted as ignored 'bad-line'). */
  skipBad?: boolean;
  /** --device: replay one device of a block-device trace. */
  device?: string;
  /** --device-file: the file name a block device is replayed into. */
  deviceFile?: string;
}

/** A checked replay: where things are and the options for the driver. */
export interface ReplayPlan {
  /** Absolute path of the trace; `options.traceName` is the path as typed. */
  tracePath: string;
  format: FormatChoice;
  /** Absolute image path, null for --no-image. */
  imagePath: string | null;
  /** The image path as shown to the user (as typed, or the default relative name). */
  imageName: string | null;
  force: boolean;
  output: 'text' | 'json' | 'quiet';
  options: Omit<ReplayOptions, 'device'>;
  /** --skip-bad, --device, --device-file. */
  input: TraceInputOptions;
}

function checkPolicy(policy: string, policies: readonly string[]): string {
  if (!policies.includes(policy)) {
    throw new UsageError(
      `unknown policy '${policy}' (expected one of: ${policies.join(', ')})`,
      'xfs and btrfs policies are planned; see README "What works today"',
    );
  }
  return policy;
}

function checkFormat(format: string): FormatChoice {
  if (!(FORMAT_CHOICES as readonly string[]).includes(format)) {
    throw new UsageError(`unknown trace format '${format}' (expected one of: ${FORMAT_CHOICES.join(', ')})`);
  }
  return format as FormatChoice;
}

function planImage(args: ReplayArgs, cwd: string, tracePath: string): { imagePath: string | null; imageName: string | null } {
  if (args.image === false) return { imagePath: null, imageName: null };
  if (args.image === '') throw new UsageError('--image needs a path', 'or use --no-image to replay without writing an image');
  const imageName = args.image ?? defaultImagePath(args.trace);
  const imagePath = path.resolve(cwd, imageName);
  if (imagePath === tracePath) {
    throw new UsageError(`the image path ${imageName} is the trace itself`, 'choose another path with --image');
  }
  return { imagePath, imageName };
}

/** Checks the arguments and builds the plan; pure except for path resolution. Throws UsageError. */
export function planReplay(args: ReplayArgs, cwd: string, policies: readonly string[]): ReplayPlan {
  if (args.trace.trim() === '') throw new UsageError('the trace path is empty');
  const policy = checkPolicy(args.policy, policies);
  const format = checkFormat(args.format);
  const blockSize = parseBlockSize(args.blockSize);
  const deviceSize = parseDeviceSize(args.deviceSize, blockSize);
  const seed = args.seed === undefined ? seedFromTraceName(args.trace) : parseSeed(args.seed);
  const tracePath = path.resolve(cwd, args.trace);
  const output = args.json ? 'json' : args.quiet ? 'quiet' : 'text';
  const options: Omit<ReplayOptions, 'device'> = {
    policy,
    blockSize,
    deviceSize,
    seed,
    traceName: args.trace,
    finalSync: args.finalSync,
    deterministic: args.deterministic,
  };
  if (args.root !== undefined) options.root = args.root;
  checkDeviceOptions(args.device, args.deviceFile);
  const input: TraceInputOptions = { tracePath, traceName: args.trace, format, skipBad: args.skipBad === true };
  if (args.device !== undefined) input.device = args.device;
  if (args.deviceFile !== undefined) input.deviceFile = args.deviceFile;
  return { tracePath, format, ...planImage(args, cwd, tracePath), force: args.force, output, options, input };
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command line that reruns this replay exactly (printed with internal errors). */
export function reproduceCommand(plan: ReplayPlan): string {
  const o = plan.options;
  const words = ['iomapsim', 'replay', o.traceName, '--policy', o.policy, '--format', plan.format];
  words.push('--block-size', String(o.blockSize), '--device-size', String(o.deviceSize), '--seed', String(o.seed));
  if (o.root !== undefined) words.push('--root', o.root);
  if (!o.finalSync) words.push('--no-final-sync');
  if (plan.input.skipBad) words.push('--skip-bad');
  if (plan.input.device !== undefined) words.push('--device', plan.input.device);
  if (plan.input.deviceFile !== undefined) words.push('--device-file', plan.input.deviceFile);
  words.push(...(plan.imageName === null ? ['--no-image'] : ['--image', plan.imageName]));
  return words.map(shellWord).join(' ');
}

/** The result as printed: the image name filled in, wall-clock figures dropped when deterministic. */
export function finishResult(result: ReplayResult, plan: ReplayPlan): ReplayResult {
  const finished: ReplayResult = { ...result, stats: { ...result.stats } };
  if (plan.imageName !== null) finished.image = plan.imageName;
  if (plan.options.deterministic) {
    delete finished.stats.replaySeconds;
    delete finished.stats.opsPerSecond;
  }
  return finished;
}

async function openTraceFor(plan: ReplayPlan, context: CliContext): Promise<TraceInput> {
  // Detection is reported on stderr only for text output (JSON and --quiet stay clean).
  const io = plan.output === 'text' ? context.io : { ...context.io, stderr: () => undefined };
  return openTraceInput(plan.input, { ...context, io });
}

async function createImageFor(plan: ReplayPlan, imagePath: string, context: CliContext): Promise<CliImage> {
  const o = plan.options;
  const name = plan.imageName ?? imagePath;
  return atBoundary(
    () => context.engine.createImage(imagePath, { blockSize: o.blockSize, deviceSize: o.deviceSize, policy: o.policy, seed: o.seed }, { force: plan.force }),
    (error) => new ImageError(name, 'io', `cannot create the image (${error.code})`, 'choose another path with --image, or --no-image'),
  );
}

/** Closes and deletes an image this run created and could not finish; errors here must not hide the first one. */
async function discardImage(image: CliImage, imagePath: string): Promise<void> {
  try {
    await image.close();
  } catch {
    // The replay error is the one to report.
  }
  await rm(imagePath, { force: true });
}

function printResult(result: ReplayResult, plan: ReplayPlan, context: CliContext): void {
  if (plan.output === 'json') context.io.stdout(toJson(result));
  else if (plan.output === 'quiet') context.io.stdout(renderReplayOneLine(result));
  else context.io.stdout(renderReplaySummary(result, context.style));
}

/** Runs a planned replay; returns the exit code or throws a boundary error. */
export async function runReplay(plan: ReplayPlan, context: CliContext): Promise<number> {
  const trace = await openTraceFor(plan, context);
  let image: CliImage | null = null;
  if (plan.imagePath !== null) {
    image = await createImageFor(plan, plan.imagePath, context);
  }
  context.reproduce = reproduceCommand(plan);
  let result: ReplayResult;
  try {
    // Without an image nobody reads the data back: keep none (layouts and counters do not depend on it).
    const options: ReplayOptions = image === null ? { ...plan.options, device: new NullDevice(plan.options.deviceSize), dataless: true } : { ...plan.options, device: image.device };
    const outcome = await context.engine.replay(trace.ops, options);
    if (image !== null) {
      await image.commit(outcome.metadata);
      await image.close();
    }
    result = outcome.result;
  } catch (error) {
    if (image !== null && plan.imagePath !== null) await discardImage(image, plan.imagePath);
    throw error;
  }
  printResult(finishResult(result, plan), plan, context);
  reportTraceInput(trace, plan.input, context);
  return reportDeviceFull(result, plan, context);
}

/**
 * A simulated device that filled up where the traced program's did not (ENOSPC the
 * trace does not record) makes the layouts unrepresentative: say so, exit 5. The
 * result was printed anyway (and the image kept) so the user can look at it.
 */
function reportDeviceFull(result: ReplayResult, plan: ReplayPlan, context: CliContext): number {
  const tracedEnospc = new Set(result.tracedFailures.filter((failure) => failure.tracedErrno === 'ENOSPC').map((failure) => failure.at));
  const full = result.errors.filter((error) => error.errno === 'ENOSPC' && !tracedEnospc.has(error.at));
  if (full.length === 0) return ExitCode.ok;
  const size = formatBytes(plan.options.deviceSize);
  const bigger = plan.options.deviceSize * 4;
  const suggestion = bigger % 2 ** 30 === 0 ? `${bigger / 2 ** 30}g` : `${Math.ceil(bigger / 2 ** 20)}m`;
  context.io.stderr(
    `iomapsim: the simulated device (${size}) filled up: ${full.length} operation${full.length === 1 ? '' : 's'} failed with ENOSPC, the first at ${full[0]!.at}\n` +
      `hint: give the device more room with --device-size (e.g. --device-size ${suggestion})\n`,
  );
  return ExitCode.deviceFull;
}
