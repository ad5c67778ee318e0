/**
 * The iomapsim command line (yargs): `replay TRACE` and `inspect IMAGE`.
 * main() parses, dispatches to one command, and maps every error to an exit
 * code and a one-line message (exit.ts). It never calls process.exit, so it
 * runs in-process in tests with injected writers and a stand-in engine.
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { IomapsimError, UsageError } from '../util/errors.js';
import type { CliContext, CliIo, CliLive } from './context.js';
import { compareBuilder, planCompare, runCompare, type CompareArgs } from './compare.js';
import { CONVERT_TARGETS, planConvert, runConvert, type ConvertArgs } from './convert.js';
import { exitCodeFor, oneLine, renderError } from './exit.js';
import { fsckBuilder, runFsck, type FsckArgs } from './fsck.js';
import { expectArgs, expectOptions } from './expect.js';
import { runInspect, type InspectArgs } from './inspect.js';
import { BLOCK_SIZES, type FaultArgs, FORMAT_CHOICES, resolveDeviceChoice, singleValue } from './options.js';
import { processLive } from './progress.js';
import { recordArgsOf, recordBuilder, runRecord, type RecordArgs } from './record.js';
import { planReplay, runReplay, type ReplayArgs } from './replay.js';
import { makeStyle, useColor } from './style.js';
import type { CliEngine } from './types.js';
import { runValidate, validateArgsOf, validateBuilder, type ValidateArgs } from './validate.js';

export type { CliIo } from './context.js';

/** Stand-ins for tests; by default the real engine is loaded lazily. */
export interface CliDeps {
  engine?: CliEngine;
  /** Progress display and Ctrl-C (default: the process's when io is not injected, none otherwise). */
  live?: CliLive;
}

type ParsedArgs = Record<string, unknown>;
type Chosen =
  | { command: 'replay'; args: ReplayArgs; color: boolean | undefined }
  | { command: 'inspect'; args: InspectArgs; color: boolean | undefined }
  | { command: 'compare'; args: CompareArgs; color: boolean | undefined }
  | { command: 'fsck'; args: FsckArgs; color: boolean | undefined }
  | { command: 'convert'; args: ConvertArgs; color: boolean | undefined }
  | { command: 'validate'; args: ValidateArgs; color: boolean | undefined }
  | { command: 'record'; args: RecordArgs; color: boolean | undefined };

const COMMANDS = ['replay', 'inspect', 'compare', 'fsck', 'convert', 'validate', 'record'] as const;

const EXIT_CODES_TEXT = `Exit codes:
  0   success
  1   inspect --verify found mismatches, or replay --expect found differences
  2   usage error (bad option or value, unknown policy)
  3   trace error (unreadable or malformed trace, unknown format)
  4   image error (missing, foreign or corrupt image; refusing to overwrite)
  5   the simulated device is full
  70  internal error (a bug in iomapsim: please report it with the command line and seed)
  130 interrupted by Ctrl-C (partial results printed, image committed)`;

/** The version in package.json, read at run time relative to this module (src/cli or dist/cli). */
export function readVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

function stringArg(args: ParsedArgs, key: string, option: string): string {
  const value = singleValue(args[key], option);
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw new UsageError(`--${option} needs a value`);
  return value;
}

function optionalStringArg(args: ParsedArgs, key: string, option: string): string | undefined {
  return args[key] === undefined ? undefined : stringArg(args, key, option);
}

function booleanArg(args: ParsedArgs, key: string): boolean {
  return args[key] === true;
}

function colorArg(args: ParsedArgs): boolean | undefined {
  const value = args['color'];
  return typeof value === 'boolean' ? value : undefined;
}

/** The options replay and compare share: the trace, its format, the geometry, seed, root, sync and output. */
function runArgs(args: ParsedArgs): Pick<ReplayArgs, 'trace' | 'format' | 'deviceSize' | 'blockSize' | 'seed' | 'root' | 'finalSync' | 'json' | 'deterministic'> {
  return {
    trace: stringArg(args, 'trace', 'trace'),
    format: stringArg(args, 'format', 'format'),
    deviceSize: stringArg(args, 'deviceSize', 'device-size'),
    blockSize: stringArg(args, 'blockSize', 'block-size'),
    seed: optionalStringArg(args, 'seed', 'seed'),
    root: optionalStringArg(args, 'root', 'root'),
    finalSync: args['finalSync'] !== false,
    json: booleanArg(args, 'json'),
    deterministic: booleanArg(args, 'deterministic'),
  };
}

