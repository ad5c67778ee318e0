/**
 * Colour for text output: chalk, only when stdout is a terminal and NO_COLOR
 * is not set (no-color.org), unless --color / --no-color says otherwise.
 */
import { Chalk } from 'chalk';
import { plainStyle, type TextStyle } from '../report/text.js';

export interface ColorInputs {
  /** --color (true), --no-color (false) or neither (undefined). */
  flag: boolean | undefined;
  stdoutIsTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/** Whether to colour stdout. */
export function useColor(inputs: ColorInputs): boolean {
  if (inputs.flag !== undefined) return inputs.flag;
  const noColor = inputs.env['NO_COLOR'];
  return inputs.stdoutIsTTY && (noColor === undefined || noColor === '');
}

/** A TextStyle backed by chalk at 16-colour level, or the plain one. */
export function makeStyle(color: boolean): TextStyle {
  if (!color) return plainStyle;
  const chalk = new Chalk({ level: 1 });
  return {
    label: (text) => chalk.bold(text),
    good: (text) => chalk.green(text),
    bad: (text) => chalk.red(text),
    dim: (text) => chalk.dim(text),
  };
}
