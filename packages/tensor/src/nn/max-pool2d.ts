import { OptionError } from '../errors';
import { checkOptionKeys } from '../plugin/options';
import { maxPool2d } from '../ops/pool';
import { resolvePair, type Pair } from '../ops/spatial';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/** MaxPool2d's options, PyTorch's `nn.MaxPool2d` arguments in camelCase (floor mode; `ceil_mode` and `return_indices` are not offered). */
export interface MaxPool2dLayerOptions {
  /** `kH = kW = kernelSize`, or `[kH, kW]`. */
  kernelSize: Pair;
  /** Step between windows; default the kernel size (PyTorch's `stride=None`). */
  stride?: Pair;
  /** Implicit -infinity on both sides, at most half the kernel; default 0. */
  padding?: Pair;
  /** Spacing between window taps; default 1. */
  dilation?: Pair;
}

const MAX_POOL_KEYS = ['kernelSize', 'stride', 'padding', 'dilation'] as const;

/**
 * PyTorch's rule for padded pooling windows (a window must never lie entirely in the padding),
 * checked when a pooling module is built so a bad module fails there and not at its first forward.
 */
export function checkPoolPadding(op: string, kernelSize: readonly [number, number], padding: readonly [number, number]): void {
  if (2 * padding[0] > kernelSize[0] || 2 * padding[1] > kernelSize[1]) {
    throw new OptionError({ op, expected: `padding at most half the kernel size [${kernelSize.join(', ')}]`, given: `padding [${padding.join(', ')}]` });
  }
}

/**
 * 2-D max pooling as a module (`torch.nn.MaxPool2d`, floor mode) over [N, C, H, W] or [C, H, W]:
 *
 *   y[., oh, ow] = max_{i < kH, j < kW} x[., oh * sH - pH + i * dH, ow * sW - pW + j * dW]
 *
 * over in-bounds taps (padding is -infinity), output size floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1.
 * No parameters or buffers; the forward is the `maxPool2d` op (one autograd node, gradient to the
 * first maximum of each window). Options are checked once, here.
 *
 * @example
 * const pool = new MaxPool2d({ kernelSize: 2 });       // stride 2: halves H and W
 * pool.forward(randn([8, 16, 32, 32])).shape;          // [8, 16, 16, 16]
 * new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 });
 */
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(options: MaxPool2dLayerOptions) {
    super();
    const op = 'MaxPool2d';
    checkOptionKeys(op, options, MAX_POOL_KEYS);
    if (options?.kernelSize === undefined) throw new OptionError({ op, expected: 'a kernelSize (a number or [kH, kW])', given: 'no kernelSize' });
    this.kernelSize = resolvePair(op, 'kernelSize', options.kernelSize, [1, 1], 1);
    this.stride = resolvePair(op, 'stride', options.stride, this.kernelSize, 1);
    this.padding = resolvePair(op, 'padding', options.padding, [0, 0], 0);
    this.dilation = resolvePair(op, 'dilation', options.dilation, [1, 1], 1);
    checkPoolPadding(op, this.kernelSize, this.padding);
  }

  override forward(x: Tensor): Tensor {
    checkTensor('MaxPool2d.forward', x, 'x');
    return maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation });
  }
}
