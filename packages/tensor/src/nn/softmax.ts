import { OptionError, checkNumberOption } from '../errors';
import { softmax } from '../ops/activation';
import { checkOptionKeys } from '../plugin/options';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/** Softmax's options (`torch.nn.Softmax(dim)`). */
export interface SoftmaxOptions {
  /**
   * The axis the probabilities sum to 1 over (negative counts from the end). Required: PyTorch's
   * `dim=None` picks an axis from the rank (deprecated, with a warning), which normkit does not guess.
   */
  dim: number;
}

/**
 * Softmax over one axis as a module (`torch.nn.Softmax`):
 *
 *   y_i = exp(x_i - max_j x_j) / sum_j exp(x_j - max_j x_j)   along `dim`
 *
 * No parameters; the forward is the `softmax` op (one fused node). An axis outside the input's
 * rank fails at forward with the op's error.
 *
 * @example
 * const probabilities = new Softmax({ dim: -1 }).forward(logits); // rows sum to 1
 */
export class Softmax extends Module {
  readonly dim: number;

  constructor(options: SoftmaxOptions) {
    super();
    const op = 'Softmax';
    checkOptionKeys(op, options, ['dim']);
    if (options?.dim === undefined) {
      throw new OptionError({ op, expected: 'a dim (the axis to normalize over, e.g. { dim: -1 })', given: 'no dim' });
    }
    this.dim = checkNumberOption(op, 'dim', options.dim, { integer: true });
  }

  override forward(x: Tensor): Tensor {
    checkTensor('Softmax.forward', x, 'x');
    return softmax(x, this.dim);
  }
}
