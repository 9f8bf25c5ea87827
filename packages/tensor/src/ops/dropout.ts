import { customOp } from '../autograd';
import { allocate } from '../dtype';
import { checkNumberOption } from '../errors';
import type { Generator } from '../random';
import { defaultGenerator } from '../random';
import { checkTensor, type Tensor } from '../tensor';

export interface DropoutOptions {
  /** Drop only in training; in eval dropout is the identity. Default true. */
  training?: boolean;
  /** Source of the keep/drop draws; defaults to the process-wide generator (`manualSeed`). */
  generator?: Generator;
}

/**
 * Inverted dropout (Srivastava et al., 2014; `torch.nn.functional.dropout`): each element is
 * zeroed with probability p and the survivors are scaled by 1 / (1 - p), so the expectation is
 * unchanged and evaluation needs no rescaling:
 *
 *   y = x * m / (1 - p),  m ~ Bernoulli(1 - p)
 *
 * Returns `x` itself in eval mode or for p = 0. ONE autograd node otherwise; its backward
 * applies the same mask and scale. p must lie in [0, 1).
 *
 * @example
 * const h = dropout(x, 0.1, { training: model.training, generator: new Generator(42) });
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  checkTensor('dropout', x, 'x');
  const op = 'dropout';
  checkNumberOption(op, 'p', p, { min: 0, max: 1, maxExclusive: true });
  const training = options.training ?? true;
  if (!training || p === 0) return x;
  const generator = options.generator ?? defaultGenerator();
  const scale = 1 / (1 - p);
  const keep = new Uint8Array(x.size);
  const data = allocate(x.dtype, x.size);
  const xd = x.data;
  // Dropped elements are x * 0 rather than a literal 0, so NaN and infinity propagate as in PyTorch.
  for (let i = 0; i < keep.length; i++) {
    const kept = generator.uniform() >= p;
    keep[i] = kept ? 1 : 0;
    data[i] = xd[i]! * (kept ? scale : 0);
  }
  return customOp({
    op,
    inputs: [x],
    data,
    shape: x.shape,
    backward: (g) => {
      const gx = allocate(x.dtype, x.size);
      for (let i = 0; i < keep.length; i++) gx[i] = g[i]! * (keep[i] === 1 ? scale : 0);
      return [gx];
    },
  });
}
