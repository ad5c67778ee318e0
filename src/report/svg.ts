/**
 * SVG building blocks for the HTML report (html.ts): escaping, compact
 * numbers, the file colour palette, and line and bar charts with axes. Pure
 * string builders: the same input gives the same bytes (no clock, no random
 * ids), so reports are reproducible.
 */
import { assert } from '../util/assert.js';

/** Escapes text for an HTML or SVG text node or a double- or single-quoted attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A coordinate or length for an SVG attribute: at most two decimals, no trailing zeros, never "-0". */
export function svgNumber(value: number): string {
  assert(Number.isFinite(value), 'SVG coordinates must be finite', { value });
  const rounded = Math.round(value * 100) / 100;
  return String(rounded === 0 ? 0 : rounded);
}

/** File colours, cycling: distinct hues readable on white (Tableau 10 without its grey, and two more). */
export const FILE_COLORS: readonly string[] = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948',
  '#b07aa1', '#ff9da7', '#9c755f', '#17becf', '#bcbd22', '#6a3d9a',
];
export const COLOR_FREE = '#ececec';
export const COLOR_RESERVED = '#4a4a4a';
export const COLOR_DELALLOC = '#b8b8b8';

/** The colour of the file at `fileIndex` (the palette cycles every FILE_COLORS.length files). */
export function fileColor(fileIndex: number): string {
  assert(Number.isInteger(fileIndex) && fileIndex >= 0, 'file index must be a non-negative integer', { fileIndex });
  return FILE_COLORS[fileIndex % FILE_COLORS.length]!;
}

/** 1234567 → "1,234,567" without the locale (output must not depend on the machine). */
export function groupDigits(value: number): string {
  const [whole, fraction] = String(value).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** Axis ticks 0, step, 2·step, ... covering `max` with a 1-2-5 step, about `count` of them. */
export function niceTicks(max: number, count = 5): number[] {
  assert(Number.isFinite(max) && max >= 0 && count > 0, 'ticks need a finite maximum', { max, count });
  if (max === 0) return [0, 1];
  const rough = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rough)!;
  const ticks: number[] = [];
  for (let index = 0; index * step < max + step; index++) ticks.push(Math.round(index * step * 1e9) / 1e9);
  return ticks;
}

/** A short tick label: 1500000 → "1.5M", 0.25 → "0.25". */
export function tickLabel(value: number): string {
  const units: readonly [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, suffix] of units) {
    if (Math.abs(value) >= size) return `${Number((value / size).toPrecision(3))}${suffix}`;
  }
  return String(Number(value.toPrecision(3)));
}

/** One data series of a chart: y values at increasing x. */
export interface ChartSeries {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  kind: 'line' | 'bar';
  width?: number;
  height?: number;
}

const CHART_MARGIN = { left: 64, right: 16, top: 28, bottom: 40 };
/** Points drawn per series: longer series are averaged into this many buckets. */
export const CHART_POINTS_MAX = 600;

/** Averages consecutive points into at most `pointsMax` buckets (x and y both averaged). O(n). */
export function downsample(points: readonly (readonly [number, number])[], pointsMax = CHART_POINTS_MAX): [number, number][] {
  assert(pointsMax > 0, 'downsample needs a positive maximum', { pointsMax });
  const perBucket = Math.ceil(points.length / pointsMax);
  if (perBucket <= 1) return points.map(([x, y]) => [x, y]);
  const out: [number, number][] = [];
  for (let start = 0; start < points.length; start += perBucket) {
    const bucket = points.slice(start, start + perBucket);
    const sumX = bucket.reduce((sum, [x]) => sum + x, 0);
    const sumY = bucket.reduce((sum, [, y]) => sum + y, 0);
    out.push([sumX / bucket.length, sumY / bucket.length]);
  }
  return out;
}

interface Frame {
  x(value: number): number;
  y(value: number): number;
  plotWidth: number;
  plotHeight: number;
  xMax: number;
  yTicks: number[];
  xTicks: number[];
}

/** Series with at most this many points get a marker on each. */
const CHART_MARKERS_MAX = 60;

function chartFrame(series: readonly ChartSeries[], width: number, height: number): Frame {
  let xMax = 0;
  let yMax = 0;
  for (const one of series) {
    for (const [x, y] of one.points) {
      xMax = Math.max(xMax, x);
      yMax = Math.max(yMax, y);
    }
    // The last point is a bucket starting there: the axis reaches its end.
    const bucket = one.points.length > 1 ? one.points[1]![0] - one.points[0]![0] : 1;
    if (one.points.length > 0) xMax = Math.max(xMax, one.points[one.points.length - 1]![0] + bucket);
  }
  const yTicks = niceTicks(yMax);
  const xTicks = niceTicks(xMax, 8);
  const yTop = yTicks[yTicks.length - 1]!;
  const xRight = Math.max(xTicks[xTicks.length - 1]!, 1);
  const plotWidth = width - CHART_MARGIN.left - CHART_MARGIN.right;
  const plotHeight = height - CHART_MARGIN.top - CHART_MARGIN.bottom;
  return {
    x: (value) => CHART_MARGIN.left + (value / xRight) * plotWidth,
    y: (value) => CHART_MARGIN.top + plotHeight - (value / yTop) * plotHeight,
    plotWidth,
    plotHeight,
    xMax: xRight,
    yTicks,
    xTicks,
  };
}