function replayArgs(args: ParsedArgs): ReplayArgs {
  const image = singleValue(args['image'], 'image');
  return {
    ...runArgs(args),
    policy: stringArg(args, 'policy', 'policy'),
    image: image === false ? false : image === undefined ? undefined : String(image),
    data: singleValue(args['data'], 'data') !== false,
    force: booleanArg(args, 'force'),
    quiet: booleanArg(args, 'quiet'),
    map: booleanArg(args, 'map'),
    report: optionalStringArg(args, 'report', 'report'),
    ...traceInputArgs(args),
    ...deviceModelArgs(args),
    expectation: expectArgs(args),
    faults: faultArgs(args),
  };
}

/** --fault (repeatable), --faults, --fault-rate, --fault-kinds; undefined when none was given. */
function faultArgs(args: ParsedArgs): FaultArgs | undefined {
  const raw = args['fault'];
  const specs = raw === undefined ? [] : (Array.isArray(raw) ? raw : [raw]).map((value: unknown) => {
    if (typeof value !== 'string' && typeof value !== 'number') throw new UsageError('--fault needs a value', 'e.g. --fault enospc@op=120');
    return String(value);
  });
  const file = optionalStringArg(args, 'faults', 'faults');
  const rate = optionalStringArg(args, 'faultRate', 'fault-rate');
  const kinds = optionalStringArg(args, 'faultKinds', 'fault-kinds');
  if (specs.length === 0 && file === undefined && rate === undefined && kinds === undefined) return undefined;
  const faults: FaultArgs = { specs };
  if (file !== undefined) faults.file = file;
  if (rate !== undefined) faults.rate = rate;
  if (kinds !== undefined) faults.kinds = kinds;
  return faults;
}

/** The fault-injection options of replay (docs/faults.md). */
function faultOptions(parser: Argv): Argv {
  return parser
    .option('fault', {
      type: 'string',
      describe: 'inject a fault, KIND@WHERE[,key=value...]: enospc@op=N[,count=K], eio@op=N|bytes=B|block=S[-E][,count=K][,rw=read|write], ' +
        'short-copy@op=N,bytes=B, short-dio@op=N,bytes=B, crash@op=N|bytes=B (repeatable; docs/faults.md)',
    })
    .option('faults', { type: 'string', describe: 'read fault specs from FILE, one a line (# comments)' })
    .option('fault-rate', { type: 'string', describe: 'random faults: probability per op, 0..1, drawn from the seed (same seed, same faults)' })
    .option('fault-kinds', { type: 'string', describe: 'kinds --fault-rate draws from, comma-separated (default enospc,eio,short-copy,short-dio; never crash)' });
}

/**
 * --device (a model name or FILE.json chooses the device model, anything else a trace
 * device), --device-model, --no-device-model, --trace-device, --device-params,
 * --time-scale, --iodepth (replay only).
 */
function deviceModelArgs(args: ParsedArgs): Pick<ReplayArgs, 'device' | 'deviceModel' | 'deviceParams' | 'timeScale' | 'iodepth'> {
  const rawModel = singleValue(args['deviceModel'], 'device-model');
  const model = rawModel === false ? false : optionalStringArg(args, 'deviceModel', 'device-model');
  const choice = resolveDeviceChoice(optionalStringArg(args, 'device', 'device'), model, optionalStringArg(args, 'traceDevice', 'trace-device'));
  return {
    device: choice.traceDevice,
    deviceModel: choice.model,
    deviceParams: optionalStringArg(args, 'deviceParams', 'device-params'),
    timeScale: optionalStringArg(args, 'timeScale', 'time-scale'),
    iodepth: optionalStringArg(args, 'iodepth', 'iodepth'),
  };
}

/** The device-model options of replay. */
function deviceModelOptions(parser: Argv): Argv {
  return parser
    .option('device-model', { type: 'string', describe: 'device timing model: hdd, ssd, nvme or FILE.json (default ssd; --no-device-model: none). docs/device-model.md' })
    .option('trace-device', { type: 'string', describe: 'block-device traces: replay only this device (the same as --device ID)' })
    .option('device-params', { type: 'string', describe: 'FILE.json of device model parameters overriding the model\'s defaults' })
    .option('time-scale', { type: 'string', describe: 'timestamped traces (open loop): multiply trace time by this (default 1)' })
    .option('iodepth', { type: 'string', describe: 'traces without timestamps (closed loop): ops in flight (default 1)' });
}

