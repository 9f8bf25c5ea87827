import { OptionError } from '../errors';
import { checkOptionKeys } from '../plugin/options';
import { avgPool2d } from '../ops/pool';
import { resolvePair, type Pair } from '../ops/spatial';
import { checkTensor, type Tensor } from '../tensor';
import { checkPoolPadding } from './max-pool2d';
import { Module } from './module';

/** AvgPool2d's options, PyTorch's `nn.AvgPool2d` arguments in camelCase (floor mode; `ceil_mode` and `divisor_override` are not offered). */
export interface AvgPool2dLayerOptions {
  /** `kH = kW = kernelSize`, or `[kH, kW]`. */
  kernelSize: Pair;
  /** Step between windows; default the kernel size (PyTorch's `stride=None`). */
  stride?: Pair;
  /** Implicit zeros on both sides, at most half the kernel; default 0. */
  padding?: Pair;
  /** Whether padded zeros count in the divisor (`count_include_pad`); default true. */
  countIncludePad?: boolean;
}

const AVG_POOL_KEYS = ['kernelSize', 'stride', 'padding', 'countIncludePad'] as const;

/**
 * 2-D average pooling as a module (`torch.nn.AvgPool2d`, floor mode) over [N, C, H, W] or [C, H, W]:
 *
 *   y[., oh, ow] = sum_{window} x / divisor
 *
 * the window being rows [oh sH - pH, oh sH - pH + kH) (likewise columns) clipped to the input, the
 * divisor kH * kW with `countIncludePad` (padded zeros count, the default) or the number of
 * in-bounds elements without. No parameters or buffers; the forward is the `avgPool2d` op.
 * Compare AdaptiveAvgPool2d, which picks the windows from the output size instead.
 *
 * @example
 * const pool = new AvgPool2d({ kernelSize: 2 });                 // halves H and W
 * new AvgPool2d({ kernelSize: 3, stride: 1, padding: 1, countIncludePad: false });
 */
export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly countIncludePad: boolean;

  constructor(options: AvgPool2dLayerOptions) {
    super();
    const op = 'AvgPool2d';
    checkOptionKeys(op, options, AVG_POOL_KEYS);
    if (options?.kernelSize === undefined) throw new OptionError({ op, expected: 'a kernelSize (a number or [kH, kW])', given: 'no kernelSize' });
    this.kernelSize = resolvePair(op, 'kernelSize', options.kernelSize, [1, 1], 1);
    this.stride = resolvePair(op, 'stride', options.stride, this.kernelSize, 1);
    this.padding = resolvePair(op, 'padding', options.padding, [0, 0], 0);
    checkPoolPadding(op, this.kernelSize, this.padding);
    const countIncludePad = options.countIncludePad ?? true;
    if (typeof countIncludePad !== 'boolean') {
      throw new OptionError({ op, expected: 'countIncludePad to be true or false', given: `countIncludePad = ${JSON.stringify(countIncludePad)}` });
    }
    this.countIncludePad = countIncludePad;
  }

  override forward(x: Tensor): Tensor {
    checkTensor('AvgPool2d.forward', x, 'x');
    return avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, countIncludePad: this.countIncludePad });
  }
}
