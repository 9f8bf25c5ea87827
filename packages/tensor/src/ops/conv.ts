import { customOp } from '../autograd';
import { allocate, allocateForOverwrite, promoteDTypes, type DType, type TypedArray } from '../dtype';
import { OptionError, ShapeError, checkNumberOption, formatShape } from '../errors';
import { checkTensor, type Tensor } from '../tensor';
import { activeKernels } from '../kernels/backend';
import type { ConvGeometryArgs } from '../kernels/types';
import { sumOver } from './reduce';
import { checkImageRank, checkOutputSize, resolvePair, slidingOutputSize, type Pair, type Window2d } from './spatial';

export interface Conv2dOptions {
  /** Step between window positions; default 1. */
  stride?: Pair;
  /** Implicit zeros added on both sides of each spatial axis; default 0. */
  padding?: Pair;
  /** Spacing between kernel taps ("atrous"); default 1. */
  dilation?: Pair;
  /** Channels are split into `groups` independent convolutions; default 1 (`groups = C` is depthwise). */
  groups?: number;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns added on the bottom/right of the output to pick among the sizes a strided conv maps to one size. */
  outputPadding?: Pair;
}

/** The data in the op's dtype, copied only when it differs (a float32 input of a float64 convolution). */
function inDType(data: TypedArray, dtype: DType): TypedArray {
  if (dtype === 'float64') return data instanceof Float64Array ? data : new Float64Array(data);
  return data;
}

interface ConvGeometry {
  window: Window2d;
  groups: number;
}

function resolveGeometry(op: string, options: Conv2dOptions, kernelH: number, kernelW: number): ConvGeometry {
  const [strideH, strideW] = resolvePair(op, 'stride', options.stride, [1, 1], 1);
  const [padH, padW] = resolvePair(op, 'padding', options.padding, [0, 0], 0);
  const [dilationH, dilationW] = resolvePair(op, 'dilation', options.dilation, [1, 1], 1);
  const groups = checkNumberOption(op, 'groups', options.groups ?? 1, { min: 1, integer: true });
  return { window: { kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW }, groups };
}

function checkDivisible(op: string, what: string, count: number, groups: number): void {
  if (count % groups !== 0) {
    throw new ShapeError({ op, expected: `${what} divisible by groups (${groups})`, given: `${what} = ${count}` });
  }
}

function checkBias(op: string, bias: Tensor | null, outChannels: number): void {
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== outChannels)) {
    throw new ShapeError({ op, expected: `a bias of shape [${outChannels}] (one per output channel) or null`, given: formatShape(bias.shape) });
  }
}

/** out[n, c, :] += bias[c]. */
function addBias(out: TypedArray, bias: Tensor, batch: number, channels: number, plane: number): void {
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const b = bias.data[c]!;
      const base = (n * channels + c) * plane;
      for (let p = 0; p < plane; p++) out[base + p]! += b;
    }
  }
}

/** Sum of the output gradient over batch and space, per channel: the bias gradient. */
function biasGradient(g: TypedArray, batch: number, channels: number, plane: number): Float64Array {
  return sumOver(g, [batch, channels, plane], [true, false, true]);
}

