/**
 * JSON renderers (docs/json-output.md): the same result model as the text
 * renderers, serialised with a fixed key order, 2-space indent and a trailing
 * newline, so two deterministic runs produce byte-identical output.
 */
import { assert } from '../util/assert.js';
import type { Comparison } from './compare.js';
import type { ImageSummaryView, VerifyView } from './layout.js';
import type {
  CrashRecord,
  DeviceStats,
  ExtentFlagName,
  ExtentRecord,
  FileLayout,
  OpErrorRecord,
  RecoveryEvent,
  RecoveryReport,
  ReplayResult,
  ReplayStats,
  SnapshotRecord,
} from './model.js';
import { RESULT_SCHEMA_VERSION } from './model.js';
import { LineChunks } from './linechunks.js';

type JsonObject = Record<string, unknown>;

const RESULT_KEYS = [
  'schemaVersion', 'tool', 'trace', 'policy', 'blockSize', 'deviceSize', 'seed', 'image',
  'files', 'filesAfterRemount', 'dirs', 'snapshots', 'errors', 'tracedFailures', 'stats', 'deviceStats', 'crashed', 'recovery',
] as const;
const CRASH_KEYS = ['fault', 'opsApplied', 'checkpointGeneration', 'checkpointOps'] as const;
const RECOVERY_KEYS = ['planned', 'injected', 'events', 'byPath', 'totals', 'invariantChecks'] as const;
const RECOVERY_EVENT_KEYS = [
  'at', 'opIndex', 'op', 'path', 'fault', 'failed', 'paths', 'bytesRequested', 'bytesWritten', 'bytesRetried', 'bytesPunched',
  'bytesKept', 'bytesLost', 'errno', 'state',
] as const;
const RECOVERY_TOTAL_KEYS = ['bytesRetried', 'bytesPunched', 'bytesKept', 'bytesLost'] as const;
const DEVICE_STATS_KEYS = [
  'model', 'params', 'loop', 'simulatedSeconds', 'overall', 'perOp', 'pageCache', 'writeAmplification', 'requests',
  'fragmentation', 'series',
] as const;
const LATENCY_KEYS = ['count', 'bytes', 'iops', 'mbPerSecond', 'meanUs', 'p50Us', 'p90Us', 'p99Us', 'p999Us', 'maxUs'] as const;
const THROUGHPUT_KEYS = ['second', 'ops', 'bytesWritten', 'bytesRead', 'meanLatencyUs'] as const;
const FILE_KEYS = ['path', 'ino', 'size', 'allocatedBlocks', 'extents', 'io'] as const;
const SNAPSHOT_KEYS = ['label', 'source', 'at', 'files'] as const;
const ERROR_KEYS = ['at', 'op', 'path', 'errno', 'message'] as const;
const STATS_KEYS = [
  'opsTotal', 'opsFailed', 'opsIgnored', 'assumed', 'ops', 'bytesWritten', 'bytesRead', 'deviceBytesWritten', 'deviceBytesRead', 'metadataBytesWritten', 'checksumBytes',
  'files', 'extents', 'blocksAllocated', 'blocksFree', 'replaySeconds', 'opsPerSecond',
] as const;
const SUMMARY_KEYS = [
  'formatVersion', 'generation', 'policy', 'policyParams', 'blockSize', 'deviceSize', 'deviceBlocks', 'seed',
  'trace', 'opsApplied', 'files', 'dirs', 'extents', 'blocksUsed', 'blocksReserved', 'blocksFree',
  'freeExtents', 'largestFreeExtent',
] as const;
const VERIFY_KEYS = ['ok', 'files', 'bytesChecked', 'mismatches'] as const;
const MISMATCH_KEYS = ['path', 'offset', 'length', 'reason'] as const;

/** Flags are listed in filefrag's print order, whatever order the engine produced them in. */
const FLAG_ORDER: readonly ExtentFlagName[] = ['last', 'delalloc', 'encoded', 'inline', 'unwritten', 'shared'];

/**
 * A copy of `source` whose keys come in `keyOrder` first, then any other keys
 * sorted (a field added to the model before this list learns of it still
 * serialises stably). Undefined values are dropped.
 */
