/**
 * `iomapsim convert TRACE --to csv|xio [-o FILE]`: reads a trace of any
 * supported format and writes the normalised op stream as iomapsim CSV v1
 * (docs/trace-csv.md; reads back as the same ops) or, best effort, as an
 * `.xio` case. Streams: memory does not grow with the trace. Output goes
 * to stdout, or to FILE, which must not exist unless --force; a convert
 * that fails removes the FILE it was writing.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { formatCsvHeader, formatCsvOp } from '../trace/csv.js';
import { XioWriter, xioHeaderLines } from '../trace/xiowrite.js';
import { UsageError } from '../util/errors.js';
import type { CliContext } from './context.js';
import { atBoundary, ExitCode } from './exit.js';
import { FORMAT_CHOICES, type FormatChoice } from './options.js';
import { checkDeviceOptions, openTraceInput, reportTraceInput, type TraceInputOptions } from './traceinput.js';

/** Output formats of `convert`. */
export const CONVERT_TARGETS = ['csv', 'xio'] as const;
export type ConvertTarget = (typeof CONVERT_TARGETS)[number];

/** Output is written in chunks of about this many characters. */
const outputChunkChars = 64 * 1024;

/** The convert command's arguments as yargs leaves them. */
export interface ConvertArgs {
  trace: string;
  to: string;
  format: string;
  output: string | undefined;
  force: boolean;
  skipBad: boolean;
  device: string | undefined;
  deviceFile: string | undefined;
}

/** A checked convert. */
export interface ConvertPlan {
  input: TraceInputOptions;
  to: ConvertTarget;
  /** Absolute output path; null for stdout. */
  outputPath: string | null;
  /** The output path as typed. */
  outputName: string | null;
  force: boolean;
}

/** Checks the arguments; pure except for path resolution. Throws UsageError. */
export function planConvert(args: ConvertArgs, cwd: string): ConvertPlan {
  if (args.trace.trim() === '') throw new UsageError('the trace path is empty');
  if (!(CONVERT_TARGETS as readonly string[]).includes(args.to)) {
    throw new UsageError(`--to: unknown output format '${args.to}' (expected one of: ${CONVERT_TARGETS.join(', ')})`, 'e.g. --to csv');
  }
  if (!(FORMAT_CHOICES as readonly string[]).includes(args.format)) {
    throw new UsageError(`unknown trace format '${args.format}' (expected one of: ${FORMAT_CHOICES.join(', ')})`);
  }
  checkDeviceOptions(args.device, args.deviceFile);
  const tracePath = path.resolve(cwd, args.trace);
  const input: TraceInputOptions = { tracePath, traceName: args.trace, format: args.format as FormatChoice, skipBad: args.skipBad };
  if (args.device !== undefined) input.device = args.device;
  if (args.deviceFile !== undefined) input.deviceFile = args.deviceFile;
  let outputPath: string | null = null;
  if (args.output !== undefined) {
    if (args.output === '') throw new UsageError('-o needs a file name', 'or leave it out to write to stdout');
    outputPath = path.resolve(cwd, args.output);
    if (outputPath === tracePath) throw new UsageError(`the output ${args.output} is the trace itself`, 'choose another name with -o');
  }
  return { input, to: args.to as ConvertTarget, outputPath, outputName: args.output ?? null, force: args.force };
}

/** Where converted text goes: buffered, flushed in chunks to stdout or a file. */
class ConvertSink {
  private buffer: string[] = [];
  private bufferedChars = 0;

  constructor(private readonly target: { stdout: (text: string) => void } | FileHandle) {}

  line(text: string): void {
    this.buffer.push(text);
    this.bufferedChars += text.length + 1;
  }

  get full(): boolean {
    return this.bufferedChars >= outputChunkChars;
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.bufferedChars = 0;
    if ('stdout' in this.target) this.target.stdout(text);
    else await this.target.write(text);
  }
}

async function openOutput(plan: ConvertPlan, outputPath: string): Promise<FileHandle> {
  const name = plan.outputName ?? outputPath;
  try {
    return await open(outputPath, plan.force ? 'w' : 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${name}: exists, not overwriting it`, 'use --force to overwrite it, or choose another name with -o');
    throw new UsageError(`${name}: cannot write the output (${code ?? String(error)})`, 'check the directory and its permissions');
  }
}

/** Runs a planned convert; returns the exit code or throws a boundary error. */
export async function runConvert(plan: ConvertPlan, context: CliContext): Promise<number> {
  const input = await openTraceInput(plan.input, context);
  const file = plan.outputPath === null ? null : await openOutput(plan, plan.outputPath);
  const sink = new ConvertSink(file ?? { stdout: context.io.stdout });
  let skipped = 0;
  try {
    const xio = plan.to === 'xio' ? new XioWriter((line) => sink.line(line)) : null;
    if (xio === null) sink.line(formatCsvHeader());
    else for (const line of xioHeaderLines(plan.input.traceName, input.format)) sink.line(line);
    for await (const op of input.ops) {
      if (xio === null) sink.line(formatCsvOp(op));
      else xio.write(op);
      if (sink.full) await sink.flush();
    }
    xio?.finish();
    skipped = xio?.skipped ?? 0;
    await sink.flush();
    if (file !== null) await atBoundary(() => file.close(), (error) => new UsageError(`${plan.outputName}: cannot write the output (${error.code})`));
  } catch (error) {
    if (file !== null && plan.outputPath !== null) {
      await file.close().catch(() => undefined);
      await rm(plan.outputPath, { force: true });
    }
    throw error;
  }
  if (skipped > 0) context.io.stderr(`iomapsim: ${skipped} op${skipped === 1 ? '' : 's'} xio cannot express became '# skipped' comments\n`);
  reportTraceInput(input, plan.input, context);
  return ExitCode.ok;
}
