// Input checks shared by the group family's normalizers (not exported from the package).
import { ContextError, DTypeError, ShapeError, ValueError, checkNumberOption, formatShape, type DType, type NormalizerContext, type Tensor } from '@normkit/tensor';

/** A channels-first input seen as [batch, channels, spatial], spatial = product of the dims after C. */
export interface ChannelsFirst {
  batch: number;
  channels: number;
  spatial: number;
}

/**
 * Checks that `x` is [N, C, *] with at least `minDims` dims and non-empty dims after N, naming
 * `op` in the error, and returns its sizes.
 */
export function channelsFirst(op: string, x: Tensor, minDims: number): ChannelsFirst {
  const example = minDims <= 2 ? '[N, C] or [N, C, *spatial]' : '[N, C, *spatial] with at least one spatial dim';
  if (x.ndim < minDims) throw new ShapeError({ op, expected: `an input of shape ${example}`, given: `shape ${formatShape(x.shape)}` });
  if (x.shape.slice(1).some((d) => d === 0)) {
    throw new ShapeError({ op, expected: 'non-empty channel and spatial dims', given: `shape ${formatShape(x.shape)}` });
  }
  const batch = x.shape[0]!;
  const channels = x.shape[1]!;
  return { batch, channels, spatial: x.shape.slice(2).reduce((a, b) => a * b, 1) };
}

/** Checks the input's channel count against the module's, naming the option it came from. */
export function checkChannels(op: string, x: Tensor, channels: number, optionName: string): void {
  if (x.shape[1] !== channels) {
    throw new ShapeError({
      op,
      expected: `an input of shape [N, ${channels}, *] (${optionName} = ${channels})`,
      given: `shape ${formatShape(x.shape)} with ${x.shape[1]} channels`,
    });
  }
}

/** Modules with parameters or buffers take inputs of their dtype only (no silent mixed precision). */
export function checkDType(op: string, x: Tensor, dtype: DType): void {
  if (x.dtype !== dtype) {
    throw new DTypeError({ op, expected: `a ${dtype} input (the module's dtype)`, given: `a ${x.dtype} input` });
  }
}

/** eps must be a finite number > 0. */
export function checkEps(op: string, eps: unknown): number {
  return checkNumberOption(op, 'eps', eps, { min: 0, minExclusive: true });
}

/** Refuses a mask given to a normalizer that cannot honour it, instead of ignoring it silently. */
export function refuseMask(op: string, context: NormalizerContext | undefined): void {
  if (context?.mask) {
    throw new ContextError({ op, expected: 'no mask (this normalizer has no masked statistics; GroupNorm accepts one)', given: `a mask of shape ${formatShape(context.mask.shape)}` });
  }
}

/** Checks a padding mask against `x`: one value (0 or 1) per sample and spatial position, [N, *spatial]. */
export function checkSpatialMask(op: string, x: Tensor, mask: Tensor): void {
  const expected = [x.shape[0]!, ...x.shape.slice(2)];
  if (mask.ndim !== expected.length || mask.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError({
      op,
      expected: `a mask of shape ${formatShape(expected)} (the input's shape without the channel dim; 1 = real, 0 = padding)`,
      given: `shape ${formatShape(mask.shape)}`,
    });
  }
  // The kernel treats every nonzero value as real: refuse anything but 0 and 1, as BatchNorm and LayerNorm do.
  const values = mask.data;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== 0 && v !== 1) throw new ValueError({ op, expected: 'mask values 1 (real) or 0 (padding)', given: `${v} at flat index ${i}` });
  }
}
