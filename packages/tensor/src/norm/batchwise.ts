import { customOp } from '../autograd';
import { allocateForOverwrite } from '../dtype';
import { activeKernels } from '../kernels/backend';
import type { Tensor } from '../tensor';
import type { NormalizeOptions, NormalizeResult } from './normalize';
import type { NormalizePath, ResolvedNormalize } from './path';
import { slotCount } from './statistics';

/**
 * The batch case of `normalize` (BatchNorm, GhostBatchNorm, SyncBatchNorm): statistics per
 * (chunk of outer, group) slot across the outer entries of the chunk, one affine parameter per
 * group (affineBlock = inner), no mask, a plain eps, optionally fixed statistics (eval with running
 * averages) and a cross-replica `allReduce` called exactly as the general loops call it:
 * [counts..., sums...], then squared deviations (centred only), then in backward
 * [sum(dxhat)..., sum(dxhat * xhat)...] (not with fixed statistics). Same maths and semantics as the
 * general loops (batchwise.test.ts compares them); the loops are the kernel table's `batchForward` / `batchBackward`.
 */
export const batchwisePath: NormalizePath = {
  name: 'batchwise',
  accepts: (o: NormalizeOptions) =>
    o.acrossOuter && !o.mask && o.affineBlock === o.layout.inner && typeof o.eps === 'number' && !o.threshold,
  run: (x, options, resolved) => normalizeBatch(x, options, resolved),
};

function normalizeBatch(x: Tensor, options: NormalizeOptions, resolved: ResolvedNormalize): NormalizeResult {
  const { op, center } = options;
  const { outer, groups, inner } = options.layout;
  const { eps, weight, bias } = resolved;
  const chunk = options.outerChunk ? options.outerChunk : Math.max(outer, 1);
  const slots = slotCount(options);
  const fixed = options.statistics ?? null;
  const allReduce = options.allReduce ?? null;
  const xs = x.data;
  const w = weight?.data ?? null;
  const b = bias?.data ?? null;
  // Both kernels write every element of out and gradX: no zeroing pass (NaN-poisoned in CI's test passes).
  const out = allocateForOverwrite(x.dtype, x.size);
  const { statistics, rstd } = activeKernels().batchForward({
    x: xs, out, weight: w, bias: b, outer, groups, inner, chunk, slots, center, eps, fixed, allReduce,
  });

  const output = customOp({
    op,
    inputs: { x, weight, bias },
    data: out,
    shape: x.shape,
    backward: (gradOutput) => {
      const gradWeight = weight ? new Float64Array(groups) : null;
      const gradBias = bias ? new Float64Array(groups) : null;
      const gradX = x.requiresGrad ? allocateForOverwrite(x.dtype, x.size) : null;
      activeKernels().batchBackward({
        gradOutput, x: xs, weight: w, outer, groups, inner, chunk, slots, center, fixed: fixed !== null, count: statistics.count,
        mean: statistics.mean, rstd, gradX, gradWeight, gradBias, allReduce,
      });
      // Float64 accumulators as they are: the engine casts each to its input's dtype.
      return { x: gradX, weight: gradWeight, bias: gradBias };
    },
  });
  return { output, statistics };
}
