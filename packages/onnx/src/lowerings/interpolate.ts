// interpolate(x, target, mode, alignCorners) as ONNX Resize, with the coordinate rules set to normkit's (PyTorch's).
import { Upsample } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from '../graph';
import type { AttributeValue, Dim } from '../proto';
import { defineLowering } from '../registry';

export type InterpolateTarget = { size: number | readonly [number, number] } | { scaleFactor: number | readonly [number, number] };

function pair(value: number | readonly [number, number]): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/**
 * `Resize` of [N, C, H, W] as normkit's `interpolate`:
 * - nearest: coordinate_transformation_mode 'asymmetric' and nearest_mode 'floor', i.e.
 *   src = floor(dst / scale);
 * - bilinear: 'pytorch_half_pixel' (src = (dst + 0.5) / scale - 0.5, clamped at 0) or
 *   'align_corners' with alignCorners.
 * A `scaleFactor` is passed as Resize's `scales` (PyTorch uses the factor itself for the source
 * positions, and H and W may then be dynamic); a `size` as its `sizes` (static output).
 */
export function lowerInterpolate(
  ctx: LoweringContext, x: OnnxValue, target: InterpolateTarget, mode: 'nearest' | 'bilinear' = 'nearest', alignCorners = false,
): OnnxValue {
  const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
  const attributes: Record<string, AttributeValue> = mode === 'nearest'
    ? { mode: { type: 'string' as const, value: 'nearest' }, coordinate_transformation_mode: { type: 'string' as const, value: 'asymmetric' }, nearest_mode: { type: 'string' as const, value: 'floor' } }
    : { mode: { type: 'string' as const, value: 'linear' }, coordinate_transformation_mode: { type: 'string' as const, value: alignCorners ? 'align_corners' : 'pytorch_half_pixel' } };
  if ('size' in target) {
    const [outH, outW] = pair(target.size);
    // sizes = [N, C] of x (possibly dynamic) followed by the static [outH, outW].
    const leading = ctx.node('Slice', [ctx.node('Shape', [x], [4]), ctx.int64s([0], 'nc_start'), ctx.int64s([2], 'nc_end')], [2]);
    const sizes = ctx.node('Concat', [leading, ctx.int64s([outH, outW], 'out_hw')], [4], { axis: { type: 'int', value: 0 } });
    return ctx.node('Resize', [x, null, null, sizes], [n, c, outH, outW], attributes);
  }
  const [sh, sw] = pair(target.scaleFactor);
  const scaled = (d: Dim, s: number): Dim => (typeof d === 'number' ? Math.floor(d * s) : '');
  return ctx.node('Resize', [x, null, ctx.constant([1, 1, sh, sw], [4], { name: 'scales' })], [n, c, scaled(h, sh), scaled(w, sw)], attributes);
}

/**
 * Upsample: `Resize` as `lowerInterpolate` builds it, a scale factor as Resize's `scales` (H and W
 * may be dynamic; non-integer factors keep normkit's floor(dst / factor) source rows), a size as `sizes`.
 */
export const upsampleLowering = defineLowering({
  loweringVersion: 'v1',
  module: Upsample,
  lower: (m, [x], ctx) => lowerInterpolate(ctx, x!, m.size ? { size: m.size } : { scaleFactor: m.scaleFactor! }, m.mode, m.alignCorners),
});