function ordered(source: object, keyOrder: readonly string[]): JsonObject {
  const record = source as JsonObject;
  const out: JsonObject = {};
  const known = new Set(keyOrder);
  const extra = Object.keys(record).filter((key) => !known.has(key)).sort();
  for (const key of [...keyOrder, ...extra]) {
    if (record[key] !== undefined) out[key] = record[key];
  }
  return out;
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

/** An extent in the documented key order, built directly: files can carry millions of extents. */
function extentJson(extent: ExtentRecord): JsonObject {
  const flags = extent.flags.length > 1 ? [...extent.flags].sort((a, b) => FLAG_ORDER.indexOf(a) - FLAG_ORDER.indexOf(b)) : [...extent.flags];
  assert(
    Number.isFinite(extent.logical) && Number.isFinite(extent.physical) && Number.isFinite(extent.length),
    'JSON output holds a non-finite number',
    { extent },
  );
  return { logical: extent.logical, physical: extent.physical, length: extent.length, flags };
}

/**
 * Where the extent lists of a tree being serialised go: with a sink, a
 * file's `extents` becomes a placeholder string that streamJson replaces by
 * text written straight from the records (no object per extent); without
 * one, the extents are built as objects (replayResultJson for callers that
 * want the tree).
 */
interface ExtentSink {
  lists: (readonly ExtentRecord[])[];
}

/** A placeholder no JSON string of ours can contain (NUL is escaped by JSON.stringify). */
const EXTENTS_PLACEHOLDER = '\u0000extents:';

function fileJson(file: FileLayout, sink?: ExtentSink): JsonObject {
  if (sink === undefined) return ordered({ ...file, extents: file.extents.map(extentJson) }, FILE_KEYS);
  sink.lists.push(file.extents);
  return ordered({ ...file, extents: `${EXTENTS_PLACEHOLDER}${sink.lists.length - 1}` }, FILE_KEYS);
}

function snapshotJson(snapshot: SnapshotRecord, sink?: ExtentSink): JsonObject {
  return ordered({ ...snapshot, files: snapshot.files.map((file) => fileJson(file, sink)) }, SNAPSHOT_KEYS);
}

/** Flags of an extent in filefrag order (the JSON order). */
function sortedFlags(extent: ExtentRecord): readonly ExtentFlagName[] {
  return extent.flags.length > 1 ? [...extent.flags].sort((a, b) => FLAG_ORDER.indexOf(a) - FLAG_ORDER.indexOf(b)) : extent.flags;
}

/**
 * Writes one extent list as JSON.stringify(list, null, 2) would at `indent`
 * (the indentation of the line holding the `"extents":` key), in chunks.
 */
function emitExtents(extents: readonly ExtentRecord[], indent: string, emit: (chunk: string) => void): void {
  if (extents.length === 0) {
    emit('[]');
    return;
  }
  const i2 = `${indent}  `;
  const i4 = `${indent}    `;
  const i6 = `${indent}      `;
  // Written as bytes (numbers digit by digit) and handed on as one flat string per chunk.
  const out = new LineChunks(emit);
  out.ascii('[');
  out.endLine();
  // Extents share their flag lists: each list's text is made once.
  const flagTexts = new Map<readonly ExtentFlagName[], string>();
  const open = `${i2}{\n${i4}"logical": `;
  const physicalKey = `,\n${i4}"physical": `;
  const lengthKey = `,\n${i4}"length": `;
  const flagsKey = `,\n${i4}"flags": `;
  const close = `\n${i2}}`;
  for (let index = 0; index < extents.length; index++) {
    const extent = extents[index]!;
    if (!(Number.isFinite(extent.logical) && Number.isFinite(extent.physical) && Number.isFinite(extent.length))) assert(false, 'JSON output holds a non-finite number', { extent });
    let flagsText = flagTexts.get(extent.flags);
    if (flagsText === undefined) {
      const flags = sortedFlags(extent);
      flagsText = flags.length === 0 ? '[]' : `[\n${flags.map((flag) => `${i6}"${flag}"`).join(',\n')}\n${i4}]`;
      flagTexts.set(extent.flags, flagsText);
    }
    out.ascii(open);
    out.padded(extent.logical, 0);
    out.ascii(physicalKey);
    out.padded(extent.physical, 0);
    out.ascii(lengthKey);
    out.padded(extent.length, 0);
    out.ascii(flagsKey);
    out.ascii(flagsText);
    out.ascii(close);
    if (index === extents.length - 1) out.ascii(`\n${indent}]`);
    else {
      out.ascii(',');
      out.endLine();
    }
  }
  out.flush();
}

/**
 * Serialises `tree` (whose extent lists went to `sink`) exactly as
 * stringify() would, handing the text to `emit` in pieces: memory stays
 * bounded by the tree without its extents plus one chunk. O(size).
 */
function streamJson(tree: JsonObject, sink: ExtentSink, emit: (chunk: string) => void): void {
  const text = stringify(tree);
  const pattern = /"\\u0000extents:(\d+)"/g;
  let from = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    emit(text.slice(from, match.index));
    const lineStart = text.lastIndexOf('\n', match.index) + 1;
    const indent = /^ */.exec(text.slice(lineStart, match.index))![0];
    emitExtents(sink.lists[Number(match[1])]!, indent, emit);
    from = match.index + match[0].length;
  }
  emit(text.slice(from));
}

