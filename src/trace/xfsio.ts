/**
 * One xfs_io 6.1 process of a `.xio` case (`FILE: ARGS` line): its command
 * line (open flags, `-c` commands) and the syscalls each command issues,
 * expanded into TraceOps. Parsing validates the whole line first; ops are
 * then generated lazily (a `pwrite 0 48m` is 12288 ops, never an array).
 *
 * Modelled on xfsprogs io/: `pwrite_f`/`write_buffer` (one pwrite() per
 * buffer, default buffer = fs block size 4096, fill = memset of the low
 * byte of the seed, default 0xcdcdcdcd), `pread_f`, `fallocate_f` and
 * friends, `mmap_f`/`mwrite_f`/`msync_f` (default mwrite seed 'X'), and
 * libfrog `cvtnum` for numbers.
 */
import type { SourcePos } from '../util/errors.js';
import { TraceError } from '../util/errors.js';
import { shellWordSourceIndex, type ShellWord } from './shlex.js';
import { defaultOpenFlags, type FallocMode, type OpenFlags, type TraceOp } from './types.js';

/** xfs_io's block size for `cvtnum` 'b' suffixes and the default pwrite/pread buffer (init_cvtnum on a 4 KiB fs). */
export const xfsIoBlockBytes = 4096;
/** xfs_io's sector size for `cvtnum` 's' suffixes. */
export const xfsIoSectorBytes = 512;
/** Fill byte of `pwrite` without -S (seed 0xcdcdcdcd, memset keeps the low byte). */
export const xfsIoPwriteFillDefault = 0xcd;
/** Fill byte of `mwrite` without -S (seed 'X'). */
export const xfsIoMwriteFillDefault = 0x58;

/** Where a `FILE: ARGS` line sits and what the parser has decided for it. */
export interface XfsIoLineContext {
  /** Display name of the trace file. */
  file: string;
  /** First physical line of the logical line. */
  line: number;
  /** The logical line (continuations joined). */
  text: string;
  /** FILE, relative to the trace root. */
  path: string;
  /** The xfs_io words of ARGS, with their positions in `text`. */
  args: ShellWord[];
  /** The fd number this process's open gets. */
  fd: number;
  /** Notional trace clock (sum of earlier @sleep), in µs. */
  timeUs: number;
}

/** A `-c` argument: the command text is `word.value.slice(valueOffset)`. */
interface CommandSource {
  word: ShellWord;
  valueOffset: number;
}

/** One word of an xfs_io command; `index` is its offset in the command text. */
interface CommandWord {
  value: string;
  index: number;
}

interface Mapping {
  offset: number;
  length: number;
  writable: boolean;
}

/** Per-process state that commands read and change while the line is parsed. */
interface ProcessState {
  fd: number;
  timeUs: number;
  mappings: Mapping[];
  /** Index of xfs_io's current mapping in `mappings`, or -1. */
  currentMapping: number;
}

/**
 * Parses one `FILE: ARGS` line (strictly: unknown options and commands are
 * TraceErrors with a column) and returns its ops: `open`, each `-c`
 * command's syscalls in order, `close`. O(line length) to parse; ops are
 * generated on iteration.
 */
export function parseXfsIoLine(context: XfsIoLineContext): Iterable<TraceOp> {
  const { flags, commands } = parseXfsIoArgv(context);
  const state: ProcessState = { fd: context.fd, timeUs: context.timeUs, mappings: [], currentMapping: -1 };
  const plans = commands.map((source) => parseCommand(context, source, state));
  const src: SourcePos = { file: context.file, line: context.line, column: 1 };
  return emitProcess(context, flags, plans, src);
}

function* emitProcess(
  context: XfsIoLineContext,
  flags: OpenFlags,
  plans: Iterable<TraceOp>[],
  src: SourcePos,
): Generator<TraceOp> {
  const { fd, timeUs, path } = context;
  yield { kind: 'open', src, timeUs, fd, path, flags };
  for (const plan of plans) yield* plan;
  yield { kind: 'close', src, timeUs, fd };
}

