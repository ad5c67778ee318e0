/**
 * The on-disk image (docs/image-format.md): the ImageFile block device with
 * checkpointed metadata, and the readers `inspect` uses on it.
 */
export { ImageFile, isIomapsimImage, chooseCheckpointOffset } from './image.js';
export type { ImageCreateParams, ImageOpenOptions, Superblock } from './image.js';
export { summarizeImage } from './summary.js';
export type { ImageSummary } from './summary.js';
export { verifyImage } from './verify.js';
export type { VerifyMismatch, VerifyReport, VerifyOptions } from './verify.js';
export { metadataProblem } from './validate.js';
export { IMAGE_FORMAT_VERSION, IMAGE_FORMAT_MINOR, IMAGE_FLAG_METADATA_ONLY, IMAGE_FLAG_UNDO_LOG, IMAGE_MAGIC, CHECKPOINT_MAGIC, HEADER_REGION_BYTES } from './format.js';
