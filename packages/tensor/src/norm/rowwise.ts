import { customOp } from '../autograd';
import { allocateForOverwrite } from '../dtype';
import { activeKernels } from '../kernels/backend';
import type { Tensor } from '../tensor';
import type { NormalizeOptions, NormalizeResult } from './normalize';
import type { NormalizePath, ResolvedNormalize } from './path';

/**
 * The row-wise case of `normalize` (LayerNorm, RMSNorm): statistics per row of `inner` contiguous
 * elements, per-element affine, whole rows masked. Same maths, numerics (two-pass statistics in
 * float64) and semantics as the general loops, which it must match (rowwise.test.ts); the loops are
 * the kernel table's `rowwiseForward` / `rowwiseBackward`. `center: false` (RMSNorm) skips the mean pass.
 */
export const rowwisePath: NormalizePath = {
  name: 'rowwise',
  accepts: (o: NormalizeOptions) =>
    o.layout.groups === 1 && o.affineBlock === 1 && !o.acrossOuter && !o.statistics && !o.allReduce && typeof o.eps === 'number' &&
    !o.threshold && (!o.mask || o.maskSpatial === 1),
  run: (x, options, resolved) => normalizeRows(x, options, resolved),
};

function normalizeRows(x: Tensor, options: NormalizeOptions, resolved: ResolvedNormalize): NormalizeResult {
  const { op, center } = options;
  const { eps, weight, bias } = resolved;
  const rows = options.layout.outer;
  const inner = options.layout.inner;
  const mask = options.mask ?? null;
  const count = new Float64Array(rows);
  const mean = new Float64Array(rows);
  const variance = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const out = allocateForOverwrite(x.dtype, x.size);
  const w = weight?.data ?? null;
  const b = bias?.data ?? null;
  activeKernels().rowwiseForward({ x: x.data, out, weight: w, bias: b, rows, inner, center, eps, mask, count, mean, variance, rstd });

  const xs = x.data;
  const output = customOp({
    op,
    inputs: { x, weight, bias },
    data: out,
    shape: x.shape,
    backward: (gradOutput) => {
      const gradX = x.requiresGrad ? allocateForOverwrite(x.dtype, x.size) : null;
      const gradWeight = weight ? new Float64Array(inner) : null;
      const gradBias = bias ? new Float64Array(inner) : null;
      activeKernels().rowwiseBackward({ gradOutput, x: xs, weight: w, rows, inner, center, mask, mean, rstd, gradX, gradWeight, gradBias });
      // Float64 accumulators as they are: the engine casts each to its input's dtype.
      return { x: gradX, weight: gradWeight, bias: gradBias };
    },
  });
  return { output, statistics: { count, mean, variance } };
}
