import type { Generator, Tensor, WeightParametrizationPlugin } from '@normkit/tensor';
import { attempt, checkResult, firstNonFinite, type CheckResult } from '../../result';
import { upstream } from '../shared';
import { ParametrizationHarness, type ParametrizationSuiteConfig } from './harness';

const EXTREME_WEIGHTS: readonly { name: string; fill: (t: Tensor, g: Generator) => void }[] = [
  { name: 'zero tensor', fill: (t) => t.data.fill(0) },
  { name: 'large tensor (1e4 * N(0, 1))', fill: (t, g) => t.data.forEach((_, i) => (t.data[i] = 1e4 * g.normal())) },
  { name: 'tiny tensor (1e-4 * N(0, 1))', fill: (t, g) => t.data.forEach((_, i) => (t.data[i] = 1e-4 * g.normal())) },
];

/**
 * The host tensor set to zeros, to large (1e4) and to tiny (1e-4) values before registration: the
 * parametrized value and the originals' gradients are finite, in training and eval, float32 and float64.
 */
export function checkParametrizationFinite(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new ParametrizationHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    for (const weight of EXTREME_WEIGHTS) {
      const label = `${weight.name}, ${dtype}`;
      attempt(failures, label, () => {
        const host = harness.host(dtype);
        weight.fill(harness.hostTensor(host), harness.generator(83));
        const target = harness.parametrize(dtype, host);
        for (const mode of ['train', 'eval'] as const) {
          target.module.train(mode === 'train');
          target.module.zeroGrad();
          const value = target.read();
          const bad = firstNonFinite(value.data);
          if (bad !== -1) {
            failures.push(`${label} ${mode}: value[${bad}] = ${value.data[bad]}`);
            continue;
          }
          if (!value.requiresGrad) continue;
          value.backward(upstream(value.size));
          target.list.originals.forEach((original, i) => {
            const index = original.grad ? firstNonFinite(original.grad.data) : -1;
            if (index !== -1) failures.push(`${label} ${mode}: gradient of original ${i} [${index}] = ${original.grad!.data[index]}`);
          });
        }
      });
    }
  }
  return checkResult('finite', failures, 'finite values and gradients for zero, large and tiny tensors');
}
