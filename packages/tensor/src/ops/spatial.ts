import type { ConvWindow } from '../kernels/types';
import { OptionError, ShapeError, checkNumberOption, formatShape } from '../errors';
import type { Tensor } from '../tensor';

/** A per-axis spatial option: one number for both axes, or `[height, width]` (like PyTorch's `_pair`). */
export type Pair = number | readonly [number, number];

/**
 * Resolves a `Pair` option to `[height, width]`, checking both entries are integers `>= min`.
 * Shared by the convolution, pooling and interpolation ops so their option errors read alike.
 */
export function resolvePair(op: string, name: string, value: Pair | undefined, fallback: readonly [number, number], min: number): [number, number] {
  if (value === undefined) return [fallback[0], fallback[1]];
  if (typeof value === 'number') {
    checkNumberOption(op, name, value, { min, integer: true });
    return [value, value];
  }
  if (!Array.isArray(value) || value.length !== 2) {
    throw new OptionError({ op, expected: `${name} to be a number or a [height, width] pair`, given: `${name} = ${JSON.stringify(value)}` });
  }
  checkNumberOption(op, `${name}[0]`, value[0], { min, integer: true });
  checkNumberOption(op, `${name}[1]`, value[1], { min, integer: true });
  return [value[0], value[1]];
}

/** The spatial geometry of a sliding window over an image (one entry per axis: height, width). */
/** A 2-D sliding window: kernel size, stride, padding and dilation per axis (the kernel table's `ConvWindow`). */
export type Window2d = ConvWindow;

/** floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1, the number of window positions. */
export function slidingOutputSize(size: number, kernel: number, stride: number, pad: number, dilation: number): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Throws unless `x` is [N, C, H, W] (or also [C, H, W] when `allowUnbatched`). */
export function checkImageRank(op: string, x: Tensor, allowUnbatched: boolean): void {
  if (x.ndim === 4 || (allowUnbatched && x.ndim === 3)) return;
  throw new ShapeError({
    op,
    expected: allowUnbatched ? 'an input of shape [N, C, H, W] or [C, H, W]' : 'an input of shape [N, C, H, W] (rank 4)',
    given: `shape ${formatShape(x.shape)} (rank ${x.ndim})`,
  });
}

/** Throws when a sliding window leaves no output position. */
export function checkOutputSize(
  op: string, x: Tensor, outH: number, outW: number, window: Window2d,
  expected = 'a padded input at least as large as the dilated kernel (output size >= 1)',
): void {
  if (outH >= 1 && outW >= 1) return;
  throw new ShapeError({
    op,
    expected,
    given: `input ${formatShape(x.shape)} with kernel [${window.kernelH}, ${window.kernelW}], stride [${window.strideH}, ${window.strideW}], ` +
      `padding [${window.padH}, ${window.padW}], dilation [${window.dilationH}, ${window.dilationW}] (output [${outH}, ${outW}])`,
  });
}
