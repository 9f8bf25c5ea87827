import { describe, expect, it } from 'vitest';
import { batchNormConfig, conditionalConfig, layerNormConfig } from '../../__fixtures__/configs';
import { referenceBatchNorm, referenceConditionalNorm, referenceLayerNorm } from '../../__fixtures__/normalizers';
import { describeNormalizer, planNormalizerChecks, runNormalizerChecks } from './suite';

// The generated suites themselves: correct plugins must pass every applicable check.
describeNormalizer(referenceLayerNorm, layerNormConfig);
describeNormalizer(referenceBatchNorm, batchNormConfig);
describeNormalizer(referenceConditionalNorm, conditionalConfig);
describeNormalizer(referenceLayerNorm, { ...layerNormConfig, skip: { finite: 'shows how a skipped check is reported' } });

describe('planNormalizerChecks', () => {
  it('plans the checks the traits call for, in order', () => {
    expect(planNormalizerChecks(referenceLayerNorm, layerNormConfig).map((c) => c.name)).toEqual([
      'shape-and-dtype', 'gradients', 'train-eval', 'batch-independence', 'invariances', 'state-dict', 'context', 'finite',
    ]);
    // BatchNorm fixture: takes no mask, so the context check proves it refuses one.
    const batchContext = planNormalizerChecks(referenceBatchNorm, batchNormConfig).find((c) => c.name === 'context');
    expect(batchContext?.title).toBe('a mask is refused with a ContextError (acceptsMask: false)');
    expect(planNormalizerChecks(referenceLayerNorm, { ...layerNormConfig, invariances: [] }).map((c) => c.name)).not.toContain('invariances');
  });

  it('titles say what is proved and carry the skip reason', () => {
    const checks = planNormalizerChecks(referenceBatchNorm, { ...batchNormConfig, skip: { gradients: 'too slow' } });
    expect(checks.find((c) => c.name === 'batch-independence')!.title).toMatch(/depend on the batch/);
    expect(checks.find((c) => c.name === 'train-eval')!.title).toMatch(/updates the buffers/);
    expect(checks.find((c) => c.name === 'gradients')!.skipped).toBe('too slow');
  });

  it('runNormalizerChecks returns plain results, all ok for a correct plugin', () => {
    const results = runNormalizerChecks(referenceLayerNorm, layerNormConfig);
    expect(results).toHaveLength(8);
    for (const result of results) expect(result, result.message).toMatchObject({ ok: true, failures: [] });
  });
});
