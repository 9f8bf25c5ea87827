// Test oracles shared by the package's tests: BatchNorm composed from primitive ops (float64).
import { add, div, mean, mul, reshape, sqrt, sub, variance, type Tensor } from '@normkit/tensor';

/** Every axis but the channel axis 1. */
export function statisticsAxes(x: Tensor): number[] {
  return [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
}

/** (x - mean) / sqrt(var + eps) * gamma + beta with per-channel mean and biased variance. */
export function referenceBatchNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const axes = statisticsAxes(x);
  const perChannel = [1, x.shape[1]!, ...Array.from({ length: x.ndim - 2 }, () => 1)];
  let y = div(sub(x, mean(x, axes, { keepdim: true })), sqrt(add(variance(x, axes, { keepdim: true, unbiased: false }), eps)));
  if (weight) y = mul(y, reshape(weight, perChannel));
  if (bias) y = add(y, reshape(bias, perChannel));
  return y;
}

/** Per-channel mean and unbiased variance of a batch, as the running averages should see them. */
export function batchMoments(x: Tensor): { mean: Tensor; unbiased: Tensor } {
  const axes = statisticsAxes(x);
  return { mean: mean(x, axes), unbiased: variance(x, axes, { unbiased: true }) };
}
