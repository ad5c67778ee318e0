/**
 * `iomapsim replay TRACE`: open the trace (so a typo fails before any image
 * exists), create the image, replay, commit the metadata, print. A replay
 * that fails leaves no image behind.
 */
import { readFileSync } from 'node:fs';
import { rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NullDevice } from '../device/blockdev.js';
import { renderHtmlReport } from '../report/html.js';
import { writeJson } from '../report/json.js';
import { mapStyleFor, renderDeviceMap } from '../report/map.js';
import type { Expectation } from '../report/diff.js';
import type { ReplayResult } from '../report/model.js';
import { formatBytes, renderReplayOneLine, renderReplaySummary } from '../report/text.js';
import type { ImageMetadata } from '../image/types.js';
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
  parseIodepth,
  parseSeed,
  parseTimeScale,
  planDeviceModel,
  planFaults,
  faultWords,
  type FaultArgs,
  readFaultsFile,
  seedFromTraceName,
} from './options.js';
import { type ExpectArgs, type ExpectPlan, loadExpectation, planExpect, settleExpectation } from './expect.js';
import { reportInterrupted, startLiveReplay } from './progress.js';
import { checkDeviceOptions, openTraceInput, reportTraceInput, type TraceInput, type TraceInputOptions } from './traceinput.js';
import type { CliImage, ImageCreateParams } from './types.js';

/** The replay command's arguments as yargs leaves them (strings unparsed). */
export interface ReplayArgs {
  trace: string;
  policy: string;
  format: string;
  /** A path, `false` for --no-image, undefined for the default. */
  image: string | false | undefined;
  /** `false` for --no-data: the image keeps metadata only (absent or true: data too). */
  data?: boolean;
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
  /** --device ID / --trace-device ID: replay one device of a block-device trace. */
  device?: string;
  /** --device-model MODEL|FILE.json (also --device hdd|ssd|nvme|FILE.json); false: --no-device-model; undefined: ssd. */
  deviceModel?: string | false;
  /** --device-params FILE.json: parameters overriding the model's. */
  deviceParams?: string;
  /** --time-scale X (open loop), --iodepth N (closed loop), unparsed. */
  timeScale?: string;
  iodepth?: string;
  /** --device-file: the file name a block device is replayed into. */
  deviceFile?: string;
  /** --map: print the device map after the layouts. */
  map?: boolean;
  /** --report FILE.html: write the HTML report there. */
  report?: string;
  /** --expect, --update-expect, --tolerance, --expect-physical (expect.ts). */
  expectation?: ExpectArgs;
  /** --fault, --faults, --fault-rate, --fault-kinds (options.ts planFaults). */
  faults?: FaultArgs;
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
  /** --no-data with an image: replay dataless onto a NullDevice and commit metadata only (false with --no-image). */
  metadataOnly: boolean;
  force: boolean;
  output: 'text' | 'json' | 'quiet';
  options: Omit<ReplayOptions, 'device'>;
  /** --skip-bad, --device, --device-file. */
  input: TraceInputOptions;
  /** The device-model options as typed, for the reproducing command (empty for the default). */
  deviceModelWords?: string[];
  /** --map: print the device map (text and --quiet output). */
  map: boolean;
  /** Absolute path of the HTML report (--report), null for none. */
  reportPath: string | null;
  /** The report path as typed. */
  reportName: string | null;
  /** --expect: compare with (or --update-expect: write) a golden file; absent or null for none. */
  expect?: ExpectPlan | null;
}

