import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '@normkit/testkit';
import { Tensor, fromTorchAttentionStateDict, registerAll, tensor, unregister, type StateDict } from '@normkit/tensor';
import torch from './__fixtures__/torch-layer.json';
import { LayerNorm } from './layer-norm';
import { layerPlugins } from './plugins';
import { RMSNorm } from './rms-norm';
import { TransformerBlock } from './transformer-block';

// PyTorch 1.13 float64 fixtures (src/__fixtures__/generate-torch.py): forward and gradients.

const f64 = (data: number[], shape: readonly number[], requiresGrad = false) => tensor(data, { shape, dtype: 'float64', requiresGrad });

beforeAll(() => registerAll(layerPlugins));
afterAll(() => {
  for (const plugin of layerPlugins) unregister(plugin.name);
});

describe('PyTorch parity', () => {
  it('LayerNorm over two trailing dims: output, input, weight and bias gradients, state-dict keys', () => {
    const fixture = torch.layerNorm;
    const norm = new LayerNorm({ normalizedShape: fixture.normalizedShape, eps: fixture.eps, dtype: 'float64' });
    norm.weight!.data.set(fixture.weight);
    norm.bias!.data.set(fixture.bias);
    const x = f64(fixture.x, fixture.shape, true);
    const y = norm.forward(x);
    expectClose(y, fixture.y, 1e-12, 1e-10);
    y.backward(f64(fixture.upstream, fixture.shape));
    expectClose(x.grad!, fixture.gradX, 1e-12, 1e-10);
    expectClose(norm.weight!.grad!, fixture.gradWeight, 1e-12, 1e-10);
    expectClose(norm.bias!.grad!, fixture.gradBias, 1e-12, 1e-10);
    expect(Object.keys(norm.stateDict())).toEqual(fixture.stateDictKeys);
  });

  it("RMSNorm equals Llama's formula, with eps 1e-6 and with eps=None (machine epsilon)", () => {
    for (const fixture of torch.rmsNorm) {
      const norm = new RMSNorm({ normalizedShape: 8, eps: fixture.eps, dtype: 'float64' });
      norm.weight!.data.set(fixture.weight);
      const x = f64(fixture.x, fixture.shape, true);
      const y = norm.forward(x);
      expectClose(y, fixture.y, 1e-12, 1e-10);
      y.backward(f64(fixture.upstream, fixture.shape));
      expectClose(x.grad!, fixture.gradX, 1e-12, 1e-10);
      expectClose(norm.weight!.grad!, fixture.gradWeight, 1e-12, 1e-10);
    }
  });

  it('TransformerBlock equals nn.TransformerEncoderLayer (norm_first true and false, gelu, padding and causal masks), forward and gradients', () => {
    for (const fixture of torch.transformerEncoderLayer) {
      const block = new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: fixture.normFirst ? 'pre' : 'post', feedforwardDim: 16 });
      const torchDict: StateDict = {};
      for (const [key, value] of Object.entries(fixture.stateDict)) torchDict[key] = f64(value.data, value.shape);
      block.loadStateDict(fromTorchAttentionStateDict(torchDict));
      const x = tensor(fixture.x, { shape: fixture.shape, requiresGrad: true });
      const y = block.forward(x, { mask: tensor(fixture.mask), causal: true });
      expectClose(y, fixture.y, 2e-5, 1e-4);
      y.backward(tensor(fixture.upstream, { shape: fixture.shape }));
      expectClose(x.grad!, fixture.gradX, 2e-5, 1e-4);
      expectClose(block.linear1.weight.grad!, fixture.gradLinear1Weight, 2e-5, 1e-4);
      expectClose((block.norm1 as LayerNorm).weight!.grad!, fixture.gradNorm1Weight, 2e-5, 1e-4);
      const attention = block.selfAttn;
      const inProjGrad = [attention.qProj, attention.kProj, attention.vProj].flatMap((p) => Array.from(p.weight.grad!.data));
      expectClose(new Tensor(Float64Array.from(inProjGrad), [24, 8]), fixture.gradInProjWeight, 2e-5, 1e-4);
    }
  });
});
