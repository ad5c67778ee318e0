/**
 * What the CLI needs from the rest of iomapsim, as one narrow interface: the
 * real binding is engine.ts (loaded lazily), tests pass their own. Image
 * calls may be synchronous or asynchronous: the CLI awaits them all.
 */
import type { BlockDevice } from '../device/blockdev.js';
import type { ImageMetadata } from '../image/types.js';
import type { ImageSummaryView, VerifyView } from '../report/layout.js';
import type { ReplayOptions, ReplayOutcome } from '../replay/types.js';
import type { BadLineLog } from '../trace/skipbad.js';
import type { TraceOp } from '../trace/types.js';
import type { FormatChoice } from './options.js';

export type Awaitable<T> = T | Promise<T>;

/** An open image file as the CLI uses it. */
export interface CliImage {
  /** The image's data area, passed to the replay as ReplayOptions.device. */
  readonly device: BlockDevice;
  /** Why open() fell back to an older checkpoint, one sentence each (empty normally). */
  readonly warnings: readonly string[];
  /** Commits the metadata of a finished (or Ctrl-C'd) run. */
  commit(metadata: ImageMetadata): Awaitable<void>;
  /**
   * Commits `metadata` synchronously at a sync point of the replay
   * (ReplayOptions.onCheckpoint) and returns the checkpoint generation
   * written. Absent: the image takes no checkpoint until the end of the run.
   */
  checkpoint?(metadata: ImageMetadata): number;
  readMetadata(): Awaitable<ImageMetadata>;
  close(): Awaitable<void>;
  /**
   * Closes the image as a killed process would leave it (the `crash` fault):
   * no commit, and writes still gathered in memory are lost, so it opens at
   * its last checkpoint. Absent: close().
   */
  abandon?(): Awaitable<void>;
  summarize(metadata: ImageMetadata): Awaitable<ImageSummaryView>;
  verify(metadata: ImageMetadata): Awaitable<VerifyView>;
}

export interface ImageCreateParams {
  blockSize: number;
  deviceSize: number;
  policy: string;
  seed: number;
  /** --no-data: mark the image metadata-only (no data is written to it). */
  metadataOnly?: boolean;
}

export interface OpenedTrace {
  /** The detected (or forced) format name. */
  format: string;
  ops: AsyncIterable<TraceOp>;
  /** 'content' when `--format auto` sniffed the format (the CLI says so on stderr); undefined when forced. */
  detectedBy?: 'extension' | 'content';
}

export interface CliEngine {
  /** Registered mapping policies, for --policy. */
  listPolicies(): string[];
  /** Opens a trace and detects its format; TraceError for a missing file or unknown format. */
  openTrace(path: string, options: { format?: FormatChoice; displayName?: string; badLines?: BadLineLog }): Promise<OpenedTrace>;
  replay(ops: AsyncIterable<TraceOp>, options: ReplayOptions): Promise<ReplayOutcome>;
  /** Creates (or with force overwrites) an image; ImageError 'exists'/'foreign' when it refuses. */
  createImage(path: string, params: ImageCreateParams, options: { force: boolean }): Promise<CliImage>;
  /** Opens an existing image; ImageError when missing, foreign or corrupt. */
  openImage(path: string, options: { writable: boolean }): Promise<CliImage>;
}
