import type { TypedArray } from '../dtype';
import type { Tensor } from '../tensor';
import { adamUpdate, initAdamState, validateAdamHyperparameters, type AdamHyperparameters, type AdamOptions, type AdamState } from './adam';
import { Optimizer, type OptimizerParams, type ParamGroup } from './optimizer';

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
export class AdamW extends Optimizer<AdamHyperparameters, AdamState> {
  constructor(params: OptimizerParams<AdamHyperparameters>, options: AdamOptions = {}) {
    super(
      params,
      {
        lr: options.lr ?? 1e-3,
        betas: options.betas ?? [0.9, 0.999],
        eps: options.eps ?? 1e-8,
        weightDecay: options.weightDecay ?? 0.01,
        amsgrad: options.amsgrad ?? false,
        maximize: options.maximize ?? false,
      },
      options,
    );
  }

  protected validateHyperparameters(h: Readonly<AdamHyperparameters>, where: string): void {
    validateAdamHyperparameters(this.opName, h, where);
  }

  protected initState(parameter: Tensor, group: ParamGroup<AdamHyperparameters>): AdamState {
    return initAdamState(parameter, group);
  }

  protected updateParameter(parameter: Tensor, grad: TypedArray, state: AdamState, group: ParamGroup<AdamHyperparameters>): void {
    adamUpdate(parameter, grad, state, group, true);
  }
}