function errorJson(error: OpErrorRecord): JsonObject {
  return ordered(error, ERROR_KEYS);
}

/** Wall-clock speed is informational: a non-finite figure (a run too fast to time) is left out. */
function statsJson(stats: ReplayStats): JsonObject {
  const speed = {
    replaySeconds: Number.isFinite(stats.replaySeconds) ? stats.replaySeconds : undefined,
    opsPerSecond: Number.isFinite(stats.opsPerSecond) ? stats.opsPerSecond : undefined,
  };
  return ordered({ ...stats, ...speed, ops: sortedRecord(stats.ops) }, STATS_KEYS);
}

/** deviceStats in the documented order; map-like objects (params, perOp, byCause) with sorted keys. */
function deviceStatsJson(stats: DeviceStats): JsonObject {
  const perOp: Record<string, JsonObject> = {};
  for (const kind of Object.keys(stats.perOp).sort()) perOp[kind] = ordered(stats.perOp[kind]!, LATENCY_KEYS);
  return ordered(
    {
      ...stats,
      params: sortedRecord(stats.params),
      overall: ordered(stats.overall, LATENCY_KEYS),
      perOp,
      pageCache: ordered(stats.pageCache, ['hits', 'misses', 'hitRatio']),
      writeAmplification: ordered({ ...stats.writeAmplification, byCause: sortedRecord(stats.writeAmplification.byCause) }, ['userBytesWritten', 'deviceBytesWritten', 'ratio', 'byCause']),
      requests: ordered(stats.requests, ['submitted', 'merged', 'dispatched']),
      fragmentation: ordered(stats.fragmentation, ['files', 'extents', 'extentsPerFile', 'averageExtentBlocks']),
      series: stats.series.map((point) => ordered(point, THROUGHPUT_KEYS)),
    },
    DEVICE_STATS_KEYS,
  );
}

/** `recovery`: events in the order they happened (paths in the order taken), `byPath` keys sorted. */
function recoveryJson(recovery: RecoveryReport): JsonObject {
  return ordered(
    {
      ...recovery,
      planned: [...recovery.planned],
      events: recovery.events.map((event: RecoveryEvent) => ordered({ ...event, paths: [...event.paths] }, RECOVERY_EVENT_KEYS)),
      byPath: sortedRecord(recovery.byPath as Record<string, number>),
      totals: ordered(recovery.totals, RECOVERY_TOTAL_KEYS),
    },
    RECOVERY_KEYS,
  );
}

function crashJson(crashed: CrashRecord): JsonObject {
  return ordered(crashed, CRASH_KEYS);
}

