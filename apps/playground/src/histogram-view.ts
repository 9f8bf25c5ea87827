// Drawing a layer inspection (from the worker, see layer-inspect.ts) as SVG: the histograms of the
// values entering and leaving the normalizer, and per channel the batch statistics against the
// running statistics the normalizer keeps for eval.
import type { Histogram, LayerInspection } from './layer-inspect';
import { escapeXml } from './svg';

function formatValue(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-2)) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** One histogram as bars in a `width` x `height` box at (x, y), its range written under it. */
function histogramBars(hist: Histogram, x: number, y: number, width: number, height: number, color: string, label: string): string {
  const peak = Math.max(1, ...hist.counts);
  const bar = width / hist.counts.length;
  const parts = [`<g class="histogram" data-histogram="${escapeXml(label)}">`];
  parts.push(`<text x="${x}" y="${y - 4}" fill="#1d2330" font-weight="600">${escapeXml(label)}</text>`);
  parts.push(`<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="#fafbfc" stroke="#d9dce4"/>`);
  hist.counts.forEach((count, i) => {
    if (count === 0) return;
    const h = (count / peak) * (height - 2);
    parts.push(`<rect class="bar" x="${(x + i * bar).toFixed(1)}" y="${(y + height - h).toFixed(1)}" width="${Math.max(0.5, bar - 0.6).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`);
  });
  parts.push(`<text x="${x}" y="${y + height + 12}" fill="#5a6273">${formatValue(hist.min)}</text>`);
  parts.push(`<text x="${x + width}" y="${y + height + 12}" fill="#5a6273" text-anchor="end">${formatValue(hist.max)}</text>`);
  parts.push('</g>');
  return parts.join('');
}

/** Per channel: the batch's value (filled dot) and the running average (ring), on one axis. */
function statisticStrip(batch: number[], running: number[] | null, x: number, y: number, width: number, height: number, color: string, label: string): string {
  const values = [...batch, ...(running ?? [])].filter(Number.isFinite);
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (!Number.isFinite(min)) [min, max] = [0, 1];
  if (min === max) [min, max] = [min - 0.5, max + 0.5];
  const px = (v: number): number => x + 4 + ((v - min) / (max - min)) * (width - 8);
  const row = height / Math.max(1, batch.length);
  const parts = [`<g class="statistics" data-statistic="${escapeXml(label)}">`];
  parts.push(`<text x="${x}" y="${y - 4}" fill="#1d2330" font-weight="600">${escapeXml(label)}</text>`);
  parts.push(`<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="#fafbfc" stroke="#d9dce4"/>`);
  batch.forEach((value, c) => {
    const cy = (y + (c + 0.5) * row).toFixed(1);
    const r = Math.min(3, row / 2).toFixed(1);
    if (running && Number.isFinite(running[c]!)) {
      parts.push(`<line x1="${px(value).toFixed(1)}" x2="${px(running[c]!).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="#b8bdc9"/>`);
      parts.push(`<circle class="running" cx="${px(running[c]!).toFixed(1)}" cy="${cy}" r="${r}" fill="#ffffff" stroke="#1d2330"/>`);
    }
    if (Number.isFinite(value)) parts.push(`<circle class="batch" cx="${px(value).toFixed(1)}" cy="${cy}" r="${r}" fill="${color}"/>`);
  });
  parts.push(`<text x="${x}" y="${y + height + 12}" fill="#5a6273">${formatValue(min)}</text>`);
  parts.push(`<text x="${x + width}" y="${y + height + 12}" fill="#5a6273" text-anchor="end">${formatValue(max)}</text>`);
  parts.push('</g>');
  return parts.join('');
}

/**
 * The inspection as an SVG document: pre- and post-normalization histograms side by side, then the
 * per-channel batch mean and variance, each against the running average where the normalizer
 * keeps one.
 */
export function inspectionSvg(view: LayerInspection, color: string, width = 360): string {
  const gap = 16;
  const half = (width - gap) / 2;
  const histTop = 34;
  const histHeight = 70;
  const statTop = histTop + histHeight + 40;
  const statHeight = Math.min(120, Math.max(40, view.batchMean.length * 4));
  const height = statTop + statHeight + 36;
  const running = view.runningMean !== null;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="0" y="12" fill="#5a6273">${escapeXml(`${view.layer} (${view.normalizer}) at step ${view.step}, one training batch`)}</text>`,
    histogramBars(view.pre, 0, histTop, half, histHeight, '#8a93a6', 'before the normalizer'),
    histogramBars(view.post, half + gap, histTop, half, histHeight, color, 'after the normalizer'),
    statisticStrip(view.batchMean, view.runningMean, 0, statTop, half, statHeight, color, 'mean per channel'),
    statisticStrip(view.batchVar, view.runningVar, half + gap, statTop, half, statHeight, color, 'variance per channel'),
    `<text x="0" y="${height - 6}" fill="#5a6273">${running ? 'dot: this batch · ring: running average (used in eval)' : 'dot: this batch (this normalizer keeps no running statistics)'}</text>`,
    '</svg>',
  ];
  return parts.join('\n');
}
