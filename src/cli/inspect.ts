/**
 * `iomapsim inspect IMAGE`: the superblock summary, free space, every file's
 * layout in `filefrag -v` style and, with --verify, a byte-for-byte check of
 * file contents against the payload rule (exit 1 on a mismatch).
 */
import path from 'node:path';
import { writeInspectJson } from '../report/json.js';
import { layoutsFromPersisted } from '../report/layout.js';
import { mapStyleFor, renderDeviceMap } from '../report/map.js';
import type { FileLayout } from '../report/model.js';
import type { ImageSummaryView, VerifyView } from '../report/layout.js';
import { renderImageSummary, renderVerify, writeFileLayouts, writeInspect, type TextStyle } from '../report/text.js';
import { ImageError, UsageError } from '../util/errors.js';
import type { CliContext } from './context.js';
import { atBoundary, ExitCode } from './exit.js';
import type { CliImage } from './types.js';

export interface InspectArgs {
  image: string;
  json: boolean;
  verify: boolean;
  /** --map: print the device map after the layouts. */
  map?: boolean;
}

async function openImageFor(imageName: string, context: CliContext): Promise<CliImage> {
  const imagePath = path.resolve(context.cwd, imageName);
  return atBoundary(
    () => context.engine.openImage(imagePath, { writable: false }),
    (error) =>
      error.code === 'ENOENT'
        ? new ImageError(imageName, 'missing', 'no such image', 'replay a trace first: iomapsim replay TRACE --image PATH')
        : new ImageError(imageName, 'io', `cannot open the image (${error.code})`),
  );
}

/** What inspect says about an image replayed with --no-data (its data area holds no file data). */
export const METADATA_ONLY_TEXT = 'metadata only (replayed with --no-data): file contents were not kept';

/**
 * The text report: renderInspect, plus for a metadata-only image a `data:`
 * line under the image line and a verify line saying content was not checked.
 */
export function renderInspectText(summary: ImageSummaryView, files: readonly FileLayout[], verify: VerifyView | undefined, style: TextStyle, imageName: string): string {
  const chunks: string[] = [];
  writeInspectText(summary, files, verify, style, imageName, (chunk) => chunks.push(chunk));
  return chunks.join('');
}

/** renderInspectText's text handed to `emit` in pieces (layouts of millions of extents never become one string). */
export function writeInspectText(summary: ImageSummaryView, files: readonly FileLayout[], verify: VerifyView | undefined, style: TextStyle, imageName: string, emit: (chunk: string) => void): void {
  if (summary.metadataOnly !== true) {
    writeInspect(summary, files, verify, style, imageName, emit);
    return;
  }
  // writeInspect's parts, with the data line after the image line.
  const header = renderImageSummary(summary, style, imageName);
  const afterImageLine = header.indexOf('\n') + 1;
  emit(`${header.slice(0, afterImageLine)}${style.label('data:'.padEnd(9))}${METADATA_ONLY_TEXT}\n${header.slice(afterImageLine)}`);
  if (files.length > 0) {
    emit('\n');
    writeFileLayouts(files, summary.blockSize, { policy: summary.policy, deviceBlocks: summary.deviceBlocks }, emit);
  }
  if (verify === undefined) return;
  const notChecked = 'content not checked (metadata-only image, replayed with --no-data)';
  if (!verify.ok) emit(`\n${renderVerify(verify, style)}         ${notChecked}\n`);
  else emit(`\n${style.label('verify:'.padEnd(9))}${style.good('structure OK')}, ${verify.files} file${verify.files === 1 ? '' : 's'}; ${notChecked}\n`);
}

/** Runs inspect; returns 0, or 1 when --verify found mismatches; throws boundary errors. */
export async function runInspect(args: InspectArgs, context: CliContext): Promise<number> {
  if (args.map === true && args.json) throw new UsageError('--map cannot be combined with --json (JSON output is JSON only)');
  const image = await openImageFor(args.image, context);
  try {
    const metadata = await image.readMetadata();
    const summary = await image.summarize(metadata);
    const files = layoutsFromPersisted(metadata.inodes, metadata.blockSize, metadata.refcounts);
    const verify = args.verify ? await image.verify(metadata) : undefined;
    const warnings = [...image.warnings];
    for (const warning of warnings) context.io.stderr(`iomapsim: warning: ${args.image}: ${warning}\n`);
    if (args.json) {
      const input = { image: args.image, warnings, summary, files };
      writeInspectJson(verify === undefined ? input : { ...input, verify }, context.io.stdout);
    } else {
      writeInspectText(summary, files, verify, context.style, args.image, context.io.stdout);
      if (args.map === true) {
        const input = { files, reserved: metadata.reserved, deviceBlocks: Math.floor(metadata.deviceSize / metadata.blockSize), blockSize: metadata.blockSize };
        context.io.stdout(`\n${renderDeviceMap(input, { style: mapStyleFor(context.style) })}`);
      }
    }
    return verify !== undefined && !verify.ok ? ExitCode.failed : ExitCode.ok;
  } finally {
    await image.close();
  }
}
