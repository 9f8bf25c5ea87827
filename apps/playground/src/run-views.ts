// What a run card shows of its model: the decision boundary (2-D data), the chosen normalization
// layer's histograms, and the downloads (safetensors, ONNX checked in onnxruntime-web).
import { boundarySvg, classColor, paintMap, paintPoints, paintSamples, pointAccuracy, toPixel } from './boundary-view';
import { svgToPng } from './chart-panel';
import { download, h } from './dom';
import { inspectionSvg } from './histogram-view';
import type { BoundaryMap } from './boundary';
import type { GeneratedView } from './generated';
import type { OnnxCheck } from './onnx-check';
import type { RunHandle } from './run-handle';

/** Side of the map's canvases in CSS pixels (drawn at device resolution). */
const MAP_SIZE = 240;

/** What the browser test reads about a card's views (see `window.normkitPlayground.snapshot()`). */
export interface RunViewsSnapshot {
  boundary: null | {
    step: number;
    /** Canvas pixel (device pixels of the map canvas) of each drawn training point, its label and the worker's prediction. */
    points: Array<{ x: number; y: number; px: number; py: number; label: number; predicted: number }>;
    classColors: string[];
    pointAccuracy: number;
  };
  histogram: null | { layer: string; step: number; bars: number; layers: string[] };
  generated: null | { step: number; samples: number };
  viewTime: { trainMs: number; viewMs: number; longestViewMs: number };
  onnx: OnnxCheck | null;
  downloads: string | null;
}

export class RunViews {
  readonly element: HTMLElement;
  private readonly boundaryFigure: HTMLElement;
  private readonly mapCanvas: HTMLCanvasElement;
  private readonly pointsCanvas: HTMLCanvasElement;
  private readonly boundaryCaption: HTMLElement;
  private readonly inspectFigure: HTMLElement;
  private readonly samplesFigure: HTMLElement;
  private readonly samplesCanvas: HTMLCanvasElement;
  private readonly samplesCaption: HTMLElement;
  private drawnSamples: GeneratedView | null = null;
  private readonly layerSelect: HTMLSelectElement;
  private readonly histogram: HTMLElement;
  private readonly problem: HTMLElement;
  private readonly downloadsStatus: HTMLElement;
  private readonly onnxButton: HTMLButtonElement;
  private readonly weightsButton: HTMLButtonElement;
  private readonly bundleButton: HTMLButtonElement;
  private drawnBoundary: BoundaryMap | null = null;
  private drawnInspection: unknown = null;
  private onnx: OnnxCheck | null = null;
  private layersSignature = '';

