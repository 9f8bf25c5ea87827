// Shared input checks of the row-wise normalizers (LayerNorm, RMSNorm, QKNorm, AdaLN): which
// trailing dims form a row, which rows a mask keeps. Internal to the package.
import { DTypeError, OptionError, ShapeError, Tensor, checkPaddingMask, dtypeOptionSpec, formatShape, type DType, type TypedArray } from '@normkit/tensor';

/** `normalizedShape` as given by users (`768` or `[512, 768]`), checked: non-empty, positive integers. */
export function checkNormalizedShape(op: string, normalizedShape: unknown): number[] {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
    throw new OptionError({
      op,
      expected: 'normalizedShape to be a positive integer or a non-empty array of positive integers (the trailing dims to normalise)',
      given: `normalizedShape = ${JSON.stringify(normalizedShape)}`,
    });
  }
  return [...(shape as number[])];
}

/** The dtype option of the row-wise normalizers (parameters, no buffers), for their schemas. */
export const rowwiseDtypeOption = { ...dtypeOptionSpec, description: 'Parameter dtype; inputs must have the same one.' } as const;

/** The eps check, written once in the core. */
export { checkEps } from '@normkit/tensor';

/** How a row-wise normalizer sees `x`: `rows` independent rows of `inner` elements. */
export interface RowLayout {
  rows: number;
  inner: number;
}

/**
 * Checks that `x` ends with `normalizedShape` (ShapeError otherwise) and, when given, that it has
 * the parameters' dtype (DTypeError), and returns the row layout.
 */
export function rowLayout(op: string, x: Tensor, normalizedShape: readonly number[], dtype?: DType): RowLayout {
  const k = normalizedShape.length;
  const trailing = x.shape.slice(x.ndim - k);
  if (x.ndim < k || trailing.some((d, i) => d !== normalizedShape[i])) {
    throw new ShapeError({
      op,
      expected: `an input whose trailing dims are normalizedShape ${formatShape(normalizedShape)}, i.e. [..., ${normalizedShape.join(', ')}]`,
      given: formatShape(x.shape),
    });
  }
  if (dtype !== undefined && x.dtype !== dtype) {
    throw new DTypeError({ op, expected: `a ${dtype} input (the parameters' dtype)`, given: `a ${x.dtype} input` });
  }
  let inner = 1;
  for (const d of normalizedShape) inner *= d;
  return { rows: inner === 0 ? 0 : x.size / inner, inner };
}

/**
 * A row mask: shaped like `x` without its normalised dims (e.g. [N, L] for [N, L, D]), 1 for a
 * real row and 0 for padding. Returns its data for the kernel (`maskSpatial: 1`).
 */
export function checkRowMask(op: string, mask: Tensor, x: Tensor, normalizedDims: number): TypedArray {
  return checkPaddingMask(op, mask, x.shape.slice(0, x.ndim - normalizedDims), {
    shapeMeaning: "the input's shape without its normalised dims: one value per row",
    givenShape: 'bare',
  });
}

/**
 * A row mask (see `checkRowMask`) or, when it has x's rank, an element-wise mask of x's shape
 * (Flax's `mask`): 1 for an element that enters its row's statistics, 0 for one that does not.
 * Returns the data and `maskSpatial` for the kernel (1 per row, `inner` per element).
 */
export function checkRowOrElementMask(op: string, mask: Tensor, x: Tensor, normalizedDims: number, inner: number): { mask: TypedArray; maskSpatial: number } {
  if (mask instanceof Tensor && mask.ndim === x.ndim && x.ndim > 0) {
    return {
      mask: checkPaddingMask(op, mask, x.shape, { shapeMeaning: "an element-wise mask has the input's shape; a row mask drops the normalised dims", givenShape: 'bare' }),
      maskSpatial: inner,
    };
  }
  return { mask: checkRowMask(op, mask, x, normalizedDims), maskSpatial: 1 };
}
