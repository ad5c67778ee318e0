/**
 * The fault plan of a replay (`--fault KIND@WHERE[,params]`, `--faults FILE`,
 * `--fault-rate`): which failures the simulated kernel meets and when. The
 * plan is data; src/fault/injector.ts turns it into decisions during the run
 * (deterministic: the same plan and seed give the same faults).
 */

/** What fails. */
export type FaultKind =
  /** Space allocation fails (delalloc reservation, block allocation) with ENOSPC. */
  | 'enospc'
  /** A device write (or read) fails with EIO. */
  | 'eio'
  /** The user copy of a buffered write stops after `bytes` bytes (a fault on the user buffer: EFAULT semantics). */
  | 'short-copy'
  /** A direct write: the block layer completes only `bytes` bytes. */
  | 'short-dio'
  /** The process dies: no further writes reach the image. */
  | 'crash';

export const FAULT_KINDS: readonly FaultKind[] = Object.freeze(['enospc', 'eio', 'short-copy', 'short-dio', 'crash']);

/** Where in the file a fault spec came from (a --faults FILE line), for messages. */
export interface FaultOrigin {
  file: string;
  line: number;
}

/**
 * One fault. Exactly one trigger is set: `op` (the Nth trace op, 1-based, as
 * stats.opsTotal counts them), `afterDeviceBytes` (once that many bytes have
 * been written to the device) or `blocks` (I/O touching a device block range, eio only).
 */
export interface FaultSpec {
  kind: FaultKind;
  /** Trigger: the op with this 1-based index (and, for enospc/eio with `count`, the ones after it). */
  op?: number;
  /** Trigger: device bytes written so far reach this (crash, eio). */
  afterDeviceBytes?: number;
  /** Trigger (eio): any I/O touching device blocks [startBlock, endBlock) in filesystem blocks. */
  blocks?: { startBlock: number; endBlock: number };
  /**
   * enospc: allocations that fail once triggered (undefined: every one from then on).
   * eio: I/Os that fail once triggered (undefined: 1 for `op`/`afterDeviceBytes`, every one for `blocks`).
   */
  count?: number;
  /** short-copy, short-dio: bytes that get through (default 0). */
  bytes?: number;
  /** eio: which direction fails (default 'write'). */
  direction?: 'read' | 'write';
  /** The spec as written (`enospc@op=120`), shown in reports. */
  text: string;
  origin?: FaultOrigin;
}

/** Random injection (`--fault-rate P`): each op meets one of `kinds` with probability `rate`. */
export interface FaultRate {
  /** Probability per op in [0, 1]. */
  rate: number;
  /** Kinds drawn from (default: enospc, eio, short-copy, short-dio; never crash). */
  kinds: FaultKind[];
}

export interface FaultPlan {
  faults: FaultSpec[];
  random?: FaultRate;
}
