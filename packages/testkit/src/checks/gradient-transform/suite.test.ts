import { describe, expect, it } from 'vitest';
import { alwaysHalvesClip, crashesOnMissingClip, decaysParametersClip, nanOnZeroClip, referenceClip } from '../../__fixtures__/gradient-transforms';
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
