/**
 * The HTML report: a well-formed, self-contained document (a small tag
 * checker walks every element), one SVG group per file on the device map,
 * the legend, escaped user strings, plots present exactly when the device
 * model ran, caps, and byte-identical output for identical input.
 */
import { describe, expect, test } from '@jest/globals';
import { HTML_ERRORS_MAX, HTML_FILES_MAX, renderHtmlReport, SVG_MAP_GRID_COLUMNS, SVG_MAP_RUNS_MAX } from '../../src/report/html.js';
import type { DeviceStats, FileLayout, LatencyStats } from '../../src/report/model.js';
import { CHART_POINTS_MAX, downsample, escapeXml, fileColor, groupDigits, niceTicks, renderChart, svgNumber } from '../../src/report/svg.js';
import { sampleResult } from './fixtures.js';

/**
 * Checks the document is well formed XML-style HTML: every tag has the
 * strict `name attr="value"` syntax, every opened element is closed in
 * order, and text holds no raw `<`, `>` or stray `&`. Returns the element
 * names in document order.
 */
function checkWellFormed(html: string): string[] {
  expect(html.startsWith('<!DOCTYPE html>\n')).toBe(true);
  const body = html.slice('<!DOCTYPE html>\n'.length);
  const stack: string[] = [];
  const names: string[] = [];
  const tag = /<[^<>]*>/g;
  let last = 0;
  for (const match of body.matchAll(tag)) {
    const text = body.slice(last, match.index);
    expect(text).not.toMatch(/[<>]/);
    last = match.index + match[0].length;
    const closing = /^<\/([a-zA-Z][\w-]*)>$/.exec(match[0]);
    if (closing) {
      expect(`</${stack.pop()}>`).toBe(match[0]);
      continue;
    }
    const opening = /^<([a-zA-Z][\w-]*)(?:\s+[\w:-]+="[^"<>]*")*\s*(\/?)>$/.exec(match[0]);
    expect(opening === null ? match[0] : 'ok').toBe('ok');
    names.push(opening![1]!);
    if (opening![2] !== '/') stack.push(opening![1]!);
  }
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  // Every & starts an entity.
  expect(html).not.toMatch(/&(?!(amp|lt|gt|quot|#39);)/);
  return names;
}

function latency(count: number): LatencyStats {
  return { count, bytes: count * 4096, iops: count / 2, mbPerSecond: 1.5, meanUs: 120.25, p50Us: 100, p90Us: 200, p99Us: 400, p999Us: 900, maxUs: 1200 };
}

function deviceStats(seconds: number): DeviceStats {
  return {
    model: 'ssd',
    params: { readUs: 80, writeUs: 20 },
    loop: 'open',
    simulatedSeconds: seconds,
    overall: latency(1000),
    perOp: { write: latency(800), read: latency(200) },
    pageCache: { hits: 10, misses: 5, hitRatio: 0.667 },
    writeAmplification: { userBytesWritten: 4096000, deviceBytesWritten: 5000000, ratio: 1.22, byCause: { writeback: 4000000, journal: 1000000 } },
    requests: { submitted: 1000, merged: 100, dispatched: 900 },
    fragmentation: { files: 2, extents: 6, extentsPerFile: 3, averageExtentBlocks: 60 },
    series: Array.from({ length: seconds }, (_, second) => ({ second, ops: 10 + second, bytesWritten: (second % 7) * 1048576, bytesRead: 4096 * second, meanLatencyUs: 100 + second })),
  };
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

const HOSTILE_PATH = 'dir/<script>alert("x")</script> & \'q\'.bin';

describe('renderHtmlReport', () => {
  test('well formed and self-contained: no scripts, no external resources', () => {
    const html = renderHtmlReport({ result: sampleResult(), reserved: [{ start: 0, length: 4000 }] });
    const names = checkWellFormed(html);
    expect(names).toContain('svg');
    expect(names).not.toContain('script');
    expect(names).not.toContain('link');
    expect(names).not.toContain('img');
    expect(html).not.toMatch(/\b(src|href)=/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg")/);
  });

  test('header: trace, policy, seed, block size, device size', () => {
    const html = renderHtmlReport({ result: sampleResult(), reserved: [] });
    expect(html).toContain('<dt>trace</dt><dd>demo.xio</dd>');
    expect(html).toContain('<dt>policy</dt><dd>ext4</dd>');
    expect(html).toContain('<dt>seed</dt><dd>3141592653</dd>');
    expect(html).toContain('<dt>block size</dt><dd>4096 bytes</dd>');
    expect(html).toContain('<dt>device size</dt><dd>1073741824 bytes (1.0 GiB)</dd>');
  });

  test('device map: one group per file with its colour, reserved and shared groups, the legend', () => {
    const result = sampleResult();
    result.files.push({ path: 'clone', ino: 14, size: 65536, allocatedBlocks: 16, extents: [{ logical: 0, physical: 33280, length: 16, flags: ['shared', 'last'] }] });
    result.files.push({ path: 'pending', ino: 15, size: 8192, allocatedBlocks: 0, extents: [{ logical: 0, physical: 0, length: 2, flags: ['delalloc', 'last'] }] });
    const html = renderHtmlReport({ result, reserved: [{ start: 0, length: 4000 }] });
    const map = /<svg class="device-map"[\s\S]*?<\/svg>/.exec(html)![0];
    // frag.bin, a and clone have blocks on the device; pending is delalloc only.
    expect(count(map, /<g class="file" /g)).toBe(2);
    expect(map).toContain(`<g class="file" data-file="0" fill="${fileColor(0)}"><title>frag.bin: `);
    expect(map).toContain(`<g class="file" data-file="1" fill="${fileColor(1)}"><title>a: `);
    // a's first 16 blocks are shared with clone; the rest of a stays a's (and unwritten: hatched).
    expect(map).toMatch(/<g class="shared"><title>shared \(reflink\): 16 blocks<\/title><rect [^>]*stroke="#000"/);
    expect(map).toContain('<g class="reserved" fill="#4a4a4a"><title>filesystem metadata (reserved): 4,000 blocks</title>');
    expect(map).toContain('fill="url(#map-hatch)"');
    expect(map).not.toContain('pending');
    const legend = /<ul class="legend">[\s\S]*?<\/ul>/.exec(html)![0];
    for (const [index, path] of ['frag.bin', 'a', 'clone', 'pending'].entries()) {
      expect(legend).toContain(`<b>${String.fromCharCode(65 + index)}</b> <code>${path}</code>`);
    }
    expect(legend).toContain('free</li>');
    expect(legend).toContain('filesystem metadata (reserved)</li>');
  });

  test('file bars: one row per file, unwritten hatched, shared outlined, delalloc grey', () => {
    const result = sampleResult();
    result.files.push({ path: 'pending', ino: 15, size: 8192, allocatedBlocks: 0, extents: [{ logical: 0, physical: 0, length: 2, flags: ['delalloc', 'last'] }] });
    result.files.push({ path: 'clone', ino: 14, size: 65536, allocatedBlocks: 16, extents: [{ logical: 0, physical: 33280, length: 16, flags: ['shared', 'last'] }] });
    const html = renderHtmlReport({ result, reserved: [] });
    const bars = /<svg class="file-bars"[\s\S]*?<\/svg>/.exec(html)![0];
    expect(count(bars, /<g class="file-bar" /g)).toBe(4);
    expect(count(bars, /<rect class="unwritten" /g)).toBe(2);
    expect(bars).toContain('fill="url(#bars-hatch)"');
    expect(bars).toMatch(/<rect class="delalloc" [^>]*fill="#b8b8b8"\/>/);
    expect(bars).toMatch(/<rect class="written shared" [^>]*stroke="#000"/);
    // frag.bin: 5 extents, of which 256..256 written then 257..319 unwritten: 4 written pieces, 1 unwritten.
    const frag = /<g class="file-bar" data-file="0">[\s\S]*?<\/g>/.exec(bars)![0];
    expect(count(frag, /<rect class="written" /g)).toBe(4);
    expect(frag).toContain('1,026 blk, 5 ext');
  });

  test('paths, trace names and error messages are escaped', () => {
    const hostile: FileLayout = { path: HOSTILE_PATH, ino: 20, size: 4096, allocatedBlocks: 1, extents: [{ logical: 0, physical: 50000, length: 1, flags: ['last'] }] };
    const result = sampleResult({
      trace: '<b>trace</b>.xio',
      files: [hostile],
      errors: [{ at: 'x.xio:1', op: 'open', path: HOSTILE_PATH, errno: 'ENOENT', message: '<img onerror=alert(1)>' }],
    });
    const html = renderHtmlReport({ result, reserved: [] });
    checkWellFormed(html);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>trace</b>');
    expect(html).not.toContain('<img');
    expect(html).toContain(escapeXml(HOSTILE_PATH));
    expect(escapeXml(HOSTILE_PATH)).toBe('dir/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;.bin');
    expect(html).toContain('&lt;img onerror=alert(1)&gt;');
  });

  test('plots are present exactly when the device model ran', () => {
    const without = renderHtmlReport({ result: sampleResult(), reserved: [] });
    expect(count(without, /<svg class="chart"/g)).toBe(0);
    expect(without).toContain('no device model statistics in this run');
    const withStats = renderHtmlReport({ result: sampleResult({ deviceStats: deviceStats(30) }), reserved: [] });
    checkWellFormed(withStats);
    expect(count(withStats, /<svg class="chart"/g)).toBe(2);
    expect(withStats).not.toContain('no device model statistics in this run');
    expect(withStats).toContain('aria-label="Throughput per simulated second"');
    expect(withStats).toContain('aria-label="Mean latency per simulated second"');
    // 30 seconds: two polylines of 30 points and 30 latency bars.
    expect(count(withStats, /<polyline /g)).toBe(2);
    const polyline = /<polyline [^>]*points="([^"]*)"/.exec(withStats)![1]!;
    expect(polyline.split(' ')).toHaveLength(30);
    const latencyChart = /<svg class="chart"[^>]*aria-label="Mean latency[\s\S]*?<\/svg>/.exec(withStats)![0];
    expect(count(latencyChart, /<g class="series"[\s\S]*?<\/g>/g)).toBe(1);
    expect(count(/<g class="series"[\s\S]*?<\/g>/.exec(latencyChart)![0], /<rect /g)).toBe(30);
    // The latency table: all ops, then each op kind.
    expect(withStats).toMatch(/<tr><td>all<\/td><td class="n">1,000<\/td>/);
    expect(withStats).toMatch(/<tr><td>read<\/td><td class="n">200<\/td>[\s\S]*<tr><td>write<\/td><td class="n">800<\/td>/);
    expect(withStats).toContain('<td>journal</td><td class="n">1,000,000</td>');
  });

  test('an empty series says so instead of drawing empty plots', () => {
    const html = renderHtmlReport({ result: sampleResult({ deviceStats: deviceStats(0) }), reserved: [] });
    expect(count(html, /<svg class="chart"/g)).toBe(0);
    expect(html).toContain('the device model recorded no per-second series');
  });

  test('stats tables: ops by kind, totals, errors', () => {
    const html = renderHtmlReport({ result: sampleResult(), reserved: [] });
    expect(html).toContain('<caption>ops by kind</caption>');
    expect(html).toMatch(/<tr><td>close<\/td><td class="n">10<\/td><\/tr><tr><td>fsync<\/td><td class="n">3<\/td><\/tr><tr><td>open<\/td>/);
    expect(html).toContain('<tr><td>bytes written</td><td class="n">4,194,304</td></tr>');
    expect(html).toContain('<tr><td>demo.xio:12</td><td>fallocate</td><td>a</td><td>EOPNOTSUPP</td><td>Operation not supported</td></tr>');
  });

  test('caps: at most HTML_FILES_MAX bars and HTML_ERRORS_MAX errors, with a note', () => {
    const files = Array.from({ length: HTML_FILES_MAX + 50 }, (_, index): FileLayout => ({
      path: `f${index}`,
      ino: 100 + index,
      size: 4096,
      allocatedBlocks: 1,
      extents: [{ logical: 0, physical: 1000 + index, length: 1, flags: ['last'] }],
    }));
    const errors = Array.from({ length: HTML_ERRORS_MAX + 5 }, (_, index) => ({ at: `t:${index}`, op: 'write', errno: 'EIO', message: 'I/O error' }));
    const html = renderHtmlReport({ result: sampleResult({ files, errors }), reserved: [] });
    expect(count(html, /<g class="file-bar" /g)).toBe(HTML_FILES_MAX);
    expect(count(html, /<g class="file" /g)).toBe(HTML_FILES_MAX + 50);
    expect(html).toContain(`Showing the first ${HTML_FILES_MAX} of 250 files`);
    expect(count(html, /<tr><td>t:\d+<\/td>/g)).toBe(HTML_ERRORS_MAX);
    expect(html).toContain('... and 5 more');
  });

  test('a layout with more runs than SVG_MAP_RUNS_MAX is drawn from grid cells', () => {
    // Two files interleaved block by block: every block is its own run.
    const runs = SVG_MAP_RUNS_MAX + 2000;
    const make = (path: string, first: number): FileLayout => ({
      path,
      ino: 30 + first,
      size: (runs / 2) * 4096,
      allocatedBlocks: runs / 2,
      extents: Array.from({ length: runs / 2 }, (_, index) => ({ logical: index, physical: first + 2 * index, length: 1, flags: [] })),
    });
    const html = renderHtmlReport({ result: sampleResult({ files: [make('even', 0), make('odd', 1)] }), reserved: [] });
    const map = /<svg class="device-map"[\s\S]*?<\/svg>/.exec(html)![0];
    // At most one rect per grid cell, plus a background per row: far fewer than the runs.
    expect(count(map, /<rect /g)).toBeLessThanOrEqual(SVG_MAP_GRID_COLUMNS * 64 + 64);
    expect(count(map, /<rect /g)).toBeLessThan(runs / 4);
    expect(html).toContain(`The layout has ${groupDigits(runs)} runs: drawn from cells of`);
  });

  test('deterministic: the same input gives the same bytes', () => {
    const input = { result: sampleResult({ deviceStats: deviceStats(50) }), reserved: [{ start: 0, length: 10 }] };
    expect(renderHtmlReport(input)).toBe(renderHtmlReport(structuredClone(input)));
  });
});

describe('svg helpers', () => {
  test('escapeXml escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });

  test('svgNumber: two decimals at most, no -0', () => {
    expect([1, 1.005, 2.3456, -0.001, 1e6].map(svgNumber)).toEqual(['1', '1', '2.35', '0', '1000000']);
    expect(() => svgNumber(Number.NaN)).toThrow();
  });

  test('niceTicks: 1-2-5 steps covering the maximum', () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(7.3)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(1234)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(0.03)).toEqual([0, 0.01, 0.02, 0.03]);
  });

  test('downsample: at most the maximum, averages preserved', () => {
    const points = Array.from({ length: 1000 }, (_, index) => [index, index % 2 === 0 ? 0 : 10] as const);
    const out = downsample(points, 100);
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.every(([, y]) => y === 5)).toBe(true);
    expect(downsample(points.slice(0, 3))).toEqual([[0, 0], [1, 10], [2, 0]]);
    expect(downsample(points).length).toBeLessThanOrEqual(CHART_POINTS_MAX);
  });

  test('renderChart: axes, key and series are inside one svg', () => {
    const svg = renderChart({ title: 'T <1>', xLabel: 's', yLabel: 'MiB/s', kind: 'line', series: [{ name: 'w', color: '#123456', points: [[0, 1], [1, 3]] }] });
    expect(svg.startsWith('<svg class="chart"')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    expect(svg).toContain('T &lt;1&gt;');
    expect(svg).toContain('<polyline fill="none" stroke="#123456"');
    expect(count(svg, /<svg/g)).toBe(1);
  });
});
