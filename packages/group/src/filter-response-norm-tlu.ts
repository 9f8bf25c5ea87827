import { Parameter, zeros, type NormalizerContext, type Tensor } from '@normkit/tensor';
import { FilterResponseNormBase, runFilterResponseNorm, type FilterResponseNormOptions } from './filter-response-norm';

export type FilterResponseNormTLUOptions = FilterResponseNormOptions;

/**
 * Filter Response Normalization followed by its Thresholded Linear Unit (Singh & Krishnan,
 * CVPR 2020) as the paper uses them, fused into ONE autograd node:
 *
 *   nu2 = mean over spatial of x^2
 *   y   = gamma * x * rsqrt(nu2 + eps + |eps_learned|) + beta
 *   z   = max(y, tau)
 *
 * per sample and channel of [N, C, *]. Same numbers and gradients as `FilterResponseNorm` then
 * `TLU`, one pass fewer over the activations and no intermediate y kept for backward. Parameters
 * `weight` (gamma), `bias` (beta), `tau` ([C] each) and, with `learnableEps`, `eps_learned` [1].
 * No batch statistics: it trains with batch size 1.
 *
 * @example
 * const block = new FilterResponseNormTLU({ numFeatures: 64, learnableEps: true });
 * const z = block.forward(randn([1, 64, 14, 14]));
 */
export class FilterResponseNormTLU extends FilterResponseNormBase {
  /** The TLU threshold, [C] (zeros). */
  tau: Tensor;

  constructor(options: FilterResponseNormTLUOptions) {
    super('FilterResponseNormTLU', options);
    this.tau = this.registerParameter('tau', new Parameter(zeros([this.numFeatures], { dtype: this.dtype })));
    this.registerLearnedEps();
  }

  /** gamma 1, beta 0, tau 0, eps_learned 0 (`reset_parameters`). */
  override resetParameters(): void {
    super.resetParameters();
    this.tau.data.fill(0);
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    const sizes = this.checkInput('FilterResponseNormTLU.forward', x, context);
    return runFilterResponseNorm(x, sizes, { weight: this.weight, bias: this.bias, eps: this.eps, epsLearned: this.epsLearned, tau: this.tau });
  }
}
