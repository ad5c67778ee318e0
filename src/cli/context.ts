/** What every command receives: where to write, the engine, the text style, the environment. */
import type { TextStyle } from '../report/text.js';
import type { CliEngine } from './types.js';

/** Output sinks and working directory; main() fills unset fields from the process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Directory relative paths are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Environment for NO_COLOR and IOMAPSIM_DEBUG (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Whether stdout is a terminal (default: process.stdout.isTTY when stdout is not injected). */
  isTTY?: boolean;
  /** Whether stderr is a terminal (default: process.stderr.isTTY when stdout is not injected): colours on stderr. */
  stderrIsTTY?: boolean;
}

/** How a replay learns it should stop: SIGINT in the process (progress.ts), anything in tests. */
export interface InterruptSource {
  /**
   * Starts listening: the first interrupt aborts `controller` and then calls
   * `onInterrupt`. Returns the function that stops listening.
   */
  listen(controller: AbortController, onInterrupt: () => void): () => void;
}

/** The live side of a replay: progress display and Ctrl-C (src/cli/progress.ts). */
export interface CliLive {
  /** Show progress on stderr (text output only, after the first second). */
  progress: boolean;
  /** The stream ink renders the live view on when it is a terminal (process.stderr); absent: plain lines on io.stderr. */
  terminal?: NodeJS.WriteStream;
  /** Wall clock in milliseconds for the display (default performance.now). */
  clockMs?: () => number;
  /** Bytes of the trace file read so far (default: the trace reader's counter). */
  traceBytesRead?: (tracePath: string) => number | undefined;
  interrupts?: InterruptSource;
}

export interface CliContext {
  io: CliIo;
  cwd: string;
  engine: CliEngine;
  style: TextStyle;
  /** Set by a command once its run is fully determined: the command line that reproduces it. */
  reproduce?: string;
  /** Colours for stderr (expectation diffs, progress); plain when absent. */
  stderrStyle?: TextStyle;
  /** Progress and Ctrl-C; absent (none of either) when main() runs with injected io and no deps.live. */
  live?: CliLive;
}
