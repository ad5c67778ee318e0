/**
 * Property test of the ext4 policy (test/engine/property-suite.ts): random
 * operation sequences on two files against a shadow byte model, with 4096-
 * and 1024-byte blocks and with a tiny page cache. Reflink is in the mix and
 * must fail with EOPNOTSUPP, changing nothing.
 */
import { definePropertySuite } from './property-suite.js';

definePropertySuite('ext4', { blockSizes: [4096, 1024], numRuns: 1000, tinyCacheRuns: 500, seed: 20261121 });
