// One live chart: a uPlot canvas fed from series.ts, redrawn as events stream in, with PNG and SVG
// export of the same lines.
import uPlot from 'uplot';
import { download, h } from './dom';
import { alignLines, chartLines, type ChartDefinition, type ChartLine, type RunView } from './series';
import { renderChartSvg } from './svg';

const HEIGHT = 220;

/** Draws an SVG document onto a canvas at `scale` and returns it as a PNG blob. */
export async function svgToPng(svg: string, scale = 2): Promise<Blob> {
  const image = new Image();
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    await new Promise<void>((resolve, reject) => {
      image.onload = () => resolve();
      image.onerror = () => reject(new Error('the chart could not be rendered as an image'));
      image.src = url;
    });
    const canvas = h('canvas', { width: image.width * scale, height: image.height * scale });
    const context = canvas.getContext('2d')!;
    context.scale(scale, scale);
    context.drawImage(image, 0, 0);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('PNG encoding failed'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * uPlot's y range with 10% padding, except that a flat line (a train/eval gap of exactly 0) gets
 * +-1 around its value instead of uPlot's default 0..100.
 */
function flatSafeRange(_plot: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
  if (min === null || max === null) return [0, 1];
  if (min === max) return [min - 1, max + 1];
  return uPlot.rangeNum(min, max, 0.1, true);
}

export class ChartPanel {
  readonly element: HTMLElement;
  private readonly plotHolder: HTMLElement;
  private plot: uPlot | null = null;
  private seriesSignature = '';
  private lines: ChartLine[] = [];
  /** The user zoomed in (drag): keep their scales while data streams in, until a double click. */
  private zoomed = false;

  constructor(readonly definition: ChartDefinition) {
    this.plotHolder = h('div', { class: 'chart-plot', ondblclick: () => (this.zoomed = false) });
    this.element = h(
      'figure',
      { class: 'chart', 'data-chart': definition.id, hidden: true },
      h(
        'figcaption',
        {},
        h('span', { class: 'chart-title' }, definition.title),
        h(
          'span',
          { class: 'chart-actions' },
          h('button', { type: 'button', class: 'small', title: 'Download this chart as PNG', onclick: () => void this.exportPng() }, 'PNG'),
          h('button', { type: 'button', class: 'small', title: 'Download this chart as SVG', onclick: () => this.exportSvg() }, 'SVG'),
        ),
      ),
      h('p', { class: 'chart-description' }, definition.description),
      this.plotHolder,
    );
  }

  /** Number of lines and of points over all lines (for the page's test hook). */
  get stats(): { lines: number; points: number } {
    return { lines: this.lines.length, points: this.lines.reduce((n, l) => n + l.x.length, 0) };
  }

  /** Redraws from the runs' histories; hidden while no run has data for this chart. */
  update(runs: readonly RunView[]): void {
    this.lines = chartLines(this.definition, runs);
    const visible = this.lines.length > 0;
    this.element.hidden = !visible;
    if (!visible) {
      this.destroyPlot();
      return;
    }
    const { x, ys } = alignLines(this.lines, this.definition.log);
    const data = [x, ...ys] as uPlot.AlignedData;
    const signature = this.lines.map((l) => `${l.key}|${l.color}|${l.label}`).join(';');
    if (!this.plot || signature !== this.seriesSignature) {
      this.destroyPlot();
      this.seriesSignature = signature;
      this.plot = new uPlot(this.options(), data, this.plotHolder);
    } else {
      this.plot.setData(data, !this.zoomed);
    }
  }

  /** Fits the canvas to the figure's width (called on resize). */
  resize(): void {
    if (this.plot) this.plot.setSize({ width: this.width(), height: HEIGHT });
  }

  toSvg(): string {
    return renderChartSvg({ title: this.definition.title, description: this.definition.description, log: this.definition.log, lines: this.lines });
  }

  exportSvg(): void {
    download(`normkit-${this.definition.id}.svg`, this.toSvg(), 'image/svg+xml');
  }

  async exportPng(): Promise<void> {
    download(`normkit-${this.definition.id}.png`, await svgToPng(this.toSvg()));
  }

  private width(): number {
    return Math.max(240, Math.floor(this.element.clientWidth || 480) - 2);
  }

  private destroyPlot(): void {
    this.plot?.destroy();
    this.plot = null;
    this.seriesSignature = '';
  }

  private options(): uPlot.Options {
    return {
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: false }, y: this.definition.log ? { distr: 3 } : { range: flatSafeRange } },
      axes: [
        { label: 'step', labelSize: 18, size: 36, stroke: '#5a6273', grid: { stroke: '#eceef3' }, ticks: { stroke: '#d6d9e0' } },
        { size: 56, stroke: '#5a6273', grid: { stroke: '#eceef3' }, ticks: { stroke: '#d6d9e0' } },
      ],
      series: [
        { label: 'step' },
        ...this.lines.map((line) => ({
          label: line.label,
          stroke: line.color,
          width: 1.6,
          spanGaps: true,
          // uPlot's default shows point markers only where points are sparse: a run with one
          // evaluation so far is a dot rather than nothing.
          ...(line.dashed ? { dash: [5, 4] } : {}),
        })),
      ],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (u.select.width > 0) this.zoomed = true;
          },
        ],
      },
    };
  }
}
