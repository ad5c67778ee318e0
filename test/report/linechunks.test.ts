/**
 * LineChunks: what it hands on, joined, is exactly the text written (numbers
 * as String(n).padStart(width) would write them, UTF-8 text intact), and
 * every chunk but the last ends at a line end.
 */
import { LineChunks } from '../../src/report/linechunks.js';
import { Prng } from '../../src/util/prng.js';

describe('LineChunks', () => {
  test('numbers, ASCII and UTF-8 text come out as written, in line-ended chunks', () => {
    const chunks: string[] = [];
    const out = new LineChunks((chunk) => chunks.push(chunk), 4096);
    const prng = new Prng(3);
    let expected = '';
    for (let line = 0; line < 5000; line++) {
      const value = prng.nextInt(4) === 0 ? prng.nextInt(10) : prng.nextInt(2 ** 30) * (prng.nextInt(2) === 0 ? 1 : 8191);
      const width = prng.nextInt(12);
      out.padded(value, width);
      expected += String(value).padStart(width, ' ');
      out.ascii(': ');
      expected += ': ';
      if (line % 7 === 0) {
        out.text('fïlé ✓ /mnt/ß');
        expected += 'fïlé ✓ /mnt/ß';
      }
      if (line % 11 === 0) {
        // Not a non-negative safe integer: written as String() would.
        out.padded(-42.5, 8);
        expected += String(-42.5).padStart(8, ' ');
      }
      out.endLine();
      expected += '\n';
    }
    out.text('a long last line '.repeat(1000));
    expected += 'a long last line '.repeat(1000);
    out.flush();
    expect(chunks.join('')).toBe(expected);
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.endsWith('\n')).toBe(true);
  });

  test('flush with nothing gathered hands on nothing', () => {
    const chunks: string[] = [];
    new LineChunks((chunk) => chunks.push(chunk)).flush();
    expect(chunks).toEqual([]);
  });
});
