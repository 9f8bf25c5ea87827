import type { TypedArray } from '../../dtype';
import type { Conv2dBackwardArgs, Conv2dForwardArgs, ConvWindow } from '../types';
import { gemmLoops } from './gemm';

// conv2d of the `js` backend, the reference: each sample unfolded once (im2col) into a float64 buffer
// and multiplied by the weight with the gemm loops, every product and sum in float64 (float32 data is
// widened once per call and the results rounded once); the backward unfolds again (cheaper than keeping
// N unfoldings alive) for dW = dY col^T and folds dcol = W^T dY back with col2im for dx.

function asFloat64(data: TypedArray): Float64Array {
  return data instanceof Float64Array ? data : new Float64Array(data);
}


/** y = bias + W (*) x per sample and group: Y_g [Cout/groups, plane] += W_g [Cout/groups, patch] @ col [patch, plane]. */
export function conv2dForward(args: Conv2dForwardArgs): void {
  const { bias, out, batch, inChannels, height, width, outChannels, groups, window, outH, outW } = args;
  const x = asFloat64(args.x);
  const weight = asFloat64(args.weight);
  const groupInChannels = inChannels / groups;
  const groupOutChannels = outChannels / groups;
  const patch = groupInChannels * window.kernelH * window.kernelW;
  const plane = outH * outW;
  const inPlane = height * width;
  const col = new Float64Array(patch * plane);
  const acc = new Float64Array(outChannels * plane);
  for (let n = 0; n < batch; n++) {
    if (bias !== null) for (let c = 0; c < outChannels; c++) acc.fill(bias[c]!, c * plane, (c + 1) * plane);
    else acc.fill(0);
    for (let g = 0; g < groups; g++) {
      im2col(x, (n * inChannels + g * groupInChannels) * inPlane, groupInChannels, height, width, window, outH, outW, col);
      gemmLoops(weight, g * groupOutChannels * patch, false, col, 0, false, acc, g * groupOutChannels * plane, groupOutChannels, patch, plane);
    }
    out.set(acc, n * outChannels * plane);
  }
}

/** dW_g += dY_g @ col^T; dcol = W_g^T @ dY_g folded into dx with col2im. gradX and gradWeight come zero-filled. */
export function conv2dBackward(args: Conv2dBackwardArgs): void {
  const { batch, inChannels, height, width, outChannels, groups, window, outH, outW } = args;
  const gradOutput = asFloat64(args.gradOutput);
  const x = args.x === null ? null : asFloat64(args.x);
  const weight = asFloat64(args.weight);
  const gradX = args.gradX === null ? null : new Float64Array(args.gradX.length);
  const gradWeight = args.gradWeight === null ? null : new Float64Array(args.gradWeight.length);
  const groupInChannels = inChannels / groups;
  const groupOutChannels = outChannels / groups;
  const patch = groupInChannels * window.kernelH * window.kernelW;
  const plane = outH * outW;
  const inPlane = height * width;
  const col = gradWeight === null ? null : new Float64Array(patch * plane);
  const gradCol = gradX === null ? null : new Float64Array(patch * plane);
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < groups; g++) {
      const gOffset = (n * outChannels + g * groupOutChannels) * plane;
      const xOffset = (n * inChannels + g * groupInChannels) * inPlane;
      const wOffset = g * groupOutChannels * patch;
      if (gradWeight !== null && col !== null && x !== null) {
        im2col(x, xOffset, groupInChannels, height, width, window, outH, outW, col);
        // dW_g [Cout/groups, patch] += dY_g [Cout/groups, plane] @ col^T [plane, patch]
        gemmLoops(gradOutput, gOffset, false, col, 0, true, gradWeight, wOffset, groupOutChannels, plane, patch);
      }
      if (gradX !== null && gradCol !== null) {
        // dcol [patch, plane] = W_g^T [patch, Cout/groups] @ dY_g [Cout/groups, plane], folded back into dx.
        gradCol.fill(0);
        gemmLoops(weight, wOffset, true, gradOutput, gOffset, false, gradCol, 0, patch, groupOutChannels, plane);
        col2im(gradCol, groupInChannels, height, width, window, outH, outW, gradX, xOffset);
      }
    }
  }
  if (gradX !== null) args.gradX!.set(gradX);
  if (gradWeight !== null) args.gradWeight!.set(gradWeight);
}

