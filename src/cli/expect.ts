/**
 * `replay --expect FILE.json`: CI regression mode. The golden file (written
 * by `--update-expect`) records the run's parameters, final layouts, failed
 * ops and chosen stats (src/report/diff.ts); a run that differs prints a
 * readable diff on stderr and exits 1. A golden that is missing, not JSON or
 * of another format version is a usage error (exit 2) with a hint to record
 * it. docs/ci.md documents the workflow and the file.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Argv } from 'yargs';
import {
  compareExpectations,
  EXPECT_FORMAT,
  EXPECT_FORMAT_VERSION,
  EXPECT_STAT_NAMES,
  type ExpectedExtent,
  type ExpectedFailure,
  type ExpectedFile,
  type Expectation,
  expectationOf,
  formatExpectation,
  renderExpectDiff,
} from '../report/diff.js';
import type { ExtentFlagName, ReplayResult } from '../report/model.js';
import { plainStyle } from '../report/text.js';
import { UsageError } from '../util/errors.js';
import type { CliContext } from './context.js';
import { ExitCode, oneLine } from './exit.js';
import { singleValue } from './options.js';

/** The expectation options as yargs leaves them. */
export interface ExpectArgs {
  expect: string | undefined;
  updateExpect: boolean;
  tolerance: string | undefined;
  expectPhysical: boolean;
}

/** A checked expectation request. */
export interface ExpectPlan {
  /** Absolute path of the golden file. */
  goldenPath: string;
  /** The golden file as the user typed it. */
  goldenName: string;
  /** --update-expect: write the golden from this run instead of comparing. */
  update: boolean;
  tolerancePercent: number;
  comparePhysical: boolean;
}

const FLAG_NAMES: readonly ExtentFlagName[] = ['unwritten', 'delalloc', 'shared', 'inline', 'encoded', 'last'];

/** Adds --expect, --update-expect, --tolerance and --expect-physical to the replay command. */
export function expectOptions(parser: Argv): Argv {
  return parser
    .option('expect', { type: 'string', describe: 'compare the result with this golden file; exit 1 and print a diff when it differs (docs/ci.md)' })
    .option('update-expect', { type: 'boolean', default: false, describe: 'write the --expect file from this run instead of comparing' })
    .option('tolerance', { type: 'string', describe: 'allowed relative difference of stats in percent (default 0); layouts must match exactly' })
    .option('expect-physical', { type: 'boolean', default: true, describe: 'compare physical block addresses (--no-expect-physical: offsets, lengths and flags only)' })
    .example('$0 replay traces/x.xio --expect golden/x.json', 'CI: exit 1 with a diff if layouts or stats changed')
    .example('$0 replay traces/x.xio --expect golden/x.json --update-expect', 'record (or re-record) the golden file');
}

/** Reads the expectation options from parsed arguments (a repeated option is a UsageError). */
export function expectArgs(args: Record<string, unknown>): ExpectArgs {
  const expect = singleValue(args['expect'], 'expect');
  const tolerance = singleValue(args['tolerance'], 'tolerance');
  if (expect !== undefined && typeof expect !== 'string') throw new UsageError('--expect needs a file name', 'e.g. --expect golden/x.json');
  return {
    expect,
    updateExpect: singleValue(args['updateExpect'], 'update-expect') === true,
    tolerance: tolerance === undefined ? undefined : String(tolerance),
    expectPhysical: singleValue(args['expectPhysical'], 'expect-physical') !== false,
  };
}

/** Parses --tolerance: a non-negative percentage, `5`, `0.5` or `5%`. */
export function parseTolerance(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  const value = match === null ? NaN : Number(match[1]);
  if (!Number.isFinite(value)) {
    throw new UsageError(`--tolerance: '${text}' is not a percentage (expected a number >= 0, e.g. 5 or 0.5%)`, 'e.g. --tolerance 5');
  }
  return value;
}

/** Checks the options; null when --expect is absent. Throws UsageError for options that need --expect. Pure except path resolution. */
export function planExpect(args: ExpectArgs | undefined, cwd: string): ExpectPlan | null {
  if (args === undefined) return null;
  if (args.expect === undefined) {
    const stray = args.updateExpect ? '--update-expect' : args.tolerance !== undefined ? '--tolerance' : !args.expectPhysical ? '--no-expect-physical' : null;
    if (stray !== null) throw new UsageError(`${stray} needs --expect FILE`, 'e.g. --expect golden/x.json');
    return null;
  }
  if (args.expect.trim() === '') throw new UsageError('--expect needs a file name', 'e.g. --expect golden/x.json');
  return {
    goldenPath: path.resolve(cwd, args.expect),
    goldenName: args.expect,
    update: args.updateExpect,
    tolerancePercent: args.tolerance === undefined ? 0 : parseTolerance(args.tolerance),
    comparePhysical: args.expectPhysical,
  };
}

