/**
 * The real CliEngine: binds the CLI to the trace readers, the replay driver,
 * the policy registry and the image file. main.ts imports it lazily so that
 * argument handling can be tested with a stand-in engine.
 */
import { listPolicies } from '../fs/registry.js';
import { ImageFile, summarizeImage, verifyImage } from '../image/index.js';
import { replay } from '../replay/replay.js';
import { openTrace } from '../trace/detect.js';
import type { CliEngine, CliImage } from './types.js';

function cliImage(file: ImageFile): CliImage {
  return {
    device: file,
    warnings: file.warnings,
    commit: (metadata) => {
      file.commit(metadata);
    },
    checkpoint: (metadata) => file.commit(metadata),
    readMetadata: () => file.readMetadata(),
    close: () => file.close(),
    abandon: () => file.abandon(),
    summarize: (metadata) => summarizeImage(file, metadata),
    verify: (metadata) => verifyImage(file, metadata),
  };
}

export const engine: CliEngine = {
  listPolicies: () => listPolicies(),
  openTrace: (tracePath, options) => openTrace(tracePath, options),
  replay: (ops, options) => replay(ops, options),
  createImage: async (imagePath, params, options) => cliImage(await ImageFile.create(imagePath, params, options)),
  openImage: async (imagePath, options) => cliImage(await ImageFile.open(imagePath, options)),
};
