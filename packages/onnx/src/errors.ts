import { NormkitError } from '@normkit/tensor';

const ONNX_ERROR_MARKER = Symbol.for('normkit.onnx.error');

/**
 * Why an export failed: a module with no lowering, an option the lowering cannot express in the
 * chosen opset, or a lowered shape that disagrees with the module's own forward. A NormkitError of
 * kind 'context', recognised across package copies by `isOnnxExportError`.
 */
export class OnnxExportError extends NormkitError {
  readonly [ONNX_ERROR_MARKER] = true;
  override name = 'OnnxExportError';
  constructor(details: { op: string; expected: string; given: string }, extra?: string) {
    super('context', details, extra);
  }
}

export function isOnnxExportError(error: unknown): error is OnnxExportError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[ONNX_ERROR_MARKER] === true;
}
