import { ShellSyntaxError, shellWordSourceIndex, splitShellWords } from '../../src/trace/shlex.js';

const values = (text: string): string[] => splitShellWords(text).map((word) => word.value);

describe('splitShellWords (Python shlex.split rules)', () => {
  test('splits on blanks and unquotes single and double quotes', () => {
    expect(values(`-f -c "pwrite -S 0x51 0 4k" -c 'fsync'`)).toEqual(['-f', '-c', 'pwrite -S 0x51 0 4k', '-c', 'fsync']);
  });

  test('joins adjacent quoted and unquoted parts; empty quotes are an empty word', () => {
    expect(values(`a"b c"d '' e`)).toEqual(['ab cd', '', 'e']);
  });

  test('backslash: escapes anything outside quotes, only " and \\ inside double quotes, nothing in single quotes', () => {
    expect(values('a\\ b')).toEqual(['a b']);
    expect(values('"x\\"y" "p\\q" "r\\\\s"')).toEqual(['x"y', 'p\\q', 'r\\s']);
    expect(values("'a\\b'")).toEqual(['a\\b']);
  });

  test('records where each word starts and ends', () => {
    const words = splitShellWords('  ab  "c d"');
    expect(words).toEqual([
      { value: 'ab', start: 2, end: 4 },
      { value: 'c d', start: 6, end: 11 },
    ]);
  });

  test('an unclosed quote or a trailing backslash is a ShellSyntaxError at its index', () => {
    expect(() => splitShellWords('a "bc')).toThrow(ShellSyntaxError);
    try {
      splitShellWords('a "bc');
    } catch (error) {
      expect((error as ShellSyntaxError).index).toBe(2);
      expect((error as ShellSyntaxError).message).toBe('no closing quotation');
    }
    expect(() => splitShellWords('a\\')).toThrow('no character after the backslash');
  });
});

describe('shellWordSourceIndex', () => {
  test('maps a value index back to the source text through quotes and escapes', () => {
    const text = `x "a\\"bc" 'de'f`;
    const [, quoted, mixed] = splitShellWords(text);
    expect(quoted!.value).toBe('a"bc');
    expect(text[shellWordSourceIndex(text, quoted!, 0)]).toBe('a');
    expect(text[shellWordSourceIndex(text, quoted!, 1)]).toBe('"');
    expect(shellWordSourceIndex(text, quoted!, 1)).toBe(5);
    expect(text[shellWordSourceIndex(text, quoted!, 3)]).toBe('c');
    expect(mixed!.value).toBe('def');
    expect(shellWordSourceIndex(text, mixed!, 2)).toBe(text.length - 1);
    expect(shellWordSourceIndex(text, mixed!, 99)).toBe(text.length);
  });
});
