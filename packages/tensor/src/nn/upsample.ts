import { OptionError, checkNumberOption } from '../errors';
import { interpolate, type InterpolateMode } from '../ops/interpolate';
import { checkOptionKeys } from '../plugin/options';
import { resolvePair, type Pair } from '../ops/spatial';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/**
 * Upsample's options, `torch.nn.Upsample(size, scale_factor, mode, align_corners)` in camelCase for
 * 4-D input (modes 'nearest' and 'bilinear'; `recompute_scale_factor` is not offered: a scale factor
 * always sets the source positions itself, PyTorch's default).
 */
export interface UpsampleOptions {
  /** Output `[H, W]` (or one number for both). Exactly one of size and scaleFactor. */
  size?: Pair;
  /** Output = floor(input * scaleFactor) per axis; one positive number or `[sH, sW]`. */
  scaleFactor?: number | readonly [number, number];
  /** Default 'nearest'. */
  mode?: InterpolateMode;
  /** 'bilinear' only: align the corner pixels' centres instead of the pixel areas; default false. */
  alignCorners?: boolean;
}

const UPSAMPLE_KEYS = ['size', 'scaleFactor', 'mode', 'alignCorners'] as const;

/**
 * Resizes the spatial dims of [N, C, H, W] as a module (`torch.nn.Upsample`, also downsampling):
 * the `interpolate` op with PyTorch's source indices,
 *
 * - 'nearest':  y[oh, ow] = x[floor(oh * s_H), floor(ow * s_W)], s = 1 / scaleFactor (or in / out for a size);
 * - 'bilinear': the four-neighbour weighted mean at src = (dst + 0.5) s - 0.5 (clamped at 0), or
 *   src = dst (in - 1) / (out - 1) with alignCorners.
 *
 * No parameters or buffers. Options are checked once, here; the op itself checks the input's rank.
 *
 * @example
 * new Upsample({ scaleFactor: 2 }).forward(randn([1, 8, 16, 16])).shape;                        // [1, 8, 32, 32]
 * new Upsample({ size: [24, 20], mode: 'bilinear', alignCorners: true });
 * new Upsample({ scaleFactor: 1.5, mode: 'bilinear' }).forward(randn([1, 3, 10, 10])).shape;   // [1, 3, 15, 15]
 */
export class Upsample extends Module {
  /** `[outH, outW]`, or null when a scale factor is given. */
  readonly size: [number, number] | null;
  /** `[sH, sW]`, or null when a size is given. */
  readonly scaleFactor: [number, number] | null;
  readonly mode: InterpolateMode;
  readonly alignCorners: boolean;

  constructor(options: UpsampleOptions) {
    super();
    const op = 'Upsample';
    checkOptionKeys(op, options, UPSAMPLE_KEYS);
    const hasSize = options?.size !== undefined;
    const hasScale = options?.scaleFactor !== undefined;
    if (hasSize === hasScale) throw new OptionError({ op, expected: 'exactly one of size or scaleFactor', given: hasSize ? 'both' : 'neither' });
    this.size = hasSize ? resolvePair(op, 'size', options.size, [1, 1], 1) : null;
    if (hasScale) {
      const factor = options.scaleFactor!;
      const pair = typeof factor === 'number' ? [factor, factor] : factor;
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new OptionError({ op, expected: 'scaleFactor to be a number or a [height, width] pair', given: `scaleFactor = ${JSON.stringify(factor)}` });
      }
      this.scaleFactor = [
        checkNumberOption(op, 'scaleFactor', pair[0], { min: 0, minExclusive: true }),
        checkNumberOption(op, 'scaleFactor', pair[1], { min: 0, minExclusive: true }),
      ];
    } else {
      this.scaleFactor = null;
    }
    const mode = options.mode ?? 'nearest';
    if (mode !== 'nearest' && mode !== 'bilinear') throw new OptionError({ op, expected: "mode 'nearest' or 'bilinear'", given: `mode = ${JSON.stringify(mode)}` });
    this.mode = mode;
    const alignCorners = options.alignCorners ?? false;
    if (typeof alignCorners !== 'boolean') throw new OptionError({ op, expected: 'alignCorners to be true or false', given: `alignCorners = ${JSON.stringify(alignCorners)}` });
    if (alignCorners && mode === 'nearest') {
      throw new OptionError({ op, expected: "alignCorners only with mode 'bilinear' (nearest has no corners to align)", given: 'alignCorners = true' });
    }
    this.alignCorners = alignCorners;
  }

  override forward(x: Tensor): Tensor {
    checkTensor('Upsample.forward', x, 'x');
    const target = this.size ? { size: this.size } : { scaleFactor: this.scaleFactor! };
    return interpolate(x, target, this.mode, this.alignCorners);
  }
}
