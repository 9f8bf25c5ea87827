// Input and option checks every normalizer family needs, written once so the families refuse bad
// input with the same error classes and messages.
import type { DType, TypedArray } from '../dtype';
import { ContextError, DTypeError, OptionError, ShapeError, ValueError, checkNumberOption, formatShape } from '../errors';
import type { EnumOptionSpec } from '../plugin/types';
import { Tensor, checkTensor } from '../tensor';

/** How `checkPaddingMask` words its ShapeError. */
export interface PaddingMaskMessage {
  /**
   * What the expected shape is, in parentheses after it: `a mask of shape [2, 5] (<shapeMeaning>)`,
   * e.g. "the input's shape without the channel axis". Default: nothing.
   */
  shapeMeaning?: string;
  /** How the given shape is quoted: `shape [1, 5]` ('labelled', the default) or `[1, 5]` ('bare'). */
  givenShape?: 'labelled' | 'bare';
}

/**
 * Checks a padding mask: a Tensor of exactly `expectedShape` (ShapeError otherwise) whose values
 * are all 1 (a real position) or 0 (padding) (ValueError naming the first other value and its flat
 * index). The kernels treat any nonzero value as real, so a soft mask (0.5) would be silently
 * wrong: it is refused instead. Returns the mask's data for `normalize({ mask })`.
 *
 * Which shape a mask has depends on the layout: [N, *spatial] for channels-first input
 * (BatchNorm, GroupNorm), the input's leading dims for row-wise normalizers (LayerNorm, RMSNorm).
 *
 * @example
 * const data = checkPaddingMask('batchNorm', mask, [x.shape[0]!, ...x.shape.slice(2)], {
 *   shapeMeaning: "the input's shape without the channel axis",
 * });
 * normalize(x, { ...options, mask: data, maskSpatial: layout.inner });
 */
export function checkPaddingMask(op: string, mask: Tensor, expectedShape: readonly number[], message: PaddingMaskMessage = {}): TypedArray {
  const fits = mask instanceof Tensor && mask.ndim === expectedShape.length && mask.shape.every((d, i) => d === expectedShape[i]);
  if (!fits) {
    const meaning = message.shapeMeaning === undefined ? '' : ` (${message.shapeMeaning})`;
    const shape = mask instanceof Tensor ? formatShape(mask.shape) : undefined;
    let given: string;
    if (shape === undefined) given = String(mask);
    else given = message.givenShape === 'bare' ? shape : `shape ${shape}`;
    throw new ShapeError({ op, expected: `a mask of shape ${formatShape(expectedShape)}${meaning}`, given });
  }
  const data = mask.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== 0 && v !== 1) throw new ValueError({ op, expected: 'mask values 1 (real) or 0 (padding)', given: `${v} at flat index ${i}` });
  }
  return data;
}

/**
 * The `dtype` option of a normalizer with parameters or buffers: `undefined` means float32, and
 * only the float dtypes are accepted (the kernels compute in float32 or float64); anything else
 * throws an OptionError naming `op`. Plugins describe the same option with `dtypeOptionSpec`.
 *
 * @example
 * this.dtype = checkDTypeOption('LayerNorm', options.dtype); // 'float32' when not given
 */
export function checkDTypeOption(op: string, value: unknown): DType {
  const dtype = value ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new OptionError({ op, expected: "dtype 'float32' or 'float64'", given: `dtype = ${String(value)}` });
  }
  return dtype;
}

/**
 * The plugin option schema of that `dtype` option; the testkit fills it per dtype under test.
 * Spread it to reword the description: `{ ...dtypeOptionSpec, description: 'Parameter dtype; ...' }`.
 */
export const dtypeOptionSpec = {
  type: 'enum',
  values: ['float32', 'float64'],
  default: 'float32',
  description: 'Parameter and buffer dtype; inputs must match.',
} as const satisfies EnumOptionSpec;

/**
 * A module with parameters or buffers takes tensors of its own dtype only (no silent mixed
 * precision): a DTypeError naming `op` otherwise. `what` names the tensor in the message
 * ('input', 'condition', 'segmentation map').
 *
 * @example
 * checkModuleDType('BatchNorm.forward', x, this.dtype); // "expected a float32 input (the module's dtype), got a float64 input"
 */
export function checkModuleDType(op: string, x: Tensor, dtype: DType, what = 'input'): void {
  if (x.dtype !== dtype) {
    throw new DTypeError({ op, expected: `a ${dtype} ${what} (the module's dtype)`, given: `a ${x.dtype} ${what}` });
  }
}

/**
 * Refuses a mask given to a normalizer that cannot honour it (traits `acceptsMask: false`), instead
 * of ignoring it silently: a caller who passes a mask expects padding to be kept out, and an
 * ignored mask would let it in. `why` says what the module does instead (one phrase).
 */
export function refuseMask(op: string, context: { readonly mask?: Tensor } | undefined, why = 'this normalizer has no masked statistics'): void {
  if (context?.mask) {
    throw new ContextError({ op, expected: `no mask (${why})`, given: `a mask of shape ${formatShape(context.mask.shape)}` });
  }
}

/** eps added to a variance: a finite number > 0 (an OptionError naming `op` otherwise). For functional forms; modules check it through their schema. */
export function checkEps(op: string, eps: unknown): number {
  return checkNumberOption(op, 'eps', eps, { min: 0, minExclusive: true });
}

/** A channels-first input seen as [batch, channels, spatial], spatial = product of the dims after C. */
export interface ChannelsFirstSizes {
  batch: number;
  channels: number;
  spatial: number;
}

/**
 * Checks that `x` is a Tensor [N, C, *] with at least `minDims` dims and non-empty dims after N
 * (N may be 0), naming `op` in the ShapeError, and returns its sizes.
 *
 * @example
 * const { batch, channels, spatial } = checkChannelsFirst('InstanceNorm.forward', x, 3); // [N, C, *spatial]
 */
export function checkChannelsFirst(op: string, x: Tensor, minDims: number): ChannelsFirstSizes {
  checkTensor(op, x, 'x');
  const example = minDims <= 2 ? '[N, C] or [N, C, *spatial]' : '[N, C, *spatial] with at least one spatial dim';
  if (x.ndim < minDims) throw new ShapeError({ op, expected: `an input of shape ${example}`, given: `shape ${formatShape(x.shape)}` });
  if (x.shape.slice(1).some((d) => d === 0)) {
    throw new ShapeError({ op, expected: 'non-empty channel and spatial dims', given: `shape ${formatShape(x.shape)}` });
  }
  return { batch: x.shape[0]!, channels: x.shape[1]!, spatial: x.shape.slice(2).reduce((a, b) => a * b, 1) };
}

/** Checks a channels-first input's channel count against the module's, naming the option it came from: every family's one message. */
export function checkChannels(op: string, x: Tensor, channels: number, optionName: string): void {
  if (x.shape[1] !== channels) {
    throw new ShapeError({
      op,
      expected: `${channels} channels on axis 1 (${optionName} = ${channels}), [N, ${channels}, *]`,
      given: `shape ${formatShape(x.shape)} with ${x.shape[1]} channels`,
    });
  }
}
