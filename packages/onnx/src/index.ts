// @normkit/onnx: export normkit models (eval mode) to ONNX. Browser-safe; saveOnnx is in '@normkit/onnx/node'.
export { exportOnnx, MIN_OPSET, MAX_OPSET } from './export';
export type { ExportOnnxOptions, OnnxInputSpec } from './export';
export { LoweringContext, broadcastShape } from './graph';
export type { OnnxValue, LowerFunction } from './graph';
export { defineLowering, registerLowering, registerLowerings, unregisterLowering, getLowering, getPluginLowering, LOWERING_VERSION } from './registry';
export type { OnnxLowering, AnyLowering, ModuleClass } from './registry';
export { OnnxExportError, isOnnxExportError } from './errors';
export { attr } from './proto';
export type { AttributeValue, Dim } from './proto';
export { coreLowerings } from './lowerings/index';
export { lowerAttention } from './lowerings/multi-head-attention';
export { lowerGelu } from './lowerings/activation';
export type { AttentionInputs } from './lowerings/multi-head-attention';
export { lowerMaxPool2d, lowerAvgPool2d, lowerAdaptiveAvgPool2d } from './lowerings/pool';
export { lowerInterpolate } from './lowerings/interpolate';
export type { InterpolateTarget } from './lowerings/interpolate';
