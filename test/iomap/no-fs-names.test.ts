/**
 * src/iomap is the filesystem-independent core (ARCHITECTURE.md, STYLE.md
 * §1.1: "the core never names a filesystem"): no file under it may mention
 * ext4, xfs or btrfs, in code or comments, in any letter case.
 *
 * KNOWN_GAPS lists mentions that are known and waiting for a fix in src/.
 * Each entry must still occur (a fixed gap must be removed from the list),
 * and nothing outside the list may occur.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const IOMAP_DIR = fileURLToPath(new URL('../../src/iomap', import.meta.url));
const FS_NAME = /ext4|xfs|btrfs/gi;

/** file (relative to src/iomap) and the exact line text that mentions a filesystem. */
const KNOWN_GAPS: { file: string; line: string }[] = [];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

interface Mention {
  file: string;
  line: string;
}

function mentions(): Mention[] {
  const found: Mention[] = [];
  for (const path of tsFiles(IOMAP_DIR)) {
    const file = relative(IOMAP_DIR, path);
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.match(FS_NAME)) found.push({ file, line });
    }
  }
  return found;
}

describe('src/iomap names no filesystem', () => {
  test('the scan sees the core files', () => {
    const files = tsFiles(IOMAP_DIR).map((path) => relative(IOMAP_DIR, path));
    expect(files).toEqual(expect.arrayContaining(['iter.ts', 'buffered.ts', 'direct.ts', 'writeback.ts', 'fiemap.ts', 'seek.ts']));
  });

  test('the pattern matches every spelling the rule forbids', () => {
    for (const text of ['ext4_iomap_begin', 'XFS', 'Btrfs', 'xfs_io']) expect(text.match(FS_NAME)).not.toBeNull();
  });

  test('no mention outside the known gaps', () => {
    const unexpected = mentions().filter((mention) => !KNOWN_GAPS.some((gap) => gap.file === mention.file && gap.line === mention.line));
    expect(unexpected).toEqual([]);
  });

  test('every known gap still exists (remove fixed ones from KNOWN_GAPS)', () => {
    const found = mentions();
    const stale = KNOWN_GAPS.filter((gap) => !found.some((mention) => mention.file === gap.file && mention.line === gap.line));
    expect(stale).toEqual([]);
  });
});
