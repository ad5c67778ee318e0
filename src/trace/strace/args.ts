/**
 * Decoders for strace call arguments (fds with `-y` decorations, integers,
 * paths, flag sets) and the flag vocabularies the reader understands
 * (open(2) flags, fallocate(2) modes, lseek(2) whence). Each decoder throws
 * a TraceError naming the call, the argument and what was expected.
 */
import { TraceError } from '../../util/errors.js';
import type { FallocMode, OpenFlags } from '../types.js';
import { clip, decodeEscapes, parseNumber, straceSyntaxHint, type Locate, type StraceArg, type StraceCall } from './syntax.js';

/** `AT_FDCWD` as the kernel defines it. */
export const AT_FDCWD = -100;

/** A decoded fd argument: `3</mnt/x>` -> { fd: 3, decoration: '/mnt/x' }. */
export interface FdArg {
  fd: number;
  decoration?: string;
}

/** The arguments of one call with its position mapper: the decoders' input. */
export class CallArgs {
  constructor(
    readonly call: StraceCall,
    private readonly locate: Locate,
  ) {}

  get name(): string {
    return this.call.name;
  }

  get count(): number {
    return this.call.args.length;
  }

  /** Argument `index` (0-based); a TraceError when the call has fewer. */
  arg(index: number, expected: string): StraceArg {
    const arg = this.call.args[index];
    if (arg === undefined) {
      const end = this.call.args.at(-1);
      const offset = end === undefined ? 0 : end.offset + end.text.length;
      throw new TraceError(this.locate(offset), `${this.name}: missing argument ${index + 1} (expected ${expected})`, straceSyntaxHint);
    }
    return arg;
  }

  /** A TraceError at argument `index`. */
  fail(index: number, expected: string): never {
    const arg = this.arg(index, expected);
    throw new TraceError(
      this.locate(arg.offset),
      `${this.name}: argument ${index + 1} is '${clip(arg.text)}' (expected ${expected})`,
      straceSyntaxHint,
    );
  }

  /** `3`, `3</path>`, `AT_FDCWD`, `AT_FDCWD</cwd>`, `-1`. */
  fd(index: number): FdArg {
    const text = this.arg(index, 'a file descriptor').text;
    const match = /^(-?\d+|AT_FDCWD)(<.*>)?(?:\(deleted\))?$/s.exec(text);
    if (match === null) this.fail(index, 'a file descriptor such as 3 or 3</path>');
    const fd = match[1] === 'AT_FDCWD' ? AT_FDCWD : Number(match[1]);
    return match[2] === undefined ? { fd } : { fd, decoration: decodeEscapes(match[2].slice(1, -1)) };
  }

  /** A decimal/hex/octal integer, or `[N]` (a value behind a pointer, as strace prints loff_t *). */
  int(index: number): number {
    const text = this.arg(index, 'an integer').text;
    const match = /^\[?(-?(?:0x[0-9a-fA-F]+|\d+))\]?$/.exec(text);
    if (match === null) this.fail(index, 'an integer');
    return parseNumber(match[1]!);
  }

  /** Like `int`, but `NULL` (no offset pointer) is null. */
  intOrNull(index: number): number | null {
    return this.arg(index, 'an integer or NULL').text === 'NULL' ? null : this.int(index);
  }

  /** A path string argument, escapes decoded (a `...` truncation mark is dropped). */
  path(index: number): string {
    const text = this.arg(index, 'a quoted path').text;
    const match = /^"(.*)"(?:\.\.\.)?$/s.exec(text);
    if (match === null) this.fail(index, 'a quoted path such as "/mnt/data/f"');
    return decodeEscapes(match[1]!);
  }

  /** `O_RDWR|O_CREAT|0x4000` -> the set of its names (numbers kept as text). */
  flags(index: number): Set<string> {
    const text = this.arg(index, 'flags').text;
    if (!/^[A-Za-z0-9_|]+$/.test(text)) this.fail(index, "flags such as O_RDWR|O_CREAT or 0");
    return new Set(text.split('|'));
  }

  /** The raw text of argument `index`, or '' when absent. */
  text(index: number): string {
    return this.call.args[index]?.text ?? '';
  }
}

/** open(2) flags as strace prints them; the access mode is O_RDONLY unless O_WRONLY/O_RDWR is named. */
export function openFlagsOf(names: ReadonlySet<string>): OpenFlags {
  const numericBits = [...names].filter((name) => /^(0x[0-9a-fA-F]+|\d+)$/.test(name)).reduce((bits, name) => bits | Number(name), 0);
  const accessMode = numericBits & 3;
  return {
    create: names.has('O_CREAT'),
    truncate: names.has('O_TRUNC'),
    direct: names.has('O_DIRECT') || (numericBits & 0o40000) !== 0,
    sync: names.has('O_SYNC'),
    dsync: names.has('O_DSYNC'),
    append: names.has('O_APPEND'),
    readOnly: !names.has('O_WRONLY') && !names.has('O_RDWR') && accessMode === 0,
  };
}

/** fallocate(2) mode flags -> our mode and KEEP_SIZE; null for unknown bits. */
export function fallocModeOf(names: ReadonlySet<string>): { mode: FallocMode; keepSize: boolean } | null {
  const known = new Set(['0', 'FALLOC_FL_KEEP_SIZE', 'FALLOC_FL_PUNCH_HOLE', 'FALLOC_FL_ZERO_RANGE', 'FALLOC_FL_COLLAPSE_RANGE', 'FALLOC_FL_INSERT_RANGE', 'FALLOC_FL_UNSHARE_RANGE', 'FALLOC_FL_NO_HIDE_STALE']);
  if ([...names].some((name) => !known.has(name))) return null;
  const keepSize = names.has('FALLOC_FL_KEEP_SIZE');
  let mode: FallocMode = 'allocate';
  if (names.has('FALLOC_FL_PUNCH_HOLE')) mode = 'punch';
  else if (names.has('FALLOC_FL_ZERO_RANGE')) mode = 'zero';
  else if (names.has('FALLOC_FL_COLLAPSE_RANGE')) mode = 'collapse';
  else if (names.has('FALLOC_FL_INSERT_RANGE')) mode = 'insert';
  else if (names.has('FALLOC_FL_UNSHARE_RANGE')) mode = 'unshare';
  return { mode, keepSize };
}

const WHENCE: Record<string, 'set' | 'cur' | 'end' | 'data' | 'hole'> = {
  SEEK_SET: 'set',
  SEEK_CUR: 'cur',
  SEEK_END: 'end',
  SEEK_DATA: 'data',
  SEEK_HOLE: 'hole',
  '0': 'set',
  '1': 'cur',
  '2': 'end',
  '3': 'data',
  '4': 'hole',
};

/** lseek(2) whence; null when unknown. */
export function whenceOf(text: string): 'set' | 'cur' | 'end' | 'data' | 'hole' | null {
  return WHENCE[text] ?? null;
}

/** Sum of `iov_len=N` in an iovec array argument (what a failed vectored call asked for). */
export function iovecBytes(text: string): number {
  let total = 0;
  for (const match of text.matchAll(/iov_len=(\d+)/g)) total += Number(match[1]);
  return total;
}

/** The value of `field=...` inside a struct argument (`{src_fd=4</x>, src_offset=0}`), or undefined. */
export function structField(text: string, field: string): string | undefined {
  const match = new RegExp(`(?:^|[{ ,])${field}=((?:[^,}<]|<[^>]*>)*)`).exec(text);
  return match?.[1]?.trim();
}