/** xfs_io's own options: flag letter -> what it sets (null: accepted, no effect on the I/O). */
const openFlagOptions: Record<string, keyof OpenFlags | null> = {
  f: 'create',
  t: 'truncate',
  d: 'direct',
  s: 'sync',
  D: 'dsync',
  a: 'append',
  r: 'readOnly',
  x: null, // expert mode
  F: null, // foreign fs (legacy)
  n: null, // O_NONBLOCK: no effect on regular files
};
/** Options taking a value that does not change the I/O: -m MODE (create mode), -p PROG (program name). */
const ignoredValueOptions = 'mp';
const openOptionList = '-f -d -s -t -r -a -D -x -F -n -m MODE -p PROG -c CMD';

/** getopt over xfs_io's argv (GNU permutation: options may follow -c). */
function parseXfsIoArgv(context: XfsIoLineContext): { flags: OpenFlags; commands: CommandSource[] } {
  const flags: OpenFlags = { ...defaultOpenFlags };
  const commands: CommandSource[] = [];
  const words = context.args;
  for (let index = 0; index < words.length; index++) {
    const word = words[index]!;
    const value = word.value;
    if (value.length < 2 || value[0] !== '-' || value === '--') {
      const hint = value === '--' ? 'drop the --' : 'the file name goes before the colon: FILE: -f -c "pwrite 0 4k"';
      failAt(context, word.start, `unexpected xfs_io argument '${value}' (expected options: ${openOptionList})`, hint);
    }
    for (let charIndex = 1; charIndex < value.length; charIndex++) {
      const letter = value[charIndex]!;
      if (letter === 'c' || ignoredValueOptions.includes(letter)) {
        const attached = charIndex + 1 < value.length;
        const valueWord = attached ? word : words[++index];
        if (valueWord === undefined) {
          failAt(context, word.end, `xfs_io option -${letter} needs a value`, 'write -c "COMMAND ARGS"');
        }
        if (letter === 'c') commands.push({ word: valueWord, valueOffset: attached ? charIndex + 1 : 0 });
        break;
      }
      const flagName = openFlagOptions[letter];
      if (flagName === undefined) {
        const column = shellWordSourceIndex(context.text, word, charIndex);
        failAt(context, column, `unknown xfs_io option '-${letter}' (expected one of ${openOptionList})`);
      }
      if (flagName !== null) flags[flagName] = true;
    }
  }
  return { flags, commands };
}

function failAt(context: XfsIoLineContext, index: number, what: string, hint?: string): never {
  throw new TraceError({ file: context.file, line: context.line, column: index + 1 }, what, hint);
}

/** Splits a command like xfs_io's breakline(): blanks separate, "..." and '...' group. */
function splitCommandWords(text: string): CommandWord[] {
  const words: CommandWord[] = [];
  let position = 0;
  while (position < text.length) {
    while (position < text.length && (text[position] === ' ' || text[position] === '\t')) position++;
    if (position >= text.length) break;
    const start = position;
    let value = '';
    while (position < text.length && text[position] !== ' ' && text[position] !== '\t') {
      const quote = text[position];
      if (quote === '"' || quote === "'") {
        const close = text.indexOf(quote, position + 1);
        const end = close < 0 ? text.length : close;
        value += text.slice(position + 1, end);
        position = close < 0 ? end : end + 1;
      } else {
        value += quote;
        position++;
      }
    }
    words.push({ value, index: start });
  }
  return words;
}

/** The parsed words of one command plus error helpers that know their columns. */
class CommandCursor {
  readonly words: CommandWord[];
  readonly name: string;
  readonly src: SourcePos;

