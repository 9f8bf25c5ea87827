import { customOp } from '../autograd';
import { allocateForOverwrite } from '../dtype';
import { activeKernels } from '../kernels/backend';
import type { Tensor } from '../tensor';
import type { NormalizeOptions, NormalizeResult } from './normalize';
import type { NormalizePath, ResolvedNormalize } from './path';

/**
 * The per-sample case of `normalize` with per-channel affine (GroupNorm, InstanceNorm, FRN): one
 * statistic per (outer, group) slot of `inner` contiguous values, affine parameters shared by
 * blocks of `affineBlock` values, optional TLU threshold and learnable eps, no mask, no fixed
 * statistics, no cross-replica reduction. Same maths and semantics as the general loops (which it
 * must match, see slotwise.test.ts); the loops are the kernel table's `slotwiseForward` / `slotwiseBackward`.
 */
export const slotwisePath: NormalizePath = {
  name: 'slotwise',
  accepts: (o: NormalizeOptions) => !o.acrossOuter && !o.statistics && !o.allReduce && !o.mask && o.affineBlock > 1,
  run: (x, options, resolved) => normalizeSlots(x, options, resolved),
};

function normalizeSlots(x: Tensor, options: NormalizeOptions, resolved: ResolvedNormalize): NormalizeResult {
  const { op, center } = options;
  const { outer, groups, inner } = options.layout;
  const block = options.affineBlock;
  const { eps, epsInput, weight, bias, threshold } = resolved;
  const slots = outer * groups;
  const count = new Float64Array(slots).fill(inner);
  const mean = new Float64Array(slots);
  const variance = new Float64Array(slots);
  const rstd = new Float64Array(slots);
  const out = allocateForOverwrite(x.dtype, x.size);
  const w = weight?.data ?? null;
  const b = bias?.data ?? null;
  const th = threshold?.data ?? null;
  activeKernels().slotwiseForward({ x: x.data, out, weight: w, bias: b, threshold: th, slots, groups, inner, block, center, eps, mean, variance, rstd });

  const paramCount = (groups * inner) / block;
  const xs = x.data;
  const output = customOp({
    op,
    inputs: { x, weight, bias, eps: epsInput?.tensor, threshold },
    data: out,
    shape: x.shape,
    backward: (gradOutput) => {
      const gradX = x.requiresGrad ? allocateForOverwrite(x.dtype, x.size) : null;
      const gradWeight = weight ? new Float64Array(paramCount) : null;
      const gradBias = bias ? new Float64Array(paramCount) : null;
      const gradThreshold = threshold ? new Float64Array(paramCount) : null;
      // sum(dxhat * xhat) per slot, for the eps gradient.
      const dxhatXhat = new Float64Array(slots);
      activeKernels().slotwiseBackward({
        gradOutput, x: xs, weight: w, bias: b, threshold: th, slots, groups, inner, block, center, mean, rstd, gradX, gradWeight, gradBias,
        gradThreshold, dxhatXhat,
      });
      let gradEps: Float64Array | null = null;
      if (epsInput) {
        // rstd = (var + eps)^(-1/2): dL/deps = sum over slots of -0.5 * rstd^2 * sum(dxhat * xhat).
        let sum = 0;
        for (let s = 0; s < slots; s++) sum += -0.5 * rstd[s]! * rstd[s]! * dxhatXhat[s]!;
        gradEps = Float64Array.of(epsInput.derivative === 0 ? 0 : sum * epsInput.derivative);
      }
      // Float64 accumulators as they are: the engine casts each to its input's dtype.
      return { x: gradX, weight: gradWeight, bias: gradBias, eps: gradEps, threshold: gradThreshold };
    },
  });
  return { output, statistics: { count, mean, variance } };
}
