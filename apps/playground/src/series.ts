// What each chart plots, as pure functions of the runs' event histories (the page draws them with
// uPlot, the SVG export with svg.ts, and tests read them directly).
import type { DivergedEvent, DoneEvent, EvalEvent, FailedEvent, JsonValue, StepEvent, TaskKind } from '@normkit/experiments';

/** The events of one run as the page keeps them. */
export interface RunHistory {
  steps: StepEvent[];
  evals: EvalEvent[];
  end: DivergedEvent | FailedEvent | DoneEvent | null;
}

/** A run as the charts see it. */
export interface RunView {
  index: number;
  label: string;
  color: string;
  task: TaskKind;
  history: RunHistory;
}

/** One line of a chart, before it gets its run's colour. */
export interface LineSpec {
  /** Unique within the chart and the run. */
  key: string;
  name: string;
  x: number[];
  y: number[];
  dashed?: boolean;
}

/** A line ready to draw: its run's colour, shaded by its position among the run's lines. */
export interface ChartLine extends LineSpec {
  run: number;
  label: string;
  color: string;
}

export interface ChartDefinition {
  id: string;
  title: string;
  /** 'compare': the headline curves; 'inside': per-layer and per-module quantities. */
  section: 'compare' | 'inside';
  /** One sentence under the title: what is plotted and how to read it. */
  description: string;
  /** Plot on a log10 axis (positive values only). */
  log?: boolean;
  lines(run: RunView): LineSpec[];
}

/** Debiased exponential moving average (as in Adam): smooths the noisy batch loss without lag at the start. */
export function exponentialMovingAverage(values: readonly number[], beta: number): number[] {
  const out = new Array<number>(values.length);
  let average = 0;
  let weight = 1;
  for (let i = 0; i < values.length; i++) {
    average = beta * average + (1 - beta) * values[i]!;
    weight *= beta;
    out[i] = average / (1 - weight);
  }
  return out;
}

function mean(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return values.length ? total / values.length : Number.NaN;
}

/**
 * One line per key of a per-eval record (layer -> number), in the order keys first appear, so a
 * layer keeps its shade over time.
 */
function perKeyLines(evals: readonly EvalEvent[], read: (event: EvalEvent) => Record<string, number>, dashed = false): LineSpec[] {
  const lines = new Map<string, LineSpec>();
  for (const event of evals) {
    for (const [key, value] of Object.entries(read(event))) {
      if (!Number.isFinite(value)) continue;
      let line = lines.get(key);
      if (!line) {
        // Parameters owned by the model itself (a Transformer's position table) have no layer path.
        line = { key, name: key === '' ? '(model)' : key, x: [], y: [], dashed };
        lines.set(key, line);
      }
      line.x.push(event.step);
      line.y.push(value);
    }
  }
  return [...lines.values()];
}

/** Every number inside a JSON value with its path: `{ mean: [0.2, 0.8] }` -> [['mean.0', 0.2], ['mean.1', 0.8]]. */
export function flattenNumbers(value: JsonValue, prefix = ''): Array<[string, number]> {
  if (typeof value === 'number') return [[prefix, value]];
  const join = (key: string | number): string => (prefix ? `${prefix}.${key}` : String(key));
  if (Array.isArray(value)) return value.flatMap((item, i) => flattenNumbers(item, join(i)));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => flattenNumbers(item, join(key)));
  return [];
}

const isGeneration = (run: RunView): boolean => run.task === 'conditional-generation';

