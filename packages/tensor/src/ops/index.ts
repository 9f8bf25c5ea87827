export { broadcastShapes, broadcastIndex, reduceToShape } from './broadcast';
export {
  add, sub, mul, div, pow, maximum, minimum, where, neg, exp, log, sqrt, rsqrt, abs, square, sin, cos, clamp, unary, asTensor,
} from './elementwise';
export type { TensorLike } from './elementwise';
export { sum, mean, variance, max, min, argmax, normalizeAxis, normalizeAxes } from './reduce';
export type { ReduceOptions, VarOptions } from './reduce';
export { reshape, flatten, unsqueeze, squeeze, permute, transpose, slice, indexSelect, concat, stack, expand, repeat } from './shape';
export { matmul, gemm } from './matmul';
export { linear } from './linear';
export { relu, leakyRelu, tanh, sigmoid, silu, gelu, softmax, logSoftmax, erf, splitAroundAxis } from './activation';
export { crossEntropy, mse, binaryCrossEntropyWithLogits } from './loss';
export type { Reduction } from './loss';
export { conv2d, convTranspose2d } from './conv';
export type { Conv2dOptions, ConvTranspose2dOptions } from './conv';
export type { Pair } from './spatial';
export { avgPool2d, maxPool2d, adaptiveAvgPool2d } from './pool';
export type { AvgPool2dOptions, MaxPool2dOptions } from './pool';
export { interpolate } from './interpolate';
export type { InterpolateMode, InterpolateTarget } from './interpolate';
export { embedding } from './embedding';
export { dropout } from './dropout';
export type { DropoutOptions } from './dropout';
