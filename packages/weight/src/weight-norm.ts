import {
  checkOptionKeys, Module, ShapeError, ValueError, allocate, customOp, formatShape, noGrad, parametrizationsOf, registerParametrization, tensor,
  type Parametrization, type Tensor, type TypedArray,
} from '@normkit/tensor';
import { checkDimInRange, checkDimOption, checkNotParametrizedWith, checkMatchingDType, targetTensor, unitLayout, unitShape } from './shared';

export interface WeightNormWeightOptions {
  /**
   * The dim of the output units (default 0): one norm per index along it, over every other dim.
   * null: one norm over the whole tensor. Negative dims are refused (see `weightNorm`).
   */
  dim?: number | null;
}

/**
 * The weight-norm kernel (Salimans & Kingma, "Weight Normalization", NeurIPS 2016) as one fused
 * node from `g` and `v` to the weight:
 *
 *   w = g * v / ||v||            (per unit along `dim`, the norm over every other dim)
 *
 *   dL/dg = sum(G * v) / ||v||
 *   dL/dv = (g / ||v||) * (G - v * sum(G * v) / ||v||^2)
 *
 * Norms and sums accumulate in float64. A unit whose v is all zeros has no direction: it reads
 * as zeros and gets no gradient (PyTorch gives NaN). `g` holds one value per unit, in any shape
 * of that size (PyTorch's `[out, 1, ..., 1]`, or `[]` for dim null).
 *
 * @example
 * const v = randn([4, 3]);
 * const w = weightNormWeight(ones([4, 1]), v); // each row of w has norm 1
 */
export function weightNormWeight(g: Tensor, v: Tensor, options: WeightNormWeightOptions = {}): Tensor {
  const op = 'weightNormWeight';
  const dim = checkDimOption(op, options.dim === undefined ? 0 : options.dim, { allowNull: true });
  checkDimInRange(op, dim, v.shape, 'v');
  checkMatchingDType(op, v, 'v', g, 'g');
  const { before, units, after } = unitLayout(v.shape, dim);
  if (g.size !== units) {
    throw new ShapeError({
      op,
      expected: `g with one value per unit along dim ${dim === null ? 'null (the whole tensor)' : dim}: ${units} element(s), e.g. shape ${formatShape(unitShape(v.shape, dim))}`,
      given: `g of shape ${formatShape(g.shape)}`,
    });
  }
  const vs = v.data;
  const gs = g.data;
  const sumSquares = new Float64Array(units);
  for (let b = 0; b < before; b++) {
    for (let u = 0; u < units; u++) {
      let total = 0;
      for (let k = (b * units + u) * after, end = k + after; k < end; k++) total += vs[k]! * vs[k]!;
      sumSquares[u]! += total;
    }
  }
  const invNorm = new Float64Array(units);
  const scale = new Float64Array(units);
  for (let u = 0; u < units; u++) {
    const norm = Math.sqrt(sumSquares[u]!);
    invNorm[u] = norm > 0 ? 1 / norm : 0;
    scale[u] = gs[u]! * invNorm[u]!;
  }
  const out = allocate(v.dtype, v.size);
  for (let b = 0; b < before; b++) {
    for (let u = 0; u < units; u++) {
      const s = scale[u]!;
      for (let k = (b * units + u) * after, end = k + after; k < end; k++) out[k] = vs[k]! * s;
    }
  }
  return customOp({
    op: 'weightNorm',
    inputs: { g, v },
    data: out,
    shape: v.shape,
    backward: (gradOut) => {
      const dots = new Float64Array(units);
      for (let b = 0; b < before; b++) {
        for (let u = 0; u < units; u++) {
          let total = 0;
          for (let k = (b * units + u) * after, end = k + after; k < end; k++) total += gradOut[k]! * vs[k]!;
          dots[u]! += total;
        }
      }
      let gradG: TypedArray | null = null;
      if (g.requiresGrad) {
        gradG = allocate(g.dtype, units);
        for (let u = 0; u < units; u++) gradG[u] = dots[u]! * invNorm[u]!;
      }
      let gradV: TypedArray | null = null;
      if (v.requiresGrad) {
        gradV = allocate(v.dtype, v.size);
        for (let b = 0; b < before; b++) {
          for (let u = 0; u < units; u++) {
            const s = scale[u]!;
            // (g / ||v||) * (G - v * <G, v> / ||v||^2), with the projection folded into one coefficient.
            const projection = dots[u]! * invNorm[u]! * invNorm[u]!;
            for (let k = (b * units + u) * after, end = k + after; k < end; k++) gradV[k] = s * (gradOut[k]! - vs[k]! * projection);
          }
        }
      }
      return { g: gradG, v: gradV };
    },
  });
}

