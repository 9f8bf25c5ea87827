import type { DType, Module, Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { CaseTensors, FixtureError, loadFixture, type Fixture, type FixtureCase, type Technique } from './fixtures';
import { TOLERANCES, expectMatches } from './tolerance';

/** A normalizer module as the parity runner drives it. */
export type ParityModule = Module & { forward(x: Tensor): Tensor };

export const DTYPES: readonly DType[] = ['float64', 'float32'];

/**
 * Describes one vitest case per (fixture case, dtype). The fixture is loaded while collecting; a
 * missing or unreadable file becomes a failing test (never a skip).
 */
export function describeFixture(technique: Technique, body: (fixture: Fixture) => void): void {
  describe(`${technique} vs PyTorch`, () => {
    let fixture: Fixture;
    try {
      fixture = loadFixture(technique);
    } catch (error) {
      it(`loads src/__fixtures__/${technique}.json`, () => {
        throw error;
      });
      return;
    }
    body(fixture);
  });
}

/**
 * The generic activation-normalizer comparison (generate.py's `record_module`): load torch's initial
 * state dict strictly (so parameter and buffer names are PyTorch's), run the training steps
 * comparing outputs, input gradients and every parameter gradient, compare the state after training
 * (running statistics), then the eval step.
 */
export function describeNormalizerParity(technique: Technique, build: (fixtureCase: FixtureCase, dtype: DType) => ParityModule): void {
  describeFixture(technique, (fixture) => {
    for (const dtype of DTYPES) {
      for (const fixtureCase of fixture.cases) {
        it(`${fixtureCase.name} (${dtype}): ${fixtureCase.description}`, () => {
          runNormalizerCase(fixtureCase, dtype, build(fixtureCase, dtype));
        });
      }
    }
  });
}

export function runNormalizerCase(fixtureCase: FixtureCase, dtype: DType, module: ParityModule): void {
  const tensors = new CaseTensors(fixtureCase, dtype);
  const { forward, gradient } = TOLERANCES[dtype];
  module.loadStateDict(tensors.stateDict('state'));
  const step = (prefix: string): void => {
    module.zeroGrad();
    const x = tensors.get(`${prefix}.input`).requireGrad();
    const y = module.forward(x);
    expectMatches(`${prefix} output`, y, tensors.get(`${prefix}.output`), forward);
    y.backward(tensors.get(`${prefix}.grad_output`));
    expectMatches(`${prefix} input gradient`, x.grad, tensors.get(`${prefix}.grad_input`), gradient);
    const torchGradients = Object.keys(fixtureCase.tensors).filter((k) => k.startsWith(`${prefix}.grad_`) && k !== `${prefix}.grad_input` && k !== `${prefix}.grad_output`);
    const names = [...module.namedParameters()].map(([name]) => `${prefix}.grad_${name}`);
    expect(names.sort(), `${prefix}: parameters`).toEqual(torchGradients.sort());
    for (const [name, p] of module.namedParameters()) expectMatches(`${prefix} gradient of ${name}`, p.grad, tensors.get(`${prefix}.grad_${name}`), gradient);
  };
  module.train();
  const steps = fixtureCase.trainSteps;
  if (steps === undefined) throw new FixtureError(fixtureCase.name, 'has no trainSteps');
  for (let k = 0; k < steps; k++) step(`train.${k}`);
  const state = module.stateDict();
  for (const [key, expected] of Object.entries(tensors.stateDict('final'))) {
    expectMatches(`state "${key}" after training`, state[key], expected, forward);
  }
  if (fixtureCase.hasEval) {
    module.eval();
    step('eval');
  }
}
