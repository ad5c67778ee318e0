/**
 * Text rendering of a Comparison (`iomapsim compare`): a table per file
 * with one row per policy, then the per-policy totals and failed ops.
 * Numbers are right-aligned; the best figure of a column is not judged
 * (fewer extents is not always better), only shown.
 */
import type { Comparison, PolicyFileStats, PolicyTotals } from './compare.js';
import { plainStyle, renderOpError, type TextStyle } from './text.js';

/** Failed ops listed per policy in text output. */
const COMPARE_ERRORS_MAX = 5;

/** "1536", "12.0K", "1.5M": bytes in at most 7 columns (binary units). */
export function shortBytes(bytes: number): string {
  if (bytes < 10000) return String(bytes);
  const units = ['K', 'M', 'G', 'T', 'P'];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)}${units[unit]}`;
}

interface Column<T> {
  title: string;
  value: (row: T) => string;
}

const FILE_COLUMNS: Column<PolicyFileStats>[] = [
  { title: 'size', value: (row) => shortBytes(row.size) },
  { title: 'extents', value: (row) => String(row.extents) },
  { title: 'frags', value: (row) => String(row.fragments) },
  { title: 'blocks', value: (row) => String(row.allocatedBlocks) },
  { title: 'dev-written', value: (row) => shortBytes(row.deviceBytesWritten) },
  { title: 'cow', value: (row) => String(row.cowBlocks) },
  { title: 'prealloc', value: (row) => String(row.preallocBlocks) },
  { title: 'shared', value: (row) => String(row.sharedBlocks) },
];

const TOTAL_COLUMNS: Column<PolicyTotals>[] = [
  { title: 'files', value: (row) => String(row.files) },
  { title: 'extents', value: (row) => String(row.extents) },
  { title: 'frags', value: (row) => String(row.fragments) },
  { title: 'blocks', value: (row) => String(row.allocatedBlocks) },
  { title: 'free', value: (row) => String(row.blocksFree) },
  { title: 'dev-written', value: (row) => shortBytes(row.deviceBytesWritten) },
  { title: 'WA', value: (row) => (row.writeAmplification === undefined ? '-' : row.writeAmplification.toFixed(2)) },
  { title: 'cow', value: (row) => String(row.cowBlocks) },
  { title: 'prealloc', value: (row) => String(row.preallocBlocks) },
  { title: 'shared', value: (row) => String(row.sharedBlocks) },
  { title: 'failed', value: (row) => String(row.opsFailed) },
  { title: 'MB/s', value: (row) => (row.mbPerSecond === undefined ? '-' : row.mbPerSecond.toFixed(1)) },
];

/** A table: a header row, then one row per policy (null: "absent" across the columns). */
function renderTable<T>(policies: readonly string[], rows: readonly (T | null)[], columns: readonly Column<T>[], style: TextStyle, indent: string): string {
  const policyWidth = Math.max(6, ...policies.map((policy) => policy.length));
  const cells = rows.map((row) => (row === null ? null : columns.map((column) => column.value(row))));
  const widths = columns.map((column, index) => Math.max(column.title.length, ...cells.map((row) => (row === null ? 0 : row[index]!.length))));
  let text = `${indent}${style.label(['policy'.padEnd(policyWidth), ...columns.map((column, index) => column.title.padStart(widths[index]!))].join('  '))}\n`;
  policies.forEach((policy, rowIndex) => {
    const row = cells[rowIndex];
    const body = row === null ? style.dim('(no such file)') : row.map((cell, index) => cell.padStart(widths[index]!)).join('  ');
    text += `${indent}${policy.padEnd(policyWidth)}  ${body}\n`;
  });
  return text;
}

/** The whole text report of a comparison. O(files × policies). */
export function renderComparison(comparison: Comparison, style: TextStyle = plainStyle): string {
  const { policies } = comparison;
  let text = `${style.label('compare:')} ${comparison.trace} under ${policies.join(', ')} (block size ${comparison.blockSize}, device ${shortBytes(comparison.deviceSize)}, seed ${comparison.seed})\n`;
  text += style.dim('columns: extents (FIEMAP), frags (physically contiguous pieces), blocks (st_blocks), dev-written (bytes to the device),\n');
  text += style.dim('         cow (blocks written out of place), prealloc (unwritten or past-EOF blocks), shared (reflinked blocks)\n');
  for (const file of comparison.files) {
    text += `\n${style.label(file.path)}\n`;
    text += renderTable(policies, policies.map((policy) => file.byPolicy[policy] ?? null), FILE_COLUMNS, style, '  ');
  }
  if (comparison.files.length === 0) text += `\n${style.dim('no regular files')}\n`;
  text += `\n${style.label('totals')}\n`;
  text += renderTable(policies, policies.map((policy) => comparison.totals[policy] ?? null), TOTAL_COLUMNS, style, '  ');
  for (const policy of policies) {
    const errors = comparison.errors[policy] ?? [];
    if (errors.length === 0) continue;
    text += `\n${style.bad(`${policy}: ${errors.length} op${errors.length === 1 ? '' : 's'} failed`)}\n`;
    for (const error of errors.slice(0, COMPARE_ERRORS_MAX)) text += `  ${renderOpError(error)}\n`;
    if (errors.length > COMPARE_ERRORS_MAX) text += style.dim(`  ... and ${errors.length - COMPARE_ERRORS_MAX} more (all are in --json output)\n`);
  }
  return text;
}
