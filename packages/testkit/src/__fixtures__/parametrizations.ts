// Weight-parametrization plugins written with the public API only: references the testkit must
// pass, and variants with one planted fault each.
import {
  Module, SPECIFICATION_VERSION, add, customOp, defineWeightParametrization, div, matmul, maximum, mul, noGrad, reshape, sqrt, sum, tensor, transpose,
  type Tensor, type WeightParametrizationPlugin,
} from '@normkit/tensor';

type WeightNormFault = 'none' | 'wrong-gradient' | 'no-eps' | 'create-mutates-host' | 'not-a-module';

/** w = g * v / ||v|| per row (dim 0), composed from primitives; rightInverse(w) = [||w||, w]. */
class TinyWeightNorm extends Module {
  constructor(readonly fault: WeightNormFault) {
    super();
  }

  forward(g: Tensor, v: Tensor): Tensor {
    const gain = this.fault === 'wrong-gradient' ? scaleGradient(g, 1.1) : g;
    return mul(gain, div(v, rowNorm(v, this.fault === 'no-eps' ? 0 : 1e-30)));
  }

  rightInverse(w: Tensor): Tensor[] {
    return [noGrad(() => rowNorm(w, 0)), w];
  }
}

/** sqrt(sum over all dims but 0 of v^2 + eps), shaped [rows, 1, ...]. */
function rowNorm(v: Tensor, eps: number): Tensor {
  const rows = v.shape[0]!;
  const flat = reshape(v, [rows, v.size / rows]);
  const norm = sqrt(add(sum(mul(flat, flat), 1, { keepdim: true }), eps));
  return reshape(norm, [rows, ...v.shape.slice(1).map(() => 1)]);
}

function scaleGradient(x: Tensor, factor: number): Tensor {
  return customOp({ op: 'scaleGradient', inputs: [x], data: x.data, shape: x.shape, backward: (g) => [g.map((v) => v * factor)] });
}

function weightNormPlugin(name: string, fault: WeightNormFault): WeightParametrizationPlugin {
  return defineWeightParametrization({
    specificationVersion: SPECIFICATION_VERSION,
    kind: 'weight-parametrization',
    name,
    family: 'testkit-fixtures',
    description: `weight norm (${fault === 'none' ? 'correct' : `planted fault: ${fault}`})`,
    options: {},
    create: (module, tensorName) => {
      if (fault === 'create-mutates-host') {
        const weight = module.getParameter(tensorName)!;
        weight.data.forEach((value, i, data) => (data[i] = value * 2));
      }
      // The planted fault: a plain object with a forward, which registerParametrization would take but the registry refuses.
      if (fault === 'not-a-module') return { forward: (g: Tensor, v: Tensor) => new TinyWeightNorm('none').forward(g, v) } as unknown as TinyWeightNorm;
      return new TinyWeightNorm(fault);
    },
  });
}

export const referenceWeightNorm = weightNormPlugin('fixture-weight-norm', 'none');
export const wrongGradientWeightNorm = weightNormPlugin('fixture-weight-norm-wrong-gradient', 'wrong-gradient');
export const noEpsWeightNorm = weightNormPlugin('fixture-weight-norm-no-eps', 'no-eps');
export const createMutatesHostWeightNorm = weightNormPlugin('fixture-weight-norm-mutates-host', 'create-mutates-host');
export const notAModuleWeightNorm = weightNormPlugin('fixture-weight-norm-not-a-module', 'not-a-module');

/**
 * w = W / sigma with sigma = u^T W v from one power iteration per training read (u, v buffers,
 * treated as constants in backward, as PyTorch does). `iterate-in-eval` plants the fault.
 */
class TinySpectralNorm extends Module {
  constructor(rows: number, cols: number, readonly iterateInEval: boolean) {
    super();
    const u = new Float64Array(rows).fill(1 / Math.sqrt(rows));
    const v = new Float64Array(cols).fill(1 / Math.sqrt(cols));
    this.registerBuffer('_u', tensor(u, { shape: [rows, 1] }));
    this.registerBuffer('_v', tensor(v, { shape: [cols, 1] }));
  }

  forward(weight: Tensor): Tensor {
    const w = reshape(weight, [weight.shape[0]!, weight.size / weight.shape[0]!]);
    const u = this.getBuffer('_u')!;
    const v = this.getBuffer('_v')!;
    if (this.training || this.iterateInEval) {
      noGrad(() => {
        u.data.set(unit(matmul(w.to(u.dtype), v)).data);
        v.data.set(unit(matmul(transpose(w.to(u.dtype)), u)).data);
      });
    }
    const sigma = matmul(matmul(transpose(u.to(weight.dtype)), w), v.to(weight.dtype));
    // A zero weight has sigma = 0: clamp it so the result is 0, not NaN.
    return div(weight, reshape(maximum(sigma, 1e-12), weight.shape.map(() => 1)));
  }
}

function unit(x: Tensor): Tensor {
  let norm = 0;
  for (const value of x.data) norm += value * value;
  return tensor(x.data.map((value) => value / Math.max(Math.sqrt(norm), 1e-12)), { shape: x.shape, dtype: x.dtype });
}

function spectralNormPlugin(name: string, iterateInEval: boolean): WeightParametrizationPlugin {
  return defineWeightParametrization({
    specificationVersion: SPECIFICATION_VERSION,
    kind: 'weight-parametrization',
    name,
    family: 'testkit-fixtures',
    description: `spectral norm (${iterateInEval ? 'planted fault: power iteration in eval' : 'correct'})`,
    options: {},
    create: (module, tensorName) => {
      const weight = module.getParameter(tensorName)!;
      return new TinySpectralNorm(weight.shape[0]!, weight.size / weight.shape[0]!, iterateInEval);
    },
  });
}

export const referenceSpectralNorm = spectralNormPlugin('fixture-spectral-norm', false);
export const evalIteratesSpectralNorm = spectralNormPlugin('fixture-spectral-norm-eval-iterates', true);
