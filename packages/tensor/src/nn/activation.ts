/**
 * Activation functions as parameter-free modules, for `Sequential` (like `torch.nn.ReLU` and
 * friends). Each forwards to the op of the same name.
 *
 * @example
 * new Sequential(new Linear({ inFeatures: 4, outFeatures: 8 }), new GELU(), new Linear({ inFeatures: 8, outFeatures: 4 }));
 */
import { gelu, relu, silu, tanh } from '../ops/activation';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/** max(x, 0). */
export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    checkTensor('ReLU.forward', x, 'x');
    return relu(x);
  }
}

/** Exact GELU, x * Phi(x) (Hendrycks & Gimpel, 2016; PyTorch's `approximate='none'`). */
export class GELU extends Module {
  override forward(x: Tensor): Tensor {
    checkTensor('GELU.forward', x, 'x');
    return gelu(x);
  }
}

/** SiLU / swish, x * sigmoid(x) (Elfwing et al., 2017; Ramachandran et al., 2017). */
export class SiLU extends Module {
  override forward(x: Tensor): Tensor {
    checkTensor('SiLU.forward', x, 'x');
    return silu(x);
  }
}

export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    checkTensor('Tanh.forward', x, 'x');
    return tanh(x);
  }
}
