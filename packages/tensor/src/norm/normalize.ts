import { customOp } from '../autograd';
import { allocate, type TypedArray } from '../dtype';
import { ShapeError, ValueError, formatShape } from '../errors';
import { Tensor } from '../tensor';
import {
  checkMask,
  computeStatistics,
  describeLayout,
  slotCount,
  slotOf,
  type NormStatistics,
  type StatisticsOptions,
} from './statistics';

export interface NormalizeOptions extends StatisticsOptions {
  /** Name shown in errors and in the graph, e.g. `batchNorm`. */
  op: string;
  /** Added to the variance; a scalar tensor makes it learnable (FRN) and receives a gradient. */
  eps: number | Tensor;
  /** Per-parameter scale (gamma), or null for none. */
  weight?: Tensor | null;
  /** Per-parameter shift (beta), or null for none. */
  bias?: Tensor | null;
  /**
   * How many consecutive `inner` elements share one affine parameter: the spatial size for
   * per-channel affine (BatchNorm, GroupNorm, InstanceNorm), 1 for per-element (LayerNorm).
   */
  affineBlock: number;
  /** Use these per-slot statistics instead of computing them (eval with running statistics). */
  statistics?: { mean: Float64Array; variance: Float64Array };
}

export interface NormalizeResult {
  output: Tensor;
  /** The statistics used, per slot (biased variance); the running-average update reads them. */
  statistics: NormStatistics;
}

/**
 * The one fused normalisation kernel of normkit, shared by every family:
 *
 *   y = (x - mean) / sqrt(var + eps) * weight + bias      (center: true)
 *   y = x / sqrt(mean(x^2) + eps) * weight + bias          (center: false)
 *
 * with statistics per slot (see `StatisticsOptions`), padded positions giving y = 0 and no
 * gradient, and ONE autograd node whose backward is analytic:
 *
 *   dxhat = dy * weight
 *   dx    = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (means over the slot)
 *
 * Statistics accumulate in float64; the only allocations are the outputs and per-slot arrays.
 */
