import { customOp } from '../autograd';
import { allocate, allocateForOverwrite } from '../dtype';
import { activeKernels } from '../kernels/backend';
import { OptionError, ShapeError, checkNumberOption, formatShape } from '../errors';
import { checkTensor, type Tensor } from '../tensor';
import type { ResizeAxis } from '../kernels/types';
import { checkOptionKeys } from '../plugin/options';
import { checkImageRank, resolvePair } from './spatial';

export type InterpolateMode = 'nearest' | 'bilinear';

/** The target of `interpolate`: an explicit output size, or a scale factor (one for both axes, or per axis). */
export type InterpolateTarget = { size: number | readonly [number, number] } | { scaleFactor: number | readonly [number, number] };

/**
 * Source indices (and for bilinear, weights) of every output position along one axis.
 * For nearest, `lambda` is unused and `index0 = index1`.
 */
type AxisMap = ResizeAxis;

/**
 * PyTorch's nearest source index (`nearest_idx` in UpSample.h): identity and exact 2x upsampling are
 * special-cased, otherwise floor(dst * scale) with scale = 1 / scaleFactor when a factor was given
 * and in / out otherwise, computed in float32 as PyTorch does (it decides ties like 6 * (1 / 1.5)).
 */
function nearestAxis(inSize: number, outSize: number, scaleFactor: number | undefined): AxisMap {
  const index = new Int32Array(outSize);
  const scale = Math.fround(scaleFactor !== undefined && scaleFactor > 0 ? 1 / scaleFactor : inSize / outSize);
  for (let dst = 0; dst < outSize; dst++) {
    if (outSize === inSize) index[dst] = dst;
    else if (outSize === 2 * inSize) index[dst] = dst >> 1;
    else index[dst] = Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
  }
  return { index0: index, index1: index, lambda: new Float64Array(0) };
}

/**
 * PyTorch's linear source index (`area_pixel_compute_source_index`): with alignCorners the corner
 * pixels' centres line up, src = dst * (in - 1) / (out - 1); without, pixel areas line up,
 * src = (dst + 0.5) * scale - 0.5 clamped below at 0, scale = 1 / scaleFactor or in / out.
 * index0 = floor(src) (capped at in - 1), index1 = the next pixel (or index0 at the edge).
 */
function linearAxis(inSize: number, outSize: number, alignCorners: boolean, scaleFactor: number | undefined): AxisMap {
  const index0 = new Int32Array(outSize);
  const index1 = new Int32Array(outSize);
  const lambda = new Float64Array(outSize);
  let scale: number;
  if (alignCorners) scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  else scale = scaleFactor !== undefined && scaleFactor > 0 ? 1 / scaleFactor : inSize / outSize;
  for (let dst = 0; dst < outSize; dst++) {
    let src = alignCorners ? scale * dst : scale * (dst + 0.5) - 0.5;
    if (src < 0) src = 0;
    const i0 = Math.min(Math.floor(src), inSize - 1);
    index0[dst] = i0;
    index1[dst] = i0 < inSize - 1 ? i0 + 1 : i0;
    lambda[dst] = Math.min(Math.max(src - i0, 0), 1);
  }
  return { index0, index1, lambda };
}

/**
 * Resizes the spatial dims of an NCHW tensor (`torch.nn.functional.interpolate` for 4-D input,
 * same output sizes and source indices):
 *
 * - `nearest`:  y[oh, ow] = x[floor(oh * scaleH), floor(ow * scaleW)], scale = in / out (or
 *   1 / scaleFactor when given);
 * - `bilinear`: y = (1 - a)(1 - b) x[h0, w0] + (1 - a) b x[h0, w1] + a (1 - b) x[h1, w0] + a b x[h1, w1]
 *   at the source position src = (dst + 0.5) * scale - 0.5 (clamped at 0), or
 *   src = dst * (in - 1) / (out - 1) with `alignCorners`.
 *
 * With `scaleFactor` the output size is floor(in * scaleFactor) and, as in PyTorch (without
 * `recompute_scale_factor`), the factor itself sets the source positions. ONE autograd node:
 * the backward scatters each output gradient back with the same indices and weights.
 *
 * @example
 * interpolate(x, { scaleFactor: 2 });                         // nearest, [N, C, 2H, 2W]
 * interpolate(x, { size: [64, 48] }, 'bilinear', true);
 */
