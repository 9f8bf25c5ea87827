import { customOp } from '../autograd';
import { allocate, promoteDTypes, sameShape, type TypedArray } from '../dtype';
import { ShapeError, formatShape } from '../errors';
import type { Tensor } from '../tensor';
import { broadcastIndex, broadcastShapes, reduceToShape } from '../ops/broadcast';

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
  const scaleIndex = sameShape(scale.shape, x.shape) ? null : broadcastIndex(scale.shape, x.shape);
  const shiftIndex = shift && !sameShape(shift.shape, x.shape) ? broadcastIndex(shift.shape, x.shape) : null;
  const xs = x.data;
  const sc = scale.data;
  const sh = shift?.data;
  const offset = onePlus ? 1 : 0;
  const out = allocate(dtype, size);
  for (let i = 0; i < size; i++) {
    const s = sc[scaleIndex ? scaleIndex[i]! : i]! + offset;
    out[i] = xs[i]! * s + (sh ? sh[shiftIndex ? shiftIndex[i]! : i]! : 0);
  }
  return customOp({
    op,
    inputs: { x, scale, shift },
    data: out,
    shape: x.shape,
    backward: (g) => {
      let gx: TypedArray | null = null;
      if (x.requiresGrad) {
        gx = allocate(x.dtype, size);
        for (let i = 0; i < size; i++) gx[i] = g[i]! * (sc[scaleIndex ? scaleIndex[i]! : i]! + offset);
      }
      let gScale: TypedArray | null = null;
      if (scale.requiresGrad) {
        const full = allocate(scale.dtype, size);
        for (let i = 0; i < size; i++) full[i] = g[i]! * xs[i]!;
        gScale = reduceToShape(full, x.shape, scale.shape, scale.dtype);
      }
      const gShift = shift?.requiresGrad ? reduceToShape(g, x.shape, shift.shape, shift.dtype) : null;
      return { x: gx, scale: gScale, shift: gShift };
    },
  });
}
