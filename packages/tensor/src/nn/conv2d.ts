import { zeros } from '../creation';
import type { DType } from '../dtype';
import { ContextError, DTypeError, OptionError, ShapeError, checkNumberOption, formatShape } from '../errors';
import { conv2d, convTranspose2d } from '../ops/conv';
import { squeeze, unsqueeze } from '../ops/shape';
import { resolvePair, type Pair } from '../ops/spatial';
import type { Generator } from '../random';
import { checkTensor, type Tensor } from '../tensor';
import { defaultLayerInit } from './init';
import { Module, Parameter } from './module';

interface ConvLayerOptionsBase {
  inChannels: number;
  outChannels: number;
  /** `kH = kW = kernelSize`, or `[kH, kW]`. */
  kernelSize: Pair;
  /** Default 1. */
  stride?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Default 1; both channel counts must be divisible by it. */
  groups?: number;
  /** Learn a per-channel bias (default true). */
  bias?: boolean;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
  /** Drives the initialisation; the default generator otherwise. */
  generator?: Generator;
}

export interface Conv2dLayerOptions extends ConvLayerOptionsBase {
  /**
   * Zeros added on both sides, default 0. 'valid' is 0; 'same' (stride 1 only) keeps H and W, and
   * needs an even total padding `dilation * (kernel - 1)` per axis (PyTorch pads odd totals
   * asymmetrically; use an explicit pad op for those).
   */
  padding?: Pair | 'same' | 'valid';
}

export interface ConvTranspose2dLayerOptions extends ConvLayerOptionsBase {
  /** `dilation * (kernel - 1) - padding` zeros of implicit padding on each side of the input, default 0. */
  padding?: Pair;
  /** Extra rows/columns on the bottom/right of the output, default 0 (must be < stride or < dilation). */
  outputPadding?: Pair;
}

interface ConvGeometry {
  inChannels: number;
  outChannels: number;
  kernelSize: [number, number];
  stride: [number, number];
  dilation: [number, number];
  groups: number;
}

function resolveConvGeometry(op: string, options: ConvLayerOptionsBase): ConvGeometry {
  const inChannels = checkNumberOption(op, 'inChannels', options.inChannels, { min: 1, integer: true });
  const outChannels = checkNumberOption(op, 'outChannels', options.outChannels, { min: 1, integer: true });
  const groups = checkNumberOption(op, 'groups', options.groups ?? 1, { min: 1, integer: true });
  for (const [name, count] of [['inChannels', inChannels], ['outChannels', outChannels]] as const) {
    if (count % groups !== 0) {
      throw new OptionError({ op, expected: `${name} divisible by groups (${groups})`, given: `${name} = ${count}` });
    }
  }
  if (options.kernelSize === undefined) {
    throw new OptionError({ op, expected: 'a kernelSize (a number or [kH, kW])', given: 'no kernelSize' });
  }
  return {
    inChannels,
    outChannels,
    groups,
    kernelSize: resolvePair(op, 'kernelSize', options.kernelSize, [1, 1], 1),
    stride: resolvePair(op, 'stride', options.stride, [1, 1], 1),
    dilation: resolvePair(op, 'dilation', options.dilation, [1, 1], 1),
  };
}

function resolveConvPadding(op: string, options: Conv2dLayerOptions, geometry: ConvGeometry): [number, number] {
  const padding = options.padding ?? 0;
  if (padding === 'valid') return [0, 0];
  if (padding !== 'same') return resolvePair(op, 'padding', padding, [0, 0], 0);
  if (geometry.stride[0] !== 1 || geometry.stride[1] !== 1) {
    throw new OptionError({ op, expected: "stride 1 with padding 'same'", given: `stride = [${geometry.stride.join(', ')}]` });
  }
  return [0, 1].map((axis) => {
    const total = geometry.dilation[axis]! * (geometry.kernelSize[axis]! - 1);
    if (total % 2 !== 0) {
      throw new OptionError({
        op,
        expected: "padding 'same' with an even total padding dilation * (kernel - 1) per axis (symmetric padding)",
        given: `kernelSize = [${geometry.kernelSize.join(', ')}], dilation = [${geometry.dilation.join(', ')}]`,
      });
    }
    return total / 2;
  }) as [number, number];
}

