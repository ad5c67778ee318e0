/**
 * strace line syntax (`strace -f -tt -T -y`, with or without `-o`): one
 * physical line in, one `StraceRecord` out. Pure: no per-process state, so a
 * bad line can be skipped by catching the TraceError of `parseStraceLine`.
 *
 * Line shapes (PREFIX is `PID␣+` with -o, `[pid␣N]␣` on stderr while more
 * than one tracee runs, or nothing; TIME is `HH:MM:SS[.frac]` (-t/-tt) or
 * `EPOCH.frac` (-ttt), optional):
 *
 *     PREFIX TIME name(args) = RESULT [<secs>]
 *     PREFIX TIME name(args <unfinished ...>
 *     PREFIX TIME <... name resumed>rest-of-args) = RESULT [<secs>]
 *     PREFIX TIME +++ exited with 0 +++        (also killed by / superseded)
 *     PREFIX TIME --- SIGCHLD {...} ---
 *     strace: Process 123 attached              (stderr style only)
 *     # comment                                 (iomapsim sample headers)
 */
import { TraceError, type SourcePos } from '../../util/errors.js';

/** Hint shown with every syntax error. */
export const straceSyntaxHint = 'the strace reader expects `strace -f -tt -T -y` output: fix or delete the line';

/** One top-level argument of a call, as written, with its offset in the call text. */
export interface StraceArg {
  text: string;
  /** Offset of `text` in the text passed to `parseCallText`. */
  offset: number;
}

/** What a call returned: `= 3</path>`, `= -1 ENOENT (...)`, `= ? ERESTARTSYS (...)`, `= 0x7f00`. */
export interface StraceResult {
  /** The numeric value; null for `?` (no return: exit, interrupted, process gone). */
  value: number | null;
  /** The value as written (`0x7fef6414a000`, `-1`, `?`). */
  valueText: string;
  /** The `-y` decoration of a returned fd (`/mnt/x` of `= 3</mnt/x>`), escapes decoded. */
  decoration?: string;
  /** The errno name of a failed or interrupted call (`ENOSPC`, `ERESTARTSYS`). */
  errno?: string;
}

/** A complete call: `name(args) = result`. */
export interface StraceCall {
  name: string;
  args: StraceArg[];
  result: StraceResult;
  /** `-T` time spent in the call, in microseconds (kept for latency statistics). */
  durationUs?: number;
}

interface RecordBase {
  /** Traced process id; undefined on lines without a pid prefix (single tracee, stderr style). */
  pid: number | undefined;
  /** `-tt` time of day / `-ttt` epoch, in microseconds; undefined without -t. */
  clockUs: number | undefined;
}

export type StraceRecord =
  | (RecordBase & { kind: 'call'; call: StraceCall; callOffset: number })
  | (RecordBase & { kind: 'unfinished'; name: string; argsText: string; argsOffset: number })
  | (RecordBase & { kind: 'resumed'; name: string; restText: string; restOffset: number })
  | (RecordBase & { kind: 'exit'; text: string })
  | (RecordBase & { kind: 'signal'; text: string })
  | { kind: 'note'; pid: undefined; clockUs: undefined; text: string };

/** Maps an offset in a call text to a position in the trace (a joined call spans two lines). */
export type Locate = (offset: number) => SourcePos;

const UNFINISHED = '<unfinished ...>';
const MICROS_PER_SECOND = 1_000_000;

/**
 * Parses one physical strace line. Blank lines and strace's own messages
 * (`strace: ...`, `[ Process PID=... ]`) are `note` records.
 *
 * Complexity: O(line length).
 * @throws TraceError `file:line:col: what (expected ...)` on a malformed line.
 */