/** Every chart, in page order. Charts whose lines are all empty are hidden. */
export const chartDefinitions: readonly ChartDefinition[] = [
  {
    id: 'batch-loss',
    title: 'Training loss (every step)',
    section: 'compare',
    description: 'Loss of each training batch, smoothed by a debiased moving average (0.9); the generator loss for a GAN.',
    lines: (run) => {
      const x = run.history.steps.map((e) => e.step);
      return [{ key: 'batch-loss', name: 'batch loss', x, y: exponentialMovingAverage(run.history.steps.map((e) => e.loss), 0.9) }];
    },
  },
  {
    id: 'loss',
    title: 'Train and test loss',
    section: 'compare',
    description: 'In eval mode at every evaluation: solid test, dashed train. Cross entropy; class-conditional MMD² for generation.',
    lines: (run) => [
      { key: 'test', name: 'test', x: run.history.evals.map((e) => e.step), y: run.history.evals.map((e) => e.test.loss) },
      { key: 'train', name: 'train', x: run.history.evals.map((e) => e.step), y: run.history.evals.map((e) => e.train.loss), dashed: true },
    ],
  },
  {
    id: 'accuracy',
    title: 'Train and test accuracy',
    section: 'compare',
    description: 'In eval mode: solid test, dashed train. For generation: the share of samples on a mode of their class.',
    lines: (run) => [
      { key: 'test', name: isGeneration(run) ? 'test quality' : 'test', x: run.history.evals.map((e) => e.step), y: run.history.evals.map((e) => e.test.accuracy) },
      { key: 'train', name: isGeneration(run) ? 'train quality' : 'train', x: run.history.evals.map((e) => e.step), y: run.history.evals.map((e) => e.train.accuracy), dashed: true },
    ],
  },
  {
    id: 'gap',
    title: 'Train/eval gap',
    section: 'compare',
    description: 'Train-mode minus eval-mode loss on the same training samples: how far batch statistics are from the running averages (0 without them).',
    lines: (run) => [{ key: 'gap', name: 'loss gap', x: run.history.evals.map((e) => e.step), y: run.history.evals.map((e) => e.gap.loss) }],
  },
  {
    id: 'activation-mean',
    title: 'Activation mean per layer',
    section: 'inside',
    description: 'Mean of each hidden layer’s output in the training step before each evaluation; lighter shades are deeper layers.',
    lines: (run) => perKeyLines(run.history.evals, (e) => Object.fromEntries(Object.entries(e.activations).map(([k, v]) => [k, v.mean]))),
  },
  {
    id: 'activation-std',
    title: 'Activation std per layer',
    section: 'inside',
    description: 'Standard deviation of each hidden layer’s output (real tokens only for sequences).',
    lines: (run) => perKeyLines(run.history.evals, (e) => Object.fromEntries(Object.entries(e.activations).map(([k, v]) => [k, v.std]))),
  },
  {
    id: 'grad-norm',
    title: 'Gradient norm per layer',
    section: 'inside',
    description: 'L2 norm of each layer’s parameter gradients (before clipping), log scale.',
    log: true,
    lines: (run) => perKeyLines(run.history.evals, (e) => e.gradNorms),
  },
  {
    id: 'running-mean',
    title: 'Running mean',
    section: 'inside',
    description: 'Running mean buffer of each normalizer that keeps one, averaged over channels.',
    lines: (run) => perKeyLines(run.history.evals, (e) => Object.fromEntries(Object.entries(e.probes.runningStats).map(([k, v]) => [k, mean(v.mean)]))),
  },
  {
    id: 'running-var',
    title: 'Running variance',
    section: 'inside',
    description: 'Running variance buffer of each normalizer that keeps one, averaged over channels.',
    lines: (run) => perKeyLines(run.history.evals, (e) => Object.fromEntries(Object.entries(e.probes.runningStats).map(([k, v]) => [k, mean(v.var)]))),
  },
  {
    id: 'importance',
    title: 'Switchable Norm importance',
    section: 'inside',
    description: 'Mixture weights of Switchable Normalization (softmax over instance, layer and batch statistics), per module.',
    lines: (run) =>
      perKeyLines(run.history.evals, (e) =>
        Object.fromEntries(Object.entries(e.probes.importance).flatMap(([module, value]) => flattenNumbers(value, module))),
      ),
  },
  {
    id: 'sigma',
    title: 'Spectral sigma',
    section: 'inside',
    description: 'Largest singular value estimate of each spectrally normalized weight.',
    lines: (run) => perKeyLines(run.history.evals, (e) => e.probes.sigma),
  },
  {
    id: 'max-logit',
    title: 'Attention max logit',
    section: 'inside',
    description: 'Largest attention logit of each attention layer: it grows without bound when training is unstable (QK-norm keeps it bounded).',
    lines: (run) => perKeyLines(run.history.evals, (e) => e.probes.maxLogit),
  },
  {
    id: 'step-metrics',
    title: 'Other step metrics',
    section: 'inside',
    description: 'Numbers reported each step besides the loss: the GAN discriminator, gradient transforms (clipping, AGC).',
    lines: (run) => {
      const lines = new Map<string, LineSpec>();
      for (const event of run.history.steps) {
        for (const [key, value] of Object.entries(event.metrics)) {
          let line = lines.get(key);
          if (!line) lines.set(key, (line = { key, name: key, x: [], y: [] }));
          line.x.push(event.step);
          line.y.push(value);
        }
      }
      return [...lines.values()];
    },
  },
];

/** `color` mixed with white by `amount` in [0, 1]. */
export function lighten(color: string, amount: number): string {
  const value = Number.parseInt(color.slice(1), 16);
  const channel = (shift: number): number => {
    const c = (value >> shift) & 0xff;
    return Math.round(c + (255 - c) * amount);
  };
  return `#${[16, 8, 0].map((s) => channel(s).toString(16).padStart(2, '0')).join('')}`;
}

/** The lines of one chart over all runs, coloured by run and shaded by position within the run. */
export function chartLines(definition: ChartDefinition, runs: readonly RunView[]): ChartLine[] {
  const all: ChartLine[] = [];
  for (const run of runs) {
    const lines = definition.lines(run).filter((line) => line.x.length > 0);
    // Solid/dashed pairs share a colour; otherwise deeper lines get lighter (up to 60% white).
    const distinct = lines.filter((l) => !l.dashed).length;
    let shadeIndex = 0;
    for (const line of lines) {
      const shade = line.dashed || distinct <= 1 ? 0 : (0.6 * shadeIndex++) / (distinct - 1);
      all.push({ ...line, key: `${run.index}:${line.key}`, run: run.index, label: `${run.label} ${line.name}`, color: lighten(run.color, shade) });
    }
  }
  return all;
}

/**
 * uPlot's aligned layout: one shared, sorted x array and one y array per line with null where the
 * line has no point at that x (runs evaluate at different steps). On a log axis, values <= 0 and
 * non-finite values become null (they cannot be drawn).
 */
export function alignLines(lines: readonly ChartLine[], log = false): { x: number[]; ys: Array<Array<number | null>> } {
  const xs = new Set<number>();
  for (const line of lines) for (const x of line.x) xs.add(x);
  const x = [...xs].sort((a, b) => a - b);
  const position = new Map(x.map((value, i) => [value, i]));
  const ys = lines.map((line) => {
    const y = new Array<number | null>(x.length).fill(null);
    for (let i = 0; i < line.x.length; i++) {
      const value = line.y[i]!;
      y[position.get(line.x[i]!)!] = Number.isFinite(value) && (!log || value > 0) ? value : null;
    }
    return y;
  });
  return { x, ys };
}
