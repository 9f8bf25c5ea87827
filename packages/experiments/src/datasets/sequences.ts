import { OptionError } from '@normkit/tensor';
import { balancedLabels, checkDataset, defineDataset, shuffleSplit, type Split } from './dataset';

/**
 * Variable-length sequence classification where padding matters. Each sequence has a length l
 * uniform in [minLength, maxLength] and is padded to maxLength with `padValue`; the mask [N, L]
 * marks real tokens with 1. A real token of class c is
 *
 *   x_t = offset + signal * e_c + noise * eps_t,   eps_t ~ N(0, I_features)
 *
 * (e_c the c-th unit vector), so one token is a weak clue and the class shows in the average
 * over real tokens. Real tokens sit around `offset` while padding sits at `padValue` (0): any
 * statistic that counts padded positions (unmasked BatchNorm, an unmasked mean) is pulled by the
 * batch's share of padding, which varies from batch to batch, while masked statistics are not.
 *
 * @example
 * const data = sequences.build({ ...defaults, maxLength: 16 }, new Generator(0), {});
 * data.train.masks; // [trainSize, 16]
 */
export const sequences = defineDataset({
  name: 'sequences',
  task: 'sequence-classification',
  inputKind: 'tokens',
  description: 'Padded variable-length token sequences; the class shows in the mean over real tokens',
  options: {
    trainSize: { type: 'number', default: 2000, integer: true, min: 2, max: 100_000, description: 'Training sequences (classes balanced)' },
    testSize: { type: 'number', default: 500, integer: true, min: 2, max: 100_000, description: 'Test sequences (classes balanced)' },
    numClasses: { type: 'number', default: 2, integer: true, min: 2, max: 16, description: 'Classes (at most features)' },
    features: { type: 'number', default: 4, integer: true, min: 1, max: 64, description: 'Values per token' },
    minLength: { type: 'number', default: 2, integer: true, min: 1, max: 256, description: 'Shortest real length' },
    maxLength: { type: 'number', default: 16, integer: true, min: 1, max: 256, description: 'Padded length L' },
    signal: { type: 'number', default: 0.6, min: 0, max: 10, description: 'Distance of a class mean from the common offset' },
    noise: { type: 'number', default: 1, min: 0, max: 10, description: 'Per-token noise standard deviation' },
    offset: { type: 'number', default: 3, min: -100, max: 100, description: 'Common mean of real tokens (away from the padding value)' },
    padValue: { type: 'number', default: 0, min: -100, max: 100, description: 'Value of padded positions' },
  },
  build: (options, generator) => {
    const op = 'dataset sequences';
    if (options.minLength > options.maxLength) {
      throw new OptionError({ op, expected: 'minLength <= maxLength', given: `minLength = ${options.minLength}, maxLength = ${options.maxLength}` });
    }
    if (options.numClasses > options.features) {
      throw new OptionError({ op, expected: `numClasses <= features (one feature axis per class)`, given: `numClasses = ${options.numClasses}, features = ${options.features}` });
    }
    const { maxLength: L, features: F } = options;
    const split = (count: number): Split => {
      const labels = balancedLabels(count, options.numClasses);
      const inputs = new Float32Array(count * L * F).fill(options.padValue);
      const masks = new Float32Array(count * L);
      for (let i = 0; i < count; i++) {
        const length = options.minLength + generator.integer(options.maxLength - options.minLength + 1);
        for (let t = 0; t < length; t++) {
          masks[i * L + t] = 1;
          for (let f = 0; f < F; f++) {
            const mean = options.offset + (f === labels[i] ? options.signal : 0);
            inputs[(i * L + t) * F + f] = mean + options.noise * generator.normal();
          }
        }
      }
      return shuffleSplit({ count, inputs, labels, masks }, L * F, generator);
    };
    return checkDataset({
      name: 'sequences',
      task: 'sequence-classification',
      inputKind: 'tokens',
      sampleShape: [L, F],
      numClasses: options.numClasses,
      train: split(options.trainSize),
      test: split(options.testSize),
    });
  },
});

/** The real length of every sequence of a split (the number of ones in its mask row). */
export function sequenceLengths(split: Split): Int32Array {
  const lengths = new Int32Array(split.count);
  if (!split.masks) return lengths;
  const L = split.masks.length / split.count;
  for (let i = 0; i < split.count; i++) {
    let n = 0;
    for (let t = 0; t < L; t++) n += split.masks[i * L + t]!;
    lengths[i] = n;
  }
  return lengths;
}
