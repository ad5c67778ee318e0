/**
 * Rendering of ReplayResult.recovery and ReplayResult.crashed: the text
 * section (rows, cap, totals, by-path counts, "no faults fired"), the crash
 * notices, the --quiet line, and the JSON fields (order, determinism, every
 * event kept). The models are built by hand (recovery-fixtures.ts).
 */
import { describe, expect, test } from '@jest/globals';
import { replayResultJson, toJson, writeJson } from '../../src/report/json.js';
import type { RecoveryEvent, ReplayResult } from '../../src/report/model.js';
import {
  describeCrash,
  renderRecovery,
  renderReplayOneLine,
  renderReplaySummary,
  renderReplayTotals,
  TEXT_RECOVERY_EVENTS_MAX,
  type TextStyle,
} from '../../src/report/text.js';
import { sampleResult } from './fixtures.js';
import { crashRecord, enospcEvent, recoveryReport, shortCopyEvent } from './recovery-fixtures.js';

/** A style that marks what it colours, to see which words are emphasised. */
const markedStyle: TextStyle = {
  label: (text) => text,
  good: (text) => `<good>${text}</good>`,
  bad: (text) => `<bad>${text}</bad>`,
  dim: (text) => text,
};

describe('renderRecovery (text)', () => {
  test('one row per event with its numbers, then what failed and the state left; totals and counts by path', () => {
    const text = renderRecovery(recoveryReport([enospcEvent(), shortCopyEvent()]));
    const lines = text.split('\n');
    expect(lines[0]).toBe('--- short-write recovery ---');
    expect(lines[1]).toBe('planned: enospc@op=120; short-copy@op=300,bytes=1000');
    expect(lines[2]).toBe('fired:   2 faults, 2 recovery events; 8 invariant checks passed');
    expect(lines[3]!.split(/\s+/).filter((word) => word !== '')).toEqual([
      'op', 'at', 'call', 'fault', 'paths', 'written/req', 'retried', 'punched', 'kept', 'lost', '(bytes)',
    ]);
    expect(lines[4]!.trim().split(/\s{2,}/)).toEqual(['120', 'demo.xio:121', 'fallocate big', 'enospc@op=120', 'enospc-retry,none', '0/1048576', '0', '0', '0', '0']);
    expect(lines[5]!.trim()).toBe('failed: the allocation of 256 blocks failed after 3 retries; the caller got ENOSPC');
    expect(lines[6]!.trim()).toBe('state:  i_size 0; no extents');
    expect(lines[7]!.trim().split(/\s{2,}/)).toEqual([
      '300', 'demo.xio:301', 'write a.bin', 'short-copy@op=300,bytes=1000', 'retry-smaller,delalloc-punch', '1000/65536', '4096', '61440', '4096', '0',
    ]);
    expect(lines[8]!.trim()).toBe('failed: the user copy stopped after 1000 of 65536 bytes; the caller got EFAULT');
    expect(lines[10]).toBe('totals:  retried 4096, punched 61440, kept 4096, lost 0 (bytes)');
    // Paths in the documented order (kernel-behaviour.md section 4), not alphabetically.
    expect(lines[11]).toBe('by path: retry-smaller 1, delalloc-punch 1, enospc-retry 1, none 1');
    expect(lines[12]).toBe('');
    expect(lines).toHaveLength(13);
  });

  test('columns line up: every row has its numbers ending where the header names end', () => {
    const text = renderRecovery(recoveryReport([enospcEvent(), shortCopyEvent({ path: 'a-much-longer-file-name.bin', bytesLost: 123456789 })]));
    const lines = text.split('\n');
    const header = lines[3]!;
    for (const row of [lines[4]!, lines[7]!]) {
      expect(row.length).toBe(header.indexOf('  (bytes)'));
      expect(row.indexOf('demo.xio:')).toBe(header.indexOf('at'));
    }
    expect(lines[7]).toMatch(/123456789$/);
  });

  test('an event without a path or errno: the op alone, no "caller got"', () => {
    const event = shortCopyEvent({ op: 'sync', path: undefined, errno: undefined, failed: 'writeback of 2 blocks failed with EIO', paths: ['error-recorded'] });
    const text = renderRecovery(recoveryReport([event], ['eio@block=10-11']));
    expect(text).toMatch(/\n\s+300 {2}demo\.xio:301 {2}sync {2}/);
    expect(text).toContain('failed: writeback of 2 blocks failed with EIO\n');
    expect(text).not.toContain('caller got');
    expect(text).toContain('by path: error-recorded 1\n');
  });

  test(`at most ${TEXT_RECOVERY_EVENTS_MAX} rows, then how many more (the JSON has all)`, () => {
    const count = TEXT_RECOVERY_EVENTS_MAX + 37;
    const events: RecoveryEvent[] = Array.from({ length: count }, (_, index) =>
      shortCopyEvent({ opIndex: index + 1, at: `t.csv:${index + 2}`, fault: 'random:short-copy', bytesPunched: 100 }),
    );
    const text = renderRecovery(recoveryReport(events, []));
    expect(text).toContain(`t.csv:${TEXT_RECOVERY_EVENTS_MAX + 1} `);
    expect(text).not.toContain(`t.csv:${TEXT_RECOVERY_EVENTS_MAX + 2} `);
    expect(text).toContain('  ... and 37 more events (all are in --json output)\n');
    // Totals and counts cover every event, not only the rows shown.
    expect(text).toContain(`punched ${count * 100},`);
    expect(text).toContain(`retry-smaller ${count}, delalloc-punch ${count}`);
    expect(text).toContain('planned: none (random faults only, or failures met without a plan)');
    const parsed = JSON.parse(toJson(sampleResult({ recovery: recoveryReport(events, []) }))) as ReplayResult;
    expect(parsed.recovery?.events).toHaveLength(count);
  });

  test('"no faults fired" when the plan had entries and none fired', () => {
    const text = renderRecovery({ planned: ['crash@op=999999'], injected: 0, events: [], byPath: {}, totals: { bytesRetried: 0, bytesPunched: 0, bytesKept: 0, bytesLost: 0 }, invariantChecks: 0 });
    expect(text).toBe('--- short-write recovery ---\nplanned: crash@op=999999\nfired:   no faults fired; 0 invariant checks passed\n');
  });

  test('faults that fired but needed no recovery are told apart from none firing', () => {
    const text = renderRecovery({ ...recoveryReport([]), injected: 3, invariantChecks: 3 });
    expect(text).toContain('fired:   3 faults fired, none needed recovery; 3 invariant checks passed\n');
  });

  test('a long plan is named in part', () => {
    const planned = Array.from({ length: 14 }, (_, index) => `enospc@op=${index + 1}`);
    const text = renderRecovery(recoveryReport([], planned));
    expect(text).toContain('enospc@op=10; and 4 more\n');
    expect(text).not.toContain('enospc@op=11');
  });
});

