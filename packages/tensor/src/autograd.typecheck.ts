// Typecheck-only (never run or shipped): customOp's named gradients are checked against the input names.
import { customOp } from './autograd';
import { randn } from './creation';
import type { Tensor } from './tensor';

const x = randn([2, 3]);
const weight = randn([3]);
const bias: Tensor | null = null;
const data = new Float32Array(6);

const named: Tensor = customOp({
  op: 'ok',
  inputs: { x, weight, bias },
  data,
  shape: x.shape,
  backward: (g) => ({ x: g, weight: null }),
});
void named;
customOp({
  op: 'misspelt',
  inputs: { x, weight },
  data,
  shape: x.shape,
  // @ts-expect-error "wieght" is not an input name
  backward: (g) => ({ x: g, wieght: g }),
});
customOp({
  op: 'wrongType',
  inputs: { x },
  data,
  shape: x.shape,
  // @ts-expect-error a gradient is a Float32Array or a Float64Array, not a number[]
  backward: () => ({ x: [1, 2, 3, 4, 5, 6] }),
});
// @ts-expect-error named inputs take named gradients, not an array
customOp({
  op: 'mixed',
  inputs: { x },
  data,
  shape: x.shape,
  backward: (g) => [g],
});
// The positional form still compiles.
const positional: Tensor = customOp({ op: 'positional', inputs: [x, weight], data, shape: x.shape, backward: (g) => [g, null] });
void positional;