/** ||w|| per unit along `dim` (the whole tensor for null), shaped like g: PyTorch's `norm_except_dim(w, 2, dim)`. */
export function normExceptDim(weight: Tensor, dim: number | null): Tensor {
  const { before, units, after } = unitLayout(weight.shape, dim);
  const sumSquares = new Float64Array(units);
  const ws = weight.data;
  for (let b = 0; b < before; b++) {
    for (let u = 0; u < units; u++) {
      let total = 0;
      for (let k = (b * units + u) * after, end = k + after; k < end; k++) total += ws[k]! * ws[k]!;
      sumSquares[u]! += total;
    }
  }
  const norms = allocate(weight.dtype, units);
  for (let u = 0; u < units; u++) norms[u] = Math.sqrt(sumSquares[u]!);
  return tensor(norms, { shape: unitShape(weight.shape, dim), dtype: weight.dtype });
}

export interface WeightNormParametrizationOptions {
  /** The dim of the output units (default 0); null: one norm over the whole tensor. Negative dims are refused. */
  dim?: number | null;
}

/**
 * Weight normalization as a parametrization: `w = g * v / ||v||` from two originals, `g` (the
 * magnitude, one per unit, shaped `[out, 1, ..., 1]`, or `[]` for dim null) and `v` (the
 * direction, shaped like w). Its rightInverse splits a weight into `[||w||, w]`, so registering
 * it leaves the weight's value unchanged. Usually made by `weightNorm(module)`.
 */
export class WeightNorm extends Module implements Parametrization {
  readonly dim: number | null;

  constructor(options: WeightNormParametrizationOptions = {}) {
    super();
    checkOptionKeys('WeightNorm', options, ['dim'] satisfies (keyof WeightNormParametrizationOptions)[]);
    this.dim = checkDimOption('WeightNorm', options.dim === undefined ? 0 : options.dim, { allowNull: true });
  }

  /** `g * v / ||v||` as one fused node. */
  forward(g: Tensor, v: Tensor): Tensor {
    if (v === undefined) {
      throw new ValueError(
        { op: 'WeightNorm.forward', expected: 'two originals, g and v', given: 'one tensor' },
        'Weight norm must be the first parametrization of a tensor: register it before the others',
      );
    }
    return weightNormWeight(g, v, { dim: this.dim });
  }

  /** `[g, v] = [||w||, w]`: the originals that reproduce `w` exactly. */
  rightInverse(weight: Tensor): Tensor[] {
    checkDimInRange('WeightNorm.rightInverse', this.dim, weight.shape, 'the weight');
    return [noGrad(() => normExceptDim(weight, this.dim)), weight];
  }
}

export interface WeightNormOptions extends WeightNormParametrizationOptions {
  /** The parameter to parametrize (default 'weight'). */
  name?: string;
}

/**
 * Builds the WeightNorm parametrization for `module[name]` without registering it, after the
 * checks `weightNorm` makes. What the `weight-norm` plugin's `create` calls.
 */
export function createWeightNorm(module: Module, name: string, options: WeightNormParametrizationOptions = {}): WeightNorm {
  const op = 'weightNorm';
  const weight = targetTensor(op, module, name);
  checkNotParametrizedWith(op, module, name, WeightNorm, 'weight norm');
  if (parametrizationsOf(module, name) !== undefined) {
    throw new ValueError(
      { op, expected: `"${name}" not parametrized yet`, given: `"${name}" already parametrized` },
      'Weight norm splits the tensor into two originals (g, v), so it must be the first parametrization: register it before the others',
    );
  }
  const parametrization = new WeightNorm(options);
  checkDimInRange(op, parametrization.dim, weight.shape, `${module.constructor.name}.${name}`);
  return parametrization;
}

/**
 * Weight Normalization (Salimans & Kingma, NeurIPS 2016) on `module[name]`, like
 * `torch.nn.utils.parametrizations.weight_norm`: the weight becomes `w = g * v / ||v||`, the norm
 * taken per index along `dim` over every other dim, separating its magnitude `g` from its
 * direction `v`. Initialised with `g = ||w||` and `v = w`, so the module computes exactly what it
 * did before. The state dict holds PyTorch's keys, `parametrizations.weight.original0` (g) and
 * `parametrizations.weight.original1` (v), and loads into PyTorch's weight_norm and back.
 *
 * `dim` is the output-unit dim (0 for Linear, Conv2d and Embedding, 1 for ConvTranspose2d) or
 * null for one norm over the whole tensor. Negative dims are an OptionError: PyTorch reads -1 as
 * "the whole tensor", not as the last dim. Weight norm must be the first parametrization of a
 * tensor; others can chain after it. Returns the module.
 *
 * @example
 * const layer = weightNorm(new Linear({ inFeatures: 20, outFeatures: 40 }));
 * Object.keys(layer.stateDict()); // ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
 * removeParametrizations(layer, 'weight'); // back to a plain weight holding g * v / ||v||
 */
export function weightNorm<M extends Module>(module: M, options: WeightNormOptions = {}): M {
  checkOptionKeys('weightNorm', options, Object.keys({ name: true, dim: true } satisfies Record<keyof WeightNormOptions, true>));
  const name = options.name ?? 'weight';
  const parametrization = createWeightNorm(module, name, { dim: options.dim === undefined ? 0 : options.dim });
  return registerParametrization(module, name, parametrization);
}