/**
 * Copies every receptive field of `channels` planes of an `imageH x imageW` image (from `src` at
 * `srcOffset`) into the columns of `col`, a [channels * kH * kW, gridH * gridW] matrix:
 *
 *   col[(c * kH + i) * kW + j, oh * gridW + ow] = image[c, oh * sH - pH + i * dH, ow * sW - pW + j * dW]  (0 outside)
 *
 * so a convolution becomes one matrix product. The valid column range of each kernel tap is
 * computed once per row, keeping the bounds checks out of the inner loop.
 */
export function im2col(
  src: TypedArray, srcOffset: number, channels: number, imageH: number, imageW: number,
  w: ConvWindow, gridH: number, gridW: number, col: TypedArray,
): void {
  const { kernelH, kernelW, strideH, strideW } = w;
  let colIndex = 0;
  for (let c = 0; c < channels; c++) {
    const plane = srcOffset + c * imageH * imageW;
    for (let i = 0; i < kernelH; i++) {
      const rowShift = i * w.dilationH - w.padH;
      for (let j = 0; j < kernelW; j++) {
        const colShift = j * w.dilationW - w.padW;
        const [owStart, owEnd] = validRange(colShift, strideW, imageW, gridW);
        for (let oh = 0; oh < gridH; oh++) {
          const ih = oh * strideH + rowShift;
          if (ih < 0 || ih >= imageH) {
            col.fill(0, colIndex, colIndex + gridW);
          } else {
            const rowBase = plane + ih * imageW + colShift;
            for (let ow = 0; ow < owStart; ow++) col[colIndex + ow] = 0;
            for (let ow = owStart; ow < owEnd; ow++) col[colIndex + ow] = src[rowBase + ow * strideW]!;
            for (let ow = owEnd; ow < gridW; ow++) col[colIndex + ow] = 0;
          }
          colIndex += gridW;
        }
      }
    }
  }
}

/** The adjoint of `im2col`: adds every column entry back into the image position it was read from. */
export function col2im(
  col: TypedArray, channels: number, imageH: number, imageW: number,
  w: ConvWindow, gridH: number, gridW: number, dst: TypedArray, dstOffset: number,
): void {
  const { kernelH, kernelW, strideH, strideW } = w;
  let colIndex = 0;
  for (let c = 0; c < channels; c++) {
    const plane = dstOffset + c * imageH * imageW;
    for (let i = 0; i < kernelH; i++) {
      const rowShift = i * w.dilationH - w.padH;
      for (let j = 0; j < kernelW; j++) {
        const colShift = j * w.dilationW - w.padW;
        const [owStart, owEnd] = validRange(colShift, strideW, imageW, gridW);
        for (let oh = 0; oh < gridH; oh++) {
          const ih = oh * strideH + rowShift;
          if (ih >= 0 && ih < imageH) {
            const rowBase = plane + ih * imageW + colShift;
            for (let ow = owStart; ow < owEnd; ow++) dst[rowBase + ow * strideW]! += col[colIndex + ow]!;
          }
          colIndex += gridW;
        }
      }
    }
  }
}

/** The grid columns `ow` in [start, end) with 0 <= ow * stride + shift < size. */
function validRange(shift: number, stride: number, size: number, grid: number): [number, number] {
  const start = shift >= 0 ? 0 : Math.min(grid, Math.ceil(-shift / stride));
  const last = size - 1 - shift;
  const end = last < 0 ? start : Math.max(start, Math.min(grid, Math.floor(last / stride) + 1));
  return [start, end];
}

