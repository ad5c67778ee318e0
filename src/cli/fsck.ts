/**
 * `iomapsim fsck IMAGE`: a read-only check of an image's superblocks,
 * checkpoints, extent maps, free space and refcounts (src/image/fsck.ts).
 * Exit 0 clean, 1 problems found, 2 not an image.
 */
import path from 'node:path';
import type { Argv } from 'yargs';
import { fsckImage } from '../image/fsck.js';
import { fsckToJson, renderFsck } from '../report/fscktext.js';
import type { CliContext } from './context.js';
import { ExitCode } from './exit.js';

export interface FsckArgs {
  image: string;
  json: boolean;
}

/** Runs fsck; the report goes to stdout whatever it says (the exit code tells). */
export function runFsck(args: FsckArgs, context: CliContext): number {
  const report = fsckImage(path.resolve(context.cwd, args.image));
  const shown = { ...report, image: args.image };
  context.io.stdout(args.json ? fsckToJson(shown) : renderFsck(shown, context.style));
  if (!report.isImage) {
    if (!args.json) context.io.stderr(`hint: give the path of an image written by \`iomapsim replay --image\`\n`);
    return ExitCode.usage;
  }
  return report.ok ? ExitCode.ok : ExitCode.failed;
}

export function fsckBuilder(parser: Argv, epilogue: string): Argv {
  return parser
    .positional('image', { type: 'string', describe: 'image written by iomapsim replay' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
    .example('$0 fsck demo.img', 'check superblocks, checkpoints, extents, free space and refcounts')
    .epilogue(`fsck exit codes: 0 clean, 1 problems found, 2 not an iomapsim image.\n\n${epilogue}`);
}
