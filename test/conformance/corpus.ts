/**
 * Where the conformance corpus is, and which cases it has. Shared by the
 * conformance tests (not a test itself).
 *
 * The corpus lives outside the repository (../shared/conformance next to the
 * checkout); IOMAPSIM_CONFORMANCE_DIR overrides it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const CORPUS_DIR = process.env.IOMAPSIM_CONFORMANCE_DIR ?? resolve(REPO_DIR, '../shared/conformance');
export const KNOWN_GAPS_PATH = join(REPO_DIR, 'test/conformance/known-gaps.json');

export interface CorpusCase {
  /** "01-seq-write-1536k-fsync" */
  name: string;
  /** The .xio file (for directory cases, its case.xio). */
  xioPath: string;
  /** Directory cases whose case.xio runs real programs (`!` lines): replayed from their strace captures. */
  needsStrace: boolean;
}

/** Every case of the corpus, in name order: `NN-name.xio` files and `NN-name/` directories. */
export function listCases(corpusDir = CORPUS_DIR): CorpusCase[] {
  const casesDir = join(corpusDir, 'cases');
  if (!corpusPresent(corpusDir)) {
    throw new Error(`conformance corpus not found at ${corpusDir} (expected cases/ and truth/): set IOMAPSIM_CONFORMANCE_DIR`);
  }
  const cases: CorpusCase[] = [];
  for (const entry of readdirSync(casesDir).sort()) {
    if (!/^\d\d-/.test(entry)) continue;
    const path = join(casesDir, entry);
    if (statSync(path).isDirectory()) {
      const xioPath = join(path, 'case.xio');
      const hasShellLines = readFileSync(xioPath, 'utf8')
        .split('\n')
        .some((line) => line.startsWith('!'));
      cases.push({ name: entry, xioPath, needsStrace: hasShellLines });
    } else if (entry.endsWith('.xio')) {
      cases.push({ name: entry.slice(0, -'.xio'.length), xioPath: path, needsStrace: false });
    }
  }
  return cases;
}

export function truthPath(fs: string, caseName: string, corpusDir = CORPUS_DIR): string {
  return join(corpusDir, 'truth', fs, `${caseName}.json`);
}

export function corpusPresent(corpusDir = CORPUS_DIR): boolean {
  return existsSync(join(corpusDir, 'cases')) && existsSync(join(corpusDir, 'truth'));
}

/** known-gaps.json: policy -> case name -> reason. */
export type KnownGaps = Record<string, Record<string, string>>;

export function readKnownGaps(path = KNOWN_GAPS_PATH): KnownGaps {
  return JSON.parse(readFileSync(path, 'utf8')) as KnownGaps;
}