/** --skip-bad, --device, --device-file (replay and convert). */
function traceInputArgs(args: ParsedArgs): { skipBad: boolean; device: string | undefined; deviceFile: string | undefined } {
  return {
    skipBad: booleanArg(args, 'skipBad'),
    device: optionalStringArg(args, 'device', 'device'),
    deviceFile: optionalStringArg(args, 'deviceFile', 'device-file'),
  };
}

function compareArgs(args: ParsedArgs): CompareArgs {
  const { device, deviceModel } = deviceModelArgs(args);
  const { skipBad, deviceFile } = traceInputArgs(args);
  return { ...runArgs(args), policies: optionalStringArg(args, 'policies', 'policies'), skipBad, device, deviceFile, deviceModel };
}

function convertArgs(args: ParsedArgs): ConvertArgs {
  return {
    trace: stringArg(args, 'trace', 'trace'),
    to: stringArg(args, 'to', 'to'),
    format: stringArg(args, 'format', 'format'),
    output: optionalStringArg(args, 'output', 'output'),
    force: booleanArg(args, 'force'),
    ...traceInputArgs(args),
  };
}

/** Options of replay and convert that shape the trace input. */
function traceInputOptions(parser: Argv): Argv {
  return parser
    .option('skip-bad', { type: 'boolean', default: false, describe: "skip malformed trace lines (counted as ignored 'bad-line'; the first 5 are printed)" })
    .option('device', {
      type: 'string',
      describe: 'block-device traces: replay only this device (blkparse 8,0; MSR disk number; volume id). replay: hdd, ssd, nvme or a path ending in .json choose the device model instead',
    })
    .option('device-file', { type: 'string', describe: 'block-device traces: the file a device is replayed into (default dev-ID.img etc.)' });
}

function convertBuilder(parser: Argv): Argv {
  return traceInputOptions(
    parser
      .positional('trace', { type: 'string', describe: 'trace file (any supported format; .gz is read transparently)' })
      .option('to', { type: 'string', demandOption: true, describe: `output format [choices: ${CONVERT_TARGETS.join(', ')}]` })
      .option('format', { type: 'string', default: 'auto', describe: `trace format [choices: ${FORMAT_CHOICES.join(', ')}]` })
      .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout (refuses to overwrite without --force)' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite the output file' }),
  )
    .example('$0 convert run.blktrace.txt --to csv -o run.csv', 'blkparse output as iomapsim CSV')
    .example('$0 convert fio.log --to xio', 'a fio iolog as an .xio case on stdout (best effort)')
    .epilogue(EXIT_CODES_TEXT);
}

