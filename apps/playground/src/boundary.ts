// The decision boundary of a 2-D classifier: its prediction over a grid covering the input plane,
// computed in the run's worker. Eval mode, no autograd, and nothing of the run changes: a
// BatchNorm must not learn from the grid (running statistics are untouched), and training flags
// are restored.
import { restoreBuffers, snapshotBuffers, type Classifier, type Dataset } from '@normkit/experiments';
import { Tensor, ValueError, noGrad, type Module } from '@normkit/tensor';

/** The model's view of the plane, as plain data (structured-clone safe). */
export interface BoundaryMap {
  /** Training step the map was computed at. */
  step: number;
  /** Cells per side: the grid is `resolution` x `resolution`, row 0 at the top (largest y). */
  resolution: number;
  /** Input range covered: [xMin, xMax, yMin, yMax]. */
  bounds: [number, number, number, number];
  numClasses: number;
  /** Predicted class (argmax of the logits) of each cell, row-major. */
  classes: Uint8Array;
  /** Softmax probability of the predicted class, 0..255, row-major. */
  confidence: Uint8Array;
  /** Training points drawn on the map: x, y interleaved. */
  points: Float32Array;
  /** Their true classes. */
  labels: Uint8Array;
  /** The model's predicted class for each of them (same eval pass as the map). */
  predicted: Uint8Array;
}

export interface BoundaryOptions {
  /** Cells per side (default 64). */
  resolution?: number;
  /** Most training points drawn (default 400; the first rows of the shuffled training split). */
  maxPoints?: number;
  /** Rows per forward (default 1024). */
  chunk?: number;
}

/** A data set whose samples are points of the plane (two-spirals, circles, xor, gaussians). */
export function isPlanar(dataset: Pick<Dataset, 'inputKind' | 'sampleShape' | 'task'>): boolean {
  return dataset.task === 'classification' && dataset.inputKind === 'vector' && dataset.sampleShape.length === 1 && dataset.sampleShape[0] === 2;
}

/** The training points' extent with a 10% margin, so the boundary is seen around them too. */
export function planeBounds(inputs: Float32Array): [number, number, number, number] {
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let i = 0; i + 1 < inputs.length; i += 2) {
    xMin = Math.min(xMin, inputs[i]!);
    xMax = Math.max(xMax, inputs[i]!);
    yMin = Math.min(yMin, inputs[i + 1]!);
    yMax = Math.max(yMax, inputs[i + 1]!);
  }
  if (!Number.isFinite(xMin)) return [-1, 1, -1, 1];
  const padX = Math.max((xMax - xMin) * 0.1, 1e-3);
  const padY = Math.max((yMax - yMin) * 0.1, 1e-3);
  return [xMin - padX, xMax + padX, yMin - padY, yMax + padY];
}

/**
 * Runs `fn` with `model` in eval mode and without autograd, then puts back everything a forward
 * could change: every module's training flag and every buffer (so even a normalizer that updated
 * statistics in eval could not learn from what `fn` feeds it).
 */
export function withEvalMode<T>(model: Module, fn: () => T): T {
  const modes = [...model.namedModules()].map(([, m]) => [m, m.training] as const);
  const buffers = snapshotBuffers(model);
  model.eval();
  try {
    return noGrad(fn);
  } finally {
    restoreBuffers(buffers);
    for (const [m, training] of modes) m.training = training;
  }
}

/** Eval-mode logits of a classifier on `inputs` ([rows, ...sampleShape]), nothing of the run changed. */
export function evalLogits(model: Module, inputs: Float32Array, shape: readonly number[]): Float32Array {
  return withEvalMode(model, () => Float32Array.from((model as unknown as Classifier).forward({ x: new Tensor(inputs, [...shape]) }).data));
}

/** Each row's argmax class and its softmax probability (0..255) from eval-mode logits of `inputs` ([n, 2]). */
export function predictPlanar(model: Module, inputs: Float32Array, numClasses: number, chunk = 1024): { classes: Uint8Array; confidence: Uint8Array } {
  const count = inputs.length / 2;
  const classes = new Uint8Array(count);
  const confidence = new Uint8Array(count);
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const logits = evalLogits(model, inputs.slice(2 * start, 2 * (start + rows)), [rows, 2]);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      let max = -Infinity;
      for (let c = 0; c < numClasses; c++) {
        const v = logits[r * numClasses + c]!;
        if (v > max) [max, best] = [v, c];
      }
      let sum = 0;
      for (let c = 0; c < numClasses; c++) sum += Math.exp(logits[r * numClasses + c]! - max);
      classes[start + r] = best;
      // NaN logits (a diverged model) give confidence 0: drawn pale, not as a confident class.
      confidence[start + r] = Number.isFinite(max) ? Math.round(255 / sum) : 0;
    }
  }
  return { classes, confidence };
}

/** Centres of the grid's cells, row-major from the top-left (x grows to the right, y upwards). */
export function gridInputs(bounds: readonly [number, number, number, number], resolution: number): Float32Array {
  const [xMin, xMax, yMin, yMax] = bounds;
  const inputs = new Float32Array(resolution * resolution * 2);
  for (let row = 0; row < resolution; row++) {
    const y = yMax - ((row + 0.5) / resolution) * (yMax - yMin);
    for (let col = 0; col < resolution; col++) {
      const i = 2 * (row * resolution + col);
      inputs[i] = xMin + ((col + 0.5) / resolution) * (xMax - xMin);
      inputs[i + 1] = y;
    }
  }
  return inputs;
}

/**
 * The decision boundary of a classifier on a 2-D data set at `step`: predictions over a
 * `resolution`² grid around the training points, and the first `maxPoints` training points with
 * their labels and predictions.
 *
 * @example
 * const map = decisionBoundary(trainer.model, trainer.dataset, trainer.completedSteps);
 * map.classes[row * map.resolution + col]; // predicted class of that cell
 */
export function decisionBoundary(model: Module, dataset: Dataset, step: number, options: BoundaryOptions = {}): BoundaryMap {
  if (!isPlanar(dataset)) {
    throw new ValueError({
      op: 'decisionBoundary',
      expected: 'a classification data set of 2-D points',
      given: `"${dataset.name}" (${dataset.task}, samples of shape [${dataset.sampleShape.join(', ')}])`,
    });
  }
  const resolution = options.resolution ?? 64;
  const train = dataset.train;
  const bounds = planeBounds(train.inputs);
  const grid = predictPlanar(model, gridInputs(bounds, resolution), dataset.numClasses, options.chunk);
  const shown = Math.min(options.maxPoints ?? 400, train.count);
  const points = train.inputs.slice(0, 2 * shown);
  const predicted = predictPlanar(model, points, dataset.numClasses, options.chunk).classes;
  return {
    step,
    resolution,
    bounds,
    numClasses: dataset.numClasses,
    classes: grid.classes,
    confidence: grid.confidence,
    points,
    labels: Uint8Array.from(train.labels.subarray(0, shown)),
    predicted,
  };
}