  constructor(private readonly handle: RunHandle, private readonly title: () => string, private readonly color: () => string) {
    const canvas = (cls: string): HTMLCanvasElement => h('canvas', { class: cls, width: MAP_SIZE * devicePixelRatio, height: MAP_SIZE * devicePixelRatio });
    this.mapCanvas = canvas('boundary-map');
    this.pointsCanvas = canvas('boundary-points');
    this.boundaryCaption = h('span', { class: 'view-note' });
    this.boundaryFigure = h(
      'figure',
      { class: 'view boundary', hidden: true },
      h('figcaption', {}, h('span', {}, 'Decision boundary'), h('span', { class: 'chart-actions' },
        h('button', { type: 'button', class: 'small', 'data-export': 'boundary-png', onclick: () => void this.exportBoundary('png') }, 'PNG'),
        h('button', { type: 'button', class: 'small', 'data-export': 'boundary-svg', onclick: () => void this.exportBoundary('svg') }, 'SVG'))),
      h('div', { class: 'boundary-plot' }, this.mapCanvas, this.pointsCanvas),
      this.boundaryCaption,
    );
    this.layerSelect = h('select', { class: 'layer-select', 'aria-label': 'Layer shown in the histograms', onchange: () => this.handle.inspect(this.layerSelect.value) });
    this.histogram = h('div', { class: 'histogram-plot' });
    this.inspectFigure = h(
      'figure',
      { class: 'view inspect', hidden: true },
      h('figcaption', {}, h('span', {}, 'Inside the normalizer'), this.layerSelect),
      this.histogram,
    );
    this.samplesCanvas = canvas('samples');
    this.samplesCaption = h('span', { class: 'view-note' });
    this.samplesFigure = h(
      'figure',
      { class: 'view samples', hidden: true },
      h('figcaption', {}, h('span', {}, 'Generated samples per class')),
      h('div', { class: 'boundary-plot' }, this.samplesCanvas),
      this.samplesCaption,
    );
    this.problem = h('div', { class: 'message message-warning view-problem', hidden: true });
    this.weightsButton = h('button', { type: 'button', class: 'small', 'data-download': 'safetensors', title: 'The trained weights as safetensors (state-dict keys as in PyTorch: weight, bias, running_mean, running_var, num_batches_tracked)', onclick: () => void this.downloadWeights() }, 'Weights (.safetensors)');
    this.bundleButton = h('button', { type: 'button', class: 'small', 'data-download': 'bundle', title: 'The whole run as a training bundle (weights, optimizer state, schedule position, architecture) in a zip: continue training in PyTorch with normkit-torch (python/normkit_torch: load_bundle) or in normkit (loadBundle)', onclick: () => void this.downloadBundle() }, 'Bundle (.zip, continues in PyTorch)');
    this.onnxButton = h('button', { type: 'button', class: 'small', 'data-download': 'onnx', title: 'The eval model as ONNX (opset 17), checked in onnxruntime-web against this run', onclick: () => void this.downloadOnnx() }, 'Export ONNX');
    this.downloadsStatus = h('div', { class: 'view-note downloads-status', 'aria-live': 'polite' });
    this.element = h(
      'div',
      { class: 'run-views' },
      this.boundaryFigure,
      this.samplesFigure,
      this.inspectFigure,
      this.problem,
      h('div', { class: 'downloads' }, h('span', { class: 'view-note' }, 'Take the model:'), this.weightsButton, this.bundleButton, this.onnxButton),
      this.downloadsStatus,
    );
  }

  /** Redraws what changed since the last call (cheap when nothing did). */
  update(): void {
    const handle = this.handle;
    const ready = handle.summary !== null;
    this.weightsButton.disabled = !ready;
    this.bundleButton.disabled = !ready;
    this.onnxButton.disabled = !ready;
    this.problem.hidden = handle.viewProblem === null;
    this.problem.textContent = handle.viewProblem ?? '';
    const map = handle.boundary;
    this.boundaryFigure.hidden = map === null;
    if (map && map !== this.drawnBoundary) this.drawBoundary(map);
    const samples = handle.generated;
    this.samplesFigure.hidden = samples === null;
    if (samples && samples !== this.drawnSamples) {
      this.drawnSamples = samples;
      paintSamples(this.samplesCanvas.getContext('2d')!, samples, this.samplesCanvas.width, this.samplesCanvas.height, 2.5 * devicePixelRatio);
      this.samplesCaption.textContent = `step ${samples.step} · ${samples.generatedLabels.length / samples.numClasses} samples per class from fixed noise (outlined), real points faint`;
    }
    const layers = handle.summary?.normLayers ?? [];
    const view = handle.inspection;
    this.inspectFigure.hidden = view === null;
    if (layers.join() !== this.layersSignature) {
      this.layersSignature = layers.join();
      this.layerSelect.replaceChildren(...layers.map((layer) => h('option', { value: layer }, layer)));
    }
    if (view && view !== this.drawnInspection) {
      this.drawnInspection = view;
      this.layerSelect.value = view.layer;
      this.histogram.innerHTML = inspectionSvg(view, this.color());
    }
  }

  private drawBoundary(map: BoundaryMap): void {
    this.drawnBoundary = map;
    const { width, height } = this.mapCanvas;
    paintMap(this.mapCanvas.getContext('2d')!, map, width, height);
    const points = this.pointsCanvas.getContext('2d')!;
    points.clearRect(0, 0, width, height);
    paintPoints(points, map, width, height, 2.5 * devicePixelRatio);
    this.boundaryCaption.textContent = `step ${map.step} · ${(100 * pointAccuracy(map)).toFixed(1)}% of the ${map.labels.length} points shown are classified right`;
  }

