/**
 * Text and JSON rendering of an fsck report (`iomapsim fsck IMAGE`): the
 * slots, the checked state's counts, then every problem with its location.
 */
import type { FsckReport } from '../image/fsck.js';
import { plainStyle, type TextStyle } from './text.js';

function slotLine(slot: FsckReport['slots'][number]): string {
  const generation = slot.generation === undefined ? '' : `, generation ${slot.generation}`;
  const problem = slot.problem === undefined ? '' : `: ${slot.problem}`;
  return `slot ${slot.slot}: ${slot.status}${generation}${slot.inUse ? ' (in use)' : ''}${problem}`;
}

/** The text report. */
export function renderFsck(report: FsckReport, style: TextStyle = plainStyle): string {
  if (!report.isImage) return `${style.label('fsck:')} ${report.image}: not an iomapsim image (${report.notImageReason})\n`;
  let text = `${style.label('fsck:')} ${report.image}\n`;
  for (const slot of report.slots) text += `  ${slotLine(slot)}\n`;
  const s = report.summary;
  if (s !== undefined) {
    text += `  checked: policy ${s.policy}, generation ${s.generation} (${s.opsApplied} trace ops), ${s.files} files, ${s.dirs} dirs, ${s.extents} extents\n`;
    text += `  blocks: ${s.blocksUsed} used, ${s.blocksShared} shared, ${s.blocksReserved} reserved, ${s.blocksFree} free\n`;
    const undo = s.undoLog;
    if (undo !== undefined && undo.records > 0) {
      const torn = undo.tornTail ? ' (a torn last record ignored)' : '';
      text += `  undo log: ${undo.blocks} block${undo.blocks === 1 ? '' : 's'} of generation ${undo.generation} restored from ${undo.records} record${undo.records === 1 ? '' : 's'}${torn}: the image was not closed cleanly\n`;
    }
  }
  if (report.ok) return `${text}${style.good('clean: no problems found')}\n`;
  text += style.bad(`${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} found:`) + '\n';
  for (const problem of report.problems) text += `  ${problem.where}: ${problem.problem}\n`;
  return text;
}

/** `fsck --json`: the report as is, 2-space indent, trailing newline. */
export function fsckToJson(report: FsckReport): string {
  const ordered = {
    image: report.image,
    isImage: report.isImage,
    notImageReason: report.notImageReason,
    ok: report.ok,
    slots: report.slots,
    summary: report.summary,
    problems: report.problems,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}
