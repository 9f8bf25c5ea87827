// Pooling as @normkit/tensor's ops compute it (floor mode), for the lowerings of modules that call them.
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from '../graph';
import type { Dim } from '../proto';
import { defineLowering } from '../registry';

type Pair = number | readonly [number, number];

function pair(value: Pair | undefined, fallback: readonly [number, number]): [number, number] {
  if (value === undefined) return [fallback[0], fallback[1]];
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

function sliding(size: Dim, kernel: number, stride: number, pad: number, dilation: number): Dim {
  return typeof size === 'number' ? Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1 : '';
}

/** Runs `pool` on [N, C, H, W]; an unbatched [C, H, W] input is unsqueezed and squeezed back. */
function onImages(ctx: LoweringContext, input: OnnxValue, pool: (x: OnnxValue) => OnnxValue): OnnxValue {
  if (input.shape.length === 4) return pool(input);
  if (input.shape.length !== 3) throw ctx.unsupported('an image [N, C, H, W] or [C, H, W]', `rank ${input.shape.length}`);
  const y = pool(ctx.node('Unsqueeze', [input, ctx.int64s([0], 'axes')], [1, ...input.shape]));
  return ctx.node('Squeeze', [y, ctx.int64s([0], 'axes')], y.shape.slice(1));
}

/** maxPool2d(x, kernelSize, { stride, padding, dilation }): `MaxPool` (floor mode; padding never wins). */
export function lowerMaxPool2d(
  ctx: LoweringContext, input: OnnxValue, kernelSize: Pair, options: { stride?: Pair; padding?: Pair; dilation?: Pair } = {},
): OnnxValue {
  const k = pair(kernelSize, [1, 1]);
  const s = pair(options.stride, k);
  const p = pair(options.padding, [0, 0]);
  const d = pair(options.dilation, [1, 1]);
  return onImages(ctx, input, (x) => {
    const [n, c, h, w] = x.shape;
    return ctx.node('MaxPool', [x], [n!, c!, sliding(h!, k[0], s[0], p[0], d[0]), sliding(w!, k[1], s[1], p[1], d[1])], {
      kernel_shape: { type: 'ints', value: k }, strides: { type: 'ints', value: s }, pads: { type: 'ints', value: [p[0], p[1], p[0], p[1]] }, dilations: { type: 'ints', value: d },
    });
  });
}

/** avgPool2d(x, kernelSize, { stride, padding, countIncludePad }): `AveragePool` with count_include_pad (default 1, PyTorch's). */
export function lowerAvgPool2d(
  ctx: LoweringContext, input: OnnxValue, kernelSize: Pair, options: { stride?: Pair; padding?: Pair; countIncludePad?: boolean } = {},
): OnnxValue {
  const k = pair(kernelSize, [1, 1]);
  const s = pair(options.stride, k);
  const p = pair(options.padding, [0, 0]);
  return onImages(ctx, input, (x) => {
    const [n, c, h, w] = x.shape;
    return ctx.node('AveragePool', [x], [n!, c!, sliding(h!, k[0], s[0], p[0], 1), sliding(w!, k[1], s[1], p[1], 1)], {
      kernel_shape: { type: 'ints', value: k }, strides: { type: 'ints', value: s }, pads: { type: 'ints', value: [p[0], p[1], p[0], p[1]] },
      count_include_pad: { type: 'int', value: (options.countIncludePad ?? true) ? 1 : 0 },
    });
  });
}

/** [out, in] rows averaging input cells [floor(o * in / out), ceil((o + 1) * in / out)): adaptive pooling along one axis. */
function adaptiveMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const start = Math.floor((o * inSize) / outSize);
    const end = Math.ceil(((o + 1) * inSize) / outSize);
    for (let i = start; i < end; i++) m[o * inSize + i] = 1 / (end - start);
  }
  return m;
}

/**
 * adaptiveAvgPool2d(x, outputSize): `GlobalAveragePool` for [1, 1]; otherwise, any sizes, two
 * MatMuls with constant averaging matrices (each output cell's window is a rectangle, so the 2-D
 * average is the product of the per-axis ones): A_h [outH, H] @ x @ A_w^T [W, outW]. Needs static H and W.
 */
export function lowerAdaptiveAvgPool2d(ctx: LoweringContext, input: OnnxValue, outputSize: Pair): OnnxValue {
  const [outH, outW] = pair(outputSize, [1, 1]);
  return onImages(ctx, input, (x) => {
    const [n, c, h, w] = x.shape;
    if (outH === 1 && outW === 1) return ctx.node('GlobalAveragePool', [x], [n!, c!, 1, 1]);
    if (typeof h !== 'number' || typeof w !== 'number') throw ctx.unsupported('static H and W for adaptive pooling to a size other than 1 x 1', `[${x.shape.join(', ')}]`);
    const colsT = new Float32Array(w * outW);
    const cols = adaptiveMatrix(w, outW);
    for (let o = 0; o < outW; o++) for (let i = 0; i < w; i++) colsT[i * outW + o] = cols[o * w + i]!;
    const pooledW = ctx.node('MatMul', [x, ctx.constant(colsT, [w, outW], { name: 'adaptive_cols' })], [n!, c!, h, outW]);
    return ctx.node('MatMul', [ctx.constant(adaptiveMatrix(h, outH), [outH, h], { name: 'adaptive_rows' }), pooledW], [n!, c!, outH, outW]);
  });
}

/** MaxPool2d: `MaxPool` with its kernel, strides, pads and dilations (floor mode). */
export const maxPool2dLowering = defineLowering({
  loweringVersion: 'v1',
  module: MaxPool2d,
  lower: (m, [x], ctx) => lowerMaxPool2d(ctx, x!, m.kernelSize, { stride: m.stride, padding: m.padding, dilation: m.dilation }),
});

/** AvgPool2d: `AveragePool` with count_include_pad as the module's countIncludePad. */
export const avgPool2dLowering = defineLowering({
  loweringVersion: 'v1',
  module: AvgPool2d,
  lower: (m, [x], ctx) => lowerAvgPool2d(ctx, x!, m.kernelSize, { stride: m.stride, padding: m.padding, countIncludePad: m.countIncludePad }),
});

/** AdaptiveAvgPool2d: `GlobalAveragePool` for 1 x 1, two averaging MatMuls otherwise (static H and W). */
export const adaptiveAvgPool2dLowering = defineLowering({
  loweringVersion: 'v1',
  module: AdaptiveAvgPool2d,
  lower: (m, [x], ctx) => lowerAdaptiveAvgPool2d(ctx, x!, m.outputSize),
});