  private async exportBoundary(format: 'png' | 'svg'): Promise<void> {
    const map = this.handle.boundary;
    if (!map) return;
    const svg = boundarySvg(map, this.title());
    const name = `normkit-boundary-${this.title().slice(0, 1)}-step${map.step}.${format}`;
    if (format === 'svg') download(name, svg, 'image/svg+xml');
    else download(name, await svgToPng(svg));
  }

  private async downloadWeights(): Promise<void> {
    this.downloadsStatus.textContent = 'Preparing the weights...';
    try {
      const model = await this.handle.exportModel('safetensors');
      download(`normkit-run-${this.title().slice(0, 1)}-step${model.step}.safetensors`, new Blob([model.bytes as BlobPart], { type: 'application/octet-stream' }));
      this.downloadsStatus.textContent = `Weights at step ${model.step} downloaded (${model.bytes.length} bytes, safetensors; the metadata holds the run's config).`;
    } catch (error) {
      this.downloadsStatus.textContent = error instanceof Error ? error.message : String(error);
    }
  }

  private async downloadBundle(): Promise<void> {
    this.downloadsStatus.textContent = 'Preparing the training bundle...';
    try {
      const model = await this.handle.exportModel('bundle');
      download(`normkit-run-${this.title().slice(0, 1)}-step${model.step}-bundle.zip`, new Blob([model.bytes as BlobPart], { type: 'application/zip' }));
      this.downloadsStatus.textContent = `Training bundle at step ${model.step} downloaded (${model.bytes.length} bytes: bundle.json, model.safetensors, optimizer.safetensors). Unzip it and continue in PyTorch with normkit_torch.bundle.load_bundle, or in normkit with loadBundle.`;
    } catch (error) {
      this.downloadsStatus.textContent = error instanceof Error ? error.message : String(error);
    }
  }

  private async downloadOnnx(): Promise<void> {
    this.downloadsStatus.textContent = 'Exporting to ONNX...';
    this.onnx = null;
    try {
      const model = await this.handle.exportModel('onnx');
      download(`normkit-run-${this.title().slice(0, 1)}-step${model.step}.onnx`, new Blob([model.bytes as BlobPart], { type: 'application/octet-stream' }));
      this.downloadsStatus.textContent = `ONNX model at step ${model.step} downloaded (${model.bytes.length} bytes); checking it in onnxruntime-web...`;
      const { checkOnnx } = await import('./onnx-check');
      const check = await checkOnnx(model.bytes, model.reference!);
      this.onnx = check;
      this.downloadsStatus.textContent = check.ok
        ? `ONNX model at step ${model.step} downloaded and checked: onnxruntime-web gives this run's predictions on ${check.rows} training samples (same class for ${check.sameClass}/${check.rows}, max |difference| ${check.maxDiff.toExponential(1)}).`
        : `ONNX model at step ${model.step} downloaded, but onnxruntime-web disagrees with this run: same class for ${check.sameClass}/${check.rows} samples, max |difference| ${check.maxDiff.toExponential(1)} (allowed ${check.tolerance.toExponential(1)}).`;
    } catch (error) {
      this.downloadsStatus.textContent = `No ONNX export: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  snapshot(): RunViewsSnapshot {
    const map = this.drawnBoundary;
    const view = this.handle.inspection;
    return {
      boundary: map
        ? {
            step: map.step,
            points: Array.from(map.labels, (label, i) => {
              const [px, py] = toPixel(map, map.points[2 * i]!, map.points[2 * i + 1]!, this.mapCanvas.width, this.mapCanvas.height);
              return { x: map.points[2 * i]!, y: map.points[2 * i + 1]!, px, py, label, predicted: map.predicted[i]! };
            }),
            classColors: Array.from({ length: map.numClasses }, (_, c) => classColor(c)),
            pointAccuracy: pointAccuracy(map),
          }
        : null,
      histogram: view && !this.inspectFigure.hidden ? { layer: view.layer, step: view.step, bars: this.histogram.querySelectorAll('rect.bar').length, layers: view.layers } : null,
      generated: this.drawnSamples ? { step: this.drawnSamples.step, samples: this.drawnSamples.generatedLabels.length } : null,
      viewTime: this.handle.viewTime,
      onnx: this.onnx,
      downloads: this.downloadsStatus.textContent || null,
    };
  }
}