  constructor(
    private readonly context: XfsIoLineContext,
    private readonly source: CommandSource,
  ) {
    this.words = splitCommandWords(source.word.value.slice(source.valueOffset));
    this.name = this.words.length > 0 ? this.words[0]!.value : '';
    this.src = { file: context.file, line: context.line, column: this.column(0) };
  }

  /** 1-based column in the logical line of character `index` of the command text (best effort). */
  column(index: number): number {
    const { word, valueOffset } = this.source;
    return shellWordSourceIndex(this.context.text, word, valueOffset + index) + 1;
  }

  fail(index: number, what: string, hint?: string): never {
    throw new TraceError({ file: this.context.file, line: this.context.line, column: this.column(index) }, what, hint);
  }

  /**
   * getopt(3) over the words after the command name. `optionString` is
   * getopt's ("b:S:D"); the result maps a letter to its value (or '' for
   * a flag). GNU permutation: options may follow operands; `--` ends them.
   */
  options(optionString: string, usage: string): { options: Map<string, CommandWord>; operands: CommandWord[] } {
    const options = new Map<string, CommandWord>();
    const operands: CommandWord[] = [];
    for (let index = 1; index < this.words.length; index++) {
      const word = this.words[index]!;
      if (word.value === '--') {
        operands.push(...this.words.slice(index + 1));
        break;
      }
      if (word.value.length < 2 || word.value[0] !== '-') {
        operands.push(word);
        continue;
      }
      index = this.optionCluster(word, index, optionString, usage, options);
    }
    return { options, operands };
  }

  private optionCluster(
    word: CommandWord,
    index: number,
    optionString: string,
    usage: string,
    options: Map<string, CommandWord>,
  ): number {
    for (let charIndex = 1; charIndex < word.value.length; charIndex++) {
      const letter = word.value[charIndex]!;
      const at = letter === ':' ? -1 : optionString.indexOf(letter);
      if (at < 0) {
        this.fail(word.index + charIndex, `unknown or unsupported ${this.name} option '-${letter}' (expected ${usage})`);
      }
      if (optionString[at + 1] !== ':') {
        options.set(letter, { value: '', index: word.index + charIndex });
        continue;
      }
      if (charIndex + 1 < word.value.length) {
        options.set(letter, { value: word.value.slice(charIndex + 1), index: word.index + charIndex + 1 });
        return index;
      }
      const next = this.words[index + 1];
      if (next === undefined) this.fail(word.index + charIndex, `${this.name} option -${letter} needs a value (expected ${usage})`);
      options.set(letter, next);
      return index + 1;
    }
    return index;
  }

  /** Exactly `count` operands, else a usage error. */
  expectOperands(operands: CommandWord[], count: number, usage: string): void {
    if (operands.length === count) return;
    const at = operands.length > count ? operands[count]!.index : 0;
    const what = count === 0 ? 'takes no arguments' : `takes ${count === 1 ? '1 argument' : `${count} arguments`}`;
    this.fail(at, `${this.name} ${what}, got ${operands.length} (expected ${usage})`);
  }

  /** A size/offset operand, in bytes (xfs_io cvtnum rules). */
  bytes(word: CommandWord, what: string): number {
    const value = parseXfsIoNumber(word.value);
    if (value === null) {
      this.fail(
        word.index,
        `bad ${what} '${word.value}' for ${this.name} (expected a byte count: 4096, 0x1000, 4k, 1m, 8b (blocks), 8s (sectors))`,
      );
    }
    return value;
  }

  /** A -S seed: strtoul base 0; xfs_io memsets its low byte. */
  seedByte(word: CommandWord): number {
    const value = parseCInteger(word.value);
    if (value === null) this.fail(word.index, `bad seed '${word.value}' for ${this.name} (expected a byte like 0x51)`);
    return value % 256;
  }
}

/**
 * xfs_io's cvtnum: a C integer (strtoll base 0: decimal, 0x hex, leading-0
 * octal) with an optional one-letter suffix b (4096), s (512), k, m, g, t,
 * p, e (powers of 1024), any case. Returns null for anything else,
 * negative values, or values beyond 2^53.
 */
