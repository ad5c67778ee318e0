/**
 * btrfs conformance: every case of ../shared/conformance replayed with the btrfs
 * policy and compared with the kernel's btrfs layouts (test/conformance/suite.ts).
 */
import { defineConformanceSuite } from './suite.js';

defineConformanceSuite('btrfs');
