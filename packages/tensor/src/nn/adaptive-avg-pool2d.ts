import { OptionError } from '../errors';
import { checkOptionKeys } from '../plugin/options';
import { adaptiveAvgPool2d } from '../ops/pool';
import { resolvePair, type Pair } from '../ops/spatial';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/** AdaptiveAvgPool2d's options (`torch.nn.AdaptiveAvgPool2d(output_size)`; a `None` entry, "keep this dim", is not offered). */
export interface AdaptiveAvgPool2dLayerOptions {
  /** `[outH, outW]`, or one number for both. */
  outputSize: Pair;
}

/**
 * 2-D adaptive average pooling as a module (`torch.nn.AdaptiveAvgPool2d`) over [N, C, H, W] or
 * [C, H, W]: output cell (oh, ow) averages rows [floor(oh H / outH), ceil((oh + 1) H / outH)) and
 * the matching columns, so any input size gives `outputSize`. `outputSize: 1` is global average
 * pooling; a size dividing the input is AvgPool2d with kernel = stride = input / output. No
 * parameters or buffers; the forward is the `adaptiveAvgPool2d` op.
 *
 * @example
 * const gap = new AdaptiveAvgPool2d({ outputSize: 1 });
 * gap.forward(randn([8, 64, 7, 7])).shape;             // [8, 64, 1, 1]
 */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number, number];

  constructor(options: AdaptiveAvgPool2dLayerOptions) {
    super();
    const op = 'AdaptiveAvgPool2d';
    checkOptionKeys(op, options, ['outputSize']);
    if (options?.outputSize === undefined) throw new OptionError({ op, expected: 'an outputSize (a number or [outH, outW])', given: 'no outputSize' });
    this.outputSize = resolvePair(op, 'outputSize', options.outputSize, [1, 1], 1);
  }

  override forward(x: Tensor): Tensor {
    checkTensor('AdaptiveAvgPool2d.forward', x, 'x');
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}
