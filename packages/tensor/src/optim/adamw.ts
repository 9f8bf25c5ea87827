import { Adam, type AdamHyperparameters, type AdamOptions } from './adam';
import type { OptimizerParams } from './optimizer';

/**
 * AdamW (Loshchilov and Hutter, 2019, "Decoupled Weight Decay Regularization"), exactly as
 * `torch.optim.AdamW`: the weight decays multiplicatively, p <- p * (1 - lr * weightDecay), before
 * the Adam step on the raw gradient, so the decay is not scaled by the adaptive denominator
 * (unlike Adam's L2 penalty). Defaults as PyTorch: lr 1e-3, betas [0.9, 0.999], eps 1e-8,
 * weightDecay 0.01.
 *
 * @example
 * const optimizer = new AdamW([{ params: decayed }, { params: norms, weightDecay: 0 }], { lr: 3e-4 });
 */
export class AdamW extends Adam {
  protected override readonly decoupledWeightDecay: boolean = true;

  constructor(params: OptimizerParams<AdamHyperparameters>, options: AdamOptions = {}) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 0.01 });
  }
}
