// Installs the functional ops behind Tensor's chaining methods (`x.add(y).sum()`): the ops import tensor.ts, so
// tensor.ts reaches them through this table instead of an import cycle. index.ts re-exports `tensorMethodNames`
// rather than importing this file for its effect alone: the package is `sideEffects: false`, so a bare
// `import './tensor-methods'` is dropped by bundlers (esbuild dropped it from dist; the pack check caught that).
import { installTensorMethodOps } from './tensor';
import {
  abs, add, clamp, cos, div, exp, log, maximum, minimum, mul, neg, pow, rsqrt, sin, sqrt, square, sub,
} from './ops/elementwise';
import { gelu, leakyRelu, logSoftmax, relu, sigmoid, silu, softmax, tanh } from './ops/activation';
import { argmax, max, mean, min, sum, variance } from './ops/reduce';
import { matmul } from './ops/matmul';
import { expand, flatten, permute, repeat, reshape, slice, squeeze, transpose, unsqueeze } from './ops/shape';

/** The `Tensor` methods that call a functional op of the same name with the tensor first. */
export const tensorMethodNames: readonly string[] = installTensorMethodOps({
  add, sub, mul, div, pow, maximum, minimum, neg, exp, log, sqrt, rsqrt, abs, square, sin, cos, clamp,
  relu, leakyRelu, tanh, sigmoid, silu, gelu, softmax, logSoftmax,
  sum, mean, variance, max, min, argmax,
  matmul, reshape, flatten, unsqueeze, squeeze, permute, transpose, slice, expand, repeat,
});
