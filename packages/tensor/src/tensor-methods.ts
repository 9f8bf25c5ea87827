// Installs the functional ops behind Tensor's chaining methods (`x.add(y).sum()`). Imported for its effect by
// index.ts: the ops import tensor.ts, so tensor.ts reaches them through this table instead of an import cycle.
import { installTensorMethodOps } from './tensor';
import {
  abs, add, clamp, cos, div, exp, log, maximum, minimum, mul, neg, pow, rsqrt, sin, sqrt, square, sub,
} from './ops/elementwise';
import { gelu, leakyRelu, logSoftmax, relu, sigmoid, silu, softmax, tanh } from './ops/activation';
import { argmax, max, mean, min, sum, variance } from './ops/reduce';
import { matmul } from './ops/matmul';
import { expand, flatten, permute, repeat, reshape, slice, squeeze, transpose, unsqueeze } from './ops/shape';

installTensorMethodOps({
  add, sub, mul, div, pow, maximum, minimum, neg, exp, log, sqrt, rsqrt, abs, square, sin, cos, clamp,
  relu, leakyRelu, tanh, sigmoid, silu, gelu, softmax, logSoftmax,
  sum, mean, variance, max, min, argmax,
  matmul, reshape, flatten, unsqueeze, squeeze, permute, transpose, slice, expand, repeat,
});
