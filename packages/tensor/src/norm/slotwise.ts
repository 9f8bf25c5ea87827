import { customOp } from '../autograd';
import { allocate, allocateForOverwrite, type TypedArray } from '../dtype';
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

  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  if (epsInput) inputs.push(epsInput.tensor);
  if (threshold) inputs.push(threshold);
  const paramCount = (groups * inner) / block;
  const xs = x.data;
  const output = customOp({
    op,
    inputs,
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
      const grads: Array<TypedArray | null> = [gradX];
      if (weight) grads.push(ofDType(gradWeight!, weight));
      if (bias) grads.push(ofDType(gradBias!, bias));
      if (epsInput) {
        // rstd = (var + eps)^(-1/2): dL/deps = sum over slots of -0.5 * rstd^2 * sum(dxhat * xhat).
        let gradEps = 0;
        for (let s = 0; s < slots; s++) gradEps += -0.5 * rstd[s]! * rstd[s]! * dxhatXhat[s]!;
        const ge = allocate(epsInput.tensor.dtype, 1);
        ge[0] = epsInput.derivative === 0 ? 0 : gradEps * epsInput.derivative;
        grads.push(ge);
      }
      if (threshold) grads.push(ofDType(gradThreshold!, threshold));
      return grads;
    },
  });
  return { output, statistics: { count, mean, variance } };
}

function ofDType(values: Float64Array, like: Tensor): TypedArray {
  return like.dtype === 'float64' ? values : Float32Array.from(values);
}
