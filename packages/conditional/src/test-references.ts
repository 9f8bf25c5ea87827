// Test-only: float64 references composed from the core's primitive ops, the comparison the tests
// use, and the helpers of the class-conditional learning tests. Not exported from the package.
import { expect } from 'vitest';
import { expectClose } from '@normkit/testkit';
import {
  Adam, add, div, mean, mse, noGrad, randn, sqrt, sub, variance, type Module, type NormalizerContext, type Tensor,
} from '@normkit/tensor';

/** (x - mean) / sqrt(var + eps) with mean and biased variance over `axes`. */
export function standardize(x: Tensor, axes: readonly number[], eps: number): Tensor {
  return div(sub(x, mean(x, [...axes], { keepdim: true })), sqrt(add(variance(x, [...axes], { keepdim: true, unbiased: false }), eps)));
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** BatchNorm without affine in training: per channel, over the batch and every spatial position. */
export const batchNormReference = (x: Tensor, eps: number): Tensor => standardize(x, [0, ...range(2, x.ndim)], eps);
/** InstanceNorm without affine: per sample and channel, over the spatial positions. */
export const instanceNormReference = (x: Tensor, eps: number): Tensor => standardize(x, range(2, x.ndim), eps);
/** LayerNorm without affine over every dim but the batch. */
export const layerNormReference = (x: Tensor, eps: number): Tensor => standardize(x, range(1, x.ndim), eps);

/**
 * Runs `fused` and `reference` on the same float64 inputs, asserts equal outputs, then
 * backpropagates one random upstream gradient through both and asserts equal gradients for every
 * input that requires one (each input must receive a gradient from the fused version).
 */
export function expectSameFunction(
  fused: (...inputs: Tensor[]) => Tensor,
  reference: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  tolerance = { forward: 1e-12, gradient: 1e-10 },
): void {
  for (const t of inputs) t.grad = null;
  const y = fused(...inputs);
  const expected = reference(...inputs);
  expectClose(y, expected, tolerance.forward, tolerance.forward);
  const g = randn([...y.shape], { dtype: 'float64' });
  y.backward(g);
  const fusedGrads = inputs.map((t) => t.grad);
  for (const t of inputs) t.grad = null;
  expected.backward(g);
  inputs.forEach((t, i) => {
    const fusedGrad = fusedGrads[i];
    expect(fusedGrad, `fused gradient of input ${i}`).toBeTruthy();
    expect(t.grad, `reference gradient of input ${i}`).toBeTruthy();
    expectClose(fusedGrad!, t.grad!, tolerance.gradient, tolerance.gradient);
  });
}

/** Every buffer's values, copied, by name: to assert that a failing forward changed nothing. */
export function snapshotBuffers(module: Module): Record<string, number[]> {
  return Object.fromEntries([...module.namedBuffers()].map(([name, t]) => [name, Array.from(t.data)]));
}

/**
 * The smallest mean squared error any predictor that ignores the condition can reach on a dataset
 * whose samples come in groups sharing the same input x (and differing only in the condition):
 * such a predictor gives every member of a group the same output, the best one being the group's
 * mean target, so the bound is the mean within-group variance of the targets.
 *
 * `targets` is [N, ...]; `groupOf[n]` is the index of sample n's input.
 */
export function bestLossWithoutCondition(targets: Tensor, groupOf: readonly number[]): number {
  const n = targets.shape[0]!;
  const per = targets.size / n;
  const groups = Math.max(...groupOf) + 1;
  const sums = new Float64Array(groups * per);
  const counts = new Float64Array(groups);
  for (let s = 0; s < n; s++) {
    counts[groupOf[s]!]! += 1;
    for (let j = 0; j < per; j++) sums[groupOf[s]! * per + j]! += targets.data[s * per + j]!;
  }
  let squaredError = 0;
  for (let s = 0; s < n; s++) {
    const g = groupOf[s]!;
    for (let j = 0; j < per; j++) {
      const d = targets.data[s * per + j]! - sums[g * per + j]! / counts[g]!;
      squaredError += d * d;
    }
  }
  return squaredError / targets.size;
}

/** Full-batch Adam on the mean squared error of `module.forward(x, context)` against `targets`; returns the final training loss. */
export function fitConditional(module: Module & { forward(x: Tensor, context: NormalizerContext): Tensor }, x: Tensor, context: NormalizerContext, targets: Tensor, steps: number, lr: number): number {
  const optimizer = new Adam(module, { lr });
  for (let step = 0; step < steps; step++) {
    module.zeroGrad();
    mse(module.forward(x, context), targets).backward();
    optimizer.step();
  }
  return noGrad(() => mse(module.forward(x, context), targets).item());
}
