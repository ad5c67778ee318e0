/**
 * Text output of millions of lines (filefrag tables of huge files) gathered
 * as UTF-8 bytes and handed on as strings of about a chunk each, always
 * ending at a line end. Numbers and ASCII pieces are written as bytes
 * directly: no string per number or per row, so the garbage collector has
 * almost nothing to do, and each chunk becomes one flat string at once.
 */

const NEWLINE = 10;
const SPACE = 32;
const ZERO = 48;

export class LineChunks {
  private buffer: Buffer;
  private length = 0;

  constructor(
    private readonly emit: (chunk: string) => void,
    private readonly chunkBytes = 1 << 20,
  ) {
    this.buffer = Buffer.allocUnsafe(chunkBytes + 4096);
  }

  /** Room for `bytes` more (the buffer grows for a line longer than the slack). */
  private ensure(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }

  /** Any text (UTF-8). */
  text(value: string): void {
    this.ensure(value.length * 3);
    this.length += this.buffer.write(value, this.length, 'utf8');
  }

  /** Text known to be ASCII (flag words, separators): copied a character at a time. */
  ascii(value: string): void {
    this.ensure(value.length);
    const buffer = this.buffer;
    let at = this.length;
    for (let index = 0; index < value.length; index++) buffer[at++] = value.charCodeAt(index);
    this.length = at;
  }

  /** `value` right-aligned in `width` characters, as String(value).padStart(width) writes it. */
  padded(value: number, width: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      this.ascii(String(value).padStart(width, ' '));
      return;
    }
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.ensure(Math.max(width, digits));
    const buffer = this.buffer;
    let at = this.length;
    for (let pad = digits; pad < width; pad++) buffer[at++] = SPACE;
    let end = at + digits;
    this.length = end;
    let rest = value;
    do {
      buffer[--end] = ZERO + (rest % 10);
      rest = Math.floor(rest / 10);
    } while (rest > 0);
  }

  /** Ends the line; hands on the chunk once it is big enough. */
  endLine(): void {
    this.ensure(1);
    this.buffer[this.length++] = NEWLINE;
    if (this.length >= this.chunkBytes) this.flush();
  }

  /** Hands on what is gathered (nothing when empty). */
  flush(): void {
    if (this.length === 0) return;
    const chunk = this.buffer.toString('utf8', 0, this.length);
    this.length = 0;
    this.emit(chunk);
  }
}
