// A small SVG chart renderer for the lab report: line charts and point clouds with axes, ticks,
// a legend, horizontal guides and linear or log scales. Output is a standalone <svg> string
// (no scripts, no external assets), so the report stays one self-contained file.
import type { ChartSeries, ChartSpec } from '@normkit/experiments';

export interface RenderOptions {
  width?: number;
  /** Height of the plot area's box before the legend is added. */
  height?: number;
  /** Makes the clip-path id unique when several charts share one document. */
  idPrefix?: string;
}

/** Tableau 10: distinguishable, colour-blind-tolerable. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A tick label: up to 4 significant digits, exponent form for very small or large magnitudes. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    const [mantissa, exponent] = value.toExponential(1).split('e') as [string, string];
    return `${mantissa.replace(/\.0$/, '')}e${Number(exponent)}`;
  }
  return String(Number(value.toPrecision(4)));
}

/**
 * About `count` round tick values covering [min, max] on a linear axis (steps of 1, 2 or 5 x 10^k),
 * starting at or below min and ending at or above max.
 */
export function linearTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const rough = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const start = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9 || ticks.length < 2; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
    if (ticks.length > 50) break;
  }
  if (ticks.at(-1)! < max) ticks.push(Number((ticks.at(-1)! + step).toPrecision(12)));
  return ticks;
}

/**
 * Ticks on a log axis over [min, max] (both > 0): powers of 10, or 1-2-5 multiples when the
 * range is under a few decades, or 1..9 multiples when under one; at least two ticks.
 */
export function logTicks(min: number, max: number): number[] {
  const low = Math.floor(Math.log10(min));
  const high = Math.ceil(Math.log10(max));
  const inRange = (v: number) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9);
  for (const multiples of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const ticks: number[] = [];
    for (let k = low; k <= high; k++) for (const m of multiples) if (inRange(m * 10 ** k)) ticks.push(Number((m * 10 ** k).toPrecision(12)));
    if (ticks.length >= 3 || (multiples.length === 9 && ticks.length >= 2)) return ticks;
  }
  return [min, max];
}

interface Axis {
  scale: 'linear' | 'log';
  min: number;
  max: number;
  ticks: number[];
}

function usable(v: number, scale: 'linear' | 'log'): boolean {
  return Number.isFinite(v) && (scale === 'linear' || v > 0);
}

function makeAxis(values: number[], scale: 'linear' | 'log', fixed?: [number, number]): Axis {
  const finite = values.filter((v) => usable(v, scale));
  let min = fixed ? fixed[0] : finite.length ? Math.min(...finite) : scale === 'log' ? 1 : 0;
  let max = fixed ? fixed[1] : finite.length ? Math.max(...finite) : scale === 'log' ? 10 : 1;
  if (scale === 'log') {
    if (max <= min) [min, max] = [min / 2, max * 2];
    if (!fixed) [min, max] = [min / 1.15, max * 1.15];
    return { scale, min, max, ticks: logTicks(min, max) };
  }
  if (max <= min) [min, max] = [min - 1, max + 1];
  if (fixed) return { scale, min, max, ticks: linearTicks(min, max).filter((t) => t >= min - 1e-12 && t <= max + 1e-12) };
  // Snap an end to the round tick beyond the data when that tick is close (within 10% of the
  // range); otherwise pad by 3%, so data from 4,000 to 16,000 is not drawn on an axis from 0 to 20,000.
  const ticks = linearTicks(min, max);
  const range = max - min;
  const low = min - ticks[0]! <= 0.1 * range ? ticks[0]! : min - 0.03 * range;
  const high = ticks.at(-1)! - max <= 0.1 * range ? ticks.at(-1)! : max + 0.03 * range;
  return { scale, min: low, max: high, ticks: ticks.filter((t) => t >= low - 1e-12 * range && t <= high + 1e-12 * range) };
}