/**
 * 2-D convolution (cross-correlation, as in `torch.nn.functional.conv2d`) of an NCHW input:
 *
 *   y[n, o, h, w] = bias[o] + sum_{c, i, j} weight[o, c, i, j] * x[n, g * Cin/groups + c, h * sH - pH + i * dH, w * sW - pW + j * dW]
 *
 * where `g = floor(o / (Cout / groups))` and out-of-range input positions read 0. Shapes:
 * x [N, Cin, H, W], weight [Cout, Cin / groups, kH, kW], bias [Cout] or null, output
 * [N, Cout, floor((H + 2pH - dH(kH - 1) - 1) / sH) + 1, (likewise for W)].
 *
 * ONE autograd node. Each sample is unfolded once (im2col, into a reused buffer of the op's dtype)
 * and multiplied by the weight with the kernel table's `gemm`; the backward unfolds again (cheaper
 * than keeping N unfoldings alive) for dW = dY col^T and folds dcol = W^T dY back with col2im for dx.
 * Products accumulate in float64 registers on the `js` backend and in float32 (an sgemm, like
 * PyTorch's) on `wasm`; buffers between products are in the op's dtype.
 *
 * @example
 * const y = conv2d(randn([8, 3, 32, 32]), randn([16, 3, 3, 3]), zeros([16]), { padding: 1 }); // [8, 16, 32, 32]
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions = {}): Tensor {
  checkTensor('conv2d', x, 'x');
  checkTensor('conv2d', weight, 'weight');
  if (bias !== null) checkTensor('conv2d', bias, 'bias');
  const op = 'conv2d';
  checkImageRank(op, x, false);
  if (weight.ndim !== 4) {
    throw new ShapeError({ op, expected: 'a weight of shape [Cout, Cin / groups, kH, kW] (rank 4)', given: formatShape(weight.shape) });
  }
  const [batch, inChannels, height, width] = x.shape as [number, number, number, number];
  const [outChannels, groupInChannels, kernelH, kernelW] = weight.shape as [number, number, number, number];
  const { window, groups } = resolveGeometry(op, options, kernelH, kernelW);
  checkDivisible(op, 'input channels', inChannels, groups);
  checkDivisible(op, 'output channels (weight.shape[0])', outChannels, groups);
  if (groupInChannels * groups !== inChannels) {
    throw new ShapeError({
      op,
      expected: `weight.shape[1] * groups to equal the input channels (${inChannels})`,
      given: `weight ${formatShape(weight.shape)} with groups = ${groups} for input ${formatShape(x.shape)}`,
    });
  }
  checkBias(op, bias, outChannels);
  const outH = slidingOutputSize(height, kernelH, window.strideH, window.padH, window.dilationH);
  const outW = slidingOutputSize(width, kernelW, window.strideW, window.padW, window.dilationW);
  checkOutputSize(op, x, outH, outW, window);

  const plane = outH * outW;
  const dtype = promoteDTypes(x.dtype, weight.dtype, bias?.dtype ?? x.dtype);
  const data = allocateForOverwrite(dtype, batch * outChannels * plane);
  const geometry: ConvGeometryArgs = { batch, inChannels, height, width, outChannels, groups, window, outH, outW };
  const xs = inDType(x.data, dtype);
  const ws = inDType(weight.data, dtype);
  activeKernels().conv2dForward({ ...geometry, x: xs, weight: ws, bias: bias === null ? null : inDType(bias.data, dtype), out: data });

  return customOp({
    op,
    inputs: { x, weight, bias },
    data,
    shape: [batch, outChannels, outH, outW],
    backward: (gradOutput) => {
      const gx = x.requiresGrad ? allocate(dtype, x.size) : null;
      const gw = weight.requiresGrad ? allocate(dtype, weight.size) : null;
      if (gx !== null || gw !== null) {
        activeKernels().conv2dBackward({ ...geometry, gradOutput: inDType(gradOutput, dtype), x: xs, weight: ws, gradX: gx, gradWeight: gw });
      }
      const gb = bias?.requiresGrad ? biasGradient(gradOutput, batch, outChannels, plane) : null;
      return { x: gx, weight: gw, bias: gb };
    },
  });
}

/**
 * 2-D transposed convolution (`torch.nn.functional.conv_transpose2d`): the adjoint of `conv2d`
 * with respect to its input, plus a bias. Every input pixel scatters a kernel-weighted copy into
 * the output:
 *
 *   y[n, g * Cout/groups + o, h * sH - pH + i * dH, w * sW - pW + j * dW] += x[n, g * Cin/groups + c, h, w] * weight[g * Cin/groups + c, o, i, j]
 *
 * Shapes: x [N, Cin, H, W], weight [Cin, Cout / groups, kH, kW] (PyTorch's layout), bias [Cout]
 * or null; output size per axis `(H - 1) * sH - 2pH + dH (kH - 1) + outputPadding + 1`.
 * `conv2d(y, weight, null, same options)` maps that output size back to [H, W], and
 * <conv2d(u, W), v> = <u, convTranspose2d(v, W)> exactly (the tests check it).
 *
 * ONE autograd node on the kernel table's conv2d kernels: the forward is the input gradient of the
 * convolution it mirrors, the backward that convolution's forward (dx) and weight gradient (dW).
 *
 * @example
 * const up = convTranspose2d(randn([1, 16, 8, 8]), randn([16, 8, 4, 4]), null, { stride: 2, padding: 1 }); // [1, 8, 16, 16]
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null, options: ConvTranspose2dOptions = {}): Tensor {
  checkTensor('convTranspose2d', x, 'x');
  checkTensor('convTranspose2d', weight, 'weight');
  if (bias !== null) checkTensor('convTranspose2d', bias, 'bias');
  const op = 'convTranspose2d';
  checkImageRank(op, x, false);
  if (weight.ndim !== 4) {
    throw new ShapeError({ op, expected: 'a weight of shape [Cin, Cout / groups, kH, kW] (rank 4)', given: formatShape(weight.shape) });
  }
  const [batch, inChannels, height, width] = x.shape as [number, number, number, number];
  const [weightInChannels, groupOutChannels, kernelH, kernelW] = weight.shape as [number, number, number, number];
  const { window, groups } = resolveGeometry(op, options, kernelH, kernelW);
  const [outPadH, outPadW] = resolvePair(op, 'outputPadding', options.outputPadding, [0, 0], 0);
  if (weightInChannels !== inChannels) {
    throw new ShapeError({
      op,
      expected: `weight.shape[0] to equal the input channels (${inChannels})`,
      given: `weight ${formatShape(weight.shape)} for input ${formatShape(x.shape)}`,
    });
  }
  checkDivisible(op, 'input channels', inChannels, groups);
  for (const [name, pad, stride, dilation] of [
    ['outputPadding[0]', outPadH, window.strideH, window.dilationH],
    ['outputPadding[1]', outPadW, window.strideW, window.dilationW],
  ] as const) {
    if (pad >= stride && pad >= dilation) {
      throw new OptionError({ op, expected: `${name} smaller than the stride (${stride}) or the dilation (${dilation})`, given: `${name} = ${pad}` });
    }
  }
  const outChannels = groupOutChannels * groups;
  checkBias(op, bias, outChannels);
  const outH = (height - 1) * window.strideH - 2 * window.padH + window.dilationH * (kernelH - 1) + outPadH + 1;
  const outW = (width - 1) * window.strideW - 2 * window.padW + window.dilationW * (kernelW - 1) + outPadW + 1;
  checkOutputSize(op, x, outH, outW, window, 'an output size (H - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1 >= 1');

  const plane = outH * outW;
  const dtype = promoteDTypes(x.dtype, weight.dtype, bias?.dtype ?? x.dtype);
  // The transposed convolution is the input gradient of the convolution it mirrors (input [N, Cout,
  // outH, outW], output [N, Cin, H, W], the same weight), so both directions run on the kernel
  // table's conv2d kernels, on either backend, threads included.
  const mirror: ConvGeometryArgs = { batch, inChannels: outChannels, height: outH, width: outW, outChannels: inChannels, groups, window, outH: height, outW: width };
  const xs = inDType(x.data, dtype);
  const ws = inDType(weight.data, dtype);
  const data = allocateForOverwrite(dtype, batch * outChannels * plane);
  activeKernels().conv2dBackward({ ...mirror, gradOutput: xs, x: null, weight: ws, gradX: data, gradWeight: null });
  if (bias !== null) addBias(data, bias, batch, outChannels, plane);

  return customOp({
    op,
    inputs: { x, weight, bias },
    data,
    shape: [batch, outChannels, outH, outW],
    backward: (gradOutput) => {
      const g = inDType(gradOutput, dtype);
      // dx = conv2d(dY, W) (the mirrored convolution's forward); dW = the mirrored convolution's weight gradient.
      const gx = x.requiresGrad ? allocate(dtype, x.size) : null;
      if (gx !== null) activeKernels().conv2dForward({ ...mirror, x: g, weight: ws, bias: null, out: gx });
      const gw = weight.requiresGrad ? allocate(dtype, weight.size) : null;
      if (gw !== null) activeKernels().conv2dBackward({ ...mirror, gradOutput: xs, x: g, weight: ws, gradX: null, gradWeight: gw });
      const gb = bias?.requiresGrad ? biasGradient(gradOutput, batch, outChannels, plane) : null;
      return { x: gx, weight: gw, bias: gb };
    },
  });
}
