import { removeParametrizations, type WeightParametrizationPlugin } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, firstDifference, type CheckResult } from '../../result';
import { ParametrizationHarness, type ParametrizationSuiteConfig } from './harness';

/**
 * `removeParametrizations(module, name)` in eval mode leaves a plain tensor holding the last
 * parametrized value bit for bit, and the state dict has `<name>` again and no `parametrizations.` key.
 */
export function checkRemoval(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new ParametrizationHarness(plugin, config);
  const name = harness.tensorName;
  for (const dtype of harness.dtypes) {
    attempt(failures, dtype, () => {
      const target = harness.parametrize(dtype);
      harness.warmUp(target);
      target.module.eval();
      const value = target.read().clone();
      removeParametrizations(target.module, name);
      const plain = harness.hostTensor(target.module);
      const index = firstDifference(plain.data, value.data);
      if (index !== -1) failures.push(`${dtype}: the tensor after removal differs from the parametrized value (${describeDifference(index, plain.data, value.data)})`);
      const keys = Object.keys(target.module.stateDict());
      if (!keys.includes(name)) failures.push(`${dtype}: no "${name}" in the state dict after removal`);
      const left = keys.filter((k) => k.startsWith('parametrizations.'));
      if (left.length > 0) failures.push(`${dtype}: keys left after removal: ${left.join(', ')}`);
    });
  }
  return checkResult('removal', failures, 'removal keeps the parametrized value as a plain tensor');
}