export function parseXfsIoNumber(text: string): number | null {
  if (text.length === 0) return null;
  const last = text.charCodeAt(text.length - 1) | 0x20; // ASCII lower case
  const multiplier = suffixMultiplier(last);
  if (multiplier === 1) return parseCInteger(text);
  const base = parseCInteger(text.slice(0, -1));
  if (base === null) return null;
  const value = base * multiplier;
  return Number.isSafeInteger(value) ? value : null;
}

function suffixMultiplier(lowerCode: number): number {
  switch (String.fromCharCode(lowerCode)) {
    case 'b':
      return xfsIoBlockBytes;
    case 's':
      return xfsIoSectorBytes;
    case 'k':
      return 1024;
    case 'm':
      return 1024 ** 2;
    case 'g':
      return 1024 ** 3;
    case 't':
      return 1024 ** 4;
    case 'p':
      return 1024 ** 5;
    case 'e':
      return 1024 ** 6;
    default:
      return 1;
  }
}

/** strtoull base 0 over the whole string (non-negative, safe integers only); null when malformed. */
function parseCInteger(text: string): number | null {
  let radix = 10;
  let start = 0;
  if (text.length > 2 && text[0] === '0' && (text[1] === 'x' || text[1] === 'X')) {
    radix = 16;
    start = 2;
  } else if (text.length > 1 && text[0] === '0') {
    radix = 8;
    start = 1;
  }
  if (start >= text.length) return null;
  let value = 0;
  for (let index = start; index < text.length; index++) {
    const digit = digitValue(text.charCodeAt(index));
    if (digit < 0 || digit >= radix) return null;
    value = value * radix + digit;
  }
  return Number.isSafeInteger(value) ? value : null;
}

function digitValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

type CommandParser = (cursor: CommandCursor, state: ProcessState) => Iterable<TraceOp>;

function parseCommand(context: XfsIoLineContext, source: CommandSource, state: ProcessState): Iterable<TraceOp> {
  const cursor: CommandCursor = new CommandCursor(context, source);
  if (cursor.words.length === 0) cursor.fail(0, `empty xfs_io command (expected one of ${commandNameList})`);
  const parser = commandParsers.get(cursor.name);
  if (parser === undefined) {
    cursor.fail(
      0,
      `unknown xfs_io command '${cursor.name}' (expected one of ${commandNameList})`,
      'the .xio reader knows the xfs_io commands that change file data or layout',
    );
  }
  return parser(cursor, state);
}

/** Ops in xfs_io buffer-sized pieces (write_buffer / read_buffer: one syscall per buffer). */
function* pieces(
  kind: 'write' | 'read',
  base: { src: SourcePos; timeUs: number; fd: number },
  offsetBytes: number,
  lengthBytes: number,
  bufferBytes: number,
  fill: number,
  dsync: boolean,
): Generator<TraceOp> {
  const endBytes = offsetBytes + lengthBytes;
  for (let position = offsetBytes; position < endBytes; position += bufferBytes) {
    const length = Math.min(bufferBytes, endBytes - position);
    if (kind === 'read') {
      yield { kind, src: base.src, timeUs: base.timeUs, fd: base.fd, offset: position, length };
    } else if (dsync) {
      yield { kind, src: base.src, timeUs: base.timeUs, fd: base.fd, offset: position, length, fill, dsync };
    } else {
      yield { kind, src: base.src, timeUs: base.timeUs, fd: base.fd, offset: position, length, fill };
    }
  }
}

