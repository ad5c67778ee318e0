/**
 * Boundary errors: one class per boundary, each carrying what the user needs.
 * The CLI maps them to exit codes and one-line messages (src/cli/exit.ts).
 * A bug is an InvariantError (src/util/assert.ts), never one of these.
 */

/** Where in a user file something went wrong (1-based line and column). */
export interface SourcePos {
  file: string;
  line: number;
  column?: number;
}

export function formatSourcePos(pos: SourcePos): string {
  return pos.column === undefined ? `${pos.file}:${pos.line}` : `${pos.file}:${pos.line}:${pos.column}`;
}

/** Base of all user-facing errors. `hint` says what to do about it. */
export class IomapsimError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A trace that cannot be parsed: bad line, unknown command, unknown format. */
export class TraceError extends IomapsimError {
  constructor(
    readonly pos: SourcePos | undefined,
    readonly what: string,
    hint?: string,
  ) {
    super(pos ? `${formatSourcePos(pos)}: ${what}` : what, hint);
  }
}

/** A trace op that cannot be replayed (missing file, bad fd) when not recoverable. */
export class ReplayError extends IomapsimError {
  constructor(
    readonly pos: SourcePos | undefined,
    readonly what: string,
    hint?: string,
  ) {
    super(pos ? `${formatSourcePos(pos)}: ${what}` : what, hint);
  }
}

/** An image that is missing, foreign, corrupt or of an unsupported version. */
export class ImageError extends IomapsimError {
  constructor(
    readonly path: string,
    readonly kind: 'missing' | 'foreign' | 'corrupt' | 'version' | 'exists' | 'io',
    what: string,
    hint?: string,
  ) {
    super(`${path}: ${what}`, hint);
  }
}

/** A policy that is unknown or refuses a configuration. */
export class PolicyError extends IomapsimError {}

/** Bad command-line usage. */
export class UsageError extends IomapsimError {}

/** The simulated device ran out of space where the run cannot continue. */
export class DeviceFullError extends IomapsimError {}
