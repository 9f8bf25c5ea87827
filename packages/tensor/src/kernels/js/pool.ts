import type {
  MaxPool2dArgs, MaxPool2dBackwardArgs, ResizeArgs, ResizeBackwardArgs, WindowAverageArgs, WindowAverageBackwardArgs,
} from '../types';

// Pooling and resizing loops of the `js` backend, over `planes` independent [height, width] planes.
// Gradients accumulate in gradX's own dtype (PyTorch's CPU kernels add in float for float32 too).

/**
 * y = max over the window's in-bounds taps; argmax = the flat input index of the first maximum in
 * row-major window order, a NaN taking over (so NaNs propagate), -1 for a window with no in-bounds tap.
 */
export function maxPool2dForward(args: MaxPool2dArgs): void {
  const { x, out, argmax, planes, height, width, outH, outW, window } = args;
  const { kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW } = window;
  const inPlane = height * width;
  const outPlane = outH * outW;
  for (let p = 0; p < planes; p++) {
    const base = p * inPlane;
    for (let oh = 0; oh < outH; oh++) {
      const hStart = oh * strideH - padH;
      for (let ow = 0; ow < outW; ow++) {
        const wStart = ow * strideW - padW;
        let best = -Infinity;
        let bestIndex = -1;
        for (let i = 0; i < kernelH; i++) {
          const ih = hStart + i * dilationH;
          if (ih < 0 || ih >= height) continue;
          for (let j = 0; j < kernelW; j++) {
            const iw = wStart + j * dilationW;
            if (iw < 0 || iw >= width) continue;
            const index = base + ih * width + iw;
            const value = x[index]!;
            if (bestIndex < 0) bestIndex = index;
            if (value > best || Number.isNaN(value)) {
              best = value;
              bestIndex = index;
            }
          }
        }
        out[p * outPlane + oh * outW + ow] = best;
        argmax[p * outPlane + oh * outW + ow] = bestIndex;
      }
    }
  }
}

/** gradX[argmax[o]] += gradOutput[o] (gradX zeroed by the caller). */
export function maxPool2dBackward(args: MaxPool2dBackwardArgs): void {
  const { gradOutput, argmax, gradX } = args;
  for (let o = 0; o < argmax.length; o++) {
    const index = argmax[o]!;
    if (index >= 0) gradX[index]! += gradOutput[o]!;
  }
}

/** y[p, oh, ow] = sum of x over rows [rowStart, rowEnd) x columns [colStart, colEnd), divided by divisor[oh * outW + ow]. */
export function windowAverageForward(args: WindowAverageArgs): void {
  const { x, out, planes, height, width, rowStart, rowEnd, colStart, colEnd, divisor } = args;
  const outH = rowStart.length;
  const outW = colStart.length;
  const inPlane = height * width;
  const outPlane = outH * outW;
  for (let p = 0; p < planes; p++) {
    const base = p * inPlane;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = rowStart[oh]!;
      const h1 = rowEnd[oh]!;
      for (let ow = 0; ow < outW; ow++) {
        const w0 = colStart[ow]!;
        const w1 = colEnd[ow]!;
        let total = 0;
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * width;
          for (let iw = w0; iw < w1; iw++) total += x[row + iw]!;
        }
        out[p * outPlane + oh * outW + ow] = total / divisor[oh * outW + ow]!;
      }
    }
  }
}

/** Spreads each output gradient, divided by its divisor, over its window (gradX zeroed by the caller). */
export function windowAverageBackward(args: WindowAverageBackwardArgs): void {
  const { gradOutput, gradX, planes, height, width, rowStart, rowEnd, colStart, colEnd, divisor } = args;
  const outH = rowStart.length;
  const outW = colStart.length;
  const inPlane = height * width;
  const outPlane = outH * outW;
  for (let p = 0; p < planes; p++) {
    const base = p * inPlane;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = rowStart[oh]!;
      const h1 = rowEnd[oh]!;
      for (let ow = 0; ow < outW; ow++) {
        const share = gradOutput[p * outPlane + oh * outW + ow]! / divisor[oh * outW + ow]!;
        const w0 = colStart[ow]!;
        const w1 = colEnd[ow]!;
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * width;
          for (let iw = w0; iw < w1; iw++) gradX[row + iw]! += share;
        }
      }
    }
  }
}

/**
 * Nearest (`rows.lambda` empty) or bilinear resize: y[oh, ow] from x at rows index0/index1 and
 * columns index0/index1 with weights lambda, (1 - a)((1 - b) x00 + b x01) + a((1 - b) x10 + b x11).
 */
export function resizeForward(args: ResizeArgs): void {
  const { x, out, planes, inH, inW, rows, cols, bilinear } = args;
  const outH = rows.index0.length;
  const outW = cols.index0.length;
  const inPlane = inH * inW;
  const outPlane = outH * outW;
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < outH; oh++) {
      const row0 = p * inPlane + rows.index0[oh]! * inW;
      const outRow = p * outPlane + oh * outW;
      if (!bilinear) {
        for (let ow = 0; ow < outW; ow++) out[outRow + ow] = x[row0 + cols.index0[ow]!]!;
        continue;
      }
      const a = rows.lambda[oh]!;
      const row1 = p * inPlane + rows.index1[oh]! * inW;
      for (let ow = 0; ow < outW; ow++) {
        const b = cols.lambda[ow]!;
        const w0 = cols.index0[ow]!;
        const w1 = cols.index1[ow]!;
        const top = (1 - b) * x[row0 + w0]! + b * x[row0 + w1]!;
        const bottom = (1 - b) * x[row1 + w0]! + b * x[row1 + w1]!;
        out[outRow + ow] = (1 - a) * top + a * bottom;
      }
    }
  }
}

/** Scatters each output gradient back with the forward's indices and weights (gradX zeroed by the caller). */
export function resizeBackward(args: ResizeBackwardArgs): void {
  const { gradOutput, gradX, planes, inH, inW, rows, cols, bilinear } = args;
  const outH = rows.index0.length;
  const outW = cols.index0.length;
  const inPlane = inH * inW;
  const outPlane = outH * outW;
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < outH; oh++) {
      const row0 = p * inPlane + rows.index0[oh]! * inW;
      const outRow = p * outPlane + oh * outW;
      if (!bilinear) {
        for (let ow = 0; ow < outW; ow++) gradX[row0 + cols.index0[ow]!]! += gradOutput[outRow + ow]!;
        continue;
      }
      const a = rows.lambda[oh]!;
      const row1 = p * inPlane + rows.index1[oh]! * inW;
      for (let ow = 0; ow < outW; ow++) {
        const b = cols.lambda[ow]!;
        const w0 = cols.index0[ow]!;
        const w1 = cols.index1[ow]!;
        const go = gradOutput[outRow + ow]!;
        gradX[row0 + w0]! += (1 - a) * (1 - b) * go;
        gradX[row0 + w1]! += (1 - a) * b * go;
        gradX[row1 + w0]! += a * (1 - b) * go;
        gradX[row1 + w1]! += a * b * go;
      }
    }
  }
}
