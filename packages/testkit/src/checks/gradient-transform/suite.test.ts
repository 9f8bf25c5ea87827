import { RegistryError, has, type GradientTransformPlugin } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import {
  alwaysHalvesClip, crashesOnMissingClip, decaysParametersClip, nanOnZeroClip, noApplyClip, referenceClip,
} from '../../__fixtures__/gradient-transforms';
import { referenceWeightNorm } from '../../__fixtures__/parametrizations';
import { checkDeterministic } from './deterministic';
import { checkGradientTransformFinite } from './finite';
import { checkGradientsOnly } from './gradients-only';
import { checkIdempotent } from './idempotent';
import { checkMissingGradients } from './missing-gradients';
import { describeGradientTransform, planGradientTransformChecks, runGradientTransformChecks } from './suite';

describeGradientTransform(referenceClip, { options: { maxNorm: 1 }, idempotent: true });
describeGradientTransform(referenceClip, { options: { maxNorm: 100 }, idempotent: true });

describe('gradient-transform checks', () => {
  it('plan idempotence only when declared', () => {
    expect(planGradientTransformChecks(referenceClip, {}).map((c) => c.name)).not.toContain('idempotent');
    expect(runGradientTransformChecks(referenceClip, { idempotent: true }).every((r) => r.ok)).toBe(true);
  });

  it('catch a transform that changes parameter values', () => {
    expect(checkGradientsOnly(decaysParametersClip, {}).message).toMatch(/float32 linear\.weight: apply changed the parameter's value/);
  });

  it('catch NaN on zero gradients', () => {
    expect(checkGradientTransformFinite(nanOnZeroClip, {}).message).toMatch(/zero gradients, float32: linear\.weight gradient\[0\] = NaN/);
  });

  it('catch a crash on a parameter without gradient', () => {
    expect(checkMissingGradients(crashesOnMissingClip, {}).message).toMatch(/float32: threw TypeError/);
  });

  it('catch a transform declared idempotent that is not', () => {
    expect(checkIdempotent(alwaysHalvesClip, { idempotent: true }).message).toMatch(/applying twice differs from once/);
  });
});

describe('gradient transforms are built through the registry (createGradientTransform), as users build them', () => {
  it('a create that returns no apply fails with the registry message naming the call and the plugin', () => {
    const result = checkDeterministic(noApplyClip, {});
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/createGradientTransform\("fixture-clip-no-apply"\): expected plugin "fixture-clip-no-apply" to return a gradient transform \(an object with apply\)/);
  });

  it('suite options are validated against the schema: a misspelt option fails every check', () => {
    const results = runGradientTransformChecks(referenceClip, { options: { maxNrm: 1 } });
    for (const result of results) {
      expect(result.ok).toBe(false);
      expect(result.message).toMatch(/createGradientTransform\("fixture-clip"\).*maxNrm/);
    }
  });

  it('a plugin of another kind fails, pointing at the function that builds it', () => {
    const result = checkDeterministic(referenceWeightNorm as unknown as GradientTransformPlugin, {});
    expect(result.message).toMatch(/createGradientTransform: expected a gradient-transform name, got "fixture-weight-norm", a weight-parametrization plugin.*createParametrization/);
  });

  it('a plugin register refuses fails the plan, and the global default registry is never touched', () => {
    expect(() => planGradientTransformChecks({ ...referenceClip, specificationVersion: 'v0' } as unknown as GradientTransformPlugin, {})).toThrow(RegistryError);
    expect(runGradientTransformChecks(referenceClip, {}).every((r) => r.ok)).toBe(true);
    expect(has('fixture-clip')).toBe(false);
  });
});
