/**
 * XFS conformance: every case of ../shared/conformance replayed with the xfs
 * policy and compared with the kernel's XFS layouts (test/conformance/suite.ts).
 */
import { defineConformanceSuite } from './suite.js';

defineConformanceSuite('xfs');
