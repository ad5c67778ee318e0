/**
 * The policy registry (like fio's register_ioengine): names to factories,
 * checked at load. A new policy is one folder and one line here.
 */
import { PolicyError } from '../util/errors.js';
import { createBtrfsPolicy } from './btrfs/policy.js';
import { createExt4Policy } from './ext4/policy.js';
import { createXfsPolicy } from './xfs/policy.js';
import { POLICY_INTERFACE_VERSION, type FsPolicy, type PolicyFactory, type PolicyOptions } from './types.js';

interface Registration {
  name: string;
  summary: string;
  factory: PolicyFactory;
}

const registrations: Registration[] = [];

/** Registers a policy; names are unique. */
export function registerPolicy(name: string, summary: string, factory: PolicyFactory): void {
  if (registrations.some((entry) => entry.name === name)) throw new PolicyError(`policy '${name}' registered twice`);
  registrations.push({ name, summary, factory });
}

registerPolicy('ext4', 'ext4: delalloc, unwritten writeback (dioread_nolock), mballoc groups and preallocation', createExt4Policy);
registerPolicy('xfs', 'xfs: allocation groups, delalloc with speculative EOF preallocation, unwritten writeback, reflink with a CoW fork', createXfsPolicy);
registerPolicy('btrfs', 'btrfs: copy-on-write extents with bookends, delalloc, inline small files, prealloc nocow, reflink, size-class block groups', createBtrfsPolicy);

export function listPolicies(): string[] {
  return registrations.map((entry) => entry.name);
}

export function describePolicies(): { name: string; summary: string }[] {
  return registrations.map(({ name, summary }) => ({ name, summary }));
}

const requiredHooks: (keyof FsPolicy)[] = [
  'allocIno', 'initInode', 'bufferedOps', 'readOps', 'directOps', 'writeback', 'dio', 'directWrite', 'fallocate',
  'setSize', 'reflink', 'release', 'evict', 'freeInode', 'allocatedBlocks', 'checkValid',
];

/** Makes the named policy, checking its interface version and hooks. Throws PolicyError. */
export function createPolicy(name: string, options: PolicyOptions): FsPolicy {
  const entry = registrations.find((candidate) => candidate.name === name);
  if (!entry) {
    throw new PolicyError(`unknown policy '${name}' (expected one of ${listPolicies().join(', ')})`, 'pick one with --policy');
  }
  const policy = entry.factory(options);
  if (policy.interfaceVersion !== POLICY_INTERFACE_VERSION) {
    throw new PolicyError(`policy '${name}' implements interface version ${policy.interfaceVersion}, expected ${POLICY_INTERFACE_VERSION}`);
  }
  for (const hook of requiredHooks) {
    if (policy[hook] === undefined) throw new PolicyError(`policy '${name}' lacks the required hook '${String(hook)}'`);
  }
  return policy;
}
