/**
 * `iomapsim compare TRACE`: replay the trace once per policy (`--policies`,
 * default every registered one) with the same geometry and seed, without an
 * image, and print the files side by side (src/report/compare.ts).
 */
import type { Argv } from 'yargs';
import { NullDevice } from '../device/blockdev.js';
import { buildComparison } from '../report/compare.js';
import { renderComparison } from '../report/comparetext.js';
import { comparisonToJson } from '../report/json.js';
import type { ReplayResult } from '../report/model.js';
import { UsageError } from '../util/errors.js';
import type { CliContext } from './context.js';
import { ExitCode } from './exit.js';
import { BLOCK_SIZES, FORMAT_CHOICES } from './options.js';
import { finishResult, planReplay, reportDeviceFull, type ReplayArgs, type ReplayPlan } from './replay.js';
import { openTraceInput, reportTraceInput } from './traceinput.js';

/** The compare command's arguments as yargs leaves them: replay's run options, the policies, the trace input and the device model. */
export type CompareArgs = Pick<ReplayArgs, 'trace' | 'format' | 'deviceSize' | 'blockSize' | 'seed' | 'root' | 'finalSync' | 'json' | 'deterministic'> & {
  /** Comma-separated policy names; undefined: every registered policy. */
  policies: string | undefined;
  skipBad: boolean;
  device: string | undefined;
  deviceFile: string | undefined;
  /** --device-model MODEL|FILE.json; false: --no-device-model; undefined: ssd. */
  deviceModel: string | false | undefined;
};

export interface ComparePlan {
  json: boolean;
  /** One replay plan per policy, in the order asked for. */
  runs: ReplayPlan[];
}

/** Splits and checks --policies: known names, no repeats. Throws UsageError. */
export function parsePolicyList(value: string | undefined, registered: readonly string[]): string[] {
  if (value === undefined) return [...registered];
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new UsageError('--policies needs at least one policy name', `e.g. --policies ${registered.join(',')}`);
  for (const name of names) {
    if (!registered.includes(name)) throw new UsageError(`--policies: unknown policy '${name}' (expected some of: ${registered.join(', ')})`, `e.g. --policies ${registered.join(',')}`);
  }
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) throw new UsageError(`--policies names '${repeated}' twice`, 'list each policy once');
  return names;
}

/** Checks the arguments; one replay plan per policy (no image). Throws UsageError. */
export function planCompare(args: CompareArgs, cwd: string, registered: readonly string[]): ComparePlan {
  const policies = parsePolicyList(args.policies, registered);
  const runs = policies.map((policy) => {
    const { policies: _policies, device, deviceFile, ...common } = args;
    const replayArgs: ReplayArgs = { ...common, policy, image: false, force: false, quiet: false };
    if (device !== undefined) replayArgs.device = device;
    if (deviceFile !== undefined) replayArgs.deviceFile = deviceFile;
    return planReplay(replayArgs, cwd, registered);
  });
  return { json: args.json, runs };
}

/** Replays the trace under each planned policy (dataless: layouts and counters only), then prints the comparison. */
export async function runCompare(plan: ComparePlan, context: CliContext): Promise<number> {
  const results: ReplayResult[] = [];
  let exitCode: number = ExitCode.ok;
  for (const [index, run] of plan.runs.entries()) {
    // The trace is read once per policy; what detection says is said once.
    const quietIo = { ...context.io, stderr: () => undefined };
    const trace = await openTraceInput(run.input, index === 0 && !plan.json ? context : { ...context, io: quietIo });
    const outcome = await context.engine.replay(trace.ops, { ...run.options, device: new NullDevice(run.options.deviceSize), dataless: true });
    if (index === 0) reportTraceInput(trace, run.input, context);
    const result = finishResult(outcome.result, run);
    results.push(result);
    if (reportDeviceFull(result, run, context) !== ExitCode.ok) exitCode = ExitCode.deviceFull;
  }
  const comparison = buildComparison(results);
  context.io.stdout(plan.json ? comparisonToJson(comparison) : renderComparison(comparison, context.style));
  return exitCode;
}

/** The options of `compare`. */
export function compareBuilder(parser: Argv, policies: readonly string[], epilogue: string): Argv {
  return parser
    .positional('trace', { type: 'string', describe: 'trace file (any supported format; .gz is read transparently)' })
    .option('policies', { type: 'string', describe: `comma-separated policies to compare (default: all, ${policies.join(',')})` })
    .option('format', { type: 'string', default: 'auto', describe: `trace format [choices: ${FORMAT_CHOICES.join(', ')}]` })
    .option('device-size', { type: 'string', default: '1g', describe: 'simulated device size, bytes with k/m/g/t suffix' })
    .option('block-size', { type: 'string', default: '4096', describe: `filesystem block size [choices: ${BLOCK_SIZES.join(', ')}]` })
    .option('seed', { type: 'string', describe: 'PRNG seed, 0..4294967295 (default: a hash of the trace name)' })
    .option('root', { type: 'string', describe: 'prefix stripped from trace paths (e.g. the traced mount point)' })
    .option('final-sync', { type: 'boolean', default: true, describe: 'sync at the end of the trace (--no-final-sync: skip)' })
    .option('device-model', { type: 'string', describe: 'device timing model for the MB/s column: hdd, ssd, nvme or FILE.json (default ssd; --no-device-model: none)' })
    .option('skip-bad', { type: 'boolean', default: false, describe: "skip malformed trace lines (counted as ignored 'bad-line')" })
    .option('device', { type: 'string', describe: 'block-device traces: replay only this device (blkparse 8,0; MSR disk number; volume id)' })
    .option('device-file', { type: 'string', describe: 'block-device traces: the file a device is replayed into' })
    .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON (docs/json-output.md), nothing else' })
    .option('deterministic', { type: 'boolean', default: false, describe: 'accepted for symmetry with replay (compare output has no wall-clock figures)' })
    .example('$0 compare traces/demo.xio', 'ext4, xfs and btrfs side by side')
    .example('$0 compare trace.xio --policies ext4,xfs --json', 'two policies, as JSON')
    .epilogue(epilogue);
}
