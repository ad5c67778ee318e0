/** Hand-built recovery models for the rendering tests (text, JSON, CLI): what src/replay would report. */
import type { CrashRecord, RecoveryEvent, RecoveryReport } from '../../src/report/model.js';

/** A short buffered copy at op 300 (seed 004): retried smaller, then the unfilled delalloc punched. */
export function shortCopyEvent(overrides: Partial<RecoveryEvent> = {}): RecoveryEvent {
  return {
    at: 'demo.xio:301',
    opIndex: 300,
    op: 'write',
    path: 'a.bin',
    fault: 'short-copy@op=300,bytes=1000',
    failed: 'the user copy stopped after 1000 of 65536 bytes',
    paths: ['retry-smaller', 'delalloc-punch'],
    bytesRequested: 65536,
    bytesWritten: 1000,
    bytesRetried: 4096,
    bytesPunched: 61440,
    bytesKept: 4096,
    bytesLost: 0,
    errno: 'EFAULT',
    state: 'i_size 1000; 1 delalloc block kept under dirty cache',
    ...overrides,
  };
}

/** An allocation failure at op 120 that nothing recovered: the caller got ENOSPC. */
export function enospcEvent(overrides: Partial<RecoveryEvent> = {}): RecoveryEvent {
  return {
    at: 'demo.xio:121',
    opIndex: 120,
    op: 'fallocate',
    path: 'big',
    fault: 'enospc@op=120',
    failed: 'the allocation of 256 blocks failed after 3 retries',
    paths: ['enospc-retry', 'none'],
    bytesRequested: 1048576,
    bytesWritten: 0,
    bytesRetried: 0,
    bytesPunched: 0,
    bytesKept: 0,
    bytesLost: 0,
    errno: 'ENOSPC',
    state: 'i_size 0; no extents',
    ...overrides,
  };
}

/** A report over `events`, with byPath and totals computed from them (as the replay does). */
export function recoveryReport(events: RecoveryEvent[], planned: string[] = ['enospc@op=120', 'short-copy@op=300,bytes=1000']): RecoveryReport {
  const byPath: RecoveryReport['byPath'] = {};
  const totals = { bytesRetried: 0, bytesPunched: 0, bytesKept: 0, bytesLost: 0 };
  for (const event of events) {
    for (const path of event.paths) byPath[path] = (byPath[path] ?? 0) + 1;
    totals.bytesRetried += event.bytesRetried;
    totals.bytesPunched += event.bytesPunched;
    totals.bytesKept += event.bytesKept;
    totals.bytesLost += event.bytesLost;
  }
  return { planned, injected: events.length, events, byPath, totals, invariantChecks: events.length * 4 };
}

export function crashRecord(overrides: Partial<CrashRecord> = {}): CrashRecord {
  return { fault: 'crash@op=5000', opsApplied: 4999, checkpointGeneration: 3, checkpointOps: 4800, ...overrides };
}
