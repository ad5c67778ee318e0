/**
 * A new policy is one folder and one registration line: the naive
 * "always append" policy of test/fixtures/appendfs registers here, then runs
 * the same property suite as the real policies, replays through the
 * registry, and shows up in `compare`.
 */
import { createPolicy, listPolicies, registerPolicy } from '../../src/fs/registry.js';
import { main } from '../../src/cli/main.js';
import { PolicyError } from '../../src/util/errors.js';
import { definePropertySuite } from '../engine/property-suite.js';
import { makeContext } from '../engine/harness.js';
import { createAppendPolicy } from '../fixtures/appendfs/policy.js';

registerPolicy('append', 'naive always-append allocation (tests only)', createAppendPolicy);

definePropertySuite('append', { blockSizes: [4096, 1024], numRuns: 300, tinyCacheRuns: 100, seed: 77 });

describe('a policy registered from outside src/fs', () => {
  test('is listed and made through the registry', () => {
    expect(listPolicies()).toContain('append');
    const { ctx } = makeContext(4096, 1 << 24);
    expect(createPolicy('append', { ctx, deviceBlocks: 4096 }).name).toBe('append');
  });

  test('a second registration under the same name is refused', () => {
    expect(() => registerPolicy('append', 'again', createAppendPolicy)).toThrow(PolicyError);
  });

  test('compare runs it next to ext4: every file shows under both policies', async () => {
    let out = '';
    const code = await main(['compare', 'traces/demo.xio', '--policies', 'ext4,append', '--json', '--no-device-model'], { stdout: (text) => void (out += text), stderr: () => undefined });
    expect(code).toBe(0);
    const json = JSON.parse(out) as { policies: string[]; files: { path: string; byPolicy: Record<string, { allocatedBlocks: number } | null> }[] };
    expect(json.policies).toEqual(['ext4', 'append']);
    expect(json.files.length).toBeGreaterThan(0);
    for (const file of json.files) {
      expect(file.byPolicy['ext4']).not.toBeNull();
      expect(file.byPolicy['append']).not.toBeNull();
    }
  });
});
