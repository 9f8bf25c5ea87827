import type { TypedArray } from '../dtype';
import { OptionError, checkNumberOption } from '../errors';
import type { Tensor } from '../tensor';
import {
  Optimizer, checkBooleanOption, checkCommonHyperparameters, hyperparameterLabel,
  type OptimizerHyperparameters, type OptimizerOptions, type OptimizerParams, type ParamGroup,
} from './optimizer';

export interface AdamHyperparameters extends OptimizerHyperparameters {
  lr: number;
  /** Decay rates (beta1, beta2) of the first and second moment averages, each in [0, 1). */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability. */
  eps: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay p <- p * (1 - lr * weightDecay). */
  weightDecay: number;
  /** Use the running maximum of the second moment (Reddi et al., 2018, "On the Convergence of Adam and Beyond"). */
  amsgrad: boolean;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

export type AdamOptions = Partial<AdamHyperparameters> & OptimizerOptions;

export interface AdamState {
  /** Number of updates this parameter has had. */
  step: number;
  /** First moment m (exp_avg). */
  expAvg: Float64Array;
  /** Second moment v (exp_avg_sq). */
  expAvgSq: Float64Array;
  /** max of v over steps (amsgrad); null until the first amsgrad update. */
  maxExpAvgSq: Float64Array | null;
}

export function validateAdamHyperparameters(op: string, h: Readonly<AdamHyperparameters>, where: string): void {
  checkCommonHyperparameters(op, where, h);
  checkNumberOption(op, hyperparameterLabel('eps', where), h.eps, { min: 0 });
  if (!Array.isArray(h.betas) || h.betas.length !== 2) {
    throw new OptionError({ op, expected: `${hyperparameterLabel('betas', where)} to be a pair [beta1, beta2]`, given: `betas = ${String(h.betas)}` });
  }
  checkNumberOption(op, hyperparameterLabel('betas[0]', where), h.betas[0], { min: 0, max: 1, maxExclusive: true });
  checkNumberOption(op, hyperparameterLabel('betas[1]', where), h.betas[1], { min: 0, max: 1, maxExclusive: true });
  checkBooleanOption(op, hyperparameterLabel('amsgrad', where), h.amsgrad);
  checkBooleanOption(op, hyperparameterLabel('maximize', where), h.maximize);
}

export function initAdamState(parameter: Tensor, group: Readonly<AdamHyperparameters>): AdamState {
  return {
    step: 0,
    expAvg: new Float64Array(parameter.size),
    expAvgSq: new Float64Array(parameter.size),
    maxExpAvgSq: group.amsgrad ? new Float64Array(parameter.size) : null,
  };
}

/**
 * The Adam / AdamW update of one parameter, PyTorch's single-tensor formulas:
 *
 *   t = t + 1
 *   p = p * (1 - lr * lambda)                      (AdamW, decoupled)   or   g = g + lambda * p   (Adam)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2
 *   vhat = max(vhat, v) (amsgrad), else vhat = v
 *   p = p - (lr / (1 - beta1^t)) * m / (sqrt(vhat) / sqrt(1 - beta2^t) + eps)
 */
export function adamUpdate(
  parameter: Tensor,
  grad: TypedArray,
  state: AdamState,
  group: Readonly<AdamHyperparameters>,
  decoupledWeightDecay: boolean,
): void {
  const { lr, eps, weightDecay, amsgrad, maximize } = group;
  const [beta1, beta2] = group.betas;
  const p = parameter.data;
  const m = state.expAvg;
  const v = state.expAvgSq;
  const t = ++state.step;
  const stepSize = lr / (1 - beta1 ** t);
  const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** t);
  const decay = decoupledWeightDecay ? 1 - lr * weightDecay : 1;
  const l2 = decoupledWeightDecay ? 0 : weightDecay;
  const sign = maximize ? -1 : 1;
  let vMax = state.maxExpAvgSq;
  if (amsgrad && vMax === null) vMax = state.maxExpAvgSq = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! * decay;
    const g = sign * grad[i]! + l2 * pi;
    const mi = beta1 * m[i]! + (1 - beta1) * g;
    let vi = beta2 * v[i]! + (1 - beta2) * (g * g);
    m[i] = mi;
    v[i] = vi;
    if (amsgrad) {
      vi = Math.max(vMax![i]!, vi);
      vMax![i] = vi;
    }
    // Same association as PyTorch's addcdiv_(m, denom, value=-step_size).
    p[i] = pi - stepSize * (mi / (Math.sqrt(vi) / biasCorrection2Sqrt + eps));
  }
}

/**
 * Adam (Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization"), exactly as
 * `torch.optim.Adam`: weight decay is an L2 penalty added to the gradient, so it is scaled by the
 * adaptive denominator; for decoupled decay use AdamW. Bias correction as PyTorch:
 * step_size = lr / (1 - beta1^t), denom = sqrt(v) / sqrt(1 - beta2^t) + eps.
 *
 * @example
 * const optimizer = new Adam(model, { lr: 1e-3, betas: [0.9, 0.999] });
 */
export class Adam extends Optimizer<AdamHyperparameters, AdamState> {
  constructor(params: OptimizerParams<AdamHyperparameters>, options: AdamOptions = {}) {
    super(
      params,
      {
        lr: options.lr ?? 1e-3,
        betas: options.betas ?? [0.9, 0.999],
        eps: options.eps ?? 1e-8,
        weightDecay: options.weightDecay ?? 0,
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

  /** AdamW sets this: decay the weight multiplicatively instead of adding an L2 term to the gradient. */
  protected readonly decoupledWeightDecay: boolean = false;

  protected updateParameter(parameter: Tensor, grad: TypedArray, state: AdamState, group: ParamGroup<AdamHyperparameters>): void {
    adamUpdate(parameter, grad, state, group, this.decoupledWeightDecay);
  }
}