/** Position of `v` along an axis of `length` pixels (0 at the axis minimum). */
function project(axis: Axis, v: number, length: number): number {
  if (axis.scale === 'log') return ((Math.log(v) - Math.log(axis.min)) / (Math.log(axis.max) - Math.log(axis.min))) * length;
  return ((v - axis.min) / (axis.max - axis.min)) * length;
}

/** Widens the axis whose units per pixel are smaller, so one unit has the same length on both (linear axes only). */
function equalize(x: Axis, y: Axis, plotWidth: number, plotHeight: number): [Axis, Axis] {
  if (x.scale !== 'linear' || y.scale !== 'linear') return [x, y];
  const perPixel = Math.max((x.max - x.min) / plotWidth, (y.max - y.min) / plotHeight);
  const widen = (axis: Axis, length: number): Axis => {
    const middle = (axis.min + axis.max) / 2;
    const half = (perPixel * length) / 2;
    const min = middle - half;
    const max = middle + half;
    return { scale: 'linear', min, max, ticks: linearTicks(min, max).filter((t) => t >= min && t <= max) };
  };
  return [widen(x, plotWidth), widen(y, plotHeight)];
}

/** Consecutive drawable points of a series, split wherever a point cannot be drawn. */
function segments(series: ChartSeries, x: Axis, y: Axis): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  let current: Array<[number, number]> = [];
  for (const [px, py] of series.points) {
    const inRange = usable(px, x.scale) && usable(py, y.scale);
    if (inRange) current.push([px, py]);
    else if (current.length) {
      out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}

const round = (v: number) => Math.round(v * 10) / 10;

/** Rough text width in px at 11px sans-serif (for legend layout; no font metrics in Node). */
function textWidth(text: string): number {
  return text.length * 6.2;
}

/**
 * The chart as an <svg> element string: title, plot frame, gridlines with tick labels, axis
 * labels, guides, the series (polylines split at undrawable points, or dots), and a legend under
 * the plot that wraps to as many rows as it needs. Points that cannot be drawn (non-finite, or
 * <= 0 on a log axis) are skipped; a chart with nothing to draw says so.
 *
 * @example
 * renderChart({ id: 'loss', title: 'Loss', xLabel: 'step', yLabel: 'loss', yScale: 'log', series: [{ label: 'BN', points: [[1, 2.3], [2, 1.1]] }] });
 */
export function renderChart(spec: ChartSpec, options: RenderOptions = {}): string {
  const width = options.width ?? 560;
  const boxHeight = options.height ?? 300;
  const margin = { left: 62, right: 18, top: 34, bottom: 46 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = boxHeight - margin.top - margin.bottom;
  const xScale = spec.xScale ?? 'linear';
  const yScale = spec.yScale ?? 'linear';
  const allX = spec.series.flatMap((s) => s.points.map(([px]) => px));
  const allY = [...spec.series.flatMap((s) => s.points.map(([, py]) => py))];
  let x = makeAxis(allX, xScale);
  let y = makeAxis(allY, yScale, spec.yRange);
  if (spec.equalAspect) [x, y] = equalize(x, y, plotWidth, plotHeight);
  if (spec.xTicks) x = { ...x, ticks: spec.xTicks.filter((t) => usable(t, xScale) && t >= x.min && t <= x.max) };
  const px = (v: number) => round(margin.left + project(x, v, plotWidth));
  const py = (v: number) => round(margin.top + plotHeight - project(y, v, plotHeight));
  const clipId = `${options.idPrefix ?? ''}clip-${spec.id}`.replace(/[^A-Za-z0-9_-]/g, '-');

  // Legend layout: items flow left to right under the x label, wrapping as needed.
  const legendItems: Array<{ series: ChartSeries; color: string; x: number; row: number }> = [];
  let cursor = margin.left;
  let row = 0;
  spec.series.forEach((series, index) => {
    const itemWidth = 26 + textWidth(series.label) + 14;
    if (cursor + itemWidth > width - margin.right && cursor > margin.left) {
      row++;
      cursor = margin.left;
    }
    legendItems.push({ series, color: PALETTE[index % PALETTE.length]!, x: cursor, row });
    cursor += itemWidth;
  });
  const legendRows = spec.series.length ? row + 1 : 0;
  const height = boxHeight + legendRows * 18 + (legendRows ? 6 : 0);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11" role="img" aria-label="${escapeXml(spec.title)}">`);
  parts.push(`<title>${escapeXml(spec.title)}</title>`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600" fill="#222">${escapeXml(spec.title)}</text>`);
  parts.push(`<defs><clipPath id="${clipId}"><rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}"/></clipPath></defs>`);

  // Gridlines and tick labels.
  for (const t of x.ticks) {
    if (t < x.min || t > x.max) continue;
    const X = px(t);
    parts.push(`<line x1="${X}" y1="${margin.top}" x2="${X}" y2="${margin.top + plotHeight}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${X}" y="${margin.top + plotHeight + 15}" text-anchor="middle" fill="#444">${escapeXml(formatTick(t))}</text>`);
  }
  for (const t of y.ticks) {
    if (t < y.min || t > y.max) continue;
    const Y = py(t);
    parts.push(`<line x1="${margin.left}" y1="${Y}" x2="${margin.left + plotWidth}" y2="${Y}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${Y + 4}" text-anchor="end" fill="#444">${escapeXml(formatTick(t))}</text>`);
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight + 34}" text-anchor="middle" fill="#222">${escapeXml(spec.xLabel + (xScale === 'log' ? ' (log scale)' : ''))}</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(spec.yLabel + (yScale === 'log' ? ' (log scale)' : ''))}</text>`);

  // Guides (thresholds, chance level).
  for (const guide of spec.guides ?? []) {
    if (!usable(guide.y, y.scale) || guide.y < y.min || guide.y > y.max) continue;
    const Y = py(guide.y);
    parts.push(`<line x1="${margin.left}" y1="${Y}" x2="${margin.left + plotWidth}" y2="${Y}" stroke="#999" stroke-dasharray="2 3"/>`);
    if (guide.label) parts.push(`<text x="${margin.left + plotWidth - 4}" y="${Y - 3}" text-anchor="end" fill="#777" font-size="10">${escapeXml(guide.label)}</text>`);
  }

  // Series.
  let drawn = 0;
  parts.push(`<g clip-path="url(#${clipId})">`);
  spec.series.forEach((series, index) => {
    const color = PALETTE[index % PALETTE.length]!;
    const style = series.style ?? 'line';
    const pieces = segments(series, x, y);
    for (const piece of pieces) {
      drawn += piece.length;
      if (style !== 'points' && piece.length > 1) {
        const coordinates = piece.map(([a, b]) => `${px(a)},${py(b)}`).join(' ');
        parts.push(`<polyline points="${coordinates}" fill="none" stroke="${color}" stroke-width="1.8"${series.dashed ? ' stroke-dasharray="6 4"' : ''} stroke-linejoin="round"/>`);
      }
      if (style !== 'line' || piece.length === 1) {
        const radius = style === 'points' && series.points.length > 100 ? 1.8 : 2.8;
        for (const [a, b] of piece) parts.push(`<circle cx="${px(a)}" cy="${py(b)}" r="${radius}" fill="${color}"${style === 'points' ? ' fill-opacity="0.75"' : ''}/>`);
      }
    }
  });
  parts.push('</g>');
  if (drawn === 0) parts.push(`<text x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight / 2}" text-anchor="middle" fill="#999">no data to draw</text>`);

  // Legend.
  for (const item of legendItems) {
    const Y = boxHeight + 4 + item.row * 18;
    const style = item.series.style ?? 'line';
    if (style === 'points') parts.push(`<circle cx="${item.x + 10}" cy="${Y}" r="3.5" fill="${item.color}"/>`);
    else parts.push(`<line x1="${item.x}" y1="${Y}" x2="${item.x + 20}" y2="${Y}" stroke="${item.color}" stroke-width="2.5"${item.series.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    parts.push(`<text x="${item.x + 26}" y="${Y + 4}" fill="#333">${escapeXml(item.series.label)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
