/**
 * Property test of the xfs policy (test/engine/property-suite.ts): random
 * operation sequences on two files against a shadow byte model, with 4096-
 * and 1024-byte blocks and with a tiny page cache. Reflink is in the mix, so
 * checkValid's refcount and CoW-fork ownership invariants run after every op.
 */
import { definePropertySuite } from './property-suite.js';

definePropertySuite('xfs', { blockSizes: [4096, 1024], numRuns: 1000, tinyCacheRuns: 500, seed: 20261122 });
