import { noGrad, parametrizationsOf, tensor } from '@normkit/tensor';
import { spectralNorm, type SpectralNorm } from '@normkit/weight';
import { expect, it } from 'vitest';
import { CaseTensors, type FixtureCase } from './fixtures';
import { DTYPES, describeFixture } from './normalizer-parity';
import { TOLERANCES, expectMatches } from './tolerance';
import { hostLayer, type HostLayer } from './weight-modules';

const CONVERGENCE_READS = 500;

function spectralLayer(fixtureCase: FixtureCase, dtype: 'float32' | 'float64'): HostLayer {
  return spectralNorm(hostLayer(fixtureCase, dtype, { linear: [5, 4], convPadding: 0 }));
}

function sigmaOf(layer: HostLayer): number {
  return (parametrizationsOf(layer, 'weight')!.at(0) as SpectralNorm).sigma;
}

// parametrizations.spectral_norm on Linear and Conv2d, converged (500 training reads), then eval.
describeFixture('spectral-norm', (fixture) => {
  for (const dtype of DTYPES) {
    const { forward, gradient } = TOLERANCES[dtype];
    for (const fixtureCase of fixture.cases) {
      it(`${fixtureCase.name} (${dtype}): with torch's converged u and v, eval weight, output and gradients (through sigma) match`, () => {
        const tensors = new CaseTensors(fixtureCase, dtype);
        const layer = spectralLayer(fixtureCase, dtype);
        layer.loadStateDict(tensors.stateDict('state')); // original, 0._u, 0._v, bias: PyTorch's keys
        layer.eval();
        expectMatches('normalised weight', layer.weight, tensors.get('weight'), forward);
        expectMatches('sigma', tensor([sigmaOf(layer)], { dtype: 'float64' }), tensors.get('sigma'), forward);
        const x = tensors.get('input').requireGrad();
        const y = layer.forward(x);
        expectMatches('output', y, tensors.get('output'), forward);
        y.backward(tensors.get('grad_output'));
        expectMatches('input gradient', x.grad, tensors.get('grad_input'), gradient);
        expectMatches('gradient of the original weight', parametrizationsOf(layer, 'weight')!.original.grad, tensors.get('grad_original'), gradient);
        expectMatches('gradient of bias', layer.getParameter('bias')!.grad, tensors.get('grad_bias'), gradient);
      });

      it(`${fixtureCase.name} (${dtype}): from torch's initial u and v, ${CONVERGENCE_READS} training reads reach torch's u, v, sigma and weight`, () => {
        const tensors = new CaseTensors(fixtureCase, dtype);
        const layer = spectralLayer(fixtureCase, dtype);
        layer.loadStateDict(tensors.stateDict('initial'));
        layer.train();
        noGrad(() => {
          for (let read = 0; read < CONVERGENCE_READS; read++) void layer.weight;
        });
        const state = layer.stateDict();
        for (const key of ['parametrizations.weight.0._u', 'parametrizations.weight.0._v']) {
          expectMatches(`${key} after convergence`, state[key], tensors.get(`state.${key}`), forward);
        }
        layer.eval();
        expectMatches('sigma after convergence', tensor([sigmaOf(layer)], { dtype: 'float64' }), tensors.get('sigma'), forward);
        expectMatches('normalised weight after convergence', layer.weight, tensors.get('weight'), forward);
      });

      it(`${fixtureCase.name} (${dtype}): from normkit's own random start, sigma converges to the top singular value`, () => {
        const tensors = new CaseTensors(fixtureCase, dtype);
        const layer = spectralLayer(fixtureCase, dtype);
        layer.loadStateDict({ ...layer.stateDict(), 'parametrizations.weight.original': tensors.get('original'), bias: tensors.get('state.bias') });
        layer.train();
        noGrad(() => {
          for (let read = 0; read < CONVERGENCE_READS; read++) void layer.weight;
        });
        layer.eval();
        const exact = tensors.get('exact_sigma').data[0]!;
        expect(Math.abs(sigmaOf(layer) - exact) / exact).toBeLessThan(dtype === 'float64' ? 1e-10 : 1e-5);
        expectMatches('normalised weight', layer.weight, tensors.get('weight'), dtype === 'float64' ? { atol: 1e-8, rtol: 1e-8 } : forward);
      });
    }
  }
});
