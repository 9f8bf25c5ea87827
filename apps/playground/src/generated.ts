// The conditional-generation task's view: what the generator makes for each condition (class),
// beside the real points of that class. Computed in the run's worker with the same care as the
// decision boundary: eval mode, no autograd, every buffer and training flag put back, and its own
// noise stream, so the run is unchanged.
import { streamGenerator, type ConditionalGan, type Dataset } from '@normkit/experiments';
import { ValueError, randn, type Module } from '@normkit/tensor';
import { planeBounds, withEvalMode } from './boundary';

/** Generated and real 2-D points per class, as plain data. */
export interface GeneratedView {
  step: number;
  numClasses: number;
  /** Range covering the real points with a margin: [xMin, xMax, yMin, yMax]. */
  bounds: [number, number, number, number];
  /** Generated points (x, y interleaved) and the class each was asked for. */
  generated: Float32Array;
  generatedLabels: Uint8Array;
  /** Real training points and their classes. */
  real: Float32Array;
  realLabels: Uint8Array;
}

/** A generation data set of 2-D points (the conditional mixture). */
export function isPlanarGeneration(dataset: Pick<Dataset, 'task' | 'sampleShape'>): boolean {
  return dataset.task === 'conditional-generation' && dataset.sampleShape.length === 1 && dataset.sampleShape[0] === 2;
}

/**
 * `perClass` generated samples for every class from a fixed noise stream (the same z at every
 * step, so the view shows the generator moving, not the noise), with up to `maxReal` real points.
 *
 * @example
 * const view = generatedSamples(trainer.model, trainer.dataset, trainer.completedSteps, trainer.config.seed);
 */
export function generatedSamples(model: Module, dataset: Dataset, step: number, seed: number, perClass = 100, maxReal = 400): GeneratedView {
  if (!isPlanarGeneration(dataset)) {
    throw new ValueError({ op: 'generatedSamples', expected: 'a conditional-generation data set of 2-D points', given: `"${dataset.name}" (${dataset.task}, samples of shape [${dataset.sampleShape.join(', ')}])` });
  }
  const gan = model as unknown as ConditionalGan;
  const count = perClass * dataset.numClasses;
  const generatedLabels = Uint8Array.from({ length: count }, (_, i) => Math.floor(i / perClass));
  const noise = streamGenerator(seed, 'playground-view-noise');
  const generated = withEvalMode(model, () => Float32Array.from(gan.generate(randn([count, gan.latentDim], { generator: noise }), generatedLabels).data));
  const shown = Math.min(maxReal, dataset.train.count);
  return {
    step,
    numClasses: dataset.numClasses,
    bounds: planeBounds(dataset.train.inputs),
    generated,
    generatedLabels,
    real: dataset.train.inputs.slice(0, 2 * shown),
    realLabels: Uint8Array.from(dataset.train.labels.subarray(0, shown)),
  };
}
