/**
 * Parsing of the fault plan: `--fault KIND@WHERE[,key=value...]` specs, a
 * `--faults FILE` of them (one a line, `#` comments), `--fault-rate P` and
 * `--fault-kinds a,b`. Pure and strict: every mistake is a UsageError that
 * names the spec (or file:line), the 1-based column, what was expected and an
 * example. The syntax is documented in docs/faults.md.
 */
import { UsageError } from '../util/errors.js';
import { FAULT_KINDS, type FaultKind, type FaultOrigin, type FaultSpec } from './types.js';

/** Kinds `--fault-rate` draws from when `--fault-kinds` is absent (a crash is never drawn at random). */
export const DEFAULT_RANDOM_FAULT_KINDS: readonly FaultKind[] = Object.freeze(['enospc', 'eio', 'short-copy', 'short-dio']);

/** Most specs a `--faults FILE` may hold (a plan that large wants --fault-rate). */
export const FAULTS_FILE_SPECS_MAX = 100_000;

/** Longest spec accepted, in characters (a bound on the parse). */
const FAULT_SPEC_CHARS_MAX = 4096;

/** A parameter key of a spec. */
type ParamKey = 'op' | 'bytes' | 'block' | 'count' | 'rw';

/** How each key is written, for "expected" lists. */
const PARAM_SHAPES: Readonly<Record<ParamKey, string>> = {
  op: 'op=N',
  bytes: 'bytes=B',
  block: 'block=S[-E]',
  count: 'count=K',
  rw: 'rw=read|write',
};

const PARAM_KEYS = Object.keys(PARAM_SHAPES) as ParamKey[];

/** What each kind accepts: its triggers (exactly one is given), its other parameters, those required, and an example. */
interface KindRule {
  triggers: readonly ParamKey[];
  params: readonly ParamKey[];
  required: readonly ParamKey[];
  example: string;
}

const KIND_RULES: Readonly<Record<FaultKind, KindRule>> = {
  enospc: { triggers: ['op'], params: ['count'], required: [], example: 'enospc@op=120,count=3' },
  eio: { triggers: ['op', 'bytes', 'block'], params: ['count', 'rw'], required: [], example: 'eio@block=1000-1015,rw=write' },
  'short-copy': { triggers: ['op'], params: ['bytes'], required: ['bytes'], example: 'short-copy@op=300,bytes=1000' },
  'short-dio': { triggers: ['op'], params: ['bytes'], required: ['bytes'], example: 'short-dio@op=40,bytes=8k' },
  crash: { triggers: ['op', 'bytes'], params: [], required: [], example: 'crash@op=5000' },
};

/** One `key=value` item of a spec with the 1-based columns of its key and value. */
interface SpecItem {
  key: string;
  value: string;
  keyColumn: number;
  valueColumn: number;
}

/** Where a spec came from: `--fault` on the command line, or a line of a faults file. */
interface SpecSource {
  text: string;
  origin: FaultOrigin | undefined;
}

function kindList(kinds: readonly FaultKind[]): string {
  return kinds.join(', ');
}

/** The UsageError of a spec problem at `column`: `--fault 'SPEC': column C: ...` or `file:line:col: ...`. */
function specError(source: SpecSource, column: number, what: string, example: string): UsageError {
  const hint = `e.g. ${example}; the syntax is in docs/faults.md`;
  if (source.origin !== undefined) {
    return new UsageError(`${source.origin.file}:${source.origin.line}:${column}: ${what}`, hint);
  }
  return new UsageError(`--fault '${source.text.trim()}': column ${column}: ${what}`, `${hint.replace(/^e\.g\. /, 'e.g. --fault ')}`);
}

/** Shapes of the keys a kind accepts: "op=N, bytes=B". */
function acceptedShapes(rule: KindRule): string {
  return [...rule.triggers, ...rule.params.filter((key) => !rule.triggers.includes(key))].map((key) => PARAM_SHAPES[key]).join(', ');
}

