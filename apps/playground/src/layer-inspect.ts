// Inside one normalizer: what it receives and what it gives, on one training batch at the current
// step, with its per-channel batch statistics against its running statistics (for normalizers
// that keep them). Computed in the run's worker; nothing of the run changes.
import { NormSlot, restoreBuffers, snapshotBuffers, type Classifier, type Dataset, type SlotContext } from '@normkit/experiments';
import { Tensor, ValueError, noGrad, type Module } from '@normkit/tensor';

/** Counts of values in `bins` equal-width bins between `min` and `max`. */
export interface Histogram {
  min: number;
  max: number;
  counts: number[];
}

/** One normalization slot at one step, as plain data. */
export interface LayerInspection {
  step: number;
  /** The slot's module path (e.g. `layers.1.norm`) and its normalizer. */
  layer: string;
  normalizer: string;
  /** Every inspectable slot of the model, in forward order. */
  layers: string[];
  /** Values entering the normalizer (pre-normalization) and leaving it (post-normalization), training-mode forward. */
  pre: Histogram;
  post: Histogram;
  /** Per-channel mean and (biased) variance of the pre-normalization values over the batch. */
  batchMean: number[];
  batchVar: number[];
  /** The normalizer's running averages (`running_mean`, `running_var`), null when it keeps none. */
  runningMean: number[] | null;
  runningVar: number[] | null;
}

/** Histogram of the finite values of `data` (a constant input gets one full bin around it). */
export function histogram(data: ArrayLike<number>, bins = 32): Histogram {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) return { min: 0, max: 1, counts: new Array<number>(bins).fill(0) };
  if (min === max) [min, max] = [min - 0.5, max + 0.5];
  const counts = new Array<number>(bins).fill(0);
  const width = (max - min) / bins;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - min) / width))]!++;
  }
  return { min, max, counts };
}

/** The normalization slots that hold a normalizer, by module path, in forward (registration) order. */
export function normLayers(model: Module): Array<[string, NormSlot]> {
  return [...model.namedModules()].filter((entry): entry is [string, NormSlot] => entry[1] instanceof NormSlot && entry[1].normalizer !== null);
}

/** Per-channel mean and biased variance; `channelAxis` of `shape` indexes the channels. */
export function channelMoments(data: ArrayLike<number>, shape: readonly number[], channelAxis: number): { mean: number[]; variance: number[] } {
  const channels = shape[channelAxis]!;
  const inner = shape.slice(channelAxis + 1).reduce((a, b) => a * b, 1);
  const sums = new Float64Array(channels);
  const squares = new Float64Array(channels);
  const counts = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    sums[c]! += data[i]!;
    counts[c]!++;
  }
  const mean = Array.from(sums, (s, c) => s / Math.max(1, counts[c]!));
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    const d = data[i]! - mean[c]!;
    squares[c]! += d * d;
  }
  return { mean, variance: Array.from(squares, (s, c) => s / Math.max(1, counts[c]!)) };
}

function bufferValues(module: Module, name: string, channels: number): number[] | null {
  for (const [key, tensor] of module.namedBuffers()) {
    if (key === name && tensor.size === channels) return Array.from(tensor.data);
  }
  return null;
}

/**
 * Runs one training-mode forward (no autograd) of the first `batchSize` training samples, records
 * what enters and leaves the slot at `layer` (default: the first), and puts every buffer and
 * training flag back, so the run continues exactly as if this never happened.
 *
 * @example
 * const view = inspectLayer(trainer.model, trainer.dataset, 32, trainer.completedSteps, 'layers.0.norm');
 * view.post.counts; // the histogram of the normalized values
 */
export function inspectLayer(model: Module, dataset: Dataset, batchSize: number, step: number, layer?: string): LayerInspection {
  const slots = normLayers(model);
  const chosen = layer === undefined ? slots[0] : slots.find(([path]) => path === layer);
  if (!chosen) {
    throw new ValueError({
      op: 'inspectLayer',
      expected: slots.length > 0 ? `one of the model's normalization layers (${slots.map(([p]) => p).join(', ')})` : 'a model with a normalizer in one of its slots',
      given: layer === undefined ? 'a model without normalizers' : `"${layer}"`,
    });
  }
  const [path, slot] = chosen;
  const rows = Math.min(batchSize, dataset.train.count);
  const width = dataset.sampleShape.reduce((a, b) => a * b, 1);
  const x = new Tensor(dataset.train.inputs.slice(0, rows * width), [rows, ...dataset.sampleShape]);
  const masks = dataset.train.masks;
  const mask = masks ? new Tensor(masks.slice(0, (rows * masks.length) / dataset.train.count), [rows, masks.length / dataset.train.count]) : undefined;

  let pre: Tensor | null = null;
  let post: Tensor | null = null;
  // Record the slot's input and output on this forward only (an own property over the class's method, deleted after).
  const original = slot.forward.bind(slot);
  slot.forward = (input: Tensor, context?: SlotContext): Tensor => {
    const output = original(input, context);
    pre = input;
    post = output;
    return output;
  };
  const modes = [...model.namedModules()].map(([, m]) => [m, m.training] as const);
  const buffers = snapshotBuffers(model);
  model.train();
  try {
    noGrad(() => (model as unknown as Classifier).forward({ x, mask }));
  } finally {
    restoreBuffers(buffers);
    for (const [m, training] of modes) m.training = training;
    Reflect.deleteProperty(slot, 'forward');
  }
  if (!pre || !post) {
    throw new ValueError({ op: 'inspectLayer', expected: `the layer "${path}" to be on the forward path`, given: 'a forward that never reached it' });
  }
  const input = pre as Tensor;
  // Features [N, C] and tokens [N, L, C] keep channels last; images [N, C, H, W] at axis 1.
  const channelAxis = slot.layout === 'image' ? 1 : input.ndim - 1;
  const moments = channelMoments(input.data, input.shape, channelAxis);
  const channels = input.shape[channelAxis]!;
  const normalizer = slot.normalizer!;
  return {
    step,
    layer: path,
    normalizer: slot.choice.name,
    layers: slots.map(([p]) => p),
    pre: histogram(input.data),
    post: histogram((post as Tensor).data),
    batchMean: moments.mean,
    batchVar: moments.variance,
    runningMean: bufferValues(normalizer, 'running_mean', channels),
    runningVar: bufferValues(normalizer, 'running_var', channels),
  };
}
