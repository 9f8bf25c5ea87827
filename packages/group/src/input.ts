// Input checks shared by the group family's normalizers (not exported from the package).
import { ShapeError, checkNumberOption, formatShape, refuseMask as refuseMaskOnce, type NormalizerContext, type Tensor } from '@normkit/tensor';

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

/** eps must be a finite number > 0. */
export function checkEps(op: string, eps: unknown): number {
  return checkNumberOption(op, 'eps', eps, { min: 0, minExclusive: true });
}

/** Refuses a mask given to a normalizer that cannot honour it, instead of ignoring it silently (the core's check). */
export function refuseMask(op: string, context: NormalizerContext | undefined): void {
  refuseMaskOnce(op, context, 'this normalizer has no masked statistics; GroupNorm accepts one');
}