/** Levenshtein distance of two short strings (keys are at most a few characters). O(a * b). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Splits `KIND@rest` and checks the kind. Returns the kind and the column where `rest` starts. */
function parseKind(source: SpecSource): { kind: FaultKind; restColumn: number } {
  const text = source.text;
  const at = text.indexOf('@');
  const head = at < 0 ? text : text.slice(0, at);
  const kindColumn = head.length - head.trimStart().length + 1;
  const name = head.trim().toLowerCase();
  if (name === '') {
    const what = at < 0 ? 'empty fault spec (expected KIND@WHERE)' : `missing fault kind before '@' (expected one of ${kindList(FAULT_KINDS)})`;
    return fail(source, kindColumn, what, KIND_RULES.enospc.example);
  }
  if (!(FAULT_KINDS as readonly string[]).includes(name)) {
    return fail(source, kindColumn, `unknown fault kind '${head.trim()}' (expected one of ${kindList(FAULT_KINDS)})`, KIND_RULES.enospc.example);
  }
  const kind = name as FaultKind;
  if (at < 0) {
    const rule = KIND_RULES[kind];
    const where = rule.triggers.map((key) => `${kind}@${PARAM_SHAPES[key]}`).join(' or ');
    return fail(source, text.trimEnd().length + 1, `missing '@WHERE' after '${kind}' (expected ${where})`, rule.example);
  }
  return { kind, restColumn: at + 2 };
}

function fail(source: SpecSource, column: number, what: string, example: string): never {
  throw specError(source, column, what, example);
}

/** Splits the part after '@' into key=value items with their columns. */
function splitItems(source: SpecSource, restColumn: number, rule: KindRule): SpecItem[] {
  const rest = source.text.slice(restColumn - 1);
  const items: SpecItem[] = [];
  let start = 0;
  for (const piece of rest.split(',')) {
    const column = restColumn + start;
    start += piece.length + 1;
    const lead = piece.length - piece.trimStart().length;
    const trimmed = piece.trim();
    if (trimmed === '') fail(source, column + lead, `empty parameter (expected key=value: ${acceptedShapes(rule)})`, rule.example);
    const equals = trimmed.indexOf('=');
    if (equals < 0) fail(source, column + lead, `'${trimmed}' is not key=value (expected ${acceptedShapes(rule)})`, rule.example);
    const keyText = trimmed.slice(0, equals);
    const valueText = trimmed.slice(equals + 1);
    const valueLead = valueText.length - valueText.trimStart().length;
    items.push({
      key: keyText.trim().toLowerCase(),
      value: valueText.trim(),
      keyColumn: column + lead,
      valueColumn: column + lead + equals + 1 + valueLead,
    });
  }
  return items;
}

/** Checks an item's key against the kind: known, applicable, not repeated. */
function checkKey(source: SpecSource, kind: FaultKind, item: SpecItem, seen: Map<string, number>): ParamKey {
  const rule = KIND_RULES[kind];
  const allowed = [...rule.triggers, ...rule.params];
  if (item.key === '') fail(source, item.keyColumn, `missing parameter name before '=' (expected ${acceptedShapes(rule)})`, rule.example);
  if (!(allowed as string[]).includes(item.key)) {
    if ((PARAM_KEYS as string[]).includes(item.key)) {
      fail(source, item.keyColumn, `parameter '${item.key}' does not apply to ${kind} (expected ${acceptedShapes(rule)})`, rule.example);
    }
    const close = allowed.filter((key) => editDistance(item.key, key) <= 2);
    const expected = close.length > 0 ? close.map((key) => PARAM_SHAPES[key]).join(' or ') : acceptedShapes(rule);
    fail(source, item.keyColumn, `unknown parameter '${item.key}' (expected ${expected})`, rule.example);
  }
  const earlier = seen.get(item.key);
  if (earlier !== undefined) fail(source, item.keyColumn, `duplicate parameter '${item.key}' (first given at column ${earlier}; expected each once)`, rule.example);
  seen.set(item.key, item.keyColumn);
  return item.key as ParamKey;
}

/** A whole number within [min, MAX_SAFE_INTEGER]. */
function parseWhole(source: SpecSource, item: SpecItem, min: number, example: string): number {
  const value = /^\d+$/.test(item.value) ? Number(item.value) : NaN;
  if (!Number.isSafeInteger(value)) {
    fail(source, item.valueColumn, `${item.key}: '${item.value}' is not a whole number (expected ${item.key}=${item.key === 'op' ? 'N' : 'K'} with an integer >= ${min})`, example);
  }
  if (value < min) {
    const why = item.key === 'op' ? 'ops are counted from 1' : `${item.key} must be at least ${min}`;
    fail(source, item.valueColumn, `${item.key}=${item.value}: ${why} (expected an integer >= ${min})`, example);
  }
  return value;
}

