import { customOp } from '../autograd';
import { allocate, allocateForOverwrite, type TypedArray } from '../dtype';
import { ShapeError, ValueError, formatShape } from '../errors';
import { Tensor } from '../tensor';
import {
  checkMask,
  computeStatisticsWithRstd,
  describeLayout,
  slotCount,
  slotOf,
  type NormStatistics,
  type StatisticsOptions,
} from './statistics';
import { batchwisePath } from './batchwise';
import type { NormalizePath } from './path';
import { rowwisePath } from './rowwise';
import { slotwisePath } from './slotwise';

/** The specialised layouts, tried in order; each declares the options it accepts. */
const PATHS: readonly NormalizePath[] = [rowwisePath, slotwisePath, batchwisePath];

/**
 * Filter Response Normalization's learned epsilon (Singh & Krishnan, 2019): eps = fixed + |learned|,
 * so it never falls below `fixed`. `learned` is a one-element tensor and receives
 * dL/deps * sign(learned), with sign(0) = 0 as in PyTorch's and TensorFlow's `abs`.
 */
export interface LearnedEpsilon {
  fixed: number;
  learned: Tensor;
}

export interface NormalizeOptions extends StatisticsOptions {
  /** Name shown in errors and in the graph, e.g. `batchNorm`. */
  op: string;
  /**
   * Added to the variance; a scalar tensor makes it learnable and receives a gradient;
   * `{ fixed, learned }` is FRN's eps = fixed + |learned|, inside the same node.
   */
  eps: number | Tensor | LearnedEpsilon;
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
  /**
   * Per-parameter lower bound applied after the affine, out = max(y, threshold): the TLU of
   * Filter Response Normalization, fused so FRN + TLU stay one node. Where y >= threshold the
   * gradient goes to y (ties included, like `maximum`), elsewhere to the threshold.
   */
  threshold?: Tensor | null;
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
 *   y = max(y, threshold)                                  (optional epilogue: FRN's TLU)
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
  const threshold = options.threshold ?? null;
  for (const [name, p] of [['weight', weight], ['bias', bias], ['threshold', threshold]] as const) {
    if (p && p.size !== paramCount) {
      throw new ShapeError({ op, expected: `${name} with ${paramCount} elements`, given: `shape ${formatShape(p.shape)}` });
    }
  }
  checkMask(op, options);
  const learnedEps = typeof options.eps === 'object' && !(options.eps instanceof Tensor) ? options.eps : null;
  const epsTensor = options.eps instanceof Tensor ? options.eps : (learnedEps?.learned ?? null);
  if (learnedEps && !(learnedEps.fixed > 0)) {
    throw new ValueError({ op, expected: 'a fixed eps > 0 under the learned one', given: `eps = ${learnedEps.fixed}` });
  }
  if (epsTensor && epsTensor.size !== 1) {
    throw new ShapeError({ op, expected: 'a one-element eps tensor', given: `shape ${formatShape(epsTensor.shape)}` });
  }
  const eps = learnedEps ? learnedEps.fixed + Math.abs(epsTensor!.data[0]!) : epsTensor ? epsTensor.data[0]! : (options.eps as number);
  if (!(eps > 0)) throw new ValueError({ op, expected: 'eps > 0', given: `eps = ${eps}` });
  // d|learned|/dlearned, taken at forward time (an optimizer step may change `learned` before backward).
  const learnedEpsSign = learnedEps ? Math.sign(epsTensor!.data[0]!) : 1;

  if (options.statistics) {
    const slots = slotCount(options);
    const { mean, variance } = options.statistics;
    if (mean.length !== slots || variance.length !== slots) {
      throw new ShapeError({ op, expected: `${slots} statistics (mean and variance)`, given: `${mean.length} means and ${variance.length} variances` });
    }
  }

  const resolved = { eps, epsInput: epsTensor ? { tensor: epsTensor, derivative: learnedEpsSign } : null, weight, bias, threshold };
  for (const path of PATHS) if (path.accepts(options)) return path.run(x, options, resolved);

  const fixed = options.statistics;
  const slots = slotCount(options);
  let statistics: NormStatistics;
  let rstd: Float64Array;
  if (fixed) {
    statistics = { count: new Float64Array(fixed.mean.length), mean: fixed.mean, variance: fixed.variance };
    rstd = fixed.variance.map((v) => 1 / Math.sqrt(v + eps));
  } else {
    const computed = computeStatisticsWithRstd(x.data, options, eps);
    statistics = computed.statistics;
    rstd = computed.rstd!;
  }
  const mean = statistics.mean;

  const xs = x.data;
  const w = weight?.data;
  const b = bias?.data;
  const th = threshold?.data;
  const mask = options.mask;
  const maskSpatial = options.maskSpatial ?? inner;
  const blocks = inner / affineBlock;
  // Every element is written below (masked ones set to 0 after): no zeroing pass.
  const out = allocateForOverwrite(x.dtype, x.size);

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
        if (th) {
          // Compares the stored (dtype-rounded) y, as max(y, threshold) composed from ops would.
          const t = th[p]!;
          for (let i = start, end = start + affineBlock; i < end; i++) if (out[i]! < t) out[i] = t;
        }
      }
      if (mask) {
        const maskBase = o * maskSpatial;
        for (let i = 0; i < inner; i++) if (mask[maskBase + (i % maskSpatial)] === 0) out[base + i] = 0;
      }
    }
  }

  const output = customOp({
    op,
    inputs: { x, weight, bias, eps: epsTensor, threshold },
    data: out,
    shape: x.shape,
    backward: (gradOutput) => backwardKernel(gradOutput),
  });

  /**
   * The threshold's share of the gradient: returns dL/dy (gradOutput where y >= threshold, else 0)
   * and adds the rest into `gradThreshold`. y is recomputed exactly as the forward stored it.
   */
  function splitThresholdGradient(gradOutput: TypedArray, t: TypedArray, gradThreshold: Float64Array): TypedArray {
    const gy = allocate(x.dtype, x.size);
    for (let o = 0; o < outer; o++) {
      for (let g = 0; g < groups; g++) {
        const slot = slotOf(options, o, g);
        const r = rstd[slot]!;
        const base = (o * groups + g) * inner;
        const maskBase = o * maskSpatial;
        for (let q = 0; q < blocks; q++) {
          const p = g * blocks + q;
          const scale = r * (w ? w[p]! : 1);
          const shift = (b ? b[p]! : 0) - mean[slot]! * scale;
          const floor = t[p]!;
          let below = 0;
          for (let i = base + q * affineBlock, end = i + affineBlock; i < end; i++) {
            if (mask && mask[maskBase + ((i - base) % maskSpatial)] === 0) continue;
            gy[i] = xs[i]! * scale + shift;
            if (gy[i]! >= floor) gy[i] = gradOutput[i]!;
            else {
              below += gradOutput[i]!;
              gy[i] = 0;
            }
          }
          gradThreshold[p]! += below;
        }
      }
    }
    return gy;
  }

  function backwardKernel(gradOutput: TypedArray) {
    const gradThreshold = th ? new Float64Array(paramCount) : null;
    const gy = th ? splitThresholdGradient(gradOutput, th, gradThreshold!) : gradOutput;
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
    let gradEps: Float64Array | null = null;
    if (epsTensor) {
      // d y / d eps through rstd = (var + eps)^(-1/2): dL/deps = sum_slot -0.5 * rstd^2 * sum(dxhat * xhat).
      let sum = 0;
      for (let s = 0; s < slots; s++) sum += -0.5 * rstd[s]! * rstd[s]! * reductions[slots + s]!;
      // eps = fixed + |learned|: chain through abs, whose derivative is sign(learned) (0 at 0).
      gradEps = Float64Array.of(learnedEpsSign === 0 ? 0 : sum * learnedEpsSign);
    }
    // Float64 accumulators as they are: the engine casts each to its input's dtype (no copy when it matches).
    return { x: gradX, weight: gradWeight, bias: gradBias, eps: gradEps, threshold: gradThreshold };
  }

  return { output, statistics };
}

