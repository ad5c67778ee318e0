/**
 * Assertions are part of the design (TigerBeetle style): they are never
 * compiled out, and a failure is a bug in iomapsim, not a user error.
 */
export class InvariantError extends Error {
  constructor(
    message: string,
    readonly context?: unknown,
  ) {
    super(context === undefined ? message : `${message} ${safeJson(context)}`);
    this.name = 'InvariantError';
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Throws InvariantError when `condition` is false. On hot paths write
 * `if (!condition) assert(false, message, context)`: the context object is
 * then built only when the assertion fails, not on every call.
 */
export function assert(condition: unknown, message: string, context?: unknown): asserts condition {
  if (!condition) throw new InvariantError(message, context);
}