function recordHint(plan: ExpectPlan): string {
  return `record it from a run: add --update-expect (writes ${plan.goldenName})`;
}

/** `file:line:col` for a JSON.parse error that names a position (Node 20 does). */
function jsonErrorPosition(text: string, message: string, name: string): string {
  const match = /position (\d+)/.exec(message);
  if (match === null) return name;
  const offset = Math.min(Number(match[1]), text.length);
  const before = text.slice(0, offset).split('\n');
  return `${name}:${before.length}:${before[before.length - 1]!.length + 1}`;
}

/** Reads and checks the golden file; undefined with --update-expect (nothing to compare). Throws UsageError. */
export async function loadExpectation(plan: ExpectPlan): Promise<Expectation | undefined> {
  if (plan.update) return undefined;
  let text: string;
  try {
    text = await readFile(plan.goldenPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${plan.goldenName}: no such expectation file`, recordHint(plan));
    throw new UsageError(`${plan.goldenName}: cannot read the expectation file (${code ?? String(error)})`, 'check the path and its permissions');
  }
  return parseExpectation(text, plan.goldenName, recordHint(plan));
}

/** A structural check of one value; throws with the JSON path of what is wrong. */
class GoldenReader {
  constructor(
    private readonly name: string,
    private readonly hint: string,
  ) {}

  fail(where: string, what: string): never {
    throw new UsageError(`${this.name}: ${where}: ${what} (not an iomapsim expectation file?)`, this.hint);
  }

  object(value: unknown, where: string): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(where, 'expected an object');
    return value as Record<string, unknown>;
  }

  array(value: unknown, where: string): unknown[] {
    if (!Array.isArray(value)) this.fail(where, 'expected an array');
    return value;
  }

  number(value: unknown, where: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(where, 'expected a number');
    return value;
  }

  string(value: unknown, where: string): string {
    if (typeof value !== 'string') this.fail(where, 'expected a string');
    return value;
  }

  extent(value: unknown, where: string): ExpectedExtent {
    const record = this.object(value, where);
    const flags = this.array(record['flags'], `${where}.flags`).map((flag, index) => {
      const name = this.string(flag, `${where}.flags[${index}]`);
      if (!(FLAG_NAMES as readonly string[]).includes(name)) this.fail(`${where}.flags[${index}]`, `unknown flag '${name}'`);
      return name as ExtentFlagName;
    });
    return {
      logical: this.number(record['logical'], `${where}.logical`),
      physical: this.number(record['physical'], `${where}.physical`),
      length: this.number(record['length'], `${where}.length`),
      flags: flags.filter((flag) => flag !== 'last'),
    };
  }

  file(value: unknown, where: string): ExpectedFile {
    const record = this.object(value, where);
    const extents = this.array(record['extents'], `${where}.extents`).map((extent, index) => this.extent(extent, `${where}.extents[${index}]`));
    return { path: this.string(record['path'], `${where}.path`), size: this.number(record['size'], `${where}.size`), extents };
  }

  failure(value: unknown, where: string): ExpectedFailure {
    const record = this.object(value, where);
    const failure: ExpectedFailure = {
      at: this.string(record['at'], `${where}.at`),
      op: this.string(record['op'], `${where}.op`),
      errno: this.string(record['errno'], `${where}.errno`),
    };
    if (record['path'] !== undefined) failure.path = this.string(record['path'], `${where}.path`);
    return failure;
  }

  stats(value: unknown): Expectation['stats'] {
    const record = this.object(value, 'stats');
    const stats: Expectation['stats'] = {};
    for (const key of Object.keys(record)) {
      if (!(EXPECT_STAT_NAMES as readonly string[]).includes(key)) this.fail(`stats.${key}`, `unknown stat (expected one of: ${EXPECT_STAT_NAMES.join(', ')})`);
      stats[key as (typeof EXPECT_STAT_NAMES)[number]] = this.number(record[key], `stats.${key}`);
    }
    return stats;
  }
}

function checkFormatVersion(root: Record<string, unknown>, reader: GoldenReader, name: string, hint: string): void {
  if (root['format'] !== EXPECT_FORMAT) reader.fail('format', `expected "${EXPECT_FORMAT}"`);
  const version = root['formatVersion'];
  if (version !== EXPECT_FORMAT_VERSION) {
    throw new UsageError(`${name}: expectation format version ${JSON.stringify(version)} is not supported (expected ${EXPECT_FORMAT_VERSION})`, hint);
  }
}

/**
 * Parses golden-file text into an Expectation, checking every field. Throws
 * UsageError (one line, `name:line:col` for invalid JSON) with `hint`.
 * O(size of the text).
 */
export function parseExpectation(text: string, name: string, hint: string): Expectation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${jsonErrorPosition(text, message, name)}: not valid JSON (${oneLine(message)})`, hint);
  }
  const reader = new GoldenReader(name, hint);
  const root = reader.object(parsed, '$');
  if (root['format'] !== EXPECT_FORMAT && typeof root['schemaVersion'] === 'number' && Array.isArray(root['files'])) {
    return expectationOfResultShape(root, reader);
  }
  checkFormatVersion(root, reader, name, hint);
  return {
    ...commonFields(root, reader, 'resultSchemaVersion'),
    seed: reader.number(root['seed'], 'seed'),
    failures: reader.array(root['failures'], 'failures').map((failure, index) => reader.failure(failure, `failures[${index}]`)),
    stats: reader.stats(root['stats']),
  };
}