const pwriteUsage = 'pwrite [-b bsize] [-S seed] [-D] [-w] [-W] [-q] off len';
const parsePwrite: CommandParser = (cursor, state) => {
  const { options, operands } = cursor.options('b:S:DwWqCF', pwriteUsage);
  cursor.expectOperands(operands, 2, pwriteUsage);
  const offset = cursor.bytes(operands[0]!, 'offset');
  const length = cursor.bytes(operands[1]!, 'length');
  const bufferBytes = bufferSize(cursor, options.get('b'));
  const seed = options.get('S');
  const fill = seed === undefined ? xfsIoPwriteFillDefault : cursor.seedByte(seed);
  const base = { src: cursor.src, timeUs: state.timeUs, fd: state.fd };
  const writes = pieces('write', base, offset, length, bufferBytes, fill, options.has('D'));
  const syncs: TraceOp[] = [];
  // pwrite_f calls fsync (-W) before fdatasync (-w) when both are given.
  if (options.has('W')) syncs.push({ kind: 'fsync', ...base, dataOnly: false });
  if (options.has('w')) syncs.push({ kind: 'fsync', ...base, dataOnly: true });
  return syncs.length === 0 ? writes : chain(writes, syncs);
};

const preadUsage = 'pread [-b bsize] [-q] [-v] off len';
const parsePread: CommandParser = (cursor, state) => {
  const { options, operands } = cursor.options('b:qvCF', preadUsage);
  cursor.expectOperands(operands, 2, preadUsage);
  const offset = cursor.bytes(operands[0]!, 'offset');
  const length = cursor.bytes(operands[1]!, 'length');
  const bufferBytes = bufferSize(cursor, options.get('b'));
  return pieces('read', { src: cursor.src, timeUs: state.timeUs, fd: state.fd }, offset, length, bufferBytes, 0, false);
};

function bufferSize(cursor: CommandCursor, word: CommandWord | undefined): number {
  if (word === undefined) return xfsIoBlockBytes;
  const bytes = cursor.bytes(word, 'buffer size');
  if (bytes === 0) cursor.fail(word.index, `${cursor.name} buffer size must be at least 1 byte (expected -b 4k or similar)`);
  return bytes;
}

function* chain(first: Iterable<TraceOp>, second: Iterable<TraceOp>): Generator<TraceOp> {
  yield* first;
  yield* second;
}

/** fallocate-family commands: fixed mode, or falloc's -c/-i/-p/-u mode letters; -k = KEEP_SIZE. */
function fallocateParser(fixedMode: FallocMode | null, optionString: string, usage: string): CommandParser {
  return (cursor, state) => {
    const { options, operands } = cursor.options(optionString, usage);
    cursor.expectOperands(operands, 2, usage);
    let mode: FallocMode = fixedMode ?? 'allocate';
    const modeLetters: Record<string, FallocMode> = { c: 'collapse', i: 'insert', p: 'punch', u: 'unshare' };
    for (const [letter, modeName] of Object.entries(modeLetters)) {
      if (!options.has(letter)) continue;
      if (mode !== 'allocate') cursor.fail(options.get(letter)!.index, `falloc: conflicting modes (expected one of -c, -i, -p, -u)`);
      mode = modeName;
    }
    const offset = cursor.bytes(operands[0]!, 'offset');
    const length = cursor.bytes(operands[1]!, 'length');
    // The kernel accepts PUNCH_HOLE only with KEEP_SIZE; the TraceOp contract makes it implied.
    const keepSize = mode === 'punch' || options.has('k');
    return [{ kind: 'fallocate', src: cursor.src, timeUs: state.timeUs, fd: state.fd, mode, keepSize, offset, length }];
  };
}

const parseTruncate: CommandParser = (cursor, state) => {
  const usage = 'truncate off';
  const { operands } = cursor.options('', usage);
  cursor.expectOperands(operands, 1, usage);
  const size = cursor.bytes(operands[0]!, 'size');
  return [{ kind: 'truncate', src: cursor.src, timeUs: state.timeUs, fd: state.fd, size }];
};

