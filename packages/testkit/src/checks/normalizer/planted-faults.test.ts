// The testkit must catch real bugs: each plugin below has one planted fault, and the check that
// covers it must fail, naming the fault. The checks are plain functions, called directly.
import { describe, expect, it } from 'vitest';
import { batchNormConfig, conditionalConfig, layerNormConfig, noEpsConfig } from '../../__fixtures__/configs';
import {
  batchLeakLayerNorm, claimsBatchDependentLayerNorm, claimsRunningStatsLayerNorm, evalMutatesBatchNorm, float64OutputLayerNorm,
  hiddenStateLayerNorm, ignoresMaskBatchNorm, maskFaultLayerNorm, noEpsNorm, partialLoadLayerNorm, referenceBatchNorm, referenceLayerNorm, vagueContextNorm, wrongGradientLayerNorm,
} from '../../__fixtures__/normalizers';
import { checkBatchIndependence } from './batch-independence';
import { checkContext } from './context';
import { checkFinite } from './finite';
import { checkGradients } from './gradients';
import { checkInvariances } from './invariances';
import { checkShapeAndDType } from './shape-and-dtype';
import { checkStateDict } from './state-dict';
import { runNormalizerChecks } from './suite';
import { checkTrainEval } from './train-eval';

describe('planted faults are caught', () => {
  it('a wrong gradient fails the gradient check, naming the input and both values', () => {
    const result = checkGradients(wrongGradientLayerNorm, layerNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/gradcheck failed .* input\[\d+\] analytic .* vs numeric/);
    // ...and nothing else: the fault is specific.
    const others = runNormalizerChecks(wrongGradientLayerNorm, layerNormConfig).filter((r) => !r.ok).map((r) => r.check);
    expect(others).toEqual(['gradients']);
  });

  it('an eval that mutates a buffer fails train-eval (state change and non-determinism)', () => {
    const result = checkTrainEval(evalMutatesBatchNorm, batchNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/eval changed state: buffer running_mean changed/);
    expect(result.message).toMatch(/two eval forwards of one input differ/);
  });

  it('a leak across the batch with batchDependent: false fails batch-independence, however small', () => {
    const result = checkBatchIndependence(batchLeakLayerNorm, layerNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/declares batchDependent: false, but changing sample 0 changed the output of sample\(s\) 1, 2/);
  });

  it('claiming batchDependent: true for a batch-independent plugin is reported', () => {
    const result = checkBatchIndependence(claimsBatchDependentLayerNorm, layerNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/declares batchDependent: true, but .* bit-identical/);
  });

  it('a buffer changed in training without hasRunningStats, and hasRunningStats with no buffer, fail train-eval', () => {
    expect(checkTrainEval(hiddenStateLayerNorm, layerNormConfig).message).toMatch(/declares hasRunningStats: false but a training forward changed buffer calls/);
    expect(checkTrainEval(claimsRunningStatsLayerNorm, layerNormConfig).message).toMatch(/declares hasRunningStats but 3 training forwards changed no buffer/);
  });

  it('an output of another dtype fails shape-and-dtype', () => {
    const result = checkShapeAndDType(float64OutputLayerNorm, layerNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/\[3, 4\] float32 train: output dtype float64, expected float32/);
  });

  it('a loader that copies before validating fails state-dict: it does not throw a normkit error and changes state', () => {
    const result = checkStateDict(partialLoadLayerNorm, layerNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/of shape \[5\] .*threw a non-normkit error/);
    expect(result.message).toMatch(/of shape \[4, 1\] .*did not throw/);
    expect(result.message).toMatch(/changed state although it failed: parameter weight changed/);
  });

  it('a missing condition surfacing as an op error instead of a ContextError fails context', () => {
    const result = checkContext(vagueContextNorm, conditionalConfig);
    expect(result.ok).toBe(false);
    // Core ops now refuse a missing tensor with a typed ValueError, no longer an internal TypeError.
    expect(result.message).toMatch(/missing condition: expected a ContextError, got ValueError \(value\): matmul: expected a to be a Tensor, got undefined/);
  });

  it('a mask of ones that changes the output fails context', () => {
    const result = checkContext(maskFaultLayerNorm, layerNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/mask of ones, .*output differs from no mask/);
  });

  it('a mask silently ignored by a plugin whose traits say acceptsMask: false fails context, in training and eval', () => {
    const result = checkContext(ignoresMaskBatchNorm, batchNormConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/acceptsMask: false, .*train.*: forward ignored the mask \(it must throw a ContextError/);
    expect(result.message).toMatch(/acceptsMask: false, .*eval.*: forward ignored the mask/);
    const reference = checkContext(referenceBatchNorm, batchNormConfig);
    expect(reference.ok, reference.message).toBe(true);
    expect(reference.message).toMatch(/a mask is refused \(acceptsMask: false\)/);
  });

  it('NaN on a constant input fails finite', () => {
    const result = checkFinite(noEpsNorm, noEpsConfig);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/constant input \(zero variance\), \[3, 4\] float32 train: output\[0\] = NaN/);
  });

  it('a declared invariance that does not hold fails invariances', () => {
    // LayerNorm is invariant to a shift per sample, not per channel.
    const result = checkInvariances(referenceLayerNorm, { ...layerNormConfig, invariances: [{ transform: 'shift', per: 'channel' }] });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/shift per channel, \[3, 4\] float64 train: output changed/);
  });

  it('a config the plugin cannot satisfy is a failure, never a pass', () => {
    expect(checkBatchIndependence(referenceLayerNorm, { ...layerNormConfig, inputShapes: [[1, 4]] }).message).toMatch(/no input shape has a batch of 2/);
    expect(checkContext(vagueContextNorm, { ...conditionalConfig, context: undefined }).message).toMatch(/give the testkit a `context` factory/);
    const float32Only = checkGradients(referenceLayerNorm, { ...layerNormConfig, options: () => ({ dtype: 'float32' }) });
    expect(float32Only.message).toMatch(/parameters weight, bias are not float64/);
  });
});
