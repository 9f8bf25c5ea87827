import { MultiHeadAttention } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from '../graph';
import type { Dim } from '../proto';
import { defineLowering } from '../registry';

/** What one attention call reads: the query, optional key and value (cross-attention), key padding mask [N, S], causal flag. */
export interface AttentionInputs {
  query: OnnxValue;
  /** [N, S, E]; defaults to the query. */
  key?: OnnxValue;
  /** [N, S, E]; defaults to the key. */
  value?: OnnxValue;
  /** [N, S] float, 1 for a real key and 0 for padding (normkit's convention, not PyTorch's). */
  mask?: OnnxValue;
  causal?: boolean;
}

const perm = (value: number[]) => ({ perm: { type: 'ints' as const, value } });

/**
 * The allowed (query, key) pairs as a float [N or 1, 1, L, S] 0/1 tensor: the key mask broadcast
 * over queries, times the lower triangle (Trilu on ones shaped like the logits' last two dims, so
 * L and S may be dynamic; the triangle is aligned at the top left, as normkit and
 * scaled_dot_product_attention(is_causal=True) do).
 */
function allowedPairs(ctx: LoweringContext, logits: OnnxValue, mask: OnnxValue | undefined, causal: boolean): OnnxValue {
  const [n, , l, s] = logits.shape as [Dim, Dim, Dim, Dim];
  let allowed: OnnxValue | null = null;
  if (mask) allowed = ctx.node('Reshape', [mask, ctx.int64s([0, 1, 1, -1], 'mask_shape')], [n, 1, 1, s]);
  if (causal) {
    const lastTwo = ctx.node('Slice', [ctx.node('Shape', [logits], [4]), ctx.int64s([2], 'lt_start'), ctx.int64s([4], 'lt_end')], [2]);
    const ones = ctx.node('Expand', [ctx.scalar(1, 'one'), lastTwo], [l, s]);
    const triangle = ctx.node('Trilu', [ones], [l, s], { upper: { type: 'int', value: 0 } });
    allowed = allowed ? ctx.binary('Mul', allowed, triangle) : triangle;
  }
  return allowed!;
}

/**
 * Multi-head attention in primitive ops, exactly normkit's eval forward: q, k, v projected (the
 * Linear lowerings), Reshape [N, *, H, D] and Transpose to [N, H, *, D]; QK-norm modules on q and
 * k if any; logits q k^T / sqrt(D); masked logits set to -Infinity with Where (a query row left
 * with no key attends everywhere and its weights are then zeroed, as normkit does); Softmax over
 * keys; weights v; back to [N, L, E]; the output projection. For model lowerings that call
 * attention with their own key, value, mask or causal flag.
 */
export function lowerAttention(module: MultiHeadAttention, ctx: LoweringContext, inputs: AttentionInputs): OnnxValue {
  const { numHeads: H, headDim: D, embedDim: E } = module;
  const { query } = inputs;
  const key = inputs.key ?? query;
  const value = inputs.value ?? key;
  const [n, l] = query.shape;
  const s = key.shape[1]!;
  const split = (projected: OnnxValue, length: Dim, name: string) => {
    const heads = ctx.node('Reshape', [projected, ctx.int64s([0, 0, H, D], `${name}_heads`)], [n!, length, H, D]);
    return ctx.node('Transpose', [heads], [n!, H, length, D], perm([0, 2, 1, 3]));
  };
  let q = split(ctx.lower(module.qProj, [query], 'q_proj'), l!, 'q');
  let k = split(ctx.lower(module.kProj, [key], 'k_proj'), s, 'k');
  const v = split(ctx.lower(module.vProj, [value], 'v_proj'), s, 'v');
  if (module.qNorm && module.kNorm) {
    q = ctx.lower(module.qNorm, [q], 'q_norm');
    k = ctx.lower(module.kNorm, [k], 'k_norm');
  }
  const kT = ctx.node('Transpose', [k], [n!, H, D, s], perm([0, 1, 3, 2]));
  let logits = ctx.binary('Mul', ctx.node('MatMul', [q, kT], [n!, H, l!, s]), ctx.scalar(1 / Math.sqrt(D), 'scale'));
  let rowHasKey: OnnxValue | null = null;
  if (inputs.mask || inputs.causal) {
    const allowed = allowedPairs(ctx, logits, inputs.mask, inputs.causal ?? false);
    // keep = allowed, or every key for a row with none (whose weights rowHasKey then zeroes).
    rowHasKey = ctx.reduce('ReduceMax', allowed, [-1]);
    const keep = ctx.binary('Max', allowed, ctx.binary('Sub', ctx.scalar(1, 'one'), rowHasKey));
    const condition = ctx.node('Greater', [keep, ctx.scalar(0.5, 'half')], keep.shape);
    logits = ctx.node('Where', [condition, logits, ctx.scalar(-Infinity, 'minus_inf')], logits.shape);
  }
  let weights = ctx.unary('Softmax', logits, { axis: { type: 'int', value: -1 } });
  if (rowHasKey) weights = ctx.binary('Mul', weights, rowHasKey);
  const context = ctx.node('MatMul', [weights, v], [n!, H, l!, D]);
  const merged = ctx.node('Transpose', [context], [n!, l!, H, D], perm([0, 2, 1, 3]));
  const flat = ctx.node('Reshape', [merged, ctx.int64s([0, 0, E], 'merged_shape')], [n!, l!, E]);
  return ctx.lower(module.outProj, [flat], 'out_proj');
}

/**
 * MultiHeadAttention as `forward(query, { key, value, mask, causal })` exports it: self-attention by
 * default; the export's `context.key` / `context.value` graph inputs make it cross-attention (root
 * module only: a block calls its attention on its own stream), `context.mask` the key padding mask
 * and `context.causal` the causal triangle (those two reach attention inside a TransformerBlock too).
 */
export const multiHeadAttentionLowering = defineLowering({
  loweringVersion: 'v1',
  module: MultiHeadAttention,
  lower(module, [x], ctx) {
    const root = ctx.scope === '';
    return lowerAttention(module, ctx, {
      query: x!,
      ...(root && ctx.context.key ? { key: ctx.context.key } : {}),
      ...(root && ctx.context.value ? { value: ctx.context.value } : {}),
      ...(ctx.context.mask ? { mask: ctx.context.mask } : {}),
      causal: ctx.flags.causal ?? false,
    });
  },
});
