// @normkit/tensor: tensor, autograd, ops, nn, optim, the normalization building blocks and the plugin interface.
export { Tensor, noGrad, enableGrad, isGradEnabled, checkSameDType, isTensor, checkTensor, checkTensorOrNumber, describeValue } from './tensor';
export type { GraphNode, NestedArray } from './tensor';
// Installs Tensor's chaining methods (x.add(y).sum()); an export, not a bare import, so bundlers keep it.
export { tensorMethodNames } from './tensor-methods';
export type { DType, TypedArray } from './dtype';
export { shapeSize, stridesOf, sameShape, allocate, checkDType, checkShape } from './dtype';
export { customOp, zeroGrad, graphOps, setAutogradDebug, isAutogradDebug } from './autograd';
export type {
  CustomOpSpec, NamedCustomOpSpec, PositionalCustomOpSpec, CustomOpInputs, CustomOpGradients, CheckedGradients, BackwardOptions,
} from './autograd';
export { tensor, scalar, full, zeros, ones, zerosLike, onesLike, arange, rand, randn, randint } from './creation';
export type { TensorOptions, RandomOptions } from './creation';
export { Generator, defaultGenerator, manualSeed } from './random';
export { gradcheck } from './gradcheck';
export { allClose, findMismatch, describeMismatch } from './compare';
export type { Mismatch } from './compare';
export type { GradcheckOptions, GradcheckResult, GradcheckFailure } from './gradcheck';
export {
  NormkitError, ShapeError, DTypeError, OptionError, ValueError, ContextError, RegistryError, StateDictError, AutogradError,
  isNormkitError, formatShape, checkNumberOption,
} from './errors';
export type { ErrorKind, ErrorDetails } from './errors';
export * from './ops/index';
export * from './norm/index';
export { getBackend, setBackend, defineKernel, setNumThreads, getNumThreads, threadSupport } from './kernels/index';
export type { BackendName, KernelDefinition, ThreadSupport } from './kernels/index';
export * from './nn/index';
export * from './serialization/index';
export * from './plugin/index';
export * from './optim/index';
export * from './parallel/index';
