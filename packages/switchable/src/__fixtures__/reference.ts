// Test oracles: Switchable Normalization composed from primitive ops (float64), written as the
// paper's code computes it (layer and batch variances as mean(var_in + mean_in^2) - mean^2), so it
// checks the fused kernel's algebra as well as its loops.
import { add, div, mean, mul, reshape, slice, softmax, sqrt, square, sub, variance, type Tensor } from '@normkit/tensor';

export interface ReferenceOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  meanWeight: Tensor;
  varWeight: Tensor;
  /** 'batch': this batch's statistics; 'none': IN + LN only; tensors: fixed per-channel statistics [C]. */
  batch: 'batch' | 'none' | { mean: Tensor; variance: Tensor };
  eps: number;
}

export function referenceSwitchableNorm(x: Tensor, options: ReferenceOptions): Tensor {
  const n = x.shape[0]!;
  const c = x.shape[1]!;
  const s = x.shape.slice(2).reduce((p, q) => p * q, 1);
  const x3 = reshape(x, [n, c, s]);
  const muIn = mean(x3, 2, { keepdim: true });
  const varIn = variance(x3, 2, { keepdim: true, unbiased: false });
  const secondIn = add(varIn, square(muIn));
  const muLn = mean(muIn, 1, { keepdim: true });
  const varLn = sub(mean(secondIn, 1, { keepdim: true }), square(muLn));
  const a = softmax(options.meanWeight);
  const b = softmax(options.varWeight);
  const pick = (p: Tensor, k: number) => slice(p, 0, k, k + 1);
  let mu = add(mul(pick(a, 0), muIn), mul(pick(a, 1), muLn));
  let v = add(mul(pick(b, 0), varIn), mul(pick(b, 1), varLn));
  if (options.batch !== 'none') {
    let muBn: Tensor;
    let varBn: Tensor;
    if (options.batch === 'batch') {
      muBn = mean(muIn, 0, { keepdim: true });
      varBn = sub(mean(secondIn, 0, { keepdim: true }), square(muBn));
    } else {
      muBn = reshape(options.batch.mean, [1, c, 1]);
      varBn = reshape(options.batch.variance, [1, c, 1]);
    }
    mu = add(mu, mul(pick(a, 2), muBn));
    v = add(v, mul(pick(b, 2), varBn));
  }
  let y = div(sub(x3, mu), sqrt(add(v, options.eps)));
  if (options.weight) y = mul(y, reshape(options.weight, [1, c, 1]));
  if (options.bias) y = add(y, reshape(options.bias, [1, c, 1]));
  return reshape(y, x.shape);
}