function noArgumentParser(makeOp: (cursor: CommandCursor, state: ProcessState) => TraceOp): CommandParser {
  return (cursor, state) => {
    const { operands } = cursor.options('', cursor.name);
    cursor.expectOperands(operands, 0, cursor.name);
    return [makeOp(cursor, state)];
  };
}

const parseFiemap: CommandParser = (cursor, state) => {
  const usage = 'fiemap [-alv] [-n nx] [off [len]]';
  const { operands } = cursor.options('aln:v', usage);
  if (operands.length > 2) cursor.expectOperands(operands, 2, usage);
  for (const operand of operands) cursor.bytes(operand, 'range');
  return [{ kind: 'fiemap', src: cursor.src, timeUs: state.timeUs, fd: state.fd }];
};

const parseReflink: CommandParser = (cursor, state) => {
  const usage = 'reflink [-C] [-q] src_file [src_off dst_off len]';
  const { operands } = cursor.options('Cq', usage);
  if (operands.length !== 1 && operands.length !== 4) cursor.expectOperands(operands, 4, usage);
  const base = { kind: 'reflink' as const, src: cursor.src, timeUs: state.timeUs, fd: state.fd, srcPath: operands[0]!.value };
  if (operands.length === 1) return [{ ...base, srcOffset: 0, dstOffset: 0, length: 0 }];
  const srcOffset = cursor.bytes(operands[1]!, 'source offset');
  const dstOffset = cursor.bytes(operands[2]!, 'destination offset');
  const length = cursor.bytes(operands[3]!, 'length');
  return [{ ...base, srcOffset, dstOffset, length }];
};

const parseMmap: CommandParser = (cursor, state) => {
  const usage = 'mmap [N] | [-rwx] off len';
  const { options, operands } = cursor.options('rwx', usage);
  if (operands.length === 0) return []; // lists the mappings
  if (operands.length === 1) {
    const index = parseCInteger(operands[0]!.value) ?? -1;
    if (index < 0 || index >= state.mappings.length) {
      cursor.fail(operands[0]!.index, `mmap: no mapping number '${operands[0]!.value}' (expected 0..${state.mappings.length - 1})`);
    }
    state.currentMapping = index;
    return [];
  }
  cursor.expectOperands(operands, 2, usage);
  const offset = cursor.bytes(operands[0]!, 'offset');
  const length = cursor.bytes(operands[1]!, 'length');
  // mmap_f maps PROT_READ|WRITE|EXEC when no protection letter is given.
  const writable = options.has('w') || (!options.has('r') && !options.has('x'));
  state.mappings.push({ offset, length, writable });
  state.currentMapping = state.mappings.length - 1;
  return [];
};

/** The current mapping and the range an m* command names (default: the whole mapping), checked like check_mapping_range. */
function mappedRange(cursor: CommandCursor, state: ProcessState, operands: CommandWord[], usage: string) {
  const mapping = state.mappings[state.currentMapping];
  if (mapping === undefined) {
    cursor.fail(0, `${cursor.name} without a mapping (expected an 'mmap -rw off len' command before it)`);
  }
  if (operands.length === 0) return { mapping, offset: mapping.offset, length: mapping.length };
  cursor.expectOperands(operands, 2, usage);
  const offset = cursor.bytes(operands[0]!, 'offset');
  const length = cursor.bytes(operands[1]!, 'length');
  if (offset < mapping.offset || offset + length > mapping.offset + mapping.length) {
    const range = `[${mapping.offset}, ${mapping.offset + mapping.length})`;
    cursor.fail(operands[0]!.index, `${cursor.name} range ${offset}+${length} is outside the mapping ${range} (offsets are file offsets)`);
  }
  return { mapping, offset, length };
}

