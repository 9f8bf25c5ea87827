import { checkNumberOption } from '../errors';
import { dropout } from '../ops/dropout';
import type { Generator } from '../random';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/**
 * Inverted dropout as a module (Srivastava et al., 2014; `torch.nn.Dropout`): in training mode each
 * element is zeroed with probability p and survivors scaled by 1 / (1 - p); in eval mode
 * (`module.eval()`) it is the identity.
 *
 * @example
 * const drop = new Dropout({ p: 0.1, generator: new Generator(0) });
 * drop.eval().forward(x) === x; // true
 */
export class Dropout extends Module {
  readonly p: number;
  private readonly generator: Generator | undefined;

  constructor(options: { p?: number; generator?: Generator } = {}) {
    super();
    this.p = checkNumberOption('Dropout', 'p', options.p ?? 0.5, { min: 0, max: 1, maxExclusive: true });
    this.generator = options.generator;
  }

  override forward(x: Tensor): Tensor {
    checkTensor('Dropout.forward', x, 'x');
    return dropout(x, this.p, { training: this.training, generator: this.generator });
  }
}
