import type { DType, Generator, NormalizerPlugin, Tensor } from '@normkit/tensor';
import { attempt, checkResult, firstNonFinite, type CheckResult } from '../../result';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';
import { upstream } from '../shared';

/** The inputs on which outputs and gradients must stay finite. */
const EXTREME_INPUTS: readonly { name: string; fill: (x: Tensor, generator: Generator) => void }[] = [
  { name: 'constant input (zero variance)', fill: (x) => x.data.fill(2.5) },
  { name: 'large input (1e4 * N(0, 1) + 1e4)', fill: (x, g) => fillNormal(x, g, 1e4, 1e4) },
  { name: 'tiny input (1e-4 * N(0, 1))', fill: (x, g) => fillNormal(x, g, 1e-4, 0) },
];

/**
 * Finite outputs and gradients (input and parameters) on constant inputs and on inputs of large
 * (1e4) and tiny (1e-4) magnitude, in training, then in eval after those training steps, in
 * float32 and float64.
 */
export function checkFinite(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  let cases = 0;
  for (const shape of config.inputShapes) {
    for (const dtype of harness.dtypes) {
      for (const input of EXTREME_INPUTS) {
        const label = `${input.name}, ${harness.describeCase(shape, dtype)}`;
        attempt(failures, label, () => {
          const generator = harness.generator(71);
          const module = harness.create(dtype);
          for (const mode of ['train', 'eval'] as const) {
            module.train(mode === 'train');
            module.zeroGrad();
            const x = makeInput(harness, shape, dtype, generator, input.fill).requireGrad();
            const y = module.forward(x, harness.context(shape, dtype, generator));
            cases++;
            const bad = firstNonFinite(y.data);
            if (bad !== -1) {
              failures.push(`${label} ${mode}: output[${bad}] = ${y.data[bad]}`);
              continue;
            }
            if (!y.requiresGrad) continue;
            y.backward(upstream(y.size));
            const grads: [string, Tensor | null][] = [['input', x.grad], ...[...module.namedParameters()].map(([n, p]): [string, Tensor | null] => [`parameter ${n}`, p.grad])];
            for (const [name, grad] of grads) {
              const index = grad ? firstNonFinite(grad.data) : -1;
              if (index !== -1) failures.push(`${label} ${mode}: gradient of ${name}[${index}] = ${grad!.data[index]}`);
            }
          }
        });
      }
    }
  }
  return checkResult('finite', failures, `${cases} forwards on constant, large and tiny inputs finite, with finite gradients`);
}

function makeInput(harness: NormalizerHarness, shape: readonly number[], dtype: DType, generator: Generator, fill: (x: Tensor, g: Generator) => void): Tensor {
  const x = harness.input(shape, dtype, generator);
  fill(x, generator);
  return x;
}

function fillNormal(x: Tensor, generator: Generator, std: number, mean: number): void {
  for (let i = 0; i < x.size; i++) x.data[i] = mean + std * generator.normal();
}
