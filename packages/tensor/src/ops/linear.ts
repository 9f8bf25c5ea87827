import { customOp } from '../autograd';
import { allocateForOverwrite, promoteDTypes, shapeSize, type TypedArray } from '../dtype';
import { ShapeError, formatShape } from '../errors';
import { checkTensor, type Tensor } from '../tensor';
import { reduceToShape } from './broadcast';
import { gemm } from './matmul';

/**
 * `torch.nn.functional.linear`: y = x @ weight^T + bias over the last dim of x, for x [..., in],
 * weight [out, in] and bias [out] or null, as ONE node. The weight is read transposed in place by the
 * kernel table's gemm (no transposed copy per call); the backward is dX = dY @ W, dW = dY^T @ X and
 * db = the sum of dY over the rows. Same arithmetic, in the same order, as matmul(x, transpose(weight))
 * followed by add(y, bias).
 *
 * @example
 * linear(randn([8, 4]), randn([2, 4]), zeros([2])).shape; // [8, 2]
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const op = 'linear';
  checkTensor(op, x, 'x');
  checkTensor(op, weight, 'weight');
  if (bias !== null) checkTensor(op, bias, 'bias');
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  if (weight.ndim !== 2 || x.ndim < 1 || x.shape[x.ndim - 1] !== inFeatures || (bias !== null && (bias.ndim !== 1 || bias.size !== outFeatures))) {
    throw new ShapeError({
      op,
      expected: 'x [..., in], weight [out, in] and bias [out] or null',
      given: `x ${formatShape(x.shape)}, weight ${formatShape(weight.shape)}${bias ? `, bias ${formatShape(bias.shape)}` : ''}`,
    });
  }
  const leading = x.shape.slice(0, -1);
  const rows = shapeSize(leading);
  const dtype = promoteDTypes(x.dtype, weight.dtype, bias?.dtype ?? x.dtype);
  // Every output is written by the GEMM (overwrite: no zeroing pass, and C is not copied into the
  // module), then gets the bias added to each row, rounded once (inside the module on wasm).
  const data = allocateForOverwrite(dtype, rows * outFeatures);
  gemm(x.data, 0, false, weight.data, 0, true, data, 0, rows, inFeatures, outFeatures, true, bias?.data ?? null);
  return customOp({
    op,
    inputs: { x, weight, bias },
    data,
    shape: [...leading, outFeatures],
    backward: (g) => {
      let gx: TypedArray | null = null;
      let gw: TypedArray | null = null;
      if (x.requiresGrad) {
        gx = allocateForOverwrite(x.dtype, x.size);
        gemm(g, 0, false, weight.data, 0, false, gx, 0, rows, outFeatures, inFeatures, true);
      }
      if (weight.requiresGrad) {
        gw = allocateForOverwrite(weight.dtype, weight.size);
        gemm(g, 0, true, x.data, 0, false, gw, 0, outFeatures, rows, inFeatures, true);
      }
      const gb = bias?.requiresGrad ? reduceToShape(g, [rows, outFeatures], [outFeatures], bias.dtype) : null;
      return { x: gx, weight: gw, bias: gb };
    },
  });
}
