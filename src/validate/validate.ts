/**
 * `validate`: which policies to run (registered in the simulator AND
 * mountable here), and one policy's run: the simulator's replay, the
 * kernel's, and their comparison.
 */
import type { ReplayResult } from '../report/model.js';
import { UsageError } from '../util/errors.js';
import { compareWithKernel, type ValidationComparison } from './compare.js';
import { isKernelFsName, KERNEL_FS_NAMES, type KernelFsName } from './fsparams.js';
import { KernelRunError } from './host.js';
import { mountRefusal } from './loopmount.js';
import { recordKernel, type KernelRecord, type KernelRecordOptions } from './record.js';

/** A policy left out of `--policy all`, and why. */
export interface SkippedPolicy {
  policy: string;
  reason: string;
}

export interface PolicySelection {
  run: KernelFsName[];
  skipped: SkippedPolicy[];
}

/** The message for a filesystem the simulator has no policy for yet. */
export function notImplementedReason(policy: string): string {
  return `policy ${policy} not implemented yet (issue 3)`;
}

/** Root is the first requirement: without it nothing else is worth probing. */
export function rootRefusal(): string | null {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  return uid === 0 ? null : `not running as root (uid ${uid}); run it with sudo`;
}

/**
 * The filesystems to run for `requested` ('all' or a name).
 * validate (`needsPolicy`): registered in the simulator and mountable; record: mountable.
 * @throws UsageError for an unknown or unimplemented name; KernelRunError when nothing can be mounted.
 */
export function selectPolicies(requested: string, registered: readonly string[], needsPolicy: boolean): PolicySelection {
  const root = rootRefusal();
  if (root !== null) throw new KernelRunError(root);
  if (requested !== 'all') {
    if (!isKernelFsName(requested)) {
      throw new UsageError(`unknown policy '${requested}' (expected one of: ${KERNEL_FS_NAMES.join(', ')}, all)`);
    }
    if (needsPolicy && !registered.includes(requested)) {
      throw new UsageError(notImplementedReason(requested), `validate runs the policies the simulator has: ${registered.join(', ')}; 'iomapsim record' records the kernel alone`);
    }
    const refusal = mountRefusal(requested);
    if (refusal !== null) throw new KernelRunError(refusal);
    return { run: [requested], skipped: [] };
  }
  const selection: PolicySelection = { run: [], skipped: [] };
  for (const fs of KERNEL_FS_NAMES) {
    const reason = needsPolicy && !registered.includes(fs) ? notImplementedReason(fs) : mountRefusal(fs);
    if (reason === null) selection.run.push(fs);
    else selection.skipped.push({ policy: fs, reason });
  }
  if (selection.run.length === 0) {
    throw new KernelRunError(selection.skipped.map((skip) => `${skip.policy}: ${skip.reason}`).join('; '));
  }
  return selection;
}

/** One policy validated. */
export interface PolicyValidation {
  policy: KernelFsName;
  sim: ReplayResult;
  kernel: KernelRecord;
  comparison: ValidationComparison;
}

/**
 * Replays the trace in the simulator first (a bad trace fails before any
 * mount), then on the kernel, and compares.
 */
export async function validatePolicy(
  policy: KernelFsName,
  replaySim: (policy: string) => Promise<ReplayResult>,
  kernelOptions: Omit<KernelRecordOptions, 'fs'>,
): Promise<PolicyValidation> {
  const sim = await replaySim(policy);
  const run = await recordKernel({ ...kernelOptions, fs: policy });
  return { policy, sim, kernel: run.record, comparison: compareWithKernel(sim, run.files, run.record) };
}
