/**
 * Decimal digits without a regex or a substring: the hot path of the
 * line-oriented block trace readers.
 */

/** The value of text[start, end) when it is 1 to 16 decimal digits and a safe integer; else null. O(end - start). */
export function parseDecimalDigits(text: string, start: number, end: number): number | null {
  if (end <= start || end - start > 16) return null;
  let value = 0;
  for (let index = start; index < end; index++) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return null;
    value = value * 10 + digit;
  }
  return Number.isSafeInteger(value) ? value : null;
}

/** parseDecimalDigits over bytes[start, end) (ASCII digits): the value, or -1 where that gives null. */
export function parseDecimalBytes(bytes: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 16) return -1;
  let value = 0;
  for (let index = start; index < end; index++) {
    const digit = bytes[index]! - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return Number.isSafeInteger(value) ? value : -1;
}
