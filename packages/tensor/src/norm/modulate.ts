import { customOp } from '../autograd';
import { allocateForOverwrite, promoteDTypes, sameShape, type TypedArray } from '../dtype';
import { ShapeError, formatShape } from '../errors';
import { activeKernels } from '../kernels/backend';
import type { SumRuns } from '../kernels/types';
import type { Tensor } from '../tensor';
import { broadcastDims, broadcastShapes, reduceToShape } from '../ops/broadcast';
import { sumRuns } from '../ops/reduce';

function sumRunsEqual(a: SumRuns, b: SumRuns): boolean {
  return a.sizes.length === b.sizes.length && a.sizes.every((size, r) => size === b.sizes[r] && a.reduced[r] === b.reduced[r]);
}

export interface ModulateOptions {
  /**
   * `'one-plus'`: y = x * (1 + scale) + shift (AdaLN, SPADE, DiT), so a zero-initialised predictor
   * starts as the identity. `'direct'`: y = gamma * x + beta (FiLM, conditional BatchNorm).
   */
  form?: 'one-plus' | 'direct';
  /** Name in errors and in the graph. */
  op?: string;
}

/**
 * The one modulation primitive: `x * (1 + scale) + shift` or `gamma * x + beta`, with `scale`
 * and `shift` broadcast against `x` (e.g. [N, C, 1, 1] per sample and channel, [N, C, H, W]
 * spatial, [N, 1, D] per sample and feature). One fused node with its backward to x, scale and
 * shift. Pass null to omit shift.
 *
 * @example
 * const y = modulate(layerNormWithoutAffine(x), scale.reshape([n, 1, d]), shift.reshape([n, 1, d]));
 */
export function modulate(x: Tensor, scale: Tensor, shift: Tensor | null, options: ModulateOptions = {}): Tensor {
  const op = options.op ?? 'modulate';
  const onePlus = (options.form ?? 'one-plus') === 'one-plus';
  const outShape = broadcastShapes(op, x.shape, scale.shape);
  if (!sameShape(outShape, x.shape) || (shift && !sameShape(broadcastShapes(op, outShape, shift.shape), x.shape))) {
    throw new ShapeError({
      op,
      expected: `scale and shift that broadcast to x's shape ${formatShape(x.shape)}`,
      given: `scale ${formatShape(scale.shape)}${shift ? `, shift ${formatShape(shift.shape)}` : ''}`,
    });
  }
  const dtype = promoteDTypes(x.dtype, scale.dtype, shift?.dtype ?? x.dtype);
  const size = x.size;
  const offset = onePlus ? 1 : 0;
  const scaleRuns = sumRuns(x.shape, broadcastDims(scale.shape, x.shape));
  const shiftDims = shift ? broadcastDims(shift.shape, x.shape) : null;
  const shiftAlongScale = shiftDims !== null && sumRunsEqual(scaleRuns, sumRuns(x.shape, shiftDims));
  const xs = x.data;
  const sc = scale.data;
  const out = allocateForOverwrite(dtype, size);
  const kernels = activeKernels();
  kernels.modulate({ x: xs, out, scale: sc, shift: shiftAlongScale ? shift!.data : null, offset, ...scaleRuns });
  if (shift && !shiftAlongScale) {
    // Shift broadcast along other dims than scale: added in a second pass, as out * 1 + shift.
    kernels.modulate({ x: out, out, scale: new Float64Array(shift.size).fill(1), shift: shift.data, offset: 0, ...sumRuns(x.shape, shiftDims!) });
  }
  return customOp({
    op,
    inputs: { x, scale, shift },
    data: out,
    shape: x.shape,
    backward: (g) => {
      let gx: TypedArray | null = null;
      if (x.requiresGrad) {
        gx = allocateForOverwrite(x.dtype, size);
        activeKernels().modulate({ x: g, out: gx, scale: sc, shift: null, offset, ...scaleRuns });
      }
      let gScale: TypedArray | null = null;
      if (scale.requiresGrad) {
        const full = allocateForOverwrite(scale.dtype, size);
        activeKernels().binary({ op: 'mul', a: g, b: xs, out: full, broadcast: { kind: 'same' } });
        gScale = reduceToShape(full, x.shape, scale.shape, scale.dtype);
      }
      const gShift = shift?.requiresGrad ? reduceToShape(g, x.shape, shift.shape, shift.dtype) : null;
      return { x: gx, scale: gScale, shift: gShift };
    },
  });
}