/** Asserts every number in a JSON tree is finite (JSON has no NaN or Infinity); extent lists were checked as they were built. O(size). */
function assertFiniteNumbers(value: unknown, where: string): void {
  if (where.endsWith('.extents')) return;
  if (typeof value === 'number') {
    assert(Number.isFinite(value), 'JSON output holds a non-finite number', { where, value });
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => assertFiniteNumbers(item, `${where}[${index}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) assertFiniteNumbers(item, `${where}.${key}`);
  }
}

function stringify(tree: JsonObject): string {
  assertFiniteNumbers(tree, '$');
  return `${JSON.stringify(tree, null, 2)}\n`;
}

/** The ReplayResult as a plain object with the documented key order (what toJson prints). */
export function replayResultJson(result: ReplayResult, sink?: ExtentSink): JsonObject {
  return ordered(
    {
      ...result,
      files: result.files.map((file) => fileJson(file, sink)),
      filesAfterRemount: result.filesAfterRemount?.map((file) => fileJson(file, sink)),
      dirs: [...result.dirs],
      snapshots: result.snapshots.map((snapshot) => snapshotJson(snapshot, sink)),
      errors: result.errors.map(errorJson),
      stats: statsJson(result.stats),
      deviceStats: result.deviceStats === undefined ? undefined : deviceStatsJson(result.deviceStats),
      crashed: result.crashed === undefined ? undefined : crashJson(result.crashed),
      recovery: result.recovery === undefined ? undefined : recoveryJson(result.recovery),
    },
    RESULT_KEYS,
  );
}

/**
 * `replay --json`: every field of the ReplayResult, keys in a fixed order,
 * 2-space indent, trailing newline. Pure; O(size of the result).
 */
export function toJson(result: ReplayResult): string {
  const chunks: string[] = [];
  writeJson(result, (chunk) => chunks.push(chunk));
  return chunks.join('');
}

/** toJson's text handed to `emit` in pieces (files of millions of extents never become one string). */
export function writeJson(result: ReplayResult, emit: (chunk: string) => void): void {
  const sink: ExtentSink = { lists: [] };
  streamJson(replayResultJson(result, sink), sink, emit);
}

/** What `inspect --json` prints. */
export interface InspectJsonInput {
  image: string;
  /** Why the image was opened at an older checkpoint (empty normally). */
  warnings: readonly string[];
  summary: ImageSummaryView;
  files: readonly FileLayout[];
  verify?: VerifyView;
}

/** `inspect --json`: `{ schemaVersion, tool, image, warnings, summary, files, verify? }` (docs/json-output.md). */
export function toInspectJson(input: InspectJsonInput): string {
  const chunks: string[] = [];
  writeInspectJson(input, (chunk) => chunks.push(chunk));
  return chunks.join('');
}

/** toInspectJson's text handed to `emit` in pieces. */
export function writeInspectJson(input: InspectJsonInput, emit: (chunk: string) => void): void {
  const sink: ExtentSink = { lists: [] };
  const summary = ordered({ ...input.summary, policyParams: sortedRecord(input.summary.policyParams) }, SUMMARY_KEYS);
  const verify =
    input.verify === undefined
      ? undefined
      : ordered({ ...input.verify, mismatches: input.verify.mismatches.map((m) => ordered(m, MISMATCH_KEYS)) }, VERIFY_KEYS);
  const tree = ordered(
    {
      schemaVersion: RESULT_SCHEMA_VERSION,
      tool: 'iomapsim',
      image: input.image,
      warnings: [...input.warnings],
      summary,
      files: input.files.map((file) => fileJson(file, sink)),
      verify,
    },
    ['schemaVersion', 'tool', 'image', 'warnings', 'summary', 'files', 'verify'],
  );
  streamJson(tree, sink, emit);
}

const COMPARISON_KEYS = ['schemaVersion', 'tool', 'trace', 'blockSize', 'deviceSize', 'seed', 'policies', 'files', 'totals', 'errors'] as const;
const POLICY_FILE_KEYS = ['size', 'extents', 'fragments', 'allocatedBlocks', 'deviceBytesWritten', 'cowBlocks', 'preallocBlocks', 'sharedBlocks'] as const;
const POLICY_TOTAL_KEYS = [
  'files', 'extents', 'fragments', 'allocatedBlocks', 'blocksFree', 'deviceBytesWritten', 'writeAmplification', 'cowBlocks',
  'preallocBlocks', 'sharedBlocks', 'opsFailed', 'simulatedSeconds', 'mbPerSecond',
] as const;

/**
 * `compare --json` (docs/json-output.md): files by path, each with one entry
 * per policy in the order compared (null where the file does not exist);
 * totals and failed ops per policy. Pure; O(size).
 */
export function comparisonToJson(comparison: Comparison): string {
  const perPolicy = <T extends object>(record: Record<string, T | null>, keys: readonly string[]): JsonObject => {
    const out: JsonObject = {};
    for (const policy of comparison.policies) {
      const entry = record[policy];
      out[policy] = entry === null || entry === undefined ? null : ordered(entry, keys);
    }
    return out;
  };
  const errors: JsonObject = {};
  for (const policy of comparison.policies) errors[policy] = (comparison.errors[policy] ?? []).map(errorJson);
  const tree = ordered(
    {
      ...comparison,
      policies: [...comparison.policies],
      files: comparison.files.map((file) => ({ path: file.path, byPolicy: perPolicy(file.byPolicy, POLICY_FILE_KEYS) })),
      totals: perPolicy(comparison.totals, POLICY_TOTAL_KEYS),
      errors,
    },
    COMPARISON_KEYS,
  );
  return stringify(tree);
}