export function parseStraceLine(text: string, file: string, line: number): StraceRecord {
  const locate: Locate = (offset) => ({ file, line, column: offset + 1 });
  const trimmed = text.trimEnd();
  // `#` lines are an iomapsim extension for headers of sample traces; strace never writes them.
  if (trimmed.trim() === '' || /^\s*(strace: |\[ Process |#)/.test(trimmed)) {
    return { kind: 'note', pid: undefined, clockUs: undefined, text: trimmed.trim() };
  }
  let index = 0;
  let pid: number | undefined;
  const prefix = /^(?:\[pid\s+(\d+)\] |(\d+)\s+(?=\S))/.exec(trimmed);
  if (prefix !== null) {
    pid = Number(prefix[1] ?? prefix[2]);
    index = prefix[0].length;
  }
  const clock = parseClock(trimmed, index);
  let clockUs: number | undefined;
  if (clock !== null) {
    clockUs = clock.clockUs;
    index = clock.end;
  }
  return parseBody(trimmed, index, { pid, clockUs }, locate);
}

function parseBody(text: string, index: number, base: RecordBase, locate: Locate): StraceRecord {
  const rest = text.slice(index);
  if (rest.startsWith('+++ ') && rest.endsWith(' +++')) return { ...base, kind: 'exit', text: rest.slice(4, -4) };
  if (rest.startsWith('--- ') && rest.endsWith(' ---')) return { ...base, kind: 'signal', text: rest.slice(4, -4) };
  const resumed = /^<\.\.\. ([A-Za-z_0-9?]+) resumed>/.exec(rest);
  if (resumed !== null) {
    const restOffset = index + resumed[0].length;
    return { ...base, kind: 'resumed', name: resumed[1]!, restText: text.slice(restOffset), restOffset };
  }
  const name = /^([A-Za-z_][A-Za-z_0-9]*|\?\?\?)\(/.exec(rest);
  if (name === null) {
    throw new TraceError(
      locate(index),
      `unrecognised strace line '${clip(rest)}' (expected a syscall 'name(args) = result', '<... name resumed>', '+++ ... +++' or '--- ... ---')`,
      straceSyntaxHint,
    );
  }
  const argsOffset = index + name[0].length;
  if (text.endsWith(UNFINISHED)) {
    const argsText = text.slice(argsOffset, text.length - UNFINISHED.length);
    return { ...base, kind: 'unfinished', name: name[1]!, argsText, argsOffset };
  }
  return { ...base, kind: 'call', call: parseCallText(text, index, locate), callOffset: index };
}

/** `HH:MM:SS[.frac] ` or `EPOCH.frac ` at `index`; null when the line has no timestamp. */
function parseClock(text: string, index: number): { clockUs: number; end: number } | null {
  const match = /^(?:(\d\d):(\d\d):(\d\d)|(\d+))(?:\.(\d{1,9}))? /.exec(text.slice(index));
  if (match === null) return null;
  if (match[4] !== undefined && match[5] === undefined) return null; // a bare number is not a time
  const fraction = match[5] ?? '';
  const micros = fraction === '' ? 0 : Math.floor(Number(fraction.padEnd(6, '0').slice(0, 6)));
  const seconds =
    match[4] !== undefined ? Number(match[4]) : Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
  return { clockUs: seconds * MICROS_PER_SECOND + micros, end: index + match[0].length };
}

/**
 * Parses `name(args) = result [<secs>]` starting at `start` of `text` (a
 * whole line, or an unfinished call joined with its resumption).
 *
 * Complexity: O(text length).
 * @throws TraceError located through `locate`.
 */
export function parseCallText(text: string, start: number, locate: Locate): StraceCall {
  const open = text.indexOf('(', start);
  const name = text.slice(start, open);
  const { args, end } = splitArgs(text, open + 1, locate);
  const result = parseResult(text, end + 1, name, locate);
  return { name, args, ...result };
}

/** Brackets that nest in argument text. */
const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/**
 * Splits the arguments after `(` at top-level commas, skipping strings,
 * `-y` decorations (`3</a,b>`) and comments; returns them and the offset of
 * the closing `)`. O(length).
 */
export function splitArgs(text: string, start: number, locate: Locate): { args: StraceArg[]; end: number } {
  const args: StraceArg[] = [];
  const stack: string[] = [];
  let argStart = start;
  let index = start;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '"') index = skipString(text, index, locate);
    else if (char === '<' && index > start && /[0-9A-Za-z_]/.test(text[index - 1]!)) index = skipDecoration(text, index, locate);
    else if (char === '/' && text[index + 1] === '*') index = skipComment(text, index, locate);
    else {
      if (char in CLOSERS) stack.push(CLOSERS[char]!);
      else if (char === ')' && stack.length === 0) {
        pushArg(args, text, argStart, index);
        return { args, end: index };
      } else if (char === ')' || char === ']' || char === '}') {
        if (stack.pop() !== char) {
          throw new TraceError(locate(index), `unbalanced '${char}' in the arguments (expected matching brackets)`, straceSyntaxHint);
        }
      } else if (char === ',' && stack.length === 0) {
        pushArg(args, text, argStart, index);
        argStart = index + 1;
      }
      index++;
    }
  }
  throw new TraceError(locate(text.length), `the argument list is not closed (expected ')' followed by ' = result')`, straceSyntaxHint);
}

function pushArg(args: StraceArg[], text: string, start: number, end: number): void {
  let from = start;
  let to = end;
  while (from < to && text[from] === ' ') from++;
  while (to > from && text[to - 1] === ' ') to--;
  if (from === to && args.length === 0 && text[end] === ')') return; // name()
  args.push({ text: text.slice(from, to), offset: from });
}

/** Offset just past the string literal (and a `...` truncation mark) opening at `start`. */
function skipString(text: string, start: number, locate: Locate): number {
  let index = start + 1;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '\\') index += 2;
    else if (char === '"') {
      index++;
      return text.startsWith('...', index) ? index + 3 : index;
    } else index++;
  }
  throw new TraceError(locate(start), 'string is not closed (expected a closing \'"\')', straceSyntaxHint);
}