/** Accepts [N, C, H, W] or an unbatched [C, H, W], checking C and the dtype; returns a batched view. */
function checkConvInput(op: string, x: Tensor, inChannels: number, dtype: DType): { batched: Tensor; unbatched: boolean } {
  if ((x.ndim !== 3 && x.ndim !== 4) || x.shape[x.ndim - 3] !== inChannels) {
    throw new ShapeError({
      op,
      expected: `an input of shape [N, ${inChannels}, H, W] or [${inChannels}, H, W] (channels = inChannels = ${inChannels})`,
      given: formatShape(x.shape),
    });
  }
  if (x.dtype !== dtype) {
    throw new DTypeError({ op, expected: `a ${dtype} input (the parameters' dtype)`, given: `a ${x.dtype} input` });
  }
  return x.ndim === 3 ? { batched: unsqueeze(x, 0), unbatched: true } : { batched: x, unbatched: false };
}

function resetConvParameters(module: Module, op: string, generator: Generator | undefined): void {
  const weight = module.getParameter('weight');
  if (!weight) {
    throw new ContextError({
      op,
      expected: 'a plain `weight` parameter',
      given: 'a parametrized weight; initialise the parametrization originals instead',
    });
  }
  defaultLayerInit(weight, module.getParameter('bias') ?? null, { generator });
}

/**
 * 2-D convolution layer over `[N, C, H, W]` (or unbatched `[C, H, W]`), like `torch.nn.Conv2d`:
 * `weight` `[outChannels, inChannels / groups, kH, kW]`, `bias` `[outChannels]`, PyTorch's names
 * and default initialisation (kaiming uniform with a = sqrt(5); bias U(-1/sqrt(fanIn), 1/sqrt(fanIn)),
 * fanIn = inChannels / groups * kH * kW). Output size per axis:
 * `floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1`.
 *
 * `forward` reads `this.weight` at call time, so a weight parametrization can replace it.
 *
 * @example
 * const conv = new Conv2d({ inChannels: 3, outChannels: 16, kernelSize: 3, padding: 'same' });
 * conv.forward(randn([8, 3, 32, 32])).shape; // [8, 16, 32, 32]
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly dtype: DType;
  /** `[outChannels, inChannels / groups, kH, kW]`. */
  weight: Tensor;
  /** `[outChannels]`, or null when built with `bias: false`. */
  bias: Tensor | null;

  constructor(options: Conv2dLayerOptions) {
    super();
    const op = 'Conv2d';
    const geometry = resolveConvGeometry(op, options);
    ({ inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: this.kernelSize } = geometry);
    ({ stride: this.stride, dilation: this.dilation, groups: this.groups } = geometry);
    this.padding = resolveConvPadding(op, options, geometry);
    this.dtype = options.dtype ?? 'float32';
    const shape = [this.outChannels, this.inChannels / this.groups, ...this.kernelSize];
    this.weight = this.registerParameter('weight', new Parameter(zeros(shape, { dtype: this.dtype })));
    this.bias = (options.bias ?? true) ? this.registerParameter('bias', new Parameter(zeros([this.outChannels], { dtype: this.dtype }))) : null;
    this.resetParameters({ generator: options.generator });
  }

  /** Re-draws the registered parameters with PyTorch's default initialisation. */
  resetParameters(options: { generator?: Generator } = {}): void {
    resetConvParameters(this, 'Conv2d.resetParameters', options.generator);
  }

  override forward(x: Tensor): Tensor {
    checkTensor('Conv2d.forward', x, 'x');
    const weight = this.weight;
    const { batched, unbatched } = checkConvInput('Conv2d.forward', x, this.inChannels, weight.dtype);
    const y = conv2d(batched, weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
    return unbatched ? squeeze(y, 0) : y;
  }
}

