import type { WeightParametrizationPlugin } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, firstDifference, type CheckResult } from '../../result';
import { cloneDict, perturbParameters, refusesWrongShape, wrongShapesFor } from '../shared';
import { ParametrizationHarness, type ParametrizationSuiteConfig } from './harness';

/**
 * The parametrized host's state dict (originals and the parametrization's buffers) loads into a
 * fresh parametrized host and gives a bit-identical tensor in eval mode; an entry of the wrong
 * shape is refused with a normkit error and changes nothing.
 */
export function checkParametrizationStateDict(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new ParametrizationHarness(plugin, config);
  const dtype = 'float64';
  attempt(failures, 'round trip', () => {
    const trained = harness.parametrize(dtype);
    perturbParameters(trained.module, 0.3);
    harness.warmUp(trained);
    const fresh = harness.parametrize(dtype, harness.host(dtype, 1));
    fresh.module.loadStateDict(cloneDict(trained.module.stateDict()));
    trained.module.eval();
    fresh.module.eval();
    const expected = trained.read();
    const actual = fresh.read();
    const index = firstDifference(actual.data, expected.data);
    if (index !== -1) failures.push(`round trip: the loaded tensor differs in eval (${describeDifference(index, actual.data, expected.data)})`);
  });
  attempt(failures, 'wrong-shape load', () => {
    const source = harness.parametrize(dtype);
    perturbParameters(source.module, 0.7);
    harness.warmUp(source);
    const valid = cloneDict(source.module.stateDict());
    const target = harness.parametrize(dtype, harness.host(dtype, 2));
    const keys = Object.keys(valid).filter((k) => k.startsWith(`parametrizations.${harness.tensorName}.`));
    const key = keys[keys.length - 1]!;
    for (const wrong of wrongShapesFor(valid[key]!.shape)) failures.push(...refusesWrongShape(target.module, valid, key, wrong));
  });
  return checkResult('state-dict', failures, 'state-dict round trip bit-identical in eval; a wrong shape is refused and changes nothing');
}