/** Offset just past the `-y` decoration `<...>` opening at `start` (nested `<...>` of -yy allowed). */
export function skipDecoration(text: string, start: number, locate: Locate): number {
  let depth = 0;
  let index = start;
  while (index < text.length) {
    const char = text[index]!;
    if (char === '\\') index += 2;
    else {
      if (char === '<') depth++;
      else if (char === '>' && --depth === 0) return index + 1;
      index++;
    }
  }
  throw new TraceError(locate(start), "fd decoration is not closed (expected '>')", straceSyntaxHint);
}

function skipComment(text: string, start: number, locate: Locate): number {
  const end = text.indexOf('*/', start + 2);
  if (end < 0) throw new TraceError(locate(start), "comment is not closed (expected '*/')", straceSyntaxHint);
  return end + 2;
}

/** Parses ` = value[<decoration>] [ERRNO] [(comment)]... [<secs>]` after the closing `)`. */
function parseResult(text: string, start: number, name: string, locate: Locate): { result: StraceResult; durationUs?: number } {
  const equals = /^\s*= /.exec(text.slice(start));
  if (equals === null) {
    throw new TraceError(locate(start), `${name}: missing return value (expected ' = value' after ')')`, straceSyntaxHint);
  }
  let index = start + equals[0].length;
  const value = /^(\?|-?0x[0-9a-fA-F]+|-?\d+)/.exec(text.slice(index));
  if (value === null) {
    throw new TraceError(locate(index), `${name}: bad return value '${clip(text.slice(index))}' (expected a number, 0x address or '?')`, straceSyntaxHint);
  }
  const result: StraceResult = { value: value[1] === '?' ? null : parseNumber(value[1]!), valueText: value[1]! };
  index += value[0].length;
  if (text[index] === '<') {
    const end = skipDecoration(text, index, locate);
    result.decoration = decodeEscapes(text.slice(index + 1, end - 1));
    index = end;
    if (text.startsWith('(deleted)', index)) index += '(deleted)'.length;
  }
  return parseResultTail(text, index, name, result, locate);
}

function parseResultTail(
  text: string,
  start: number,
  name: string,
  result: StraceResult,
  locate: Locate,
): { result: StraceResult; durationUs?: number } {
  let index = start;
  const errno = /^ ([A-Z][A-Z0-9_]+)/.exec(text.slice(index));
  if (errno !== null) {
    result.errno = errno[1]!;
    index += errno[0].length;
  }
  for (let comments = 0; text.startsWith(' (', index) && comments < 4; comments++) index = skipParens(text, index + 1, locate);
  if (text.startsWith(' <unavailable>', index)) index += ' <unavailable>'.length;
  let durationUs: number | undefined;
  const duration = /^ <(\d+)\.(\d{1,9})>/.exec(text.slice(index));
  if (duration !== null) {
    durationUs = Number(duration[1]) * MICROS_PER_SECOND + Number(duration[2]!.padEnd(6, '0').slice(0, 6));
    index += duration[0].length;
  }
  if (text.slice(index).trim() !== '') {
    throw new TraceError(
      locate(index),
      `${name}: unexpected text '${clip(text.slice(index))}' after the return value (expected an errno, '(comment)' or '<seconds>')`,
      straceSyntaxHint,
    );
  }
  return durationUs === undefined ? { result } : { result, durationUs };
}

/** Offset past the `(...)` group opening at `start` (nested brackets and strings allowed). */
function skipParens(text: string, start: number, locate: Locate): number {
  let depth = 0;
  for (let index = start; index < text.length; index++) {
    const char = text[index]!;
    if (char === '"') index = skipString(text, index, locate) - 1;
    else if (char === '(') depth++;
    else if (char === ')' && --depth === 0) return index + 1;
  }
  throw new TraceError(locate(start), "comment after the return value is not closed (expected ')')", straceSyntaxHint);
}

/** A decimal, `0x` hex or `0`-octal integer, clamped to the safe integer range (2^53). */
export function parseNumber(text: string): number {
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  const big = digits.startsWith('0x') || digits.startsWith('0X') ? BigInt(digits) : /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  const clamped = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
  return negative ? -clamped : clamped;
}

const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, a: 7, b: 8, e: 27, '\\': 92, '"': 34, "'": 39 };

/** Decodes strace's C escapes (`\n`, `\\`, `\x3c`, `\303\251`) into a UTF-8 string. O(length). */
export function decodeEscapes(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (char !== '\\' || index + 1 >= text.length) {
      for (const byte of Buffer.from(char, 'utf8')) bytes.push(byte);
      continue;
    }
    const next = text[index + 1]!;
    const hex = next === 'x' ? /^[0-9a-fA-F]{1,2}/.exec(text.slice(index + 2)) : null;
    const octal = /^[0-7]{1,3}/.exec(text.slice(index + 1));
    if (hex !== null) {
      bytes.push(parseInt(hex[0], 16));
      index += 1 + hex[0].length;
    } else if (octal !== null) {
      bytes.push(parseInt(octal[0], 8) & 0xff);
      index += octal[0].length;
    } else {
      bytes.push(SIMPLE_ESCAPES[next] ?? next.charCodeAt(0));
      index += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** At most 40 characters of `text`, for messages. */
export function clip(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 37)}...`;
}
