/**
 * The live side of `replay`: a progress display on stderr and Ctrl-C.
 *
 * Progress shows only for text output (never with --json or --quiet) and only
 * once a replay has run for PROGRESS_DELAY_MS. On a terminal it is an ink
 * component (React, rendered with createElement: the build compiles .ts only)
 * drawn on stderr, never stdout; elsewhere it is one plain line at most once
 * a second. Wall-clock figures here are display only and never reach the
 * result. Ctrl-C aborts the replay through its `signal` (it stops after the
 * current op, skips the final sync, the image is committed and the partial
 * result printed, exit 130); a second Ctrl-C exits at once.
 */
import { stat } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import React from 'react';
import type { ReplayResult } from '../report/model.js';
import { plainStyle, type TextStyle } from '../report/text.js';
import type { ReplayOptions, ReplayProgress } from '../replay/types.js';
import { traceBytesRead } from '../trace/lines.js';
import type { CliContext, CliLive, InterruptSource } from './context.js';
import { ExitCode } from './exit.js';

/** Nothing is shown for replays shorter than this. */
export const PROGRESS_DELAY_MS = 1000;
/** Plain lines (not a terminal): at most one per this interval. */
export const PROGRESS_LINE_INTERVAL_MS = 1000;
/** The live view redraws at most this often (a frame costs ~3 ms of React and layout). */
export const PROGRESS_LIVE_INTERVAL_MS = 200;
/** The replay reports progress every this many ops while a display is on. */
export const PROGRESS_EVERY_OPS = 1024;
/** While ink loads, the op stream gives the event loop a turn every this many ops. */
export const YIELD_EVERY_OPS = 256;

const BAR_WIDTH_MIN = 10;
const BAR_WIDTH_MAX = 40;

/** What one progress display shows: the replay's counters plus wall-clock rates. */
export interface ProgressFrame {
  elapsedMs: number;
  opsDone: number;
  /** Ops per wall-clock second since the replay started. */
  opsPerSecond: number;
  /** Fraction of the trace file read, 0..1; null when its size is unknown (progress by ops only). */
  fraction: number | null;
  traceBytesRead: number | null;
  traceSizeBytes: number | null;
  /** Estimated wall-clock seconds left; null without a fraction. */
  etaSeconds: number | null;
  /** Simulated trace time of the last op, seconds since the trace start; null without timestamps. */
  traceSeconds: number | null;
  files: number;
  bytesWritten: number;
  opsFailed: number;
}

/** Bytes of the trace read so far and the file's size, when known. */
export interface TraceBytes {
  read: number | undefined;
  total: number | undefined;
}

/** Builds a frame from a replay progress report. Pure; O(1). */
export function progressFrame(progress: ReplayProgress, elapsedMs: number, bytes: TraceBytes): ProgressFrame {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const known = bytes.read !== undefined && bytes.total !== undefined && bytes.total > 0;
  const fraction = known ? Math.min(1, bytes.read! / bytes.total!) : null;
  const etaSeconds = fraction !== null && fraction > 0 ? (seconds * (1 - fraction)) / fraction : null;
  return {
    elapsedMs,
    opsDone: progress.opsDone,
    opsPerSecond: progress.opsDone / seconds,
    fraction,
    traceBytesRead: known ? bytes.read! : null,
    traceSizeBytes: known ? bytes.total! : null,
    etaSeconds,
    traceSeconds: progress.traceTimeUs === undefined ? null : progress.traceTimeUs / 1e6,
    files: progress.files,
    bytesWritten: progress.bytesWritten,
    opsFailed: progress.opsFailed,
  };
}