describe('the replay summary with recovery and a crash', () => {
  test('the recovery section follows the totals (after the errors)', () => {
    const result = sampleResult({ recovery: recoveryReport([shortCopyEvent()]) });
    const text = renderReplaySummary(result);
    const errorsAt = text.indexOf('errors:');
    const sectionAt = text.indexOf('--- short-write recovery ---');
    expect(errorsAt).toBeGreaterThan(0);
    expect(sectionAt).toBeGreaterThan(errorsAt);
    expect(renderReplaySummary(sampleResult())).not.toContain('short-write recovery');
  });

  test('a crashed run says so first, in bad style, and again in the totals', () => {
    const result = sampleResult({ crashed: crashRecord(), recovery: recoveryReport([]) });
    const text = renderReplaySummary(result, markedStyle);
    const expected = 'the process died at crash@op=5000 after 4999 ops; nothing after it reached the image (the image holds checkpoint generation 3, 4800 ops)';
    expect(text.startsWith(`<bad>CRASHED: ${expected}</bad>\n\n`)).toBe(true);
    expect(renderReplayTotals(result, markedStyle).split('\n')[0]).toBe(`crashed: <bad>${expected}</bad>`);
    expect(renderReplaySummary(sampleResult(), markedStyle)).not.toContain('CRASHED');
  });

  test('describeCrash: no checkpoint, or no image at all', () => {
    expect(describeCrash(crashRecord({ checkpointGeneration: 0, checkpointOps: undefined }))).toBe(
      'the process died at crash@op=5000 after 4999 ops; nothing after it reached the image (the image holds no checkpoint of this run)',
    );
    expect(describeCrash({ fault: 'crash@bytes=1m', opsApplied: 1 })).toBe('the process died at crash@bytes=1m after 1 op; nothing after it reached the image');
  });

  test('--quiet: faults fired and the crash in the one line', () => {
    const line = renderReplayOneLine(sampleResult({ crashed: crashRecord(), recovery: recoveryReport([enospcEvent(), shortCopyEvent()]) }));
    expect(line).toBe('demo.xio: 120 ops on ext4, 2 files, 6 extents, 1 error, 2 faults fired, CRASHED at crash@op=5000, seed 3141592653, no image\n');
    expect(renderReplayOneLine(sampleResult())).not.toMatch(/fired|CRASHED/);
  });
});

