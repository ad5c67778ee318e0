/**
 * JSON renderers (docs/json-output.md): the same result model as the text
 * renderers, serialised with a fixed key order, 2-space indent and a trailing
 * newline, so two deterministic runs produce byte-identical output.
 */
import { assert } from '../util/assert.js';
import type { Comparison } from './compare.js';
import type { ImageSummaryView, VerifyView } from './layout.js';
import type {
  DeviceStats,
  ExtentFlagName,
  ExtentRecord,
  FileLayout,
  OpErrorRecord,
  ReplayResult,
  ReplayStats,
  SnapshotRecord,
} from './model.js';
import { RESULT_SCHEMA_VERSION } from './model.js';

type JsonObject = Record<string, unknown>;

const RESULT_KEYS = [
  'schemaVersion', 'tool', 'trace', 'policy', 'blockSize', 'deviceSize', 'seed', 'image',
  'files', 'filesAfterRemount', 'dirs', 'snapshots', 'errors', 'tracedFailures', 'stats', 'deviceStats',
] as const;
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
  'opsTotal', 'opsFailed', 'opsIgnored', 'assumed', 'ops', 'bytesWritten', 'bytesRead', 'deviceBytesWritten', 'deviceBytesRead',
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

function fileJson(file: FileLayout): JsonObject {
  return ordered({ ...file, extents: file.extents.map(extentJson) }, FILE_KEYS);
}

function snapshotJson(snapshot: SnapshotRecord): JsonObject {
  return ordered({ ...snapshot, files: snapshot.files.map(fileJson) }, SNAPSHOT_KEYS);
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
export function replayResultJson(result: ReplayResult): JsonObject {
  return ordered(
    {
      ...result,
      files: result.files.map(fileJson),
      filesAfterRemount: result.filesAfterRemount?.map(fileJson),
      dirs: [...result.dirs],
      snapshots: result.snapshots.map(snapshotJson),
      errors: result.errors.map(errorJson),
      stats: statsJson(result.stats),
      deviceStats: result.deviceStats === undefined ? undefined : deviceStatsJson(result.deviceStats),
    },
    RESULT_KEYS,
  );
}

/**
 * `replay --json`: every field of the ReplayResult, keys in a fixed order,
 * 2-space indent, trailing newline. Pure; O(size of the result).
 */
export function toJson(result: ReplayResult): string {
  return stringify(replayResultJson(result));
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
      files: input.files.map(fileJson),
      verify,
    },
    ['schemaVersion', 'tool', 'image', 'warnings', 'summary', 'files', 'verify'],
  );
  return stringify(tree);
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
