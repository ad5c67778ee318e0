/**
 * The HTML report of a replay (`replay --report FILE.html`): one
 * self-contained file (inline CSS and SVG, no scripts, no external
 * resources) with the run's header, the device map, one extent bar per file,
 * throughput and latency over time from the device model, and the stats
 * tables. Every user string (paths, trace names, messages) is escaped. The
 * output depends only on the input: no dates, no random ids.
 */
import type { BlockRun } from '../image/types.js';
import { assert } from '../util/assert.js';
import { deviceGrid, deviceRuns, fileLetter, isMappedExtent, ownerKey, type DeviceRun, type MapCell } from './map.js';
import type { DeviceStats, ExtentRecord, FileLayout, LatencyStats, ReplayResult } from './model.js';
import { COLOR_DELALLOC, COLOR_FREE, COLOR_RESERVED, escapeXml, fileColor, groupDigits, renderChart, svgNumber } from './svg.js';
import { formatBytes } from './text.js';

/** What the report is drawn from: the replay's result and the filesystem's reserved runs (ImageMetadata.reserved). */
export interface HtmlReportInput {
  result: ReplayResult;
  reserved: readonly BlockRun[];
}

/** Files drawn as extent bars (and listed in the map legend) before a note says how many were left out. */
export const HTML_FILES_MAX = 200;
/** Errors listed before "... and N more". */
export const HTML_ERRORS_MAX = 100;
/** Above this many runs the SVG map is drawn from a grid of majority owners (SVG_MAP_GRID_COLUMNS a row) instead of exact runs. */
export const SVG_MAP_RUNS_MAX = 20000;
export const SVG_MAP_GRID_COLUMNS = 500;