/** The fields both golden shapes carry: parameters and layouts. */
function commonFields(root: Record<string, unknown>, reader: GoldenReader, schemaKey: string): Omit<Expectation, 'seed' | 'failures' | 'stats'> {
  return {
    format: EXPECT_FORMAT,
    formatVersion: EXPECT_FORMAT_VERSION,
    resultSchemaVersion: reader.number(root[schemaKey], schemaKey),
    trace: reader.string(root['trace'], 'trace'),
    policy: reader.string(root['policy'], 'policy'),
    blockSize: reader.number(root['blockSize'], 'blockSize'),
    deviceSize: reader.number(root['deviceSize'], 'deviceSize'),
    files: reader.array(root['files'], 'files').map((file, index) => reader.file(file, `files[${index}]`)),
  };
}

/**
 * A golden in the `replay --json` shape, as `iomapsim record` writes from the
 * kernel: its layouts are the expectation; the seed, per-op failures and stats
 * (the kernel's run counts differently) are not compared.
 */
function expectationOfResultShape(root: Record<string, unknown>, reader: GoldenReader): Expectation {
  return { ...commonFields(root, reader, 'schemaVersion'), stats: {} };
}

/** Writes the golden atomically (temporary file, then rename), creating its directory. Throws UsageError. */
async function writeGolden(plan: ExpectPlan, text: string): Promise<void> {
  const temporary = `${plan.goldenPath}.tmp-${process.pid}`;
  try {
    await mkdir(path.dirname(plan.goldenPath), { recursive: true });
    await writeFile(temporary, text);
    await rename(temporary, plan.goldenPath);
  } catch (error) {
    await rm(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${plan.goldenName}: cannot write the expectation file (${code ?? String(error)})`, 'check the directory and its permissions');
  }
}

function describeExpectation(expectation: Expectation): string {
  const extents = expectation.files.reduce((sum, file) => sum + file.extents.length, 0);
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${count(expectation.files.length, 'file')}, ${count(extents, 'extent')}, ${count(expectation.failures?.length ?? 0, 'failed op')}, ${count(Object.keys(expectation.stats).length, 'stat')}`;
}

/**
 * After a finished (not interrupted) replay: writes the golden (--update-expect,
 * returns 0) or compares the result with `expected` (0 when it matches; 1 with
 * the diff on stderr). Output mode 'text' also confirms a match on stderr.
 */
export async function settleExpectation(
  plan: ExpectPlan,
  expected: Expectation | undefined,
  result: ReplayResult,
  context: CliContext,
  output: 'text' | 'json' | 'quiet',
): Promise<number> {
  const actual = expectationOf(result);
  if (plan.update || expected === undefined) {
    await writeGolden(plan, formatExpectation(actual));
    context.io.stderr(`iomapsim: wrote ${plan.goldenName} (${describeExpectation(actual)})\n`);
    return ExitCode.ok;
  }
  const diffs = compareExpectations(expected, actual, { tolerancePercent: plan.tolerancePercent, comparePhysical: plan.comparePhysical });
  if (diffs.length === 0) {
    if (output === 'text') context.io.stderr(`iomapsim: ${plan.goldenName}: expectation met (${describeExpectation(expected)})\n`);
    return ExitCode.ok;
  }
  const style = context.stderrStyle ?? plainStyle;
  context.io.stderr(`iomapsim: ${renderExpectDiff(diffs, { goldenName: plan.goldenName, tolerancePercent: plan.tolerancePercent, style })}`);
  context.io.stderr('hint: if the change is intended, record the new result: rerun with --update-expect (docs/ci.md)\n');
  return ExitCode.failed;
}