export function interpolate(x: Tensor, target: InterpolateTarget, mode: InterpolateMode = 'nearest', alignCorners = false): Tensor {
  checkTensor('interpolate', x, 'x');
  const op = 'interpolate';
  checkImageRank(op, x, false);
  if (mode !== 'nearest' && mode !== 'bilinear') {
    throw new OptionError({ op, expected: "mode 'nearest' or 'bilinear'", given: `mode = ${JSON.stringify(mode)}` });
  }
  if (alignCorners && mode === 'nearest') {
    throw new OptionError({ op, expected: "alignCorners only with mode 'bilinear' (nearest has no corners to align)", given: 'alignCorners = true' });
  }
  for (const [key, position] of [['mode', 'third'], ['alignCorners', 'fourth']] as const) {
    if (target !== null && typeof target === 'object' && key in target) {
      throw new OptionError(
        { op, expected: 'a target of size or scaleFactor only', given: `${key} inside the target` },
        `${key} is interpolate's ${position} argument: interpolate(x, { scaleFactor: 2 }, 'bilinear', false).`,
      );
    }
  }
  checkOptionKeys(op, target, ['size', 'scaleFactor']);
  const [batch, channels, inH, inW] = x.shape as [number, number, number, number];
  const hasSize = 'size' in target && target.size !== undefined;
  const hasScale = 'scaleFactor' in target && target.scaleFactor !== undefined;
  if (hasSize === hasScale) {
    throw new OptionError({ op, expected: 'exactly one of size or scaleFactor', given: hasSize ? 'both' : 'neither' });
  }
  let outH: number;
  let outW: number;
  let scaleH: number | undefined;
  let scaleW: number | undefined;
  if ('size' in target) {
    [outH, outW] = resolvePair(op, 'size', target.size, [1, 1], 1);
  } else {
    const factor = target.scaleFactor;
    const pair = typeof factor === 'number' ? [factor, factor] : factor;
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new OptionError({ op, expected: 'scaleFactor to be a number or a [height, width] pair', given: `scaleFactor = ${JSON.stringify(factor)}` });
    }
    scaleH = checkNumberOption(op, 'scaleFactor', pair[0], { min: 0, minExclusive: true });
    scaleW = checkNumberOption(op, 'scaleFactor', pair[1], { min: 0, minExclusive: true });
    outH = Math.floor(inH * scaleH);
    outW = Math.floor(inW * scaleW);
  }
  if (outH < 1 || outW < 1 || inH < 1 || inW < 1) {
    throw new ShapeError({
      op,
      expected: 'non-empty input and output spatial sizes',
      given: `input ${formatShape(x.shape)} resized to [${outH}, ${outW}]`,
    });
  }
  const rows = mode === 'nearest' ? nearestAxis(inH, outH, scaleH) : linearAxis(inH, outH, alignCorners, scaleH);
  const cols = mode === 'nearest' ? nearestAxis(inW, outW, scaleW) : linearAxis(inW, outW, alignCorners, scaleW);
  const geometry = { planes: batch * channels, inH, inW, rows, cols, bilinear: mode === 'bilinear' };
  const data = allocateForOverwrite(x.dtype, batch * channels * outH * outW);
  activeKernels().resizeForward({ ...geometry, x: x.data, out: data });
  return customOp({
    op,
    inputs: [x],
    data,
    shape: [batch, channels, outH, outW],
    backward: (gradOutput) => {
      const gradX = allocate(x.dtype, x.size);
      activeKernels().resizeBackward({ ...geometry, gradOutput, gradX });
      return [gradX];
    },
  });
}
