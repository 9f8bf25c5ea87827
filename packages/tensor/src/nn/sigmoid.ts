import { sigmoid } from '../ops/activation';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/**
 * The logistic sigmoid as a module (`torch.nn.Sigmoid`): y = 1 / (1 + exp(-x)), elementwise. No
 * parameters; the forward is the `sigmoid` op. SiLU is x * sigmoid(x); Tanh is 2 sigmoid(2x) - 1.
 *
 * @example
 * new Sequential(new Linear({ inFeatures: 16, outFeatures: 1 }), new Sigmoid()); // a probability per row
 */
export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    checkTensor('Sigmoid.forward', x, 'x');
    return sigmoid(x);
  }
}
