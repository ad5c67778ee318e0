/**
 * The strace trace format: `strace -f -tt -T -y [-o FILE]` logs of real
 * programs, turned into the TraceOp stream (docs/trace-formats.md, "strace").
 *
 * Pure and strict: no replay options (the driver strips --root and ignores
 * fds opened outside it); a line that cannot be parsed is a TraceError
 * `file:line:col: what (expected ...)`. The pieces:
 *   strace/syntax.ts  one line -> StraceRecord (`parseStraceLine`, stateless)
 *   strace/args.ts    argument decoders and flag vocabularies
 *   strace/fdstate.ts fd tables, open file descriptions, mappings
 *   strace/calls.ts   one handler per syscall
 *   strace/decoder.ts records -> ops (resumed calls, clock, pids, paths)
 */
import { readTraceLines, type TraceLineParser, type TraceReadOptions } from './skipbad.js';
import { StraceDecoder } from './strace/decoder.js';
import type { TraceOp, TraceSource } from './types.js';

export { straceFirstHandle, StraceDecoder } from './strace/decoder.js';
export { parseStraceLine, type StraceCall, type StraceRecord, type StraceResult } from './strace/syntax.js';

/** One typical line, shown when format detection fails. */
export const straceExampleLine = '1234  15:06:20.050535 pwrite64(3</mnt/data/f>, "..."..., 4096, 0) = 4096 <0.000012>';

/** The decoder as a line parser for readTraceLines (strict, or skipping bad lines with --skip-bad). */
class StraceLineParser implements TraceLineParser {
  private readonly decoder: StraceDecoder;

  constructor(file: string) {
    this.decoder = new StraceDecoder(file);
  }

  parseLine(text: string, line: number, out: TraceOp[]): void {
    for (const op of this.decoder.feedLine(text, line)) out.push(op);
  }

  finish(out: TraceOp[]): void {
    for (const op of this.decoder.finish()) out.push(op);
  }
}

/**
 * Streams the ops of the strace log at `path` (gunzipped when it ends in
 * `.gz`). Each op's `fd` is a handle id of the reader (one per open file
 * description, from 3), not the traced fd; ops carry no `pid`.
 *
 * Complexity: O(bytes); memory O(chunk + longest line + open fds of the traced processes).
 * @param displayName the name used in `src.file` and errors (default `path`).
 * @param options `badLines`: skip malformed lines into that log instead of failing.
 * @throws TraceError (when iterated) for a malformed line or an unreadable file.
 */
export function readStrace(path: string, displayName: string = path, options: TraceReadOptions = {}): TraceSource {
  return readTraceLines(path, displayName, new StraceLineParser(displayName), options);
}

/** True when `lines` (the first significant lines of a file) look like strace output, for format detection. */
export function sniffStrace(lines: readonly string[]): boolean {
  if (lines.length === 0) return false;
  const lineShape =
    /^(?:\[pid +\d+\] |\d+ +)?(?:(?:\d\d:\d\d:\d\d|\d+)(?:\.\d+)? )?(?:[a-z_][a-z0-9_]*\(.*(?:\) += .*|<unfinished \.\.\.>)|<\.\.\. [a-z_0-9]+ resumed>.*|\+\+\+ .* \+\+\+|--- .* ---)$/;
  const sample = lines.slice(0, 8).filter((line) => !line.startsWith('strace: '));
  return sample.length > 0 && sample.every((line) => lineShape.test(line.trimEnd()));
}