const SIZE_MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** bytes=B: a size with an optional k/m/g/t suffix (binary, as --device-size), at least `min`. */
function parseBytes(source: SpecSource, item: SpecItem, min: number, example: string): number {
  const match = /^(\d+)([kmgt]?)(?:i?b)?$/i.exec(item.value);
  const bytes = match === null ? NaN : Number(match[1]) * SIZE_MULTIPLIERS[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) {
    fail(source, item.valueColumn, `bytes: '${item.value}' is not a size (expected bytes=B, a whole number of bytes with an optional k, m or g suffix)`, example);
  }
  if (bytes < min) fail(source, item.valueColumn, `bytes=${item.value}: must be at least ${min} here (expected bytes=B with B >= ${min})`, example);
  return bytes;
}

/** block=S or block=S-E (both inclusive) into the spec's end-exclusive range. */
function parseBlocks(source: SpecSource, item: SpecItem, example: string): { startBlock: number; endBlock: number } {
  const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(item.value);
  const startBlock = match === null ? NaN : Number(match[1]);
  const lastBlock = match === null ? NaN : match[2] === undefined ? startBlock : Number(match[2]);
  if (!Number.isSafeInteger(startBlock) || !Number.isSafeInteger(lastBlock) || lastBlock + 1 > Number.MAX_SAFE_INTEGER) {
    fail(source, item.valueColumn, `block: '${item.value}' is not a block or block range (expected block=S or block=S-E, filesystem blocks, E included)`, example);
  }
  if (lastBlock < startBlock) fail(source, item.valueColumn, `block=${item.value}: the range ends before it starts (expected S-E with S <= E)`, example);
  return { startBlock, endBlock: lastBlock + 1 };
}

/** Applies one checked item to the spec being built. */
function applyItem(source: SpecSource, spec: FaultSpec, key: ParamKey, item: SpecItem): void {
  const example = KIND_RULES[spec.kind].example;
  if (key === 'op') spec.op = parseWhole(source, item, 1, example);
  else if (key === 'count') spec.count = parseWhole(source, item, 1, example);
  else if (key === 'block') spec.blocks = parseBlocks(source, item, example);
  else if (key === 'rw') {
    const direction = item.value.toLowerCase();
    if (direction !== 'read' && direction !== 'write') fail(source, item.valueColumn, `rw: '${item.value}' is not a direction (expected rw=read or rw=write)`, example);
    spec.direction = direction;
  } else if (KIND_RULES[spec.kind].triggers.includes('bytes')) {
    // crash@bytes=B, eio@bytes=B: once that many device bytes have been written.
    spec.afterDeviceBytes = parseBytes(source, item, 1, example);
  } else {
    // short-copy, short-dio: the bytes that get through (0: none).
    spec.bytes = parseBytes(source, item, 0, example);
  }
}

/** Exactly one trigger, and every required parameter. */
function checkComplete(source: SpecSource, kind: FaultKind, items: readonly SpecItem[], restColumn: number): void {
  const rule = KIND_RULES[kind];
  const triggers = items.filter((item) => (rule.triggers as string[]).includes(item.key));
  const endColumn = source.text.trimEnd().length + 1;
  if (triggers.length === 0) {
    const where = rule.triggers.map((key) => PARAM_SHAPES[key]).join(' or ');
    fail(source, items.length === 0 ? restColumn : items[0]!.keyColumn, `missing where the fault fires (expected ${where})`, rule.example);
  }
  if (triggers.length > 1) {
    fail(source, triggers[1]!.keyColumn, `two triggers, ${triggers[0]!.key} and ${triggers[1]!.key} (expected one of ${rule.triggers.map((key) => PARAM_SHAPES[key]).join(', ')})`, rule.example);
  }
  for (const key of rule.required) {
    if (!items.some((item) => item.key === key)) fail(source, endColumn, `${kind} needs ${PARAM_SHAPES[key]} (expected ${rule.example})`, rule.example);
  }
}

/**
 * Parses one fault spec, `KIND@WHERE[,key=value...]`:
 *   enospc@op=N[,count=K]; eio@op=N|bytes=B|block=S[-E][,count=K][,rw=read|write];
 *   short-copy@op=N,bytes=B; short-dio@op=N,bytes=B; crash@op=N|bytes=B.
 * Kinds and keys are case-insensitive; sizes take k/m/g/t suffixes; `block=S-E`
 * includes E (stored end-exclusive). `origin` (a faults file line) changes the
 * error prefix to `file:line:col:`. The result's `text` is the spec normalised
 * (blanks removed, kind and keys lower-case, items in the order written).
 * Throws UsageError. O(length of text).
 */