/** `0:07`, `12:34`, `1:02:03`. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `8.5 MiB`: binary units, one decimal above bytes (the live view has no room for formatBytes' exact count). */
export function formatBytesShort(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

function percentText(fraction: number): string {
  return `${Math.floor(fraction * 100)}%`;
}

/** The plain progress line: `replay: 1200000 ops, 45000 ops/s, 38% of trace, ETA 0:07`. */
export function formatProgressLine(frame: ProgressFrame): string {
  let line = `replay: ${frame.opsDone} ops, ${Math.round(frame.opsPerSecond)} ops/s`;
  if (frame.fraction !== null) line += `, ${percentText(frame.fraction)} of trace`;
  if (frame.etaSeconds !== null) line += `, ETA ${formatDuration(frame.etaSeconds)}`;
  if (frame.opsFailed > 0) line += `, ${frame.opsFailed} failed`;
  return line;
}

/** A bar of `width` cells for `fraction`. */
export function progressBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

export interface ReplayProgressViewProps {
  frame: ProgressFrame;
  style: TextStyle;
  /** Terminal width in columns. */
  columns: number;
}

/** The three lines of the live view, styled; the ink component wraps them. Pure. */
export function progressViewLines(props: ReplayProgressViewProps): string[] {
  const { frame, style } = props;
  const head = style.label('replay');
  let first: string;
  if (frame.fraction === null) {
    first = `${head}  ${frame.opsDone} ops`;
  } else {
    const width = Math.max(BAR_WIDTH_MIN, Math.min(BAR_WIDTH_MAX, props.columns - 50));
    const bytes = `${formatBytesShort(frame.traceBytesRead!)} of ${formatBytesShort(frame.traceSizeBytes!)}`;
    const eta = frame.etaSeconds === null ? '' : `  ETA ${formatDuration(frame.etaSeconds)}`;
    first = `${head}  ${style.good(progressBar(frame.fraction, width))} ${percentText(frame.fraction).padStart(4)}  ${style.dim(bytes)}${eta}`;
  }
  const trace = frame.traceSeconds === null ? '' : `  trace time ${frame.traceSeconds.toFixed(1)} s`;
  const second = `        ${frame.opsDone} ops  ${Math.round(frame.opsPerSecond)} ops/s${trace}  elapsed ${formatDuration(frame.elapsedMs / 1000)}`;
  const failed = frame.opsFailed > 0 ? style.bad(`failed ops ${frame.opsFailed}`) : 'failed ops 0';
  const third = `        files ${frame.files}  written ${formatBytesShort(frame.bytesWritten)}  ${failed}`;
  return [first, second, third];
}

/** The ink component of the live view (React 19, ink 6). */
export function ReplayProgressView(props: ReplayProgressViewProps & { ink: InkModule }): React.ReactElement {
  const { Box, Text } = props.ink;
  const lines = progressViewLines(props).map((line, index) => React.createElement(Text, { key: index, wrap: 'truncate-end' }, line));
  return React.createElement(Box, { flexDirection: 'column' }, ...lines);
}

type InkModule = typeof import('ink');
type InkInstance = ReturnType<InkModule['render']>;

/** Where frames go. */
interface ProgressDisplay {
  readonly intervalMs: number;
  show(frame: ProgressFrame): void;
  /** Removes the display; idempotent. */
  stop(): Promise<void>;
}

/** One plain line per frame on a stream that is not a terminal. */
class LineDisplay implements ProgressDisplay {
  readonly intervalMs = PROGRESS_LINE_INTERVAL_MS;
  private stopped = false;

  constructor(private readonly write: (text: string) => void) {}

  show(frame: ProgressFrame): void {
    if (!this.stopped) this.write(`${formatProgressLine(frame)}\n`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/**
 * The ink view on a terminal. ink is imported in the background when the
 * display is made (it costs ~100 ms, and nothing shows for a second anyway);
 * stdin is a dummy stream, so ink never touches the real one.
 */
export class InkDisplay implements ProgressDisplay {
  readonly intervalMs = PROGRESS_LIVE_INTERVAL_MS;
  private ink: InkModule | null = null;
  private instance: InkInstance | null = null;
  private stopped = false;
  /** Settles once ink is loaded (or failed to load: then nothing is shown). */
  readonly ready: Promise<void>;
  /** True until `ready` settles. */
  loading = true;

  constructor(
    private readonly terminal: NodeJS.WriteStream,
    private readonly style: TextStyle,
  ) {
    this.ready = import('ink').then(
      (module) => {
        this.ink = module;
      },
      () => undefined,
    );
    void this.ready.finally(() => {
      this.loading = false;
    });
  }

  show(frame: ProgressFrame): void {
    const ink = this.ink;
    if (this.stopped || ink === null) return;
    const element = React.createElement(ReplayProgressView, { frame, style: this.style, columns: this.terminal.columns ?? 80, ink });
    if (this.instance !== null) {
      this.instance.rerender(element);
      return;
    }
    const stdin = new PassThrough() as unknown as NodeJS.ReadStream;
    this.instance = ink.render(element, { stdout: this.terminal, stderr: this.terminal, stdin, patchConsole: false, exitOnCtrlC: false, maxFps: 5 });
  }

  /** Erases the view (an empty frame) and unmounts the ink app so the process can exit. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const instance = this.instance;
    const ink = this.ink;
    this.instance = null;
    if (instance === null || ink === null) return;
    instance.rerender(React.createElement(ink.Text, null, ''));
    const exited = instance.waitUntilExit();
    instance.unmount();
    await exited;
  }
}

export type ProgressMode = 'off' | 'lines' | 'live';

function envFlag(env: Readonly<Record<string, string | undefined>>, name: string): boolean {
  const value = env[name];
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

/**
 * Which display a replay gets: none for JSON or --quiet output or without
 * `live.progress`; the ink view when `live.terminal` is a terminal (not
 * under CI, not TERM=dumb); plain lines otherwise.
 */
export function chooseProgressMode(output: 'text' | 'json' | 'quiet', live: CliLive | undefined, env: Readonly<Record<string, string | undefined>>): ProgressMode {
  if (output !== 'text' || live === undefined || !live.progress) return 'off';
  const terminal = live.terminal?.isTTY === true && !envFlag(env, 'CI') && env['TERM'] !== 'dumb';
  return terminal ? 'live' : 'lines';
}

/** Rate-limits frames: nothing before PROGRESS_DELAY_MS, then one per display interval. */
class ProgressReporter {
  private readonly startedMs: number;
  private lastShownMs = -Infinity;

  constructor(
    private readonly display: ProgressDisplay,
    private readonly clockMs: () => number,
    private readonly bytes: () => TraceBytes,
  ) {
    this.startedMs = clockMs();
  }

  readonly onProgress = (progress: ReplayProgress): void => {
    if (progress.done) return; // The result is printed next: no final frame.
    const now = this.clockMs();
    const elapsedMs = now - this.startedMs;
    if (elapsedMs < PROGRESS_DELAY_MS || now - this.lastShownMs < this.display.intervalMs) return;
    this.lastShownMs = now;
    this.display.show(progressFrame(progress, elapsedMs, this.bytes()));
  };
}

/**
 * Passes `ops` through unchanged, but while `pending()` every YIELD_EVERY_OPS-th
 * op waits for a macrotask turn first. The replay loop only yields when the
 * trace reader waits for a chunk (every ~25 ms of work), and a dynamic import
 * of hundreds of modules (ink) needs a turn per module: without this it takes
 * seconds instead of ~0.7 s. `return` is forwarded, so a replay that stops
 * early still closes the trace. O(1) per op.
 */
export function yieldWhile<T>(ops: AsyncIterable<T>, pending: () => boolean): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const source = ops[Symbol.asyncIterator]();
      let count = 0;
      const iterator: AsyncIterator<T> = {
        next: () => {
          count++;
          if (count % YIELD_EVERY_OPS !== 0 || !pending()) return source.next();
          return new Promise<void>((resolve) => setImmediate(resolve)).then(() => source.next());
        },
      };
      if (source.return !== undefined) iterator.return = (value?: unknown) => source.return!(value);
      return iterator;
    },
  };
}

/** A running replay's live side: options for the replay, the op stream, and the clean-up. */
export interface LiveReplay {
  options: Pick<ReplayOptions, 'signal' | 'onProgress' | 'progressEveryOps'>;
  /** The op stream to replay: `ops` itself, or (while ink loads) one that lets it load. */
  ops<T>(ops: AsyncIterable<T>): AsyncIterable<T>;
  /** Removes the display and stops listening for Ctrl-C; idempotent. Call before printing results. */
  stop(): Promise<void>;
}

async function fileSize(filePath: string): Promise<number | undefined> {
  try {
    return (await stat(filePath)).size;
  } catch {
    return undefined;
  }
}

function makeDisplay(mode: ProgressMode, live: CliLive | undefined, context: CliContext): ProgressDisplay | null {
  if (mode === 'off') return null;
  if (mode === 'live' && live?.terminal !== undefined) return new InkDisplay(live.terminal, context.stderrStyle ?? plainStyle);
  return new LineDisplay(context.io.stderr);
}

/**
 * Starts the live side of a replay of `tracePath`: the progress display the
 * output mode allows, and Ctrl-C listening when `context.live.interrupts` is
 * set. The returned options go into ReplayOptions.
 */
export async function startLiveReplay(tracePath: string, output: 'text' | 'json' | 'quiet', context: CliContext): Promise<LiveReplay> {
  const live = context.live;
  const controller = new AbortController();
  const display = makeDisplay(chooseProgressMode(output, live, context.io.env ?? {}), live, context);
  const onInterrupt = (): void => {
    void display?.stop();
    context.io.stderr('iomapsim: interrupted: stopping after the current operation (Ctrl-C again quits at once, without committing the image)\n');
  };
  const stopListening = live?.interrupts?.listen(controller, onInterrupt) ?? (() => undefined);
  const options: LiveReplay['options'] = { signal: controller.signal };
  if (display !== null) {
    const total = await fileSize(tracePath);
    const readBytes = live?.traceBytesRead ?? traceBytesRead;
    const reporter = new ProgressReporter(display, live?.clockMs ?? (() => performance.now()), () => ({ read: readBytes(tracePath), total }));
    options.onProgress = reporter.onProgress;
    options.progressEveryOps = PROGRESS_EVERY_OPS;
  }
  let stopped = false;
  return {
    options,
    ops: (ops) => (display instanceof InkDisplay ? yieldWhile(ops, () => display.loading) : ops),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      stopListening();
      await display?.stop();
    },
  };
}

/**
 * Ctrl-C of the real process: the first SIGINT aborts the replay, the second
 * writes one line and calls `exit(130)` at once. The handler is installed only
 * while a replay runs (Node's default, exit on SIGINT, applies otherwise).
 */
export function processInterrupts(write: (text: string) => void, exit: (code: number) => void = (code) => process.exit(code)): InterruptSource {
  return {
    listen(controller, onInterrupt) {
      let count = 0;
      const handler = (): void => {
        count++;
        if (count === 1) {
          controller.abort();
          onInterrupt();
          return;
        }
        write('iomapsim: interrupted again: quitting now; the image was not committed\n');
        exit(ExitCode.interrupted);
      };
      process.on('SIGINT', handler);
      return () => {
        process.off('SIGINT', handler);
      };
    },
  };
}

/** The live side of the real process: progress on process.stderr, Ctrl-C by SIGINT. */
export function processLive(write: (text: string) => void): CliLive {
  return { progress: true, terminal: process.stderr, interrupts: processInterrupts(write) };
}

/**
 * After an interrupted replay (result printed, image committed): one line on
 * stderr saying so, and exit code 130. `expect`: the --expect plan, whose
 * golden is neither checked nor written (a partial result proves nothing).
 */
export function reportInterrupted(result: ReplayResult, context: CliContext, expect: { update: boolean; goldenName: string } | null): number {
  const ops = result.stats.opsTotal;
  const image = result.image === undefined ? '' : `; ${result.image} holds the state at that point`;
  const golden = expect === null ? '' : expect.update ? `; ${expect.goldenName} not written` : '; expectation not checked';
  context.io.stderr(`iomapsim: interrupted after ${ops} op${ops === 1 ? '' : 's'}: the results are partial (no final sync)${image}${golden}\n`);
  return ExitCode.interrupted;
}
