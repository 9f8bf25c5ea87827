import { describe, expect, it } from 'vitest';
import { linearHost } from '../../__fixtures__/hosts';
import {
  createMutatesHostWeightNorm, evalIteratesSpectralNorm, noEpsWeightNorm, referenceSpectralNorm, referenceWeightNorm, wrongGradientWeightNorm,
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