export function parseFaultSpec(text: string, origin?: FaultOrigin): FaultSpec {
  const source: SpecSource = { text, origin };
  if (text.length > FAULT_SPEC_CHARS_MAX) fail(source, FAULT_SPEC_CHARS_MAX + 1, `the spec is longer than ${FAULT_SPEC_CHARS_MAX} characters`, KIND_RULES.enospc.example);
  const { kind, restColumn } = parseKind(source);
  const rule = KIND_RULES[kind];
  if (source.text.slice(restColumn - 1).trim() === '') {
    const where = rule.triggers.map((key) => `${kind}@${PARAM_SHAPES[key]}`).join(' or ');
    fail(source, restColumn, `missing WHERE after '@' (expected ${where})`, rule.example);
  }
  const items = splitItems(source, restColumn, rule);
  const seen = new Map<string, number>();
  const keys = items.map((item) => checkKey(source, kind, item, seen));
  const spec: FaultSpec = { kind, text: `${kind}@${items.map((item) => `${item.key}=${item.value.replace(/\s+/g, '')}`).join(',')}` };
  items.forEach((item, index) => applyItem(source, spec, keys[index]!, item));
  checkComplete(source, kind, items, restColumn);
  if (origin !== undefined) spec.origin = { file: origin.file, line: origin.line };
  return spec;
}

/**
 * Parses a `--faults FILE`: one spec a line; `#` starts a comment (to the end
 * of the line); blank lines are skipped. Errors are `file:line:col: ...`, the
 * column counted in the line as written. At most FAULTS_FILE_SPECS_MAX specs.
 * `file` is the name as the user typed it. Throws UsageError. O(length of text).
 */
export function parseFaultsFile(text: string, file: string): FaultSpec[] {
  const specs: FaultSpec[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, rawLine] of lines.entries()) {
    const hash = rawLine.indexOf('#');
    const line = hash < 0 ? rawLine : rawLine.slice(0, hash);
    if (line.trim() === '') continue;
    if (specs.length === FAULTS_FILE_SPECS_MAX) {
      throw new UsageError(`${file}:${index + 1}: more than ${FAULTS_FILE_SPECS_MAX} fault specs`, 'use --fault-rate P for many random faults');
    }
    specs.push(parseFaultSpec(line, { file, line: index + 1 }));
  }
  return specs;
}

/**
 * Parses `--fault-rate P`: the probability per op of a random fault, a
 * decimal number in [0, 1] (`0.01`, `1e-3`). Throws UsageError.
 */
export function parseFaultRate(text: string): number {
  const trimmed = text.trim();
  const value = /^(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new UsageError(`--fault-rate: '${text}' is not a probability (expected a number from 0 to 1)`, 'e.g. --fault-rate 0.01 (one op in a hundred meets a fault)');
  }
  return value;
}

/**
 * Parses `--fault-kinds a,b`: comma-separated kinds for random injection, each
 * once; `crash` is refused (a crash is planned with --fault crash@op=N).
 * Throws UsageError.
 */
export function parseFaultKinds(text: string): FaultKind[] {
  const allowed = FAULT_KINDS.filter((kind) => kind !== 'crash');
  const example = `e.g. --fault-kinds ${DEFAULT_RANDOM_FAULT_KINDS.slice(0, 2).join(',')}`;
  const names = text.split(',').map((name) => name.trim().toLowerCase());
  if (names.every((name) => name === '')) throw new UsageError(`--fault-kinds needs at least one kind (expected some of ${kindList(allowed)})`, example);
  const kinds: FaultKind[] = [];
  for (const name of names) {
    if (name === '') throw new UsageError(`--fault-kinds: '${text}' has an empty entry (expected kinds separated by single commas)`, example);
    if (name === 'crash') throw new UsageError('--fault-kinds: crash cannot be injected at random (expected some of ' + `${kindList(allowed)})`, 'plan a crash with --fault crash@op=N or --fault crash@bytes=B');
    if (!(allowed as string[]).includes(name)) throw new UsageError(`--fault-kinds: unknown fault kind '${name}' (expected some of ${kindList(allowed)})`, example);
    if (kinds.includes(name as FaultKind)) throw new UsageError(`--fault-kinds names '${name}' twice (expected each kind once)`, example);
    kinds.push(name as FaultKind);
  }
  return kinds;
}
