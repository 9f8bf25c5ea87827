import { customOp } from '../autograd';
import { allocate } from '../dtype';
import { ShapeError, ValueError, formatShape } from '../errors';
import { Tensor, checkTensor } from '../tensor';

/**
 * Table lookup (`torch.nn.functional.embedding`): row `indices[...]` of `weight` for every index,
 *
 *   y[..., d] = weight[indices[...], d]
 *
 * `indices` is a tensor of integer values (any shape), a number array or an Int32Array (shape
 * [length]); `weight` is [numEmbeddings, dim]; the output is [...indicesShape, dim]. ONE autograd
 * node whose backward scatters (adds) each output row's gradient into its weight row, so an
 * index used twice receives the sum. Indices get no gradient.
 *
 * @example
 * const table = randn([1000, 64], { requiresGrad: true });
 * embedding([4, 7, 7], table);           // [3, 64]
 * embedding(tensor([[4, 7], [0, 1]]), table); // [2, 2, 64]
 */
export function embedding(indices: Tensor | readonly number[] | Int32Array, weight: Tensor): Tensor {
  const op = 'embedding';
  checkTensor(op, weight, 'weight');
  if (!Array.isArray(indices) && !(indices instanceof Int32Array)) checkTensor(op, indices, 'indices (a Tensor, an array or an Int32Array)');
  if (weight.ndim !== 2) {
    throw new ShapeError({ op, expected: 'a weight of shape [numEmbeddings, dim]', given: formatShape(weight.shape) });
  }
  const [numEmbeddings, dim] = weight.shape as [number, number];
  const values: ArrayLike<unknown> = indices instanceof Tensor ? indices.data : indices;
  const indexShape = indices instanceof Tensor ? [...indices.shape] : [values.length];
  const rows = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= numEmbeddings) {
      throw new ValueError({
        op,
        expected: `integer indices in [0, ${numEmbeddings - 1}] (weight has ${numEmbeddings} rows)`,
        given: `${String(v)} at position ${i}`,
      });
    }
    rows[i] = v;
  }
  const wd = weight.data;
  const data = allocate(weight.dtype, rows.length * dim);
  for (let i = 0; i < rows.length; i++) {
    const from = rows[i]! * dim;
    data.set(wd.subarray(from, from + dim), i * dim);
  }
  return customOp({
    op,
    inputs: [weight],
    data,
    shape: [...indexShape, dim],
    backward: (g) => {
      const gw = new Float64Array(weight.size);
      for (let i = 0; i < rows.length; i++) {
        const to = rows[i]! * dim;
        const from = i * dim;
        for (let d = 0; d < dim; d++) gw[to + d]! += g[from + d]!;
      }
      return [gw];
    },
  });
}
