import { customOp } from '../autograd';
import { allocate, allocateForOverwrite } from '../dtype';
import { activeKernels } from '../kernels/backend';
import { OptionError, ShapeError, formatShape } from '../errors';
import { checkTensor, type Tensor } from '../tensor';
import { checkImageRank, checkOutputSize, resolvePair, slidingOutputSize, type Pair, type Window2d } from './spatial';

export interface AvgPool2dOptions {
  /** Step between windows; defaults to the kernel size (non-overlapping windows). */
  stride?: Pair;
  /** Implicit zeros on both sides, at most half the kernel; default 0. */
  padding?: Pair;
  /** Whether padded zeros count in the divisor (PyTorch's `count_include_pad`); default true. */
  countIncludePad?: boolean;
}

export interface MaxPool2dOptions {
  /** Step between windows; defaults to the kernel size. */
  stride?: Pair;
  /** Implicit -infinity on both sides, at most half the kernel; default 0. */
  padding?: Pair;
  /** Spacing between window taps; default 1. */
  dilation?: Pair;
}

/** The [planes, H, W] view every pooling op works on: leading dims ([N, C] or [C]) are independent planes. */
interface Planes {
  planes: number;
  height: number;
  width: number;
  leading: number[];
}

function planesOf(op: string, x: Tensor): Planes {
  checkImageRank(op, x, true);
  const leading = x.shape.slice(0, -2);
  return { planes: leading.reduce((p, d) => p * d, 1), height: x.shape[x.ndim - 2]!, width: x.shape[x.ndim - 1]!, leading };
}

function resolveWindow(op: string, kernelSize: Pair, options: { stride?: Pair; padding?: Pair; dilation?: Pair }): Window2d {
  const [kernelH, kernelW] = resolvePair(op, 'kernelSize', kernelSize, [1, 1], 1);
  const [strideH, strideW] = resolvePair(op, 'stride', options.stride, [kernelH, kernelW], 1);
  const [padH, padW] = resolvePair(op, 'padding', options.padding, [0, 0], 0);
  const [dilationH, dilationW] = resolvePair(op, 'dilation', options.dilation, [1, 1], 1);
  // PyTorch's rule: a window must never lie entirely in the padding.
  if (2 * padH > kernelH || 2 * padW > kernelW) {
    throw new OptionError({
      op,
      expected: `padding at most half the kernel size [${kernelH}, ${kernelW}]`,
      given: `padding [${padH}, ${padW}]`,
    });
  }
  return { kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW };
}

/**
 * 2-D average pooling (`torch.nn.functional.avg_pool2d`, floor mode) of [N, C, H, W] or [C, H, W]:
 *
 *   y[., oh, ow] = sum_{window} x / divisor,  window rows [oh * sH - pH, oh * sH - pH + kH) ∩ [0, H) (likewise columns)
 *
 * where the divisor is kH * kW with `countIncludePad` (padded zeros count, PyTorch's default)
 * and the number of in-bounds elements without it. ONE autograd node: the backward spreads
 * each output gradient evenly (divided by the same divisor) over its window.
 *
 * @example
 * avgPool2d(x, 2);                                          // halves H and W
 * avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false });
 */
export function avgPool2d(x: Tensor, kernelSize: Pair, options: AvgPool2dOptions = {}): Tensor {
  checkTensor('avgPool2d', x, 'x');
  const op = 'avgPool2d';
  const { planes, height, width, leading } = planesOf(op, x);
  const window = resolveWindow(op, kernelSize, options);
  const countIncludePad = options.countIncludePad ?? true;
  const outH = slidingOutputSize(height, window.kernelH, window.strideH, window.padH, 1);
  const outW = slidingOutputSize(width, window.kernelW, window.strideW, window.padW, 1);
  checkOutputSize(op, x, outH, outW, window);
  const rows = windowRanges(outH, height, window.kernelH, window.strideH, window.padH);
  const cols = windowRanges(outW, width, window.kernelW, window.strideW, window.padW);
  // Windows are rectangles, so each divisor is a product of a row factor and a column factor.
  const divisor = new Float64Array(outH * outW);
  for (let oh = 0; oh < outH; oh++) {
    for (let ow = 0; ow < outW; ow++) {
      divisor[oh * outW + ow] = countIncludePad ? rows.padded[oh]! * cols.padded[ow]! : (rows.end[oh]! - rows.start[oh]!) * (cols.end[ow]! - cols.start[ow]!);
    }
  }
  return windowAverage(op, x, { planes, height, width, leading }, rows, cols, divisor);
}

/**
 * Sums over rectangular windows [start, end) of rows x columns, divided per output cell by
 * `divisor`: the forward and backward shared by avgPool2d and adaptiveAvgPool2d, ONE node. The
 * backward spreads each output gradient, divided by the same divisor, over its window.
 */