function replayBuilder(parser: Argv, policies: readonly string[]): Argv {
  return faultOptions(deviceModelOptions(expectOptions(traceInputOptions(parser))))
    .positional('trace', { type: 'string', describe: 'trace file: .xio, iomapsim .csv, blkparse text, fio iolog, MSR/Alibaba/Tencent CSV (.gz ok)' })
    .option('policy', { type: 'string', default: 'ext4', describe: `mapping policy [choices: ${policies.join(', ')}]` })
    .option('format', { type: 'string', default: 'auto', describe: `trace format [choices: ${FORMAT_CHOICES.join(', ')}]` })
    .option('image', { type: 'string', describe: 'image file to write (default: <trace name>.img here); --no-image: none' })
    .option('data', { type: 'boolean', default: true, describe: 'write file data into the image (--no-data: metadata only, much faster; inspect --verify then checks structure only)' })
    .option('force', { type: 'boolean', default: false, describe: 'overwrite the image path even if it is not an iomapsim image' })
    .option('device-size', { type: 'string', default: '1g', describe: 'simulated device size, bytes with k/m/g/t suffix' })
    .option('block-size', { type: 'string', default: '4096', describe: `filesystem block size [choices: ${BLOCK_SIZES.join(', ')}]` })
    .option('seed', { type: 'string', describe: 'PRNG seed, 0..4294967295 (default: a hash of the trace name; always printed)' })
    .option('root', { type: 'string', describe: 'prefix stripped from trace paths (e.g. the traced mount point)' })
    .option('final-sync', { type: 'boolean', default: true, describe: 'sync at the end of the trace (--no-final-sync: skip)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON (docs/json-output.md), nothing else' })
    .option('deterministic', { type: 'boolean', default: false, describe: 'omit wall-clock speed so JSON is byte-identical' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print one summary line instead of layouts' })
    .option('map', { type: 'boolean', default: false, describe: 'also print a map of the device: who owns each block (docs/report.md)' })
    .option('report', { type: 'string', describe: 'write a self-contained HTML report (device map, extent bars, plots, stats) to FILE.html' })
    .example('$0 replay traces/demo.xio', 'replay onto ext4, write demo.img, print layouts')
    .example('$0 replay traces/demo.xio --json --deterministic', 'JSON that is byte-identical run to run')
    .example('$0 replay run.csv --no-image --seed 42', 'replay a CSV block trace without an image')
    .example('$0 replay big.fio.log --no-data', 'layouts and an image of metadata only: no payload written')
    .example('$0 replay cap.xio --root /mnt/t --force', 'strip /mnt/t from paths; overwrite cap.img whatever it is')
    .example('$0 replay trace.csv --report report.html', 'also write an HTML report with the device map and plots')
    .example('$0 replay trace.blkparse.txt --device nvme', 'time the replay on the nvme model: IOPS, MB/s, latency percentiles')
    .example('$0 replay trace.xio --fault enospc@op=120 --fault short-copy@op=300,bytes=1000', 'inject faults; the short-write recovery section says how each was recovered')
    .example('$0 replay trace.csv --fault crash@op=5000 --image t.img', 'die at op 5000: t.img keeps its last checkpoint (iomapsim fsck t.img)')
    .epilogue(EXIT_CODES_TEXT);
}

function inspectBuilder(parser: Argv): Argv {
  return parser
    .positional('image', { type: 'string', describe: 'image written by iomapsim replay' })
    .option('json', { type: 'boolean', default: false, describe: 'print summary, files and verify result as JSON' })
    .option('verify', { type: 'boolean', default: false, describe: 'check every file byte against what the replay wrote (exit 1 on mismatch)' })
    .option('map', { type: 'boolean', default: false, describe: 'also print a map of the device: who owns each block (docs/report.md)' })
    .example('$0 inspect demo.img', 'superblock, free space and filefrag -v style layouts')
    .example('$0 inspect demo.img --verify', 'also verify file contents')
    .example('$0 inspect demo.img --json', 'the same as JSON')
    .epilogue(EXIT_CODES_TEXT);
}

function usageHint(argv: readonly string[]): string {
  const command = COMMANDS.find((name) => argv.includes(name));
  return command === undefined ? "run 'iomapsim --help' for the commands" : `run 'iomapsim ${command} --help' for the options`;
}

function buildParser(argv: readonly string[], policies: readonly string[], choose: (chosen: Chosen) => void): Argv {
  return yargs([...argv])
    .scriptName('iomapsim')
    .usage('$0 <command> [options]\n\nStorage simulator and trace replayer modelled on Linux fs/iomap.')
    .command('replay <trace>', 'replay a trace, print file layouts, write an image', (parser) => replayBuilder(parser, policies), (args) => {
      choose({ command: 'replay', args: replayArgs(args), color: colorArg(args) });
    })
    .command('inspect <image>', 'show an image: summary, free space, layouts; --verify contents', inspectBuilder, (args) => {
      const inspect: InspectArgs = {
        image: stringArg(args, 'image', 'image'),
        json: booleanArg(args, 'json'),
        verify: booleanArg(args, 'verify'),
        map: booleanArg(args, 'map'),
      };
      choose({ command: 'inspect', args: inspect, color: colorArg(args) });
    })
    .command('compare <trace>', 'replay a trace under several policies and show the files side by side', (parser) => compareBuilder(parser, policies, EXIT_CODES_TEXT), (args) => {
      choose({ command: 'compare', args: compareArgs(args), color: colorArg(args) });
    })
    .command('fsck <image>', 'check an image: superblocks, checkpoints, extents, free space, refcounts', (parser) => fsckBuilder(parser, EXIT_CODES_TEXT), (args) => {
      choose({ command: 'fsck', args: { image: stringArg(args, 'image', 'image'), json: booleanArg(args, 'json') }, color: colorArg(args) });
    })
    .command('convert <trace>', 'write a trace as iomapsim CSV or .xio', convertBuilder, (args) => {
      choose({ command: 'convert', args: convertArgs(args), color: colorArg(args) });
    })
    .command('validate <trace>', 'replay on the real kernel (loop mount, root) and in the simulator; diff the layouts', validateBuilder, (args) => {
      choose({ command: 'validate', args: validateArgsOf(args), color: colorArg(args) });
    })
    .command('record <trace>', 'record the real kernel\'s layouts (loop mounts, root) as golden JSON', recordBuilder, (args) => {
      choose({ command: 'record', args: recordArgsOf(args), color: colorArg(args) });
    })
    .option('color', { type: 'boolean', describe: 'colour text output (default: stdout is a terminal and NO_COLOR is unset)' })
    .example('$0 replay traces/demo.xio', 'replay the demo trace')
    .example('$0 inspect demo.img --verify', 'inspect and verify the image it wrote')
    .demandCommand(1, 'no command given')
    .strict()
    .detectLocale(false)
    .version(readVersion())
    .help()
    .alias('h', 'help')
    .epilogue(EXIT_CODES_TEXT)
    .wrap(120)
    .exitProcess(false)
    .fail((message: string | null | undefined, error: Error | undefined) => {
      if (error instanceof IomapsimError) throw error;
      throw new UsageError(oneLine(message ?? error?.message ?? 'bad usage'), usageHint(argv));
    });
}

let brokenPipeGuarded = false;

/** `iomapsim replay ... | head` closes stdout early: that is not an error worth a stack trace. */
function guardBrokenPipe(): void {
  if (brokenPipeGuarded) return;
  brokenPipeGuarded = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

function resolveIo(io: Partial<CliIo> | undefined): CliIo {
  const injected = io?.stdout !== undefined;
  if (!injected) guardBrokenPipe();
  return {
    stdout: io?.stdout ?? ((text) => void process.stdout.write(text)),
    stderr: io?.stderr ?? ((text) => void process.stderr.write(text)),
    cwd: io?.cwd ?? process.cwd(),
    env: io?.env ?? process.env,
    isTTY: io?.isTTY ?? (injected ? false : process.stdout.isTTY === true),
    stderrIsTTY: io?.stderrIsTTY ?? (injected ? false : process.stderr.isTTY === true),
  };
}

async function loadEngine(): Promise<CliEngine> {
  const module = await import('./engine.js');
  return module.engine;
}

async function dispatch(chosen: Chosen, context: CliContext, policies: readonly string[]): Promise<number> {
  if (chosen.command === 'replay') return runReplay(planReplay(chosen.args, context.cwd, policies), context);
  if (chosen.command === 'fsck') return runFsck(chosen.args, context);
  if (chosen.command === 'compare') return runCompare(planCompare(chosen.args, context.cwd, policies), context);
  if (chosen.command === 'convert') return runConvert(planConvert(chosen.args, context.cwd), context);
  if (chosen.command === 'validate') return runValidate(chosen.args, context);
  if (chosen.command === 'record') return runRecord(chosen.args, context);
  return runInspect(chosen.args, context);
}

/**
 * Runs the CLI on `argv` (already without node and the script) and returns the
 * exit code. Output goes to `io` (default: the process streams); `deps.engine`
 * replaces the real engine in tests. Never throws.
 */
export async function main(argv: string[], io?: Partial<CliIo>, deps: CliDeps = {}): Promise<number> {
  const cliIo = resolveIo(io);
  const env = cliIo.env ?? {};
  let context: CliContext | undefined;
  try {
    const engine = deps.engine ?? (await loadEngine());
    const policies = engine.listPolicies();
    let chosen: Chosen | undefined;
    let output = '';
    const parser = buildParser(argv, policies, (value) => {
      chosen = value;
    });
    await parser.parseAsync([...argv], {}, (_error: Error | undefined, _args: unknown, text: string | undefined) => {
      output = text ?? '';
    });
    if (output !== '') cliIo.stdout(output.endsWith('\n') ? output : `${output}\n`);
    if (chosen === undefined) return 0;
    const color = useColor({ flag: chosen.color, stdoutIsTTY: cliIo.isTTY === true, env });
    const stderrColor = useColor({ flag: chosen.color, stdoutIsTTY: cliIo.stderrIsTTY === true, env });
    context = { io: cliIo, cwd: cliIo.cwd ?? process.cwd(), engine, style: makeStyle(color), stderrStyle: makeStyle(stderrColor) };
    const live = deps.live ?? (io?.stdout === undefined ? processLive(cliIo.stderr) : undefined);
    if (live !== undefined) context.live = live;
    return await dispatch(chosen, context, policies);
  } catch (error) {
    // Every usage error says where to look, whether yargs or an option parser raised it.
    const reported = error instanceof UsageError && error.hint === undefined ? new UsageError(error.message, usageHint(argv)) : error;
    cliIo.stderr(renderError(reported, { debug: env['IOMAPSIM_DEBUG'] === '1', reproduce: context?.reproduce }));
    return exitCodeFor(error);
  }
}
