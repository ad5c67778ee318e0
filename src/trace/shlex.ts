/**
 * Shell-like word splitting with source positions, following Python's
 * `shlex.split` (POSIX mode, no comments): the `.xio` case runner splits
 * `FILE: ARGS` with it. Whitespace separates words; `'...'` is literal;
 * in `"..."` a backslash escapes only `"` and `\`; outside quotes a
 * backslash escapes any character; adjacent parts join into one word.
 */

/** One word and where it sits in the source text (0-based, `end` exclusive). */
export interface ShellWord {
  value: string;
  start: number;
  end: number;
}

/** A quoting error at a 0-based index of the text. */
export class ShellSyntaxError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
    this.name = 'ShellSyntaxError';
  }
}

const CHAR_SPACE = 32;
const CHAR_TAB = 9;
const CHAR_CR = 13;
const CHAR_LF = 10;
const CHAR_BACKSLASH = 92;
const CHAR_SINGLE_QUOTE = 39;
const CHAR_DOUBLE_QUOTE = 34;

function isShellSpace(code: number): boolean {
  return code === CHAR_SPACE || code === CHAR_TAB || code === CHAR_CR || code === CHAR_LF;
}

/**
 * Splits `text[from..]` into words. Throws ShellSyntaxError for an unclosed
 * quote or a trailing backslash. O(length of text).
 */
export function splitShellWords(text: string, from = 0): ShellWord[] {
  const words: ShellWord[] = [];
  let position = from;
  for (;;) {
    while (position < text.length && isShellSpace(text.charCodeAt(position))) position++;
    if (position >= text.length) return words;
    const scanned = scanShellWord(text, position, -1);
    words.push({ value: scanned.value, start: position, end: scanned.end });
    position = scanned.end;
  }
}

/**
 * The 0-based index in the source text of character `valueIndex` of `word`'s
 * value (for error columns inside a quoted argument). An index at or past the
 * end of the value maps to the word's end.
 */
export function shellWordSourceIndex(text: string, word: ShellWord, valueIndex: number): number {
  if (valueIndex <= 0 && word.value.length > 0) return scanShellWord(text, word.start, 0).targetIndex;
  if (valueIndex >= word.value.length) return word.end;
  return scanShellWord(text, word.start, valueIndex).targetIndex;
}

interface ScannedWord {
  value: string;
  end: number;
  /** Source index of value character `target`, or -1. */
  targetIndex: number;
}

/** Scans one word starting at a non-space character; records where value char `target` came from. */
function scanShellWord(text: string, start: number, target: number): ScannedWord {
  const parts: string[] = [];
  let valueLength = 0;
  let targetIndex = -1;
  let position = start;
  let quote = 0; // 0, or the open quote character
  let quoteStart = -1;
  let segmentStart = position;
  const flush = (end: number): void => {
    if (end <= segmentStart) return;
    if (target >= valueLength && target < valueLength + (end - segmentStart)) {
      targetIndex = segmentStart + (target - valueLength);
    }
    parts.push(text.slice(segmentStart, end));
    valueLength += end - segmentStart;
  };
  const takeEscaped = (at: number): void => {
    if (target === valueLength) targetIndex = at;
    parts.push(text[at]!);
    valueLength++;
  };
  while (position < text.length) {
    const code = text.charCodeAt(position);
    if (quote === 0 && isShellSpace(code)) break;
    if (quote === CHAR_SINGLE_QUOTE) {
      if (code === CHAR_SINGLE_QUOTE) {
        flush(position);
        quote = 0;
        segmentStart = position + 1;
      }
      position++;
      continue;
    }
    if (code === CHAR_BACKSLASH) {
      const next = position + 1 < text.length ? text.charCodeAt(position + 1) : -1;
      if (next < 0) throw new ShellSyntaxError('no character after the backslash', position);
      if (quote === 0 || next === CHAR_DOUBLE_QUOTE || next === CHAR_BACKSLASH) {
        flush(position);
        takeEscaped(position + 1);
        position += 2;
        segmentStart = position;
        continue;
      }
      position += 2; // inside "...", a backslash before another character is literal
      continue;
    }
    if (quote === 0 && (code === CHAR_SINGLE_QUOTE || code === CHAR_DOUBLE_QUOTE)) {
      flush(position);
      quote = code;
      quoteStart = position;
      segmentStart = position + 1;
    } else if (quote === CHAR_DOUBLE_QUOTE && code === CHAR_DOUBLE_QUOTE) {
      flush(position);
      quote = 0;
      segmentStart = position + 1;
    }
    position++;
  }
  if (quote !== 0) throw new ShellSyntaxError('no closing quotation', quoteStart);
  flush(position);
  return { value: parts.length === 1 ? parts[0]! : parts.join(''), end: position, targetIndex };
}
