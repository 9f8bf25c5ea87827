import { parametrizationsOf } from '@normkit/tensor';
import { weightNorm } from '@normkit/weight';
import { it } from 'vitest';
import { CaseTensors, configValue } from './fixtures';
import { DTYPES, describeFixture } from './normalizer-parity';
import { TOLERANCES, expectMatches } from './tolerance';
import { hostLayer } from './weight-modules';

// Weight norm on Linear (dim 0, dim 1, whole tensor) and Conv2d against PyTorch 2's
// parametrizations.weight_norm (written out in generate.py, checked there against 1.13's
// nn.utils.weight_norm): the state dict loads strictly under parametrizations.weight.original0 (g)
// and original1 (v); the weight, the layer output, and the gradients of the input, g, v and bias match.
describeFixture('weight-norm', (fixture) => {
  for (const dtype of DTYPES) {
    for (const fixtureCase of fixture.cases) {
      it(`${fixtureCase.name} (${dtype}): ${fixtureCase.description}`, () => {
        const tensors = new CaseTensors(fixtureCase, dtype);
        const { forward, gradient } = TOLERANCES[dtype];
        const layer = weightNorm(hostLayer(fixtureCase, dtype, { linear: [4, 3], convPadding: 1 }), { dim: configValue(fixtureCase, 'dim') });
        layer.loadStateDict(tensors.stateDict('state'));
        expectMatches('weight', layer.weight, tensors.get('weight'), forward);
        const x = tensors.get('input').requireGrad();
        const y = layer.forward(x);
        expectMatches('output', y, tensors.get('output'), forward);
        y.backward(tensors.get('grad_output'));
        const [g, v] = parametrizationsOf(layer, 'weight')!.originals;
        expectMatches('input gradient', x.grad, tensors.get('grad_input'), gradient);
        expectMatches('gradient of g (original0)', g!.grad, tensors.get('grad_g'), gradient);
        expectMatches('gradient of v (original1)', v!.grad, tensors.get('grad_v'), gradient);
        expectMatches('gradient of bias', layer.getParameter('bias')!.grad, tensors.get('grad_bias'), gradient);
      });
    }
  }
});
