import { checkDataset, defineDataset, drawSplit } from './dataset';

/**
 * A toy class-conditional generation task: a mixture of numClasses * modesPerClass isotropic
 * Gaussians (std `std`) on a circle of radius `radius`, mode j at angle 2 pi j / M, belonging to
 * class j mod numClasses, so every class owns modes spread around the circle. A generator
 * conditioned on a class must put its samples on that class's modes and on all of them: landing
 * elsewhere shows in `quality`, dropping modes (mode collapse) in `modeCoverage` (see train.ts).
 * The classic unconditional version is the 8-Gaussian ring of GAN papers (Metz et al., 2017).
 *
 * @example
 * const data = conditionalMixture.build({ ...defaults }, new Generator(0), {});
 * data.modes!.centers; // [M, 2]
 */
export const conditionalMixture = defineDataset({
  name: 'conditional-mixture',
  task: 'conditional-generation',
  inputKind: 'vector',
  description: 'Class-conditional mixture of Gaussians on a ring; generate 2-D points of a given class',
  options: {
    trainSize: { type: 'number', default: 2000, integer: true, min: 2, max: 100_000, description: 'Training points (classes balanced)' },
    testSize: { type: 'number', default: 1000, integer: true, min: 2, max: 100_000, description: 'Held-out points (classes balanced)' },
    numClasses: { type: 'number', default: 4, integer: true, min: 1, max: 10, description: 'Classes to condition on' },
    modesPerClass: { type: 'number', default: 2, integer: true, min: 1, max: 4, description: 'Gaussian modes owned by each class' },
    radius: { type: 'number', default: 1, min: 0, minExclusive: true, max: 10, description: 'Radius of the ring of modes' },
    std: { type: 'number', default: 0.05, min: 0, minExclusive: true, max: 1, description: 'Standard deviation of each mode' },
  },
  build: (options, generator) => {
    const { numClasses, modesPerClass, radius, std } = options;
    const numModes = numClasses * modesPerClass;
    const centers = new Float64Array(numModes * 2);
    const classOf = new Int32Array(numModes);
    for (let j = 0; j < numModes; j++) {
      const angle = (2 * Math.PI * j) / numModes;
      centers[2 * j] = radius * Math.cos(angle);
      centers[2 * j + 1] = radius * Math.sin(angle);
      classOf[j] = j % numClasses;
    }
    const draw = (label: number, out: Float32Array): void => {
      const mode = label + numClasses * generator.integer(modesPerClass);
      out[0] = centers[2 * mode]! + std * generator.normal();
      out[1] = centers[2 * mode + 1]! + std * generator.normal();
    };
    return checkDataset({
      name: 'conditional-mixture',
      task: 'conditional-generation',
      inputKind: 'vector',
      sampleShape: [2],
      numClasses,
      train: drawSplit(options.trainSize, numClasses, 2, generator, draw),
      test: drawSplit(options.testSize, numClasses, 2, generator, draw),
      modes: { centers, classOf, std },
    });
  },
});
