/**
 * ext4 conformance: every case of ../shared/conformance replayed with the ext4
 * policy and compared with the kernel's ext4 layouts (test/conformance/suite.ts).
 */
import { defineConformanceSuite } from './suite.js';

defineConformanceSuite('ext4');