describe('recovery and crashed in JSON', () => {
  test('fields after deviceStats in the documented order; events keep their order; byPath keys sorted', () => {
    const result = sampleResult({ recovery: recoveryReport([shortCopyEvent(), enospcEvent()]), crashed: crashRecord() });
    const tree = replayResultJson(result);
    const keys = Object.keys(tree);
    expect(keys.slice(-3)).toEqual(['stats', 'crashed', 'recovery']);
    const recovery = tree['recovery'] as Record<string, unknown>;
    expect(Object.keys(recovery)).toEqual(['planned', 'injected', 'events', 'byPath', 'totals', 'invariantChecks']);
    expect(Object.keys(recovery['byPath'] as object)).toEqual(['delalloc-punch', 'enospc-retry', 'none', 'retry-smaller']);
    expect(Object.keys(recovery['totals'] as object)).toEqual(['bytesRetried', 'bytesPunched', 'bytesKept', 'bytesLost']);
    const events = recovery['events'] as Record<string, unknown>[];
    expect(events.map((event) => event['opIndex'])).toEqual([300, 120]);
    expect(Object.keys(events[0]!)).toEqual([
      'at', 'opIndex', 'op', 'path', 'fault', 'failed', 'paths', 'bytesRequested', 'bytesWritten', 'bytesRetried', 'bytesPunched', 'bytesKept', 'bytesLost', 'errno', 'state',
    ]);
    expect(events[0]!['paths']).toEqual(['retry-smaller', 'delalloc-punch']);
    expect(Object.keys(tree['crashed'] as object)).toEqual(['fault', 'opsApplied', 'checkpointGeneration', 'checkpointOps']);
  });

  test('the same model in any key order gives byte-identical JSON; streaming prints the same', () => {
    const result = sampleResult({ recovery: recoveryReport([shortCopyEvent(), enospcEvent()]), crashed: crashRecord() });
    const shuffled: ReplayResult = {
      ...result,
      crashed: { checkpointOps: 4800, checkpointGeneration: 3, opsApplied: 4999, fault: 'crash@op=5000' },
      recovery: {
        invariantChecks: result.recovery!.invariantChecks,
        totals: { bytesLost: 0, bytesKept: 4096, bytesPunched: 61440, bytesRetried: 4096 },
        byPath: { none: 1, 'retry-smaller': 1, 'enospc-retry': 1, 'delalloc-punch': 1 },
        events: result.recovery!.events.map((event) => Object.fromEntries(Object.entries(event).reverse()) as unknown as RecoveryEvent),
        injected: 2,
        planned: result.recovery!.planned,
      },
    };
    const json = toJson(result);
    expect(toJson(shuffled)).toBe(json);
    const chunks: string[] = [];
    writeJson(result, (chunk) => chunks.push(chunk));
    expect(chunks.join('')).toBe(json);
    expect(JSON.parse(json)).toMatchObject({ recovery: result.recovery, crashed: result.crashed });
  });

  test('absent fields are left out; optional event fields too', () => {
    const plain = JSON.parse(toJson(sampleResult())) as Record<string, unknown>;
    expect(plain).not.toHaveProperty('recovery');
    expect(plain).not.toHaveProperty('crashed');
    const event = shortCopyEvent({ path: undefined, errno: undefined });
    const parsed = JSON.parse(toJson(sampleResult({ recovery: recoveryReport([event]) }))) as ReplayResult;
    expect(parsed.recovery?.events[0]).not.toHaveProperty('path');
    expect(parsed.recovery?.events[0]).not.toHaveProperty('errno');
  });
});
