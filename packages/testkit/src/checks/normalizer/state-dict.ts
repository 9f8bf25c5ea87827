import type { NormalizerPlugin } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, firstDifference, type CheckResult } from '../../result';
import { cloneDict, perturbParameters, refusesWrongShape, wrongShapesFor } from '../shared';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';

/**
 * State-dict round trip and all-or-nothing loading:
 * - a trained instance (running statistics moved, parameters perturbed away from their
 *   initialisation) saved and loaded into a fresh instance gives bit-identical outputs in eval and in
 *   training;
 * - `loadStateDict` with one entry of a wrong shape (a different size, and the same size reshaped)
 *   throws a normkit error and changes no parameter or buffer, even though the other entries are valid.
 */
export function checkStateDict(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  const dtype = 'float64';
  let keys = 0;
  for (const shape of config.inputShapes) {
    const label = harness.describeCase(shape, dtype);
    attempt(failures, `${label} round trip`, () => {
      const generator = harness.generator(47);
      const trained = harness.create(dtype);
      harness.warmUp(trained, shape, dtype, generator);
      perturbParameters(trained, generator.uniform());
      const fresh = harness.create(dtype);
      fresh.loadStateDict(cloneDict(trained.stateDict()));
      keys = Object.keys(trained.stateDict()).length;
      const x = harness.input(shape, dtype, generator);
      const context = harness.context(shape, dtype, generator);
      for (const mode of ['eval', 'train'] as const) {
        trained.train(mode === 'train');
        fresh.train(mode === 'train');
        const expected = trained.forward(x, context);
        const actual = fresh.forward(x, context);
        const index = firstDifference(actual.data, expected.data);
        if (index !== -1) failures.push(`${label} ${mode}: output after loading differs from the saved instance's (${describeDifference(index, actual.data, expected.data)})`);
      }
    });
  }
  const shape = config.inputShapes[0];
  if (shape) {
    attempt(failures, 'wrong-shape load', () => {
      const generator = harness.generator(53);
      const source = harness.create(dtype);
      harness.warmUp(source, shape, dtype, generator);
      perturbParameters(source, 0.5);
      const valid = cloneDict(source.stateDict());
      const names = Object.keys(valid);
      const last = names[names.length - 1];
      if (last === undefined) return;
      const target = harness.create(dtype);
      harness.warmUp(target, shape, dtype, harness.generator(59));
      for (const wrong of wrongShapesFor(valid[last]!.shape)) failures.push(...refusesWrongShape(target, valid, last, wrong));
    });
  }
  return checkResult('state-dict', failures, keys === 0 ? 'no state: nothing to save or load' : `round trip of ${keys} entries bit-identical; a wrong shape is refused and changes nothing`);
}
