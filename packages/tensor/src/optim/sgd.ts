import type { TypedArray } from '../dtype';
import { OptionError, checkNumberOption } from '../errors';
import type { Tensor } from '../tensor';
import {
  Optimizer, checkBooleanOption, checkCommonHyperparameters, hyperparameterLabel,
  type OptimizerHyperparameters, type OptimizerOptions, type OptimizerParams, type ParamGroup,
} from './optimizer';

export interface SGDHyperparameters extends OptimizerHyperparameters {
  lr: number;
  /** Momentum factor mu (0: plain SGD). */
  momentum: number;
  /** Dampening tau of the momentum update. */
  dampening: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** L2 penalty lambda added to the gradient (coupled weight decay). */
  weightDecay: number;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

export interface SGDOptions extends Partial<SGDHyperparameters>, OptimizerOptions {
  lr: number;
}

export interface SGDState {
  /** Momentum buffer b; null until the first update with momentum != 0. */
  momentumBuffer: Float64Array | null;
}

/**
 * Stochastic gradient descent with optional momentum, exactly as `torch.optim.SGD`:
 *
 *   g = grad + lambda * p
 *   b = g (first step), else b = mu * b + (1 - tau) * g
 *   g = g + mu * b (Nesterov), else g = b
 *   p = p - lr * g
 *
 * Nesterov momentum follows Sutskever et al., 2013, in PyTorch's formulation.
 *
 * @example
 * const optimizer = new SGD(model, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 */
export class SGD extends Optimizer<SGDHyperparameters, SGDState> {
  constructor(params: OptimizerParams<SGDHyperparameters>, options: SGDOptions) {
    if (typeof options !== 'object' || options === null || options.lr === undefined) {
      throw new OptionError({ op: 'SGD', expected: 'options with a learning rate { lr }', given: options === undefined ? 'no options' : 'no lr' });
    }
    super(
      params,
      {
        lr: options.lr,
        momentum: options.momentum ?? 0,
        dampening: options.dampening ?? 0,
        nesterov: options.nesterov ?? false,
        weightDecay: options.weightDecay ?? 0,
        maximize: options.maximize ?? false,
      },
      options,
    );
  }

  protected validateHyperparameters(h: Readonly<SGDHyperparameters>, where: string): void {
    checkCommonHyperparameters(this.opName, where, h);
    checkNumberOption(this.opName, hyperparameterLabel('momentum', where), h.momentum, { min: 0 });
    checkNumberOption(this.opName, hyperparameterLabel('dampening', where), h.dampening, {});
    checkBooleanOption(this.opName, hyperparameterLabel('nesterov', where), h.nesterov);
    checkBooleanOption(this.opName, hyperparameterLabel('maximize', where), h.maximize);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new OptionError({
        op: this.opName,
        expected: `${hyperparameterLabel('nesterov', where)} with momentum > 0 and dampening 0`,
        given: `momentum = ${h.momentum}, dampening = ${h.dampening}`,
      });
    }
  }

  protected initState(): SGDState {
    return { momentumBuffer: null };
  }

  protected updateParameter(parameter: Tensor, grad: TypedArray, state: SGDState, group: ParamGroup<SGDHyperparameters>): void {
    const { lr, momentum, dampening, nesterov, weightDecay, maximize } = group;
    const p = parameter.data;
    const sign = maximize ? -1 : 1;
    if (momentum === 0) {
      for (let i = 0; i < p.length; i++) {
        const g = sign * grad[i]! + weightDecay * p[i]!;
        p[i] = p[i]! - lr * g;
      }
      return;
    }
    let buffer = state.momentumBuffer;
    const first = buffer === null;
    if (buffer === null) buffer = state.momentumBuffer = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const g = sign * grad[i]! + weightDecay * p[i]!;
      const b = first ? g : momentum * buffer[i]! + (1 - dampening) * g;
      buffer[i] = b;
      p[i] = p[i]! - lr * (nesterov ? g + momentum * b : b);
    }
  }
}
