import { RegistryError, has, type WeightParametrizationPlugin } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { referenceClip } from '../../__fixtures__/gradient-transforms';
import { linearHost } from '../../__fixtures__/hosts';
import {
  createMutatesHostWeightNorm, evalIteratesSpectralNorm, noEpsWeightNorm, notAModuleWeightNorm, referenceSpectralNorm, referenceWeightNorm,
  wrongGradientWeightNorm,
} from '../../__fixtures__/parametrizations';
import { checkParametrizationFinite } from './finite';
import { checkParametrizationGradients } from './gradients';
import { checkRegistration } from './registration';
import { planParametrizationChecks, describeParametrization, runParametrizationChecks } from './suite';
import { checkParametrizationTrainEval } from './train-eval';

describeParametrization(referenceWeightNorm, { module: linearHost, preservesValue: true });
describeParametrization(referenceSpectralNorm, { module: linearHost });

describe('parametrization checks', () => {
  it('plan the six checks; run returns plain results', () => {
    expect(planParametrizationChecks(referenceWeightNorm, { module: linearHost }).map((c) => c.name)).toEqual([
      'registration', 'gradients', 'train-eval', 'state-dict', 'removal', 'finite',
    ]);
    for (const result of runParametrizationChecks(referenceSpectralNorm, { module: linearHost })) expect(result.ok, result.message).toBe(true);
  });

  it('catch a wrong gradient', () => {
    const result = checkParametrizationGradients(wrongGradientWeightNorm, { module: linearHost });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/eval: gradcheck failed .* original 0 \[\d+\] analytic/);
  });

  it('catch an eval read that runs the power iteration', () => {
    const result = checkParametrizationTrainEval(evalIteratesSpectralNorm, { module: linearHost });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/eval: reading changed state: buffer parametrizations\.weight\.0\._u changed/);
  });

  it('catch NaN on a zero weight', () => {
    const result = checkParametrizationFinite(noEpsWeightNorm, { module: linearHost });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/zero tensor, float32 train: value\[0\] = NaN/);
  });

  it('catch a create that changes the host, and a value change declared preserved', () => {
    expect(checkRegistration(createMutatesHostWeightNorm, { module: linearHost }).message).toMatch(/plugin\.create changed the host: parameter weight changed/);
    expect(checkRegistration(referenceSpectralNorm, { module: linearHost, preservesValue: true }).message).toMatch(
      /declares preservesValue, but registration changed weight/,
    );
  });
});

describe('parametrizations are built through the registry (createParametrization), as users build them', () => {
  it('a create that returns no Module fails with the registry message naming the call and the plugin', () => {
    const result = checkRegistration(notAModuleWeightNorm, { module: linearHost });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(
      /createParametrization\("fixture-weight-norm-not-a-module"\): expected plugin "fixture-weight-norm-not-a-module" to return a parametrization \(a Module with forward\)/,
    );
  });

  it('suite options are validated against the schema: a key the plugin does not declare fails every check', () => {
    const results = runParametrizationChecks(referenceWeightNorm, { module: linearHost, options: { eps: 1e-6 } });
    for (const result of results) {
      expect(result.ok).toBe(false);
      expect(result.message).toMatch(/createParametrization\("fixture-weight-norm"\).*eps/);
    }
  });

  it('a plugin of another kind fails, pointing at the function that builds it', () => {
    const result = checkRegistration(referenceClip as unknown as WeightParametrizationPlugin, { module: linearHost });
    expect(result.message).toMatch(/createParametrization: expected a weight-parametrization name, got "fixture-clip", a gradient-transform plugin.*createGradientTransform/);
  });

  it('a plugin register refuses fails the plan, and the global default registry is never touched', () => {
    expect(() => planParametrizationChecks({ ...referenceWeightNorm, name: 'Fixture Weight Norm' }, { module: linearHost })).toThrow(RegistryError);
    expect(runParametrizationChecks(referenceWeightNorm, { module: linearHost }).every((r) => r.ok)).toBe(true);
    expect(has('fixture-weight-norm')).toBe(false);
  });
});