const parseMwrite: CommandParser = (cursor, state) => {
  const usage = 'mwrite [-r] [-S seed] [off len]';
  const { options, operands } = cursor.options('rS:', usage);
  const { mapping, offset, length } = mappedRange(cursor, state, operands, usage);
  if (!mapping.writable) cursor.fail(0, `mwrite into a read-only mapping (expected 'mmap -rw ...' before it)`);
  const seed = options.get('S');
  const fill = seed === undefined ? xfsIoMwriteFillDefault : cursor.seedByte(seed);
  if (length === 0) return [];
  return [{ kind: 'mmapWrite', src: cursor.src, timeUs: state.timeUs, fd: state.fd, offset, length, fill }];
};

const parseMsync: CommandParser = (cursor, state) => {
  const usage = 'msync [-a] [-i] [-s] [off len]';
  const { options, operands } = cursor.options('ais', usage);
  const { offset, length } = mappedRange(cursor, state, operands, usage);
  // Only MS_SYNC writes back and waits; MS_ASYNC is a no-op since Linux 2.6.19.
  if (!options.has('s') || length === 0) return [];
  return [{ kind: 'syncRange', src: cursor.src, timeUs: state.timeUs, fd: state.fd, offset, length }];
};

const parseMunmap: CommandParser = (cursor, state) => {
  const { operands } = cursor.options('', 'munmap');
  cursor.expectOperands(operands, 0, 'munmap');
  if (state.currentMapping < 0) cursor.fail(0, `munmap without a mapping (expected an 'mmap' command before it)`);
  // munmap_f removes the current entry; the next one (or the new last one) becomes current.
  state.mappings.splice(state.currentMapping, 1);
  state.currentMapping = Math.min(state.currentMapping, state.mappings.length - 1);
  return [];
};

const commandParsers = new Map<string, CommandParser>([
  ['pwrite', parsePwrite],
  ['pread', parsePread],
  ['falloc', fallocateParser(null, 'cikpu', 'falloc [-c|-i|-p|-u] [-k] off len')],
  ['fpunch', fallocateParser('punch', '', 'fpunch off len')],
  ['fzero', fallocateParser('zero', 'k', 'fzero [-k] off len')],
  ['fcollapse', fallocateParser('collapse', '', 'fcollapse off len')],
  ['finsert', fallocateParser('insert', '', 'finsert off len')],
  ['funshare', fallocateParser('unshare', '', 'funshare off len')],
  ['truncate', parseTruncate],
  ['fsync', noArgumentParser((c, s) => ({ kind: 'fsync', src: c.src, timeUs: s.timeUs, fd: s.fd, dataOnly: false }))],
  ['fdatasync', noArgumentParser((c, s) => ({ kind: 'fsync', src: c.src, timeUs: s.timeUs, fd: s.fd, dataOnly: true }))],
  ['sync', noArgumentParser((c, s) => ({ kind: 'sync', src: c.src, timeUs: s.timeUs, scope: 'all' }))],
  ['syncfs', noArgumentParser((c, s) => ({ kind: 'sync', src: c.src, timeUs: s.timeUs, scope: 'fs' }))],
  ['fiemap', parseFiemap],
  ['reflink', parseReflink],
  ['mmap', parseMmap],
  ['mwrite', parseMwrite],
  ['msync', parseMsync],
  ['munmap', parseMunmap],
]);

/** Every supported command, for "expected one of" messages. */
const commandNameList = [...commandParsers.keys()].join(', ');

// xfs_io's short aliases (cmdinfo altname) for the commands above.
for (const [alias, name] of [
  ['w', 'pwrite'],
  ['r', 'pread'],
  ['s', 'fsync'],
  ['ds', 'fdatasync'],
  ['mm', 'mmap'],
  ['mw', 'mwrite'],
  ['ms', 'msync'],
  ['mu', 'munmap'],
] as const) {
  commandParsers.set(alias, commandParsers.get(name)!);
}

/** Names of the xfs_io commands the reader understands (aliases excluded). */
export function xfsIoCommandNames(): string[] {
  return commandNameList.split(', ');
}
