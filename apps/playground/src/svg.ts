// Charts as standalone SVG documents, for the SVG and PNG exports: uPlot draws on a canvas, so the
// vector version is drawn here from the same lines (series.ts), with axes, ticks and a legend.
import type { ChartLine } from './series';

export interface SvgChartSpec {
  title: string;
  description?: string;
  xLabel?: string;
  log?: boolean;
  lines: readonly ChartLine[];
  width?: number;
  height?: number;
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * About `count` round tick values covering [min, max] (steps of 1, 2 or 5 times a power of ten).
 *
 * @example
 * niceTicks(0, 0.93, 5); // [0, 0.2, 0.4, 0.6, 0.8]
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const rough = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

/**
 * A chart as an SVG document: the lines (solid or dashed, in their colours, broken where a value
 * is missing), both axes with round ticks (powers of ten on a log axis), the title and a legend.
 *
 * @example
 * const svg = renderChartSvg({ title: 'Loss', lines: chartLines(definition, runs) });
 */
export function renderChartSvg(spec: SvgChartSpec): string {
  const width = spec.width ?? 720;
  const plotHeight = spec.height ?? 320;
  const margin = { left: 64, right: 20, top: spec.description ? 52 : 36, bottom: 44 };
  const legendRowHeight = 18;
  // Legend entries share one width, wide enough for the longest label (about 6.6 px per character).
  const longest = spec.lines.reduce((n, line) => Math.max(n, line.label.length), 0);
  const legendItemWidth = Math.min(width - margin.left, Math.max(120, Math.ceil(longest * 6.6) + 40));
  const legendPerRow = Math.max(1, Math.floor((width - margin.left) / legendItemWidth));
  const legendRows = Math.ceil(spec.lines.length / legendPerRow);
  const height = margin.top + plotHeight + margin.bottom + legendRows * legendRowHeight + 8;
  const plotWidth = width - margin.left - margin.right;
  const toY = (v: number): number => (spec.log ? Math.log10(v) : v);

  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const line of spec.lines) {
    for (let i = 0; i < line.x.length; i++) {
      const y = line.y[i]!;
      if (!Number.isFinite(y) || (spec.log && y <= 0)) continue;
      xMin = Math.min(xMin, line.x[i]!);
      xMax = Math.max(xMax, line.x[i]!);
      yMin = Math.min(yMin, toY(y));
      yMax = Math.max(yMax, toY(y));
    }
  }
  const empty = !Number.isFinite(xMin);
  if (empty) [xMin, xMax, yMin, yMax] = [0, 1, 0, 1];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMin === yMax) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const px = (x: number): number => margin.left + ((x - xMin) / (xMax - xMin)) * plotWidth;
  const py = (y: number): number => margin.top + (1 - (y - yMin) / (yMax - yMin)) * plotHeight;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${margin.left}" y="22" font-size="15" font-weight="600" fill="#1d2330">${escapeXml(spec.title)}</text>`);
  if (spec.description) parts.push(`<text x="${margin.left}" y="40" fill="#5a6273">${escapeXml(spec.description)}</text>`);

  // Axes and grid.
  const xTicks = niceTicks(xMin, xMax, 6);
  const yTicks = spec.log
    ? niceTicks(Math.ceil(yMin), Math.floor(yMax), 5).filter(Number.isInteger)
    : niceTicks(yMin, yMax, 5);
  for (const tick of yTicks) {
    const y = py(tick).toFixed(1);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${y}" y2="${y}" stroke="#e6e8ee"/>`);
    const label = spec.log ? `1e${tick}` : formatTick(tick);
    parts.push(`<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#5a6273">${label}</text>`);
  }
  for (const tick of xTicks) {
    const x = px(tick).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight + 4}" stroke="#5a6273"/>`);
    parts.push(`<text x="${x}" y="${margin.top + plotHeight + 16}" text-anchor="middle" fill="#5a6273">${formatTick(tick)}</text>`);
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#b8bdc9"/>`);
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight + 34}" text-anchor="middle" fill="#1d2330">${escapeXml(spec.xLabel ?? 'step')}</text>`);
  if (empty) parts.push(`<text x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight / 2}" text-anchor="middle" fill="#5a6273">no data yet</text>`);

  // Lines, clipped to the plot.
  parts.push(`<clipPath id="plot"><rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}"/></clipPath>`);
  parts.push('<g clip-path="url(#plot)" fill="none" stroke-width="1.6" stroke-linejoin="round">');
  for (const line of spec.lines) {
    let d = '';
    let open = false;
    for (let i = 0; i < line.x.length; i++) {
      const y = line.y[i]!;
      if (!Number.isFinite(y) || (spec.log && y <= 0)) {
        open = false;
        continue;
      }
      d += `${open ? 'L' : 'M'}${px(line.x[i]!).toFixed(1)} ${py(toY(y)).toFixed(1)}`;
      open = true;
    }
    if (d) parts.push(`<path d="${d}" stroke="${line.color}"${line.dashed ? ' stroke-dasharray="5 4"' : ''}><title>${escapeXml(line.label)}</title></path>`);
  }
  parts.push('</g>');

  // Legend.
  spec.lines.forEach((line, i) => {
    const x = margin.left + (i % legendPerRow) * legendItemWidth;
    const y = margin.top + plotHeight + margin.bottom + Math.floor(i / legendPerRow) * legendRowHeight + 6;
    parts.push(`<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${line.color}" stroke-width="2.5"${line.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    parts.push(`<text x="${x + 28}" y="${y}" dominant-baseline="middle" fill="#1d2330">${escapeXml(line.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
