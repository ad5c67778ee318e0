/**
 * Exit codes and the error → exit code → message mapping of the CLI. User
 * errors print one line `iomapsim: <message>` and an optional `hint: ...`;
 * bugs (InvariantError, anything unexpected) print an internal-error notice,
 * with the stack only when IOMAPSIM_DEBUG=1.
 */
import { DeviceFullError, ImageError, IomapsimError, PolicyError, ReplayError, TraceError, UsageError } from '../util/errors.js';

/** Process exit codes (README "Exit codes", `--help` epilogue). */
export const ExitCode = {
  ok: 0,
  /** inspect --verify found mismatches, or replay --expect found differences. */
  failed: 1,
  usage: 2,
  trace: 3,
  image: 4,
  deviceFull: 5,
  /** EX_SOFTWARE: a bug in iomapsim. */
  internal: 70,
  /** 128 + SIGINT: the replay was stopped by Ctrl-C (partial results printed, image committed). */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for an error thrown out of a command. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof UsageError || error instanceof PolicyError) return ExitCode.usage;
  if (error instanceof TraceError || error instanceof ReplayError) return ExitCode.trace;
  if (error instanceof ImageError) return ExitCode.image;
  if (error instanceof DeviceFullError) return ExitCode.deviceFull;
  return ExitCode.internal;
}

/** Whether an error is the user's to fix (one line + hint, no stack). */
export function isUserError(error: unknown): error is IomapsimError {
  return error instanceof IomapsimError && exitCodeFor(error) !== ExitCode.internal;
}

/** Collapses a message onto one line (yargs and some system errors span several). */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export interface ErrorReportOptions {
  /** IOMAPSIM_DEBUG=1: append the stack of internal errors. */
  debug: boolean;
  /** The command line that reproduces the run (with its seed), when known. */
  reproduce?: string;
}

/** The stderr text for an error: every line ends in "\n". */
export function renderError(error: unknown, options: ErrorReportOptions): string {
  if (isUserError(error)) {
    const hint = error.hint === undefined ? '' : `hint: ${oneLine(error.hint)}\n`;
    return `iomapsim: ${oneLine(error.message)}\n${hint}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  let text = `iomapsim: internal error: ${oneLine(message)}\n`;
  text += 'please report this with the command line and seed\n';
  if (options.reproduce !== undefined) text += `reproduce: ${options.reproduce}\n`;
  if (options.debug && error instanceof Error && error.stack !== undefined) text += `${error.stack}\n`;
  return text;
}

/** A Node.js system error (ENOENT, EACCES, ...) from fs calls. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && 'syscall' in error;
}

/**
 * Runs `step`; a system error escaping it is turned into the boundary error
 * `wrap` makes (a trace that cannot be read is a trace error, an image that
 * cannot be written an image error), everything else passes unchanged.
 */
export async function atBoundary<T>(step: () => Promise<T> | T, wrap: (error: NodeJS.ErrnoException) => Error): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (isSystemError(error)) throw wrap(error);
    throw error;
  }
}
