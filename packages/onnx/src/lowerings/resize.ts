import type { LoweringContext, OnnxValue } from '../graph';

/**
 * normkit's (PyTorch's) nearest source indices for resizing `inSize` to `outSize` by size:
 * identity and exact 2x are special cases, otherwise min(floor(fround(dst * fround(in / out))), in - 1),
 * in float32 as PyTorch computes them (the rounding decides ties such as 6 -> 4).
 */
export function nearestSourceIndices(inSize: number, outSize: number): number[] {
  const scale = Math.fround(inSize / outSize);
  return Array.from({ length: outSize }, (_, dst) => {
    if (outSize === inSize) return dst;
    if (outSize === 2 * inSize) return dst >> 1;
    return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
  });
}

/**
 * Nearest resize of [N, C, H, W] to static [outH, outW] as two `Gather`s with the exact source
 * indices. ONNX `Resize` (asymmetric, floor) divides x_out by out / in in float32 where PyTorch
 * multiplies by in / out, and special-cases neither identity nor 2x; rather than rely on the two
 * roundings agreeing at every size, the graph gathers the indices normkit itself uses.
 */
export function resizeNearest(ctx: LoweringContext, x: OnnxValue, outH: number, outW: number): OnnxValue {
  const [n, c, h, w] = x.shape;
  if (typeof h !== 'number' || typeof w !== 'number') {
    throw ctx.unsupported('static spatial dims to resize from (the source indices are constants)', `[${x.shape.join(', ')}]`);
  }
  const rows = h === outH ? x : ctx.node('Gather', [x, ctx.int64s(nearestSourceIndices(h, outH), 'rows')], [n!, c!, outH, w], { axis: { type: 'int', value: 2 } });
  return w === outW ? rows : ctx.node('Gather', [rows, ctx.int64s(nearestSourceIndices(w, outW), 'cols')], [n!, c!, outH, outW], { axis: { type: 'int', value: 3 } });
}
