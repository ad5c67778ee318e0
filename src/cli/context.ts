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
}

export interface CliContext {
  io: CliIo;
  cwd: string;
  engine: CliEngine;
  style: TextStyle;
  /** Set by a command once its run is fully determined: the command line that reproduces it. */
  reproduce?: string;
}
