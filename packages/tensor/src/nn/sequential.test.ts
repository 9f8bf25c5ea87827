import { describe, expect, it } from 'vitest';
import { nnLayerFixtures } from '../__fixtures__/nn-layers';
import { randn, tensor } from '../creation';
import { ContextError, ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { gelu, relu, silu, tanh } from '../ops/activation';
import { Generator } from '../random';
import { expectClose, expectGradcheck } from '../test-utils';
import { GELU, ReLU, SiLU, Tanh } from './activation';
import { Conv2d, ConvTranspose2d } from './conv2d';
import { Embedding } from './embedding';
import { Linear } from './linear';
import type { Module } from './module';
import { Flatten, Identity, ModuleList, Sequential } from './sequential';

const f64 = { dtype: 'float64' as const };

describe('Sequential', () => {
  it('feeds each output to the next module', () => {
    const first = new Linear({ inFeatures: 4, outFeatures: 5, ...f64, generator: new Generator(0) });
    const second = new Linear({ inFeatures: 5, outFeatures: 2, ...f64, generator: new Generator(1) });
    const model = new Sequential(first, new Tanh(), second);
    const x = randn([3, 4], f64);
    expectClose(model.forward(x), second.forward(tanh(first.forward(x))), 0);
    expect(model.length).toBe(3);
    expect(model.at(-1)).toBe(second);
    expect([...model]).toEqual([first, model.at(1), second]);
  });

  it('passes gradcheck through the chain', () => {
    const model = new Sequential(
      new Linear({ inFeatures: 3, outFeatures: 4, ...f64, generator: new Generator(2) }),
      new SiLU(),
      new Linear({ inFeatures: 4, outFeatures: 2, ...f64, generator: new Generator(3) }),
    );
    const x = randn([2, 3], { ...f64, requiresGrad: true });
    expectGradcheck(gradcheck((input) => model.forward(input), [x, ...model.parameters()]));
  });

  it("names children '0', '1', ... so state-dict keys equal PyTorch's", () => {
    // The same model as in tools/torch-parity/nn_layers.py.
    const model = new Sequential(
      new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3 }),
      new ReLU(),
      new ConvTranspose2d({ inChannels: 4, outChannels: 2, kernelSize: 2 }),
      new Flatten(),
      new Linear({ inFeatures: 8, outFeatures: 2, bias: false }),
      new Embedding({ numEmbeddings: 3, embeddingDim: 2 }),
    );
    expect(Object.keys(model.stateDict())).toEqual(nnLayerFixtures.sequentialStateDictKeys);
    const nested = new Sequential(new Sequential(new Linear({ inFeatures: 2, outFeatures: 2 })), new Linear({ inFeatures: 2, outFeatures: 1 }));
    expect(Object.keys(nested.stateDict())).toEqual(['0.0.weight', '0.0.bias', '1.weight', '1.bias']);
  });

  it('appends modules under the next index and refuses indices out of range', () => {
    const model = new Sequential().append(new ReLU()).append(new Identity());
    expect([...model.namedChildren()].map(([name]) => name)).toEqual(['0', '1']);
    expect(() => model.at(2)).toThrow(ShapeError);
    expect(() => model.at(-3)).toThrow('Sequential.at: expected an index in [-2, 1], got -3');
  });

  it('is the identity when empty', () => {
    const x = randn([2, 2]);
    expect(new Sequential().forward(x)).toBe(x);
  });
});

describe('ModuleList', () => {
  it("registers its modules under '0', '1', ... and iterates them", () => {
    const blocks = new ModuleList<Module>([new Linear({ inFeatures: 2, outFeatures: 2 }), new Linear({ inFeatures: 2, outFeatures: 3 })]);
    blocks.append(new ReLU());
    expect(blocks.length).toBe(3);
    expect(Object.keys(blocks.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(blocks.parameters()).toHaveLength(4);
    expect([...blocks].map((m) => m.constructor.name)).toEqual(['Linear', 'Linear', 'ReLU']);
    expect(blocks.at(-1)).toBeInstanceOf(ReLU);
    blocks.extend([new Identity()]);
    expect(blocks.length).toBe(4);
  });

  it('has no forward of its own', () => {
    expect(() => new ModuleList().forward()).toThrow(ContextError);
    expect(() => new ModuleList().forward()).toThrow(/a ModuleList has no forward/);
  });

  it('propagates train/eval to its modules', () => {
    const list = new ModuleList([new Identity(), new Identity()]);
    list.eval();
    expect([...list].every((m) => !m.training)).toBe(true);
  });
});

describe('activation modules', () => {
  it('forward to the ops of the same name', () => {
    const x = randn([3, 4], f64);
    expectClose(new ReLU().forward(x), relu(x), 0);
    expectClose(new GELU().forward(x), gelu(x), 0);
    expectClose(new SiLU().forward(x), silu(x), 0);
    expectClose(new Tanh().forward(x), tanh(x), 0);
    expect(new ReLU().parameters()).toHaveLength(0);
  });
});

describe('Identity and Flatten', () => {
  it('Identity returns its input', () => {
    const x = randn([2]);
    expect(new Identity().forward(x)).toBe(x);
  });

  it('Flatten merges startDim..endDim (default 1..-1), keeping the data order', () => {
    const x = tensor([[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]]);
    const flat = new Flatten().forward(x);
    expect(flat.shape).toEqual([1, 8]);
    expect([...flat.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Flatten({ startDim: 0, endDim: 1 }).forward(x).shape).toEqual([2, 2, 2]);
    expect(new Flatten({ startDim: -2 }).forward(x).shape).toEqual([1, 2, 4]);
  });

  it('Flatten refuses dims out of range or in the wrong order', () => {
    expect(() => new Flatten({ startDim: 4 }).forward(randn([2, 3]))).toThrow(ShapeError);
    expect(() => new Flatten({ startDim: 1, endDim: 0 }).forward(randn([2, 3, 4]))).toThrow(/startDim <= endDim/);
  });
});