function windowAverage(
  op: string, x: Tensor, view: Planes,
  rows: { start: Int32Array; end: Int32Array }, cols: { start: Int32Array; end: Int32Array }, divisor: Float64Array,
): Tensor {
  const { planes, height, width, leading } = view;
  const geometry = { planes, height, width, rowStart: rows.start, rowEnd: rows.end, colStart: cols.start, colEnd: cols.end, divisor };
  const data = allocateForOverwrite(x.dtype, planes * rows.start.length * cols.start.length);
  activeKernels().windowAverageForward({ ...geometry, x: x.data, out: data });
  return customOp({
    op,
    inputs: [x],
    data,
    shape: [...leading, rows.start.length, cols.start.length],
    backward: (gradOutput) => {
      const gradX = allocate(x.dtype, x.size);
      activeKernels().windowAverageBackward({ ...geometry, gradOutput, gradX });
      return [gradX];
    },
  });
}

/**
 * Clipped window bounds along one axis, as PyTorch's avg_pool2d computes them: `padded` is the
 * window length clipped to the padded input (the count_include_pad divisor factor), and
 * [start, end) the in-bounds part.
 */
function windowRanges(out: number, size: number, kernel: number, stride: number, pad: number): { start: Int32Array; end: Int32Array; padded: Int32Array } {
  const start = new Int32Array(out);
  const end = new Int32Array(out);
  const padded = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    const first = o * stride - pad;
    const last = Math.min(first + kernel, size + pad);
    padded[o] = last - first;
    start[o] = Math.max(first, 0);
    end[o] = Math.min(last, size);
  }
  return { start, end, padded };
}

/**
 * 2-D max pooling (`torch.nn.functional.max_pool2d`, floor mode) of [N, C, H, W] or [C, H, W]:
 *
 *   y[., oh, ow] = max over x[., oh * sH - pH + i * dH, ow * sW - pW + j * dW] for in-bounds taps
 *
 * Padding is -infinity (it never wins). ONE autograd node: each output gradient goes to the
 * position of its maximum, the first one in row-major window order on ties (like PyTorch's
 * CPU kernel, which also lets a NaN win so NaNs propagate).
 *
 * @example
 * maxPool2d(x, 2);                         // [N, C, H, W] -> [N, C, H/2, W/2]
 * maxPool2d(x, 3, { stride: 2, padding: 1 });
 */
export function maxPool2d(x: Tensor, kernelSize: Pair, options: MaxPool2dOptions = {}): Tensor {
  checkTensor('maxPool2d', x, 'x');
  const op = 'maxPool2d';
  const { planes, height, width, leading } = planesOf(op, x);
  const window = resolveWindow(op, kernelSize, options);
  const outH = slidingOutputSize(height, window.kernelH, window.strideH, window.padH, window.dilationH);
  const outW = slidingOutputSize(width, window.kernelW, window.strideW, window.padW, window.dilationW);
  checkOutputSize(op, x, outH, outW, window);
  const data = allocateForOverwrite(x.dtype, planes * outH * outW);
  // Flat input index of each output's maximum (-1 when the window has no in-bounds tap).
  const argmax = new Int32Array(planes * outH * outW);
  activeKernels().maxPool2dForward({ x: x.data, out: data, argmax, planes, height, width, outH, outW, window });
  return customOp({
    op,
    inputs: [x],
    data,
    shape: [...leading, outH, outW],
    backward: (gradOutput) => {
      const gradX = allocate(x.dtype, x.size);
      activeKernels().maxPool2dBackward({ gradOutput, argmax, gradX });
      return [gradX];
    },
  });
}

/**
 * 2-D adaptive average pooling (`torch.nn.functional.adaptive_avg_pool2d`): output cell
 * (oh, ow) averages input rows [floor(oh * H / outH), ceil((oh + 1) * H / outH)) and the
 * matching columns, so any output size works; `[1, 1]` is global average pooling and a size
 * dividing the input gives non-overlapping equal windows. ONE autograd node.
 *
 * @example
 * adaptiveAvgPool2d(features, [1, 1]); // [N, C, H, W] -> [N, C, 1, 1]
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  checkTensor('adaptiveAvgPool2d', x, 'x');
  const op = 'adaptiveAvgPool2d';
  const { planes, height, width, leading } = planesOf(op, x);
  const [outH, outW] = resolvePair(op, 'outputSize', outputSize, [1, 1], 1);
  if (height === 0 || width === 0) {
    throw new ShapeError({ op, expected: 'an input with non-empty spatial dims', given: formatShape(x.shape) });
  }
  const rows = adaptiveRanges(outH, height);
  const cols = adaptiveRanges(outW, width);
  const divisor = new Float64Array(outH * outW);
  for (let oh = 0; oh < outH; oh++) {
    for (let ow = 0; ow < outW; ow++) divisor[oh * outW + ow] = (rows.end[oh]! - rows.start[oh]!) * (cols.end[ow]! - cols.start[ow]!);
  }
  return windowAverage(op, x, { planes, height, width, leading }, rows, cols, divisor);
}

/** PyTorch's adaptive window bounds: start = floor(o * size / out), end = ceil((o + 1) * size / out). */
function adaptiveRanges(out: number, size: number): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(out);
  const end = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    start[o] = Math.floor((o * size) / out);
    end[o] = Math.ceil(((o + 1) * size) / out);
  }
  return { start, end };
}
