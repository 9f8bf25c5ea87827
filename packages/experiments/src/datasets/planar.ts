import type { Generator } from '@normkit/tensor';
import { checkDataset, drawSplit, type Dataset } from './dataset';

/** Options every 2-D synthetic data set has. */
export const planarOptions = {
  trainSize: { type: 'number', default: 1000, integer: true, min: 2, max: 100_000, description: 'Training samples (classes balanced)' },
  testSize: { type: 'number', default: 500, integer: true, min: 2, max: 100_000, description: 'Test samples (classes balanced)' },
  noise: { type: 'number', default: 0.05, min: 0, max: 1, description: 'Standard deviation of Gaussian noise added to each coordinate' },
} as const;

/**
 * Builds a 2-D classification data set from a sampler of clean points: `point(label, generator)`
 * returns [x, y] for a class, Gaussian noise of std `noise` is added, and train and test are
 * drawn from the same generator one after the other (so they never share a sample).
 */
export function planarDataset(
  name: string,
  numClasses: number,
  options: { trainSize: number; testSize: number; noise: number },
  generator: Generator,
  point: (label: number, generator: Generator) => readonly [number, number],
): Dataset {
  const draw = (label: number, out: Float32Array): void => {
    const [x, y] = point(label, generator);
    out[0] = x + options.noise * generator.normal();
    out[1] = y + options.noise * generator.normal();
  };
  return checkDataset({
    name,
    task: 'classification',
    inputKind: 'vector',
    sampleShape: [2],
    numClasses,
    train: drawSplit(options.trainSize, numClasses, 2, generator, draw),
    test: drawSplit(options.testSize, numClasses, 2, generator, draw),
  });
}