function chartAxes(spec: ChartSpec, frame: Frame, width: number, height: number): string {
  const bottom = CHART_MARGIN.top + frame.plotHeight;
  let svg = `<g class="axes" font-size="11" fill="#333">`;
  for (const tick of frame.yTicks) {
    const y = svgNumber(frame.y(tick));
    svg += `<line x1="${CHART_MARGIN.left}" y1="${y}" x2="${svgNumber(CHART_MARGIN.left + frame.plotWidth)}" y2="${y}" stroke="#ddd"/>`;
    svg += `<text x="${CHART_MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(tick)}</text>`;
  }
  for (const tick of frame.xTicks) {
    if (tick > frame.xMax) continue;
    svg += `<text x="${svgNumber(frame.x(tick))}" y="${bottom + 16}" text-anchor="middle">${tickLabel(tick)}</text>`;
  }
  svg += `<line x1="${CHART_MARGIN.left}" y1="${bottom}" x2="${svgNumber(CHART_MARGIN.left + frame.plotWidth)}" y2="${bottom}" stroke="#333"/>`;
  svg += `<line x1="${CHART_MARGIN.left}" y1="${CHART_MARGIN.top}" x2="${CHART_MARGIN.left}" y2="${bottom}" stroke="#333"/>`;
  svg += `<text x="${svgNumber(CHART_MARGIN.left + frame.plotWidth / 2)}" y="${height - 6}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`;
  svg += `<text x="14" y="${svgNumber(CHART_MARGIN.top + frame.plotHeight / 2)}" text-anchor="middle" transform="rotate(-90 14 ${svgNumber(CHART_MARGIN.top + frame.plotHeight / 2)})">${escapeXml(spec.yLabel)}</text>`;
  svg += `<text x="${CHART_MARGIN.left}" y="16" font-size="13" font-weight="bold">${escapeXml(spec.title)}</text>`;
  return `${svg}</g>`;
}

function chartSeries(spec: ChartSpec, frame: Frame): string {
  let svg = '';
  const bottom = CHART_MARGIN.top + frame.plotHeight;
  spec.series.forEach((one, seriesIndex) => {
    const points = downsample(one.points);
    svg += `<g class="series" data-series="${escapeXml(one.name)}"><title>${escapeXml(one.name)}</title>`;
    if (spec.kind === 'line') {
      const coordinates = points.map(([x, y]) => `${svgNumber(frame.x(x))},${svgNumber(frame.y(y))}`).join(' ');
      svg += `<polyline fill="none" stroke="${one.color}" stroke-width="1.5" points="${coordinates}"/>`;
      // A short series (a run of a few simulated seconds) also gets a marker per point, so one point still shows.
      if (points.length <= CHART_MARKERS_MAX) {
        for (const [x, y] of points) svg += `<circle cx="${svgNumber(frame.x(x))}" cy="${svgNumber(frame.y(y))}" r="3" fill="${one.color}"/>`;
      }
    } else {
      // Each point is a time bucket starting at x; the bars of several series sit side by side inside it.
      const bucket = points.length > 1 ? points[1]![0] - points[0]![0] : 1;
      const step = frame.x(bucket) - frame.x(0);
      const barWidth = Math.max(0.5, (step * 0.8) / spec.series.length);
      for (const [x, y] of points) {
        const left = frame.x(x) + step * 0.1 + seriesIndex * barWidth;
        svg += `<rect x="${svgNumber(left)}" y="${svgNumber(frame.y(y))}" width="${svgNumber(barWidth)}" height="${svgNumber(bottom - frame.y(y))}" fill="${one.color}"/>`;
      }
    }
    svg += '</g>';
  });
  return svg;
}

function chartKey(spec: ChartSpec, width: number): string {
  let svg = '<g class="chart-key" font-size="11">';
  let x = width - CHART_MARGIN.right;
  for (const one of [...spec.series].reverse()) {
    x -= 7 * one.name.length + 24;
    svg += `<rect x="${x}" y="8" width="12" height="10" fill="${one.color}"/>`;
    svg += `<text x="${x + 16}" y="17">${escapeXml(one.name)}</text>`;
  }
  return `${svg}</g>`;
}

/**
 * A line or bar chart as one <svg> element: title, y grid with 1-2-5 ticks,
 * x ticks, axis labels, a key, and each series (downsampled to
 * CHART_POINTS_MAX points). Axes start at 0. O(points).
 */
export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? 900;
  const height = spec.height ?? 260;
  const frame = chartFrame(spec.series, width, height);
  return (
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}">` +
    chartAxes(spec, frame, width, height) +
    chartSeries(spec, frame) +
    chartKey(spec, width) +
    '</svg>'
  );
}
