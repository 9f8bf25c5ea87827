import { MultiHeadAttention } from '@normkit/tensor';
import { defineLowering } from '../registry';

/**
 * MultiHeadAttention, self-attention as `forward(x)` exports it (no key/value, mask or causal
 * option: those are forward options the export does not pass), in primitive ops:
 * q, k, v = the projections (their Linear lowerings); Reshape [N, L, H, D] and Transpose to
 * [N, H, L, D]; the QK-norm modules on q and k if any (lowered like any child);
 * Softmax(q k^T / sqrt(D), axis -1) v; back to [N, L, E]; the output projection.
 */
export const multiHeadAttentionLowering = defineLowering({
  loweringVersion: 'v1',
  module: MultiHeadAttention,
  lower(module, [x], ctx) {
    const { numHeads: H, headDim: D, embedDim: E } = module;
    const [n, l] = x!.shape;
    const split = (projected: typeof x, name: string) => {
      const heads = ctx.node('Reshape', [projected!, ctx.int64s([0, 0, H, D], `${name}_heads`)], [n!, l!, H, D]);
      return ctx.node('Transpose', [heads], [n!, H, l!, D], { perm: { type: 'ints', value: [0, 2, 1, 3] } });
    };
    let q = split(ctx.lower(module.qProj, [x!], 'q_proj'), 'q');
    let k = split(ctx.lower(module.kProj, [x!], 'k_proj'), 'k');
    const v = split(ctx.lower(module.vProj, [x!], 'v_proj'), 'v');
    if (module.qNorm && module.kNorm) {
      q = ctx.lower(module.qNorm, [q], 'q_norm');
      k = ctx.lower(module.kNorm, [k], 'k_norm');
    }
    const kT = ctx.node('Transpose', [k], [n!, H, D, l!], { perm: { type: 'ints', value: [0, 1, 3, 2] } });
    const logits = ctx.binary('Mul', ctx.node('MatMul', [q, kT], [n!, H, l!, l!]), ctx.scalar(1 / Math.sqrt(D), 'scale'));
    const weights = ctx.unary('Softmax', logits, { axis: { type: 'int', value: -1 } });
    const context = ctx.node('MatMul', [weights, v], [n!, H, l!, D]);
    const merged = ctx.node('Transpose', [context], [n!, l!, H, D], { perm: { type: 'ints', value: [0, 2, 1, 3] } });
    const flat = ctx.node('Reshape', [merged, ctx.int64s([0, 0, E], 'merged_shape')], [n!, l!, E]);
    return ctx.lower(module.outProj, [flat], 'out_proj');
  },
});