export function normalize(x: Tensor, options: NormalizeOptions): NormalizeResult {
  const { layout, affineBlock, op } = options;
  const { outer, groups, inner } = layout;
  if (outer * groups * inner !== x.size) {
    throw new ShapeError({ op, expected: `${outer * groups * inner} elements for layout ${describeLayout(layout)}`, given: `shape ${formatShape(x.shape)}` });
  }
  if (affineBlock < 1 || inner % affineBlock !== 0) {
    throw new ValueError({ op, expected: `an affineBlock dividing ${inner}`, given: `${affineBlock}` });
  }
  const paramCount = (groups * inner) / affineBlock;
  const weight = options.weight ?? null;
  const bias = options.bias ?? null;
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && p.size !== paramCount) {
      throw new ShapeError({ op, expected: `${name} with ${paramCount} elements`, given: `shape ${formatShape(p.shape)}` });
    }
  }
  checkMask(op, options);
  const epsTensor = options.eps instanceof Tensor ? options.eps : null;
  const eps = epsTensor ? epsTensor.data[0]! : (options.eps as number);
  if (!(eps > 0)) throw new ValueError({ op, expected: 'eps > 0', given: `eps = ${eps}` });

  const fixed = options.statistics;
  const statistics: NormStatistics = fixed
    ? { count: new Float64Array(fixed.mean.length), mean: fixed.mean, variance: fixed.variance }
    : computeStatistics(x.data, options);
  const slots = slotCount(options);
  if (statistics.mean.length !== slots) {
    throw new ShapeError({ op, expected: `${slots} statistics`, given: `${statistics.mean.length}` });
  }
  const mean = statistics.mean;
  const rstd = new Float64Array(slots);
  for (let s = 0; s < slots; s++) rstd[s] = 1 / Math.sqrt(statistics.variance[s]! + eps);

  const xs = x.data;
  const w = weight?.data;
  const b = bias?.data;
  const mask = options.mask;
  const maskSpatial = options.maskSpatial ?? inner;
  const blocks = inner / affineBlock;
  const out = allocate(x.dtype, x.size);

  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < groups; g++) {
      const slot = slotOf(options, o, g);
      const m = mean[slot]!;
      const r = rstd[slot]!;
      const base = (o * groups + g) * inner;
      const paramBase = g * blocks;
      for (let q = 0; q < blocks; q++) {
        const p = paramBase + q;
        // Per-channel affine folds into one scale and shift for the whole block.
        const scale = r * (w ? w[p]! : 1);
        const shift = (b ? b[p]! : 0) - m * scale;
        const start = base + q * affineBlock;
        if (affineBlock === 1) {
          out[start] = xs[start]! * scale + shift;
        } else {
          for (let i = start, end = start + affineBlock; i < end; i++) out[i] = xs[i]! * scale + shift;
        }
      }
      if (mask) {
        const maskBase = o * maskSpatial;
        for (let i = 0; i < inner; i++) if (mask[maskBase + (i % maskSpatial)] === 0) out[base + i] = 0;
      }
    }
  }

  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  if (epsTensor) inputs.push(epsTensor);

  const output = customOp({
    op,
    inputs,
    data: out,
    shape: x.shape,
    backward: (gy) => backwardKernel(gy),
  });

  function backwardKernel(gy: TypedArray): Array<TypedArray | null> {
    const gradWeight = weight ? new Float64Array(paramCount) : null;
    const gradBias = bias ? new Float64Array(paramCount) : null;
    // reductions = [sum(dxhat)..., sum(dxhat * xhat)...] per slot.
    const reductions = new Float64Array(2 * slots);
    for (let o = 0; o < outer; o++) {
      for (let g = 0; g < groups; g++) {
        const slot = slotOf(options, o, g);
        const m = mean[slot]!;
        const r = rstd[slot]!;
        const base = (o * groups + g) * inner;
        const maskBase = o * maskSpatial;
        let sumDxhat = 0;
        let sumDxhatXhat = 0;
        for (let q = 0; q < blocks; q++) {
          const p = g * blocks + q;
          const gamma = w ? w[p]! : 1;
          let blockDy = 0;
          let blockDyXhat = 0;
          for (let i = base + q * affineBlock, end = i + affineBlock; i < end; i++) {
            if (mask && mask[maskBase + ((i - base) % maskSpatial)] === 0) continue;
            const dy = gy[i]!;
            const xhat = (xs[i]! - m) * r;
            blockDy += dy;
            blockDyXhat += dy * xhat;
          }
          if (gradWeight) gradWeight[p]! += blockDyXhat;
          if (gradBias) gradBias[p]! += blockDy;
          sumDxhat += blockDy * gamma;
          sumDxhatXhat += blockDyXhat * gamma;
        }
        reductions[slot]! += sumDxhat;
        reductions[slots + slot]! += sumDxhatXhat;
      }
    }
    if (!fixed) options.allReduce?.(reductions);

    let gradX: TypedArray | null = null;
    if (x.requiresGrad) {
      gradX = allocate(x.dtype, x.size);
      for (let o = 0; o < outer; o++) {
        for (let g = 0; g < groups; g++) {
          const slot = slotOf(options, o, g);
          const m = mean[slot]!;
          const r = rstd[slot]!;
          const base = (o * groups + g) * inner;
          const maskBase = o * maskSpatial;
          let meanDxhat = 0;
          let meanDxhatXhat = 0;
          if (!fixed) {
            const count = statistics.count[slot]!;
            meanDxhat = options.center ? reductions[slot]! / count : 0;
            meanDxhatXhat = reductions[slots + slot]! / count;
          }
          for (let q = 0; q < blocks; q++) {
            const gamma = w ? w[g * blocks + q]! : 1;
            for (let i = base + q * affineBlock, end = i + affineBlock; i < end; i++) {
              if (mask && mask[maskBase + ((i - base) % maskSpatial)] === 0) continue;
              const xhat = (xs[i]! - m) * r;
              gradX[i] = r * (gy[i]! * gamma - meanDxhat - xhat * meanDxhatXhat);
            }
          }
        }
      }
    }
    const grads: Array<TypedArray | null> = [gradX];
    if (weight) grads.push(gradWeight ? toDTypeOf(gradWeight, weight) : null);
    if (bias) grads.push(gradBias ? toDTypeOf(gradBias, bias) : null);
    if (epsTensor) {
      // d y / d eps through rstd = (var + eps)^(-1/2): dL/deps = sum_slot -0.5 * rstd^2 * sum(dxhat * xhat).
      let gradEps = 0;
      for (let s = 0; s < slots; s++) gradEps += -0.5 * rstd[s]! * rstd[s]! * reductions[slots + s]!;
      const ge = allocate(epsTensor.dtype, 1);
      ge[0] = gradEps;
      grads.push(ge);
    }
    return grads;
  }

  return { output, statistics };
}

function toDTypeOf(values: Float64Array, like: Tensor): TypedArray {
  if (like.dtype === 'float64') return values;
  return Float32Array.from(values);
}
