/**
 * Property test of the btrfs policy (test/engine/property-suite.ts): random
 * operation sequences on two files against a shadow byte model, with 4096-
 * and 1024-byte blocks and with a tiny page cache. Reflink remaps shared
 * extents, collapse/insert must fail with EOPNOTSUPP, and checkValid holds
 * every device block to one owner (free, reserved, pinned or one disk extent
 * whose references match the items).
 */
import { definePropertySuite } from './property-suite.js';

definePropertySuite('btrfs', { blockSizes: [4096, 1024], numRuns: 1000, tinyCacheRuns: 500, seed: 20261121 });