/**
 * 2-D transposed convolution layer (the adjoint of Conv2d's input map, used to upsample), like
 * `torch.nn.ConvTranspose2d`: `weight` `[inChannels, outChannels / groups, kH, kW]` (PyTorch's
 * layout), `bias` `[outChannels]`. Initialisation is PyTorch's, whose fanIn for this layout is
 * `outChannels / groups * kH * kW`. Output size per axis:
 * `(H - 1) stride - 2 padding + dilation (kernel - 1) + outputPadding + 1`; pass `outputSize` to
 * `forward` to pick the output padding from a target size instead.
 *
 * @example
 * const up = new ConvTranspose2d({ inChannels: 16, outChannels: 8, kernelSize: 4, stride: 2, padding: 1 });
 * up.forward(randn([1, 16, 8, 8])).shape; // [1, 8, 16, 16]
 */
export class ConvTranspose2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly dtype: DType;
  /** `[inChannels, outChannels / groups, kH, kW]`. */
  weight: Tensor;
  /** `[outChannels]`, or null when built with `bias: false`. */
  bias: Tensor | null;

  constructor(options: ConvTranspose2dLayerOptions) {
    super();
    const op = 'ConvTranspose2d';
    const geometry = resolveConvGeometry(op, options);
    ({ inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: this.kernelSize } = geometry);
    ({ stride: this.stride, dilation: this.dilation, groups: this.groups } = geometry);
    this.padding = resolvePair(op, 'padding', options.padding, [0, 0], 0);
    this.outputPadding = resolvePair(op, 'outputPadding', options.outputPadding, [0, 0], 0);
    for (const axis of [0, 1]) {
      if (this.outputPadding[axis]! >= this.stride[axis]! && this.outputPadding[axis]! >= this.dilation[axis]!) {
        throw new OptionError({
          op,
          expected: 'outputPadding smaller than the stride or the dilation on each axis',
          given: `outputPadding = [${this.outputPadding.join(', ')}], stride = [${this.stride.join(', ')}], dilation = [${this.dilation.join(', ')}]`,
        });
      }
    }
    this.dtype = options.dtype ?? 'float32';
    const shape = [this.inChannels, this.outChannels / this.groups, ...this.kernelSize];
    this.weight = this.registerParameter('weight', new Parameter(zeros(shape, { dtype: this.dtype })));
    this.bias = (options.bias ?? true) ? this.registerParameter('bias', new Parameter(zeros([this.outChannels], { dtype: this.dtype }))) : null;
    this.resetParameters({ generator: options.generator });
  }

  /** Re-draws the registered parameters with PyTorch's default initialisation. */
  resetParameters(options: { generator?: Generator } = {}): void {
    resetConvParameters(this, 'ConvTranspose2d.resetParameters', options.generator);
  }

  /**
   * `outputSize` `[H, W]` (the trailing two dims are used if more are given) chooses the output
   * padding, like PyTorch's `output_size` argument; it must lie within `[min, min + stride - 1]`
   * per axis, `min` being the size without output padding.
   */
  override forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    checkTensor('ConvTranspose2d.forward', x, 'x');
    const op = 'ConvTranspose2d.forward';
    const weight = this.weight;
    const { batched, unbatched } = checkConvInput(op, x, this.inChannels, weight.dtype);
    const outputPadding = outputSize === undefined ? this.outputPadding : this.outputPaddingFor(op, batched, outputSize);
    const y = convTranspose2d(batched, weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding, dilation: this.dilation, groups: this.groups,
    });
    return unbatched ? squeeze(y, 0) : y;
  }

  private outputPaddingFor(op: string, x: Tensor, outputSize: readonly number[]): [number, number] {
    if (outputSize.length < 2) {
      throw new ShapeError({ op, expected: 'an outputSize [H, W] (or longer, trailing two dims used)', given: `[${outputSize.join(', ')}]` });
    }
    const target = outputSize.slice(-2);
    return [0, 1].map((axis) => {
      const size = x.shape[2 + axis]!;
      const min = (size - 1) * this.stride[axis]! - 2 * this.padding[axis]! + this.dilation[axis]! * (this.kernelSize[axis]! - 1) + 1;
      const max = min + this.stride[axis]! - 1;
      const wanted = target[axis]!;
      if (!Number.isInteger(wanted) || wanted < min || wanted > max) {
        throw new ShapeError({
          op,
          expected: `outputSize[${axis}] in [${min}, ${max}] for input ${formatShape(x.shape)}`,
          given: `${wanted}`,
        });
      }
      return wanted - min;
    }) as [number, number];
  }
}
