import { describe, expect, test } from '@jest/globals';
import { InvariantError } from '../../src/util/assert.js';
import { toInspectJson, toJson } from '../../src/report/json.js';
import type { ReplayResult } from '../../src/report/model.js';
import { sampleResult, sampleSummary, sampleVerify } from './fixtures.js';

/** The same object with every key inserted in reverse order (JSON.stringify would follow it). */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).reverse()) out[key] = reversedKeys((value as Record<string, unknown>)[key]);
  return out as T;
}

describe('toJson', () => {
  test('top-level keys in the documented order, 2-space indent, trailing newline', () => {
    const text = toJson({ ...sampleResult(), image: 'demo.img' });
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.startsWith('{\n  "schemaVersion": 1,\n  "tool": "iomapsim 0.1.0",\n  "trace": "demo.xio",\n  "policy": "ext4",\n')).toBe(true);
    const keys = Object.keys(JSON.parse(text) as object);
    expect(keys).toEqual(['schemaVersion', 'tool', 'trace', 'policy', 'blockSize', 'deviceSize', 'seed', 'image', 'files', 'dirs', 'snapshots', 'errors', 'tracedFailures', 'stats']);
  });

  test('byte-identical whatever order the engine built the objects in', () => {
    const result = sampleResult();
    expect(toJson(reversedKeys(result))).toBe(toJson(result));
  });

  test('round-trips every field of the ReplayResult', () => {
    const result = sampleResult();
    const parsed = JSON.parse(toJson(result)) as ReplayResult;
    expect(parsed.files[1]).toEqual({
      path: 'a',
      ino: 13,
      size: 1048576,
      allocatedBlocks: 256,
      extents: [{ logical: 0, physical: 33280, length: 256, flags: ['last', 'unwritten'] }],
    });
    expect(parsed.stats).toEqual(result.stats);
    expect(parsed.errors).toEqual(result.errors);
    expect(parsed.dirs).toEqual(['sub']);
    expect(parsed.seed).toBe(3141592653);
  });

  test('extent flags in filefrag order, op kinds sorted', () => {
    const base = sampleResult();
    const file = { ...base.files[1]!, extents: [{ logical: 0, physical: 1, length: 1, flags: ['shared', 'unwritten', 'last'] as const }] };
    const parsed = JSON.parse(toJson({ ...base, files: [{ ...file, extents: file.extents.map((e) => ({ ...e, flags: [...e.flags] })) }] })) as ReplayResult;
    expect(parsed.files[0]!.extents[0]!.flags).toEqual(['last', 'unwritten', 'shared']);
    expect(Object.keys(parsed.stats.ops)).toEqual(['close', 'fsync', 'open', 'write']);
  });

  test('stats keys in order; speed fields left out when absent or not finite', () => {
    const base = sampleResult();
    const withSpeed = JSON.parse(toJson(base)) as ReplayResult;
    expect(Object.keys(withSpeed.stats)).toEqual([
      'opsTotal', 'opsFailed', 'opsIgnored', 'assumed', 'ops', 'bytesWritten', 'bytesRead', 'deviceBytesWritten', 'deviceBytesRead',
      'files', 'extents', 'blocksAllocated', 'blocksFree', 'replaySeconds', 'opsPerSecond',
    ]);
    const stats = { ...base.stats };
    delete stats.replaySeconds;
    delete stats.opsPerSecond;
    expect(toJson({ ...base, stats })).not.toContain('opsPerSecond');
    const infinite = toJson({ ...base, stats: { ...base.stats, replaySeconds: 0, opsPerSecond: Infinity } });
    expect(infinite).not.toContain('opsPerSecond');
    expect(infinite).toContain('"replaySeconds": 0');
  });

  test('a non-finite number elsewhere is a bug, not silently null', () => {
    expect(() => toJson({ ...sampleResult(), deviceSize: Number.NaN })).toThrow(InvariantError);
  });

  test('an optional path missing from an op error is left out', () => {
    const parsed = JSON.parse(toJson(sampleResult({ errors: [{ at: 't:1', op: 'sync', errno: 'EIO', message: 'Input/output error' }] }))) as ReplayResult;
    expect(Object.keys(parsed.errors[0]!)).toEqual(['at', 'op', 'errno', 'message']);
  });
});

describe('toInspectJson', () => {
  test('schemaVersion, tool, image, warnings, summary, files and verify', () => {
    const files = sampleResult().files;
    const text = toInspectJson({ image: 'demo.img', warnings: [], summary: sampleSummary(), files, verify: sampleVerify(false) });
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['schemaVersion', 'tool', 'image', 'warnings', 'summary', 'files', 'verify']);
    expect(parsed['schemaVersion']).toBe(1);
    expect(parsed['files']).toEqual(JSON.parse(JSON.stringify(files.map((f) => ({ ...f })))));
    const summary = parsed['summary'] as Record<string, unknown>;
    expect(Object.keys(summary)[0]).toBe('formatVersion');
    expect(Object.keys(summary['policyParams'] as object)).toEqual(['flexBgSize', 'groups']);
    expect(parsed['verify']).toEqual({ ok: false, files: 2, bytesChecked: 5251072, mismatches: sampleVerify(false).mismatches });
    expect(text.endsWith('\n')).toBe(true);
  });

  test('no verify key without --verify; stable across key order', () => {
    const input = { image: 'x.img', warnings: ['slot B is torn'], summary: sampleSummary(), files: [] };
    const text = toInspectJson(input);
    expect(text).not.toContain('"verify"');
    expect(toInspectJson(reversedKeys(input))).toBe(text);
  });
});