const MAP_WIDTH = 1000;
const MAP_LABEL_WIDTH = 72;
const MAP_ROWS_MAX = 64;
const MAP_ROW_HEIGHT = 9;
const MAP_ROW_GAP = 2;
/** Runs narrower than this (in SVG units) are widened so a single block stays visible. */
const RECT_WIDTH_MIN = 1;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 24px; max-width: 1120px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; margin: 8px 0; } caption { text-align: left; font-weight: 600; padding: 2px 0; } th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f4f4f4; }
ul.legend { list-style: none; padding: 0; columns: 2; font-size: 13px; } ul.legend li { margin: 2px 0; }
svg.swatch { vertical-align: middle; margin-right: 4px; } .note { color: #666; font-style: italic; }
.warn { color: #a00; font-weight: 600; } svg { max-width: 100%; height: auto; } code { font-size: 13px; }
`;

/** One `<tr>`: the first cell a header, the others numbers when they are numbers. */
function tableRow(cells: readonly (string | number)[], header = false): string {
  const cellTag = (cell: string | number): string => {
    if (header) return `<th>${escapeXml(String(cell))}</th>`;
    return typeof cell === 'number' ? `<td class="n">${groupDigits(cell)}</td>` : `<td>${escapeXml(cell)}</td>`;
  };
  return `<tr>${cells.map(cellTag).join('')}</tr>`;
}

function table(caption: string, head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return `<table><caption>${escapeXml(caption)}</caption><thead>${tableRow(head, true)}</thead><tbody>${rows.map((row) => tableRow(row)).join('')}</tbody></table>`;
}

function renderHeader(result: ReplayResult): string {
  const items: [string, string][] = [
    ['trace', result.trace],
    ['policy', result.policy],
    ['seed', String(result.seed)],
    ['block size', `${result.blockSize} bytes`],
    ['device size', formatBytes(result.deviceSize)],
    ['tool', result.tool],
  ];
  if (result.image !== undefined) items.push(['image', result.image]);
  let html = `<header><h1>iomapsim report: ${escapeXml(result.trace)}</h1><dl class="meta">`;
  html += items.map(([key, value]) => `<dt>${escapeXml(key)}</dt><dd>${escapeXml(value)}</dd>`).join('');
  html += '</dl>';
  if (result.interrupted === true) html += '<p class="warn">The replay was interrupted before the end of the trace: no final sync ran.</p>';
  return `${html}</header>`;
}

/** A small square of colour for legends; `hatched` overlays the unwritten hatch, `outlined` the shared outline. */
function swatch(color: string, options: { hatched?: boolean; outlined?: boolean } = {}): string {
  const stroke = options.outlined === true ? ' stroke="#000" stroke-width="2"' : '';
  let svg = `<svg class="swatch" xmlns="http://www.w3.org/2000/svg" width="14" height="14" viewBox="0 0 14 14"><rect x="1" y="1" width="12" height="12" fill="${color}"${stroke}/>`;
  if (options.hatched === true) {
    for (const offset of [-8, -2, 4, 10]) svg += `<line x1="${offset}" y1="13" x2="${offset + 12}" y2="1" stroke="#000" stroke-opacity="0.5"/>`;
  }
  return `${svg}</svg>`;
}

/** A diagonal hatch pattern (transparent background) with a per-SVG id. */
function hatchPattern(id: string): string {
  return (
    `<defs><pattern id="${id}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">` +
    '<rect width="6" height="6" fill="#fff" fill-opacity="0.35"/><line x1="0" y1="0" x2="0" y2="6" stroke="#000" stroke-opacity="0.45" stroke-width="2"/></pattern></defs>'
  );
}

/** The runs the SVG map draws: exact runs, or maximal same-owner stretches of grid cells when there are too many. */
function mapRuns(runs: DeviceRun[], deviceBlocks: number): { runs: DeviceRun[]; blocksPerRow: number; blocksPerCell: number } {
  const blocksPerRow = Math.max(1, Math.ceil(deviceBlocks / MAP_ROWS_MAX), Math.min(deviceBlocks, 256));
  if (runs.length <= SVG_MAP_RUNS_MAX) return { runs, blocksPerRow, blocksPerCell: 1 };
  const grid = deviceGrid(runs, deviceBlocks, { columns: SVG_MAP_GRID_COLUMNS, rowsMax: MAP_ROWS_MAX });
  const gridRuns: DeviceRun[] = [];
  grid.cells.forEach((cell: MapCell, index) => {
    if (cell.kind === 'free') return;
    const last = gridRuns[gridRuns.length - 1];
    const startBlock = index * grid.blocksPerCell;
    const blockCount = Math.min(grid.blocksPerCell, deviceBlocks - startBlock);
    if (last !== undefined && last.startBlock + last.blockCount === startBlock && ownerKey(last.owner) === ownerKey(cell)) last.blockCount += blockCount;
    else gridRuns.push({ startBlock, blockCount, owner: cell });
  });
  return { runs: gridRuns, blocksPerRow: grid.columns * grid.blocksPerCell, blocksPerCell: grid.blocksPerCell };
}

/** The rects of one run, split where it wraps to the next row. */
function runRects(run: DeviceRun, blocksPerRow: number, hatchId: string): string {
  const scale = (MAP_WIDTH - MAP_LABEL_WIDTH) / blocksPerRow;
  const unwritten = run.owner.kind === 'file' && run.owner.unwritten;
  const shared = run.owner.kind === 'shared';
  let svg = '';
  let block = run.startBlock;
  const endBlock = run.startBlock + run.blockCount;
  while (block < endBlock) {
    const row = Math.floor(block / blocksPerRow);
    const rowEnd = Math.min(endBlock, (row + 1) * blocksPerRow);
    const geometry =
      `x="${svgNumber(MAP_LABEL_WIDTH + (block - row * blocksPerRow) * scale)}" y="${row * (MAP_ROW_HEIGHT + MAP_ROW_GAP)}" ` +
      `width="${svgNumber(Math.max(RECT_WIDTH_MIN, (rowEnd - block) * scale))}" height="${MAP_ROW_HEIGHT}"`;
    const fill = shared ? ` fill="${fileColor(run.owner.kind === 'shared' ? run.owner.fileIndex : 0)}" stroke="#000" stroke-width="1"` : '';
    svg += `<rect ${geometry}${fill}/>`;
    if (unwritten) svg += `<rect ${geometry} fill="url(#${hatchId})"/>`;
    block = rowEnd;
  }
  return svg;
}

/** Runs grouped by owner: one <g> per file (written and unwritten together), one for shared blocks, one for reserved. */
function groupRuns(runs: readonly DeviceRun[]): Map<string, DeviceRun[]> {
  const groups = new Map<string, DeviceRun[]>();
  for (const run of runs) {
    const key = run.owner.kind === 'file' ? `file:${run.owner.fileIndex}` : run.owner.kind;
    const list = groups.get(key) ?? [];
    list.push(run);
    groups.set(key, list);
  }
  return groups;
}

function mapGroup(key: string, runs: readonly DeviceRun[], files: readonly FileLayout[], blocksPerRow: number): string {
  const blocks = runs.reduce((sum, run) => sum + run.blockCount, 0);
  const rects = runs.map((run) => runRects(run, blocksPerRow, 'map-hatch')).join('');
  if (key === 'reserved') return `<g class="reserved" fill="${COLOR_RESERVED}"><title>filesystem metadata (reserved): ${groupDigits(blocks)} blocks</title>${rects}</g>`;
  if (key === 'shared') return `<g class="shared"><title>shared (reflink): ${groupDigits(blocks)} blocks</title>${rects}</g>`;
  const fileIndex = Number(key.slice('file:'.length));
  const file = files[fileIndex]!;
  return `<g class="file" data-file="${fileIndex}" fill="${fileColor(fileIndex)}"><title>${escapeXml(file.path)}: ${groupDigits(blocks)} blocks</title>${rects}</g>`;
}

function mapRowsBackground(deviceBlocks: number, blocksPerRow: number): string {
  const rows = Math.ceil(deviceBlocks / blocksPerRow);
  const scale = (MAP_WIDTH - MAP_LABEL_WIDTH) / blocksPerRow;
  let svg = `<g class="free" fill="${COLOR_FREE}">`;
  let labels = '<g class="row-labels" font-size="9" fill="#555" text-anchor="end">';
  for (let row = 0; row < rows; row++) {
    const y = row * (MAP_ROW_HEIGHT + MAP_ROW_GAP);
    const blocks = Math.min(blocksPerRow, deviceBlocks - row * blocksPerRow);
    svg += `<rect x="${MAP_LABEL_WIDTH}" y="${y}" width="${svgNumber(blocks * scale)}" height="${MAP_ROW_HEIGHT}"/>`;
    labels += `<text x="${MAP_LABEL_WIDTH - 4}" y="${y + MAP_ROW_HEIGHT - 1}">${row * blocksPerRow}</text>`;
  }
  return `${svg}</g>${labels}</g>`;
}

/** The device map as one <svg>: a row background per blocksPerRow blocks (free space), then owner groups on top. */
function renderMapSvg(result: ReplayResult, reserved: readonly BlockRun[]): { svg: string; note: string } {
  const deviceBlocks = Math.floor(result.deviceSize / result.blockSize);
  const exact = deviceRuns({ files: result.files, reserved, deviceBlocks, blockSize: result.blockSize });
  const { runs, blocksPerRow, blocksPerCell } = mapRuns(exact, deviceBlocks);
  const rows = Math.ceil(deviceBlocks / blocksPerRow);
  const height = Math.max(1, rows * (MAP_ROW_HEIGHT + MAP_ROW_GAP));
  let svg = `<svg class="device-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${MAP_WIDTH} ${height}" width="${MAP_WIDTH}" height="${height}" role="img" aria-label="device map">`;
  svg += hatchPattern('map-hatch') + mapRowsBackground(deviceBlocks, blocksPerRow);
  const groups = groupRuns(runs);
  for (const key of ['reserved', ...[...groups.keys()].filter((name) => name.startsWith('file:')), 'shared']) {
    const list = groups.get(key);
    if (list !== undefined) svg += mapGroup(key, list, result.files, blocksPerRow);
  }
  svg += '</svg>';
  let note = `Each row is ${groupDigits(blocksPerRow)} blocks (${formatBytes(blocksPerRow * result.blockSize)}); the number on the left is the row's first block.`;
  note += ' Runs narrower than a pixel are widened to one so single blocks stay visible.';
  if (blocksPerCell > 1) {
    note += ` The layout has ${groupDigits(exact.length)} runs: drawn from cells of ${groupDigits(blocksPerCell)} blocks, each in the colour of the owner of most of its blocks.`;
  }
  return { svg, note };
}

function legendFileItem(file: FileLayout, fileIndex: number): string {
  const mapped = file.extents.filter(isMappedExtent);
  const blocks = mapped.reduce((sum, extent) => sum + extent.length, 0);
  const extents = `${groupDigits(mapped.length)} extent${mapped.length === 1 ? '' : 's'}`;
  return `<li>${swatch(fileColor(fileIndex))}<b>${fileLetter(fileIndex)}</b> <code>${escapeXml(file.path)}</code>: ${groupDigits(blocks)} block${blocks === 1 ? '' : 's'} in ${extents}</li>`;
}

function renderMapSection(input: HtmlReportInput): string {
  const { result } = input;
  const { svg, note } = renderMapSvg(result, input.reserved);
  let html = '<section id="device-map"><h2>Device map</h2>';
  html += `<p>Every block of the device (${groupDigits(Math.floor(result.deviceSize / result.blockSize))} blocks of ${result.blockSize} bytes), in address order, row after row. ${escapeXml(note)}</p>`;
  html += svg + '<ul class="legend">';
  html += `<li>${swatch(COLOR_FREE)}free</li><li>${swatch(COLOR_RESERVED)}filesystem metadata (reserved)</li>`;
  html += `<li>${swatch('#ffffff', { hatched: true })}unwritten (hatched, in the file's colour)</li><li>${swatch('#ffffff', { outlined: true })}shared (reflink; outlined)</li>`;
  html += result.files.slice(0, HTML_FILES_MAX).map(legendFileItem).join('');
  html += '</ul>';
  if (result.files.length > HTML_FILES_MAX) html += `<p class="note">${groupDigits(result.files.length - HTML_FILES_MAX)} more files are on the map but not in the legend.</p>`;
  return `${html}</section>`;
}

/** Extents of one class that touch on screen merge into one rect, so a file with 100000 extents stays drawable. */
interface BarPiece {
  logical: number;
  length: number;
  kind: 'written' | 'unwritten' | 'delalloc';
  shared: boolean;
}

function barPieces(extents: readonly ExtentRecord[], scale: number): BarPiece[] {
  const pieces: BarPiece[] = [];
  for (const extent of extents) {
    if (extent.length <= 0) continue;
    const kind = extent.flags.includes('delalloc') ? 'delalloc' : extent.flags.includes('unwritten') ? 'unwritten' : 'written';
    const shared = extent.flags.includes('shared');
    const last = pieces[pieces.length - 1];
    const gapUnits = last === undefined ? Infinity : (extent.logical - (last.logical + last.length)) * scale;
    const lastWidthUnits = last === undefined ? 0 : last.length * scale;
    if (last !== undefined && last.kind === kind && last.shared === shared && gapUnits < 0.5 && lastWidthUnits + gapUnits < 4096) {
      last.length = extent.logical + extent.length - last.logical;
    } else {
      pieces.push({ logical: extent.logical, length: extent.length, kind, shared });
    }
  }
  return pieces;
}

const BAR_LABEL_WIDTH = 300;
const BAR_WIDTH = 580;
const BAR_ROW_HEIGHT = 22;

/** A path shortened from the left to fit the label column (the full path is in the row's tooltip). */
function shortPath(text: string, charsMax = 46): string {
  return text.length <= charsMax ? text : `…${text.slice(text.length - charsMax + 1)}`;
}

function fileBarRow(file: FileLayout, fileIndex: number, blockSize: number, row: number): string {
  const extentEnd = file.extents.reduce((max, extent) => Math.max(max, extent.logical + extent.length), 0);
  const logicalBlocks = Math.max(1, Math.ceil(file.size / blockSize), extentEnd);
  const scale = BAR_WIDTH / logicalBlocks;
  const y = row * BAR_ROW_HEIGHT;
  let svg = `<g class="file-bar" data-file="${fileIndex}"><title>${escapeXml(file.path)}: ${groupDigits(file.size)} bytes, ${groupDigits(file.extents.length)} extents</title>`;
  svg += `<text x="${BAR_LABEL_WIDTH - 6}" y="${y + 14}" text-anchor="end">${escapeXml(shortPath(file.path))}</text>`;
  svg += `<rect x="${BAR_LABEL_WIDTH}" y="${y + 9}" width="${BAR_WIDTH}" height="2" fill="#ccc"/>`;
  for (const piece of barPieces(file.extents, scale)) {
    const geometry = `x="${svgNumber(BAR_LABEL_WIDTH + piece.logical * scale)}" y="${y + 3}" width="${svgNumber(Math.max(RECT_WIDTH_MIN, piece.length * scale))}" height="14"`;
    const fill = piece.kind === 'delalloc' ? COLOR_DELALLOC : fileColor(fileIndex);
    const stroke = piece.shared ? ' stroke="#000" stroke-width="1.5"' : '';
    svg += `<rect class="${piece.kind}${piece.shared ? ' shared' : ''}" ${geometry} fill="${fill}"${stroke}/>`;
    if (piece.kind === 'unwritten') svg += `<rect ${geometry} fill="url(#bars-hatch)"/>`;
  }
  svg += `<text x="${BAR_LABEL_WIDTH + BAR_WIDTH + 8}" y="${y + 14}">${groupDigits(logicalBlocks)} blk, ${groupDigits(file.extents.length)} ext</text>`;
  return `${svg}</g>`;
}

function renderFilesSection(result: ReplayResult): string {
  let html = '<section id="files"><h2>File layouts</h2>';
  html += '<p>One row per file, on the file\'s logical axis (block 0 at the left, its size or last extent at the right). ';
  html += `Extents are bars in the file's colour and holes are gaps; unwritten extents are hatched, shared ones outlined, delayed allocation (no block yet) is grey.</p>`;
  const shown = result.files.slice(0, HTML_FILES_MAX);
  if (shown.length === 0) return `${html}<p class="note">no files</p></section>`;
  const width = BAR_LABEL_WIDTH + BAR_WIDTH + 130;
  const height = shown.length * BAR_ROW_HEIGHT;
  html += `<svg class="file-bars" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-size="12" role="img" aria-label="file layouts">`;
  html += hatchPattern('bars-hatch');
  html += shown.map((file, index) => fileBarRow(file, index, result.blockSize, index)).join('');
  html += '</svg>';
  if (result.files.length > HTML_FILES_MAX) {
    html += `<p class="note">Showing the first ${HTML_FILES_MAX} of ${groupDigits(result.files.length)} files; every file is in the JSON output (--json).</p>`;
  }
  return `${html}</section>`;
}

const MIB = 1024 * 1024;

function renderDeviceCharts(stats: DeviceStats): string {
  if (stats.series.length === 0) return '<p class="note">the device model recorded no per-second series</p>';
  const throughput = renderChart({
    title: 'Throughput per simulated second',
    xLabel: 'simulated time (s)',
    yLabel: 'MiB/s',
    kind: 'line',
    series: [
      { name: 'written', color: '#e15759', points: stats.series.map((point) => [point.second, point.bytesWritten / MIB] as const) },
      { name: 'read', color: '#4e79a7', points: stats.series.map((point) => [point.second, point.bytesRead / MIB] as const) },
    ],
  });
  const latency = renderChart({
    title: 'Mean latency per simulated second',
    xLabel: 'simulated time (s)',
    yLabel: 'µs',
    kind: 'bar',
    series: [{ name: 'mean latency', color: '#59a14f', points: stats.series.map((point) => [point.second, point.meanLatencyUs] as const) }],
  });
  return throughput + latency;
}

function latencyRow(name: string, stats: LatencyStats): (string | number)[] {
  const round = (value: number): number => Math.round(value * 10) / 10;
  return [name, stats.count, stats.bytes, round(stats.iops), round(stats.mbPerSecond), round(stats.meanUs), round(stats.p50Us), round(stats.p90Us), round(stats.p99Us), round(stats.p999Us), round(stats.maxUs)];
}

function renderDeviceTables(stats: DeviceStats): string {
  const round = (value: number): number => Math.round(value * 1000) / 1000;
  const summary: (string | number)[][] = [
    ['model', `${stats.model} (${Object.keys(stats.params).sort().map((key) => `${key}=${stats.params[key]}`).join(', ')})`],
    ['loop', stats.loop],
    ['simulated seconds', round(stats.simulatedSeconds)],
    ['page cache hits / misses', `${groupDigits(stats.pageCache.hits)} / ${groupDigits(stats.pageCache.misses)} (hit ratio ${round(stats.pageCache.hitRatio)})`],
    ['write amplification', `${round(stats.writeAmplification.ratio)} (${groupDigits(stats.writeAmplification.userBytesWritten)} user bytes, ${groupDigits(stats.writeAmplification.deviceBytesWritten)} device bytes)`],
    ['requests submitted / merged / dispatched', `${groupDigits(stats.requests.submitted)} / ${groupDigits(stats.requests.merged)} / ${groupDigits(stats.requests.dispatched)}`],
    ['extents per file', round(stats.fragmentation.extentsPerFile)],
  ];
  const causes = Object.keys(stats.writeAmplification.byCause).sort().map((cause) => [cause, stats.writeAmplification.byCause[cause]!]);
  const latencyHead = ['ops', 'count', 'bytes', 'IOPS', 'MB/s', 'mean µs', 'p50 µs', 'p90 µs', 'p99 µs', 'p99.9 µs', 'max µs'];
  const latencyRows = [latencyRow('all', stats.overall), ...Object.keys(stats.perOp).sort().map((op) => latencyRow(op, stats.perOp[op]!))];
  return table('device model', ['figure', 'value'], summary) + table('device bytes written by cause', ['cause', 'bytes'], causes) + table('latency (simulated time)', latencyHead, latencyRows);
}

function renderDeviceSection(result: ReplayResult): string {
  const html = '<section id="device-stats"><h2>Throughput and latency</h2>';
  if (result.deviceStats === undefined) return `${html}<p class="note">no device model statistics in this run</p></section>`;
  return `${html}${renderDeviceCharts(result.deviceStats)}${renderDeviceTables(result.deviceStats)}</section>`;
}

function renderStatsSection(result: ReplayResult): string {
  const stats = result.stats;
  const totals: (string | number)[][] = [
    ['ops', stats.opsTotal], ['ops failed', stats.opsFailed], ['bytes written', stats.bytesWritten], ['bytes read', stats.bytesRead],
    ['device bytes written', stats.deviceBytesWritten], ['device bytes read', stats.deviceBytesRead], ['files', stats.files],
    ['dirs', result.dirs.length], ['extents', stats.extents], ['blocks allocated', stats.blocksAllocated], ['blocks free', stats.blocksFree],
    ['errors', result.errors.length], ['traced failures', result.tracedFailures.length],
  ];
  let html = '<section id="stats"><h2>Statistics</h2>' + table('totals', ['figure', 'value'], totals);
  html += table('ops by kind', ['op', 'count'], Object.keys(stats.ops).sort().map((kind) => [kind, stats.ops[kind]!]));
  const ignored = Object.keys(stats.opsIgnored).sort();
  if (ignored.length > 0) html += table('trace records not applied', ['reason', 'count'], ignored.map((reason) => [reason, stats.opsIgnored[reason]!]));
  html += renderErrorsTable(result);
  return `${html}</section>`;
}

function renderErrorsTable(result: ReplayResult): string {
  if (result.errors.length === 0) return '<p>errors: none</p>';
  const rows = result.errors.slice(0, HTML_ERRORS_MAX).map((error) => [error.at, error.op, error.path ?? '', error.errno, error.message]);
  let html = table('ops that failed', ['at', 'op', 'path', 'errno', 'message'], rows);
  if (result.errors.length > HTML_ERRORS_MAX) {
    html += `<p class="note">... and ${groupDigits(result.errors.length - HTML_ERRORS_MAX)} more (all are in --json output)</p>`;
  }
  return html;
}

/**
 * The whole report as one HTML5 document (UTF-8, inline CSS and SVG, no
 * scripts or external resources). Deterministic: the same input gives the
 * same bytes. O(extents log extents + series points).
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const { result } = input;
  assert(result.blockSize > 0 && result.deviceSize >= 0, 'report needs a block and device size', { blockSize: result.blockSize, deviceSize: result.deviceSize });
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n<meta name="viewport" content="width=device-width, initial-scale=1"/>\n' +
    `<title>iomapsim report: ${escapeXml(result.trace)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n` +
    `${renderHeader(result)}\n${renderMapSection(input)}\n${renderFilesSection(result)}\n${renderDeviceSection(result)}\n${renderStatsSection(result)}\n` +
    '</body>\n</html>\n'
  );
}