function checkPolicy(policy: string, policies: readonly string[]): string {
  if (!policies.includes(policy)) {
    throw new UsageError(
      `unknown policy '${policy}' (expected one of: ${policies.join(', ')})`,
      'pick one with --policy; `iomapsim compare` runs them all',
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
  const deviceModelWords = planTiming(args, cwd, options);
  checkDeviceOptions(args.device, args.deviceFile);
  const input: TraceInputOptions = { tracePath, traceName: args.trace, format, skipBad: args.skipBad === true };
  if (args.device !== undefined) input.device = args.device;
  if (args.deviceFile !== undefined) input.deviceFile = args.deviceFile;
  if (args.map === true && output === 'json') throw new UsageError('--map cannot be combined with --json (JSON output is JSON only)', 'use --report FILE.html for a map next to --json');
  const image = planImage(args, cwd, tracePath);
  const report = planReport(args.report, cwd, [tracePath, image.imagePath]);
  const expect = planExpect(args.expectation, cwd);
  const faults = planFaults(args.faults, (file) => readFaultsFile(cwd, file));
  if (faults !== undefined) options.faults = faults;
  const metadataOnly = args.data === false && image.imagePath !== null;
  return { tracePath, format, ...image, metadataOnly, force: args.force, output, options, input, deviceModelWords, map: args.map === true, ...report, expect };
}

/** Reads a device parameter file (relative to cwd); a file that cannot be read is a UsageError. */
function readDeviceParamsFile(cwd: string, file: string): string {
  try {
    return readFileSync(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`${file}: cannot read the device parameters (${code})`, 'check the path; see docs/device-model.md for the format');
  }
}

/** --device-model/--device-params/--time-scale/--iodepth into `options`; returns them as words for the reproducing command. */
function planTiming(args: ReplayArgs, cwd: string, options: Omit<ReplayOptions, 'device'>): string[] {
  const spec = planDeviceModel(args.deviceModel, args.deviceParams, (file) => readDeviceParamsFile(cwd, file));
  const words: string[] = [];
  if (spec === undefined) words.push('--no-device-model');
  else options.deviceModel = spec;
  if (typeof args.deviceModel === 'string') words.push('--device-model', args.deviceModel);
  if (args.deviceParams !== undefined) words.push('--device-params', args.deviceParams);
  if (args.timeScale !== undefined) {
    options.timeScale = parseTimeScale(args.timeScale);
    words.push('--time-scale', String(options.timeScale));
  }
  if (args.iodepth !== undefined) {
    options.iodepth = parseIodepth(args.iodepth);
    words.push('--iodepth', String(options.iodepth));
  }
  return words;
}

/** --report: a file name ending in .html (or .htm) that is neither the trace nor the image. */
function planReport(report: string | undefined, cwd: string, taken: readonly (string | null)[]): { reportPath: string | null; reportName: string | null } {
  if (report === undefined) return { reportPath: null, reportName: null };
  if (report === '') throw new UsageError('--report needs a file name', 'e.g. --report report.html');
  if (!/\.html?$/i.test(report)) throw new UsageError(`--report: '${report}' does not end in .html (expected an HTML file name)`, 'e.g. --report report.html');
  const reportPath = path.resolve(cwd, report);
  if (taken.includes(reportPath)) throw new UsageError(`--report: ${report} is also the trace or the image`, 'choose another name for the report');
  return { reportPath, reportName: report };
}

/** Refuses, before any work, a report path that is a directory or whose directory does not exist. */
async function checkReportPath(plan: ReplayPlan): Promise<void> {
  if (plan.reportPath === null) return;
  const name = plan.reportName ?? plan.reportPath;
  const existing = await stat(plan.reportPath).catch(() => null);
  if (existing?.isDirectory() === true) throw new UsageError(`--report: ${name} is a directory (expected an HTML file name)`, 'e.g. --report report.html');
  const parent = await stat(path.dirname(plan.reportPath)).catch(() => null);
  if (parent?.isDirectory() !== true) throw new UsageError(`--report: the directory of ${name} does not exist`, 'create it first, or choose another path');
}

/** Writes the HTML report (overwriting an earlier one). */
async function writeReport(plan: ReplayPlan, result: ReplayResult, metadata: ImageMetadata): Promise<void> {
  if (plan.reportPath === null) return;
  const html = renderHtmlReport({ result, reserved: metadata.reserved });
  const name = plan.reportName ?? plan.reportPath;
  const reportPath = plan.reportPath;
  await atBoundary(
    () => writeFile(reportPath, html),
    (error) => new UsageError(`${name}: cannot write the report (${error.code})`, 'check the directory and its permissions'),
  );
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
  words.push(...(plan.deviceModelWords ?? []));
  words.push(...faultWords(o.faults));
  words.push(...(plan.imageName === null ? ['--no-image'] : ['--image', plan.imageName]));
  if (plan.metadataOnly) words.push('--no-data');
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
  const params: ImageCreateParams = { blockSize: o.blockSize, deviceSize: o.deviceSize, policy: o.policy, seed: o.seed };
  if (plan.metadataOnly) params.metadataOnly = true;
  return atBoundary(
    () => context.engine.createImage(imagePath, params, { force: plan.force }),
    (error) => new ImageError(name, 'io', `cannot create the image (${error.code})`, 'choose another path with --image, or --no-image'),
  );
}

/** Closes and deletes an image this run created and could not finish; errors here must not hide the first one. */
async function discardImage(image: CliImage, imagePath: string): Promise<void> {
  try {
    await (image.abandon === undefined ? image.close() : image.abandon());
  } catch {
    // The replay error is the one to report.
  }
  await rm(imagePath, { force: true });
}

function printResult(result: ReplayResult, metadata: ImageMetadata, plan: ReplayPlan, context: CliContext): void {
  // Text says the image holds no data; JSON keeps `image` a plain path.
  const shown = plan.metadataOnly && result.image !== undefined ? { ...result, image: `${result.image} (metadata only: --no-data)` } : result;
  if (plan.output === 'json') writeJson(result, context.io.stdout);
  else if (plan.output === 'quiet') context.io.stdout(renderReplayOneLine(shown));
  else context.io.stdout(renderReplaySummary(shown, context.style));
  if (plan.output === 'text' && plan.reportName !== null) context.io.stdout(`${context.style.label('report:'.padEnd(9))}${plan.reportName}\n`);
  if (plan.map) {
    const input = { files: result.files, reserved: metadata.reserved, deviceBlocks: Math.floor(result.deviceSize / result.blockSize), blockSize: result.blockSize };
    context.io.stdout(`\n${renderDeviceMap(input, { style: mapStyleFor(context.style) })}`);
  }
}

/** Runs a planned replay; returns the exit code or throws a boundary error. */
export async function runReplay(plan: ReplayPlan, context: CliContext): Promise<number> {
  await checkReportPath(plan);
  const trace = await openTraceFor(plan, context);
  // A missing or broken golden fails now, before an image exists or a long replay runs.
  const expected = plan.expect ? await loadExpectation(plan.expect) : undefined;
  let image: CliImage | null = null;
  if (plan.imagePath !== null) {
    image = await createImageFor(plan, plan.imagePath, context);
  }
  context.reproduce = reproduceCommand(plan);
  let result: ReplayResult;
  let metadata: ImageMetadata;
  const live = await startLiveReplay(plan.tracePath, plan.output, context);
  const checkpoints: CheckpointLog = { generation: 0, opsApplied: 0 };
  try {
    // Without an image, or with --no-data, nobody reads the data back: keep none (layouts and counters do not depend on it).
    const options: ReplayOptions =
      image === null || plan.metadataOnly
        ? { ...plan.options, ...live.options, device: new NullDevice(plan.options.deviceSize), dataless: true }
        : { ...plan.options, ...live.options, device: image.device };
    const onCheckpoint = checkpointHook(image, checkpoints);
    if (onCheckpoint !== undefined) options.onCheckpoint = onCheckpoint;
    const outcome = await context.engine.replay(live.ops(trace.ops), options);
    result = image === null ? outcome.result : await settleImage(image, outcome.result, outcome.metadata, checkpoints);
    metadata = outcome.metadata;
  } catch (error) {
    await live.stop();
    if (image !== null && plan.imagePath !== null) await discardImage(image, plan.imagePath);
    throw error;
  }
  await live.stop();
  const finished = finishResult(result, plan);
  await writeReport(plan, finished, metadata);
  printResult(finished, metadata, plan, context);
  reportTraceInput(trace, plan.input, context);
  return settleExitCode(finished, expected, plan, context);
}

/** The image's last checkpoint taken during the replay (generation 0: none yet). */
interface CheckpointLog {
  generation: number;
  opsApplied: number;
}

/** ReplayOptions.onCheckpoint for an image that can commit synchronously: commit there and note where. */
function checkpointHook(image: CliImage | null, log: CheckpointLog): ReplayOptions['onCheckpoint'] {
  if (image === null || image.checkpoint === undefined) return undefined;
  const checkpoint = image.checkpoint.bind(image);
  return (metadata) => {
    const generation = checkpoint(metadata);
    log.generation = generation;
    log.opsApplied = metadata.opsApplied;
    return generation;
  };
}

/**
 * The image at the end of the run: the final metadata committed and the
 * image closed; or, after a `crash` fault, left exactly as a killed process
 * leaves it (no commit, gathered writes lost) and the result told which
 * checkpoint it holds.
 */
async function settleImage(image: CliImage, result: ReplayResult, metadata: ImageMetadata, checkpoints: CheckpointLog): Promise<ReplayResult> {
  const crashed = result.crashed;
  if (crashed === undefined) {
    await image.commit(metadata);
    await image.close();
    return result;
  }
  await (image.abandon === undefined ? image.close() : image.abandon());
  return { ...result, crashed: { ...crashed, checkpointGeneration: checkpoints.generation, checkpointOps: checkpoints.opsApplied } };
}

/** Says where a `crash` fault left the run and its image (stderr; JSON has it as `crashed`). */
function reportCrash(result: ReplayResult, context: CliContext): void {
  const crashed = result.crashed;
  if (crashed === undefined) return;
  const generation = crashed.checkpointGeneration;
  let where = 'no image';
  if (result.image !== undefined && generation !== undefined) {
    where = generation === 0 ? `${result.image} left with no checkpoint (it opens empty)` : `${result.image} left at checkpoint generation ${generation}, op ${crashed.checkpointOps ?? 0}`;
  }
  context.io.stderr(`iomapsim: crashed at op ${crashed.opsApplied + 1} (${crashed.fault}): ${where}\n`);
}

/**
 * After the result is printed: 130 when Ctrl-C stopped the replay (no
 * expectation checked), else 1 when --expect found differences (or 0 after
 * --update-expect wrote the golden), else 5 when the device filled up. A
 * `crash` fault was asked for: it is reported, not a failure.
 */
async function settleExitCode(result: ReplayResult, expected: Expectation | undefined, plan: ReplayPlan, context: CliContext): Promise<number> {
  if (result.interrupted === true) return reportInterrupted(result, context, plan.expect ?? null);
  reportCrash(result, context);
  const expectCode = plan.expect ? await settleExpectation(plan.expect, expected, result, context, plan.output) : ExitCode.ok;
  const fullCode = reportDeviceFull(result, plan, context);
  return expectCode !== ExitCode.ok ? expectCode : fullCode;
}

/**
 * A simulated device that filled up where the traced program's did not (ENOSPC the
 * trace does not record) makes the layouts unrepresentative: say so, exit 5. The
 * result was printed anyway (and the image kept) so the user can look at it.
 */
export function reportDeviceFull(result: ReplayResult, plan: ReplayPlan, context: CliContext): number {
  const tracedEnospc = new Set(result.tracedFailures.filter((failure) => failure.tracedErrno === 'ENOSPC').map((failure) => failure.at));
  // An ENOSPC that an enospc fault injected is the plan's doing, not a full device.
  const injected = new Set((result.recovery?.events ?? []).filter((event) => event.errno === 'ENOSPC' && event.fault !== 'device-full').map((event) => event.at));
  const full = result.errors.filter((error) => error.errno === 'ENOSPC' && !tracedEnospc.has(error.at) && !injected.has(error.at));
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
