// Inside one normalizer: what it received and gave in the last training step, with its
// per-channel batch statistics against its running statistics (for normalizers that keep them).
// Recorded and computed in the run's worker; the run is not changed by it.
import { NormSlot, type SlotContext } from '@normkit/experiments';
import { ValueError, isGradEnabled, type Module, type Tensor } from '@normkit/tensor';

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
  /** Every inspectable slot of the model, in registration order. */
  layers: string[];
  /** Values entering the normalizer (pre-normalization) and leaving it (post-normalization) in the last training step. */
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

/** What went into and came out of each normalization slot in the last training forward. */
export interface SlotRecording {
  input: Tensor;
  output: Tensor;
}

/**
 * Records, for every normalization slot of `model`, the tensors entering and leaving it in each
 * training forward (training mode with autograd on: the trainer's steps, not its evaluations or
 * the decision-boundary grid). It only keeps references, so the run is exactly the run without
 * it: no extra forward, no state touched. Returns the recordings by slot path and a function that
 * removes the recorder.
 *
 * @example
 * const { recordings } = recordNormLayers(trainer.model);
 * trainer.run(1);
 * inspectLayer(trainer.model, recordings, trainer.completedSteps, 'layers.0.norm');
 */
export function recordNormLayers(model: Module): { recordings: Map<string, SlotRecording>; stop: () => void } {
  const recordings = new Map<string, SlotRecording>();
  const slots = normLayers(model);
  for (const [path, slot] of slots) {
    // An own property over the class's method, deleted by stop().
    const original = slot.forward.bind(slot);
    slot.forward = (input: Tensor, context?: SlotContext): Tensor => {
      const output = original(input, context);
      if (slot.training && isGradEnabled()) recordings.set(path, { input, output });
      return output;
    };
  }
  return { recordings, stop: () => slots.forEach(([, slot]) => Reflect.deleteProperty(slot, 'forward')) };
}

/**
 * The slot at `layer` (default: the first) in the last training forward recorded by
 * `recordNormLayers`: histograms of its input and output, its input's per-channel batch
 * statistics, and the normalizer's running statistics now. Null before the first training step.
 */
export function inspectLayer(model: Module, recordings: ReadonlyMap<string, SlotRecording>, step: number, layer?: string): LayerInspection | null {
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
  const recording = recordings.get(path);
  if (!recording) return null;
  const { input, output } = recording;
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
    post: histogram(output.data),
    batchMean: moments.mean,
    batchVar: moments.variance,
    runningMean: bufferValues(normalizer, 'running_mean', channels),
    runningVar: bufferValues(normalizer, 'running_var', channels),
  };
}
